"""Jobs of killed workers: found by their missing heartbeats and run again, in bounded time.

A procrastinate 3 worker writes a heartbeat every ``update_heartbeat_interval``; a worker
stopped normally deletes its row, one killed (SIGKILL, a crash, a lost machine) leaves its jobs
in ``doing`` with a heartbeat that ages. procrastinate's documented recipe
(`JobManager.get_stalled_jobs` + `retry_job`) runs here as a sweep inside every worker, every
``stalled_after / 3`` seconds, rather than as a periodic job, so the delay is seconds rather than
the next whole minute and the job table gets no row per sweep.

With ``stalled_after = S`` (`sergas worker --stalled-after`, default 30 s, procrastinate's own
default) a killed worker's review runs again at most S + S/3 (the next sweep) + min(5, S/3)
(the next poll for jobs) seconds after the kill: 45 s by default. Its attempt is recorded as
``interrupted``. A job interrupted :data:`MAX_INTERRUPTIONS` times (a review that kills its
worker, say by running out of memory) is failed instead of retried for ever.

S must exceed any pause of a live worker's event loop, or a live worker's job would be run a
second time; a review yields to the loop between accounts, so pauses stay far below 30 s.
"""

from __future__ import annotations

import asyncio

from procrastinate import App
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status

from sergas_tui.logs import get_logger
from sergas_tui.team import records
from sergas_tui.team.records import describe_args
from sergas_tui.team.review_job import WorkerRuntime
from sergas_tui.team.scheduling import QUEUE

log = get_logger("sergas.worker")

DEFAULT_STALLED_AFTER = 30.0
MAX_INTERRUPTIONS = 5


def heartbeat_interval(stalled_after: float) -> float:
    """How often a worker tells it is alive (three heartbeats per ``stalled_after``)."""
    return stalled_after / 3


def poll_interval(stalled_after: float) -> float:
    """How often an idle worker looks for jobs that no notification announced (retried ones)."""
    return min(5.0, stalled_after / 3)


def retry_bound(stalled_after: float) -> float:
    """The most seconds between a worker's death and another worker starting its job again."""
    return stalled_after + heartbeat_interval(stalled_after) + poll_interval(stalled_after)


async def sweep(app: App, runtime: WorkerRuntime, stalled_after: float) -> int:
    """Retry (or, past :data:`MAX_INTERRUPTIONS`, fail) the jobs of workers silent for longer
    than ``stalled_after``; returns how many jobs it moved."""
    manager = app.job_manager
    db = app.connector
    moved = 0
    for job in await manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stalled_after):
        assert job.id is not None
        who = describe_args(job.task_kwargs) if job.task_name == records.REVIEW_TASK else None
        give_up = job.attempts + 1 >= MAX_INTERRUPTIONS
        try:
            if give_up:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            else:
                await manager.retry_job(job)
        except ConnectorException:
            continue  # another worker moved it first
        moved += 1
        then = "failed after repeated interruptions" if give_up else "the job runs again"
        detail = f"its worker stopped answering (no heartbeat for {stalled_after:.0f} s); {then}"
        await records.interrupt_attempts(db, job.id, detail)
        if who is not None:
            runtime.say(f"The review of {who} (job {job.id}) was interrupted: {detail}.")
        log.warning("stalled_job", job_id=job.id, who=who or job.task_name, detail=detail)
    return moved


async def sweep_forever(app: App, runtime: WorkerRuntime, stalled_after: float) -> None:
    """:func:`sweep` every ``stalled_after / 3`` seconds until cancelled; a failed sweep is
    logged and tried again next time."""
    while True:
        try:
            await sweep(app, runtime, stalled_after)
        except ConnectorException as err:
            log.warning("stalled_sweep_failed", error=str(err))
        await asyncio.sleep(heartbeat_interval(stalled_after))
