"""`sergas worker` and `sergas schedule`: team mode's review workers and their scheduling.

Both are top-level commands, added to the root app by :mod:`sergas_tui.cli.main`; they share
how a worker's workspace is found and prepared, so they live together. Like the other CLI
modules this one imports only Typer and Rich at module level; the job engine (procrastinate,
psycopg) loads when one of these commands runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from sergas_tui.cli.common import State, metrics_served, out, state_of
from sergas_tui.errors import ConfigError, WorkspaceError

if TYPE_CHECKING:
    from sergas_tui.config import Settings
    from sergas_tui.team.scheduling import ScheduleReport


def say(text: str) -> None:
    """One line of what a worker does, with the local time."""
    out.print(Text(f"{datetime.now():%H:%M:%S} {text}"), soft_wrap=True)


def _workspace(state: State, settings: Settings) -> str:
    """The workspace the jobs run in; a demo workspace must have its demo CRM already."""
    name = state.workspace_name(settings)
    if settings.zoho.resolved_mode() == "demo" and not state.locations.demo_crm_file(name).exists():
        raise WorkspaceError(
            f"The workspace {name!r} has no demo CRM yet, so a worker has nothing to review. "
            f"Create it with `sergas --workspace {name} demo generate` (or configure Zoho), "
            "then start the worker again."
        )
    return name


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=32,
            help="Reviews this process runs at once (reviews are CPU-bound: prefer more "
            "worker processes to a higher concurrency).",
        ),
    ] = 1,
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle",
            "--once",
            help="Run the reviews queued now, then exit when none is left to run.",
        ),
    ] = False,
    no_schedule: Annotated[
        bool,
        typer.Option(
            "--no-schedule",
            help="Do not queue the scheduled reviews at [orchestrator] schedule_cron (leave "
            "scheduling to cron and `sergas schedule`).",
        ),
    ] = False,
    stalled_after: Annotated[
        float,
        typer.Option(
            min=3.0,
            max=3600.0,
            help="Seconds without a heartbeat after which a worker counts as dead and its "
            "review is run again (every worker should use the same value).",
        ),
    ] = 30.0,
    migrate_only: Annotated[
        bool,
        typer.Option(
            "--migrate-only",
            help="Only create or upgrade the job queue's tables (as the schema's owner role).",
        ),
    ] = False,
    grant_to: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-to",
            help="With --migrate-only: let this database role run workers and `sergas "
            "schedule` (repeatable).",
        ),
    ] = None,
) -> None:
    """Run review jobs from the team's queue (team mode: needs [central] dsn).

    One job reviews one owner, exactly as `sergas review --owner EMAIL`, in this machine's
    workspace; several workers (here or on other machines) share the queue, and one owner is
    never reviewed by two at once. Unless --no-schedule, the workers also queue every owner's
    review at [orchestrator] schedule_cron. Ctrl+C stops after the running reviews.
    """
    import asyncio
    import os
    import socket

    from sergas_tui.secrets import SecretStore
    from sergas_tui.team.cron import parse_schedule
    from sergas_tui.team.db import queue_target
    from sergas_tui.team.review_job import WorkerRuntime, prepare_workspace
    from sergas_tui.team.runner import WorkerOptions, run_worker
    from sergas_tui.team.schema import ensure_schema, grant_worker_role
    from sergas_tui.team.stalled import retry_bound

    state = state_of(ctx)
    settings = state.settings()
    target = queue_target(settings, SecretStore())
    if grant_to and not migrate_only:
        raise ConfigError("--grant-to goes with --migrate-only.", title="Bad arguments")
    if migrate_only:
        report = ensure_schema(target, migrate="only")
        before = report.from_version or "none"
        out.print(
            f"Job queue tables at version {report.to_version} (was {before}) in "
            f"{target.describe()}.",
            markup=False,
        )
        for role in grant_to or ():
            grant_worker_role(target, role)
            out.print(f"The role {role!r} may now run workers and `sergas schedule`.")
        return
    orchestrator = settings.orchestrator
    schedule = parse_schedule(orchestrator.schedule_cron, orchestrator.schedule_timezone)
    workspace = _workspace(state, settings)
    ensure_schema(target)
    runtime = WorkerRuntime(
        settings=settings,
        locations=state.locations,
        workspace=workspace,
        target=target,
        schedule=schedule,
        worker_name=f"{socket.gethostname()}:{os.getpid()}",
        say=say,
    )
    prepare_workspace(runtime)
    options = WorkerOptions(
        concurrency=concurrency,
        until_idle=until_idle,
        periodic=not no_schedule,
        stalled_after=stalled_after,
    )
    if until_idle:
        plan = "runs the queued reviews, then exits"
    elif no_schedule:
        plan = "runs reviews as they are queued (scheduling left to `sergas schedule`)"
    else:
        nxt = schedule.next_after(datetime.now().astimezone())
        plan = (
            f"runs reviews as they are queued; next scheduled run {nxt:%Y-%m-%d %H:%M} "
            f"({schedule.describe()})"
        )
    say(
        f"Worker {runtime.worker_name} on {target.describe()}, workspace {workspace!r}, "
        f"{concurrency} at a time: {plan}. A killed worker's review runs again within "
        f"{retry_bound(stalled_after):.0f} s."
    )
    with metrics_served(settings):
        asyncio.run(run_worker(runtime, options))
    if until_idle:
        say("Nothing left to run: stopping.")


def schedule(
    ctx: typer.Context,
    owners: Annotated[
        list[str] | None,
        typer.Option(
            "--owner",
            help="Queue only this owner's review (e-mail; repeat for several). Default: "
            "every owner of an account in the CRM.",
        ),
    ] = None,
) -> None:
    """Queue one review job per owner for the workers (team mode: needs [central] dsn).

    Owners whose accounts changed since their last good review come first. An owner whose
    review is already queued or running is not queued again.
    """
    import asyncio
    import getpass
    import socket

    from sergas_tui.secrets import SecretStore
    from sergas_tui.team.db import queue_target
    from sergas_tui.team.jobs import build_app
    from sergas_tui.team.records import start_manual_run
    from sergas_tui.team.review_job import WorkerRuntime, prepare_workspace
    from sergas_tui.team.runner import connection_errors
    from sergas_tui.team.scheduling import schedule_reviews
    from sergas_tui.team.schema import ensure_schema

    state = state_of(ctx)
    settings = state.settings()
    target = queue_target(settings, SecretStore())
    workspace = _workspace(state, settings)
    ensure_schema(target)
    runtime = WorkerRuntime(
        settings=settings,
        locations=state.locations,
        workspace=workspace,
        target=target,
        schedule=None,
        worker_name=f"{getpass.getuser()}@{socket.gethostname()}",
    )
    prepare_workspace(runtime)

    async def queue() -> ScheduleReport:
        app = build_app(runtime, pool_size=2)
        with connection_errors(runtime):
            async with app.open_async():
                run_id = await start_manual_run(app.connector, runtime.worker_name)
                return await schedule_reviews(app, runtime, run_id=run_id, wanted=owners or ())

    report = asyncio.run(queue())
    _print_report(report)


def _print_report(report: ScheduleReport) -> None:
    """One line per owner in the order their reviews run, then the totals."""
    why = {id(owner): reason for owner, reason in report.skipped}
    for number, owner in enumerate(report.owners, 1):
        last = owner.last_reviewed
        if last is None:
            state = "never reviewed"
        else:
            state = f"{owner.changed_accounts} changed since {last.astimezone():%Y-%m-%d %H:%M}"
        out.print(
            Text(
                f"{number:>3}. {owner.label()} — {owner.accounts} accounts, {state}: "
                f"{why.get(id(owner), 'queued')}"
            ),
            soft_wrap=True,
        )
    out.print(Text(report.text()), soft_wrap=True)
