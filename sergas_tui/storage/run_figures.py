"""What a workspace's own records say about its recent reviews: the figures behind the metrics
summary in `sergas doctor` (no Prometheus or Grafana needed).

The in-process metrics (:mod:`sergas_tui.metrics`) vanish with the process; these are read
from the tables every review and decision writes anyway: ``sync_runs`` (one row per review,
its status, start, end and Zoho calls), the audit log's Zoho tool invocations (with their
errors) and the approvals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sergas_tui.domain import AuditAction
from sergas_tui.storage import rows
from sergas_tui.storage.repository import Repository


@dataclass(frozen=True)
class RunFigures:
    since: datetime
    runs: int = 0
    """Reviews that ended since ``since`` (ok, partial or failed)."""
    failed: int = 0
    partial: int = 0
    running: int = 0
    """Reviews started and not ended (running now, or stopped by a crash)."""
    longest_seconds: float | None = None
    calls: int = 0
    """Zoho API calls of those reviews."""
    zoho_calls_failed: int = 0
    """Zoho operations that ended in an error (the audit log's tool invocations)."""
    zoho_errors_worst_5m: int = 0
    """The most failed Zoho operations within any 5 minutes (the error-rate alert's window)."""
    approved: int = 0
    rejected: int = 0
    pending: int = 0
    """Approvals waiting for a decision now."""


def run_figures(repository: Repository, now: datetime, *, hours: int = 24) -> RunFigures:
    """The workspace's review figures over the last ``hours``."""
    since = now - timedelta(hours=hours)
    cutoff = rows.ts(since)
    with repository.reading("read the recent reviews' figures") as conn:
        runs = conn.execute(
            "SELECT status, started_at, finished_at, calls FROM sync_runs WHERE started_at >= ?",
            (cutoff,),
        ).fetchall()
        failures = [
            rows.parse_ts(r[0])
            for r in conn.execute(
                "SELECT timestamp FROM audit_logs WHERE action_type = ? AND timestamp >= ?"
                " AND error_message IS NOT NULL AND tool_name LIKE 'zoho\\_%' ESCAPE '\\'"
                " ORDER BY timestamp",
                (str(AuditAction.TOOL_INVOCATION), cutoff),
            )
        ]
        decided = dict(
            conn.execute(
                "SELECT status, count(*) FROM approvals WHERE decided_at >= ? GROUP BY status",
                (cutoff,),
            ).fetchall()
        )
    pending = repository.pending_approval_count()
    ended = [r for r in runs if r[0] != "running"]
    longest: float | None = None
    for _status, started, finished, _calls in ended:
        begin, end = rows.parse_ts(started), rows.parse_ts(finished)
        if begin is not None and end is not None:
            seconds = (end - begin).total_seconds()
            longest = seconds if longest is None else max(longest, seconds)
    return RunFigures(
        since=since,
        runs=len(ended),
        failed=sum(1 for r in ended if r[0] == "failed"),
        partial=sum(1 for r in ended if r[0] == "partial"),
        running=len(runs) - len(ended),
        longest_seconds=longest,
        calls=sum(int(r[3] or 0) for r in ended),
        zoho_calls_failed=len(failures),
        zoho_errors_worst_5m=_worst_window([f for f in failures if f is not None]),
        approved=int(decided.get("approved", 0))
        + int(decided.get("adjusted", 0))
        + int(decided.get("executed", 0))
        + int(decided.get("failed", 0)),
        rejected=int(decided.get("rejected", 0)),
        pending=pending,
    )


def _worst_window(moments: list[datetime], window: timedelta = timedelta(minutes=5)) -> int:
    """The most of ``moments`` (sorted) within any ``window``."""
    worst, first = 0, 0
    for last, moment in enumerate(moments):
        while moments[first] < moment - window:
            first += 1
        worst = max(worst, last - first + 1)
    return worst
