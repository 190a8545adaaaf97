"""Account snapshots: the state of each account a review saw, kept only when it changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from sergas_tui.domain import Snapshot
from sergas_tui.storage import rows
from sergas_tui.storage.transactions import Transactions


class Snapshots(Transactions):
    """The ``account_snapshots`` table (a part of
    :class:`~sergas_tui.storage.repository.Repository`)."""

    def save_snapshot(
        self,
        account_id: str,
        owner_email: str,
        data: Mapping[str, Any] | BaseModel,
        run_id: str | None = None,
    ) -> bool:
        """Store the account's state unless it equals the latest one; True when stored."""
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
        digest = rows.content_hash(payload)
        with self._write("save a snapshot") as conn:
            latest = conn.execute(
                "SELECT content_hash FROM account_snapshots WHERE account_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (account_id,),
            ).fetchone()
            if latest is not None and latest["content_hash"] == digest:
                return False
            conn.execute(
                "INSERT INTO account_snapshots "
                "(account_id, owner_email, taken_at, run_id, content_hash, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    owner_email,
                    rows.ts(self._clock.now()),
                    run_id,
                    digest,
                    rows.canonical_json(payload),
                ),
            )
            return True

    def latest_snapshot(self, account_id: str) -> Snapshot | None:
        with self._read("read a snapshot") as conn:
            row = conn.execute(
                "SELECT * FROM account_snapshots WHERE account_id = ? ORDER BY id DESC LIMIT 1",
                (account_id,),
            ).fetchone()
        return None if row is None else rows.snapshot(row)

    def owner_spelling(self, owner_email: str) -> str | None:
        """How the CRM spells ``owner_email`` (any letter case) in the stored snapshots, or None
        when no snapshot has that owner: emails are compared without case, stored as Zoho
        writes them."""
        wanted = owner_email.strip().casefold()
        with self._read("read snapshot owners") as conn:
            found = conn.execute(
                "SELECT DISTINCT owner_email FROM account_snapshots WHERE owner_email = ? "
                "COLLATE NOCASE",
                (owner_email.strip(),),
            ).fetchall()
        for row in found:
            if str(row["owner_email"]).casefold() == wanted:
                return str(row["owner_email"])
        return None

    def owner_emails(self) -> list[str]:
        """Every owner the stored snapshots name, sorted (an index read, no snapshot data)."""
        with self._read("read snapshot owners") as conn:
            found = conn.execute(
                "SELECT DISTINCT owner_email FROM account_snapshots ORDER BY owner_email"
            ).fetchall()
        return [str(row["owner_email"]) for row in found]

    def latest_snapshots(self, owner_email: str | None = None) -> dict[str, Snapshot]:
        """The latest snapshot of every account (whose latest owner is ``owner_email``)."""
        sql = (
            "SELECT s.* FROM account_snapshots AS s JOIN ("
            "  SELECT account_id, max(id) AS id FROM account_snapshots GROUP BY account_id"
            ") AS latest ON s.id = latest.id"
        )
        params: tuple[str, ...] = ()
        if owner_email is not None:
            sql += " WHERE s.owner_email = ?"
            params = (owner_email,)
        with self._read("read snapshots") as conn:
            found = conn.execute(sql, params).fetchall()
        return {row["account_id"]: rows.snapshot(row) for row in found}

    def snapshots_for(self, account_id: str) -> list[Snapshot]:
        """Every stored snapshot of the account, oldest first (its data export)."""
        with self._read("read snapshots") as conn:
            found = conn.execute(
                "SELECT * FROM account_snapshots WHERE account_id = ? ORDER BY id",
                (account_id,),
            ).fetchall()
        return [rows.snapshot(row) for row in found]
