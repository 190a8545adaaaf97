"""Approval grants in the workspace database: the :class:`~sergas_tui.crm.approval_gate.GrantStore`
our Zoho MCP server uses when no central PostgreSQL is configured (one machine, one server).

Every state change is a compare-and-set ``UPDATE … WHERE state = …`` inside one ``BEGIN
IMMEDIATE`` transaction, so two processes serving the same workspace cannot both spend a grant.
Publishing again keeps a stored ``error`` (the sign that an earlier attempt may have written).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sergas_tui.domain.grants import GRANT_COLUMNS, Grant
from sergas_tui.storage.repository import Repository

_TIMES = ("expires_at", "issued_at", "claimed_at")


def _stored(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _grant(row: sqlite3.Row) -> Grant:
    values: dict[str, Any] = {name: row[name] for name in GRANT_COLUMNS}
    for name in _TIMES:
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name])
    return Grant(**values)


class LocalGrantStore:
    """Grants in the ``approval_grants`` table of one workspace database."""

    def __init__(self, repository: Repository) -> None:
        self._repo = repository

    def publish_grant(self, grant: Grant) -> Grant:
        values = {name: _stored(value) for name, value in asdict(grant).items()}
        values |= {"state": "granted", "claimed_at": None, "claimed_by": None}
        values |= {"record_id": None, "error": None}
        updates = ", ".join(
            f"{name} = excluded.{name}"
            for name in GRANT_COLUMNS
            if name not in ("approval_id", "error")
        )
        with self._repo.writing("record an approval grant") as conn:
            conn.execute(
                f"INSERT INTO approval_grants ({', '.join(GRANT_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in GRANT_COLUMNS)}) "
                f"ON CONFLICT (approval_id) DO UPDATE SET {updates} "
                "WHERE approval_grants.state = 'revoked' OR (approval_grants.state = 'granted' "
                "AND approval_grants.token_hash = excluded.token_hash)",
                [values[name] for name in GRANT_COLUMNS],
            )
            row = conn.execute(
                "SELECT * FROM approval_grants WHERE approval_id = ?", (grant.approval_id,)
            ).fetchone()
        return _grant(row)

    def revoke_grant(self, approval_id: str) -> bool:
        with self._repo.writing("withdraw an approval grant") as conn:
            cursor = conn.execute(
                "UPDATE approval_grants SET state = 'revoked' "
                "WHERE approval_id = ? AND state = 'granted'",
                (approval_id,),
            )
        return cursor.rowcount == 1

    def get_grant(self, approval_id: str) -> Grant | None:
        with self._repo.reading("read an approval grant") as conn:
            row = conn.execute(
                "SELECT * FROM approval_grants WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        return None if row is None else _grant(row)

    def claim_grant(
        self,
        approval_id: str,
        *,
        claimer: str,
        now: datetime,
        stale_before: datetime,
        replacing: str | None = None,
    ) -> bool:
        with self._repo.writing("claim an approval grant") as conn:
            cursor = conn.execute(
                "UPDATE approval_grants SET state = 'claimed', claimed_at = ?, claimed_by = ? "
                "WHERE approval_id = ? AND (state = 'granted' "
                "OR (state = 'claimed' AND (claimed_at < ? OR claimed_by = ?)))",
                (now.isoformat(), claimer, approval_id, stale_before.isoformat(), replacing),
            )
        return cursor.rowcount == 1

    def settle_grant(
        self,
        approval_id: str,
        *,
        completed: bool,
        record_id: str | None,
        error: str | None,
        claimer: str | None = None,
    ) -> bool:
        with self._repo.writing("settle an approval grant") as conn:
            cursor = conn.execute(
                "UPDATE approval_grants SET state = ?, record_id = ?, error = ?, "
                "claimed_at = CASE WHEN ? THEN claimed_at ELSE NULL END "
                "WHERE approval_id = ? AND state = 'claimed' "
                "AND (? IS NULL OR claimed_by = ?)",
                (
                    "completed" if completed else "granted",
                    record_id,
                    error,
                    completed,
                    approval_id,
                    claimer,
                    claimer,
                ),
            )
        return cursor.rowcount == 1
