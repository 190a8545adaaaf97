"""An adjusted action is checked like Zoho checks a record before it is stored (defect 5):
required texts non-empty, picklists exact, dates not in the past, texts within Zoho's sizes.
The service (CLI and TUI) and the TUI's adjust form share one validator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.approvals.errors import ApprovalError
from sergas_tui.approvals.service import (
    ApprovalService,
    InvalidAdjustmentError,
    payload_problems,
)
from sergas_tui.clock import FixedClock
from sergas_tui.domain import (
    AddNoteAction,
    Approval,
    ApprovalStatus,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    UpdateAccountAction,
)
from sergas_tui.domain.action_checks import (
    MULTI_LINE_MAX,
    SINGLE_LINE_MAX,
    TEXT_MAX,
    action_problems,
)
from sergas_tui.storage import Repository
from sergas_tui.viewmodels.approval_form import form_fields, form_problems

TODAY = dt.date(2026, 11, 2)
OWNER = "john.doe@sergas.com"
TASK = {"subject": "Book renewal review", "due_date": "2026-11-09", "priority": "High"}


def approval(action_type: str = "create_task", payload: Any = None) -> Approval:
    return Approval.model_validate(
        {
            "id": "a-1",
            "recommendation_id": "rec-1",
            "account_id": "123",
            "owner_email": OWNER,
            "action_type": action_type,
            "payload": payload if payload is not None else TASK,
            "created_at": datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
        }
    )


# -- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (CreateTaskAction(subject="Call", due_date=TODAY, priority="Normal"), []),
        (CreateTaskAction(subject="Call"), []),
        (CreateTaskAction(subject=" "), ["subject: must not be empty"]),
        (CreateTaskAction(subject="x" * 256), ["subject: is 256 characters long"]),
        (CreateTaskAction(subject="x" * SINGLE_LINE_MAX), []),
        (
            CreateTaskAction(subject="Call", due_date=TODAY - timedelta(days=1)),
            ["due_date: 2026-11-01 is in the past (today is 2026-11-02)"],
        ),
        (CreateTaskAction(subject="Call", priority="Urgent!!"), ["priority: use one of"]),
        (CreateTaskAction(subject="Call", priority="high"), ["did you mean 'High'?"]),
        (CreateTaskAction(subject="Call", description="d" * (TEXT_MAX + 1)), ["description:"]),
        (FollowUpEmailAction(subject="", draft_body=""), ["subject:", "draft_body:"]),
        (
            FollowUpEmailAction(subject="Hi", draft_body="b", next_steps=["s" * 300]),
            ["next_steps[0]: is 300 characters long"],
        ),
        (AddNoteAction(title="", content="c" * (TEXT_MAX + 1)), ["title:", "content:"]),
        (EscalationAction(escalate_to=" ", reason=""), ["escalate_to:", "reason:"]),
    ],
)
def test_action_problems(action: Any, expected: list[str]) -> None:
    problems = action_problems(action, today=TODAY)
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_update_account_field_names_and_sizes() -> None:
    action = UpdateAccountAction.model_validate(
        {
            "field_changes": [
                {"field": "Rating", "old": "Warm", "new": "x" * 300},
                {"field": "Rating", "old": "Warm", "new": "Hot"},
                {"field": "bad name!", "new": "x"},
                {"field": "Description", "new": "d" * 1000},
                {"field": "Notes__c", "new": "d" * (MULTI_LINE_MAX + 1)},
            ]
        }
    )
    problems = action_problems(action, today=TODAY)
    assert any(p.startswith("Rating (new value): is 300 characters") for p in problems)
    assert any("Rating is changed twice" in p for p in problems)
    assert any("'bad name!' is not a Zoho field API name" in p for p in problems)
    assert any(p.startswith("Notes__c (new value)") for p in problems)
    assert not any("Description" in p for p in problems)


# -- the service: every adjustment ----------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Repository.open(tmp_path / "ws" / "sergas.db") as repository:
        yield repository


@pytest.fixture
def service(repo: Repository, fixed_now: datetime) -> ApprovalService:
    return ApprovalService(repo, clock=FixedClock(fixed_now), session_id="s-1")


def _add(
    repo: Repository, now: datetime, action_type: str = "create_task", payload: Any = None
) -> Approval:
    found = Approval.model_validate(
        {
            "recommendation_id": "rec-1",
            "account_id": "123",
            "owner_email": OWNER,
            "action_type": action_type,
            "payload": payload or TASK,
            "created_at": now,
        }
    )
    repo.add_approval(found)
    return found


async def test_defect_5_the_weak_adjustment_is_refused_listing_every_problem(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    proposed = _add(repo, fixed_now)
    payload = {"subject": "", "priority": "Urgent!!", "due_date": "1900-01-01"}
    with pytest.raises(InvalidAdjustmentError) as info:
        await service.adjust(proposed.id, payload, actor="jdoe")
    message = info.value.message
    assert info.value.exit_code == 2
    assert "subject: must not be empty" in message
    assert "due_date: 1900-01-01 is in the past" in message
    assert "Highest, High, Normal, Low, Lowest" in message
    assert "'Urgent!!'" in message
    assert message.endswith("Nothing was saved.")
    assert "\n" not in message
    stored = repo.get_approval(proposed.id)
    assert stored is not None
    assert stored.status is ApprovalStatus.PENDING
    assert stored.payload == proposed.payload
    assert repo.audit_events() == []
    # Still pending, so it can be adjusted properly afterwards.
    fixed = {"subject": "Call", "priority": "High", "due_date": "2026-11-20"}
    decided = await service.adjust(proposed.id, fixed, actor="jdoe")
    assert decided.status is ApprovalStatus.ADJUSTED


async def test_defect_5_an_unknown_priority_is_refused_not_mapped_to_normal(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    proposed = _add(repo, fixed_now)
    with pytest.raises(ApprovalError, match=r"use one of Highest, High, Normal, Low, Lowest"):
        await service.adjust(proposed.id, {"subject": "Call", "priority": "urgent"}, actor="j")
    stored = repo.get_approval(proposed.id)
    assert stored is not None
    assert stored.payload == proposed.payload


async def test_defect_5_a_50_mb_description_is_refused_before_storage_or_audit(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    proposed = _add(repo, fixed_now)
    huge = "x" * 50_000_000
    with pytest.raises(InvalidAdjustmentError) as info:
        await service.adjust(proposed.id, {"subject": "Call", "description": huge}, actor="j")
    assert "description: is 50,000,000 characters long" in info.value.message
    assert len(info.value.message) < 1000
    assert repo.audit_events() == []


async def test_the_write_an_email_becomes_must_fit_zoho(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    email = {"subject": "Hi", "draft_body": "Body", "next_steps": []}
    proposed = _add(repo, fixed_now, "follow_up_email", email)
    body = "b" * TEXT_MAX
    steps = ["s" * 200] * 10
    payload = {"subject": "Hi", "draft_body": body, "next_steps": steps}
    with pytest.raises(InvalidAdjustmentError, match="the task this becomes has a description"):
        await service.adjust(proposed.id, payload, actor="j")


async def test_today_is_the_clock_s(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    proposed = _add(repo, fixed_now)
    today = fixed_now.astimezone().date()
    decided = await service.adjust(
        proposed.id, {"subject": "Call", "due_date": today.isoformat()}, actor="j"
    )
    assert decided.status is ApprovalStatus.ADJUSTED


# -- the form uses the same validator -------------------------------------------------------


def test_the_form_shows_the_same_problems_inline() -> None:
    original = approval()
    values = {f.name: f.value for f in form_fields(original)}
    values |= {"subject": "", "priority": "Urgent!!", "due_date": "1900-01-01"}
    problems = form_problems(original, values)
    service_problems = payload_problems(
        original,
        {"subject": "", "priority": "Urgent!!", "due_date": "1900-01-01"},
        today=TODAY,
    )
    assert problems == service_problems
    assert len(problems) == 3
    # Without a day given, the form takes the day the approval was proposed.
    assert any("today is 2026-11-02" in p for p in problems)


def test_the_form_takes_today_when_given() -> None:
    original = approval()
    values = {f.name: f.value for f in form_fields(original)}
    later = dt.date(2026, 12, 1)
    problems = form_problems(original, values, today=later)
    assert problems == [
        "due_date: 2026-11-09 is in the past (today is 2026-12-01); use today or a later "
        "date, or leave it empty"
    ]
