"""`sergas doctor`'s view of the workers (team mode): who runs, what waits, what failed.

Read-only queries on the job queue's tables (procrastinate's and ours), with the doctor's short
connection timeout. Nothing here imports procrastinate: the doctor stays quick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sergas_tui.audit.central.conn import first_line
from sergas_tui.config import Settings
from sergas_tui.doctor import PROBE_TIMEOUT_SECONDS, Check, Status
from sergas_tui.errors import SergasError
from sergas_tui.secrets import SecretStore
from sergas_tui.team.db import connection_kwargs, queue_target
from sergas_tui.team.records import REVIEW_TASK, describe_args
from sergas_tui.team.schema import JOBS_SCHEMA_VERSION, jobs_version

GROUP = "workers"
ALIVE_SECONDS = 120
"""A worker whose heartbeat is younger than this counts as running."""
FAILED_DAYS = 7
SHOWN = 5


def worker_checks(
    settings: Settings, secrets: SecretStore, now: datetime | None = None
) -> list[Check]:
    """The workers' rows of `sergas doctor`; none when ``[central] dsn`` is unset."""
    if not settings.central.dsn:
        return []
    moment = now or datetime.now(UTC)
    checks = [_schedule_check(settings, moment)]
    try:
        target = queue_target(settings, secrets)
        kwargs = connection_kwargs(target) | {"connect_timeout": int(PROBE_TIMEOUT_SECONDS)}
        with psycopg.connect(target.dsn, autocommit=True, row_factory=dict_row, **kwargs) as conn:
            version = jobs_version(conn)
            if version == 0:
                return [*checks, _no_queue()]
            if version > JOBS_SCHEMA_VERSION:
                detail = f"schema v{version} is newer than this Sergas (v{JOBS_SCHEMA_VERSION})"
                return [*checks, Check(GROUP, "job queue", "warn", detail)]
            checks += _queue_checks(conn, moment)
    except SergasError as err:
        checks.append(Check(GROUP, "job queue", "fail", err.message))
    except psycopg.Error as err:
        detail = first_line(err)
        checks.append(Check(GROUP, "job queue", "fail", f"cannot read the job queue: {detail}"))
    return checks


def _schedule_check(settings: Settings, moment: datetime) -> Check:
    from sergas_tui.team.cron import parse_schedule

    orchestrator = settings.orchestrator
    try:
        schedule = parse_schedule(orchestrator.schedule_cron, orchestrator.schedule_timezone)
    except SergasError as err:
        return Check(GROUP, "schedule", "fail", err.message)
    upcoming = schedule.next_after(moment)
    return Check(
        GROUP,
        "schedule",
        "info",
        f"{schedule.describe()}: next run {upcoming:%Y-%m-%d %H:%M %Z} (workers without "
        "--no-schedule queue it)",
    )


def _no_queue() -> Check:
    return Check(
        GROUP,
        "job queue",
        "info",
        "no job queue yet: the first `sergas worker` or `sergas schedule` creates it (or run "
        "`sergas worker --migrate-only` as the schema's owner)",
    )


