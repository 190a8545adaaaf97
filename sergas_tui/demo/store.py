"""``DemoStore``: the repository over one demo org SQLite file.

The file holds what the Zoho simulator serves: full Zoho JSON records (``records``), their
``__timeline`` entries (``timeline``), the scenario catalogue (``scenarios``) and how the org
was generated (``meta``). Records are returned as the stored Zoho dicts, unchanged.

Stage_History rows belong to a deal through the ``$deal_id`` meta key (a ``$`` key, like
Zoho's own ``$editable``, so a simulator can strip it); their ``account_id`` column is the
deal's account and ``owner_id`` the deal's owner.

Creating is atomic: the whole org is written to a temporary file in the target directory and
renamed over the target, so a crash never leaves half a workspace. Opening never writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sergas_tui.demo.model import (
    FORMAT_VERSION,
    MODULES,
    DemoInfo,
    DemoOrg,
    JsonDict,
    Scenario,
)
from sergas_tui.errors import DatabaseCorruptError, DatabaseVersionError, WorkspaceError

TABLES: tuple[str, ...] = ("meta", "records", "timeline", "scenarios")

_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS records(
        module TEXT NOT NULL,
        id TEXT NOT NULL,
        account_id TEXT,
        owner_id TEXT,
        created_time TEXT NOT NULL,
        modified_time TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY(module, id))""",
    """CREATE TABLE IF NOT EXISTS timeline(
        module TEXT NOT NULL,
        record_id TEXT NOT NULL,
        audited_time TEXT NOT NULL,
        entry TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS scenarios(
        key TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        expected_signals TEXT NOT NULL)""",
)
_INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS records_account ON records(module, account_id)",
    # A related list (a deal's stage history, a contact's deals...) is one account's rows in id
    # order: without this index SQLite walked the whole module in id order instead, so every
    # related-list call of a review cost time in proportion to the org (quadratic in a review).
    "CREATE INDEX IF NOT EXISTS records_account_id ON records(module, account_id, id)",
    "CREATE INDEX IF NOT EXISTS records_owner ON records(module, owner_id)",
    "CREATE INDEX IF NOT EXISTS records_modified ON records(module, modified_time)",
    "CREATE INDEX IF NOT EXISTS timeline_record ON timeline(module, record_id)",
)

_REGENERATE = "Run `sergas demo generate` to create a fresh demo workspace."


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _meta_items(info: DemoInfo) -> list[tuple[str, str]]:
    return [
        ("format_version", str(FORMAT_VERSION)),
        ("seed", str(info.seed)),
        ("accounts", str(info.accounts)),
        ("owners", str(info.owners)),
        ("anchor", info.anchor.isoformat()),
        ("current_user_id", info.current_user_id),
        ("current_user_email", info.current_user_email),
        ("generated_at", info.generated_at.isoformat()),
    ]


