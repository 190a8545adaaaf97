"""Exactly-once sync of the local audit to the central PostgreSQL (the outbox).

The local ``audit_logs`` and ``recommendation_outcomes`` rows with ``synced_at IS NULL`` are
the outbox. :func:`sync_once` reads them in ``seq`` order, ``sync_batch_size`` at a time, COPYs
each batch into the central table (a batch sent before goes through a temporary table and
``INSERT ... ON CONFLICT DO NOTHING`` instead), commits, and only then marks the batch synced
locally. A crash anywhere leaves either nothing committed
centrally (the batch is sent again) or a committed batch not yet marked (it is sent again, and
the conflict clause inserts nothing): the central copy never loses or duplicates a row.

Outcomes are insert-only centrally (the sync role may not UPDATE): each distinct state of an
outcome is a row of ``recommendation_outcome_versions`` keyed ``(id, version_hash)``. Locally,
saving an outcome resets its ``synced_at``, so its new state is queued again.

Connection failures are retried with exponential backoff (:mod:`.conn`); progress
resets the count. :func:`outbox_status` (from :mod:`.status`) reads only the local
database, cheaply enough for a TUI header; :func:`sync_once_async` runs a sync in a thread for
an async caller.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg

from sergas_tui.audit.anchor import check_anchor
from sergas_tui.audit.central.conn import (
    MAX_ATTEMPTS,
    CentralAuditError,
    CentralSchemaError,
    CentralTarget,
    Connection,
    backoff,
    connect,
    convert,
    should_retry,
    target_from_settings,
)
from sergas_tui.audit.central.purge import PurgeReport, purge_central
from sergas_tui.audit.central.schema import CENTRAL_SCHEMA_VERSION, central_version, migrate_central
from sergas_tui.audit.central.status import (
    META_LAST_ERROR,
    META_LAST_SYNC,
    OutboxStatus,
    SyncProgress,
    SyncReport,
    outbox_status,
)
from sergas_tui.audit.central.text import storable_row
from sergas_tui.domain import utc_now
from sergas_tui.domain.audit_chain import canonical_json
from sergas_tui.errors import StorageError
from sergas_tui.storage import Repository
from sergas_tui.storage.outbox import OUTBOX_AUDIT_COLUMNS

DEFAULT_BATCH_SIZE = 5000

AUDIT_COLUMNS = OUTBOX_AUDIT_COLUMNS
"""The local ``audit_logs`` columns copied to the central table, as stored."""
_SEQ = AUDIT_COLUMNS.index("seq")
OUTCOME_COLUMNS: tuple[str, ...] = (
    "id",
    "recommendation_id",
    "account_id",
    "created_at",
    "recommendation_type",
    "status",
    "approved_by",
    "approved_at",
    "executed_at",
    "outcome",
    "effectiveness_score",
    "data_sources",
)
"""The local ``recommendation_outcomes`` columns that make up an outcome's state."""
ORIGIN_COLUMNS = ("chain_id", "workstation", "user_name", "workspace")

_AUDIT_JSON = tuple(AUDIT_COLUMNS.index(c) for c in ("tool_inputs", "tool_outputs"))
_OUTCOME_JSON = (OUTCOME_COLUMNS.index("data_sources"),)

_AUDIT_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS sergas_stage_audit (
    id uuid, timestamp timestamptz, session_id text, agent_name text, action_type text,
    account_id text, owner_email text, tool_name text, tool_inputs jsonb, tool_outputs jsonb,
    decision text, decision_rationale text, execution_time_ms integer, error_message text,
    seq bigint, prev_hash text, row_hash text
) ON COMMIT DELETE ROWS
"""
_OUTCOME_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS sergas_stage_outcomes (
    id uuid, recommendation_id text, account_id text, created_at timestamptz,
    recommendation_type text, status text, approved_by text, approved_at timestamptz,
    executed_at timestamptz, outcome text, effectiveness_score double precision,
    data_sources jsonb, version_hash text
) ON COMMIT DELETE ROWS
"""


def _insert_select(table: str, stage: str, columns: Sequence[str], conflict: str) -> str:
    cols = ", ".join(columns)
    origin = ", ".join(ORIGIN_COLUMNS)
    return (
        f"INSERT INTO {table} ({cols}, {origin}) "
        f"SELECT {cols}, %s, %s, %s, %s FROM {stage} ON CONFLICT ({conflict}) DO NOTHING"
    )


_AUDIT_INSERT = _insert_select("audit_logs", "sergas_stage_audit", AUDIT_COLUMNS, "id")
_OUTCOME_INSERT = _insert_select(
    "recommendation_outcome_versions",
    "sergas_stage_outcomes",
    (*OUTCOME_COLUMNS, "version_hash"),
    "id, version_hash",
)


