"""The central audit's outbox: local audit rows and outcomes not yet copied to the central
PostgreSQL (``synced_at IS NULL``), read in order and marked once the central copy committed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sergas_tui.domain.audit_chain import CONTENT_COLUMNS
from sergas_tui.storage import rows
from sergas_tui.storage.transactions import Transactions

OUTBOX_AUDIT_COLUMNS: tuple[str, ...] = (*CONTENT_COLUMNS, "prev_hash", "row_hash")
"""The ``audit_logs`` columns the central audit receives, in the order
:meth:`Repository.unsynced_audit_values` returns them."""


class CentralOutbox(Transactions):
    """What the central audit sync reads and marks (a part of
    :class:`~sergas_tui.storage.repository.Repository`)."""

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
