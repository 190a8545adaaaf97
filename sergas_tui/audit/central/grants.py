"""Approval grants in the central PostgreSQL: the team-wide
:class:`~sergas_tui.crm.approval_gate.GrantStore`.

The deciding app publishes a grant (approval id, account, owner, decider, the exact write's
digest, the token's SHA-256, expiry); any number of our Zoho MCP servers verify and spend it.
Every state change is one compare-and-set ``UPDATE … WHERE state = …``, so a token is spent once
across every server and client, and a replayed token is refused everywhere. The table is created
by the central schema's migrations (:mod:`.schema`, version 2). Publishing again keeps a
stored ``error`` (the sign that an earlier attempt may have written).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import psycopg

from sergas_tui.audit.central.store import CentralTableStore
from sergas_tui.domain.grants import GRANT_COLUMNS, Grant


class CentralGrantStore(CentralTableStore):
    """Grants in the central database's ``approval_grants`` table (a connection per call)."""

    needs = 2
    what = "approval grants"

    def _run(self, action: str, sql: str, params: tuple[Any, ...] | list[Any]) -> int:
        conn = self._connect(action)
        try:
            with conn.transaction():
                cursor = conn.execute(sql, params)
                return cursor.rowcount
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()

    def publish_grant(self, grant: Grant) -> Grant:
        values = asdict(grant) | {"state": "granted", "claimed_at": None, "claimed_by": None}
        values |= {"record_id": None, "error": None}
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in GRANT_COLUMNS if c not in ("approval_id", "error")
        )
        self._run(
            "record an approval centrally",
            f"INSERT INTO approval_grants ({', '.join(GRANT_COLUMNS)}) "
            f"VALUES ({', '.join('%s' for _ in GRANT_COLUMNS)}) "
            f"ON CONFLICT (approval_id) DO UPDATE SET {updates} "
            "WHERE approval_grants.state = 'revoked' OR (approval_grants.state = 'granted' "
            "AND approval_grants.token_hash = excluded.token_hash)",
            [values[c] for c in GRANT_COLUMNS],
        )
        stored = self.get_grant(grant.approval_id)
        assert stored is not None, "a grant just written is readable"
        return stored

    def revoke_grant(self, approval_id: str) -> bool:
        return (
            self._run(
                "withdraw an approval centrally",
                "UPDATE approval_grants SET state = 'revoked' "
                "WHERE approval_id = %s AND state = 'granted'",
                (approval_id,),
            )
            == 1
        )

    def get_grant(self, approval_id: str) -> Grant | None:
        conn = self._connect("read an approval")
        try:
            row = conn.execute(
                f"SELECT {', '.join(GRANT_COLUMNS)} FROM approval_grants WHERE approval_id = %s",
                (approval_id,),
            ).fetchone()
        except psycopg.Error as err:
            raise self._convert(err, "read an approval") from err
        finally:
            conn.close()
        return None if row is None else Grant(**dict(zip(GRANT_COLUMNS, row, strict=True)))

    def claim_grant(
        self,
        approval_id: str,
        *,
        claimer: str,
        now: datetime,
        stale_before: datetime,
        replacing: str | None = None,
    ) -> bool:
        return (
            self._run(
                "spend an approval token",
                "UPDATE approval_grants SET state = 'claimed', claimed_at = %s, claimed_by = %s "
                "WHERE approval_id = %s AND (state = 'granted' "
                "OR (state = 'claimed' AND (claimed_at < %s OR claimed_by = %s::text)))",
                (now, claimer, approval_id, stale_before, replacing),
            )
            == 1
        )

    def settle_grant(
        self,
        approval_id: str,
        *,
        completed: bool,
        record_id: str | None,
        error: str | None,
        claimer: str | None = None,
    ) -> bool:
        return (
            self._run(
                "record a write's outcome centrally",
                "UPDATE approval_grants SET state = %s, record_id = %s, error = %s, "
                "claimed_at = CASE WHEN %s THEN claimed_at ELSE NULL END "
                "WHERE approval_id = %s AND state = 'claimed' "
                "AND (%s::text IS NULL OR claimed_by = %s::text)",
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
            == 1
        )
