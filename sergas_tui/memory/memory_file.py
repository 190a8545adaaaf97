"""The local memory file's one connection, its transaction discipline and every operation on it.

:class:`MemoryFile` owns one SQLite connection to ``memory.db``, guarded by a lock, and the
batch state of a review: outside a batch each write is one ``BEGIN IMMEDIATE`` transaction;
between :meth:`MemoryFile.begin_batch` and :meth:`MemoryFile.end_batch` batchable writes share
transactions, committed every :data:`BATCH_WRITES` writes or :data:`BATCH_SECONDS` seconds, each
write a savepoint (whole or not at all).

The operations are plain module functions, ``op(file, *args)``, taking only values that pickle
(strings, numbers, datetimes, tuples of them), and :meth:`MemoryFile.call` runs one under the
lock. That is what lets the same operation run here, on the caller's thread or a worker thread,
or in the memory process a review starts (:mod:`sergas_tui.memory.worker`), which looks an
operation up by its name in :data:`OPERATIONS`. Everything derived from an account's facts
(sentiment scores, key events, commitments) is computed by the caller
(:mod:`sergas_tui.memory.local`): what arrives here are rows.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sergas_tui.errors import StorageError
from sergas_tui.memory import analysis, derive, queries
from sergas_tui.memory.queries import upsert_document
from sergas_tui.memory.schema import ITEM_TABLES, open_memory_database, storage_error
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
P = ParamSpec("P")

BATCH_WRITES = 256
"""Writes per transaction while batching (each FTS5 commit writes a new index segment)."""
BATCH_SECONDS = 2.0
"""A batch's open transaction is committed at the first write after this many seconds."""
BATCH_CHECKPOINT_PAGES = 4096
"""WAL pages before an automatic checkpoint while batching (SQLite's default is 1000): a page
rewritten by several commits between checkpoints reaches the database file once."""

Rows = dict[str, list[tuple[Any, ...]]]
"""An account's derived rows by table (``LocalMemory._prepare``)."""


class MemoryFile:
    """One connection to a memory file, serialised by a lock, and its batch state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = open_memory_database(path)
        self._lock = threading.Lock()
        self.batching = False
        """Between begin_batch() and end_batch() (guarded by the lock)."""
        self._batch_writes = 0
        self._batch_started = 0.0
        self.batch_limits = (BATCH_WRITES, BATCH_SECONDS)
        """Writes and seconds after which a batch's open transaction is committed."""

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (only inside :meth:`call`, which holds the lock)."""
        if self._conn is None:
            raise StorageError(f"The memory file {self.path} is closed.", title="Memory error")
        return self._conn

    def call(
        self, op: Callable[Concatenate[MemoryFile, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``op(self, *args)`` under the lock; SQLite errors become :class:`StorageError`."""
        with self._lock:
            if self._conn is None:
                raise StorageError(f"The memory file {self.path} is closed.", title="Memory error")
            try:
                return op(self, *args, **kwargs)
            except sqlite3.Error as err:
                raise storage_error(self.path, err) from err

    @contextmanager
    def tx(self, *, batchable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write (the caller holds the lock): its own transaction, or while batching and
        ``batchable``, a savepoint of the batch's open one."""
        conn = self.conn
        if not (self.batching and batchable):
            self.commit_batch()  # a batch's writes go first, whole
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
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
            yield conn
            conn.execute("RELEASE batched")
        except BaseException:
            conn.execute("ROLLBACK TO batched")
            conn.execute("RELEASE batched")
            raise
        self._batch_writes += 1
        writes, seconds = self.batch_limits
        if self._batch_writes >= writes or time.monotonic() - self._batch_started >= seconds:
            self.commit_batch()

    def commit_batch(self) -> None:
        """Commit the batch's open transaction, if any (the caller holds the lock)."""
        conn = self.conn
        if conn.in_transaction:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Commit what a batch holds and close the connection (idempotent)."""
        with self._lock:
            if self._conn is None:
                return
            conn = self._conn
            self.batching = False
            try:
                self.commit_batch()
            except sqlite3.Error as err:
                raise storage_error(self.path, err) from err
            finally:
                self._conn = None
                conn.close()

    @property
    def closed(self) -> bool:
        return self._conn is None


# -- batches -------------------------------------------------------------------------------


def begin_batch(file: MemoryFile, writes: int, seconds: float) -> None:
    """Batch writes from now on, committing every ``writes`` writes or ``seconds`` seconds."""
    conn = file.conn
    # Savepoint journals stay in memory (a batch's would spill to temporary files).
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute(f"PRAGMA wal_autocheckpoint = {BATCH_CHECKPOINT_PAGES}")
    file.batch_limits = (writes, seconds)
    file.batching = True


def end_batch(file: MemoryFile) -> None:
    conn = file.conn
    file.batching = False
    file.commit_batch()
    conn.execute("PRAGMA temp_store = DEFAULT")
    conn.execute("PRAGMA wal_autocheckpoint = 1000")


# -- writes --------------------------------------------------------------------------------


def ingest(
    file: MemoryFile,
    account: tuple[str, str, str | None, str, str],
    since: str,
    rows: Rows,
) -> None:
    """Store an account's derived rows: ``account`` is (id, name, owner email, observed at,
    ingested at), ``since`` the first day a change-derived event still tells a signal's story."""
    aid = account[0]
    with file.tx(batchable=True) as conn:
        conn.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE "
            "SET name = excluded.name, owner_email = excluded.owner_email, "
            "observed_at = max(observed_at, excluded.observed_at), "
            "ingested_at = excluded.ingested_at",
            account,
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
        events = [e for e in rows["key_events"] if not _told(conn, aid, e, since)]
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
            queries.upsert_document(
                conn, aid, "notes", nid, title, content, written and written[:10]
            )
        for eid, _, _day, event, impact, _topic, _source in events:
            stored = conn.execute("SELECT day FROM key_events WHERE id = ?", (eid,)).fetchone()
            queries.upsert_document(
                conn, aid, "key_events", eid, event, impact or "", stored["day"]
            )
        for cid, _, day, text, _note in rows["commitments"]:
            upsert_document(conn, aid, "commitments", cid, text, "", day)


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


