"""The local memory backend: SQLite + FTS5 in the workspace's memory.db.

:class:`LocalMemory` implements :class:`~sergas_tui.memory.store.MemoryStore`. One connection,
owned by the instance and guarded by a lock, serves every call; the async methods run their
SQLite work in a thread (:func:`~sergas_tui.offload.offload`) so the event loop never blocks —
except inside a review, where the work runs on the loop's thread (each call is short, and the
hand-offs cost more than they freed). Each write is one
``BEGIN IMMEDIATE`` transaction, except between :meth:`LocalMemory.begin_batch` and
:meth:`LocalMemory.end_batch` (a review): ingests and recorded recommendations then share
transactions, committed every :data:`BATCH_WRITES` writes or :data:`BATCH_SECONDS` seconds, each
write a savepoint (whole or not at all). Reads on this connection see them at once; another
process sees them at the next commit. What is stored:

- notes (title, content cut to :data:`MAX_NOTE_CHARS`, a sentiment score), activities and
  contacts, keyed by (account, CRM id) so re-ingesting updates in place;
- key events and commitments derived by :mod:`.derive`, with deterministic ids;
- recommendations with their decision and outcome, scrubbed of sensitive fields;
- ``documents``: one row per searchable item, indexed by an FTS5 table with porter stemming.

Nothing from a sensitive field (the seed's ``REDACTED_FIELDS``) is stored, and ``forget`` wipes
an account with ``secure_delete`` on, then optimises the index and checkpoints the WAL so the
text does not linger in free pages.

Why one module: :class:`LocalMemory` owns one SQLite connection and one transaction
discipline (the lock, ``_tx`` and the review's batch of savepoints), and every method, read or
write, runs through them; the writes also keep the search index (``documents``) in step with
the rows they change. The parts without that state live beside it already: the schema and its
migrations (:mod:`.schema`), the read queries (:mod:`.queries`), the pure derivations
(:mod:`.derive`) and the graph, insight and dedup queries (:mod:`.analysis`). Splitting the
class itself would pass its connection and batch state between modules.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

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
from sergas_tui.memory import analysis, derive, queries
from sergas_tui.memory.queries import ts, ts_or_none
from sergas_tui.memory.schema import (
    ITEM_TABLES,
    open_memory_database,
    storage_error,
)
from sergas_tui.memory.store import (
    AccountHistory,
    ContextItem,
    DedupReport,
    MemoryHit,
    MemoryInsights,
    MemoryKind,
    PriorRecord,
    Recollection,
    RelationshipGraph,
    decision_status,
)
from sergas_tui.offload import offload

T = TypeVar("T")

MAX_NOTE_CHARS = 20_000
"""Longer notes are cut: memory needs the gist, not a megabyte of pasted logs."""

BATCH_WRITES = 256
"""Writes per transaction while batching (each FTS5 commit writes a new index segment)."""
BATCH_SECONDS = 2.0
"""A batch's open transaction is committed at the first write after this many seconds."""
BATCH_CHECKPOINT_PAGES = 4096
"""WAL pages before an automatic checkpoint while batching (SQLite's default is 1000): a page
rewritten by several commits between checkpoints reaches the database file once."""


