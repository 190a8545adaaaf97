"""ApprovalDesk.decide returns what it stored, and the refusal that stopped it half-way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from sergas_tui.approvals.errors import ApprovalError
from sergas_tui.domain import Approval, ApprovalStatus
from sergas_tui.services import Services
from sergas_tui.viewmodels.approval_desk import ApprovalDesk

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TASK = {"subject": "Call", "due_date": "2026-11-09", "priority": "High", "description": "D"}


def stored(ident: str, status: ApprovalStatus) -> Approval:
    return Approval.model_validate(
        {
            "id": ident,
            "recommendation_id": "rec-1",
            "account_id": "123",
            "owner_email": "a@x",
            "action_type": "create_task",
            "payload": TASK,
            "created_at": NOW,
            "status": status,
        }
    )


@dataclass
class FakeService:
    """Stores each decision it is asked for; refuses the ids in ``refuse``."""

    refuse: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _decide(self, verb: str, ident: str, status: ApprovalStatus, **how: Any) -> Approval:
        self.calls.append((verb, ident, how))
        if ident in self.refuse:
            raise ApprovalError(f"{ident} was decided elsewhere")
        return stored(ident, status)

    async def approve(self, ident: str, *, actor: str) -> Approval:
        return self._decide("approve", ident, ApprovalStatus.APPROVED, actor=actor)

    async def reject(
        self, ident: str, *, actor: str, reason: str | None, not_useful: bool
    ) -> Approval:
        return self._decide(
            "reject",
            ident,
            ApprovalStatus.REJECTED,
            actor=actor,
            reason=reason,
            not_useful=not_useful,
        )

    async def adjust(self, ident: str, payload: dict[str, Any], *, actor: str) -> Approval:
        return self._decide("adjust", ident, ApprovalStatus.ADJUSTED, actor=actor, payload=payload)

    async def undo(self, ident: str, *, actor: str) -> Approval:
        return self._decide("undo", ident, ApprovalStatus.PENDING, actor=actor)


@dataclass
class FakeServices:
    service: FakeService

    def approval_service(self) -> FakeService:
        return self.service


def desk_for(service: FakeService) -> ApprovalDesk:
    return ApprovalDesk(cast(Services, FakeServices(service)), "jo@x")


async def test_every_approval_decided_in_order() -> None:
    service = FakeService()
    decisions = await desk_for(service).decide(["a", "b", "c"], "approve")
    assert [a.id for a in decisions.decided] == ["a", "b", "c"]
    assert all(a.status == ApprovalStatus.APPROVED for a in decisions.decided)
    assert decisions.error is None
    decisions.raise_error()  # nothing to raise
    assert [(verb, ident, how["actor"]) for verb, ident, how in service.calls] == [
        ("approve", "a", "jo@x"),
        ("approve", "b", "jo@x"),
        ("approve", "c", "jo@x"),
    ]


async def test_a_refusal_half_way_keeps_what_was_decided_before_it() -> None:
    service = FakeService(refuse={"b"})
    decisions = await desk_for(service).decide(["a", "b", "c"], "approve")
    assert [a.id for a in decisions.decided] == ["a"]
    assert isinstance(decisions.error, ApprovalError)
    assert [ident for _verb, ident, _how in service.calls] == ["a", "b"], "c is never tried"
    with pytest.raises(ApprovalError, match="b was decided elsewhere"):
        decisions.raise_error()


async def test_the_reason_and_payload_reach_the_service() -> None:
    service = FakeService()
    desk = desk_for(service)
    rejected = await desk.decide(["a"], "reject", reason="not now", not_useful=True)
    adjusted = await desk.decide(["b"], "adjust", payload={"subject": "Call the CFO"})
    undone = await desk.decide(["a"], "undo")
    assert [a.status for a in (*rejected.decided, *adjusted.decided, *undone.decided)] == [
        ApprovalStatus.REJECTED,
        ApprovalStatus.ADJUSTED,
        ApprovalStatus.PENDING,
    ]
    assert service.calls[0][2] == {"actor": "jo@x", "reason": "not now", "not_useful": True}
    assert service.calls[1][2] == {"actor": "jo@x", "payload": {"subject": "Call the CFO"}}


async def test_retry_is_no_decision() -> None:
    service = FakeService()
    decisions = await desk_for(service).decide(["a"], "retry")
    assert decisions.decided == []
    assert isinstance(decisions.error, ValueError)
    assert service.calls == []