def outcome_version_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of an outcome's state as stored locally: the key of its central version."""
    state = {column: row[column] for column in OUTCOME_COLUMNS}
    return hashlib.sha256(canonical_json(state).encode("utf-8")).hexdigest()


# -- identity, reports, status --------------------------------------------------------------


@dataclass(frozen=True)
class SyncIdentity:
    """Where synced rows come from; stamped on every central row."""

    chain_id: str
    workstation: str
    user_name: str
    workspace: str

    def params(self) -> tuple[str, str, str, str]:
        return (self.chain_id, self.workstation, self.user_name, self.workspace)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def local_identity(repository: Repository, workspace: str) -> SyncIdentity:
    """This workstation, OS user and workspace, and the database's audit chain id."""
    return SyncIdentity(
        chain_id=repository.audit_chain_id(),
        workstation=socket.gethostname(),
        user_name=_os_user(),
        workspace=workspace,
    )


# -- the sync -------------------------------------------------------------------------------

MigratePolicy = Literal["auto", "never", "only"]


@dataclass
class CentralSync:
    """One sync run; :func:`sync_once` is the usual way in."""

    repository: Repository
    target: CentralTarget
    identity: SyncIdentity
    batch_size: int = DEFAULT_BATCH_SIZE
    migrate: MigratePolicy = "auto"
    max_attempts: int = MAX_ATTEMPTS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = utc_now
    on_batch: Callable[[SyncProgress], None] | None = None
    stop: threading.Event | None = None
    report: SyncReport = field(default_factory=SyncReport)
    _prefetched: list[tuple[Any, ...]] | None = field(default=None, init=False, repr=False)
    _reader: ThreadPoolExecutor = field(init=False, repr=False)

    def run(self) -> SyncReport:
        started = time.perf_counter()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sergas-outbox")
        try:
            self._loop()
        except CentralAuditError as err:
            self._remember_error(err.message)
            raise
        finally:
            self._reader.shutdown(wait=True)
            self.report.seconds = time.perf_counter() - started
        if self.migrate != "only":
            self.repository.set_meta(META_LAST_SYNC, self.clock().isoformat())
            self.repository.set_meta(META_LAST_ERROR, None)
            anchor = check_anchor(self.repository)  # moves the checkpoint when intact
            self.report.anchor_problem = None if anchor.ok else anchor.summary()
        return self.report

    def _remember_error(self, message: str) -> None:
        with suppress(StorageError):  # the sync's own error is the one to report
            self.repository.set_meta(META_LAST_ERROR, message)

    def _loop(self) -> None:
        conn: Connection | None = None
        failures = 0
        try:
            while True:
                try:
                    if conn is None:
                        conn = connect(self.target)
                        self._ensure_schema(conn)
                        if self.migrate == "only":
                            return
                        conn.execute(_AUDIT_STAGE)
                        conn.execute(_OUTCOME_STAGE)
                        conn.commit()
                    if not self._step(conn):
                        return
                    failures = 0
                    if self.stop is not None and self.stop.is_set():
                        self.report.stopped = True
                        return
                except psycopg.Error as err:
                    self._prefetched = None
                    if conn is not None:
                        conn.close()
                        conn = None
                    failures += 1
                    if not should_retry(err) or failures >= self.max_attempts:
                        raise convert(err, self.target, "sync the audit") from err
                    self.report.retries += 1
                    self.sleep(backoff(failures))
        finally:
            if conn is not None:
                conn.close()

    def _ensure_schema(self, conn: Connection) -> None:
        version = central_version(conn)
        conn.rollback()
        if version is not None and version > CENTRAL_SCHEMA_VERSION:
            raise CentralSchemaError(
                f"The central audit {self.target.describe()} has schema version {version}, but "
                f"this Sergas knows versions up to {CENTRAL_SCHEMA_VERSION}: upgrade Sergas."
            )
        if version == CENTRAL_SCHEMA_VERSION and self.migrate != "only":
            return
        if self.migrate == "never" and version != CENTRAL_SCHEMA_VERSION:
            raise CentralSchemaError(self._schema_missing(version))
        try:
            self.report.schema = migrate_central(conn)
        except psycopg.errors.InsufficientPrivilege as err:
            raise CentralSchemaError(self._schema_missing(version)) from err

    def _schema_missing(self, version: int | None) -> str:
        state = "has no Sergas schema" if version is None else f"has schema v{version}"
        return (
            f"The central audit {self.target.describe()} {state} (this Sergas needs "
            f"v{CENTRAL_SCHEMA_VERSION}) and the sync role may not create it. Have the schema "
            "owner run `sergas audit sync --migrate-only` with the owner's DSN (see 'Central "
            "audit' in docs/operations.md); the rows stay in the local outbox meanwhile."
        )

    def _step(self, conn: Connection) -> bool:
        """Send one batch (audit rows first, then outcomes); False when the outbox is empty."""
        audit, self._prefetched = self._prefetched, None
        if audit is None:
            audit = self.repository.unsynced_audit_values(self.batch_size)
        if audit:
            # Read the next batch locally while the server takes this one.
            ahead = self._reader.submit(
                self.repository.unsynced_audit_values, self.batch_size, audit[-1][_SEQ]
            )
            inserted = self._send(
                conn,
                [storable_row(row, _AUDIT_JSON) for row in audit],
                AUDIT_COLUMNS,
                "audit_logs",
                "sergas_stage_audit",
                _AUDIT_INSERT,
            )
            self.repository.mark_audit_synced(audit[0][_SEQ], audit[-1][_SEQ], self.clock())
            self._prefetched = ahead.result() or None
            self.report.audit_sent += len(audit)
            self.report.audit_inserted += inserted
            self._progress("audit_logs", len(audit), inserted)
            return True
        outcomes = self.repository.unsynced_outcome_rows(self.batch_size)
        if outcomes:
            staged = [
                storable_row(
                    (*(row[c] for c in OUTCOME_COLUMNS), outcome_version_hash(row)), _OUTCOME_JSON
                )
                for row in outcomes
            ]
            inserted = self._send(
                conn,
                staged,
                (*OUTCOME_COLUMNS, "version_hash"),
                "recommendation_outcome_versions",
                "sergas_stage_outcomes",
                _OUTCOME_INSERT,
            )
            self.repository.mark_outcomes_synced(outcomes, self.clock())
            self.report.outcomes_sent += len(outcomes)
            self.report.outcomes_inserted += inserted
            self._progress("recommendation_outcomes", len(outcomes), inserted)
            return True
        return False

    def _send(
        self,
        conn: Connection,
        rows: Sequence[tuple[Any, ...]],
        columns: Sequence[str],
        table: str,
        stage: str,
        insert: str,
    ) -> int:
        """Insert ``rows`` centrally in one transaction; returns how many were new there.

        The usual batch has never been sent: it is COPYed straight into ``table``. A batch
        sent before (the process died between the central commit and the local mark) makes
        that COPY hit the primary key; it is then COPYed into ``stage`` and inserted with
        ``ON CONFLICT DO NOTHING``, which keeps the rows already there and adds the rest.
        """
        origin = self.identity.params()
        with conn.transaction(), conn.cursor() as cur:
            try:
                with conn.transaction():
                    sql = f"COPY {table} ({', '.join((*columns, *ORIGIN_COLUMNS))}) FROM STDIN"
                    with cur.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row + origin)
                return len(rows)
            except psycopg.errors.UniqueViolation:
                self.report.conflicted_batches += 1
            with cur.copy(f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(insert, origin)
            return cur.rowcount

    def _progress(
        self, table: Literal["audit_logs", "recommendation_outcomes"], sent: int, inserted: int
    ) -> None:
        self.report.batches += 1
        if self.on_batch is not None:
            self.on_batch(SyncProgress(table, self.report.batches, sent, inserted))


def sync_once(
    repository: Repository,
    target: CentralTarget,
    *,
    workspace: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    migrate: MigratePolicy = "auto",
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    on_batch: Callable[[SyncProgress], None] | None = None,
    stop: threading.Event | None = None,
) -> SyncReport:
    """Send everything in the outbox to the central audit; blocking (call it from a thread).

    ``migrate``: ``"auto"`` creates or upgrades the central schema when it is missing or old
    (which needs the owner role), ``"never"`` refuses instead, ``"only"`` migrates and sends
    nothing. ``stop`` ends the run after the current batch. Raises a
    :class:`~sergas_tui.audit.central.conn.CentralAuditError` subclass; what was committed
    and marked before the failure stays done.
    """
    sync = CentralSync(
        repository,
        target,
        local_identity(repository, workspace),
        batch_size=batch_size,
        migrate=migrate,
        max_attempts=max_attempts,
        sleep=sleep,
        on_batch=on_batch,
        stop=stop,
    )
    return sync.run()


async def sync_once_async(
    repository: Repository,
    target: CentralTarget,
    *,
    workspace: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    stop: threading.Event | None = None,
) -> SyncReport:
    """:func:`sync_once` in a worker thread, for asyncio callers (the TUI's background sync)."""
    return await asyncio.to_thread(
        sync_once, repository, target, workspace=workspace, batch_size=batch_size, stop=stop
    )


__all__ = [
    "CentralSync",
    "CentralTarget",
    "OutboxStatus",
    "PurgeReport",
    "SyncIdentity",
    "SyncProgress",
    "SyncReport",
    "local_identity",
    "outbox_status",
    "purge_central",
    "sync_once",
    "sync_once_async",
    "target_from_settings",
]
