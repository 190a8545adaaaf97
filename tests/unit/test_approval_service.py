"""ApprovalService over a real workspace database: decisions, refusals, audit and memory."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.approvals.errors import ApprovalError
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.clock import FixedClock
from sergas_tui.domain import (
    AddNoteAction,
    Approval,
    ApprovalStatus,
    AuditAction,
    AuditEvent,
    CreateTaskAction,
    Recommendation,
)
from sergas_tui.memory.local import LocalMemory
from sergas_tui.storage import Repository

S = ApprovalStatus
OWNER = "john.doe@sergas.com"


@dataclass
class FakeMemory:
    """Records every ``record_decision`` call."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    async def record_decision(
        self,
        account_id: str,
        recommendation_id: str,
        status: str,
        *,
        decided_at: datetime,
        actor: str,
        rationale: str | None = None,
    ) -> bool:
        self.calls.append(
            {
                "account_id": account_id,
                "recommendation_id": recommendation_id,
                "status": status,
                "decided_at": decided_at,
                "actor": actor,
                "rationale": rationale,
            }
        )
        return True


@pytest.fixture
def clock(fixed_now: datetime) -> FixedClock:
    return FixedClock(fixed_now)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Repository.open(tmp_path / "ws" / "sergas.db") as repository:
        yield repository


@pytest.fixture
def memory() -> FakeMemory:
    return FakeMemory()


@pytest.fixture
def service(repo: Repository, clock: FixedClock, memory: FakeMemory) -> ApprovalService:
    return ApprovalService(repo, clock=clock, memory=memory, session_id="s-1")  # type: ignore[arg-type]


def _add(repo: Repository, created_at: datetime, **overrides: Any) -> Approval:
    data: dict[str, Any] = {
        "recommendation_id": "rec-1",
        "account_id": "123",
        "owner_email": OWNER,
        "action_type": "create_task",
        "payload": {"subject": "Book renewal review", "due_date": "2026-11-09", "priority": "High"},
        "created_at": created_at,
    }
    approval = Approval.model_validate(data | overrides)
    repo.add_approval(approval)
    return approval


def _decisions(repo: Repository) -> list[AuditEvent]:
    return [e for e in repo.audit_events() if e.action_type == AuditAction.APPROVAL_DECIDED]


def _inputs(event: AuditEvent) -> dict[str, Any]:
    assert isinstance(event.tool_inputs, dict)
    return event.tool_inputs


# --- happy paths -------------------------------------------------------------------------------


