"""All SQL the simulator runs against a demo org file (see :mod:`sergas_tui.demo.store`).

Nothing is loaded into memory up front: every request queries SQLite. Reads use one connection
per worker thread (the file is in WAL mode, so readers never wait for the writer); writes use
one connection behind a lock, each batch in one ``BEGIN IMMEDIATE`` transaction. The demo
file's schema is left as it is, so :class:`~sergas_tui.demo.store.DemoStore` still opens it.

Why one module: this is the one home of the SQL the simulator runs on a demo org file,
reads (:class:`OrgDb`) and writes (:class:`Writer`, inside :meth:`OrgDb.write`'s transaction)
alike. Both rely on the same conventions: the ``records`` table's JSON columns decoded by
``json_type`` (:func:`_json_value`, ``strip_hidden``), the ``sim_digits`` function every
connection registers, and the id allocation that only a write transaction may advance. Kept
together, a change to the file's layout is made and checked in one place; the endpoints (records,
related lists, writes, COQL, search) execute no statement of their own: they hand their
conditions and expressions (a :class:`Select`, or a COQL plan built with :mod:`.sqlexpr`) to
these two classes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sergas_tui.crm.simulator.sqlexpr import Sql, Value
from sergas_tui.demo.model import DemoInfo, JsonDict
from sergas_tui.demo.store import DemoStore

T = TypeVar("T")
SORT_COLUMNS = {"id": "r.id", "Created_Time": "r.created_time", "Modified_Time": "r.modified_time"}
HIDDEN_KEYS = ("$deal_id",)
_FIELD_NAME = re.compile(r"^\$?\w+$")

# (parent module, related list) -> (child module, filter); "?acct" is the parent's account.
RELATED_LISTS: dict[tuple[str, str], tuple[str, str]] = {
    ("Accounts", "Contacts"): ("Contacts", "r.account_id = :id"),
    ("Accounts", "Deals"): ("Deals", "r.account_id = :id"),
    # Like Zoho's, an account's activities include those on its deals (account_id rolls up).
    ("Accounts", "Tasks"): ("Tasks", "r.account_id = :id"),
    ("Accounts", "Events"): ("Events", "r.account_id = :id"),
    ("Accounts", "Calls"): ("Calls", "r.account_id = :id"),
    ("Accounts", "Notes"): (
        "Notes",
        "r.account_id = :id AND json_extract(r.data, '$.Parent_Id.id') = :id",
    ),
    ("Deals", "Stage_History"): (
        "Stage_History",
        "r.account_id IS :acct AND json_extract(r.data, '$.\"$deal_id\"') = :id",
    ),
    ("Deals", "Contacts"): ("Contacts", "r.id = :contact"),
    ("Contacts", "Deals"): (
        "Deals",
        "r.account_id IS :acct AND json_extract(r.data, '$.Contact_Name.id') = :id",
    ),
}
for _activity in ("Tasks", "Events", "Calls"):
    RELATED_LISTS[("Deals", _activity)] = (
        _activity,
        "r.account_id IS :acct AND json_extract(r.data, '$.What_Id.id') = :id",
    )
    RELATED_LISTS[("Contacts", _activity)] = (
        _activity,
        "r.account_id IS :acct AND json_extract(r.data, '$.Who_Id.id') = :id",
    )
for _parent in ("Deals", "Contacts"):
    RELATED_LISTS[(_parent, "Notes")] = (
        "Notes",
        "r.account_id IS :acct AND json_extract(r.data, '$.Parent_Id.id') = :id",
    )


def _digits(value: object) -> str | None:
    return None if value is None else re.sub(r"\D", "", str(value))


def strip_hidden(record: JsonDict) -> JsonDict:
    for key in HIDDEN_KEYS:
        record.pop(key, None)
    return record


def modified_after(moment_utc: str) -> Sql:
    return Sql("r.modified_time > ?", (moment_utc,))


def ids_in(ids: Sequence[str]) -> Sql:
    return Sql(f"r.id IN ({', '.join('?' * len(ids))})", tuple(ids))


def related_filter(parent_module: str, list_name: str, parent: ParentRow) -> tuple[str, Sql]:
    """The child module and SQL filter of a related list (KeyError when there is none)."""
    child, template = RELATED_LISTS[(parent_module, list_name)]
    contact = (parent.data.get("Contact_Name") or {}).get("id")
    values: dict[str, Value] = {"id": parent.id, "acct": parent.account_id, "contact": contact}
    params: list[Value] = []

    def bind(match: re.Match[str]) -> str:
        params.append(values[match.group(1)])
        return "?"

    return child, Sql(re.sub(r":(\w+)", bind, template), tuple(params))


@dataclass(frozen=True)
class ParentRow:
    id: str
    account_id: str | None
    data: JsonDict


@dataclass(frozen=True)
class Select:
    """One page of a module: filters, projection, order and window."""

    module: str
    where: tuple[Sql, ...] = ()
    fields: tuple[str, ...] | None = None
    sort: str = "id"
    descending: bool = True
    after: tuple[str, str] | None = None
    limit: int = 200
    offset: int = 0


@dataclass(frozen=True)
class Row:
    id: str
    sort_value: str
    record: JsonDict


class OrgDb:
    """The demo org file, queried per request."""

    def __init__(self, path: Path) -> None:
        with DemoStore.open(path) as store:
            self.info: DemoInfo = store.meta()
        self.path = Path(path)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        (max_id,) = self._writer.execute("SELECT max(CAST(id AS INTEGER)) FROM records").fetchone()
        self._last_id = int(max_id or 0)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.create_function("sim_digits", 1, _digits, deterministic=True)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            self._writer.close()

    # -- reads --------------------------------------------------------------------------------

    def record(self, module: str, record_id: str) -> JsonDict | None:
        row = (
            self._reader()
            .execute("SELECT data FROM records WHERE module = ? AND id = ?", (module, record_id))
            .fetchone()
        )
        return None if row is None else strip_hidden(json.loads(row[0]))

    def parent(self, module: str, record_id: str) -> ParentRow | None:
        row = (
            self._reader()
            .execute(
                "SELECT account_id, data FROM records WHERE module = ? AND id = ?",
                (module, record_id),
            )
            .fetchone()
        )
        return None if row is None else ParentRow(record_id, row[0], json.loads(row[1]))

    def select(self, sel: Select) -> list[Row]:
        """Rows of ``sel``: full records, or only ``sel.fields`` (absent fields left out)."""
        column = SORT_COLUMNS[sel.sort]
        direction = "DESC" if sel.descending else "ASC"
        clauses = ["r.module = ?", *(f"({w.text})" for w in sel.where)]
        params: list[Value] = [sel.module, *(p for w in sel.where for p in w.params)]
        if sel.after is not None:
            mark = "<" if sel.descending else ">"
            if sel.sort == "id":
                clauses.append(f"r.id {mark} ?")
                params.append(sel.after[1])
            else:
                clauses.append(f"({column} {mark} ? OR ({column} = ? AND r.id {mark} ?))")
                params += [sel.after[0], sel.after[0], sel.after[1]]
        if sel.fields is None:
            projection = "r.data"
            names: list[str] = []
        else:
            names = [n for n in sel.fields if _FIELD_NAME.match(n) and n not in HIDDEN_KEYS]
            projection = ", ".join(
                ["NULL"]
                + [
                    f"json_type(r.data, '$.\"{n}\"'), json_extract(r.data, '$.\"{n}\"')"
                    for n in names
                ]
            )
        order = f"{column} {direction}" + ("" if sel.sort == "id" else f", r.id {direction}")
        sql = (
            f"SELECT r.id, {column}, {projection} FROM records r WHERE {' AND '.join(clauses)} "
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )
        rows = self._reader().execute(sql, (*params, sel.limit, sel.offset)).fetchall()
        out: list[Row] = []
        for record_id, sort_value, *values in rows:
            if sel.fields is None:
                record = strip_hidden(json.loads(values[0]))
            else:
                record = {"id": record_id}
                for index, name in enumerate(names):
                    kind, value = values[1 + 2 * index], values[2 + 2 * index]
                    if kind is not None:
                        record[name] = _json_value(kind, value)
            out.append(Row(record_id, sort_value, record))
        return out

    def query(
        self,
        module: str,
        columns: Sequence[str],
        where: Sql | None,
        order: Sequence[str],
        limit: int,
        offset: int,
        *,
        group: Sequence[str] = (),
    ) -> list[tuple[Value, ...]]:
        """A COQL plan: ``columns`` (plain or aggregate), ``group`` and ``order`` are SQL
        expressions over alias ``r``; an empty ``order`` leaves the order to SQLite."""
        sql = f"SELECT {', '.join(columns)} FROM records r WHERE r.module = ?"
        params: list[Value] = [module]
        if where is not None:
            sql += f" AND ({where.text})"
            params += where.params
        if group:
            sql += f" GROUP BY {', '.join(group)}"
        if order:
            sql += f" ORDER BY {', '.join(order)}"
        sql += " LIMIT ? OFFSET ?"
        return [tuple(row) for row in self._reader().execute(sql, (*params, limit, offset))]

    def users(self, kind: str, limit: int, offset: int) -> list[JsonDict]:
        filters = {
            "ActiveUsers": "json_extract(data, '$.status') = 'active'",
            "DeactiveUsers": "json_extract(data, '$.status') != 'active'",
            "ConfirmedUsers": "json_extract(data, '$.confirm') = 1",
            "NotConfirmedUsers": "json_extract(data, '$.confirm') = 0",
            "AdminUsers": "json_extract(data, '$.profile.name') = 'Administrator'",
        }
        where = f" AND {filters[kind]}" if kind in filters else ""
        sql = (
            f"SELECT data FROM records WHERE module = 'Users'{where} "
            "ORDER BY rowid LIMIT ? OFFSET ?"
        )
        return [json.loads(d) for (d,) in self._reader().execute(sql, (limit, offset))]

    def timeline(
        self,
        module: str,
        record_id: str,
        descending: bool,
        after: tuple[str, str] | None,
        limit: int,
        offset: int = 0,
    ) -> list[tuple[int, str, JsonDict]]:
        direction, mark = ("DESC", "<") if descending else ("ASC", ">")
        sql = "SELECT rowid, audited_time, entry FROM timeline WHERE module = ? AND record_id = ?"
        params: list[Value] = [module, record_id]
        if after is not None:
            sql += f" AND (audited_time {mark} ? OR (audited_time = ? AND rowid {mark} ?))"
            params += [after[0], after[0], int(after[1])]
        sql += f" ORDER BY audited_time {direction}, rowid {direction} LIMIT ? OFFSET ?"
        rows = self._reader().execute(sql, (*params, limit, offset))
        return [(rowid, audited, json.loads(entry)) for rowid, audited, entry in rows]

    # -- writes -------------------------------------------------------------------------------

    def write(self, work: Callable[[Writer], T]) -> T:
        """Run ``work`` in one serialised transaction (rolled back if it raises)."""
        with self._write_lock, self._transaction() as conn:
            return work(Writer(self, conn))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def next_id(self, conn: sqlite3.Connection) -> str:
        """A new 19-digit record id, above every id in the file. Call inside a write
        transaction (``BEGIN IMMEDIATE`` holds other processes' writers off): the file's
        highest id is read again, since another process serving the same demo org (the app
        and a CLI command at once) may have created records since."""
        (max_id,) = conn.execute("SELECT max(CAST(id AS INTEGER)) FROM records").fetchone()
        self._last_id = max(self._last_id, int(max_id or 0)) + 1
        return str(self._last_id)


# The meta key holding the highest record id ever deleted, so a later write (maybe by another
# process that reopened the file) never reuses it: Zoho never hands out an id twice.
ID_FLOOR_KEY = "simulator_deleted_id_floor"
# Keys whose value is a ``{name, id}`` copy of another record (renames are copied into them).
REFERENCE_KEYS = (
    "Account_Name",
    "Contact_Name",
    "Parent_Account",
    "Parent_Id",
    "What_Id",
    "Who_Id",
)


class Writer:
    """Statements available inside :meth:`OrgDb.write`."""

    def __init__(self, db: OrgDb, conn: sqlite3.Connection) -> None:
        self._db = db
        self._conn = conn

    def next_id(self) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (ID_FLOOR_KEY,)).fetchone()
        if row is not None and str(row[0]).isdigit():
            self._db._last_id = max(self._db._last_id, int(row[0]))
        return self._db.next_id(self._conn)

    def row(self, module: str, record_id: str) -> ParentRow | None:
        row = self._conn.execute(
            "SELECT account_id, data FROM records WHERE module = ? AND id = ?", (module, record_id)
        ).fetchone()
        return None if row is None else ParentRow(record_id, row[0], json.loads(row[1]))

    def rows_where(self, module: str, path: str, value: str) -> list[ParentRow]:
        """Rows of ``module`` whose JSON value at ``path`` (a constant such as
        ``$.Parent_Id.id``) equals ``value``, oldest id first."""
        rows = self._conn.execute(
            "SELECT id, account_id, data FROM records WHERE module = ? "
            f"AND json_extract(data, '{path}') = ? ORDER BY CAST(id AS INTEGER)",
            (module, value),
        )
        return [ParentRow(rid, acct, json.loads(data)) for rid, acct, data in rows]

    def find_equal(
        self, module: str, field: str, value: str, exclude: str | None
    ) -> ParentRow | None:
        """The oldest record of ``module`` (other than ``exclude``) whose text ``field`` equals
        ``value`` ignoring case, as Zoho's duplicate check compares."""
        if not _FIELD_NAME.match(field):
            raise ValueError(f"bad field name {field!r}")
        row = self._conn.execute(
            "SELECT id, account_id, data FROM records WHERE module = ? AND id IS NOT ? "
            f"AND lower(json_extract(data, '$.\"{field}\"')) = lower(?) "
            "ORDER BY CAST(id AS INTEGER) LIMIT 1",
            (module, exclude, value),
        ).fetchone()
        return None if row is None else ParentRow(row[0], row[1], json.loads(row[2]))

    def insert(
        self, module: str, data: JsonDict, account_id: str | None, owner_id: str | None = None
    ) -> None:
        owner = owner_id or (data.get("Owner") or {}).get("id")
        self._conn.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                module,
                data["id"],
                account_id,
                owner,
                data.get("Created_Time") or data["Modified_Time"],
                data["Modified_Time"],
                _dumps(data),
            ),
        )

    def replace(self, module: str, data: JsonDict) -> None:
        owner = (data.get("Owner") or {}).get("id")
        self._conn.execute(
            "UPDATE records SET data = ?, modified_time = ?, owner_id = ? "
            "WHERE module = ? AND id = ?",
            (_dumps(data), data["Modified_Time"], owner, module, data["id"]),
        )

    def set_account(self, module: str, record_id: str, account_id: str | None) -> None:
        """Move a record to another account (the column related lists filter on)."""
        self._conn.execute(
            "UPDATE records SET account_id = ? WHERE module = ? AND id = ?",
            (account_id, module, record_id),
        )

    def set_field(self, module: str, record_id: str, name: str, value: Any) -> None:
        """Set one field without touching ``Modified_Time`` (e.g. ``Last_Activity_Time``)."""
        self._conn.execute(
            f"UPDATE records SET data = json_set(data, '$.{name}', ?) WHERE module = ? AND id = ?",
            (value, module, record_id),
        )

    def rename(self, record_id: str, name: str | None) -> None:
        """Copy a record's new name into every lookup that points at it."""
        for key in REFERENCE_KEYS:
            self._conn.execute(
                f"UPDATE records SET data = json_set(data, '$.\"{key}\".name', ?) "
                f"WHERE json_extract(data, '$.\"{key}\".id') = ?",
                (name, record_id),
            )

    def delete(self, module: str, record_id: str) -> None:
        """Remove a record and its ``__timeline``; its id is never handed out again."""
        self._conn.execute("DELETE FROM records WHERE module = ? AND id = ?", (module, record_id))
        self._conn.execute(
            "DELETE FROM timeline WHERE module = ? AND record_id = ?", (module, record_id)
        )
        self._conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
            "CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
            (ID_FLOOR_KEY, record_id),
        )

    def add_timeline(self, module: str, record_id: str, entry: JsonDict) -> None:
        self._conn.execute(
            "INSERT INTO timeline VALUES (?, ?, ?, ?)",
            (module, record_id, entry["audited_time"], _dumps(entry)),
        )


def _json_value(kind: str, value: Any) -> Any:
    """A ``json_extract`` result back as the JSON value ``json_type`` says it was."""
    if kind in ("object", "array"):
        return json.loads(value)
    if kind in ("true", "false"):
        return kind == "true"
    return None if kind == "null" else value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


__all__ = [
    "ID_FLOOR_KEY",
    "REFERENCE_KEYS",
    "RELATED_LISTS",
    "OrgDb",
    "ParentRow",
    "Row",
    "Select",
    "Writer",
    "ids_in",
    "modified_after",
    "related_filter",
    "strip_hidden",
]
