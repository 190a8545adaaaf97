"""A scratch, in-memory copy of some accounts' memory rows, run by the local memory's rules.

The Cognee backend keeps memory in Cognee's graph and vector stores, but the rules that turn
facts into memory (upserts, the key-event day that never moves later, decisions that a
re-recorded pending recommendation must not undo) and the rules that read it (what a
HistoricalContext holds, in what order, the sentiment trend, the insights) must be the same
for every backend: the conformance suite holds them to it. So instead of writing them twice,
each operation loads the accounts it touches from the graph into this mirror, runs the very
same :class:`~sergas_tui.memory.local.LocalMemory` code on it, and writes back what changed
(:func:`~sergas_tui.memory.cognee.points.diff`).

A node's ``seq`` is the row's rowid here, so "newest first, then last inserted first" orders
items exactly as the local file does.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

from sergas_tui.clock import Clock
from sergas_tui.memory.cognee.points import NODE_TYPES, SEARCHABLE, Row, Snapshot, row_key
from sergas_tui.memory.local import LocalMemory
from sergas_tui.memory.memory_file import MemoryFile

_KIND_TABLE = {kind: table for table, kind in SEARCHABLE.items()}


class MirrorMemory(LocalMemory):
    """LocalMemory on a private in-memory database, loaded and dumped per operation."""

    def __init__(self, *, stale_after_days: int, clock: Clock) -> None:
        super().__init__(
            Path(":memory:"), stale_after_days=stale_after_days, clock=clock, process_from=None
        )
        self._columns: dict[str, list[str]] = {}
        self._seqs: dict[str, dict[int, int]] = {}

    def _table_columns(self, conn: sqlite3.Connection, table: str) -> list[str]:
        if table not in self._columns:
            self._columns[table] = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        return self._columns[table]

    async def load(self, snapshot: Snapshot, *, keep_rowids: bool) -> None:
        """Replace the mirror's content with ``snapshot``'s rows (documents stay empty).

        With ``keep_rowids`` (one account) each row's rowid is its ``seq``; otherwise rows are
        inserted in (account, seq) order and :meth:`dump` maps rowids back to seqs.
        """

        def run(file: MemoryFile) -> None:
            self._seqs = {}
            with file.tx() as conn:
                for table in (*NODE_TYPES, "documents"):
                    conn.execute(f"DELETE FROM {table}")
                for table in NODE_TYPES:
                    columns = self._table_columns(conn, table)
                    rows = sorted(
                        snapshot.rows[table].values(),
                        key=lambda r: (str(r.get("account_id")), int(r.get("seq", 0))),
                    )
                    names = ", ".join(columns)
                    marks = ", ".join("?" for _ in columns)
                    if keep_rowids:
                        conn.executemany(
                            f"INSERT INTO {table} (rowid, {names}) VALUES (?, {marks})",
                            [(r["seq"], *(r.get(c) for c in columns)) for r in rows],
                        )
                        continue
                    mapping: dict[int, int] = {}
                    for r in rows:
                        cursor = conn.execute(
                            f"INSERT INTO {table} ({names}) VALUES ({marks})",
                            [r.get(c) for c in columns],
                        )
                        assert cursor.lastrowid is not None
                        mapping[cursor.lastrowid] = int(r.get("seq", 0))
                    self._seqs[table] = mapping

        await self._run(run)

    async def dump(self, before: Snapshot) -> Snapshot:
        """The mirror's rows now, and ``before``'s documents updated with those written since."""

        def run(file: MemoryFile) -> Snapshot:
            conn = file.conn
            result = Snapshot()
            for table in NODE_TYPES:
                mapping = self._seqs.get(table, {})
                for r in conn.execute(f"SELECT rowid AS _rowid, * FROM {table}"):
                    row: Row = dict(r)
                    rowid = int(row.pop("_rowid"))
                    row["seq"] = mapping.get(rowid, rowid)
                    result.rows[table][row_key(table, row)] = row
            docs = dict(before.docs)
            written = conn.execute(
                "SELECT account_id, kind, item_id, title, body, day FROM documents"
            )
            for aid, kind, item_id, title, body, day in written:
                docs[(kind, item_id)] = (aid, title, body, day)
            present: dict[str, set[str]] = defaultdict(set)
            for table, kind in SEARCHABLE.items():
                present[kind] = {str(r["id"]) for r in result.rows[table].values()}
            result.docs = {k: d for k, d in docs.items() if k[1] in present[k[0]]}
            result.placeholders = set(before.placeholders)
            return result

        return await self._run(run)
