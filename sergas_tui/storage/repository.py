"""The repository: every read and write of the workspace database, by intent.

:class:`Repository` is the only owner of the workspace's SQLite connections. Textual thread
workers and the review call it concurrently:

- *writes* go through one writer connection behind one lock; each write method is its own
  ``BEGIN IMMEDIATE`` transaction, and a write made inside another write of the same thread (a
  unit of a :class:`~sergas_tui.storage.writer.WriteBatch`) is a savepoint of it;
- *reads* run on connections of their own (WAL lets them proceed while a write is under way),
  taken from a small pool, one thread at a time per connection; a read made inside a write of
  the same thread uses the writer connection, so it sees that write's own rows.

A :class:`~sergas_tui.storage.writer.WriteBatch` (:meth:`Repository.write_batch`) applies units
of work (one reviewed account each) on a writer thread and commits them in chunks: a commit
only ever holds whole units, and any other write commits the open chunk first. SQLite errors
leave as :class:`StorageError` (or :class:`DatabaseCorruptError` when the file turns out to be
damaged).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from sergas_tui import __version__
from sergas_tui.clock import Clock, SystemClock
from sergas_tui.domain import (
    Approval,
    ApprovalStatus,
    AuditEvent,
    OwnerBrief,
    Recommendation,
    RecommendationOutcome,
    Snapshot,
    SyncRun,
    SyncStatus,
    can_transition,
    new_id,
)
from sergas_tui.domain.audit_chain import (
    CONTENT_COLUMNS,
    GENESIS,
    HEAD_META_KEY,
    LEGACY_META_KEY,
    START_META_KEY,
    AuditHead,
    ChainStart,
    row_hash,
)
from sergas_tui.domain.redaction import redact
from sergas_tui.errors import StorageError
from sergas_tui.storage import rows
from sergas_tui.storage.database import (
    DEFAULT_BUSY_TIMEOUT_MS,
    corrupt_error,
    is_corruption,
    open_database,
)
from sergas_tui.storage.migrations import user_version

if TYPE_CHECKING:
    from sergas_tui.storage.writer import WriteBatch

T = TypeVar("T")

MAX_IDLE_READERS = 8
"""Read connections kept open between reads; more may exist while many threads read at once."""

TABLES = (
    "sync_runs",
    "account_snapshots",
    "recommendations",
    "approvals",
    "audit_logs",
    "recommendation_outcomes",
    "briefs",
)
"""The tables whose row counts ``sergas doctor`` shows."""

OUTBOX_AUDIT_COLUMNS: tuple[str, ...] = (*CONTENT_COLUMNS, "prev_hash", "row_hash")
"""The ``audit_logs`` columns the central audit receives, in the order
:meth:`Repository.unsynced_audit_values` returns them."""


@dataclass(frozen=True)
class DatabaseInfo:
    """What ``sergas doctor`` reports about a workspace database."""

    path: Path
    size_bytes: int
    wal_bytes: int
    schema_version: int
    journal_mode: str
    created_by_version: str | None
    last_opened_by_version: str | None
    row_counts: dict[str, int]


_IN_CHUNK = 500
"""Ids per ``IN (...)`` list (SQLite allows 32,766 parameters; smaller lists keep plans cheap)."""


@dataclass
class ReviewInputs:
    """What :meth:`Repository.review_inputs` read for a review's accounts."""

    approvals: dict[str, list[Approval]] = field(default_factory=dict)
    """Account id → its approvals, oldest first."""
    queued: dict[str, list[Recommendation]] = field(default_factory=dict)
    """Account id → its queued recommendations, best expected value first."""
    outcomes_due: set[str] = field(default_factory=set)
    """Accounts with executed recommendations whose outcome is not judged yet."""


def _pending(select: str, owner_email: str | None) -> tuple[str, tuple[str, ...]]:
    """The query for pending approvals, optionally of one owner."""
    sql = f"{select} FROM approvals WHERE status = 'pending'"
    if owner_email is None:
        return sql, ()
    return sql + f" AND {OWNER_IS}", (owner_email,)


OWNER_IS = "owner_email = ? COLLATE NOCASE"
"""An owner's rows whatever the case of the e-mail (team roles keep e-mails in lower case, the
CRM as its users typed them)."""


