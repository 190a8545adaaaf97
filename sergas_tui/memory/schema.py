"""The local memory file: its schema, versions and safe opening.

Memory lives in its own SQLite file, ``memory.db`` next to the workspace's ``sergas.db``
(:func:`memory_path`). It has its own ``PRAGMA user_version`` (the workspace database uses that
slot for its schema) and ``PRAGMA application_id`` = :data:`APPLICATION_ID`, so pointing memory
at any other SQLite file is refused instead of writing into it. A separate file also makes
"reset memory" a file delete and keeps the memory adapter independent of ``storage`` (the
layer contract forbids it to import that package), which is why the checks below mirror
:mod:`sergas_tui.storage.database` rather than reuse it.

Opening refuses, without writing a byte, a file that is not SQLite, fails ``PRAGMA
quick_check``, belongs to another application or was written by a newer Sergas; the checks run
on a read-only connection. To change the schema, append to :data:`MIGRATIONS`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

from sergas_tui.errors import DatabaseCorruptError, DatabaseVersionError, StorageError

MEMORY_FILE_NAME = "memory.db"
APPLICATION_ID = 0x53474D31  # "SGM1"
BUSY_TIMEOUT_MS = 5_000
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"

_V1 = """
CREATE TABLE IF NOT EXISTS accounts (
    account_id  TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    owner_email TEXT,
    observed_at TEXT NOT NULL,   -- the newest reviewed_at of facts ingested for the account
    ingested_at TEXT NOT NULL    -- when memory last ingested facts for it (the store's clock)
);
CREATE TABLE IF NOT EXISTS notes (
    account_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    title      TEXT NOT NULL,
    content    TEXT NOT NULL,
    written_at TEXT,
    sentiment  REAL NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX IF NOT EXISTS notes_written ON notes (account_id, written_at);
CREATE TABLE IF NOT EXISTS activities (
    account_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    occurred_at TEXT,
    status      TEXT,
    contact_id  TEXT,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX IF NOT EXISTS activities_when ON activities (account_id, occurred_at);
CREATE TABLE IF NOT EXISTS contacts (
    account_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    title      TEXT,
    role       TEXT,
    PRIMARY KEY (account_id, id)
);
CREATE TABLE IF NOT EXISTS key_events (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    event      TEXT NOT NULL,
    impact     TEXT,
    topic      TEXT NOT NULL,
    source     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS key_events_account ON key_events (account_id, day);
CREATE TABLE IF NOT EXISTS commitments (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    day        TEXT,
    text       TEXT NOT NULL,
    note_id    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commitments_account ON commitments (account_id, day);
CREATE TABLE IF NOT EXISTS recommendations (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL,
    type                TEXT NOT NULL,
    priority            TEXT NOT NULL,
    confidence          TEXT NOT NULL,
    summary             TEXT NOT NULL,
    rationale           TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    status              TEXT NOT NULL,
    decided_at          TEXT,
    decided_by          TEXT,
    decision_rationale  TEXT,
    executed_at         TEXT,
    outcome             TEXT,
    effectiveness_score REAL,
    data                TEXT NOT NULL   -- the recommendation as JSON, scrubbed
);
CREATE INDEX IF NOT EXISTS recommendations_account ON recommendations (account_id, created_at);
-- One row per searchable item, indexed by documents_fts (FTS5, kept in step by triggers).
CREATE TABLE IF NOT EXISTS documents (
    rowid      INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    day        TEXT,
    UNIQUE (account_id, kind, item_id)
);
"""

_FTS = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS "documents_fts" USING FTS5 (
    "title", "body",
    tokenize='{FTS_TOKENIZER}',
    content="documents"
);
CREATE TRIGGER IF NOT EXISTS "documents_ai" AFTER INSERT ON "documents" BEGIN
  INSERT INTO "documents_fts" (rowid, "title", "body") VALUES (new.rowid, new."title", new."body");
END;
CREATE TRIGGER IF NOT EXISTS "documents_ad" AFTER DELETE ON "documents" BEGIN
  INSERT INTO "documents_fts" ("documents_fts", rowid, "title", "body")
  VALUES ('delete', old.rowid, old."title", old."body");
END;
CREATE TRIGGER IF NOT EXISTS "documents_au" AFTER UPDATE ON "documents" BEGIN
  INSERT INTO "documents_fts" ("documents_fts", rowid, "title", "body")
  VALUES ('delete', old.rowid, old."title", old."body");
  INSERT INTO "documents_fts" (rowid, "title", "body") VALUES (new.rowid, new."title", new."body");
END;
"""
"""The full-text index of ``documents``: an external-content FTS5 table kept in step by
triggers (the same names and statements earlier versions created through sqlite-utils, so files
made by either are alike)."""

_V2 = """
CREATE TABLE IF NOT EXISTS deals (
    account_id   TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    stage        TEXT,
    amount       REAL,
    closing_date TEXT,
    contact_id   TEXT,           -- the deal's contact lookup, when it has one
    contact_name TEXT,
    PRIMARY KEY (account_id, id)
);
CREATE TABLE IF NOT EXISTS signals (
    account_id TEXT NOT NULL,
    key        TEXT NOT NULL,
    day        TEXT NOT NULL,    -- the day of the review that raised it
    severity   TEXT NOT NULL,
    message    TEXT NOT NULL,
    PRIMARY KEY (account_id, key, day)
);
CREATE INDEX IF NOT EXISTS signals_day ON signals (day, key);
"""
"""Version 2: deals (for the relationship graph) and the risk signals of each review (for
aggregate insights)."""

ITEM_TABLES = (
    "accounts",
    "notes",
    "activities",
    "contacts",
    "deals",
    "signals",
    "key_events",
    "commitments",
    "recommendations",
)
"""Tables holding per-account items (each has an ``account_id`` column)."""


def _script(conn: sqlite3.Connection, script: str) -> None:
    """Run the statements of ``script`` in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` one by one (a trigger's body holds semicolons of its own)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending.strip()
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"an incomplete statement in a schema script: {pending!r}")


def _v1(conn: sqlite3.Connection) -> None:
    _script(conn, _V1 + _FTS)


def _v2(conn: sqlite3.Connection) -> None:
    _script(conn, _V2)


MIGRATIONS: tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...] = ((1, _v1), (2, _v2))
"""(version, step) pairs in order; each step takes the file from ``version - 1``."""

SCHEMA_VERSION = MIGRATIONS[-1][0]


def memory_path(workspace_database: Path) -> Path:
    """Where a workspace keeps its memory: ``memory.db`` beside its ``sergas.db``."""
    return workspace_database.with_name(MEMORY_FILE_NAME)


def _corrupt(path: Path, reason: str) -> DatabaseCorruptError:
    return DatabaseCorruptError(
        f"The memory file {path} cannot be used: {reason}. Sergas left the file untouched. "
        f"Move it aside (for example rename it to {path.name}.broken) and Sergas will start "
        "with an empty memory that fills again at the next review."
    )


def _newer(path: Path, version: int) -> DatabaseVersionError:
    return DatabaseVersionError(
        f"The memory file {path} has schema version {version}, but this Sergas only knows "
        f"versions up to {SCHEMA_VERSION}: it was written by a newer Sergas. Upgrade Sergas to "
        "use it; the file was left untouched."
    )


def is_corruption(err: sqlite3.Error) -> bool:
    name = getattr(err, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def storage_error(path: Path, err: sqlite3.Error) -> StorageError:
    """The error to raise for a failed statement on the memory file."""
    if is_corruption(err):
        return _corrupt(path, str(err))
    return StorageError(f"The memory file {path} failed: {err}.", title="Memory error")


def _inspect(path: Path) -> None:
    """Check an existing non-empty file read-only: SQLite, ours, not newer, healthy."""
    # Only SQLite reads the file (an open()/close() here would cancel this process's POSIX
    # locks on it, letting another process delete the WAL under our live connections).
    try:
        uri = f"{path.absolute().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            app = int(conn.execute("PRAGMA application_id").fetchone()[0])
            tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
            if app != APPLICATION_ID and (app != 0 or version != 0 or tables):
                raise StorageError(
                    f"{path} is an SQLite database of some other program, not Sergas memory; "
                    "it was left untouched.",
                    title="Not a memory file",
                )
            if version > SCHEMA_VERSION:
                raise _newer(path, version)
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise _corrupt(path, f"the integrity check found {problems[0]!r}")
    except sqlite3.Error as err:
        if getattr(err, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise _corrupt(path, "it is not an SQLite database") from err
        raise storage_error(path, err) from err


def open_memory_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the memory file; return an autocommit connection.

    The connection may be used from other threads; its owner must serialise access.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(f"Cannot create the folder {path.parent}: {err.strerror}.") from err
    if path.exists() and path.stat().st_size > 0:
        _inspect(path)
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as err:
        raise StorageError(f"Cannot open the memory file {path}: {err}.") from err
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA secure_delete = ON")  # forgotten text is overwritten, not left
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn, path)
    except sqlite3.Error as err:
        conn.close()
        raise storage_error(path, err) from err
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise _newer(path, current)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for version, step in MIGRATIONS:
        if version > current:
            step(conn)
            conn.execute(f"PRAGMA user_version = {version}")
