"""Approvals: a recommendation landing in its owner's queue, the decisions on it, and the
queries the queue, the review and short ids need.

Every decision is a compare-and-set on the stored status with its audit row in the same
transaction (:func:`~sergas_tui.storage.audit_log.insert_audit`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sergas_tui.domain import (
    Approval,
    ApprovalStatus,
    AuditEvent,
    Recommendation,
    can_transition,
)
from sergas_tui.storage import rows
from sergas_tui.storage.audit_log import insert_audit
from sergas_tui.storage.transactions import Transactions

_IN_CHUNK = 500
"""Ids per ``IN (...)`` list (SQLite allows 32,766 parameters; smaller lists keep plans cheap)."""


@dataclass
class ReviewInputs:
    """What :meth:`Repository.review_inputs` read for a review's accounts."""

    approvals: dict[str, list[Approval]] = field(default_factory=dict)
    """Account id → its approvals, oldest first."""
    queued: dict[str, list[Recommendation]] = field(default_factory=dict)
    """Account id → its queued recommendations, best expected value first."""
    outcomes_due: set[str] = field(default_factory=set)
    """Accounts with executed recommendations whose outcome is not judged yet."""


def _pending(select: str, owner_email: str | None) -> tuple[str, tuple[str, ...]]:
    """The query for pending approvals, optionally of one owner."""
    sql = f"{select} FROM approvals WHERE status = 'pending'"
    if owner_email is None:
        return sql, ()
    return sql + f" AND {OWNER_IS}", (owner_email,)


OWNER_IS = "owner_email = ? COLLATE NOCASE"
"""An owner's rows whatever the case of the e-mail (team roles keep e-mails in lower case, the
CRM as its users typed them)."""


