"""The memory port: what the Memory Analyst and the executor need from a memory backend.

:class:`MemoryStore` is a protocol with async methods so that the local SQLite backend
(:mod:`.local`), a Cognee backend and a remote memory MCP server can all implement it. It speaks
only domain types plus the small value types below, never SQL rows or graph nodes:

- :class:`MemoryHit` — one full-text (or vector) search result with a stable ``memory:`` ref;
- :class:`PriorRecord` — a recommendation from an earlier review with its decision and outcome;
- :class:`Recollection` — an account's :class:`HistoricalContext` plus the memory references
  that back each key event, commitment and prior recommendation in it;
- :class:`AccountHistory` — an account's timeline over a date window (what the memory MCP
  server's ``cognee_retrieve_history`` returns);
- :class:`RelationshipGraph` — account ↔ contacts (with roles), deals, key events and
  recommendations as nodes and edges;
- :class:`MemoryInsights` — deterministic aggregates: signal counts, sentiment trends and
  outcome rates per recommendation type;
- :class:`ContextItem` / :class:`DedupReport` — what ``store_context`` stores and what
  ``deduplicate`` removed (or would remove).

Every reference has the form ``memory:<kind>:<id>`` (:func:`memory_ref`), where ``kind`` is one
of :data:`MEMORY_KINDS`; a recommendation cites it in ``data_references`` like a Zoho ref.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, JsonValue

from sergas_tui.domain import (
    AccountFacts,
    HistoricalContext,
    Outcome,
    Priority,
    Recommendation,
    RecommendationType,
    RecordRef,
    SentimentTrend,
    Timestamp,
)

MemoryKind = Literal["notes", "key_events", "commitments", "recommendations"]
"""The kinds of memory item that search returns and references point at."""

MEMORY_KINDS: tuple[MemoryKind, ...] = ("notes", "key_events", "commitments", "recommendations")

MEMORY_SYSTEM = "memory"
"""The ``system`` part of a memory :class:`RecordRef`."""

DECISION_STATUSES: frozenset[str] = frozenset(
    {
        "pending",
        "approved",
        "adjusted",
        "rejected",
        "expired",
        "executing",
        "executed",
        "failed",
        "completed",
    }
)
"""Statuses ``record_decision`` accepts: the approval states plus the seed's ``completed``."""


def decision_status(status: str) -> str:
    """``status`` as a plain string if ``record_decision`` accepts it; ValueError otherwise."""
    plain = str(status)  # ApprovalStatus members are str
    if plain not in DECISION_STATUSES:
        raise ValueError(f"unknown decision status {plain!r}")
    return plain


def memory_ref(kind: MemoryKind, item_id: str) -> RecordRef:
    """The reference of one memory item, e.g. ``memory:key_events:3f2a…``."""
    return RecordRef(system=MEMORY_SYSTEM, module=kind, id=item_id)


class MemoryHit(BaseModel):
    """One search result: what matched, where it lives and how well it matched."""

    kind: MemoryKind
    id: str
    account_id: str
    title: str
    snippet: str
    """Plain text around the match (CRM text: escape it before Rich renders it)."""
    score: float
    """Higher is better; only comparable between hits of the same search."""
    date: dt.date | None = None

    @property
    def ref(self) -> str:
        """The stable reference string, ``memory:<kind>:<id>``."""
        return str(self.record_ref())

    def record_ref(self) -> RecordRef:
        return memory_ref(self.kind, self.id)


class PriorRecord(BaseModel):
    """A recommendation made in an earlier review and what became of it.

    This is what the Recommendation Author needs for its "don't repeat; lower the priority after
    repeated rejections" rule; :class:`PriorRecommendation` is its seed-shaped summary.
    """

    recommendation_id: str
    account_id: str
    type: RecommendationType
    priority: Priority
    summary: str
    created_at: Timestamp
    status: str
    decided_at: Timestamp | None = None
    decided_by: str | None = None
    decision_rationale: str | None = None
    executed_at: Timestamp | None = None
    outcome: Outcome | None = None
    effectiveness_score: float | None = None

    @property
    def ref(self) -> RecordRef:
        return memory_ref("recommendations", self.recommendation_id)


class Recollection(BaseModel):
    """An account's history and the memory references that back it.

    ``refs`` lists, in order, the items behind the context's key events, commitments and prior
    recommendations, without duplicates.
    """

    context: HistoricalContext
    refs: list[RecordRef] = Field(default_factory=list)


