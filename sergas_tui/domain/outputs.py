"""What the three roles and the orchestrator produce, in the seed's JSON formats.

- :class:`ScoutReport` — the Data Scout's per-account report (seed §3.2);
- :class:`HistoricalContext` — the Memory Analyst's history (seed §3.3) plus ``memory_stale``;
- :class:`Recommendation` and the per-account :class:`RecommendationSet` (seed §3.4);
- :class:`OwnerBrief` — the orchestrator's per-owner brief (seed §8.2) with optional extras.

Each seed example parses and dumps back to itself (``model_dump(mode="json",
exclude_unset=True)``), so agents, files and the audit log can exchange these formats as-is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, Field, JsonValue, model_validator

from sergas_tui.domain.common import (
    Confidence,
    Priority,
    RecommendationType,
    Timestamp,
    new_id,
    utc_now,
)
from sergas_tui.domain.records import Activity, Change, Deal, RiskSignal


class ScoutReport(BaseModel):
    """The Data Scout's view of one account: what changed, open deals, activity, risks.

    ``risk_signals`` holds structured :class:`RiskSignal` objects or, as in the seed, plain
    strings; each keeps its own JSON shape. Use :meth:`signals` for a uniform list.
    """

    account_id: str
    account_name: str
    owner: str
    last_modified: Timestamp | None = None
    changes_detected: bool = False
    changes: list[Change] = Field(default_factory=list)
    open_deals: list[Deal] = Field(default_factory=list)
    recent_activities: list[Activity] = Field(default_factory=list)
    notes_count: int = 0
    risk_signals: list[RiskSignal | str] = Field(default_factory=list)

    def signals(self) -> list[RiskSignal]:
        """Every risk signal as a :class:`RiskSignal`; plain strings become ``key="note"``."""
        return [
            s if isinstance(s, RiskSignal) else RiskSignal(key="note", message=s)
            for s in self.risk_signals
        ]


SentimentTrend = Literal["improving", "stable", "declining", "unknown"]
RelationshipStrength = Literal["strong", "moderate", "weak", "unknown"]


class KeyEvent(BaseModel):
    """A turning point in the account's history."""

    date: dt.date
    event: str
    impact: str | None = None


class PriorRecommendation(BaseModel):
    """A recommendation made in an earlier review, with what became of it."""

    date: dt.date
    recommendation: str
    status: str
    outcome: str | None = None


class HistoryDetails(BaseModel):
    """The body of the Memory Analyst's answer (``historical_context`` in the seed)."""

    key_events: list[KeyEvent] = Field(default_factory=list)
    sentiment_trend: SentimentTrend = "unknown"
    prior_recommendations: list[PriorRecommendation] = Field(default_factory=list)
    relationship_strength: RelationshipStrength = "unknown"
    commitment_tracking: list[str] = Field(default_factory=list)


class HistoricalContext(BaseModel):
    """The Memory Analyst's history of one account; ``memory_stale`` asks for re-ingestion."""

    account_id: str
    historical_context: HistoryDetails = Field(default_factory=HistoryDetails)
    memory_stale: bool = False


class FollowUpEmailAction(BaseModel):
    """``follow_up_email``: a draft the owner reviews before anything is sent or logged."""

    subject: str
    draft_body: str
    next_steps: list[str] = Field(default_factory=list)
    recipient: str | None = None


class CreateTaskAction(BaseModel):
    """``create_task``: a CRM task; ``priority`` uses Zoho's task picklist (e.g. "High")."""

    subject: str
    due_date: dt.date | None = None
    priority: str | None = None
    description: str | None = None


class AddNoteAction(BaseModel):
    """``add_note``: a note on the account."""

    title: str
    content: str


class FieldChange(BaseModel):
    """One field of an account update, with the value the author expects it to have now."""

    field: str
    old: JsonValue = None
    new: JsonValue = None


class UpdateAccountAction(BaseModel):
    """``update_account``: field changes on the account record."""

    field_changes: list[FieldChange] = Field(min_length=1)


class EscalationAction(BaseModel):
    """``escalation``: hand the account to someone with more authority."""

    escalate_to: str
    reason: str


SuggestedAction = (
    FollowUpEmailAction | CreateTaskAction | AddNoteAction | UpdateAccountAction | EscalationAction
)

ACTION_MODELS: Mapping[RecommendationType, type[SuggestedAction]] = MappingProxyType(
    {
        "follow_up_email": FollowUpEmailAction,
        "create_task": CreateTaskAction,
        "add_note": AddNoteAction,
        "update_account": UpdateAccountAction,
        "escalation": EscalationAction,
    }
)
"""The payload model for each recommendation type."""


def parse_suggested_action(kind: RecommendationType, payload: Any) -> SuggestedAction:
    """Validate ``payload`` as the action model that ``kind`` calls for."""
    model = ACTION_MODELS[kind]
    return payload if isinstance(payload, model) else model.model_validate(payload)


