"""The memory port: what the Memory Analyst and the executor need from a memory backend.

:class:`MemoryStore` is a protocol with async methods so that the local SQLite backend
(:mod:`.local`), a Cognee backend and a remote memory MCP server can all implement it. It speaks
only domain types plus the small value types below, never SQL rows or graph nodes:

- :class:`MemoryHit` — one full-text (or vector) search result with a stable ``memory:`` ref;
- :class:`PriorRecord` — a recommendation from an earlier review with its decision and outcome;
- :class:`Recollection` — an account's :class:`HistoricalContext` plus the memory references
  that back each key event, commitment and prior recommendation in it.

Every reference has the form ``memory:<kind>:<id>`` (:func:`memory_ref`), where ``kind`` is one
of :data:`MEMORY_KINDS`; a recommendation cites it in ``data_references`` like a Zoho ref.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from sergas_tui.domain import (
    AccountFacts,
    HistoricalContext,
    Outcome,
    Priority,
    Recommendation,
    RecommendationType,
    RecordRef,
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

    async def forget(self, account_id: str) -> int:
        """Remove everything about the account and nothing else; return the items removed."""
        ...

    async def stats(self) -> dict[str, Any]:
        """Item counts per kind, ``accounts`` and ``newest_ingest`` (ISO time or None)."""
        ...

    async def close(self) -> None:
        """Release the backend's resources; the store is unusable afterwards."""
        ...