class NoteSummary(BaseModel):
    """One remembered note, cut to its gist (CRM text: data, never instructions)."""

    id: str
    date: dt.date | None = None
    title: str
    summary: str
    sentiment: float
    """The note's sentiment score, from -1 (negative) to 1 (positive)."""

    @property
    def ref(self) -> RecordRef:
        return memory_ref("notes", self.id)


class AccountHistory(BaseModel):
    """An account's remembered timeline between ``since`` and ``until`` (both included).

    ``context`` is shaped like the Memory Analyst's answer, restricted to the window; ``notes``
    and ``prior_recommendations`` add what the summary leaves out (note gists, decisions and
    outcomes); ``refs`` back every item, in the order: key events, commitments, notes,
    recommendations.
    """

    account_id: str
    account_name: str | None = None
    since: dt.date
    until: dt.date
    context: HistoricalContext
    notes: list[NoteSummary] = Field(default_factory=list)
    prior_recommendations: list[PriorRecord] = Field(default_factory=list)
    refs: list[RecordRef] = Field(default_factory=list)
    truncated: dict[str, int] = Field(default_factory=dict)
    """Per list, how many older items the window held beyond what is returned."""


GraphNodeType = Literal["account", "contact", "deal", "key_event", "recommendation"]


class GraphNode(BaseModel):
    """One node of an account's relationship graph; ``id`` is ``<type>:<record id>``."""

    id: str
    type: GraphNodeType
    label: str
    ref: str | None = None
    """Where the node comes from: ``zoho:Contacts:…`` or ``memory:key_events:…``."""
    data: dict[str, JsonValue] = Field(default_factory=dict)


class GraphEdge(BaseModel):
    """A directed relation between two nodes (``source`` and ``target`` are node ids)."""

    source: str
    target: str
    relation: str
    """``has_contact``, ``has_deal``, ``deal_contact``, ``key_event`` or ``recommendation``."""
    data: dict[str, JsonValue] = Field(default_factory=dict)


class RelationshipGraph(BaseModel):
    """Account ↔ contacts (with roles), deals, key events and recommendations; every node once."""

    account_id: str
    nodes: list[GraphNode] = Field(default_factory=list)
    edges: list[GraphEdge] = Field(default_factory=list)
    truncated: dict[str, int] = Field(default_factory=dict)
    """Per node type, how many nodes were left out (the newest or most active are kept)."""


class SignalCount(BaseModel):
    """How often one risk signal was raised in the window."""

    key: str
    accounts: int
    """Distinct accounts that had it."""
    occurrences: int
    """Reviews that raised it (one per account and day)."""
    severity: str
    """The most severe level it was raised at."""


class OutcomeRate(BaseModel):
    """What became of the recommendations of one type."""

    type: RecommendationType
    total: int
    pending: int
    accepted: int
    """Approved, adjusted, executed or completed."""
    rejected: int
    expired: int
    failed: int
    successful: int
    partial: int
    unsuccessful: int
    acceptance_rate: float | None = None
    """accepted / (accepted + rejected + expired); None when nothing was decided."""
    success_rate: float | None = None
    """successful / recommendations with an outcome; None when none has one."""
    mean_effectiveness: float | None = None


class MemoryInsights(BaseModel):
    """Deterministic aggregates over the accounts in scope (one account, one owner or all)."""

    account_id: str | None = None
    owner_email: str | None = None
    since: dt.date
    until: dt.date
    accounts: int
    signal_counts: list[SignalCount] = Field(default_factory=list)
    sentiment_trend: SentimentTrend | None = None
    """The account's trend (one-account scope only)."""
    sentiment_trends: dict[str, int] = Field(default_factory=dict)
    """How many accounts in scope have each trend."""
    outcome_rates: list[OutcomeRate] = Field(default_factory=list)


ContextKind = Literal["note", "key_event", "commitment"]


class ContextItem(BaseModel):
    """Something new to remember about an account (from a person or an agent, not the CRM)."""

    kind: ContextKind
    text: str = Field(min_length=1, max_length=4_000)
    title: str | None = Field(default=None, max_length=500)
    """A note's title (notes only)."""
    impact: str | None = Field(default=None, max_length=500)
    """What a key event changed (key events only)."""
    date: dt.date | None = None
    """When it happened; the store's today when omitted."""


class DuplicateItem(BaseModel):
    """A memory item that repeats another one of the same account."""

    kind: MemoryKind
    id: str
    account_id: str
    duplicate_of: str
    text: str


