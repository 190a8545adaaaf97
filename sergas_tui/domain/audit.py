"""Audit records, mirroring the seed's ``audit_logs`` and ``recommendation_outcomes`` tables.

Tool inputs and outputs are redacted when the event is built, so no code path can put a
sensitive field into the audit log by forgetting to call :func:`redact`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, JsonValue, field_validator

from sergas_tui.domain.common import RecommendationType, Timestamp, new_id, utc_now
from sergas_tui.domain.redaction import redact


class AuditAction(StrEnum):
    """Well-known ``action_type`` values (the seed's four, then ours).

    ``AuditEvent.action_type`` is a plain string so that logs written by a newer Sergas still
    load; compare against these members.
    """

    TOOL_INVOCATION = "tool_invocation"
    RECOMMENDATION_GENERATED = "recommendation_generated"
    APPROVAL_REQUESTED = "approval_requested"
    ACTION_EXECUTED = "action_executed"
    APPROVAL_DECIDED = "approval_decided"
    APPROVAL_EXPIRED = "approval_expired"
    TOOL_DENIED = "tool_denied"
    SYNC_COMPLETED = "sync_completed"
    REVIEW_STARTED = "review_started"
    REVIEW_COMPLETED = "review_completed"
    REVIEW_CANCELLED = "review_cancelled"
    MODEL_USAGE = "model_usage"
    """One model request of the Claude engine: tokens, cost, accounts, permission denials."""
    ENGINE_FALLBACK = "engine_fallback"
    """The Claude engine handed accounts to the rules engine, and why."""
    SIGNAL_SNOOZED = "signal_snoozed"
    """A person snoozed a risk signal of an account until a date (``decision_rationale``: why)."""
    SIGNAL_DISMISSED = "signal_dismissed"
    """A person dismissed a risk signal of an account until unmuted (or until a date)."""
    ROLES_CHANGED = "roles_changed"
    """Team mode: an admin (or, before there is one, anyone) changed the team's roles."""
    APPROVAL_MIRRORED = "approval_mirrored"
    """Team mode: the central records moved an approval here (decided, executed or expired on
    another device); ``tool_inputs`` name the device and the status before."""
    SIGNAL_UNMUTED = "signal_unmuted"
    """A person lifted a snooze or dismissal: the signal counts again from the next review."""


Decision = Literal["approved", "rejected", "adjusted"]


class AuditEvent(BaseModel):
    """One row of the audit log. ``seq`` is assigned by the store when the event is appended."""

    id: str = Field(default_factory=new_id)
    timestamp: Timestamp = Field(default_factory=utc_now)
    session_id: str
    agent_name: str
    action_type: str
    account_id: str | None = None
    owner_email: str | None = None
    tool_name: str | None = None
    tool_inputs: JsonValue = None
    tool_outputs: JsonValue = None
    decision: Decision | None = None
    decision_rationale: str | None = None
    execution_time_ms: int | None = None
    error_message: str | None = None
    seq: int | None = None

    @field_validator("tool_inputs", "tool_outputs", mode="after")
    @classmethod
    def _redacted(cls, value: JsonValue) -> JsonValue:
        return redact(value)


Outcome = Literal["successful", "unsuccessful", "partial"]
OutcomeStatus = Literal[
    "pending", "approved", "adjusted", "rejected", "expired", "completed", "failed"
]


class RecommendationOutcome(BaseModel):
    """What became of a recommendation: the decision, execution and measured effect."""

    id: str = Field(default_factory=new_id)
    recommendation_id: str
    account_id: str
    created_at: Timestamp
    recommendation_type: RecommendationType
    status: OutcomeStatus = "pending"
    approved_by: str | None = None
    approved_at: Timestamp | None = None
    executed_at: Timestamp | None = None
    outcome: Outcome | None = None
    effectiveness_score: float | None = Field(default=None, ge=0.0, le=1.0)
    data_sources: list[str] = Field(default_factory=list)
