"""Approvals: every CRM write waits for a person's decision.

An approval starts ``pending``; the owner approves it, approves it with edits (``adjusted``),
or rejects it; unanswered it ``expired``s after 72 hours. Approved work then moves through
``executing`` to ``executed`` or ``failed`` (a failed execution may be retried), or to
``conflict`` when the CRM record changed since it was read (the owner decides again on the
new values). A decision that has not executed yet can be undone (back to ``pending``). The
allowed moves live in one table, :data:`TRANSITIONS`, and :func:`can_transition` is the only
check. The groups other modules ask about are defined here too (:data:`DECIDABLE`,
:data:`UNDOABLE` and :data:`EXECUTABLE` read off the table; :data:`APPROVED_STATUSES`,
:data:`OPEN`), as are :data:`Verb`, what a person may ask of an approval, and
:data:`Decision`, the part of it an approval link offers.
Tokens are single-use: a token is spent as soon as the approval leaves ``pending``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, JsonValue, model_validator

from sergas_tui.domain.common import RecommendationType, Timestamp, new_id, utc_now
from sergas_tui.domain.outputs import (
    AlsoWrite,
    SuggestedAction,
    check_action_type,
    resolve_typed_action,
)

DEFAULT_APPROVAL_TTL = timedelta(hours=72)
"""How long an owner has to decide (the seed's 72-hour link expiry)."""


class ApprovalStatus(StrEnum):
    """Where an approval is in its life."""

    PENDING = "pending"
    APPROVED = "approved"
    ADJUSTED = "adjusted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    CONFLICT = "conflict"

    @property
    def is_approved(self) -> bool:
        """True for ``approved`` and ``adjusted`` (approved with edits)."""
        return self in APPROVED_STATUSES

    @property
    def is_terminal(self) -> bool:
        """True when nothing can happen to the approval any more."""
        return not TRANSITIONS[self]


_S = ApprovalStatus

TRANSITIONS: Mapping[ApprovalStatus, frozenset[ApprovalStatus]] = MappingProxyType(
    {
        _S.PENDING: frozenset({_S.APPROVED, _S.ADJUSTED, _S.REJECTED, _S.EXPIRED}),
        _S.APPROVED: frozenset({_S.EXECUTING, _S.PENDING}),
        _S.ADJUSTED: frozenset({_S.EXECUTING, _S.PENDING}),
        _S.EXECUTING: frozenset({_S.EXECUTED, _S.FAILED, _S.CONFLICT}),
        _S.FAILED: frozenset({_S.EXECUTING}),
        _S.CONFLICT: frozenset({_S.APPROVED, _S.ADJUSTED, _S.REJECTED, _S.EXPIRED}),
        _S.REJECTED: frozenset({_S.PENDING}),
        _S.EXPIRED: frozenset(),
        _S.EXECUTED: frozenset(),
    }
)
"""For each status, the statuses it may move to. Staying put is not a transition."""


def _can_reach(target: ApprovalStatus) -> frozenset[ApprovalStatus]:
    return frozenset(old for old, moves in TRANSITIONS.items() if target in moves)


DECIDABLE: frozenset[ApprovalStatus] = _can_reach(_S.APPROVED)
"""Statuses a person can approve, adjust or reject: ``pending`` and ``conflict``."""
UNDOABLE: frozenset[ApprovalStatus] = _can_reach(_S.PENDING)
"""Statuses whose decision can still be undone: ``approved``, ``adjusted``, ``rejected``."""
EXECUTABLE: frozenset[ApprovalStatus] = _can_reach(_S.EXECUTING)
"""Statuses an executor may start writing from: ``approved``, ``adjusted``, ``failed``."""
APPROVED_STATUSES: tuple[ApprovalStatus, ...] = (_S.APPROVED, _S.ADJUSTED)
"""Approved as proposed or with edits (:attr:`ApprovalStatus.is_approved`); waiting to be
written."""
OPEN: tuple[ApprovalStatus, ...] = (_S.APPROVED, _S.ADJUSTED, _S.EXECUTING, _S.FAILED, _S.CONFLICT)
"""Decided (or in conflict) but not finished: they still need the owner's attention, so the
queue always lists them."""

Decision = Literal["approve", "reject", "adjust"]
"""A person's decision on an approval; what an approval link or page offers."""
DECISIONS: tuple[Decision, ...] = get_args(Decision)
"""The decisions in the order they are offered."""
Verb = Literal[Decision, "undo", "retry"]
"""Everything a person may ask of an approval: a decision, undoing one, or writing an approved
(or failed) one now."""


def can_transition(old: ApprovalStatus | str, new: ApprovalStatus | str) -> bool:
    """Whether an approval may move from ``old`` to ``new``; unknown statuses never may."""
    try:
        return ApprovalStatus(new) in TRANSITIONS[ApprovalStatus(old)]
    except ValueError:
        return False


class Approval(BaseModel):
    """A proposed CRM write awaiting, or carrying, a person's decision.

    ``payload`` is the action as it will be written: the recommendation's suggested action, or
    the owner's edited version when the approval is ``adjusted``.
    """

    id: str = Field(default_factory=new_id)
    recommendation_id: str
    account_id: str
    owner_email: str
    action_type: RecommendationType
    payload: SuggestedAction
    status: ApprovalStatus = ApprovalStatus.PENDING
    token: str = Field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    created_at: Timestamp = Field(default_factory=utc_now)
    expires_at: Timestamp | None = None
    decided_by: str | None = None
    decided_at: Timestamp | None = None
    decision_rationale: str | None = None
    executed_at: Timestamp | None = None
    result_record_id: str | None = None
    error_message: str | None = None
    details: dict[str, JsonValue] | None = None
    """Extra facts about the current state, e.g. the CRM's current values on ``conflict``."""
    also: list[AlsoWrite] = Field(default_factory=list)
    """Further writes of the same decision (a write set): performed after ``payload``, each
    exactly once, each with its own marker ``[sergas:<id>/<n>]``."""

    @model_validator(mode="before")
    @classmethod
    def _typed_payload(cls, data: Any) -> Any:
        return resolve_typed_action(data, "action_type", "payload")

    @model_validator(mode="after")
    def _defaults_and_checks(self) -> Approval:
        check_action_type(self.action_type, self.payload)
        if self.expires_at is None:
            self.expires_at = self.created_at + DEFAULT_APPROVAL_TTL
        return self

    @property
    def expiry(self) -> datetime:
        """When the approval expires (always known after validation)."""
        return self.expires_at or self.created_at + DEFAULT_APPROVAL_TTL

    def is_expired(self, now: datetime) -> bool:
        """True when a pending approval's time is up at ``now``."""
        return self.status == ApprovalStatus.PENDING and now >= self.expiry

    def token_matches(self, token: str) -> bool:
        """Constant-time check of a presented token; a spent (decided) token never matches."""
        return self.status == ApprovalStatus.PENDING and secrets.compare_digest(
            self.token.encode(), token.encode()
        )
