"""The body of a review job: exactly what `sergas review --owner EMAIL` runs, headless.

It opens the worker's workspace (:func:`~sergas_tui.services.open_services`; many processes
may share one), drives ``orchestrator.review(owner)`` to its end, closes the services, then
sends the workspace's audit outbox to the central database as `sergas review` does (a failed
send only warns: the rows wait in the outbox). Accounts that failed make the job fail, so the
owner is retried with backoff (:class:`ReviewRetry`); the accounts reviewed meanwhile keep
their results, and a retry proposes nothing twice (the orchestrator reads what each account
already has pending).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from procrastinate import BaseRetryStrategy, RetryDecision, RetryStrategy
from procrastinate.jobs import Job

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.config import Settings
from sergas_tui.errors import (
    ConfigError,
    CrmAuthError,
    CrmPermissionError,
    DatabaseCorruptError,
    DatabaseVersionError,
    SecretError,
    SergasError,
    WorkspaceError,
)
from sergas_tui.errors import ReviewIncomplete as ReviewIncomplete
from sergas_tui.locations import Locations
from sergas_tui.logs import get_logger
from sergas_tui.team.cron import Schedule

if TYPE_CHECKING:  # the review stack loads when a job runs, not when the worker starts
    from sergas_tui.services import Services

log = get_logger("sergas.worker")

RETRY_ATTEMPTS = 4
"""Tries per owner job (the first included) before it fails for good."""
RETRY_WAIT_SECONDS = 30
RETRY_EXPONENTIAL_BASE = 4
"""Retries wait 30 s + 4^n s: 34 s, 46 s, 94 s."""


@dataclass
class WorkerRuntime:
    """What the jobs of one worker process need (one per process, passed in, never global)."""

    settings: Settings
    locations: Locations
    workspace: str
    target: CentralTarget
    schedule: Schedule | None
    """When the periodic task queues the reviews (None: `sergas schedule` alone, no ticks)."""
    worker_name: str
    """'host:pid', recorded with each attempt."""
    say: Callable[[str], None] = field(default=lambda _text: None)
    """Tells the person running the worker what happens (one line per event)."""
    executor: Executor | None = None
    """The threads reviews run on (one per concurrent review); None: asyncio's default."""


@dataclass(frozen=True)
class ReviewResult:
    owner: str
    accounts: int
    landed: int
    recommendations: int
    zoho_calls: int
    seconds: float
    audit_warning: str | None = None
    digest: str | None = None
    """What the owner's digest did ([notifications] on), or why it could not be sent."""

    def text(self) -> str:
        return (
            f"{self.accounts} accounts, {self.recommendations} new recommendations, "
            f"{self.landed} landed in the queue, {self.zoho_calls} Zoho calls, "
            f"{self.seconds:.1f} s"
        )


NOT_RETRIED: tuple[type[SergasError], ...] = (
    ConfigError,
    SecretError,
    WorkspaceError,
    DatabaseCorruptError,
    DatabaseVersionError,
    CrmAuthError,
    CrmPermissionError,
)
"""Failures another attempt cannot cure: the set-up must change first. (Other storage errors,
such as a database that stayed locked, are retried.)"""


class ReviewRetry(BaseRetryStrategy):
    """procrastinate's :class:`RetryStrategy` with exponential backoff, except for problems
    another attempt cannot cure (:data:`NOT_RETRIED`: configuration, secrets, the workspace, a
    damaged database, a refused Zoho login or scope): those fail at once and are reported."""

    def __init__(self) -> None:
        self._inner = RetryStrategy(
            max_attempts=RETRY_ATTEMPTS - 1,
            wait=RETRY_WAIT_SECONDS,
            exponential_wait=RETRY_EXPONENTIAL_BASE,
        )

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, NOT_RETRIED):
            return None
        return self._inner.get_retry_decision(exception=exception, job=job)


PREPARE_WAIT_SECONDS = 15.0


def prepare_workspace(runtime: WorkerRuntime, *, wait: float = PREPARE_WAIT_SECONDS) -> None:
    """Open the workspace once before any job: a new workspace gets its database here, and a
    set-up that cannot work (a missing secret, a workspace of another kind) stops the command
    at once instead of failing every job.

    Several workers started together on a new workspace race to create its database; the ones
    that find it being created wait (up to ``wait`` seconds) until it is ready.
    """
    import time

    from sergas_tui.services import open_services
    from sergas_tui.storage import SCHEMA_VERSION
    from sergas_tui.storage.database import database_version

    database = runtime.locations.database_file(runtime.workspace)
    deadline = time.monotonic() + wait
    waiting = False
    while True:
        try:
            services = open_services(
                runtime.settings, runtime.locations, workspace=runtime.workspace
            )
        except WorkspaceError:
            # Only a database another process is creating or upgrading is worth waiting for
            # (and, once it is ready, one more try); any other workspace error stands.
            behind = database.exists() and database_version(database) < SCHEMA_VERSION
            if not (behind or waiting) or time.monotonic() > deadline:
                raise
            waiting = behind
            if behind:
                time.sleep(0.1)
            continue
        services.close()
        return


