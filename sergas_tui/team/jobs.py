"""The procrastinate app of the workers: its connection, the review task and the schedule tick.

- ``sergas.review_owner`` (queue ``sergas-reviews``): one owner's review
  (:mod:`sergas_tui.team.review_job`), recorded attempt by attempt in
  ``sergas_review_attempts``, retried with backoff when it fails (:class:`ReviewRetry`).
- ``sergas.schedule_tick``: a procrastinate periodic task every minute. procrastinate reads
  cron expressions in UTC; the tick reads ``[orchestrator] schedule_cron`` in the configured or
  the machine's time zone instead (procrastinate's documented "dynamic scheduling" pattern) and,
  when a scheduled time has come (up to :data:`CATCH_UP` late, for workers that were down),
  claims that time in ``sergas_schedule_runs`` — a unique row, so one run per scheduled time
  however many workers tick — and queues one review per owner. Each tick deletes the previous
  finished ticks, so the job table does not fill with them.

The app is built per process from a :class:`WorkerRuntime` (no module-level app): the tasks are
closures over it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

from procrastinate import App, JobContext, PsycopgConnector

from sergas_tui.logs import get_logger
from sergas_tui.team import records
from sergas_tui.team.db import connection_kwargs
from sergas_tui.team.records import REVIEW_TASK, TICK_TASK, describe_args
from sergas_tui.team.review_job import (
    RETRY_ATTEMPTS,
    ReviewRetry,
    WorkerRuntime,
    describe_error,
    review_owner,
    send_due_notices,
)
from sergas_tui.team.scheduling import QUEUE, schedule_reviews

log = get_logger("sergas.worker")

TICK_CRON = "* * * * *"
TICK_PERIODIC_ID = "sergas-schedule"
PRIORITY_TICK = 10
"""Ticks run before waiting reviews (they are short)."""
CATCH_UP = timedelta(hours=1)
"""A scheduled time missed while no worker ran is still run when a worker ticks this soon."""


def build_app(runtime: WorkerRuntime, *, pool_size: int = 4, periodic: bool = False) -> App:
    """The procrastinate app on the runtime's central database, with Sergas's two tasks;
    ``periodic``: this process defers the schedule ticks (a worker that schedules)."""
    connector = PsycopgConnector(
        conninfo=runtime.target.dsn,
        kwargs=connection_kwargs(runtime.target),
        min_size=1,
        max_size=pool_size,
        name="sergas-jobs",
    )
    app = App(connector=connector)
    retry = ReviewRetry()

    @app.task(name=REVIEW_TASK, queue=QUEUE, pass_context=True, retry=retry)
    async def review_task(
        context: JobContext, owner: str, owner_name: str | None = None, run: int | None = None
    ) -> str:
        return await run_review_job(app, runtime, retry, context, owner, owner_name)

    @app.task(
        name=TICK_TASK,
        queue=QUEUE,
        queueing_lock=TICK_TASK,
        priority=PRIORITY_TICK,
        pass_context=True,
    )
    async def tick_task(context: JobContext, timestamp: int) -> str:
        return await run_tick(app, runtime, context, timestamp)

    if periodic:
        app.periodic(cron=TICK_CRON, periodic_id=TICK_PERIODIC_ID)(tick_task)
    return app


async def _shielded(step: Awaitable[None]) -> None:
    """Finish a bookkeeping write even while the job is being cancelled."""
    await asyncio.shield(asyncio.ensure_future(step))


async def run_review_job(
    app: App,
    runtime: WorkerRuntime,
    retry: ReviewRetry,
    context: JobContext,
    owner: str,
    owner_name: str | None,
) -> str:
    """One attempt at an owner's review, recorded and told (see the module docstring)."""
    job = context.job
    assert job.id is not None
    db = app.connector
    label = describe_args({"owner": owner, "owner_name": owner_name})
    attempt = job.attempts + 1
    attempt_id = await records.start_attempt(
        db,
        job_id=job.id,
        attempt=attempt,
        owner=owner,
        owner_name=owner_name,
        workspace=runtime.workspace,
        worker=runtime.worker_name,
    )
    tries = f"attempt {attempt} of {RETRY_ATTEMPTS}" if attempt > 1 else "first attempt"
    runtime.say(f"Reviewing {label} (job {job.id}, {tries})…")
    try:
        result = await review_owner(runtime, owner, label)
    except asyncio.CancelledError:
        detail = "the worker stopped before the review finished; the job is tried again"
        await _shielded(
            records.finish_attempt(db, attempt_id, outcome="interrupted", detail=detail)
        )
        runtime.say(f"Stopped the review of {label}: {detail}.")
        raise
    except Exception as err:
        detail = describe_error(err)
        again = retry.get_retry_decision(exception=err, job=job)
        outcome = "retrying" if again is not None else "failed"
        await _shielded(records.finish_attempt(db, attempt_id, outcome=outcome, detail=detail))
        if again is not None and again.retry_at is not None:
            when = again.retry_at.astimezone().strftime("%H:%M:%S")
            runtime.say(f"The review of {label} failed ({tries}): {detail} Trying again at {when}.")
        else:
            runtime.say(f"The review of {label} FAILED ({tries}, not retried): {detail}")
        log.error("review_job_failed", owner=label, tries=tries, outcome=outcome, detail=detail)
        raise
    await records.finish_attempt(
        db,
        attempt_id,
        outcome="ok",
        detail=result.audit_warning,
        accounts=result.accounts,
        landed=result.landed,
        zoho_calls=result.zoho_calls,
    )
    runtime.say(f"Reviewed {label}: {result.text()}.")
    if result.audit_warning:
        runtime.say(f"Warning: {result.audit_warning}.")
    if result.digest:
        runtime.say(f"Digest: {result.digest}")
    return f"{label}: {result.text()}"


async def run_tick(app: App, runtime: WorkerRuntime, context: JobContext, timestamp: int) -> str:
    """Queue the scheduled reviews when their time has come (see the module docstring)."""
    db = app.connector
    if context.job.id is not None:
        await records.delete_earlier_ticks(db, context.job.id)
    # Escalations and expiry notices due since the last tick (one tick runs at a time).
    loop = asyncio.get_running_loop()
    notices = await loop.run_in_executor(runtime.executor, send_due_notices, runtime)
    if notices:
        runtime.say(notices)
    if runtime.schedule is None:
        return "no schedule"
    moment = datetime.fromtimestamp(timestamp, UTC)
    slot = runtime.schedule.due(moment, within=CATCH_UP)
    if slot is None:
        return "nothing due"
    run_id = await records.claim_slot(db, slot, runtime.worker_name)
    if run_id is None:
        return f"the run of {slot.isoformat()} was queued already"
    runtime.say(
        f"Scheduled run of {slot:%Y-%m-%d %H:%M} ({runtime.schedule.describe()}): queueing one "
        "review per owner…"
    )
    try:
        report = await schedule_reviews(app, runtime, run_id=run_id)
    except BaseException:
        # Nothing (or not everything) was queued: give the scheduled time back, so the next
        # tick, within the catch-up window, queues it (owners already queued are skipped).
        await _shielded(records.release_slot(db, run_id))
        raise
    await records.housekeeping(db)
    runtime.say(report.text())
    return report.text()