def _write(path: Path, org: DemoOrg) -> None:
    """Write ``org`` into the (new, empty) database at ``path`` in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # The file is private until renamed, so skip journalling while loading it.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany("INSERT INTO meta VALUES (?, ?)", _meta_items(org.info))
        conn.executemany(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    r.module,
                    r.id,
                    r.account_id,
                    r.owner_id,
                    r.created_time,
                    r.modified_time,
                    _dumps(r.data),
                )
                for r in org.records
            ),
        )
        conn.executemany(
            "INSERT INTO timeline VALUES (?, ?, ?, ?)",
            ((t.module, t.record_id, t.audited_time, _dumps(t.entry)) for t in org.timeline),
        )
        conn.executemany(
            "INSERT INTO scenarios VALUES (?, ?, ?, ?, ?)",
            (
                (s.key, s.account_id, s.title, s.description, _dumps(list(s.expected_signals)))
                for s in org.scenarios
            ),
        )
        for statement in _INDEXES:
            conn.execute(statement)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _sidecars(path: Path) -> tuple[Path, Path, Path]:
    return (
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
        path.with_name(path.name + "-journal"),
    )


class DemoStore:
    """Read access to a generated demo org; create one with :meth:`create`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        """Use :meth:`open` or :meth:`create`; this wraps an already validated connection."""
        self.path = path
        self._conn = conn

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, org: DemoOrg) -> DemoStore:
        """Write ``org`` to ``path`` atomically (replacing any file there) and open it."""
        cls.write(path, org)
        return cls.open(path)

    @staticmethod
    def write(path: Path, org: DemoOrg) -> None:
        """Write ``org`` to ``path`` atomically, replacing any file there, without opening it.

        The org goes to a temporary file in the same directory, which is then renamed over
        ``path``: readers see either the old file or the complete new one, never a mix.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
        temp = Path(name)
        try:
            _write(temp, org)
            # A stale WAL next to the target must not be replayed into the new file.
            _remove_quietly(*_sidecars(path))
            os.replace(temp, path)
        except BaseException:
            _remove_quietly(temp, *_sidecars(temp))
            raise
        if hasattr(os, "O_DIRECTORY"):
            directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    @classmethod
    def open(cls, path: Path) -> DemoStore:
        """Open an existing demo org read-only, checking it is one; never writes to it."""
        path = Path(path)
        if not path.exists():
            raise WorkspaceError(f"There is no demo CRM data at {path}. {_REGENERATE}")
        if not path.is_file():
            raise WorkspaceError(f"{path} is not a file, so it cannot hold demo CRM data.")
        # The file is checked through SQLite only: reading it with open()/close() here would
        # cancel every POSIX lock this process holds on it (a close() drops all of them), and
        # another process would then take itself for the last user and delete the WAL from
        # under our connections ("database disk image is malformed").
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise DatabaseCorruptError(f"Cannot open {path}: {err}. {_REGENERATE}") from err
        store = cls(path, conn)
        try:
            store._validate()
        except BaseException:
            conn.close()
            raise
        return store

    def _validate(self) -> None:
        try:
            rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            present = {name for (name,) in rows}
            missing = [t for t in TABLES if t not in present]
            if missing:
                raise DatabaseCorruptError(
                    f"{self.path} is not Sergas demo CRM data (missing tables: "
                    f"{', '.join(missing)}). {_REGENERATE}"
                )
            version = self._meta_values().get("format_version")
        except sqlite3.DatabaseError as err:
            if getattr(err, "sqlite_errorname", "") == "SQLITE_CANTOPEN":
                raise WorkspaceError(
                    f"Cannot read the demo CRM data at {self.path}: {err}."
                ) from err
            if getattr(err, "sqlite_errorname", "") == "SQLITE_NOTADB":
                raise DatabaseCorruptError(
                    f"{self.path} is not a SQLite database, so it is not Sergas demo CRM data. "
                    "Move it aside and run `sergas demo generate` to create a fresh demo "
                    "workspace."
                ) from err
            raise DatabaseCorruptError(f"{self.path} is damaged: {err}. {_REGENERATE}") from err
        if version is None or not version.isdigit():
            raise DatabaseCorruptError(f"{self.path} has no format version. {_REGENERATE}")
        if int(version) > FORMAT_VERSION:
            raise DatabaseVersionError(
                f"{self.path} was written by a newer Sergas (format {version}, this version "
                f"reads {FORMAT_VERSION}). Upgrade Sergas or regenerate the demo."
            )

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- queries --------------------------------------------------------------------------

    def _meta_values(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta"))

    def _json(self, sql: str, params: Iterable[Any] = ()) -> list[JsonDict]:
        return [json.loads(data) for (data,) in self._conn.execute(sql, tuple(params))]

    @staticmethod
    def _check_module(module: str) -> None:
        if module not in MODULES:
            raise ValueError(f"unknown module {module!r}; expected one of {', '.join(MODULES)}")

    def meta(self) -> DemoInfo:
        """How this org was generated and who the local user is."""
        values = self._meta_values()
        return DemoInfo(
            seed=int(values["seed"]),
            accounts=int(values["accounts"]),
            owners=int(values["owners"]),
            anchor=datetime.fromisoformat(values["anchor"]),
            current_user_id=values["current_user_id"],
            current_user_email=values["current_user_email"],
            generated_at=datetime.fromisoformat(values["generated_at"]),
        )

    def users(self) -> list[JsonDict]:
        """Every CRM user, the local user first."""
        return self._json("SELECT data FROM records WHERE module = 'Users' ORDER BY rowid")

    def current_user(self) -> JsonDict:
        """The local user's Users record."""
        user = self.record("Users", self.meta().current_user_id)
        if user is None:
            raise DatabaseCorruptError(f"{self.path} lacks its current user. {_REGENERATE}")
        return user

    def accounts(self, owner_id: str | None = None) -> list[JsonDict]:
        """Accounts ordered by name, optionally only those owned by ``owner_id``."""
        sql = "SELECT data FROM records WHERE module = 'Accounts'"
        params: list[str] = []
        if owner_id is not None:
            sql += " AND owner_id = ?"
            params.append(owner_id)
        sql += " ORDER BY json_extract(data, '$.Account_Name'), id"
        return self._json(sql, params)

    def account(self, account_id: str) -> JsonDict | None:
        """One account by id, or None."""
        return self.record("Accounts", account_id)

    def record(self, module: str, record_id: str) -> JsonDict | None:
        """One record of ``module`` by id, or None."""
        self._check_module(module)
        rows = self._json(
            "SELECT data FROM records WHERE module = ? AND id = ?", (module, record_id)
        )
        return rows[0] if rows else None

    def related(self, module: str, account_id: str) -> list[JsonDict]:
        """Records of ``module`` belonging to an account, directly or through its deals.

        Ordered by creation time. For Notes, Tasks, Events and Calls this includes those
        attached to the account's deals; check ``Parent_Id``/``What_Id`` to tell them apart.
        """
        self._check_module(module)
        return self._json(
            "SELECT data FROM records WHERE module = ? AND account_id = ? "
            "ORDER BY created_time, id",
            (module, account_id),
        )

    def stage_history(self, deal_id: str) -> list[JsonDict]:
        """A deal's Stage_History rows, oldest first (empty for an unknown deal)."""
        row = self._conn.execute(
            "SELECT account_id FROM records WHERE module = 'Deals' AND id = ?", (deal_id,)
        ).fetchone()
        if row is None:
            return []
        rows = self.related("Stage_History", row[0])
        return sorted(
            (r for r in rows if r.get("$deal_id") == deal_id), key=lambda r: r["Modified_Time"]
        )

    def records(self, module: str) -> Iterator[JsonDict]:
        """Every record of ``module`` in generation order, streamed."""
        self._check_module(module)
        cursor = self._conn.execute(
            "SELECT data FROM records WHERE module = ? ORDER BY rowid", (module,)
        )
        for (data,) in cursor:
            yield json.loads(data)

    def timeline(self, module: str, record_id: str) -> list[JsonDict]:
        """A record's ``__timeline`` entries, oldest first."""
        return self._json(
            "SELECT entry FROM timeline WHERE module = ? AND record_id = ? "
            "ORDER BY audited_time, rowid",
            (module, record_id),
        )

    def scenarios(self) -> list[Scenario]:
        """The scenario and hostile-content accounts, in generation order."""
        rows = self._conn.execute(
            "SELECT key, account_id, title, description, expected_signals FROM scenarios "
            "ORDER BY rowid"
        )
        return [
            Scenario(key, account_id, title, description, tuple(json.loads(signals)))
            for key, account_id, title, description, signals in rows
        ]

    def counts(self) -> dict[str, int]:
        """Number of records per module (every module listed, zero included)."""
        counts = dict.fromkeys(MODULES, 0)
        for module, count in self._conn.execute(
            "SELECT module, COUNT(*) FROM records GROUP BY module"
        ):
            counts[module] = count
        return counts

    def timeline_count(self) -> int:
        """Number of timeline entries across all records."""
        (count,) = self._conn.execute("SELECT COUNT(*) FROM timeline").fetchone()
        return int(count)
