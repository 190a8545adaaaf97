"""What the orchestrator drives: a review engine, and the hooks an engine may add around a run.

The rules engine (``agents/rules.py``) and the Claude engine (``agents/claude/engine.py``) both
implement :class:`ReviewEngine`; the Claude engine also implements :class:`RunAware`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from sergas_tui.agents.events import ReviewEvent, Usage
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.domain import (
    AccountFacts,
    Approval,
    HistoricalContext,
    Recommendation,
    RecordRef,
    Snapshot,
)


class ReviewEngine(Protocol):
    """Steps 1–3 of the pipeline; the rules engine and the Claude engine both implement it."""

    name: str

    async def scout(
        self, batch: SyncBatch, previous: Mapping[str, Snapshot]
    ) -> list[AccountFacts]: ...

    async def recall(
        self, facts: AccountFacts, now: datetime
    ) -> tuple[HistoricalContext, list[RecordRef]]: ...

    async def author(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        memory_refs: Sequence[RecordRef],
        prior: Sequence[Approval],
    ) -> list[Recommendation]: ...

    async def remember(self, account_id: str, recommendations: Sequence[Recommendation]) -> None:
        """Store what was proposed so the next review knows it."""
        ...


@runtime_checkable
class RunAware(Protocol):
    """Optional engine hooks around one run (the Claude engine implements them)."""

    async def begin_run(self, run_id: str, emit: Callable[[ReviewEvent], None]) -> None: ...

    def usage(self) -> Usage | None: ...

    def usage_by_model(self) -> Mapping[str, Usage]: ...

    def fallbacks(self) -> int: ...

    async def end_run(self) -> None: ...