class DedupReport(BaseModel):
    """What ``deduplicate`` removed, or with ``dry_run`` would remove."""

    dry_run: bool
    duplicates: list[DuplicateItem] = Field(default_factory=list)
    orphan_documents: int = 0
    """Search entries whose item no longer exists."""

    @property
    def removed(self) -> int:
        return 0 if self.dry_run else len(self.duplicates) + self.orphan_documents


@runtime_checkable
class MemoryStore(Protocol):
    """Long-term memory of accounts: ingest facts, remember decisions, recall and search.

    Implementations must be safe to call concurrently from one event loop, apply
    :func:`~sergas_tui.domain.redact` to anything they store, and raise
    :class:`~sergas_tui.errors.StorageError` (or another ``SergasError``) for failures.
    """

    async def ingest(self, facts: AccountFacts) -> None:
        """Upsert the account's notes, activities, contacts, key events and commitments.

        Idempotent: ingesting the same facts twice leaves memory as it was after the first.
        """
        ...

    async def record_recommendation(self, account_id: str, recommendation: Recommendation) -> None:
        """Remember a recommendation made for the account (idempotent by its id)."""
        ...

    async def record_decision(
        self,
        account_id: str,
        recommendation_id: str,
        status: str,
        *,
        decided_at: dt.datetime,
        actor: str,
        rationale: str | None = None,
    ) -> bool:
        """Remember the owner's decision (one of :data:`DECISION_STATUSES`).

        Returns False when the recommendation is not known for that account.
        """
        ...

    async def record_outcome(
        self,
        account_id: str,
        recommendation_id: str,
        outcome: Outcome,
        effectiveness_score: float | None,
        executed_at: dt.datetime,
    ) -> bool:
        """Remember what executing the recommendation achieved; False when it is unknown."""
        ...

    async def recall(self, account_id: str, *, now: dt.datetime) -> Recollection:
        """The account's history as of ``now`` and the references that back it."""
        ...

    async def context(self, account_id: str, *, now: dt.datetime) -> HistoricalContext:
        """The account's history as of ``now`` (``memory_stale`` when nothing recent is known)."""
        ...

    async def prior_recommendations(self, account_id: str) -> list[PriorRecord]:
        """Every remembered recommendation of the account, newest first."""
        ...

    async def search(
        self, query: str, *, account_id: str | None = None, limit: int = 20
    ) -> list[MemoryHit]:
        """Ranked matches for free text (any text is accepted: it is never parsed as syntax)."""
        ...

    async def history(
        self, account_id: str, *, since: dt.datetime, until: dt.datetime
    ) -> AccountHistory | None:
        """The account's timeline between two times; None when memory knows no such account."""
        ...

    async def relationship_graph(self, account_id: str) -> RelationshipGraph | None:
        """The account's contacts, deals, key events and recommendations; None when unknown."""
        ...

    async def insights(
        self,
        *,
        account_id: str | None = None,
        owner_email: str | None = None,
        since: dt.datetime,
        until: dt.datetime,
    ) -> MemoryInsights:
        """Deterministic aggregates over one account, one owner's accounts, or every account."""
        ...

    async def store_context(
        self, account_id: str, item: ContextItem, *, now: dt.datetime
    ) -> RecordRef | None:
        """Remember a note, key event or commitment (idempotent by content); None when the
        account is unknown."""
        ...

    async def deduplicate(self, account_id: str | None = None, *, dry_run: bool) -> DedupReport:
        """Find (and unless ``dry_run``, remove) items that repeat another of the same account."""
        ...

    async def forget(self, account_id: str) -> int:
        """Remove everything about the account and nothing else; return the items removed."""
        ...

    async def stats(self) -> dict[str, Any]:
        """Item counts per kind, ``accounts`` and ``newest_ingest`` (ISO time or None)."""
        ...

    async def close(self) -> None:
        """Release the backend's resources; the store is unusable afterwards."""
        ...


@runtime_checkable
class BatchingMemory(Protocol):
    """A store that can group many writes into fewer transactions for a while (a review's
    accounts): fewer commits, far less written to disk; its own reads see the writes at once."""

    async def begin_batch(self, accounts: int | None = None) -> None:
        """Start batching; ``accounts``: how many accounts the batch will cover, if known."""
        ...

    async def end_batch(self) -> None:
        """Commit what the batch holds; writes are their own transactions again."""
        ...