def describe_error(err: BaseException) -> str:
    """One line about a failure, for the attempt record and the worker's output."""
    if isinstance(err, SergasError):
        return f"{err.title}: {err.message}"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


async def review_owner(
    runtime: WorkerRuntime, owner: str, label: str | None = None
) -> ReviewResult:
    """Review one owner's accounts in the runtime's workspace (see the module docstring), on a
    thread of its own with its own event loop.

    The review does its short SQLite work on its loop's thread (``offload.run_inline``), and a
    review's memory and workspace writes hold a transaction open for up to a chunk. Two reviews
    on one thread would wait for each other's locks with that thread blocked, and the worker's
    heartbeats (on the worker's loop) would stall behind them; on their own threads they wait
    for each other as separate processes do, and the heartbeats keep going.
    """
    loop = asyncio.get_running_loop()
    who = label or owner
    return await loop.run_in_executor(runtime.executor, _review_in_thread, runtime, owner, who)


async def _retention(services: Services) -> None:
    """The local audit's retention, at most once a day, before a review (as `sergas review`
    does); a failure is logged and the review goes on."""
    try:
        report = await asyncio.to_thread(services.audit_retention)
    except SergasError as err:
        log.warning("audit_retention_failed", error=err.message)
        return
    if report is not None and report.rows_deleted:
        log.info("audit_retention_purged", rows=report.rows_deleted, cutoff=str(report.cutoff))


def _review_in_thread(runtime: WorkerRuntime, owner: str, who: str) -> ReviewResult:
    return asyncio.run(_review(runtime, owner, who))


async def _review(runtime: WorkerRuntime, owner: str, who: str) -> ReviewResult:
    from sergas_tui.agents.events import AccountFailed, RunFinished
    from sergas_tui.services import open_services

    services = open_services(runtime.settings, runtime.locations, workspace=runtime.workspace)
    finished: RunFinished | None = None
    failures: list[tuple[str, str]] = []
    digest: str | None = None
    try:
        try:
            await _retention(services)
            orchestrator = await services.orchestrator()
            async for event in orchestrator.review(owner):
                if isinstance(event, AccountFailed):
                    failures.append((event.account_name, event.error))
                elif isinstance(event, RunFinished):
                    finished = event
            if finished is not None and not finished.summary.failed:
                digest = await _digest(services, owner)
        finally:
            await services.aclose()
        warning = _sync_audit(services)
    finally:
        services.close()
    if finished is None:
        raise ReviewIncomplete(f"The review of {who} ended without finishing its run.")
    summary = finished.summary
    if summary.failed:
        shown = "; ".join(f"{name}: {error.rstrip('.')}" for name, error in failures[:3])
        more = f" (and {summary.failed - 3} more)" if summary.failed > 3 else ""
        raise ReviewIncomplete(
            f"{summary.failed} of {summary.accounts} accounts of {who} failed — {shown}{more}. "
            "The others were reviewed; the owner is tried again."
        )
    return ReviewResult(
        owner=owner,
        accounts=summary.accounts,
        landed=summary.landed,
        recommendations=summary.recommendations,
        zoho_calls=summary.calls,
        seconds=summary.seconds,
        audit_warning=warning,
        digest=digest,
    )


async def _digest(services: Services, owner: str) -> str | None:
    """After a good review: the owner's one digest of their queue, when notifications are on
    (``notify/``). A failure is told, never the job's: the review stands, and the next
    review's digest lists the queue again."""
    from sergas_tui.notify.channels import enabled
    from sergas_tui.notify.digest import send_digest

    if not enabled(services.settings):
        return None
    try:
        report = await send_digest(services, owner)
    except SergasError as err:
        log.warning("digest_failed", error=err.message)
        return f"the digest could not be sent ({err.title}: {err.message})"
    return report.text()


def send_due_notices(runtime: WorkerRuntime) -> str | None:
    """Escalations and expiry notices that are due (each sent once), on a thread of their own
    like a review; None when notifications are off or nothing was due. Never raises: a
    failure is the text."""
    from sergas_tui.notify.channels import enabled
    from sergas_tui.notify.notices import send_notices
    from sergas_tui.services import open_services

    if not enabled(runtime.settings):
        return None

    async def send() -> str | None:
        services = open_services(runtime.settings, runtime.locations, workspace=runtime.workspace)
        try:
            report = await send_notices(services)
            return "; ".join(report.lines()) if report.sent else None  # quiet minutes stay quiet
        finally:
            await services.aclose()
            services.close()

    try:
        return asyncio.run(send())
    except SergasError as err:
        log.warning("notices_failed", error=err.message)
        return f"notices could not be sent ({err.title}: {err.message})"


def _sync_audit(services: Services) -> str | None:
    """Send the audit outbox (blocking); a failure is returned as a warning, never raised."""
    if not services.central_audit_configured:
        return None
    try:
        services.sync_central_audit()
    except SergasError as err:
        log.warning("central_sync_failed", error=err.message)
        return (
            f"the central audit sync failed ({err.title}: {err.message}); the rows wait in the "
            "workspace's outbox for the next sync"
        )
    return None
