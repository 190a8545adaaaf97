"""Retention of the central audit: purge rows older than ``[auditing] retention_days``.

Deleting needs the owner role (the sync role has no DELETE). Every purge is itself audited: an
``audit_purged`` event with the cutoff and the counts is appended to the local audit log, and
the next sync carries it to the central audit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from sergas_tui.audit.central.conn import (
    CentralPermissionError,
    CentralTarget,
    connect,
    convert,
)
from sergas_tui.audit.central.schema import require_current
from sergas_tui.domain import AuditEvent, utc_now
from sergas_tui.storage import Repository


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    audit_rows_deleted: int
    outcome_versions_deleted: int
    audit_event: AuditEvent


def purge_central(
    repository: Repository,
    target: CentralTarget,
    *,
    retention_days: int,
    now: datetime | None = None,
) -> PurgeReport:
    """Delete central audit rows and outcome versions older than ``retention_days`` (needs
    DELETE: the owner role), then append an ``audit_purged`` event to the local audit log,
    which the next sync carries to the central audit."""
    moment = now or utc_now()
    cutoff = moment - timedelta(days=retention_days)
    started = time.perf_counter()
    try:
        with connect(target) as conn:
            require_current(conn, target)
            with conn.transaction():
                audit = conn.execute(
                    "DELETE FROM audit_logs WHERE timestamp < %s", (cutoff,)
                ).rowcount
                outcomes = conn.execute(
                    "DELETE FROM recommendation_outcome_versions WHERE created_at < %s",
                    (cutoff,),
                ).rowcount
    except psycopg.errors.InsufficientPrivilege as err:
        raise CentralPermissionError(
            f"Purging the central audit needs DELETE on its tables, which the role in "
            f"[central] dsn ({target.describe()}) lacks. Run `sergas audit purge` "
            "with the owner role's DSN (SERGAS_CENTRAL__DSN); see docs/operations.md."
        ) from err
    except psycopg.Error as err:
        raise convert(err, target, "purge the central audit") from err
    event = repository.append_audit(
        AuditEvent(
            session_id=f"audit-purge-{moment.strftime('%Y%m%dT%H%M%SZ')}",
            agent_name="sergas",
            action_type="audit_purged",
            tool_name="central_audit_purge",
            tool_inputs={"retention_days": retention_days, "cutoff": cutoff.isoformat()},
            tool_outputs={
                "audit_rows_deleted": audit,
                "outcome_versions_deleted": outcomes,
                "database": target.describe(),
            },
            execution_time_ms=int((time.perf_counter() - started) * 1000),
        )
    )
    return PurgeReport(cutoff, audit, outcomes, event)