class LocalMemory:
    """Account memory in one SQLite file (see the module docstring)."""

    def __init__(
        self, path: Path, *, stale_after_days: int = 30, clock: Clock | None = None
    ) -> None:
        self.path = path
        self.stale_after = timedelta(days=stale_after_days)
        self.clock: Clock = clock or SystemClock()
        self._conn: sqlite3.Connection | None = open_memory_database(path)
        self._lock = threading.Lock()
        self._batching = False
        """Between begin_batch() and end_batch() (guarded by ``_lock``)."""
        self._batch_writes = 0
        self._batch_started = 0.0

    # -- plumbing -----------------------------------------------------------------------------

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._conn is None:
                raise StorageError(f"The memory file {self.path} is closed.", title="Memory error")
            try:
                return fn(self._conn)
            except sqlite3.Error as err:
                raise storage_error(self.path, err) from err

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await offload(self._call, fn)

    @contextmanager
    def _tx(self, conn: sqlite3.Connection, *, batchable: bool = False) -> Iterator[None]:
        """One write (the caller holds ``_lock``): its own transaction, or while batching and
        ``batchable``, a savepoint of the batch's open one."""
        if not (self._batching and batchable):
            self._commit_batch(conn)  # a batch's writes go first, whole
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
            self._batch_writes, self._batch_started = 0, time.monotonic()
        conn.execute("SAVEPOINT batched")
        try:
            yield
            conn.execute("RELEASE batched")
        except BaseException:
            conn.execute("ROLLBACK TO batched")
            conn.execute("RELEASE batched")
            raise
        self._batch_writes += 1
        if (
            self._batch_writes >= BATCH_WRITES
            or time.monotonic() - self._batch_started >= BATCH_SECONDS
        ):
            self._commit_batch(conn)

    @staticmethod
    def _commit_batch(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error:
                conn.execute("ROLLBACK")
                raise

    async def begin_batch(self) -> None:
        """Group ingests and recorded recommendations into shared transactions (see the
        module) until :meth:`end_batch`."""

        def begin(conn: sqlite3.Connection) -> None:
            # Savepoint journals stay in memory (a batch's would spill to temporary files).
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute(f"PRAGMA wal_autocheckpoint = {BATCH_CHECKPOINT_PAGES}")
            self._batching = True

        await self._run(begin)

    async def end_batch(self) -> None:
        """Commit the batch's open transaction; every write is its own transaction again."""

        def end(conn: sqlite3.Connection) -> None:
            self._batching = False
            self._commit_batch(conn)
            conn.execute("PRAGMA temp_store = DEFAULT")
            conn.execute("PRAGMA wal_autocheckpoint = 1000")

        with self._lock:
            if self._conn is None:
                self._batching = False
                return
        await self._run(end)

    @staticmethod
    def _document(
        conn: sqlite3.Connection,
        account_id: str,
        kind: MemoryKind,
        item_id: str,
        title: str,
        body: str,
        day: str | None,
    ) -> None:
        queries.upsert_document(conn, account_id, kind, item_id, title, body, day)

    # -- writing ------------------------------------------------------------------------------

    async def ingest(self, facts: AccountFacts) -> None:
        # One hop to a worker thread: the rows are derived there (CPU work, off the loop and
        # outside the lock), then written under the lock.
        def work() -> None:
            prepared = self._prepare(facts)
            self._call(lambda conn: self._ingest(conn, facts, prepared))

        await offload(work)

    def _prepare(self, facts: AccountFacts) -> dict[str, list[tuple[Any, ...]]]:
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

    def _ingest(
        self, conn: sqlite3.Connection, facts: AccountFacts, rows: dict[str, list[tuple[Any, ...]]]
    ) -> None:
        account = facts.account
        aid = account.id
        owner = account.owner.email if account.owner else None
        with self._tx(conn, batchable=True):
            conn.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE "
                "SET name = excluded.name, owner_email = excluded.owner_email, "
                "observed_at = max(observed_at, excluded.observed_at), "
                "ingested_at = excluded.ingested_at",
                (aid, account.name, owner, ts(facts.reviewed_at), ts(self.clock.now())),
            )
            conn.executemany(
                "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "title = excluded.title, content = excluded.content, "
                "written_at = excluded.written_at, sentiment = excluded.sentiment",
                rows["notes"],
            )
            conn.executemany(
                "INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "kind = excluded.kind, subject = excluded.subject, "
                "occurred_at = excluded.occurred_at, status = excluded.status, "
                "contact_id = excluded.contact_id",
                rows["activities"],
            )
            conn.executemany(
                "INSERT INTO contacts VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "name = excluded.name, title = excluded.title, role = excluded.role",
                rows["contacts"],
            )
            conn.executemany(
                "INSERT INTO deals VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "name = excluded.name, stage = excluded.stage, amount = excluded.amount, "
                "closing_date = excluded.closing_date, contact_id = excluded.contact_id, "
                "contact_name = excluded.contact_name",
                rows["deals"],
            )
            conn.executemany(
                "INSERT INTO signals VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "severity = excluded.severity, message = excluded.message",
                rows["signals"],
            )
            since = (facts.reviewed_at - derive.COVER_WINDOW).date().isoformat()
            events = [e for e in rows["key_events"] if not self._told(conn, aid, e, since)]
            conn.executemany(  # an event keeps the day it was first seen
                "INSERT INTO key_events VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "day = min(day, excluded.day), event = excluded.event, impact = excluded.impact",
                events,
            )
            conn.executemany(
                "INSERT INTO commitments VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "day = excluded.day",
                rows["commitments"],
            )
            for _, nid, title, content, written, _score in rows["notes"]:
                self._document(conn, aid, "notes", nid, title, content, written and written[:10])
            for eid, _, _day, event, impact, _topic, _source in events:
                stored = conn.execute("SELECT day FROM key_events WHERE id = ?", (eid,)).fetchone()
                self._document(conn, aid, "key_events", eid, event, impact or "", stored["day"])
            for cid, _, day, text, _note in rows["commitments"]:
                self._document(conn, aid, "commitments", cid, text, "", day)

    @staticmethod
    def _told(conn: sqlite3.Connection, aid: str, event: tuple[Any, ...], since: str) -> bool:
        """Whether a signal's story was already told by a change-derived event since ``since``."""
        topic, source = event[5], event[6]
        if source != "signal" or topic not in derive.SIGNAL_TOPICS.values():
            return False
        row = conn.execute(
            "SELECT 1 FROM key_events WHERE account_id = ? AND topic = ? AND source != 'signal' "
            "AND day >= ? LIMIT 1",
            (aid, topic, since),
        ).fetchone()
        return row is not None

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

        def write(conn: sqlite3.Connection) -> None:
            with self._tx(conn, batchable=True):
                changed = conn.execute(
                    "INSERT INTO recommendations (id, account_id, type, priority, confidence, "
                    "summary, rationale, created_at, status, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "type = excluded.type, priority = excluded.priority, "
                    "confidence = excluded.confidence, summary = excluded.summary, "
                    "rationale = excluded.rationale, data = excluded.data, status = CASE "
                    "WHEN excluded.status = 'pending' THEN status ELSE excluded.status END "
                    "WHERE account_id = excluded.account_id",
                    row,
                ).rowcount
                if changed:  # not when the id belongs to another account's recommendation
                    day = rec.created_at.date().isoformat()
                    self._document(
                        conn, account_id, "recommendations", rec.id, summary, rationale, day
                    )

        await self._run(write)

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
        return await self._update(
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
        return await self._update(
            "UPDATE recommendations SET outcome = ?, effectiveness_score = ?, executed_at = ?, "
            "status = CASE WHEN status IN ('executed', 'failed', 'completed') THEN status "
            "ELSE 'executed' END WHERE id = ? AND account_id = ?",
            (outcome, effectiveness_score, ts(executed_at), recommendation_id, account_id),
        )

    async def _update(self, sql: str, params: tuple[Any, ...]) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            with self._tx(conn):
                return conn.execute(sql, params).rowcount > 0

        return await self._run(write)

    async def forget(self, account_id: str) -> int:
        def wipe(conn: sqlite3.Connection) -> int:
            with self._tx(conn):
                removed = sum(
                    conn.execute(
                        f"DELETE FROM {table} WHERE account_id = ?", (account_id,)
                    ).rowcount
                    for table in ITEM_TABLES
                )
                conn.execute("DELETE FROM documents WHERE account_id = ?", (account_id,))
            conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('optimize')")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return removed

        return await self._run(wipe)

    # -- reading ------------------------------------------------------------------------------

    async def context(self, account_id: str, *, now: datetime) -> HistoricalContext:
        return (await self.recall(account_id, now=now)).context

    async def recall(self, account_id: str, *, now: datetime) -> Recollection:
        when = ensure_aware(now)
        return await self._run(
            lambda conn: queries.recall(conn, account_id, when, self.stale_after)
        )

    async def prior_recommendations(self, account_id: str) -> list[PriorRecord]:
        return await self._run(lambda conn: queries.prior(conn, account_id))

    async def search(
        self, query: str, *, account_id: str | None = None, limit: int = 20
    ) -> list[MemoryHit]:
        limit = max(1, min(limit, queries.MAX_SEARCH_LIMIT))
        exact, loose = queries.fts_query(query), queries.fts_query(query, any_term=True)
        if exact is None or loose is None:
            return []

        def find(conn: sqlite3.Connection) -> list[MemoryHit]:
            hits = queries.search(conn, exact, account_id, limit)
            if hits or loose == exact:
                return hits
            return queries.search(conn, loose, account_id, limit)  # no item has every word

        return await self._run(find)

    async def history(
        self, account_id: str, *, since: datetime, until: datetime
    ) -> AccountHistory | None:
        start, end = ensure_aware(since), ensure_aware(until)
        return await self._run(
            lambda conn: queries.history(conn, account_id, start, end, self.stale_after)
        )

    async def relationship_graph(self, account_id: str) -> RelationshipGraph | None:
        return await self._run(lambda conn: analysis.relationship_graph(conn, account_id))

    async def insights(
        self,
        *,
        account_id: str | None = None,
        owner_email: str | None = None,
        since: datetime,
        until: datetime,
    ) -> MemoryInsights:
        start, end = ensure_aware(since), ensure_aware(until)
        return await self._run(
            lambda conn: analysis.insights(conn, account_id, owner_email, start, end)
        )

    async def store_context(
        self, account_id: str, item: ContextItem, *, now: datetime
    ) -> RecordRef | None:
        day = item.date or ensure_aware(now).date()
        text = derive.clip(item.text, MAX_NOTE_CHARS)
        key = derive.stable_id(account_id, "context", item.kind, day, text.casefold())

        def write(conn: sqlite3.Connection) -> RecordRef | None:
            if not queries.known(conn, account_id):
                return None
            with self._tx(conn):
                return analysis.store_context(conn, account_id, item, key, day, text)

        return await self._run(write)

    async def deduplicate(self, account_id: str | None = None, *, dry_run: bool) -> DedupReport:
        def run(conn: sqlite3.Connection) -> DedupReport:
            if dry_run:
                return analysis.find_duplicates(conn, account_id, dry_run=True)
            with self._tx(conn):
                report = analysis.find_duplicates(conn, account_id, dry_run=False)
                analysis.remove_duplicates(conn, report, account_id)
            return report

        return await self._run(run)

    async def stats(self) -> dict[str, Any]:
        result = await self._run(queries.stats)
        result["path"] = str(self.path)
        return result

    async def close(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        """Close the connection synchronously (for ``Services.close`` and tests)."""
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                self._batching = False
                try:
                    self._commit_batch(conn)
                except sqlite3.Error as err:
                    raise storage_error(self.path, err) from err
                finally:
                    conn.close()