def record_recommendation(file: MemoryFile, row: tuple[Any, ...], day: str) -> None:
    """Store a recommendation's row (``LocalMemory.record_recommendation``) and its document."""
    rec_id, account_id, summary, rationale = row[0], row[1], row[5], row[6]
    with file.tx(batchable=True) as conn:
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
            queries.upsert_document(
                conn, account_id, "recommendations", rec_id, summary, rationale, day
            )


def update(file: MemoryFile, sql: str, params: tuple[Any, ...]) -> bool:
    """One UPDATE in its own transaction; whether it changed a row."""
    with file.tx() as conn:
        return conn.execute(sql, params).rowcount > 0


def forget(file: MemoryFile, account_id: str) -> int:
    with file.tx() as conn:
        removed = sum(
            conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,)).rowcount
            for table in ITEM_TABLES
        )
        conn.execute("DELETE FROM documents WHERE account_id = ?", (account_id,))
    conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return removed


def store_context(
    file: MemoryFile, account_id: str, item: ContextItem, key: str, day: Any, text: str
) -> Any:
    if not queries.known(file.conn, account_id):
        return None
    with file.tx() as conn:
        return analysis.store_context(conn, account_id, item, key, day, text)


def deduplicate(file: MemoryFile, account_id: str | None, dry_run: bool) -> DedupReport:
    if dry_run:
        return analysis.find_duplicates(file.conn, account_id, dry_run=True)
    with file.tx() as conn:
        report = analysis.find_duplicates(conn, account_id, dry_run=False)
        analysis.remove_duplicates(conn, report, account_id)
    return report


# -- reads ---------------------------------------------------------------------------------


def recall(
    file: MemoryFile, account_id: str, now: datetime, stale_after: timedelta
) -> Recollection:
    return queries.recall(file.conn, account_id, now, stale_after)


def prior(file: MemoryFile, account_id: str) -> list[PriorRecord]:
    return queries.prior(file.conn, account_id)


def search(
    file: MemoryFile, exact: str, loose: str, account_id: str | None, limit: int
) -> list[MemoryHit]:
    hits = queries.search(file.conn, exact, account_id, limit)
    if hits or loose == exact:
        return hits
    return queries.search(file.conn, loose, account_id, limit)  # no item has every word


def history(
    file: MemoryFile, account_id: str, since: datetime, until: datetime, stale_after: timedelta
) -> AccountHistory | None:
    return queries.history(file.conn, account_id, since, until, stale_after)


def relationship_graph(file: MemoryFile, account_id: str) -> RelationshipGraph | None:
    return analysis.relationship_graph(file.conn, account_id)


def insights(
    file: MemoryFile,
    account_id: str | None,
    owner_email: str | None,
    since: datetime,
    until: datetime,
) -> MemoryInsights:
    return analysis.insights(file.conn, account_id, owner_email, since, until)


def stats(file: MemoryFile) -> dict[str, Any]:
    return queries.stats(file.conn)


OPERATIONS: dict[str, Callable[..., Any]] = {
    op.__name__: op
    for op in (
        begin_batch,
        end_batch,
        ingest,
        record_recommendation,
        update,
        forget,
        store_context,
        deduplicate,
        recall,
        prior,
        search,
        history,
        relationship_graph,
        insights,
        stats,
    )
}
"""Every operation by name: what the memory process may be asked to run."""
