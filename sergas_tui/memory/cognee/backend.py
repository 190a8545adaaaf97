"""The Cognee memory backend: account memory as a Cognee graph plus one vector collection.

:class:`CogneeMemory` implements :class:`~sergas_tui.memory.store.MemoryStore` on Cognee's
embedded stores, all inside ``<workspace>/cognee/``: the graph on Cognee's Turso graph adapter
(``graph.db``; its ingest stays linear where the default Ladybug store grows quadratically) and
the vectors in LanceDB (``vectors.lancedb``). Nodes and edges are described in
:mod:`.points`; no LLM is used: items are written as DataPoints directly
(``add_nodes``/``add_edges`` and ``index_data_points``), never through ``cognify``.

Every operation reads the accounts it touches from the graph, applies the local memory's rules
to them in a :class:`~.mirror.MirrorMemory` and writes back only what changed, so both
backends give the same answers (the conformance suite checks it). Search is Cognee vector search
(scoped to one account through ``belongs_to_set``) with the configured embedder, pinned per data
dir (:mod:`.embed`). Cognee itself is imported on first use, never when Sergas starts
(:mod:`.setup`). One asyncio lock serialises operations: Cognee's stores serialise
writes anyway, and the mirror is one scratch database.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sergas_tui.clock import Clock, SystemClock
from sergas_tui.domain import AccountFacts, HistoricalContext, Outcome, Recommendation, RecordRef
from sergas_tui.errors import SergasError, StorageError
from sergas_tui.memory.cognee import points as p
from sergas_tui.memory.cognee.embed import EmbedderSpec, check_pin, write_pin
from sergas_tui.memory.cognee.mirror import MirrorMemory
from sergas_tui.memory.cognee.stores import TERM, CogneeStores
from sergas_tui.memory.store import (
    AccountHistory,
    ContextItem,
    DedupReport,
    MemoryHit,
    MemoryInsights,
    PriorRecord,
    Recollection,
    RelationshipGraph,
)

T = TypeVar("T")
FLUSH_ACCOUNTS = 100
"""A bulk ingest writes to the graph and the vector store once per this many accounts."""
Progress = Callable[[int], None]


class CogneeMemory:
    """Account memory in Cognee's graph and vector stores under ``root`` (see the module doc)."""

    def __init__(
        self,
        root: Path,
        *,
        embedder: EmbedderSpec,
        stale_after_days: int = 30,
        clock: Clock | None = None,
        log_file: Path | None = None,
        pin: bool = True,
    ) -> None:
        self.root = root
        self.embedder = embedder
        self.clock: Clock = clock or SystemClock()
        self.log_file = log_file
        root.mkdir(parents=True, exist_ok=True)
        if pin:
            check_pin(root, embedder)  # before any vector is written
        self._mirror = MirrorMemory(stale_after_days=stale_after_days, clock=self.clock)
        self._lock = asyncio.Lock()
        self._stores: CogneeStores | None = None
        self._closed = False

    # -- plumbing -----------------------------------------------------------------------------

    async def _open(self) -> CogneeStores:
        if self._closed:
            raise StorageError(f"Cognee memory in {self.root} is closed.", title="Memory error")
        if self._stores is None:
            self._stores = await CogneeStores.open(self.root, self.embedder, self.log_file)
        return self._stores

    @property
    def stores(self) -> CogneeStores:
        """The opened stores (inside an operation)."""
        assert self._stores is not None, "used outside an operation"
        return self._stores

    async def _guard(self, operation: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            await self._open()
            try:
                return await operation()
            except SergasError:
                raise
            except Exception as err:  # Cognee and its stores raise many kinds
                raise StorageError(
                    f"Cognee memory in {self.root} failed: {type(err).__name__}: {err}",
                    title="Memory error",
                ) from err

    async def _apply(self, account_id: str, operation: Callable[[MirrorMemory], Awaitable[T]]) -> T:
        """Run a mirror operation on one account and write back what it changed."""
        before, exists = await self.stores.read(account_id)
        await self._mirror.load(before, keep_rowids=True)
        result = await operation(self._mirror)
        after = await self._mirror.dump(before)
        changes = p.diff(before, after)
        if not changes.empty:
            await self.stores.write([(after, changes, set() if exists else {account_id})])
        return result

    async def _view(self, account_id: str, operation: Callable[[MirrorMemory], Awaitable[T]]) -> T:
        """Run a read-only mirror operation on one account."""
        before, _ = await self.stores.read(account_id)
        await self._mirror.load(before, keep_rowids=True)
        return await operation(self._mirror)

    # -- writing ------------------------------------------------------------------------------

    async def ingest(self, facts: AccountFacts) -> None:
        await self.ingest_many([facts])

    async def ingest_many(
        self,
        facts: Iterable[AccountFacts] | AsyncIterable[AccountFacts],
        *,
        progress: Progress | None = None,
    ) -> int:
        """Ingest many accounts' facts, writing to the stores in batches; return the count."""

        async def run() -> int:
            pending: list[tuple[p.Snapshot, p.Changes, set[str]]] = []
            seen: set[str] = set()
            count = 0
            async for item in _aiter(facts):
                if item.account_id in seen or len(pending) >= FLUSH_ACCOUNTS:
                    await self.stores.write(pending)
                    pending, seen = [], set()
                seen.add(item.account_id)
                before, _ = await self.stores.read(item.account_id)
                await self._mirror.load(before, keep_rowids=True)
                await self._mirror.ingest(item)
                after = await self._mirror.dump(before)
                pending.append((after, p.diff(before, after), set()))
                count += 1
                if progress is not None:
                    progress(1)
            await self.stores.write(pending)
            return count

        return await self._guard(run)

    async def import_snapshots(
        self, snapshots: Iterable[p.Snapshot], *, progress: Progress | None = None
    ) -> int:
        """Write accounts' rows as they are (from a local memory file); return the count."""

        async def run() -> int:
            batch: list[tuple[p.Snapshot, p.Changes, set[str]]] = []
            count = 0
            for snapshot in snapshots:
                accounts = {
                    str(r["account_id"]) for rows in snapshot.rows.values() for r in rows.values()
                }
                missing = {a for a in accounts if (a,) not in snapshot.rows["accounts"]}
                batch.append((snapshot, p.diff(p.Snapshot(), snapshot), missing))
                count += 1
                if len(batch) >= FLUSH_ACCOUNTS:
                    await self.stores.write(batch)
                    if progress is not None:
                        progress(len(batch))
                    batch = []
            await self.stores.write(batch)
            if progress is not None and batch:
                progress(len(batch))
            return count

        return await self._guard(run)

    async def record_recommendation(self, account_id: str, recommendation: Recommendation) -> None:
        async def run() -> None:
            node = p.node_id("recommendations", {"id": recommendation.id})
            for found in await self.stores.fetch([node]):
                if (found.get("row") or {}).get("account_id") not in (None, account_id):
                    return  # the id belongs to another account's recommendation
            await self._apply(
                account_id, lambda m: m.record_recommendation(account_id, recommendation)
            )

        await self._guard(run)

    async def record_decision(
        self,
        account_id: str,
        recommendation_id: str,
        status: str,
        *,
        decided_at: datetime,
        actor: str,
        rationale: str | None = None,
    ) -> bool:
        return await self._guard(
            lambda: self._apply(
                account_id,
                lambda m: m.record_decision(
                    account_id,
                    recommendation_id,
                    status,
                    decided_at=decided_at,
                    actor=actor,
                    rationale=rationale,
                ),
            )
        )

    async def record_outcome(
        self,
        account_id: str,
        recommendation_id: str,
        outcome: Outcome,
        effectiveness_score: float | None,
        executed_at: datetime,
    ) -> bool:
        return await self._guard(
            lambda: self._apply(
                account_id,
                lambda m: m.record_outcome(
                    account_id, recommendation_id, outcome, effectiveness_score, executed_at
                ),
            )
        )

    async def store_context(
        self, account_id: str, item: ContextItem, *, now: datetime
    ) -> RecordRef | None:
        return await self._guard(
            lambda: self._apply(account_id, lambda m: m.store_context(account_id, item, now=now))
        )

    async def deduplicate(self, account_id: str | None = None, *, dry_run: bool) -> DedupReport:
        async def run() -> DedupReport:
            if account_id is not None:
                before, _ = await self.stores.read(account_id)
            else:
                before = await self.stores.read_all(("key_events", "commitments"))
            await self._mirror.load(before, keep_rowids=account_id is not None)
            report = await self._mirror.deduplicate(account_id, dry_run=True)
            if dry_run or not report.duplicates:
                return report.model_copy(update={"dry_run": dry_run})
            for aid in sorted({d.account_id for d in report.duplicates}):
                # each account is rewritten from its own complete rows
                await self._apply(aid, functools.partial(_dedup_one, aid))
            return report.model_copy(update={"dry_run": False})

        return await self._guard(run)

    async def forget(self, account_id: str) -> int:
        async def run() -> int:
            snapshot, exists = await self.stores.read(account_id)
            if exists:
                await self.stores.forget(account_id, snapshot)
            return snapshot.count()

        return await self._guard(run)

    # -- reading ------------------------------------------------------------------------------

    async def context(self, account_id: str, *, now: datetime) -> HistoricalContext:
        return (await self.recall(account_id, now=now)).context

    async def recall(self, account_id: str, *, now: datetime) -> Recollection:
        return await self._guard(
            lambda: self._view(account_id, lambda m: m.recall(account_id, now=now))
        )

    async def prior_recommendations(self, account_id: str) -> list[PriorRecord]:
        return await self._guard(
            lambda: self._view(account_id, lambda m: m.prior_recommendations(account_id))
        )

    async def history(
        self, account_id: str, *, since: datetime, until: datetime
    ) -> AccountHistory | None:
        return await self._guard(
            lambda: self._view(
                account_id, lambda m: m.history(account_id, since=since, until=until)
            )
        )

    async def relationship_graph(self, account_id: str) -> RelationshipGraph | None:
        return await self._guard(
            lambda: self._view(account_id, lambda m: m.relationship_graph(account_id))
        )

    async def insights(
        self,
        *,
        account_id: str | None = None,
        owner_email: str | None = None,
        since: datetime,
        until: datetime,
    ) -> MemoryInsights:
        async def run() -> MemoryInsights:
            if account_id is not None:
                snapshot, _ = await self.stores.read(account_id)
            else:
                snapshot = await self.stores.read_all(("signals", "notes", "recommendations"))
            await self._mirror.load(snapshot, keep_rowids=account_id is not None)
            return await self._mirror.insights(
                account_id=account_id, owner_email=owner_email, since=since, until=until
            )

        return await self._guard(run)

    async def search(
        self, query: str, *, account_id: str | None = None, limit: int = 20
    ) -> list[MemoryHit]:
        limit = max(1, min(limit, 200))
        if not TERM.search(query):
            return []

        async def run() -> list[MemoryHit]:
            return await self.stores.search(query, account_id, limit)

        return await self._guard(run)

    async def stats(self) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            snapshot = await self.stores.read_all(p.NODE_TYPES)
            result: dict[str, Any] = {t: len(rows) for t, rows in snapshot.rows.items()}
            ingests = [str(r["ingested_at"]) for r in snapshot.rows["accounts"].values()]
            result["newest_ingest"] = max(ingests) if ingests else None
            result["backend"] = "cognee"
            result["cognee_version"] = self.stores.api.version
            result["embedder"] = self.embedder.label
            result["path"] = str(self.root)
            return result

        return await self._guard(run)

    async def reindex(self, *, progress: Progress | None = None) -> int:
        """Re-embed every searchable item with this store's embedder; return how many.

        The old vectors are dropped first; the embedder pin is rewritten at the end, so an
        interrupted reindex is detected (and can simply be run again).
        """

        async def run() -> int:
            snapshot = await self.stores.read_all(tuple(p.SEARCHABLE))
            await self.stores.reset_vectors()
            docs = sorted(snapshot.docs.items())
            for start in range(0, len(docs), 2_000):
                chunk = dict(docs[start : start + 2_000])
                await self.stores.index(p.texts(self.stores.classes, snapshot, chunk))
                if progress is not None:
                    progress(len(chunk))
            write_pin(self.root, self.embedder)
            return len(docs)

        return await self._guard(run)

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            stores, self._stores = self._stores, None
            if stores is not None:
                await stores.close()
        self._mirror.close_now()


async def _dedup_one(account_id: str, mirror: MirrorMemory) -> DedupReport:
    return await mirror.deduplicate(account_id, dry_run=False)


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterable[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
