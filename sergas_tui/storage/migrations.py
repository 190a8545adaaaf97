"""Applying the schema's migrations (:mod:`.schema`) to a workspace database.

``PRAGMA user_version`` holds the version a database has reached. :func:`migrate` applies the
pending migrations in one transaction, after copying a database that already holds data to
``<name>.bak-v<old>`` (once). A database newer than this code is refused, never downgraded.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sergas_tui.errors import DatabaseVersionError
from sergas_tui.storage.schema import MIGRATIONS, SCHEMA_VERSION, Migration


@dataclass(frozen=True)
class MigrationResult:
    """What :func:`migrate` did: the versions before and after, and the backup it made."""

    from_version: int
    to_version: int
    backup: Path | None = None


def newer_version_error(path: Path, found: int) -> DatabaseVersionError:
    """The error for a database written by a newer Sergas."""
    return DatabaseVersionError(
        f"The database {path} has schema version {found}, but this Sergas only knows versions "
        f"up to {SCHEMA_VERSION}: it was written by a newer Sergas. Upgrade Sergas to open it; "
        "the file was left untouched."
    )


def pending(current: int) -> tuple[Migration, ...]:
    """The migrations a database at version ``current`` still needs, in order."""
    return tuple(m for m in MIGRATIONS if m.version > current)


def statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (trigger bodies stay whole)."""
    result: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if not _only_comments(buffer):
                result.append(buffer.strip())
            buffer = ""
    if not _only_comments(buffer):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer!r}")
    return result


def _only_comments(sql: str) -> bool:
    """True when ``sql`` holds nothing but blank lines, ``--`` comments and semicolons."""
    return all(
        not line.strip(" \t;") or line.lstrip().startswith("--") for line in sql.splitlines()
    )


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def backup_path(path: Path, version: int) -> Path:
    """Where the copy taken before migrating from ``version`` goes."""
    return path.with_name(f"{path.name}.bak-v{version}")


def _holds_data(conn: sqlite3.Connection) -> bool:
    return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


def _backup(conn: sqlite3.Connection, target: Path) -> None:
    """A consistent copy (WAL content included) through SQLite's online backup API."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    dest = sqlite3.connect(partial)
    try:
        conn.backup(dest)
    finally:
        dest.close()
    partial.replace(target)


def migrate(conn: sqlite3.Connection, path: Path, *, app_version: str) -> MigrationResult:
    """Bring the database up to :data:`SCHEMA_VERSION` and record who opened it.

    ``conn`` must be in autocommit mode. The version is read again under the write lock, so two
    processes opening the same new database do not both migrate it.
    """
    found = user_version(conn)
    if found > SCHEMA_VERSION:
        raise newer_version_error(path, found)
    backup = None
    if pending(found) and _holds_data(conn):
        backup = backup_path(path, found)
        if not backup.exists():
            _backup(conn, backup)
        else:
            backup = None
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = user_version(conn)
        if current > SCHEMA_VERSION:
            raise newer_version_error(path, current)
        for migration in pending(current):
            for statement in statements(migration.script):
                conn.execute(statement)
        if current < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        upsert = (
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        conn.executemany(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
            [("created_by_version", app_version), ("created_at", now)],
        )
        conn.executemany(upsert, [("last_opened_by_version", app_version), ("last_opened_at", now)])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return MigrationResult(from_version=current, to_version=SCHEMA_VERSION, backup=backup)