class Approvals(Transactions):
    """The ``approvals`` table (a part of :class:`~sergas_tui.storage.repository.Repository`)."""

    def land_recommendation(self, approval: Approval, audit: AuditEvent | None = None) -> bool:
        """Put a recommendation into its owner's queue: its approval is added (if not there
        yet), the recommendation moves from ``queued`` to ``pending``, and ``audit`` is
        appended, all in one transaction. Returns False when the approval already existed."""
        values = rows.approval_values(approval)
        with self._write("land a recommendation") as conn:
            exists = conn.execute("SELECT 1 FROM approvals WHERE id = ?", (approval.id,)).fetchone()
            if exists is None:
                rows.insert(conn, "approvals", values)
            conn.execute(
                "UPDATE recommendations SET status = 'pending', "
                "payload = json_set(payload, '$.status', 'pending') "
                "WHERE id = ? AND status = 'queued'",
                (approval.recommendation_id,),
            )
            if exists is None and audit is not None:
                insert_audit(conn, audit)
            return exists is None

    def approvals_created_since(self, owner_email: str, since: datetime) -> int:
        """How many approvals of ``owner_email`` were created at or after ``since`` (what has
        landed in the owner's queue today)."""
        with self._read("count approvals") as conn:
            row = conn.execute(
                "SELECT count(*) FROM approvals WHERE owner_email = ? AND created_at >= ?",
                (owner_email, rows.ts(since)),
            ).fetchone()
        return int(row[0])

    def add_approval(self, approval: Approval) -> None:
        values = rows.approval_values(approval)
        with self._write("add an approval") as conn:
            rows.insert(conn, "approvals", values)

    def update_approval(
        self,
        approval: Approval,
        *,
        expected_status: ApprovalStatus,
        audit: AuditEvent | None = None,
    ) -> bool:
        """Store ``approval`` if the stored one is still ``expected_status`` (compare-and-set).

        Returns False when someone else moved it first. Raises ``ValueError`` for a move that
        :func:`can_transition` forbids. ``audit`` is appended in the same transaction, so a
        decision is never stored without its audit row (nor the row without the decision).
        """
        if not can_transition(expected_status, approval.status):
            raise ValueError(f"an approval cannot go from {expected_status} to {approval.status}")
        return self._set_approval(approval, expected_status, audit, "update an approval")

    def mirror_approval(
        self, approval: Approval, *, expected_status: ApprovalStatus, audit: AuditEvent
    ) -> bool:
        """Team mode: take the state the central records hold for ``approval`` (moved on
        another device, so possibly several steps at once: no transition check), if the stored
        one is still ``expected_status``; ``audit`` in the same transaction. False when it
        moved here."""
        return self._set_approval(
            approval, expected_status, audit, "take an approval's state from the team"
        )

    def _set_approval(
        self,
        approval: Approval,
        expected_status: ApprovalStatus,
        audit: AuditEvent | None,
        action: str,
    ) -> bool:
        """The compare-and-set both moves share: store ``approval`` while the stored one is
        ``expected_status``, with ``audit`` in the same transaction."""
        values = rows.approval_values(approval)
        del values["id"]
        with self._write(action) as conn:
            cursor = conn.execute(
                f"UPDATE approvals SET {', '.join(f'{c} = ?' for c in values)} "
                "WHERE id = ? AND status = ?",
                (*values.values(), approval.id, str(expected_status)),
            )
            if cursor.rowcount != 1:
                return False
            if audit is not None:
                insert_audit(conn, audit)
            return True

    def get_approval(self, approval_id: str) -> Approval | None:
        with self._read("read an approval") as conn:
            row = conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        return None if row is None else rows.approval(row)

    def approvals_for(self, account_id: str) -> list[Approval]:
        """Every approval of an account, oldest first (the Author's memory of decisions)."""
        with self._read("read approvals") as conn:
            found = conn.execute(
                "SELECT * FROM approvals WHERE account_id = ? ORDER BY created_at, rowid",
                (account_id,),
            ).fetchall()
        return [rows.approval(row) for row in found]

    def review_inputs(self, account_ids: Iterable[str]) -> ReviewInputs:
        """What a review reads per account, for many accounts in one go (one hop instead of
        several per account): each account's approvals (as :meth:`approvals_for`), its queued
        recommendations (as ``queued_recommendations(account_id=...)``) and whether it has
        executed outcomes waiting for a verdict."""
        ids = list(dict.fromkeys(account_ids))
        inputs = ReviewInputs()
        with self._read("read what a review needs") as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                for row in conn.execute(
                    f"SELECT * FROM approvals WHERE account_id IN ({marks}) "
                    "ORDER BY created_at, rowid",
                    chunk,
                ):
                    inputs.approvals.setdefault(row["account_id"], []).append(rows.approval(row))
                for row in conn.execute(
                    "SELECT account_id, payload FROM recommendations "
                    f"WHERE status = 'queued' AND account_id IN ({marks}) "
                    "ORDER BY created_at, rowid",
                    chunk,
                ):
                    inputs.queued.setdefault(row["account_id"], []).append(
                        Recommendation.model_validate_json(row["payload"])
                    )
                inputs.outcomes_due.update(
                    row[0]
                    for row in conn.execute(
                        "SELECT DISTINCT account_id FROM recommendation_outcomes "
                        f"WHERE status = 'completed' AND outcome IS NULL "
                        f"AND account_id IN ({marks})",
                        chunk,
                    )
                )
        for account_id, recs in inputs.queued.items():
            inputs.queued[account_id] = sorted(recs, key=lambda r: -(r.value or 0.0))
        return inputs

    def approval_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of approvals starting with ``prefix`` (at most ``limit``), to resolve short ids."""
        with self._read("read approvals") as conn:
            found = conn.execute(
                "SELECT id FROM approvals WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
                (len(prefix), prefix, limit),
            ).fetchall()
        return [row["id"] for row in found]

    def pending_approvals(self, owner_email: str | None = None) -> list[Approval]:
        """Approvals still waiting for a decision, oldest first (expired ones included until
        the approvals service marks them)."""
        sql, params = _pending("SELECT *", owner_email)
        with self._read("read approvals") as conn:
            found = conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [rows.approval(row) for row in found]

    def approvals_with_status(
        self, statuses: Iterable[ApprovalStatus], owner_email: str | None = None
    ) -> list[Approval]:
        """Approvals in any of ``statuses`` (of one owner, when given), oldest first."""
        wanted = [str(s) for s in statuses]
        if not wanted:
            return []
        sql = f"SELECT * FROM approvals WHERE status IN ({', '.join('?' for _ in wanted)})"
        params: tuple[str, ...] = tuple(wanted)
        if owner_email is not None:
            sql += f" AND {OWNER_IS}"
            params += (owner_email,)
        with self._read("read approvals") as conn:
            found = conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [rows.approval(row) for row in found]

    def pending_approval_count(self, owner_email: str | None = None) -> int:
        sql, params = _pending("SELECT count(*)", owner_email)
        with self._read("count approvals") as conn:
            return int(conn.execute(sql, params).fetchone()[0])