class Repository:
    """Intent-named access to one workspace database. Use :meth:`open` to get one."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        clock: Clock | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ):
        self._conn = connection
        """The writer connection (every write; reads inside a write)."""
        self._path = path
        self._clock: Clock = clock or SystemClock()
        """The time source of the rows this repository stamps (the services' one clock)."""
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.RLock()
        """Held for the whole of a write (and of a batch unit): one writer at a time."""
        self._depth = 0
        """How deep the thread holding ``_lock`` is in writes (0: none under way)."""
        self._writer_thread: int | None = None
        """The thread whose write is under way (its reads use the writer connection)."""
        self._chunk_units = 0
        """Units applied in the open chunk transaction (see :meth:`_run_unit`)."""
        self._chunk_started = 0.0
        self._idle: list[sqlite3.Connection] = []
        self._readers: set[sqlite3.Connection] = set()
        self._pool_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        app_version: str = __version__,
        clock: Clock | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        quick_check: bool = True,
    ) -> Repository:
        """Open (creating and migrating as needed) the database at ``path``."""
        conn = open_database(
            path, app_version=app_version, busy_timeout_ms=busy_timeout_ms, quick_check=quick_check
        )
        return cls(conn, path, clock=clock, busy_timeout_ms=busy_timeout_ms)

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        """Commit an open chunk, close every connection; further calls raise
        :class:`StorageError`."""
        with self._lock:
            if self._closed:
                return
            lost: sqlite3.Error | None = None
            try:
                if self._depth == 0 and self._conn.in_transaction:
                    self._conn.execute("COMMIT")
            except sqlite3.Error as err:
                lost = err  # closing rolls the chunk back
            finally:
                self._closed = True
                with self._pool_lock:
                    readers, self._readers, self._idle = self._readers, set(), []
                for reader in readers:
                    reader.close()
                self._conn.close()
            if lost is not None:
                raise StorageError(
                    f"Could not commit the last writes to {self._path}: {lost}."
                ) from lost

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _closed_error(self) -> sqlite3.ProgrammingError:
        return sqlite3.ProgrammingError("the database is closed")

    def _checkout(self) -> sqlite3.Connection:
        """A read connection for this thread's use until :meth:`_checkin`."""
        with self._pool_lock:
            if self._closed:
                raise self._closed_error()
            if self._idle:
                return self._idle.pop()
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,  # one thread at a time; closed by whoever closes the repo
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        with self._pool_lock:
            if self._closed:
                conn.close()
                raise self._closed_error()
            self._readers.add(conn)
        return conn

    def _checkin(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        with self._pool_lock:
            if conn not in self._readers:  # closed meanwhile
                return
            if len(self._idle) < MAX_IDLE_READERS:
                self._idle.append(conn)
                return
            self._readers.discard(conn)
        conn.close()

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._errors(action):
            if self._writer_thread == threading.get_ident():
                # Inside this thread's own write: read what it wrote so far.
                with self._lock:
                    yield self._conn
                return
            conn = self._checkout()
            try:
                yield conn
            finally:
                self._checkin(conn)

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors(action):
            if self._closed:
                raise self._closed_error()
            conn = self._conn
            if self._depth > 0:  # inside a write of this thread: a savepoint of it
                savepoint = f"write_{self._depth}"
                conn.execute(f"SAVEPOINT {savepoint}")
                self._depth += 1
                try:
                    yield conn
                    conn.execute(f"RELEASE {savepoint}")
                except BaseException:
                    conn.execute(f"ROLLBACK TO {savepoint}")
                    conn.execute(f"RELEASE {savepoint}")
                    raise
                finally:
                    self._depth -= 1
                return
            self._commit_chunk_locked()  # a batch's open chunk holds whole units: keep them
            conn.execute("BEGIN IMMEDIATE")
            self._enter_write()
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._leave_write()

    def _enter_write(self) -> None:
        self._depth = 1
        self._writer_thread = threading.get_ident()

    def _leave_write(self) -> None:
        self._depth = 0
        self._writer_thread = None

    def _commit_chunk_locked(self) -> None:
        """Commit the batch's open chunk, if any (the caller holds ``_lock``)."""
        if self._conn.in_transaction and self._depth == 0:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                self._conn.execute("ROLLBACK")
                raise
            finally:
                self._chunk_units = 0

    def _run_unit(self, fn: Callable[[], T]) -> T:
        """Apply ``fn`` (which calls this repository's methods) as one unit of the open chunk
        transaction, starting one when none is open: all of the unit's writes, or none of them.
        The chunk stays open for the next unit until :meth:`_commit_chunk` (see
        :class:`~sergas_tui.storage.writer.WriteBatch`)."""
        with self._lock:
            with self._errors("start a batch of writes"):
                if self._closed:
                    raise self._closed_error()
                conn = self._conn
                if not conn.in_transaction:
                    conn.execute("BEGIN IMMEDIATE")
                    self._chunk_units = 0
                    self._chunk_started = time.monotonic()
                conn.execute("SAVEPOINT unit")
            self._enter_write()
            try:
                result = fn()
            except BaseException:
                with self._errors("undo a unit of writes"):
                    conn.execute("ROLLBACK TO unit")
                    conn.execute("RELEASE unit")
                raise
            finally:
                self._leave_write()
            with self._errors("finish a unit of writes"):
                conn.execute("RELEASE unit")
            self._chunk_units += 1
            return result

    def _chunk_state(self) -> tuple[int, float]:
        """(units in the open chunk, seconds since it began); (0, 0.0) when none is open."""
        with self._lock:
            if self._closed or not self._conn.in_transaction or self._chunk_units == 0:
                return 0, 0.0
            return self._chunk_units, time.monotonic() - self._chunk_started

    def _commit_chunk(self) -> None:
        """Commit the open chunk (whole units only), if any."""
        with self._lock, self._errors("commit a batch of writes"):
            if not self._closed:
                self._commit_chunk_locked()

    def write_batch(self, *, chunk: int = 64, max_delay: float = 1.0) -> WriteBatch:
        """A writer thread applying units of work in chunked transactions (see
        :class:`~sergas_tui.storage.writer.WriteBatch`); close it when done."""
        from sergas_tui.storage.writer import WriteBatch

        return WriteBatch(self, chunk=chunk, max_delay=max_delay)

    def reading(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """A connection for reads (for sibling stores): a read connection of this thread's
        own, or the writer connection inside this thread's write."""
        return self._read(action)

    def writing(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (a savepoint inside a write of this thread), on
        the writer connection (for sibling stores)."""
        return self._write(action)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            if is_corruption(err):
                raise corrupt_error(self._path, str(err)) from err
            raise StorageError(f"Could not {action} in {self._path}: {err}.") from err

    # -- schema -----------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._read("read the schema version") as conn:
            return user_version(conn)

    def info(self) -> DatabaseInfo:
        """Path, sizes, versions and row counts, for ``sergas doctor``."""
        with self._read("describe the database") as conn:
            meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
            version = user_version(conn)
        wal = self._path.with_name(self._path.name + "-wal")
        return DatabaseInfo(
            path=self._path,
            size_bytes=self._path.stat().st_size,
            wal_bytes=wal.stat().st_size if wal.exists() else 0,
            schema_version=version,
            journal_mode=mode,
            created_by_version=meta.get("created_by_version"),
            last_opened_by_version=meta.get("last_opened_by_version"),
            row_counts=counts,
        )

    # -- snapshots --------------------------------------------------------------------------

    def save_snapshot(
        self,
        account_id: str,
        owner_email: str,
        data: Mapping[str, Any] | BaseModel,
        run_id: str | None = None,
    ) -> bool:
        """Store the account's state unless it equals the latest one; True when stored."""
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
        digest = rows.content_hash(payload)
        with self._write("save a snapshot") as conn:
            latest = conn.execute(
                "SELECT content_hash FROM account_snapshots WHERE account_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (account_id,),
            ).fetchone()
            if latest is not None and latest["content_hash"] == digest:
                return False
            conn.execute(
                "INSERT INTO account_snapshots "
                "(account_id, owner_email, taken_at, run_id, content_hash, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    owner_email,
                    rows.ts(self._clock.now()),
                    run_id,
                    digest,
                    rows.canonical_json(payload),
                ),
            )
            return True

    def latest_snapshot(self, account_id: str) -> Snapshot | None:
        with self._read("read a snapshot") as conn:
            row = conn.execute(
                "SELECT * FROM account_snapshots WHERE account_id = ? ORDER BY id DESC LIMIT 1",
                (account_id,),
            ).fetchone()
        return None if row is None else rows.snapshot(row)

    def latest_snapshots(self, owner_email: str | None = None) -> dict[str, Snapshot]:
        """The latest snapshot of every account (whose latest owner is ``owner_email``)."""
        sql = (
            "SELECT s.* FROM account_snapshots AS s JOIN ("
            "  SELECT account_id, max(id) AS id FROM account_snapshots GROUP BY account_id"
            ") AS latest ON s.id = latest.id"
        )
        params: tuple[str, ...] = ()
        if owner_email is not None:
            sql += " WHERE s.owner_email = ?"
            params = (owner_email,)
        with self._read("read snapshots") as conn:
            found = conn.execute(sql, params).fetchall()
        return {row["account_id"]: rows.snapshot(row) for row in found}

    def snapshots_for(self, account_id: str) -> list[Snapshot]:
        """Every stored snapshot of the account, oldest first (its data export)."""
        with self._read("read snapshots") as conn:
            found = conn.execute(
                "SELECT * FROM account_snapshots WHERE account_id = ? ORDER BY id",
                (account_id,),
            ).fetchall()
        return [rows.snapshot(row) for row in found]

    # -- sync runs --------------------------------------------------------------------------

    def start_sync_run(
        self, owner_email: str = "*", modified_since: datetime | None = None
    ) -> SyncRun:
        """Record that a fetch for ``owner_email`` (``"*"``: everyone) has started."""
        run = SyncRun(
            owner_email=owner_email, started_at=self._clock.now(), modified_since=modified_since
        )
        with self._write("start a sync run") as conn:
            conn.execute(
                "INSERT INTO sync_runs (id, owner_email, started_at, modified_since, calls, status)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    owner_email,
                    rows.ts(run.started_at),
                    rows.ts(modified_since),
                    0,
                    "running",
                ),
            )
        return run

    def finish_sync_run(self, run_id: str, *, status: SyncStatus = "ok", calls: int = 0) -> SyncRun:
        """Record the end of a sync run with its outcome and the number of CRM calls it made."""
        with self._write("finish a sync run") as conn:
            conn.execute(
                "UPDATE sync_runs SET finished_at = ?, status = ?, calls = ? WHERE id = ?",
                (rows.ts(self._clock.now()), status, calls, run_id),
            )
            updated = conn.execute("SELECT * FROM sync_runs WHERE id = ?", (run_id,)).fetchone()
        if updated is None:
            raise ValueError(f"no sync run with id {run_id!r}")
        return rows.sync_run(updated)

    def last_sync(self, owner_email: str = "*") -> SyncRun | None:
        """The latest successful run covering ``owner_email`` (its own or an all-owners run)."""
        with self._read("read sync runs") as conn:
            row = conn.execute(
                "SELECT * FROM sync_runs WHERE status = 'ok' AND owner_email IN (?, '*') "
                "ORDER BY started_at DESC, rowid DESC LIMIT 1",
                (owner_email,),
            ).fetchone()
        return None if row is None else rows.sync_run(row)

    # -- recommendations --------------------------------------------------------------------

    def save_recommendations(
        self,
        recommendations: Iterable[Recommendation],
        *,
        run_id: str | None = None,
        owner_email: str | None = None,
    ) -> None:
        """Insert or replace recommendations (by id); each must carry its ``account_id``."""
        values = [rows.recommendation_values(r, run_id, owner_email) for r in recommendations]
        with self._write("save recommendations") as conn:
            conn.executemany(
                "INSERT INTO recommendations (id, run_id, account_id, owner_email, created_at, "
                "type, priority, confidence, status, payload) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, "
                "account_id = excluded.account_id, owner_email = excluded.owner_email, "
                "created_at = excluded.created_at, type = excluded.type, "
                "priority = excluded.priority, confidence = excluded.confidence, "
                "status = excluded.status, payload = excluded.payload",
                values,
            )

    def recommendations_for(self, account_id: str) -> list[Recommendation]:
        """The account's recommendations, oldest first."""
        with self._read("read recommendations") as conn:
            found = conn.execute(
                "SELECT payload FROM recommendations WHERE account_id = ? "
                "ORDER BY created_at, rowid",
                (account_id,),
            ).fetchall()
        return [Recommendation.model_validate_json(row["payload"]) for row in found]

    def get_recommendation(self, recommendation_id: str) -> Recommendation | None:
        with self._read("read a recommendation") as conn:
            row = conn.execute(
                "SELECT payload FROM recommendations WHERE id = ?", (recommendation_id,)
            ).fetchone()
        return None if row is None else Recommendation.model_validate_json(row["payload"])

    def recommendation_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of recommendations starting with ``prefix`` (at most ``limit``)."""
        with self._read("read recommendations") as conn:
            found = conn.execute(
                "SELECT id FROM recommendations WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
                (len(prefix), prefix, limit),
            ).fetchall()
        return [row["id"] for row in found]

    def queued_recommendations(
        self, owner_email: str | None = None, *, account_id: str | None = None
    ) -> list[Recommendation]:
        """Recommendations waiting below the daily budget ("more, lower priority"), of one
        owner and/or one account, best expected value first."""
        sql = "SELECT payload FROM recommendations WHERE status = 'queued'"
        params: tuple[str, ...] = ()
        if owner_email is not None:
            sql += " AND owner_email = ?"
            params += (owner_email,)
        if account_id is not None:
            sql += " AND account_id = ?"
            params += (account_id,)
        with self._read("read queued recommendations") as conn:
            found = conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        recs = [Recommendation.model_validate_json(row["payload"]) for row in found]
        return sorted(recs, key=lambda r: -(r.value or 0.0))

    def set_recommendation_status(
        self, recommendation_ids: Iterable[str], status: str, *, only_from: str | None = None
    ) -> int:
        """Move recommendations to ``status`` (the column and the stored model), optionally
        only those still in ``only_from``; returns how many moved."""
        ids = list(recommendation_ids)
        if not ids:
            return 0
        sql = (
            "UPDATE recommendations SET status = ?, payload = json_set(payload, '$.status', ?) "
            f"WHERE id IN ({', '.join('?' for _ in ids)})"
        )
        params: tuple[str, ...] = (status, status, *ids)
        if only_from is not None:
            sql += " AND status = ?"
            params += (only_from,)
        with self._write("update recommendations") as conn:
            return conn.execute(sql, params).rowcount

    def land_recommendation(self, approval: Approval, audit: AuditEvent | None = None) -> bool:
        """Put a recommendation into its owner's queue: its approval is added (if not there
        yet), the recommendation moves from ``queued`` to ``pending``, and ``audit`` is
        appended, all in one transaction. Returns False when the approval already existed."""
        values = rows.approval_values(approval)
        with self._write("land a recommendation") as conn:
            exists = conn.execute("SELECT 1 FROM approvals WHERE id = ?", (approval.id,)).fetchone()
            if exists is None:
                rows.insert(conn, "approvals", values)
            conn.execute(
                "UPDATE recommendations SET status = 'pending', "
                "payload = json_set(payload, '$.status', 'pending') "
                "WHERE id = ? AND status = 'queued'",
                (approval.recommendation_id,),
            )
            if exists is None and audit is not None:
                self._insert_audit(conn, audit)
            return exists is None

    def approvals_created_since(self, owner_email: str, since: datetime) -> int:
        """How many approvals of ``owner_email`` were created at or after ``since`` (what has
        landed in the owner's queue today)."""
        with self._read("count approvals") as conn:
            row = conn.execute(
                "SELECT count(*) FROM approvals WHERE owner_email = ? AND created_at >= ?",
                (owner_email, rows.ts(since)),
            ).fetchone()
        return int(row[0])

    # -- briefs -----------------------------------------------------------------------------

    def save_brief(self, brief: OwnerBrief, *, run_id: str | None = None) -> None:
        """Keep an owner brief (the latest one per owner is what `sergas export` writes)."""
        with self._write("save a brief") as conn:
            conn.execute(
                "INSERT INTO briefs (owner_email, run_id, generated_at, data) VALUES (?,?,?,?)",
                (brief.owner_email, run_id, rows.ts(brief.generated_at), brief.model_dump_json()),
            )

    def latest_brief(self, owner_email: str) -> OwnerBrief | None:
        with self._read("read a brief") as conn:
            row = conn.execute(
                "SELECT data FROM briefs WHERE owner_email = ? ORDER BY id DESC LIMIT 1",
                (owner_email,),
            ).fetchone()
        return None if row is None else OwnerBrief.model_validate_json(row["data"])

    def brief_covering(
        self, owner_email: str, account_id: str, *, searched: int = 50
    ) -> OwnerBrief | None:
        """The owner's newest brief whose review covered ``account_id`` (a review of a few
        accounts stores a brief of those only); the newest brief when none of the last
        ``searched`` did."""
        with self._read("read briefs") as conn:
            found = conn.execute(
                "SELECT data FROM briefs WHERE owner_email = ? ORDER BY id DESC LIMIT ?",
                (owner_email, searched),
            ).fetchall()
        briefs = [OwnerBrief.model_validate_json(row["data"]) for row in found]
        for brief in briefs:
            if any(a.account_id == account_id for a in brief.accounts or []):
                return brief
        return briefs[0] if briefs else None

    # -- approvals --------------------------------------------------------------------------

    def add_approval(self, approval: Approval) -> None:
        values = rows.approval_values(approval)
        with self._write("add an approval") as conn:
            rows.insert(conn, "approvals", values)

    def update_approval(
        self,
        approval: Approval,
        *,
        expected_status: ApprovalStatus,
        audit: AuditEvent | None = None,
    ) -> bool:
        """Store ``approval`` if the stored one is still ``expected_status`` (compare-and-set).

        Returns False when someone else moved it first. Raises ``ValueError`` for a move that
        :func:`can_transition` forbids. ``audit`` is appended in the same transaction, so a
        decision is never stored without its audit row (nor the row without the decision).
        """
        if not can_transition(expected_status, approval.status):
            raise ValueError(f"an approval cannot go from {expected_status} to {approval.status}")
        return self._set_approval(approval, expected_status, audit, "update an approval")

    def mirror_approval(
        self, approval: Approval, *, expected_status: ApprovalStatus, audit: AuditEvent
    ) -> bool:
        """Team mode: take the state the central records hold for ``approval`` (moved on
        another device, so possibly several steps at once: no transition check), if the stored
        one is still ``expected_status``; ``audit`` in the same transaction. False when it
        moved here."""
        return self._set_approval(
            approval, expected_status, audit, "take an approval's state from the team"
        )

    def _set_approval(
        self,
        approval: Approval,
        expected_status: ApprovalStatus,
        audit: AuditEvent | None,
        action: str,
    ) -> bool:
        """The compare-and-set both moves share: store ``approval`` while the stored one is
        ``expected_status``, with ``audit`` in the same transaction."""
        values = rows.approval_values(approval)
        del values["id"]
        with self._write(action) as conn:
            cursor = conn.execute(
                f"UPDATE approvals SET {', '.join(f'{c} = ?' for c in values)} "
                "WHERE id = ? AND status = ?",
                (*values.values(), approval.id, str(expected_status)),
            )
            if cursor.rowcount != 1:
                return False
            if audit is not None:
                self._insert_audit(conn, audit)
            return True

    def get_approval(self, approval_id: str) -> Approval | None:
        with self._read("read an approval") as conn:
            row = conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        return None if row is None else rows.approval(row)

    def approvals_for(self, account_id: str) -> list[Approval]:
        """Every approval of an account, oldest first (the Author's memory of decisions)."""
        with self._read("read approvals") as conn:
            found = conn.execute(
                "SELECT * FROM approvals WHERE account_id = ? ORDER BY created_at, rowid",
                (account_id,),
            ).fetchall()
        return [rows.approval(row) for row in found]

    def review_inputs(self, account_ids: Iterable[str]) -> ReviewInputs:
        """What a review reads per account, for many accounts in one go (one hop instead of
        several per account): each account's approvals (as :meth:`approvals_for`), its queued
        recommendations (as ``queued_recommendations(account_id=...)``) and whether it has
        executed outcomes waiting for a verdict."""
        ids = list(dict.fromkeys(account_ids))
        inputs = ReviewInputs()
        with self._read("read what a review needs") as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                for row in conn.execute(
                    f"SELECT * FROM approvals WHERE account_id IN ({marks}) "
                    "ORDER BY created_at, rowid",
                    chunk,
                ):
                    inputs.approvals.setdefault(row["account_id"], []).append(rows.approval(row))
                for row in conn.execute(
                    "SELECT account_id, payload FROM recommendations "
                    f"WHERE status = 'queued' AND account_id IN ({marks}) "
                    "ORDER BY created_at, rowid",
                    chunk,
                ):
                    inputs.queued.setdefault(row["account_id"], []).append(
                        Recommendation.model_validate_json(row["payload"])
                    )
                inputs.outcomes_due.update(
                    row[0]
                    for row in conn.execute(
                        "SELECT DISTINCT account_id FROM recommendation_outcomes "
                        f"WHERE status = 'completed' AND outcome IS NULL "
                        f"AND account_id IN ({marks})",
                        chunk,
                    )
                )
        for account_id, recs in inputs.queued.items():
            inputs.queued[account_id] = sorted(recs, key=lambda r: -(r.value or 0.0))
        return inputs

    def queued_recommendation_count(self, owner_email: str | None = None) -> int:
        """How many recommendations wait below the daily budget (of one owner)."""
        sql = "SELECT count(*) FROM recommendations WHERE status = 'queued'"
        params: tuple[str, ...] = ()
        if owner_email is not None:
            sql += " AND owner_email = ?"
            params = (owner_email,)
        with self._read("count queued recommendations") as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    def approval_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of approvals starting with ``prefix`` (at most ``limit``), to resolve short ids."""
        with self._read("read approvals") as conn:
            found = conn.execute(
                "SELECT id FROM approvals WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
                (len(prefix), prefix, limit),
            ).fetchall()
        return [row["id"] for row in found]

    def pending_approvals(self, owner_email: str | None = None) -> list[Approval]:
        """Approvals still waiting for a decision, oldest first (expired ones included until
        the approvals service marks them)."""
        sql, params = _pending("SELECT *", owner_email)
        with self._read("read approvals") as conn:
            found = conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [rows.approval(row) for row in found]

    def approvals_with_status(
        self, statuses: Iterable[ApprovalStatus], owner_email: str | None = None
    ) -> list[Approval]:
        """Approvals in any of ``statuses`` (of one owner, when given), oldest first."""
        wanted = [str(s) for s in statuses]
        if not wanted:
            return []
        sql = f"SELECT * FROM approvals WHERE status IN ({', '.join('?' for _ in wanted)})"
        params: tuple[str, ...] = tuple(wanted)
        if owner_email is not None:
            sql += f" AND {OWNER_IS}"
            params += (owner_email,)
        with self._read("read approvals") as conn:
            found = conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [rows.approval(row) for row in found]

    def pending_approval_count(self, owner_email: str | None = None) -> int:
        sql, params = _pending("SELECT count(*)", owner_email)
        with self._read("count approvals") as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    # -- audit ------------------------------------------------------------------------------

    def append_audit(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` to the audit log; returns it with its ``seq`` (1, 2, 3, ...)."""
        with self._write("append to the audit log") as conn:
            return self._insert_audit(conn, event)

    @staticmethod
    def _insert_audit(conn: sqlite3.Connection, event: AuditEvent) -> AuditEvent:
        """Insert ``event`` with the next ``seq`` inside the caller's transaction, chained to
        the previous row (``prev_hash``/``row_hash``, see :mod:`sergas_tui.domain.audit_chain`),
        and move the chain's head in ``meta`` along in the same transaction.

        The chain head is read in the same write transaction, so concurrent appends stay one
        chain. The payloads are redacted again: a model built with ``model_construct`` or
        mutated in place skipped the model's own redaction.
        """
        head = _chain_head(conn)
        stored = _stored_event(event, head.seq + 1)
        values = rows.audit_values(stored)
        values["prev_hash"] = head.row_hash or GENESIS
        values["row_hash"] = digest = row_hash(values["prev_hash"], values)
        rows.insert(conn, "audit_logs", values)
        _set_chain_head(conn, AuditHead(seq=head.seq + 1, count=head.count + 1, row_hash=digest))
        return stored

    def audit_events(self, limit: int = 100, since: datetime | None = None) -> list[AuditEvent]:
        """The latest ``limit`` events (at or after ``since``), in append order."""
        sql = "SELECT * FROM audit_logs"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE timestamp >= ?"
            params = (rows.ts(since),)
        with self._read("read the audit log") as conn:
            found = conn.execute(sql + " ORDER BY seq DESC LIMIT ?", (*params, limit)).fetchall()
        return [rows.audit_event(row) for row in reversed(found)]

    def audit_rows(
        self, after_seq: int = 0, limit: int | None = None, *, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Stored audit rows with ``seq > after_seq`` (and ``timestamp >= since``), by seq.

        Each row is column → value exactly as stored (JSON columns as text), hash columns
        included: what chain verification and export read.
        """
        sql = "SELECT * FROM audit_logs WHERE seq > ?"
        params: list[Any] = [after_seq]
        if since is not None:
            sql += " AND timestamp >= ?"
            params.append(rows.ts(since))
        sql += " ORDER BY seq LIMIT ?"
        params.append(-1 if limit is None else limit)
        with self._read("read the audit log") as conn:
            found = conn.execute(sql, params).fetchall()
        return [rows.as_dict(row) for row in found]

    def audit_rows_for(self, account_id: str) -> list[dict[str, Any]]:
        """The stored audit rows about one account, by seq, as :meth:`audit_rows` gives them."""
        with self._read("read the audit log") as conn:
            found = conn.execute(
                "SELECT * FROM audit_logs WHERE account_id = ? ORDER BY seq", (account_id,)
            ).fetchall()
        return [rows.as_dict(row) for row in found]

    # -- outcomes ---------------------------------------------------------------------------

    def save_outcome(self, outcome: RecommendationOutcome) -> None:
        """Insert or replace (by id) what became of a recommendation."""
        values = rows.outcome_values(outcome)
        with self._write("save a recommendation outcome") as conn:
            rows.insert(conn, "recommendation_outcomes", values, verb="INSERT OR REPLACE")

    def outcomes_for(self, account_id: str) -> list[RecommendationOutcome]:
        with self._read("read recommendation outcomes") as conn:
            found = conn.execute(
                "SELECT * FROM recommendation_outcomes WHERE account_id = ? "
                "ORDER BY created_at, rowid",
                (account_id,),
            ).fetchall()
        return [rows.outcome(row) for row in found]

    # -- central audit outbox ---------------------------------------------------------------

    def meta_value(self, key: str) -> str | None:
        """A value of the ``meta`` table (None when unset)."""
        with self._read("read workspace metadata") as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or, with None, remove) a value of the ``meta`` table."""
        with self._write("write workspace metadata") as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def audit_chain_id(self) -> str:
        """This database's audit chain id (a UUID made on first use): it tells the central
        audit which rows came from this chain, whatever the workstation's name."""
        with self._write("read the audit chain id") as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('audit_chain_id', ?)",
                (new_id(),),
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'audit_chain_id'").fetchone()
        return str(row["value"])

    def append_audit_batch(self, events: Iterable[AuditEvent]) -> int:
        """Append many events, in order, in one transaction; returns how many.

        The rows are exactly what :meth:`append_audit` would write one by one (same ``seq``
        numbering, redaction, chain and head), only without a transaction per row: the bulk
        path for imports and benchmarks.
        """
        with self._write("append to the audit log") as conn:
            head = _chain_head(conn)
            seq, prev = head.seq, head.row_hash or GENESIS
            batch: list[tuple[Any, ...]] = []
            columns: list[str] = []
            for event in events:
                seq += 1
                values = rows.audit_values(_stored_event(event, seq))
                values["prev_hash"] = prev
                values["row_hash"] = prev = row_hash(prev, values)
                columns = list(values)
                batch.append(tuple(values.values()))
            if batch:
                conn.executemany(
                    f"INSERT INTO audit_logs ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' for _ in columns)})",
                    batch,
                )
                _set_chain_head(
                    conn, AuditHead(seq=seq, count=head.count + len(batch), row_hash=prev)
                )
            return len(batch)

    def audit_chain_state(self, at_seq: int | None = None) -> AuditChainState:
        """The chain's recorded head (``meta``) next to the log's actual end, read together;
        with ``at_seq``, also the row stored at that seq (for comparing a checkpoint)."""
        with self._read("read the audit chain head") as conn:
            conn.execute("BEGIN")  # one snapshot: an append cannot land between the reads
            try:
                return _chain_state(conn, at_seq)
            finally:
                conn.execute("COMMIT")

    def audit_chain_start(self) -> tuple[ChainStart | None, str | None]:
        """Where the chain starts after local retention purges (None: at seq 1), or None and
        why the recorded start could not be read."""
        with self._read("read the audit chain start") as conn:
            return chain_start(conn)

    def unsynced_audit_values(self, limit: int, after_seq: int = 0) -> list[tuple[Any, ...]]:
        """The oldest ``limit`` audit rows (with ``seq > after_seq``) not yet in the central
        audit, by ``seq``: each the values of :data:`OUTBOX_AUDIT_COLUMNS` as stored (plain
        tuples, for bulk copying)."""
        with self._read("read the audit outbox") as conn:
            cursor = conn.cursor()
            cursor.row_factory = None
            cursor.execute(
                f"SELECT {', '.join(OUTBOX_AUDIT_COLUMNS)} FROM audit_logs "
                "WHERE synced_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
            return cursor.fetchall()

    def mark_audit_synced(self, first_seq: int, last_seq: int, synced_at: datetime) -> int:
        """Record that the unsynced rows with ``first_seq <= seq <= last_seq`` reached the
        central audit (call only after its commit); returns how many were marked."""
        with self._write("mark audit rows as synced") as conn:
            cursor = conn.execute(
                "UPDATE audit_logs SET synced_at = ? "
                "WHERE seq BETWEEN ? AND ? AND synced_at IS NULL",
                (rows.ts(synced_at), first_seq, last_seq),
            )
            return int(cursor.rowcount)

    def unsynced_outcome_rows(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` recommendation outcomes whose current state is not yet central."""
        with self._read("read the outcome outbox") as conn:
            found = conn.execute(
                "SELECT * FROM recommendation_outcomes WHERE synced_at IS NULL "
                "ORDER BY created_at, rowid LIMIT ?",
                (limit,),
            ).fetchall()
        return [rows.as_dict(row) for row in found]

    def mark_outcomes_synced(self, sent: Iterable[Mapping[str, Any]], synced_at: datetime) -> int:
        """Mark outcomes synced, each only if it still holds the state that was sent: an
        outcome updated meanwhile stays in the outbox. Returns how many were marked."""
        marked = 0
        with self._write("mark outcomes as synced") as conn:
            for row in sent:
                content = {k: v for k, v in row.items() if k != "synced_at"}
                same = " AND ".join(f"{column} IS ?" for column in content)
                cursor = conn.execute(
                    f"UPDATE recommendation_outcomes SET synced_at = ? "
                    f"WHERE synced_at IS NULL AND {same}",
                    (rows.ts(synced_at), *content.values()),
                )
                marked += cursor.rowcount
        return marked

    def outcome_rows(self) -> list[dict[str, Any]]:
        """Every recommendation outcome as stored (column → value), by creation."""
        with self._read("read recommendation outcomes") as conn:
            found = conn.execute(
                "SELECT * FROM recommendation_outcomes ORDER BY created_at, rowid"
            ).fetchall()
        return [rows.as_dict(row) for row in found]

    def outbox_counts(self) -> tuple[int, int]:
        """(audit rows, outcomes) waiting to be synced to the central audit."""
        with self._read("count the audit outbox") as conn:
            audit = conn.execute(
                "SELECT count(*) FROM audit_logs WHERE synced_at IS NULL"
            ).fetchone()[0]
            outcomes = conn.execute(
                "SELECT count(*) FROM recommendation_outcomes WHERE synced_at IS NULL"
            ).fetchone()[0]
        return int(audit), int(outcomes)


# -- the audit chain's head -------------------------------------------------------------------


@dataclass(frozen=True)
class AuditChainState:
    """The chain's recorded head next to the log's actual end, read in one transaction."""

    recorded: AuditHead | None
    """The head in ``meta`` (None when missing or unreadable)."""
    recorded_error: str | None
    """Why the head in ``meta`` is missing or could not be read."""
    actual: AuditHead
    """The log's end: its highest seq, its row count and that row's ``row_hash``."""
    last_id: str | None
    """The id of the row at the highest seq (None when the log is empty)."""
    legacy_rows: int
    """How many rows without hashes may precede the chain (``meta``; 0 when unset)."""
    at_seq: tuple[str, str | None] | None = None
    """(id, row_hash) of the row at the seq asked for, None when no row holds it."""
    after_head: tuple[int, str] | None = None
    """(seq, id) of the first row after the recorded head, None when there is none."""
    start: ChainStart | None = None
    """Where the chain starts after local retention purges (None: at seq 1)."""


def _stored_event(event: AuditEvent, seq: int) -> AuditEvent:
    """``event`` as appended at ``seq``, its payloads redacted again."""
    return event.model_copy(
        update={
            "seq": seq,
            "tool_inputs": redact(event.tool_inputs),
            "tool_outputs": redact(event.tool_outputs),
        }
    )


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    found = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if found is None else str(found[0])


def _recorded_head(conn: sqlite3.Connection) -> tuple[AuditHead | None, str | None]:
    """The head recorded in ``meta``, or None and why not."""
    text = _meta(conn, HEAD_META_KEY)
    if text is None:
        return None, f"the chain's head is not recorded (meta '{HEAD_META_KEY}' is missing)"
    try:
        return AuditHead.loads(text), None
    except ValueError as err:
        return None, f"the chain's recorded head (meta '{HEAD_META_KEY}') is unreadable: {err}"


def _chain_head(conn: sqlite3.Connection) -> AuditHead:
    """The head the next row continues from, inside the caller's write transaction.

    That is the head recorded in ``meta``, so that rows removed from the end leave a gap in
    ``seq`` before the next row instead of being written over; never behind the log's highest
    seq (a seq is never reused). Without a readable recorded head, the log's own end.
    """
    last = int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit_logs").fetchone()[0])
    recorded, _ = _recorded_head(conn)
    if recorded is not None:
        return AuditHead(max(recorded.seq, last), recorded.count, recorded.row_hash)
    count = _appended_count(conn)
    chained = conn.execute(
        "SELECT row_hash FROM audit_logs WHERE row_hash IS NOT NULL ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return AuditHead(last, count, None if chained is None else str(chained[0]))


def chain_start(conn: sqlite3.Connection) -> tuple[ChainStart | None, str | None]:
    """The chain start a local retention purge recorded (None before any purge), or None and
    why it could not be read."""
    text = _meta(conn, START_META_KEY)
    if text is None:
        return None, None
    try:
        return ChainStart.loads(text), None
    except ValueError as err:
        return None, f"the chain's recorded start (meta '{START_META_KEY}') is unreadable: {err}"


def _appended_count(conn: sqlite3.Connection) -> int:
    """How many rows were ever appended: those stored plus those a retention purge removed
    (the head's ``count`` keeps counting them, so a purge never looks like a cut)."""
    count = int(conn.execute("SELECT count(*) FROM audit_logs").fetchone()[0])
    start, _ = chain_start(conn)
    return count + (start.purged_rows if start is not None else 0)


def _set_chain_head(conn: sqlite3.Connection, head: AuditHead) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (HEAD_META_KEY, head.dumps()),
    )


def _chain_state(conn: sqlite3.Connection, at_seq: int | None) -> AuditChainState:
    recorded, error = _recorded_head(conn)
    count = _appended_count(conn)
    start, _ = chain_start(conn)
    last = conn.execute(
        "SELECT id, seq, row_hash FROM audit_logs ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    if last is None:
        actual, last_id = AuditHead(0, count, None), None
    else:
        actual = AuditHead(int(last["seq"]), count, last["row_hash"])
        last_id = str(last["id"])
    legacy = _meta(conn, LEGACY_META_KEY)
    after = None
    if recorded is not None and actual.seq > recorded.seq:
        found = conn.execute(
            "SELECT seq, id FROM audit_logs WHERE seq > ? ORDER BY seq LIMIT 1", (recorded.seq,)
        ).fetchone()
        after = (int(found["seq"]), str(found["id"]))
    at = None
    if at_seq is not None:
        found = conn.execute(
            "SELECT id, row_hash FROM audit_logs WHERE seq = ?", (at_seq,)
        ).fetchone()
        at = None if found is None else (str(found["id"]), found["row_hash"])
    return AuditChainState(
        recorded=recorded,
        recorded_error=error,
        actual=actual,
        last_id=last_id,
        legacy_rows=int(legacy) if legacy is not None and legacy.isdigit() else 0,
        at_seq=at,
        after_head=after,
        start=start,
    )