async def test_approve_records_actor_time_audit_and_memory(
    service: ApprovalService, repo: Repository, memory: FakeMemory, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    decided = await service.approve(approval.id, actor="jdoe", rationale="Renewal is close")
    assert decided.status is S.APPROVED
    assert (decided.decided_by, decided.decided_at) == ("jdoe", fixed_now)
    assert decided.decision_rationale == "Renewal is close"
    assert repo.get_approval(approval.id) == decided
    assert not decided.token_matches(approval.token)
    [event] = _decisions(repo)
    assert (event.decision, event.agent_name, event.session_id) == ("approved", "owner", "s-1")
    assert (event.account_id, event.owner_email) == ("123", OWNER)
    assert event.decision_rationale == "Renewal is close"
    assert _inputs(event) == {"approval_id": approval.id, "actor": "jdoe"}
    assert memory.calls == [
        {
            "account_id": "123",
            "recommendation_id": "rec-1",
            "status": "approved",
            "decided_at": fixed_now,
            "actor": "jdoe",
            "rationale": "Renewal is close",
        }
    ]
    assert await service.decided_not_executed() == [decided]
    assert await service.decided_not_executed("someone@else") == []
    assert await service.pending() == []


async def test_reject(
    service: ApprovalService, repo: Repository, memory: FakeMemory, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    decided = await service.reject(approval.id, actor="jdoe", reason="Already booked")
    assert decided.status is S.REJECTED
    assert decided.decision_rationale == "Already booked"
    [event] = _decisions(repo)
    assert (event.decision, event.decision_rationale) == ("rejected", "Already booked")
    assert memory.calls[-1]["status"] == "rejected"
    assert await service.decided_not_executed() == []


async def test_reject_as_not_useful_keeps_the_feedback_and_its_signals(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    rec = Recommendation.model_validate(
        {
            "type": "create_task",
            "priority": "high",
            "confidence": "medium",
            "rationale": "Quiet for 60 days.",
            "suggested_action": {"subject": "Call them"},
            "account_id": "123",
            "id": "rec-1",
            "signals": ["no_activity_critical", "stalled_in_stage"],
        }
    )
    repo.save_recommendations([rec], owner_email=OWNER)
    approval = _add(repo, fixed_now)
    decided = await service.reject(approval.id, actor="jdoe", reason="Meh", not_useful=True)
    expected = {"feedback": "not_useful", "signals": ["no_activity_critical", "stalled_in_stage"]}
    assert decided.details == expected
    stored = repo.get_approval(approval.id)
    assert stored is not None
    assert stored.details == expected
    [event] = _decisions(repo)
    assert (event.decision, event.decision_rationale) == ("rejected", "Meh")
    assert _inputs(event)["feedback"] == "not_useful"
    assert _inputs(event)["signals"] == ["no_activity_critical", "stalled_in_stage"]
    # Undoing the rejection takes the feedback back too.
    undone = await service.undo(approval.id, actor="jdoe")
    assert undone.details is None
    # Without a stored recommendation the feedback is still kept, with no signals.
    lone = _add(repo, fixed_now, recommendation_id="gone")
    decided = await service.reject(lone.id, actor="jdoe", not_useful=True)
    assert decided.details == {"feedback": "not_useful", "signals": []}
    # A plain rejection carries no feedback.
    plain = _add(repo, fixed_now)
    assert (await service.reject(plain.id, actor="jdoe")).details is None


async def test_adjust_validates_and_stores_the_edited_payload(
    service: ApprovalService, repo: Repository, memory: FakeMemory, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    edited = {"subject": "Renewal call", "due_date": "2026-11-12", "priority": "Highest"}
    decided = await service.adjust(approval.id, edited, actor="jdoe", rationale="Later date")
    assert decided.status is S.ADJUSTED
    assert isinstance(decided.payload, CreateTaskAction)
    assert decided.payload.subject == "Renewal call"
    assert str(decided.payload.due_date) == "2026-11-12"
    stored = repo.get_approval(approval.id)
    assert stored is not None
    assert stored.payload == decided.payload
    [event] = _decisions(repo)
    assert event.decision == "adjusted"
    inputs = _inputs(event)
    assert inputs["before"]["subject"] == "Book renewal review"
    assert inputs["after"]["subject"] == "Renewal call"
    assert memory.calls[-1]["status"] == "adjusted"


async def test_adjust_accepts_a_model(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    decided = await service.adjust(approval.id, CreateTaskAction(subject="Call"), actor="jdoe")
    assert decided.payload == CreateTaskAction(subject="Call")


async def test_undo_returns_to_pending_with_a_fresh_token(
    service: ApprovalService, repo: Repository, memory: FakeMemory, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    await service.approve(approval.id, actor="jdoe")
    undone = await service.undo(approval.id, actor="jdoe")
    assert undone.status is S.PENDING
    assert (undone.decided_by, undone.decided_at, undone.decision_rationale) == (None,) * 3
    assert undone.token != approval.token  # the spent token stays spent
    assert repo.get_approval(approval.id) == undone
    _approve, undo = _decisions(repo)
    assert undo.decision is None
    assert _inputs(undo)["undo"] is True
    assert _inputs(undo)["actor"] == "jdoe"
    assert memory.calls[-1]["status"] == "pending"
    assert await service.pending() == [undone]


async def test_undo_of_an_adjustment_restores_the_proposed_payload(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    await service.adjust(approval.id, {"subject": "Edited"}, actor="jdoe")
    undone = await service.undo(approval.id, actor="jdoe")
    assert undone.payload == approval.payload
    assert undone.details is None
    again = await service.reject(approval.id, actor="jdoe")
    await service.undo(approval.id, actor="jdoe")
    assert again.status is S.REJECTED


async def test_expire_due_marks_and_audits_overdue_approvals(
    service: ApprovalService,
    repo: Repository,
    memory: FakeMemory,
    clock: FixedClock,
    fixed_now: datetime,
) -> None:
    old = _add(repo, fixed_now - timedelta(hours=72))
    fresh = _add(repo, fixed_now - timedelta(hours=1))
    assert await service.expire_due() == 1
    assert await service.expire_due() == 0
    stored = repo.get_approval(old.id)
    assert stored is not None
    assert stored.status is S.EXPIRED
    [event] = [e for e in repo.audit_events() if e.action_type == AuditAction.APPROVAL_EXPIRED]
    assert (event.decision, event.account_id) == (None, "123")
    assert _inputs(event)["approval_id"] == old.id
    assert memory.calls[-1]["status"] == "expired"
    clock.advance(timedelta(hours=72))
    assert await service.pending() == []  # pending() expires first
    assert await service.expire_due(fixed_now) == 0
    again = repo.get_approval(fresh.id)
    assert again is not None
    assert again.status is S.EXPIRED


async def test_decisions_after_a_conflict_are_allowed(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    approved = await service.approve(approval.id, actor="jdoe")
    executing = approved.model_copy(update={"status": S.EXECUTING})
    assert repo.update_approval(executing, expected_status=S.APPROVED)
    conflict = executing.model_copy(
        update={"status": S.CONFLICT, "details": {"current": {"Subject": "Changed"}}}
    )
    assert repo.update_approval(conflict, expected_status=S.EXECUTING)
    decided = await service.adjust(approval.id, {"subject": "Retry"}, actor="jdoe")
    assert decided.status is S.ADJUSTED
    assert decided.details is not None
    assert decided.details["current"] == {"Subject": "Changed"}
    assert _inputs(_decisions(repo)[-1])["previous_status"] == "conflict"


async def test_get_resolves_a_unique_prefix(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now, id="abcd1234-0000")
    _add(repo, fixed_now, id="abcd5678-0000")
    assert await service.get("abcd12") == approval
    assert await service.get(" abcd1234-0000 ") == approval
    with pytest.raises(ApprovalError, match="More than one"):
        await service.get("abcd")
    with pytest.raises(ApprovalError, match="no approval 'abc'"):
        await service.get("abc")  # too short to be taken as a prefix
    with pytest.raises(ApprovalError, match="no approval 'abc_'"):
        await service.get("abc_")  # no wildcards: '_' is just a character


# --- refusals ----------------------------------------------------------------------------------


async def test_unknown_id_is_refused(service: ApprovalService) -> None:
    with pytest.raises(ApprovalError, match="no approval 'nope'") as info:
        await service.approve("nope", actor="jdoe")
    assert info.value.title == "Approval"
    assert info.value.exit_code == 1
    with pytest.raises(ApprovalError):
        await service.get("")


@pytest.mark.parametrize("actor", ["", "   "])
async def test_empty_actor_is_refused_and_nothing_is_stored(
    service: ApprovalService, repo: Repository, memory: FakeMemory, fixed_now: datetime, actor: str
) -> None:
    approval = _add(repo, fixed_now)
    for decide in (
        service.approve(approval.id, actor=actor),
        service.reject(approval.id, actor=actor),
        service.adjust(approval.id, {"subject": "x"}, actor=actor),
        service.undo(approval.id, actor=actor),
    ):
        with pytest.raises(ApprovalError, match="name of the person"):
            await decide
    assert repo.get_approval(approval.id) == approval
    assert repo.audit_events() == []
    assert memory.calls == []


async def test_expired_approval_cannot_be_approved(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now - timedelta(hours=73))
    with pytest.raises(ApprovalError, match=r"expired .* propose it again"):
        await service.approve(approval.id, actor="jdoe")
    stored = repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status is S.EXPIRED  # marked and audited on the way
    assert [e.action_type for e in repo.audit_events()] == [AuditAction.APPROVAL_EXPIRED]
    with pytest.raises(ApprovalError, match="expired"):
        await service.adjust(approval.id, {"subject": "x"}, actor="jdoe")
    with pytest.raises(ApprovalError, match="expired"):
        await service.undo(approval.id, actor="jdoe")


async def test_wrong_state_is_refused(
    service: ApprovalService, repo: Repository, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    await service.approve(approval.id, actor="jdoe")
    with pytest.raises(ApprovalError, match=r"already approved \(decided by jdoe\); undo"):
        await service.reject(approval.id, actor="jdoe")
    with pytest.raises(ApprovalError, match="already approved"):
        await service.approve(approval.id, actor="jdoe")
    other = _add(repo, fixed_now, recommendation_id="rec-2")
    with pytest.raises(ApprovalError, match="is pending: nothing has been decided on it yet"):
        await service.undo(other.id, actor="jdoe")


@pytest.mark.parametrize("status", [S.EXECUTING, S.EXECUTED, S.FAILED])
async def test_undo_and_decisions_refused_once_execution_started(
    service: ApprovalService, repo: Repository, fixed_now: datetime, status: ApprovalStatus
) -> None:
    approval = _add(repo, fixed_now, status=status, decided_by="jdoe", decided_at=fixed_now)
    with pytest.raises(ApprovalError, match="already started, so the decision stands"):
        await service.undo(approval.id, actor="jdoe")
    with pytest.raises(ApprovalError, match=str(status)):
        await service.approve(approval.id, actor="jdoe")
    assert repo.get_approval(approval.id) == approval
    assert repo.audit_events() == []


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"subject": "ok", "due_date": "next tuesday"}, "due_date"),
        ({"due_date": "2026-11-12"}, "subject"),
        ({"subject": "ok", "sujbect": "typo"}, "sujbect"),
        ({"title": "a note", "content": "wrong type"}, "title"),
        (AddNoteAction(title="t", content="c"), "create_task"),
        (["not", "a", "mapping"], "create_task"),
    ],
)
async def test_invalid_adjustment_names_the_field_and_stores_nothing(
    service: ApprovalService,
    repo: Repository,
    memory: FakeMemory,
    fixed_now: datetime,
    payload: Any,
    named: str,
) -> None:
    approval = _add(repo, fixed_now)
    with pytest.raises(ApprovalError, match=named) as info:
        await service.adjust(approval.id, payload, actor="jdoe")
    assert "Nothing was saved" in info.value.message or "nothing was saved" in info.value.message
    assert repo.get_approval(approval.id) == approval
    assert repo.audit_events() == []
    assert memory.calls == []


async def test_concurrent_change_is_refused(
    service: ApprovalService, repo: Repository, memory: FakeMemory, fixed_now: datetime
) -> None:
    approval = _add(repo, fixed_now)
    real_get = repo.get_approval

    def stale_get(approval_id: str) -> Approval | None:
        """Return the row as read, then let another session decide it underneath."""
        seen = real_get(approval_id)
        conn = sqlite3.connect(repo.path)
        try:
            conn.execute("UPDATE approvals SET status = 'rejected' WHERE id = ?", (approval_id,))
            conn.commit()
        finally:
            conn.close()
        return seen

    repo.get_approval = stale_get  # type: ignore[method-assign]
    with pytest.raises(ApprovalError, match="changed meanwhile, reload"):
        await service.approve(approval.id, actor="jdoe")
    repo.get_approval = real_get  # type: ignore[method-assign]
    stored = repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status is S.REJECTED
    assert repo.audit_events() == []  # the refused decision left no audit row
    assert memory.calls == []


async def test_service_offers_no_decision_without_an_actor() -> None:
    """No automated path: every deciding method takes a required keyword ``actor``."""
    import inspect

    for name in ("approve", "reject", "adjust", "undo"):
        parameter = inspect.signature(getattr(ApprovalService, name)).parameters["actor"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default is inspect.Parameter.empty


# --- with the local memory store ---------------------------------------------------------------


async def test_decision_reaches_local_memory(
    repo: Repository, clock: FixedClock, tmp_path: Path, fixed_now: datetime
) -> None:
    memory = LocalMemory(tmp_path / "memory.db", clock=clock)
    try:
        rec = Recommendation.model_validate(
            {
                "type": "create_task",
                "priority": "high",
                "confidence": "medium",
                "rationale": "Renewal in 30 days.",
                "suggested_action": {"subject": "Book renewal review"},
                "account_id": "123",
                "id": "rec-1",
                "created_at": fixed_now,
            }
        )
        await memory.record_recommendation("123", rec)
        service = ApprovalService(repo, clock=clock, memory=memory)
        approval = _add(repo, fixed_now)
        await service.reject(approval.id, actor="jdoe", reason="Not now")
        [prior] = await memory.prior_recommendations("123")
        assert prior.status == "rejected"
    finally:
        await memory.close()