def resolve_typed_action(data: Any, type_key: str, action_key: str) -> Any:
    """Before-validator body: pick the payload model from the sibling type field.

    The seed's payloads carry no discriminator of their own, so the parent's type decides.
    """
    if not isinstance(data, dict):
        return data
    kind: Any = data.get(type_key)
    model = ACTION_MODELS.get(kind)
    payload = data.get(action_key)
    if model is not None and payload is not None and not isinstance(payload, model):
        return {**data, action_key: model.model_validate(payload)}
    return data


def check_action_type(kind: RecommendationType, action: SuggestedAction) -> None:
    """Raise ``ValueError`` when ``action`` is not the payload ``kind`` calls for."""
    expected = ACTION_MODELS[kind]
    if not isinstance(action, expected):
        raise ValueError(
            f"a {kind} needs a {expected.__name__} payload, not {type(action).__name__}"
        )


class AlsoWrite(BaseModel):
    """A further CRM write performed with a recommendation's main action, under the same
    decision (a write set): e.g. the risk note that goes with the call task. Each write of the
    set happens exactly once and is audited on its own."""

    type: RecommendationType
    action: SuggestedAction

    @model_validator(mode="before")
    @classmethod
    def _typed_action(cls, data: Any) -> Any:
        return resolve_typed_action(data, "type", "action")

    @model_validator(mode="after")
    def _action_matches_type(self) -> AlsoWrite:
        check_action_type(self.type, self.action)
        return self


RecommendationStatus = Literal[
    "pending",
    "approved",
    "adjusted",
    "rejected",
    "expired",
    "executed",
    "failed",
    "queued",
    "superseded",
]
"""A recommendation's state. ``queued``: ranked below the owner's daily budget, so no approval
exists yet ("more, lower priority"; a person may pull it in); ``superseded``: a queued one a
later review replaced with a fresh one (or dropped because the problem went away)."""


class Recommendation(BaseModel):
    """One suggested action with priority, confidence, rationale and evidence.

    The first six fields are the seed's; ``id``, ``account_id``, ``created_at`` and ``status``
    are ours. ``data_references`` should hold :class:`RecordRef` strings (``zoho:Accounts:1``).
    """

    type: RecommendationType
    priority: Priority
    confidence: Confidence
    rationale: str
    suggested_action: SuggestedAction
    data_references: list[str] = Field(default_factory=list)
    id: str = Field(default_factory=new_id)
    account_id: str | None = None
    also: list[AlsoWrite] = Field(default_factory=list)
    """Further writes approving this recommendation performs (the same decision)."""
    created_at: Timestamp = Field(default_factory=utc_now)
    status: RecommendationStatus = "pending"
    signals: list[str] = Field(default_factory=list)
    """The keys of the risk signals this recommendation answers (``no_activity_critical``…),
    so a muted signal or an owner's "not useful" feedback reaches what it caused."""
    value: float | None = None
    """Expected value, the rank within the owner's queue (see :mod:`sergas_tui.domain.queue`):
    set by the orchestrator, the same for every engine."""

    @model_validator(mode="before")
    @classmethod
    def _typed_action(cls, data: Any) -> Any:
        return resolve_typed_action(data, "type", "suggested_action")

    @model_validator(mode="after")
    def _action_matches_type(self) -> Recommendation:
        check_action_type(self.type, self.suggested_action)
        return self


class RecommendationSet(BaseModel):
    """The Recommendation Author's answer for one account (the seed's envelope)."""

    account_id: str
    recommendations: list[Recommendation] = Field(default_factory=list)

    def resolved(self) -> list[Recommendation]:
        """The recommendations with ``account_id`` filled in from the envelope."""
        return [
            r if r.account_id else r.model_copy(update={"account_id": self.account_id})
            for r in self.recommendations
        ]


class BriefSummary(BaseModel):
    """Counts shown at the top of a brief (our extension of the seed format)."""

    accounts_with_changes: int = 0
    accounts_at_risk: int = 0
    recommendations_by_priority: dict[str, int] = Field(default_factory=dict)
    recommendations_by_type: dict[str, int] = Field(default_factory=dict)
    pending_approvals: int = 0


class AccountChanges(BaseModel):
    """The changes found on one account, for the brief's "what changed" section."""

    account_id: str
    account_name: str
    changes: list[Change] = Field(default_factory=list)


class BriefAccount(BaseModel):
    """One reviewed account as the brief lists it (our extension of the seed format)."""

    account_id: str
    account_name: str
    risk_level: str = "none"
    signals: list[RiskSignal] = Field(default_factory=list)
    sentiment_trend: str | None = None
    memory_stale: bool = False
    recommendation_ids: list[str] = Field(default_factory=list)


class OwnerBrief(BaseModel):
    """One owner's review: high-priority accounts first (seed §8.2 plus optional extras)."""

    owner_email: str
    generated_at: Timestamp
    accounts_reviewed: int
    high_priority_accounts: int
    recommendations: list[Recommendation] = Field(default_factory=list)
    summary: BriefSummary | None = None
    changes: list[AccountChanges] | None = None
    accounts: list[BriefAccount] | None = None
