"""The workspace's audit log: appending to its hash chain, reading it, and the chain's head.

Each row is chained to the one before it (``prev_hash``/``row_hash``, see
:mod:`sergas_tui.domain.audit_chain`), and the chain's head is recorded in ``meta`` in the same
transaction as the row. :func:`insert_audit` is the one place a row is appended, used by
:class:`AuditLog` and by the stores that append an audit row inside a write of their own
(mutes, erasure, retention purges).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sergas_tui.domain import AuditEvent, new_id
from sergas_tui.domain.audit_chain import (
    GENESIS,
    HEAD_META_KEY,
    LEGACY_META_KEY,
    START_META_KEY,
    AuditHead,
    ChainStart,
    row_hash,
)
from sergas_tui.domain.redaction import redact
from sergas_tui.storage import rows
from sergas_tui.storage.transactions import Transactions


class AuditLog(Transactions):
    """The ``audit_logs`` table (a part of :class:`~sergas_tui.storage.repository.Repository`)."""

    def append_audit(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` to the audit log; returns it with its ``seq`` (1, 2, 3, ...)."""
        with self._write("append to the audit log") as conn:
            return insert_audit(conn, event)

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

    def has_audit_event(self, event_id: str) -> bool:
        """Whether an event with this id is in the log (a step that records one committed)."""
        with self._read("read the audit log") as conn:
            found = conn.execute("SELECT 1 FROM audit_logs WHERE id = ?", (event_id,)).fetchone()
        return found is not None

    def audit_rows_for(self, account_id: str) -> list[dict[str, Any]]:
        """The stored audit rows about one account, by seq, as :meth:`audit_rows` gives them."""
        with self._read("read the audit log") as conn:
            found = conn.execute(
                "SELECT * FROM audit_logs WHERE account_id = ? ORDER BY seq", (account_id,)
            ).fetchall()
        return [rows.as_dict(row) for row in found]

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


def insert_audit(conn: sqlite3.Connection, event: AuditEvent) -> AuditEvent:
    """Insert ``event`` with the next ``seq`` inside the caller's transaction, chained to the
    previous row (``prev_hash``/``row_hash``, see :mod:`sergas_tui.domain.audit_chain`), and
    move the chain's head in ``meta`` along in the same transaction.

    The chain head is read in the same write transaction, so concurrent appends stay one chain.
    The payloads are redacted again: a model built with ``model_construct`` or mutated in place
    skipped the model's own redaction.
    """
    head = _chain_head(conn)
    stored = _stored_event(event, head.seq + 1)
    values = rows.audit_values(stored)
    values["prev_hash"] = head.row_hash or GENESIS
    values["row_hash"] = digest = row_hash(values["prev_hash"], values)
    rows.insert(conn, "audit_logs", values)
    _set_chain_head(conn, AuditHead(seq=head.seq + 1, count=head.count + 1, row_hash=digest))
    return stored


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