def _ago(moment: datetime, then: datetime) -> str:
    seconds = max(0, int((moment - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{then.astimezone():%Y-%m-%d %H:%M}"


def _queue_checks(conn: psycopg.Connection[dict[str, Any]], moment: datetime) -> list[Check]:
    checks: list[Check] = []
    workers = conn.execute(
        "SELECT count(*) FILTER (WHERE last_heartbeat > now() - make_interval(secs => %s)) "
        "AS alive, max(last_heartbeat) AS last FROM procrastinate_workers",
        (ALIVE_SECONDS,),
    ).fetchone()
    jobs = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'todo') AS todo, "
        "count(*) FILTER (WHERE status = 'todo' AND attempts > 0) AS retrying, "
        "count(*) FILTER (WHERE status = 'doing') AS doing "
        "FROM procrastinate_jobs WHERE task_name = %s",
        (REVIEW_TASK,),
    ).fetchone()
    assert workers is not None
    assert jobs is not None
    alive = int(workers["alive"])
    if alive:
        last = workers["last"]
        checks.append(
            Check(GROUP, "workers", "ok", f"{alive} running (last heartbeat {_ago(moment, last)})")
        )
    elif jobs["todo"]:
        checks.append(
            Check(
                GROUP,
                "workers",
                "warn",
                f"none running, and {jobs['todo']} reviews wait: start `sergas worker`",
            )
        )
    else:
        checks.append(Check(GROUP, "workers", "info", "none running"))
    running = conn.execute(
        "SELECT j.args, a.worker, a.started_at FROM procrastinate_jobs j "
        "LEFT JOIN LATERAL (SELECT worker, started_at FROM sergas_review_attempts "
        "WHERE job_id = j.id ORDER BY id DESC LIMIT 1) a ON true "
        "WHERE j.task_name = %s AND j.status = 'doing' ORDER BY a.started_at LIMIT %s",
        (REVIEW_TASK, SHOWN),
    ).fetchall()
    detail = f"{jobs['todo']} waiting"
    if jobs["retrying"]:
        detail += f" ({jobs['retrying']} for a retry after a failure)"
    detail += f", {jobs['doing']} being reviewed"
    if running:
        detail += ": " + "; ".join(
            f"{describe_args(r['args'])} on {r['worker'] or '?'}"
            + (f" since {r['started_at'].astimezone():%H:%M:%S}" if r["started_at"] else "")
            for r in running
        )
    checks.append(Check(GROUP, "queue", "info", detail))
    checks.append(_last_run(conn, moment))
    checks.append(_failures(conn))
    return checks


def _last_run(conn: psycopg.Connection[dict[str, Any]], moment: datetime) -> Check:
    run = conn.execute(
        "SELECT * FROM sergas_schedule_runs ORDER BY started_at DESC, id DESC LIMIT 1"
    ).fetchone()
    if run is None:
        return Check(GROUP, "last scheduled run", "info", "none yet")
    how = "periodic task" if run["source"] == "periodic" else "`sergas schedule`"
    when = run["slot"] or run["started_at"]
    text = f"{when.astimezone():%Y-%m-%d %H:%M} by {how} ({run['requested_by']})"
    if run["error"]:
        return Check(GROUP, "last scheduled run", "warn", f"{text} failed: {run['error']}")
    states = conn.execute(
        "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs "
        "WHERE task_name = %s AND (args->>'run')::bigint = %s GROUP BY status",
        (REVIEW_TASK, run["id"]),
    ).fetchall()
    counts = {row["status"]: int(row["n"]) for row in states}
    text += (
        f": {run['owners']} owners, {run['deferred']} queued, {run['skipped']} already queued "
        f"or running; of its reviews {counts.get('succeeded', 0)} done, "
        f"{counts.get('todo', 0) + counts.get('doing', 0)} to do, {counts.get('failed', 0)} failed"
    )
    status: Status = "warn" if counts.get("failed") else "ok"
    if moment - run["started_at"] > timedelta(days=2):
        status = "warn"
        text += " (more than two days ago: are the workers running?)"
    return Check(GROUP, "last scheduled run", status, text)


def _failures(conn: psycopg.Connection[dict[str, Any]]) -> Check:
    failed = conn.execute(
        "SELECT j.id, j.args, j.attempts, e.at, a.detail FROM procrastinate_jobs j "
        "JOIN LATERAL (SELECT max(at) AS at FROM procrastinate_events WHERE job_id = j.id) e "
        "ON true LEFT JOIN LATERAL (SELECT detail FROM sergas_review_attempts "
        "WHERE job_id = j.id ORDER BY id DESC LIMIT 1) a ON true "
        "WHERE j.task_name = %s AND j.status = 'failed' "
        "AND e.at > now() - make_interval(days => %s) ORDER BY e.at DESC",
        (REVIEW_TASK, FAILED_DAYS),
    ).fetchall()
    if not failed:
        return Check(GROUP, "failed reviews", "ok", f"none in the last {FAILED_DAYS} days")
    shown = "; ".join(
        f"{describe_args(r['args'])} at {r['at'].astimezone():%Y-%m-%d %H:%M} after "
        f"{r['attempts']} attempts: {(r['detail'] or 'see the worker log').rstrip('.')}"
        for r in failed[:SHOWN]
    )
    more = f" (and {len(failed) - SHOWN} more)" if len(failed) > SHOWN else ""
    return Check(
        GROUP,
        "failed reviews",
        "warn",
        f"{len(failed)} in the last {FAILED_DAYS} days: {shown}{more}. `sergas schedule "
        "--owner EMAIL` queues one again.",
    )
