"""The repository: every read and write of the workspace database, by intent.

:class:`Repository` is the only owner of the workspace's SQLite connections. It is composed of
one part per subject, each a module of this package holding that subject's queries:

- :mod:`~sergas_tui.storage.transactions`: the connections, ``_read``/``_write`` and the
  chunked transactions of a :class:`~sergas_tui.storage.writer.WriteBatch`
  (:meth:`Repository.write_batch`) — how concurrent readers and the one writer share the file;
- :mod:`~sergas_tui.storage.snapshots`: account snapshots;
- :mod:`~sergas_tui.storage.runs`: sync runs and owner briefs;
- :mod:`~sergas_tui.storage.recommendations`: recommendations and their outcomes;
- :mod:`~sergas_tui.storage.approvals`: approvals, the decisions on them, a review's inputs;
- :mod:`~sergas_tui.storage.audit_log`: the audit log and its hash chain;
- :mod:`~sergas_tui.storage.outbox`: what the central audit has not received yet.

This module adds opening the file and what describes the database as a whole (its schema
version, ``sergas doctor``'s figures, the ``meta`` table). SQLite errors leave as
:class:`StorageError` (or :class:`DatabaseCorruptError` when the file turns out to be damaged).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sergas_tui import __version__
from sergas_tui.clock import Clock
from sergas_tui.storage.approvals import Approvals
from sergas_tui.storage.audit_log import AuditLog
from sergas_tui.storage.database import DEFAULT_BUSY_TIMEOUT_MS, open_database
from sergas_tui.storage.migrations import user_version
from sergas_tui.storage.outbox import CentralOutbox
from sergas_tui.storage.recommendations import Recommendations
from sergas_tui.storage.runs import RunRecords
from sergas_tui.storage.snapshots import Snapshots

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


class Repository(Snapshots, RunRecords, Recommendations, Approvals, AuditLog, CentralOutbox):
    """Intent-named access to one workspace database. Use :meth:`open` to get one."""

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

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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

    # -- metadata ---------------------------------------------------------------------------

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
