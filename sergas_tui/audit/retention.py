"""Retention of the local audit log: rows older than ``[auditing] retention_days`` are purged.

:func:`purge_local` deletes the oldest rows of the chain (a prefix, by seq) whose timestamp is
before the cutoff; with a central audit configured, never a row not yet synced there. The chain
then starts at the first kept row, which still links to the last purged row's ``row_hash``:
that start (its seq, that hash, how many rows purges removed in all) is recorded in
``meta.audit_chain_start`` and, in the same transaction, in the ``audit_purged`` event the
purge appends (``tool_name`` ``local_audit_purge``). Verification starts the chain there and
checks that the recorded start is the one the last purge event recorded.

:func:`purge_local_if_due` runs it at most once a UTC day: ``sergas review`` calls it before a
run, the app at start (a background thread, see ``Services.audit_retention``) and a worker
before each review job; ``sergas audit purge --local`` runs it on demand. After a purge that
removed rows, the database is compacted (their text leaves the file) and the checkpoint file
moves to the new head.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sergas_tui.audit.anchor import check_anchor
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import LOCAL_PURGE_TOOL, PURGE_ACTION, ChainStart
from sergas_tui.errors import StorageError
from sergas_tui.storage import Repository
from sergas_tui.storage.erasure import compact, purge_audit

CHECKED_META_KEY = "audit_retention_checked_on"
"""The ``meta`` key holding the UTC day (ISO) retention last ran automatically."""


@dataclass(frozen=True)
class LocalPurgeReport:
    cutoff: datetime
    rows_deleted: int
    start: ChainStart | None
    event: AuditEvent | None
    compacted: bool = True
    """False when the database could not be compacted (another process reading it): the
    purged rows' text may stay in free pages until the next compaction."""


def purge_local(
    repository: Repository, *, retention_days: int, keep_unsynced: bool, now: datetime
) -> LocalPurgeReport:
    """Purge local audit rows older than ``retention_days`` before ``now`` (see the module
    docstring); audited when anything was purged."""
    cutoff = now - timedelta(days=retention_days)

    def event(deleted: int, start: ChainStart) -> AuditEvent:
        return AuditEvent(
            timestamp=now,
            session_id=f"audit-purge-{now.strftime('%Y%m%dT%H%M%SZ')}",
            agent_name="sergas",
            action_type=PURGE_ACTION,
            tool_name=LOCAL_PURGE_TOOL,
            tool_inputs={
                "chain_start": {
                    "prev_hash": start.prev_hash,
                    "purged_rows": start.purged_rows,
                    "seq": start.seq,
                },
                "cutoff": cutoff.isoformat(),
                "keep_unsynced": keep_unsynced,
                "retention_days": retention_days,
            },
            tool_outputs={"audit_rows_deleted": deleted},
        )

    result = purge_audit(repository, cutoff, event, keep_unsynced=keep_unsynced)
    compacted = True
    if result.rows_deleted:
        try:
            compact(repository.path)
        except StorageError:
            compacted = False
        check_anchor(repository)  # moves the checkpoint file to the new head
    return LocalPurgeReport(cutoff, result.rows_deleted, result.start, result.event, compacted)


def purge_local_if_due(
    repository: Repository, *, retention_days: int, keep_unsynced: bool, now: datetime
) -> LocalPurgeReport | None:
    """:func:`purge_local` unless it already ran today (UTC); None when it did not run."""
    today = now.date().isoformat()
    if repository.meta_value(CHECKED_META_KEY) == today:
        return None
    report = purge_local(
        repository, retention_days=retention_days, keep_unsynced=keep_unsynced, now=now
    )
    repository.set_meta(CHECKED_META_KEY, today)
    return report
