"""Approvals: the transition table, expiry, tokens and typed payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from pydantic import ValidationError

from sergas_tui.domain import (
    DEFAULT_APPROVAL_TTL,
    TRANSITIONS,
    AddNoteAction,
    Approval,
    ApprovalStatus,
    UpdateAccountAction,
    can_transition,
)

S = ApprovalStatus
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

ALLOWED = {
    (S.PENDING, S.APPROVED),
    (S.PENDING, S.ADJUSTED),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.EXPIRED),
    (S.APPROVED, S.EXECUTING),
    (S.ADJUSTED, S.EXECUTING),
    (S.EXECUTING, S.EXECUTED),
    (S.EXECUTING, S.FAILED),
    (S.EXECUTING, S.CONFLICT),
    (S.FAILED, S.EXECUTING),
    # The owner decides again on the CRM's new values after a conflict.
    (S.CONFLICT, S.APPROVED),
    (S.CONFLICT, S.ADJUSTED),
    (S.CONFLICT, S.REJECTED),
    (S.CONFLICT, S.EXPIRED),
    # Undo: a decision that has not started executing goes back to pending.
    (S.APPROVED, S.PENDING),
    (S.ADJUSTED, S.PENDING),
    (S.REJECTED, S.PENDING),
}


@pytest.mark.parametrize(("old", "new"), sorted(ALLOWED))
def test_allowed_transitions(old: ApprovalStatus, new: ApprovalStatus) -> None:
    assert can_transition(old, new)
    assert can_transition(old.value, new.value)


@pytest.mark.parametrize(("old", "new"), [pair for pair in product(S, S) if pair not in ALLOWED])
def test_every_other_transition_is_refused(old: ApprovalStatus, new: ApprovalStatus) -> None:
    assert not can_transition(old, new)


@pytest.mark.parametrize(("old", "new"), [("pending", "done"), ("finished", "approved"), ("", "")])
def test_unknown_statuses_never_transition(old: str, new: str) -> None:
    assert not can_transition(old, new)


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(
    ("status", "approved", "terminal"),
    [
        (S.PENDING, False, False),
        (S.APPROVED, True, False),
        (S.ADJUSTED, True, False),
        (S.REJECTED, False, False),
        (S.EXPIRED, False, True),
        (S.EXECUTING, False, False),
        (S.EXECUTED, False, True),
        (S.FAILED, False, False),
        (S.CONFLICT, False, False),
    ],
)
def test_status_properties(status: ApprovalStatus, approved: bool, terminal: bool) -> None:
    assert status.is_approved is approved
    assert status.is_terminal is terminal


def _approval(**overrides: object) -> Approval:
    data: dict[str, object] = {
        "recommendation_id": "rec-1",
        "account_id": "123",
        "owner_email": "john.doe@sergas.com",
        "action_type": "add_note",
        "payload": {"title": "Call recap", "content": "Budget approved."},
        "created_at": NOW,
    }
    return Approval.model_validate(data | overrides)


def test_new_approval_is_pending_with_72h_expiry_and_a_token() -> None:
    approval = _approval()
    assert approval.status is S.PENDING
    assert isinstance(approval.payload, AddNoteAction)
    assert approval.expires_at == NOW + timedelta(hours=72) == NOW + DEFAULT_APPROVAL_TTL
    assert len(approval.token) >= 32
    assert approval.token != _approval().token
    assert approval.token not in repr(approval)


def test_explicit_expiry_is_kept() -> None:
    approval = _approval(expires_at=NOW + timedelta(hours=1))
    assert approval.expiry == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("offset", "status", "expired"),
    [
        (timedelta(hours=71, minutes=59), S.PENDING, False),
        (timedelta(hours=72), S.PENDING, True),
        (timedelta(days=30), S.PENDING, True),
        (timedelta(days=30), S.APPROVED, False),
        (timedelta(days=30), S.REJECTED, False),
    ],
)
def test_is_expired(offset: timedelta, status: ApprovalStatus, expired: bool) -> None:
    assert _approval(status=status).is_expired(NOW + offset) is expired


def test_token_is_single_use() -> None:
    approval = _approval()
    assert approval.token_matches(approval.token)
    assert not approval.token_matches("not-the-token")
    assert not approval.token_matches("ünïcode")
    decided = approval.model_copy(update={"status": S.APPROVED})
    assert not decided.token_matches(approval.token)


def test_payload_is_typed_by_action_type() -> None:
    approval = _approval(
        action_type="update_account",
        payload={"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]},
    )
    assert isinstance(approval.payload, UpdateAccountAction)
    with pytest.raises(ValidationError):
        _approval(action_type="escalation")  # the note payload does not fit


def test_undo_is_refused_once_execution_started() -> None:
    for status in (S.EXECUTING, S.EXECUTED, S.FAILED, S.CONFLICT, S.EXPIRED):
        assert not can_transition(status, S.PENDING)


def test_conflict_details_are_optional_json() -> None:
    assert _approval().details is None
    details = {"current": {"Rating": "Cold"}, "expected": {"Rating": "Warm"}}
    approval = _approval(status="conflict", details=details)
    assert Approval.model_validate_json(approval.model_dump_json()).details == details


def test_approval_round_trips_through_json() -> None:
    approval = _approval(status="adjusted", decided_by="john.doe@sergas.com", decided_at=NOW)
    again = Approval.model_validate_json(approval.model_dump_json())
    assert again == approval
    assert again.status.is_approved
