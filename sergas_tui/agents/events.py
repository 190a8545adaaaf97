"""Progress events of a review run, consumed by the TUI's lanes and the CLI's progress bar.

A run emits, in order: ``RunStarted``; for each account ``AccountScouted``, ``AccountRecalled``,
``AccountAuthored`` (with one ``RecommendationProposed`` per recommendation) or
``AccountFailed``; then ``RunFinished`` with the summary and the owner brief. ``AgentText``
carries free reasoning text for an agent's lane (the Claude engine streams it); ``AgentUsage``
reports the tokens and cost of one model request and the model it went to (the run's total is
``RunSummary.usage``, split by model in ``RunSummary.by_model``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sergas_tui.crm.call_tally import ZohoCalls
from sergas_tui.domain import OwnerBrief, Recommendation, RiskSignal

Agent = Literal["orchestrator", "scout", "analyst", "author"]


@dataclass(frozen=True)
class ReviewEvent:
    run_id: str


@dataclass(frozen=True)
class RunStarted(ReviewEvent):
    owner_email: str | None
    engine: str
    started_at: datetime


@dataclass(frozen=True)
class Synced(ReviewEvent):
    accounts: int
    calls: int
    full: bool


@dataclass(frozen=True)
class CrmWaiting(ReviewEvent):
    """The CRM client waits before its next call: Zoho answered 429 (``rate_limited``), or
    the org's per-minute budget, shared by every process of the machine, is spent
    (``paced``). The review goes on after the wait; nothing failed."""

    seconds: float
    reason: str
    kind: Literal["rate_limited", "paced"]


@dataclass(frozen=True)
class AccountScouted(ReviewEvent):
    account_id: str
    account_name: str
    signals: tuple[RiskSignal, ...]
    changes: int
    total: int
    """How many accounts the run reviews."""


@dataclass(frozen=True)
class AccountRecalled(ReviewEvent):
    account_id: str
    sentiment: str
    memory_stale: bool


@dataclass(frozen=True)
class RecommendationProposed(ReviewEvent):
    account_id: str
    recommendation: Recommendation
    approval_id: str | None
    """Its pending approval when it landed at once (critical); None while it waits for the
    end-of-run ranking."""


@dataclass(frozen=True)
class AccountAuthored(ReviewEvent):
    account_id: str
    recommendations: int
    done: int
    total: int


@dataclass(frozen=True)
class AccountFailed(ReviewEvent):
    account_id: str
    account_name: str
    error: str
    done: int
    total: int


@dataclass(frozen=True)
class AgentText(ReviewEvent):
    agent: Agent
    text: str
    account_id: str | None = None


@dataclass(frozen=True)
class Usage:
    """Model tokens and cost: of one request (``AgentUsage``) or of a whole run (the summary).

    ``input_tokens`` counts every token the model read (uncached, cache writes and cache
    reads); ``cost_usd`` is what the Claude Code CLI computed, ``None`` when unknown.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    requests: int = 0

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None and other.cost_usd is None
            else (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        )
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            cost,
            self.requests + other.requests,
        )


@dataclass(frozen=True)
class AgentUsage(ReviewEvent):
    """One model request finished: what it cost, for which accounts."""

    agent: Agent
    usage: Usage
    account_ids: tuple[str, ...] = ()
    model: str | None = None
    """The model the request went to (the model named in its Messages API request)."""


@dataclass(frozen=True)
class RunSummary:
    accounts: int = 0
    with_changes: int = 0
    at_risk: int = 0
    recommendations: int = 0
    landed: int = 0
    """Recommendations this run put in the owners' approval queues (within the budget)."""
    queued: int = 0
    """The reviewed owners' recommendations waiting as "more, lower priority" after the run."""
    failed: int = 0
    calls: int = 0
    """Every Zoho API call of the run (``zoho_calls.total``)."""
    seconds: float = 0.0
    cancelled: bool = False
    failures: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    usage: Usage | None = None
    """Model tokens and cost of the run (``None`` for an engine without a model)."""
    by_model: dict[str, Usage] = field(default_factory=dict)
    """``usage`` split by the model the requests went to (``[anthropic] model`` and
    ``model_simple``); the parts add up to ``usage``. Costs are the CLI's own figures. Empty
    for an engine without a model."""
    fallbacks: int = 0
    """Accounts the model engine handed to the rules engine (errors, budget, time limit)."""
    zoho_calls: ZohoCalls = field(default_factory=ZohoCalls)
    """The run's Zoho API calls by kind: sync, stage history, timelines, metadata, other reads,
    writes (see :mod:`sergas_tui.crm.call_tally`)."""
    sync: str = ""
    """What the sync was: "changes since …" or "full sync (why)"."""


@dataclass(frozen=True)
class RunFinished(ReviewEvent):
    summary: RunSummary
    briefs: tuple[OwnerBrief, ...]
    """One brief per owner whose accounts were reviewed."""
