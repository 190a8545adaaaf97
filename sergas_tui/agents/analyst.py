"""The Memory Analyst (pipeline step 2): an account's history from memory.

:meth:`MemoryAnalyst.recall` first ingests the facts the Data Scout just gathered, so this
review's notes, changes and signals count, then asks memory for the account's
``HistoricalContext`` (key events, sentiment trend, prior recommendations with status and
outcome, relationship strength, commitments) and the ``memory:`` references behind it, which the
Recommendation Author may cite in ``data_references``. :meth:`remember` stores what the Author
proposed so the next review knows it. The analyst is deterministic and backend-agnostic: it
works with any :class:`~sergas_tui.memory.MemoryStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sergas_tui import metrics
from sergas_tui.domain import AccountFacts, HistoricalContext, Recommendation, RecordRef
from sergas_tui.memory import MemoryStore


class MemoryAnalyst:
    """Recall and remember through one memory store."""

    name = "memory_analyst"

    def __init__(self, memory: MemoryStore) -> None:
        self.memory = memory

    async def recall(
        self, facts: AccountFacts, *, now: datetime
    ) -> tuple[HistoricalContext, list[RecordRef]]:
        """Ingest ``facts``, then return the account's history and its memory references."""
        await self.memory.ingest(facts)
        with metrics.memory_query():
            recollection = await self.memory.recall(facts.account_id, now=now)
        return recollection.context, list(recollection.refs)

    async def remember(self, account_id: str, recommendations: Sequence[Recommendation]) -> None:
        """Store the recommendations just made for the account."""
        for recommendation in recommendations:
            await self.memory.record_recommendation(account_id, recommendation)
