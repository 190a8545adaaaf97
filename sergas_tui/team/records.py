"""What workers write about their work, besides procrastinate's own tables.

Async helpers over the queue's connection pool (procrastinate's connector, so a job's writes
share the worker's connections): review attempts, scheduling runs, the owners whose reviews are
queued or running, and housekeeping. The tables are described in :mod:`sergas_tui.team.schema`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from procrastinate.connector import BaseConnector

REVIEW_TASK = "sergas.review_owner"
"""The review job's task name (one job per owner)."""
TICK_TASK = "sergas.schedule_tick"
"""The periodic task that queues the scheduled reviews when their time comes."""
KEEP_JOBS_DAYS = 30
"""Finished jobs, attempts and scheduling runs are deleted after this long (failed jobs too:
`sergas doctor` shows the last week's)."""


async def start_attempt(
    db: BaseConnector,
    *,
    job_id: int,
    attempt: int,
    owner: str,
    owner_name: str | None,
    workspace: str,
    worker: str,
) -> int:
    row = await db.execute_query_one_async(
        "INSERT INTO sergas_review_attempts (job_id, attempt, owner_email, owner_name, "
        "workspace, worker) VALUES (%(job_id)s, %(attempt)s, %(owner)s, %(owner_name)s, "
        "%(workspace)s, %(worker)s) RETURNING id",
        job_id=job_id,
        attempt=attempt,
        owner=owner,
        owner_name=owner_name,
        workspace=workspace,
        worker=worker,
    )
    return int(row["id"])


async def finish_attempt(
    db: BaseConnector,
    attempt_id: int,
    *,
    outcome: str,
    detail: str | None = None,
    accounts: int | None = None,
    landed: int | None = None,
    zoho_calls: int | None = None,
) -> None:
    await db.execute_query_async(
        "UPDATE sergas_review_attempts SET finished_at = now(), outcome = %(outcome)s, "
        "detail = %(detail)s, accounts = %(accounts)s, landed = %(landed)s, "
        "zoho_calls = %(zoho_calls)s WHERE id = %(id)s AND outcome = 'running'",
        id=attempt_id,
        outcome=outcome,
        detail=detail,
        accounts=accounts,
        landed=landed,
        zoho_calls=zoho_calls,
    )


async def interrupt_attempts(db: BaseConnector, job_id: int, detail: str) -> None:
    """The job's attempts still 'running' end as 'interrupted' (their worker died)."""
    await db.execute_query_async(
        "UPDATE sergas_review_attempts SET finished_at = now(), outcome = 'interrupted', "
        "detail = %(detail)s WHERE job_id = %(job_id)s AND outcome = 'running'",
        job_id=job_id,
        detail=detail,
    )


async def claim_slot(db: BaseConnector, slot: datetime, requested_by: str) -> int | None:
    """Record the periodic run for ``slot``; None when another worker already did."""
    row = await db.execute_query_one_async(
        "WITH claimed AS (INSERT INTO sergas_schedule_runs (slot, source, requested_by) "
        "VALUES (%(slot)s, 'periodic', %(by)s) ON CONFLICT (slot) DO NOTHING RETURNING id) "
        "SELECT (SELECT id FROM claimed) AS id",
        slot=slot,
        by=requested_by,
    )
    return None if row["id"] is None else int(row["id"])


async def release_slot(db: BaseConnector, run_id: int) -> None:
    """Forget a periodic run whose reviews could not be queued, so that the next tick within
    the catch-up window tries the same scheduled time again."""
    await db.execute_query_async(
        "DELETE FROM sergas_schedule_runs WHERE id = %(id)s AND source = 'periodic'", id=run_id
    )


async def start_manual_run(db: BaseConnector, requested_by: str) -> int:
    row = await db.execute_query_one_async(
        "INSERT INTO sergas_schedule_runs (source, requested_by) VALUES ('schedule', %(by)s) "
        "RETURNING id",
        by=requested_by,
    )
    return int(row["id"])


async def finish_run(
    db: BaseConnector,
    run_id: int,
    *,
    owners: int,
    changed: int,
    deferred: int,
    skipped: int,
    error: str | None = None,
) -> None:
    await db.execute_query_async(
        "UPDATE sergas_schedule_runs SET finished_at = now(), owners = %(owners)s, "
        "changed = %(changed)s, deferred = %(deferred)s, skipped = %(skipped)s, "
        "error = %(error)s WHERE id = %(id)s",
        id=run_id,
        owners=owners,
        changed=changed,
        deferred=deferred,
        skipped=skipped,
        error=error,
    )


async def active_owners(db: BaseConnector) -> dict[str, str]:
    """Owners (lower-cased e-mail) whose review job waits or runs now → 'todo' or 'doing'."""
    rows = await db.execute_query_all_async(
        "SELECT lower(args->>'owner') AS owner, status::text AS status FROM procrastinate_jobs "
        "WHERE task_name = %(task)s AND status IN ('todo', 'doing')",
        task=REVIEW_TASK,
    )
    found: dict[str, str] = {}
    for row in rows:  # 'doing' wins: the owner is being reviewed now
        if row["owner"] and found.get(row["owner"]) != "doing":
            found[row["owner"]] = row["status"]
    return found


async def last_good_reviews(db: BaseConnector) -> dict[str, datetime]:
    """When each owner's last successful review job started (lower-cased e-mail → time)."""
    rows = await db.execute_query_all_async(
        "SELECT lower(owner_email) AS owner, max(started_at) AS at FROM sergas_review_attempts "
        "WHERE outcome = 'ok' GROUP BY lower(owner_email)",
    )
    return {row["owner"]: row["at"] for row in rows if row["at"] is not None}


async def delete_earlier_ticks(db: BaseConnector, job_id: int) -> None:
    """Tick jobs come every minute: keep only the latest finished one (and failed ones)."""
    await db.execute_query_async(
        "DELETE FROM procrastinate_jobs WHERE task_name = %(task)s AND status = 'succeeded' "
        "AND id < %(id)s",
        task=TICK_TASK,
        id=job_id,
    )


async def housekeeping(db: BaseConnector, days: int = KEEP_JOBS_DAYS) -> None:
    """Forget finished review jobs, attempts and scheduling runs older than ``days``."""
    await db.execute_query_async(
        "DELETE FROM procrastinate_jobs j WHERE j.status IN ('succeeded', 'failed', "
        "'cancelled', 'aborted') AND NOT EXISTS (SELECT 1 FROM procrastinate_events e "
        "WHERE e.job_id = j.id AND e.at > now() - make_interval(days => %(days)s))",
        days=days,
    )
    for statement in (
        "DELETE FROM sergas_review_attempts WHERE started_at < now() - "
        "make_interval(days => %(days)s)",
        "DELETE FROM sergas_schedule_runs WHERE started_at < now() - "
        "make_interval(days => %(days)s)",
    ):
        await db.execute_query_async(statement, days=days)


def describe_args(args: dict[str, Any]) -> str:
    """A review job's owner as a person reads it: 'Jordan Avery <jordan@…>'."""
    owner = str(args.get("owner") or "?")
    name = args.get("owner_name")
    return f"{name} <{owner}>" if name else owner
