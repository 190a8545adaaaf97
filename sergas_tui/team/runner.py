"""`sergas worker`: a procrastinate worker on the review queue, with the stalled-job sweep.

The worker fetches review jobs (and the schedule ticks) from ``sergas-reviews``, at most
``concurrency`` at a time, listening for new jobs (LISTEN/NOTIFY) and polling as a fallback.
Signals: the first SIGINT/SIGTERM stops fetching and waits for the running reviews; a second
stops at once (the interrupted reviews are run again by another worker, see
:mod:`sergas_tui.team.stalled`). With ``until_idle`` the worker runs what is queued and exits
when nothing is left it may run (jobs scheduled for a later retry, or held by a killed worker
until the sweep frees them, are left to the long-running workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from procrastinate import App
from procrastinate.exceptions import ConnectorException
from procrastinate.worker import Worker

from sergas_tui.team.db import JobQueueConnectionError
from sergas_tui.team.jobs import build_app
from sergas_tui.team.review_job import WorkerRuntime
from sergas_tui.team.scheduling import QUEUE
from sergas_tui.team.stalled import (
    DEFAULT_STALLED_AFTER,
    heartbeat_interval,
    poll_interval,
    sweep,
    sweep_forever,
)

ABORT_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1
    until_idle: bool = False
    periodic: bool = True
    """Defer the schedule ticks (off: scheduling is left to cron and `sergas schedule`)."""
    stalled_after: float = DEFAULT_STALLED_AFTER


class _Signals:
    """The first SIGINT/SIGTERM stops the worker gracefully; the second kills the process."""

    def __init__(self, worker: Worker, say: Callable[[str], None]) -> None:
        self.worker = worker
        self.say = say
        self.requested = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._received, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _received(self, sig: signal.Signals) -> None:
        if self.requested:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
            return
        self.requested = True
        self.say(
            "Stopping: the running reviews finish first (press Ctrl+C again to stop at once; "
            "an interrupted review is run again by another worker)."
        )
        self.worker.stop()  # type: ignore[no-untyped-call]


def make_worker(app: App, runtime: WorkerRuntime, options: WorkerOptions) -> Worker:
    return Worker(
        app=app,
        queues=[QUEUE],
        name=runtime.worker_name,
        concurrency=options.concurrency,
        wait=not options.until_idle,
        fetch_job_polling_interval=poll_interval(options.stalled_after),
        abort_job_polling_interval=ABORT_POLL_SECONDS,
        update_heartbeat_interval=heartbeat_interval(options.stalled_after),
        stalled_worker_timeout=options.stalled_after,
        listen_notify=True,
        install_signal_handlers=False,
        shutdown_graceful_timeout=None,
    )


async def run_worker(runtime: WorkerRuntime, options: WorkerOptions) -> None:
    """Run until stopped (or, ``until_idle``, until the queue has nothing left for it)."""
    with ThreadPoolExecutor(options.concurrency, thread_name_prefix="sergas-review") as pool:
        await _run(dataclasses.replace(runtime, executor=pool), options)


async def _run(runtime: WorkerRuntime, options: WorkerOptions) -> None:
    app = build_app(
        runtime,
        pool_size=options.concurrency + 4,
        periodic=options.periodic and not options.until_idle,
    )
    with connection_errors(runtime):
        async with app.open_async():
            # A restart after a crash frees the jobs it held at once (when they are stalled).
            await sweep(app, runtime, options.stalled_after)
            worker = make_worker(app, runtime, options)
            signals = _Signals(worker, runtime.say)
            sweeper = asyncio.create_task(sweep_forever(app, runtime, options.stalled_after))
            try:
                with signals.installed():
                    await worker.run()  # type: ignore[no-untyped-call]
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
    if not options.until_idle and not signals.requested:
        raise JobQueueConnectionError(
            f"The worker stopped on its own: it lost the job queue's database "
            f"{runtime.target.describe()} (details in {runtime.locations.log_file}). Restart it "
            "once PostgreSQL answers; a service manager such as systemd does that for you "
            "(docs/operations.md, 'Workers')."
        )


@contextlib.contextmanager
def connection_errors(runtime: WorkerRuntime) -> Iterator[None]:
    """procrastinate's and psycopg's connection failures as one clear :class:`JobQueueError`."""
    try:
        yield
    except (ConnectorException, psycopg.Error) as err:
        cause = err.__cause__ or err
        text = str(cause).strip()
        detail = text.splitlines()[0] if text else type(cause).__name__
        raise JobQueueConnectionError(
            f"Lost the job queue's database {runtime.target.describe()} ({detail}). Try again "
            "once PostgreSQL answers (`sergas doctor` checks it); a worker under a service "
            "manager such as systemd is restarted for you (docs/operations.md, 'Workers')."
        ) from err
