"""The team's approvals in the central PostgreSQL (``team_approvals``, central schema v3).

In team mode (``[central] dsn`` set) every approval a review lands is published here as well as
stored locally, so an AE's queue is the same on every device and on the workers that review
for them. A row changes only by compare-and-set: :meth:`CentralRecordStore.move` updates it
when its status is still one of the statuses the caller read, and bumps ``revision``; when it
is not, nothing changes and the caller gets the row as it stands (who decided, on which device,
when), so a second device's decision is refused with the first decider named.

The store is synchronous (psycopg, a connection per call, like the grant store); callers on an
event loop run it in a thread. Failures are :class:`CentralAuditError` subclasses with the
usual wording (:mod:`.conn`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.audit.central.store import CentralTableStore
from sergas_tui.domain import Approval, ApprovalStatus, Recommendation

RECORDS_VERSION = 3
"""The central schema version that created ``team_approvals``."""

_LOCAL_ONLY = {"token"}
"""Approval fields that never leave the device (a single-use token is local)."""

_COLUMNS = (
    "approval_id",
    "recommendation_id",
    "account_id",
    "account_name",
    "owner_email",
    "action_type",
    "status",
    "approval",
    "recommendation",
    "snapshot",
    "revision",
    "decided_by",
    "decided_at",
    "decided_on",
    "published_by",
    "published_at",
    "updated_by",
    "updated_at",
)


@dataclass(frozen=True)
class Publication:
    """One approval as a review publishes it, with what another device needs to show it."""

    approval: Approval
    recommendation: Recommendation | None
    account_name: str | None = None
    snapshot: dict[str, Any] | None = None
    """The account's stored state (``Snapshot.data``): names of its deals and contacts."""


@dataclass(frozen=True)
class TeamApproval:
    """A row of ``team_approvals`` as read back."""

    approval: Approval
    recommendation: Recommendation | None
    account_name: str | None
    snapshot: dict[str, Any] | None
    revision: int
    decided_on: str | None
    published_by: str
    updated_by: str
    updated_at: datetime

    @property
    def status(self) -> ApprovalStatus:
        return self.approval.status

    def decided_text(self) -> str:
        """ "approved by dana@… on laptop-2 at 2026-11-02 10:02 UTC", for refusals."""
        a = self.approval
        verb = str(a.status)
        who = f" by {a.decided_by}" if a.decided_by else ""
        where = f" on {self.decided_on}" if self.decided_on else ""
        at = a.decided_at or self.updated_at
        return f"{verb}{who}{where} at {at:%Y-%m-%d %H:%M} UTC"


def _approval_json(approval: Approval) -> Jsonb:
    return Jsonb(approval.model_dump(mode="json", exclude=_LOCAL_ONLY))


def _row(row: Sequence[Any]) -> TeamApproval:
    data = dict(zip(_COLUMNS, row, strict=True))
    approval = Approval.model_validate(data["approval"])
    recommendation = (
        None
        if data["recommendation"] is None
        else Recommendation.model_validate(data["recommendation"])
    )
    return TeamApproval(
        approval=approval,
        recommendation=recommendation,
        account_name=data["account_name"],
        snapshot=data["snapshot"],
        revision=int(data["revision"]),
        decided_on=data["decided_on"],
        published_by=data["published_by"],
        updated_by=data["updated_by"],
        updated_at=data["updated_at"],
    )


