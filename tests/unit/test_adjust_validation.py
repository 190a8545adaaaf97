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


# -- control, escape and bidirectional-text characters ------------------------------------------

ESC_SUBJECT = "[bold red]Hi[/] \x1b[2J x \x1b]0;pwn\x07"


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\x1b", "an escape character (U+001B)"),
        ("\x07", "a bell character (U+0007)"),
        ("\x00", "a NUL character (U+0000)"),
        ("\x08", "a control character (U+0008)"),
        ("\r", "a carriage return (U+000D)"),
        ("\x7f", "a control character (U+007F)"),
        ("\x85", "a control character (U+0085)"),
        ("\x9b", "a control sequence introducer (U+009B)"),
        ("\u202e", "a bidirectional-text control (U+202E"),
        ("\u2066", "a bidirectional-text control (U+2066"),
        ("\u200f", "a bidirectional-text control (U+200F"),
        ("\u061c", "a bidirectional-text control (U+061C"),
    ],
)
def test_control_escape_and_bidi_characters_are_refused_in_every_text(
    char: str, named: str
) -> None:
    text = f"ab{char}c"
    actions: list[tuple[Any, str]] = [
        (CreateTaskAction(subject=text), "subject"),
        (CreateTaskAction(subject="Call", description=f"x\n{text}"), "description"),
        (FollowUpEmailAction(subject="Hi", draft_body=text), "draft_body"),
        (FollowUpEmailAction(subject="Hi", draft_body="b", recipient=text), "recipient"),
        (FollowUpEmailAction(subject="Hi", draft_body="b", next_steps=[text]), "next_steps[0]"),
        (AddNoteAction(title=text, content="c"), "title"),
        (AddNoteAction(title="t", content=text), "content"),
        (EscalationAction(escalate_to=text, reason="r"), "escalate_to"),
        (EscalationAction(escalate_to="Dana", reason=text), "reason"),
        (
            UpdateAccountAction.model_validate(
                {"field_changes": [{"field": "Rating", "new": text}]}
            ),
            "Rating (new value)",
        ),
        (
            UpdateAccountAction.model_validate(
                {"field_changes": [{"field": "Description", "new": text}]}
            ),
            "Description (new value)",
        ),
        (
            UpdateAccountAction.model_validate(
                {"field_changes": [{"field": "Regions__c", "new": ["EMEA", text]}]}
            ),
            "Regions__c (new value)",
        ),
    ]
    for action, field in actions:
        problems = action_problems(action, today=TODAY)
        assert len(problems) == 1, (field, problems)
        assert problems[0].startswith(f"{field}: contains {named}"), problems
        assert "cannot be written to the CRM, remove them" in problems[0]
        assert char not in problems[0]  # the message never carries the character itself


def test_the_position_of_the_first_control_character_is_named() -> None:
    problems = action_problems(CreateTaskAction(subject=ESC_SUBJECT), today=TODAY)
    assert problems == [
        "subject: contains an escape character (U+001B) at character 17; control, escape and "
        "bidirectional-text characters cannot be written to the CRM, remove them"
    ]


def test_line_breaks_and_tabs_are_text_in_bodies_only() -> None:
    body = "Hi Dana,\n\n\tthe renewal:\r\n- price\r\n- terms\n"
    assert action_problems(CreateTaskAction(subject="Call", description=body), today=TODAY) == []
    assert action_problems(FollowUpEmailAction(subject="Hi", draft_body=body), today=TODAY) == []
    assert action_problems(AddNoteAction(title="Risk", content=body), today=TODAY) == []
    assert action_problems(EscalationAction(escalate_to="Dana", reason=body), today=TODAY) == []
    update = UpdateAccountAction.model_validate(
        {"field_changes": [{"field": "Description", "new": body}]}
    )
    assert action_problems(update, today=TODAY) == []
    for char, named in (("\n", "a line break (U+000A)"), ("\t", "a tab (U+0009)")):
        problems = action_problems(CreateTaskAction(subject=f"Call{char}Dana"), today=TODAY)
        assert problems == [
            f"subject: contains {named} at character 5; this field is one line, remove it"
        ]
        problems = action_problems(AddNoteAction(title=f"A{char}B", content="c"), today=TODAY)
        assert problems
        assert problems[0].startswith(f"title: contains {named}")
    # A lone carriage return (it rewrites the line on a terminal) is no line break.
    problems = action_problems(AddNoteAction(title="t", content="ok\rforged"), today=TODAY)
    assert problems
    assert problems[0].startswith("content: contains a carriage return")


def test_markup_looking_text_is_ordinary_text() -> None:
    action = CreateTaskAction(
        subject="[bold red]Hi[/] [link=https://x.test]y[/link]", description="[b]ok[/b] :smile:"
    )
    assert action_problems(action, today=TODAY) == []


async def test_the_service_refuses_an_escape_sequence_and_saves_nothing(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    proposed = _add(repo, fixed_now)
    payload = {"subject": ESC_SUBJECT, "priority": "Highest", "due_date": "2026-12-20"}
    with pytest.raises(InvalidAdjustmentError) as info:
        await service.adjust(proposed.id, payload, actor="jdoe")
    message = info.value.message
    assert "subject: contains an escape character (U+001B)" in message
    assert message.endswith("Nothing was saved.")
    assert "\x1b" not in message
    assert "\x07" not in message
    stored = repo.get_approval(proposed.id)
    assert stored is not None
    assert stored.status is ApprovalStatus.PENDING
    assert stored.payload == proposed.payload
    assert repo.audit_events() == []


def test_the_form_and_the_web_page_refuse_it_too() -> None:
    original = approval()
    values = {f.name: f.value for f in form_fields(original)}
    values |= {"subject": "Call \u202eevil", "description": "line 1\r\nline 2"}
    problems = form_problems(original, values, today=TODAY)
    assert len(problems) == 1
    assert problems[0].startswith("subject: contains a bidirectional-text control (U+202E")
