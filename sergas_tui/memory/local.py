"""The local memory backend: SQLite + FTS5 in the workspace's memory.db.

:class:`LocalMemory` implements :class:`~sergas_tui.memory.store.MemoryStore` over one
:class:`~sergas_tui.memory.memory_file.MemoryFile` (one connection behind a lock, and the
transaction discipline: each write one ``BEGIN IMMEDIATE`` transaction, or during a batch a
savepoint of shared transactions). The async methods run their SQLite work in a thread
(:func:`~sergas_tui.offload.offload`) so the event loop never blocks — except inside a review,
where the work runs on the loop's thread (each call is short, and the hand-offs cost more than
they freed). This class derives the rows from an account's facts; the operations on the file
are in :mod:`.memory_file`.

**A review's batch.** Between :meth:`LocalMemory.begin_batch` and :meth:`LocalMemory.end_batch`
ingests and recorded recommendations share transactions. A batch of at least
:data:`PROCESS_FROM` accounts runs in a memory process (:mod:`.worker`): every operation of the
batch, reads included, goes there in order, so the review's SQLite work in memory runs on the
machine's other core while this process authors the next accounts; a smaller batch stays in
this process (the process costs a fraction of a second to start). Reads see the batch's writes
at once either way; another process sees them at the next commit. What is stored:

- notes (title, content cut to :data:`MAX_NOTE_CHARS`, a sentiment score), activities and
  contacts, keyed by (account, CRM id) so re-ingesting updates in place;
- key events and commitments derived by :mod:`.derive`, with deterministic ids;
- recommendations with their decision and outcome, scrubbed of sensitive fields;
- ``documents``: one row per searchable item, indexed by an FTS5 table with porter stemming.

Nothing from a sensitive field (the seed's ``REDACTED_FIELDS``) is stored, and ``forget`` wipes
an account with ``secure_delete`` on, then optimises the index and checkpoints the WAL so the
text does not linger in free pages.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sergas_tui.clock import Clock, SystemClock
from sergas_tui.domain import (
    AccountFacts,
    HistoricalContext,
    Outcome,
    Recommendation,
    RecordRef,
    ensure_aware,
    sentiment,
)
from sergas_tui.errors import StorageError
from sergas_tui.logs import get_logger
from sergas_tui.memory import derive, memory_file, queries
from sergas_tui.memory.memory_file import MemoryFile, Rows
from sergas_tui.memory.queries import ts, ts_or_none
from sergas_tui.memory.store import (
    AccountHistory,
    ContextItem,
    DedupReport,
    MemoryHit,
    MemoryInsights,
    PriorRecord,
    Recollection,
    RelationshipGraph,
    decision_status,
)
from sergas_tui.offload import offload

if TYPE_CHECKING:
    from sergas_tui.memory.worker import MemoryProcess

T = TypeVar("T")

log = get_logger("sergas.memory")

MAX_NOTE_CHARS = 20_000
"""Longer notes are cut: memory needs the gist, not a megabyte of pasted logs."""
PROCESS_FROM = 400
"""Accounts from which a review's batch runs in a memory process (:mod:`.worker`)."""


