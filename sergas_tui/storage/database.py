"""Opening a workspace database safely.

:func:`open_database` refuses, without writing a byte, a file that is not SQLite, fails
``PRAGMA quick_check``, or was written by a newer Sergas. All of those checks run on a read-only
connection, so nothing (not even a WAL checkpoint) can touch the file before it is known to be
ours and healthy. Only then is a read-write connection opened, configured (WAL, foreign keys,
busy timeout) and migrated.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sergas_tui.errors import DatabaseCorruptError, StorageError
from sergas_tui.storage.migrations import migrate, newer_version_error
from sergas_tui.storage.schema import SCHEMA_VERSION

DEFAULT_BUSY_TIMEOUT_MS = 5_000
"""How long a statement waits for another process's lock before failing."""

WRITER_CACHE_KIB = 8_192
"""Page cache of a writer connection (SQLite's default is 2 MiB)."""

WAL_CHECKPOINT_PAGES = 4096
"""WAL pages before the writer checkpoints (SQLite's default is 1000): a page rewritten by
several commits between checkpoints (an index leaf, the audit head) reaches the file once."""

_CORRUPTION_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


def is_corruption(err: sqlite3.Error) -> bool:
    """True when SQLite reports the file itself as damaged or not a database."""
    name = getattr(err, "sqlite_errorname", "") or ""
    return any(name.startswith(code) for code in _CORRUPTION_CODES)


def corrupt_error(path: Path, reason: str) -> DatabaseCorruptError:
    """The error for a damaged file: names it, says it was not touched, says what to do."""
    return DatabaseCorruptError(
        f"The database {path} cannot be used: {reason}. Sergas left the file untouched. "
        f"Move it aside (for example rename it to {path.name}.broken) and Sergas will start a "
        "fresh one, or restore it from a backup; for the demo workspace, run "
        "`sergas demo reset`."
    )


def inspect_existing(path: Path, *, quick_check: bool = True) -> int:
    """Check an existing, non-empty database file without writing to it; return its version.

    Raises :class:`DatabaseCorruptError` when the file is not SQLite or fails
    ``PRAGMA quick_check``, :class:`DatabaseVersionError` when its ``user_version`` is newer
    than :data:`SCHEMA_VERSION`, and :class:`StorageError` when it cannot be read at all.
    """
    # Only SQLite reads the file: an open()/close() of it here would cancel every POSIX lock
    # this process holds on it (close() drops them all), so another process could take itself
    # for the last user and delete the WAL under our live connections.
    try:
        uri = f"{path.absolute().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise newer_version_error(path, version)
            if quick_check:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise corrupt_error(path, f"the integrity check found {problems[0]!r}")
            return version
    except sqlite3.Error as err:
        if getattr(err, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise corrupt_error(path, "it is not an SQLite database") from err
        if is_corruption(err):
            raise corrupt_error(path, str(err)) from err
        raise StorageError(f"Cannot open the database {path}: {err}.") from err


def database_version(path: Path) -> int:
    """The schema version of an existing database (0 for a missing or empty file); raises
    like :func:`inspect_existing` for a damaged or newer one. Reads through SQLite only."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    return inspect_existing(path, quick_check=False)


def open_database(
    path: Path,
    *,
    app_version: str,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    quick_check: bool = True,
) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``; return the connection.

    The connection is in autocommit mode (transactions are explicit), uses ``sqlite3.Row`` rows,
    and may be used from worker threads (the caller must serialise access).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(f"Cannot create the folder {path.parent}: {err.strerror}.") from err
    if path.exists() and path.stat().st_size > 0:
        inspect_existing(path, quick_check=quick_check)
    try:
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as err:
        raise StorageError(f"Cannot open the database {path}: {err}.") from err
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Migrate (and back up) before switching to WAL, so the backup is the file as it was.
        migrate(conn, path, app_version=app_version)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # A review commits chunks of accounts, each account a savepoint: keep the savepoints'
        # journals in memory (not spilled to temporary files) and room for a chunk's pages in
        # the cache (not spilled into the WAL before the commit).
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    except sqlite3.Error as err:
        conn.close()
        if is_corruption(err):
            raise corrupt_error(path, str(err)) from err
        raise StorageError(f"Cannot prepare the database {path}: {err}.") from err
    except BaseException:
        conn.close()
        raise
    return conn