class CentralRecordStore(CentralTableStore):
    """``team_approvals`` in the central database (a connection per call)."""

    needs = RECORDS_VERSION
    what = "team approvals"

    def __init__(self, target: CentralTarget, *, device: str, migrate: bool = True) -> None:
        super().__init__(target, migrate=migrate)
        self.device = device
        """This device's name, stamped on what it publishes and decides."""

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, items: Iterable[Publication]) -> int:
        """Insert approvals not yet central; rows already there keep their state (another
        device may have decided them). Returns how many were new."""
        values = [
            (
                p.approval.id,
                p.approval.recommendation_id,
                p.approval.account_id,
                p.account_name,
                p.approval.owner_email,
                str(p.approval.action_type),
                str(p.approval.status),
                _approval_json(p.approval),
                None
                if p.recommendation is None
                else Jsonb(p.recommendation.model_dump(mode="json")),
                None if p.snapshot is None else Jsonb(p.snapshot),
                p.approval.decided_by,
                p.approval.decided_at,
                self.device if p.approval.decided_by else None,
                self.device,
                self.device,
            )
            for p in items
        ]
        if not values:
            return 0
        action = "publish approvals centrally"
        conn = self._connect(action)
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO team_approvals (approval_id, recommendation_id, account_id, "
                    "account_name, owner_email, action_type, status, approval, recommendation, "
                    "snapshot, decided_by, decided_at, decided_on, published_by, updated_by) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (approval_id) DO NOTHING",
                    values,
                    returning=False,
                )
                return max(cur.rowcount, 0)
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()

    # -- reading ------------------------------------------------------------------------------

    def get(self, approval_id: str) -> TeamApproval | None:
        action = "read an approval centrally"
        conn = self._connect(action)
        try:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM team_approvals WHERE approval_id = %s",
                (approval_id,),
            ).fetchone()
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        return None if row is None else _row(row)

    def changed_since(
        self,
        owner_email: str | None,
        since: datetime | None,
        *,
        after: tuple[datetime, str] | None = None,
        limit: int = 5000,
    ) -> list[TeamApproval]:
        """Rows of an owner (every owner: None; e-mails compared without case) changed at or
        after ``since`` (every row: None), oldest change first; the next page starts ``after``
        the last row's ``(updated_at, approval_id)``."""
        clauses: list[str] = []
        params: list[object] = []
        if owner_email is not None:
            clauses.append("lower(owner_email) = lower(%s)")
            params.append(owner_email)
        if since is not None:
            clauses.append("updated_at >= %s")
            params.append(since)
        if after is not None:
            clauses.append("(updated_at, approval_id) > (%s, %s)")
            params.extend(after)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        action = "read the team's approvals"
        conn = self._connect(action)
        try:
            found = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM team_approvals {where} "
                "ORDER BY updated_at, approval_id LIMIT %s",
                (*params, limit),
            ).fetchall()
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        return [_row(r) for r in found]

    # -- moving -------------------------------------------------------------------------------

    def move(
        self,
        updated: Approval,
        *,
        expected: Iterable[ApprovalStatus],
        decided: bool = False,
        decided_here: bool = False,
        claimed_here: bool = False,
    ) -> TeamApproval | None:
        """Store ``updated`` if the central row's status is still one of ``expected``.

        Returns None when it was stored; otherwise the row as it stands (so the caller can say
        who moved it first) — or raises :class:`LookupError` when the row is not central at
        all (publish it first). ``decided`` stamps this device as where the decision was made;
        ``decided_here`` moves the row only if it was decided on this device (or nowhere);
        ``claimed_here`` a row executing only if this device claimed it.
        """
        statuses = [str(s) for s in expected]
        action = "record a decision centrally"
        conn = self._connect(action)
        try:
            with conn.transaction():
                stored = conn.execute(
                    "UPDATE team_approvals SET status = %s, approval = %s, decided_by = %s, "
                    "decided_at = %s, decided_on = CASE WHEN %s THEN %s::text "
                    "WHEN %s::text IS NULL THEN NULL ELSE decided_on END, "
                    "revision = revision + 1, updated_by = %s, updated_at = clock_timestamp() "
                    "WHERE approval_id = %s AND status = ANY(%s) "
                    "AND (NOT %s OR decided_on IS NULL OR decided_on = %s) "
                    "AND (NOT %s OR status <> 'executing' OR updated_by = %s) "
                    "RETURNING revision",
                    (
                        str(updated.status),
                        _approval_json(updated),
                        updated.decided_by,
                        updated.decided_at,
                        decided,
                        self.device,
                        updated.decided_by,
                        self.device,
                        updated.id,
                        statuses,
                        decided_here,
                        self.device,
                        claimed_here,
                        self.device,
                    ),
                ).fetchone()
                if stored is not None:
                    return None
                row = conn.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM team_approvals WHERE approval_id = %s",
                    (updated.id,),
                ).fetchone()
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        if row is None:
            raise LookupError(updated.id)
        return _row(row)