def _several_cores() -> bool:
    """Whether this process may run on more than one core (else a process only competes)."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # not on Linux
        return (os.cpu_count() or 1) > 1


class LocalMemory:
    """Account memory in one SQLite file (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        stale_after_days: int = 30,
        clock: Clock | None = None,
        process_from: int | None = PROCESS_FROM,
    ) -> None:
        self.path = path
        self.stale_after = timedelta(days=stale_after_days)
        self.clock: Clock = clock or SystemClock()
        self.process_from = process_from
        """Batch size from which the batch runs in a memory process; None: never."""
        self._file = MemoryFile(path)
        self._process: MemoryProcess | None = None
        """The memory process running this batch, if any."""

    # -- plumbing -----------------------------------------------------------------------------

    async def _run(self, op: Callable[..., T], *args: Any) -> T:
        """``op(file, *args)`` (an operation of :mod:`.memory_file`), in the batch's memory
        process if there is one, else on a worker thread (or inline in a review)."""
        process = self._process
        if process is not None:
            result: T = await process.call(op.__name__, *args)
            return result
        return await offload(self._file.call, op, *args)

    @property
    def in_process(self) -> bool:
        """Whether a memory process runs the current batch."""
        return self._process is not None

    async def begin_batch(self, accounts: int | None = None) -> None:
        """Group ingests and recorded recommendations into shared transactions (see the
        module) until :meth:`end_batch`; ``accounts`` (how many the batch will cover) decides
        whether it runs in a memory process."""
        if self._process is not None:
            return
        wanted = (
            self.process_from is not None
            and (accounts or 0) >= self.process_from
            and _several_cores()
        )
        if wanted and not self._file.closed:
            from sergas_tui.memory.worker import MemoryProcess

            process: MemoryProcess | None = None
            try:
                process = await MemoryProcess.start(self.path)
                await process.call(memory_file.begin_batch.__name__, *self._batch_limits())
            except StorageError as err:  # the batch runs here instead
                log.warning("memory_process_unavailable", error=err.message)
                if process is not None:
                    await process.abort()
            else:
                self._process = process
                return
        await self._run(memory_file.begin_batch, *self._batch_limits())

    @staticmethod
    def _batch_limits() -> tuple[int, float]:
        return memory_file.BATCH_WRITES, memory_file.BATCH_SECONDS

    async def end_batch(self) -> None:
        """Commit the batch's open transaction; every write is its own transaction again."""
        process, self._process = self._process, None
        if process is not None:
            try:
                if process.alive:
                    await process.call(memory_file.end_batch.__name__)
            finally:
                await process.stop()
            return
        if self._file.closed:
            self._file.batching = False
            return
        await self._run(memory_file.end_batch)

    # -- writing ------------------------------------------------------------------------------

    async def ingest(self, facts: AccountFacts) -> None:
        account = facts.account
        head = (
            account.id,
            account.name,
            account.owner.email if account.owner else None,
            ts(facts.reviewed_at),
            ts(self.clock.now()),
        )
        since = (facts.reviewed_at - derive.COVER_WINDOW).date().isoformat()
        if self._process is not None:
            await self._run(memory_file.ingest, head, since, self._prepare(facts))
            return

        # One hop to a worker thread: the rows are derived there (CPU work, off the loop and
        # outside the lock), then written under the lock.
        def work() -> None:
            self._file.call(memory_file.ingest, head, since, self._prepare(facts))

        await offload(work)

    def _prepare(self, facts: AccountFacts) -> Rows:
        """Everything derived from the facts, computed outside the lock."""
        aid = facts.account_id
        notes, commitments = [], []
        for note in facts.notes:
            title = derive.clip(note.title, 500)
            content = derive.clip(note.content, MAX_NOTE_CHARS)
            when = note.created_time or note.modified_time
            score = sentiment.score(content or title)
            notes.append((aid, note.id, title, content, ts_or_none(when), score))
            day = None if when is None else when.date().isoformat()
            for text in derive.commitments_in(f"{title}. {content}"):
                key = derive.stable_id(aid, "commitment", note.id, text.casefold())
                commitments.append((key, aid, day, text, note.id))
        activities = [
            (
                aid,
                a.id,
                a.kind,
                derive.clip(a.subject, 500),
                ts_or_none(a.when or a.created_time),
                a.status,
                a.who.id if a.who else None,
            )
            for a in facts.activities
        ]
        contacts = [(aid, c.id, c.name, c.title, c.role) for c in facts.contacts]
        deals = [
            (
                *(aid, d.id, derive.clip(d.name, 300), d.stage, d.amount),
                None if d.closing_date is None else d.closing_date.isoformat(),
                d.contact.id if d.contact else None,
                derive.clip(d.contact.name, 300) if d.contact and d.contact.name else None,
            )
            for d in facts.deals
        ]
        review_day = facts.reviewed_at.date().isoformat()
        signals = [
            (aid, s.key, review_day, s.severity, derive.clip(s.message, 300)) for s in facts.signals
        ]
        events = [
            (e.id, aid, e.day.isoformat(), e.event, e.impact, e.topic, e.source)
            for e in derive.key_events(facts)
        ]
        return {
            "notes": notes,
            "commitments": commitments,
            "activities": activities,
            "contacts": contacts,
            "deals": deals,
            "signals": signals,
            "key_events": events,
        }

    async def record_recommendation(self, account_id: str, recommendation: Recommendation) -> None:
        rec = recommendation
        data = derive.scrub(rec.model_dump(mode="json"))
        data["data_references"] = [derive.scrub_ref(r) for r in rec.data_references]
        summary = derive.clip(derive.recommendation_summary(rec), 300)
        rationale = derive.clip(rec.rationale, 4_000)
        row = (
            *(rec.id, account_id, rec.type, rec.priority, rec.confidence, summary, rationale),
            *(ts(rec.created_at), rec.status, json.dumps(data, ensure_ascii=False)),
        )
        day = rec.created_at.date().isoformat()
        await self._run(memory_file.record_recommendation, row, day)

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
        status = decision_status(status)
        params = (status, ts(decided_at), actor, rationale, recommendation_id, account_id)
        return await self._run(
            memory_file.update,
            "UPDATE recommendations SET status = ?, decided_at = ?, decided_by = ?, "
            "decision_rationale = ? WHERE id = ? AND account_id = ?",
            params,
        )

    async def record_outcome(
        self,
        account_id: str,
        recommendation_id: str,
        outcome: Outcome,
        effectiveness_score: float | None,
        executed_at: datetime,
    ) -> bool:
        if effectiveness_score is not None and not 0.0 <= effectiveness_score <= 1.0:
            raise ValueError("effectiveness_score must be between 0 and 1")
        return await self._run(
            memory_file.update,
            "UPDATE recommendations SET outcome = ?, effectiveness_score = ?, executed_at = ?, "
            "status = CASE WHEN status IN ('executed', 'failed', 'completed') THEN status "
            "ELSE 'executed' END WHERE id = ? AND account_id = ?",
            (outcome, effectiveness_score, ts(executed_at), recommendation_id, account_id),
        )

    async def forget(self, account_id: str) -> int:
        return await self._run(memory_file.forget, account_id)

    # -- reading ------------------------------------------------------------------------------

    async def context(self, account_id: str, *, now: datetime) -> HistoricalContext:
        return (await self.recall(account_id, now=now)).context

    async def recall(self, account_id: str, *, now: datetime) -> Recollection:
        return await self._run(memory_file.recall, account_id, ensure_aware(now), self.stale_after)

    async def prior_recommendations(self, account_id: str) -> list[PriorRecord]:
        return await self._run(memory_file.prior, account_id)

    async def search(
        self, query: str, *, account_id: str | None = None, limit: int = 20
    ) -> list[MemoryHit]:
        limit = max(1, min(limit, queries.MAX_SEARCH_LIMIT))
        exact, loose = queries.fts_query(query), queries.fts_query(query, any_term=True)
        if exact is None or loose is None:
            return []
        return await self._run(memory_file.search, exact, loose, account_id, limit)

    async def history(
        self, account_id: str, *, since: datetime, until: datetime
    ) -> AccountHistory | None:
        start, end = ensure_aware(since), ensure_aware(until)
        return await self._run(memory_file.history, account_id, start, end, self.stale_after)

    async def relationship_graph(self, account_id: str) -> RelationshipGraph | None:
        return await self._run(memory_file.relationship_graph, account_id)

    async def insights(
        self,
        *,
        account_id: str | None = None,
        owner_email: str | None = None,
        since: datetime,
        until: datetime,
    ) -> MemoryInsights:
        start, end = ensure_aware(since), ensure_aware(until)
        return await self._run(memory_file.insights, account_id, owner_email, start, end)

    async def store_context(
        self, account_id: str, item: ContextItem, *, now: datetime
    ) -> RecordRef | None:
        day = item.date or ensure_aware(now).date()
        text = derive.clip(item.text, MAX_NOTE_CHARS)
        key = derive.stable_id(account_id, "context", item.kind, day, text.casefold())
        result: RecordRef | None = await self._run(
            memory_file.store_context, account_id, item, key, day, text
        )
        return result

    async def deduplicate(self, account_id: str | None = None, *, dry_run: bool) -> DedupReport:
        return await self._run(memory_file.deduplicate, account_id, dry_run)

    async def stats(self) -> dict[str, Any]:
        result = await self._run(memory_file.stats)
        result["path"] = str(self.path)
        return result

    async def close(self) -> None:
        if self._process is not None:
            await self.end_batch()
        self.close_now()

    def close_now(self) -> None:
        """Close the connection synchronously (for ``Services.close`` and tests); a batch's
        memory process is told to commit what it holds and stop."""
        process, self._process = self._process, None
        if process is not None:
            process.close_input()
        self._file.close()
