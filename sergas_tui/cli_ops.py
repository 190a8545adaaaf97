"""The operational commands of `sergas`: review, export, memory, approvals, audit, mcp.

They register on the root Typer app of :mod:`sergas_tui.cli` (which imports this module).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from sergas_tui.cli_common import (
    State,
    app,
    approvals_app,
    audit_app,
    err_console,
    export_app,
    mcp_app,
    memory_app,
    metrics_served,
    out,
    state_of,
)
from sergas_tui.errors import ConfigError, SergasError
from sergas_tui.widgets.text import clean

if TYPE_CHECKING:
    from sergas_tui.audit.central import MigratePolicy, SyncReport
    from sergas_tui.audit.central_conn import CentralTarget
    from sergas_tui.audit.retention import LocalPurgeReport
    from sergas_tui.config import Settings
    from sergas_tui.memory.store import MemoryStore
    from sergas_tui.storage import Repository

_state = state_of


def _common(state: State) -> dict[str, Any]:
    """The arguments every command body takes: settings, locations, console, workspace."""
    return {
        "settings": state.settings(),
        "locations": state.locations,
        "console": out,
        "workspace": state.workspace,
    }


# --- review and export ----------------------------------------------------------------


@app.command()
def review(
    ctx: typer.Context,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Review this owner's accounts (email).")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Review every owner's accounts.")] = False,
    engine: Annotated[
        str | None, typer.Option("--engine", help="rules (offline) or claude.")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the owner brief(s) as JSON here.")
    ] = None,
    markdown_dir: Annotated[
        Path | None, typer.Option("--markdown", help="Write one Markdown brief per owner here.")
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            help="Write the review's Prometheus metrics here at the end (textfile collector "
            "format; default [monitoring] metrics_file).",
        ),
    ] = None,
) -> None:
    """Run a review headless: sync, signals, memory, recommendations (pending approval), brief."""
    from sergas_tui.review_cli import review_command

    if engine is not None and engine not in ("rules", "claude"):
        raise ConfigError(f"--engine must be 'rules' or 'claude', not {engine!r}.")
    state = _state(ctx)
    _retention_quietly(state)
    code = review_command(
        **_common(state),
        owner=owner,
        everyone=everyone,
        engine=engine,
        json_file=json_file,
        markdown_dir=markdown_dir,
        metrics_file=metrics_file,
    )
    _sync_quietly(state)
    raise typer.Exit(code)


def _retention_quietly(state: State) -> None:
    """Before a headless review: purge local audit rows past [auditing] retention_days, at most
    once a UTC day (audit/retention.py). A failure only warns: the review still runs."""
    from sergas_tui.audit.retention import purge_local_if_due
    from sergas_tui.domain import utc_now
    from sergas_tui.storage import Repository

    settings = state.settings()
    database = state.locations.database_file(state.workspace_name(settings))
    if not database.exists():
        return
    try:
        with Repository.open(database) as repository:
            report = purge_local_if_due(
                repository,
                retention_days=settings.auditing.retention_days,
                keep_unsynced=bool(settings.central.dsn),
                now=utc_now(),
            )
    except SergasError as err:
        err_console.print(
            Text(f"Warning: the local audit retention did not run ({err.title}): {err.message}"),
            soft_wrap=True,
        )
        return
    if report is not None and report.rows_deleted:
        err_console.print(Text(_purged_text(report)), soft_wrap=True)


def _purged_text(report: LocalPurgeReport) -> str:
    start = report.start
    event = report.event
    recorded = (
        f"the purge of {event.timestamp.astimezone(UTC):%Y-%m-%d %H:%M} UTC (seq {event.seq})"
        if event is not None
        else "-"
    )
    text = (
        f"Purged {report.rows_deleted:,} local audit rows older than "
        f"{report.cutoff:%Y-%m-%d %H:%M} UTC; the chain now starts at seq "
        f"{start.seq if start else 1}; recorded as {recorded}."
    )
    if not report.compacted:
        text += (
            " The database could not be compacted now (another process was reading it): the "
            "purged rows' text leaves the file at the next compaction."
        )
    return text


def _sync_quietly(state: State) -> None:
    """After a headless review (or a purge): send the outbox to the central audit when one is
    configured. A failure only warns: the rows stay in the local outbox for the next sync."""
    settings = state.settings()
    if not settings.central.dsn:
        return
    try:
        report = _run_sync(state, settings)
    except SergasError as err:
        err_console.print(
            Text(
                f"Warning: the central audit sync failed ({err.title}): {err.message} The review "
                "is complete; its audit rows stay in the local outbox until `sergas audit sync`.",
                style="yellow",
            ),
            soft_wrap=True,
        )
        return
    err_console.print(Text(f"Central audit: {report.summary()}."), soft_wrap=True)


@export_app.command("brief")
def export_brief(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")],
    owner: Annotated[str | None, typer.Option("--owner", help="Owner email.")] = None,
) -> None:
    """Write an owner's brief to Markdown: the queue and statuses as they are now."""
    from sergas_tui.review_cli import export_brief_command

    state = _state(ctx)
    code = export_brief_command(
        **_common(state),
        owner=owner,
        out=out_file,
    )
    raise typer.Exit(code)


# --- memory -------------------------------------------------------------------------------


def _with_memory(
    ctx: typer.Context, use: Callable[[MemoryStore], Coroutine[Any, Any, None]]
) -> None:
    import asyncio

    from sergas_tui.services import open_services

    state = _state(ctx)
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    async def run() -> None:
        try:
            await use(services.memory())
        finally:
            await services.aclose()

    try:
        asyncio.run(run())
    finally:
        services.close()


@memory_app.command("search")
def memory_search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
) -> None:
    """Ranked full-text search over notes, key events, commitments and recommendations."""
    from rich.table import Table

    async def use(memory: MemoryStore) -> None:
        hits = await memory.search(query, account_id=account, limit=limit)
        table = Table("score", "account", "kind", "date", "what")
        table.columns[1].no_wrap = True
        table.columns[1].min_width = 19
        for hit in hits:
            table.add_row(
                Text(f"{hit.score:.2f}"),
                Text(hit.account_id),
                Text(hit.kind),
                Text(str(hit.date or "")),
                Text(clean(f"{hit.title}: {hit.snippet}", single_line=True, limit=120)),
            )
        out.print(table if hits else Text("No matches."))

    _with_memory(ctx, use)


@memory_app.command("forget")
def memory_forget(
    ctx: typer.Context,
    account_id: Annotated[str, typer.Argument(help="The Zoho account id to forget.")],
) -> None:
    """Remove everything memory holds about one account (right to be forgotten)."""

    async def use(memory: MemoryStore) -> None:
        removed = await memory.forget(account_id)
        out.print(f"Forgot account {account_id}: {removed} items removed.", markup=False)

    _with_memory(ctx, use)


@memory_app.command("ingest")
def memory_ingest(ctx: typer.Context) -> None:
    """Backfill memory from a full sync of every account (Cognee: the local memory file first)."""
    import asyncio

    from rich.progress import Progress

    from sergas_tui.agents.scout import DataScout
    from sergas_tui.memory.factory import ingest_workspace
    from sergas_tui.memory.schema import memory_path
    from sergas_tui.services import open_services

    state = _state(ctx)
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    async def run() -> None:
        try:
            crm = await services.crm()
            batch = await crm.sync(modified_since=None)
            scout = DataScout(crm, services.store, services.settings.signals, services.clock)
            facts = await scout.scout(batch, previous={}, stage_history_budget=0)
            memory = services.memory()
            with Progress(console=out, transient=True) as bar:
                task = bar.add_task("Ingesting accounts", total=len(facts))
                report = await ingest_workspace(
                    memory,
                    facts,
                    local_file=memory_path(state.locations.database_file(services.workspace)),
                    progress=lambda n: bar.advance(task, n),
                )
            out.print(
                f"Ingested {report.accounts} accounts in {report.seconds:.1f} s.", markup=False
            )
        finally:
            await services.aclose()

    try:
        asyncio.run(run())
    finally:
        services.close()


@memory_app.command("reindex")
def memory_reindex(ctx: typer.Context) -> None:
    """Re-embed Cognee memory with the configured embedder (after changing it)."""
    import asyncio

    from sergas_tui.clock import SystemClock
    from sergas_tui.memory.factory import reindex

    state = _state(ctx)
    settings = state.settings()
    if settings.memory.backend != "cognee" or settings.memory.endpoint:
        out.print(
            "Nothing to re-embed: only the Cognee backend ([memory] backend = 'cognee') stores "
            "embeddings in this workspace.",
            markup=False,
        )
        return
    workspace = state.workspace_name(settings)
    count = asyncio.run(reindex(settings, state.locations, workspace, SystemClock()))
    out.print(f"Re-embedded {count} memory items.", markup=False)


@memory_app.command("stats")
def memory_stats(ctx: typer.Context) -> None:
    """What memory holds: items per kind and the newest ingest."""
    from rich.table import Table

    async def use(memory: MemoryStore) -> None:
        table = Table("what", "count")
        for key, value in (await memory.stats()).items():
            table.add_row(Text(str(key)), Text(str(value)))
        out.print(table)

    _with_memory(ctx, use)


# --- approvals and audit --------------------------------------------------------------

_AS_HELP = (
    "Who decides (recorded in the audit log); default: your OS user name. In team mode the "
    "decider is the person your OS account maps to, and another name is refused."
)


@approvals_app.command("list")
def approvals_list(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Owner email (default: you).")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every owner's approvals.")] = False,
) -> None:
    """Pending approvals, with their ids."""
    from sergas_tui.approvals_cli import list_command

    state = _state(ctx)
    raise typer.Exit(
        list_command(
            **_common(state),
            owner=owner,
            show_all_owners=everyone,
        )
    )


@approvals_app.command("more")
def approvals_more(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Owner email (default: you).")] = None,
) -> None:
    """What waits beyond today's budget ("more, lower priority"), best first."""
    from sergas_tui.queue_cli import more_command

    state = _state(ctx)
    raise typer.Exit(more_command(**_common(state), owner=owner))


@approvals_app.command("pull")
def approvals_pull(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(help="The id (or its first 8 characters) from `more`.")],
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
) -> None:
    """Take an item from "more, lower priority" into your approvals queue now."""
    from sergas_tui.queue_cli import pull_command

    state = _state(ctx)
    raise typer.Exit(pull_command(**_common(state), ident=ident, actor=actor))


@approvals_app.command("show")
def approvals_show(ctx: typer.Context, ident: Annotated[str, typer.Argument()]) -> None:
    """The exact write an approval would make."""
    from sergas_tui.approvals_cli import show_command

    state = _state(ctx)
    raise typer.Exit(show_command(**_common(state), ident=ident))


def _decide(
    ctx: typer.Context,
    ident: str,
    decision: str,
    actor: str | None,
    reason: str | None,
    payload: Path | None = None,
    execute: bool = True,
    not_useful: bool = False,
) -> None:
    from sergas_tui.approvals_cli import decide_command

    state = _state(ctx)
    raise typer.Exit(
        decide_command(
            **_common(state),
            ident=ident,
            decision=decision,
            given_actor=actor,
            reason=reason,
            payload_file=payload,
            execute=execute,
            not_useful=not_useful,
        )
    )


@approvals_app.command("approve")
def approvals_approve(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
    execute: Annotated[bool, typer.Option(help="Write to the CRM right away.")] = True,
) -> None:
    """Approve, then write it to the CRM exactly once."""
    _decide(ctx, ident, "approve", actor, reason, execute=execute)


@approvals_app.command("reject")
def approvals_reject(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
    not_useful: Annotated[
        bool,
        typer.Option(
            "--not-useful",
            help="Not worth your time: later reviews show you less of this kind of item.",
        ),
    ] = False,
) -> None:
    """Reject: nothing is written."""
    _decide(ctx, ident, "reject", actor, reason, not_useful=not_useful)


@approvals_app.command("adjust")
def approvals_adjust(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    payload: Annotated[Path, typer.Option("--payload", help="JSON file with the edited action.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
    execute: Annotated[bool, typer.Option(help="Write to the CRM right away.")] = True,
) -> None:
    """Approve with edits (validated against the action type), then write it."""
    _decide(ctx, ident, "adjust", actor, reason, payload, execute)


@approvals_app.command("undo")
def approvals_undo(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument()],
    actor: Annotated[str | None, typer.Option("--as", help=_AS_HELP)] = None,
) -> None:
    """Undo a decision that has not been executed yet."""
    _decide(ctx, ident, "undo", actor, None)


@approvals_app.command("execute")
def approvals_execute(ctx: typer.Context) -> None:
    """Finish interrupted writes and write every approved action not yet written."""
    from sergas_tui.approvals_cli import execute_command

    state = _state(ctx)
    raise typer.Exit(
        execute_command(
            **_common(state),
        )
    )


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote", help="Also compare the local chain with the central audit (PostgreSQL)."
        ),
    ] = False,
) -> None:
    """Check the hash chain; names any edited, deleted or reordered row (exit 1)."""
    from sergas_tui.approvals_cli import verify_command

    state = _state(ctx)
    code = verify_command(**_common(state))
    if remote:
        code = max(code, _verify_remote(state))
    raise typer.Exit(code)


# --- central audit ---------------------------------------------------------------------


def _central(state: State, settings: Settings) -> tuple[Repository, CentralTarget, str]:
    """The workspace database, the configured central target and the workspace name."""
    from sergas_tui.audit.central_conn import target_from_settings
    from sergas_tui.secrets import SecretStore
    from sergas_tui.storage import Repository

    target = target_from_settings(settings.central, SecretStore())
    name = state.workspace_name(settings)
    return Repository.open(state.locations.database_file(name)), target, name


def _run_sync(
    state: State,
    settings: Settings,
    *,
    migrate: MigratePolicy = "auto",
    batch_size: int | None = None,
) -> SyncReport:
    from sergas_tui.audit.central import sync_once

    repository, target, name = _central(state, settings)
    try:
        return sync_once(
            repository,
            target,
            workspace=name,
            batch_size=batch_size or settings.auditing.sync_batch_size,
            migrate=migrate,
        )
    finally:
        repository.close()


@audit_app.command("sync")
def audit_sync(
    ctx: typer.Context,
    migrate_only: Annotated[
        bool,
        typer.Option(
            "--migrate-only",
            help="Only create or upgrade the central schema (needs the owner role).",
        ),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Rows per batch (default: [auditing])."),
    ] = None,
) -> None:
    """Send the local audit outbox to the central PostgreSQL ([central] dsn)."""
    from sergas_tui.audit.central import outbox_status
    from sergas_tui.audit.central_schema import CENTRAL_SCHEMA_VERSION
    from sergas_tui.storage import Repository

    state = _state(ctx)
    settings = state.settings()
    report = _run_sync(
        state, settings, migrate="only" if migrate_only else "auto", batch_size=batch_size
    )
    if migrate_only:
        schema = report.schema
        before = "none" if schema is None or not schema.from_version else schema.from_version
        out.print(
            f"Central audit schema at v{CENTRAL_SCHEMA_VERSION} (was {before}).", markup=False
        )
        return
    out.print(f"Central audit: {report.summary()}.", markup=False)
    with Repository.open(state.locations.database_file(state.workspace_name(settings))) as repo:
        status = outbox_status(repo)
    if status.pending_rows:
        out.print(f"{status.pending_rows:,} rows still pending.", markup=False)


def _verify_remote(state: State) -> int:
    from sergas_tui.audit.central_verify import verify_remote

    settings = state.settings()
    repository, target, _ = _central(state, settings)
    try:
        result = verify_remote(repository, target, retention_days=settings.auditing.retention_days)
    finally:
        repository.close()
    counts = (
        f"{result.local_rows:,} local rows, {result.central_rows:,} central rows, "
        f"{result.pending:,} not yet synced, {result.expired:,} past retention"
    )
    if result.ok:
        out.print(Text(f"Central audit matches the local chain ({counts}).", style="green"))
        return 0
    out.print(
        Text(
            f"Central audit DIFFERS from the local chain ({counts}); "
            f"{len(result.differences)} differences:",
            style="bold red",
        )
    )
    for difference in result.differences:
        out.print(Text(f"  {difference.kind}: {difference.message}"))
    return 1


@audit_app.command("purge")
def audit_purge(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Purge the local audit log instead (rows older than retention_days; with a "
            "central audit, only rows already synced).",
        ),
    ] = False,
) -> None:
    """Delete central audit rows older than [auditing] retention_days (owner role) and finish
    pending account erasures there; --local: the local log. Audited."""
    from sergas_tui.audit.central import purge_central
    from sergas_tui.audit.erasure import apply_central_erasures, pending_erasures

    state = _state(ctx)
    settings = state.settings()
    days = settings.auditing.retention_days
    if local:
        _purge_local(state, settings, yes=yes)
        return
    repository, target, _ = _central(state, settings)
    try:
        if not yes and not typer.confirm(
            f"Delete central audit rows older than {days} days from {target.describe()}?"
        ):
            raise typer.Abort()
        if pending_erasures(repository):
            erased = apply_central_erasures(repository, target)
            out.print(
                f"Finished {erased.erasures} account erasures in the central audit: "
                f"{erased.audit_rows_erased} rows erased, {erased.outcome_versions_deleted} "
                f"outcome versions and {erased.team_records_deleted} team records deleted.",
                markup=False,
            )
        report = purge_central(repository, target, retention_days=days)
    finally:
        repository.close()
    out.print(
        f"Purged {report.audit_rows_deleted:,} audit rows and "
        f"{report.outcome_versions_deleted:,} outcome versions older than "
        f"{report.cutoff:%Y-%m-%d %H:%M} UTC; recorded as audit event {report.audit_event.id}.",
        markup=False,
    )
    _sync_quietly(state)


def _purge_local(state: State, settings: Settings, *, yes: bool) -> None:
    from sergas_tui.audit.retention import purge_local
    from sergas_tui.domain import utc_now
    from sergas_tui.storage import Repository

    days = settings.auditing.retention_days
    database = state.locations.database_file(state.workspace_name(settings))
    if not yes and not typer.confirm(
        f"Delete local audit rows older than {days} days from {database}?"
    ):
        raise typer.Abort()
    with Repository.open(database) as repository:
        report = purge_local(
            repository,
            retention_days=days,
            keep_unsynced=bool(settings.central.dsn),
            now=utc_now(),
        )
    if not report.rows_deleted:
        out.print(
            f"No local audit rows older than {report.cutoff:%Y-%m-%d %H:%M} UTC to purge.",
            markup=False,
        )
        return
    out.print(_purged_text(report), markup=False)
    _sync_quietly(state)


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option(help="Only rows at or after this date/time (UTC).")
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
) -> None:
    """Export the audit log as JSON lines."""
    from sergas_tui.approvals_cli import export_command

    state = _state(ctx)
    when = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
    raise typer.Exit(
        export_command(
            **_common(state),
            since=when,
            out=out_file,
        )
    )


# --- mcp ----------------------------------------------------------------------------------

HttpPort = Annotated[
    int | None,
    typer.Option(
        "--http",
        min=1,
        max=65_535,
        help="Serve streamable HTTP on this port (bearer token: mcp_server_token).",
    ),
]
HttpHost = Annotated[str, typer.Option(help="Address for --http.")]


@mcp_app.command("zoho")
def mcp_zoho(
    ctx: typer.Context,
    http: HttpPort = None,
    host: HttpHost = "127.0.0.1",
) -> None:
    """Serve the Zoho tool catalog over MCP (stdio by default) for this workspace's CRM.

    The server serves the workspace's own CRM (the demo org, or Zoho REST), never another MCP
    server. Write tools need a recorded approval: in the central database when [central]
    dsn is set (shared by a team's servers), otherwise registered by the app with this
    server.
    """
    import asyncio

    from sergas_tui.crm.approval_gate import ApprovalGate, GrantStore
    from sergas_tui.crm.mcp_server import build_zoho_server, run_http, run_stdio
    from sergas_tui.secrets import SecretName, SecretStore
    from sergas_tui.services import open_services
    from sergas_tui.storage.grants import LocalGrantStore

    state = _state(ctx)
    settings = state.settings()
    token = None
    if http is not None:
        token = SecretStore().require(
            SecretName.MCP_SERVER_TOKEN, "Serving the Zoho MCP server over HTTP"
        )
    services = open_services(settings, state.locations, workspace=state.workspace, serving=True)
    store: GrantStore
    if services.central_audit_configured:
        from sergas_tui.audit.central_conn import target_from_settings
        from sergas_tui.audit.central_grants import CentralGrantStore

        store = CentralGrantStore(target_from_settings(services.settings.central, services.secrets))
    else:
        store = LocalGrantStore(services.store)
    gate = ApprovalGate(
        store,
        clock=services.clock,
        audit=services.store.append_audit,
        accepts_registration=not services.central_audit_configured,
    )

    async def serve() -> None:
        try:
            server = build_zoho_server(await services.crm_gateway(), gate)
            if token is None:
                await run_stdio(server)
            else:

                def ready(url: str) -> None:
                    err_console.print(f"Zoho MCP server on {url}", markup=False, soft_wrap=True)

                await run_http(
                    server, host, http or 0, bearer_token=token.get_secret_value(), ready=ready
                )
        finally:
            await services.aclose()

    try:
        with metrics_served(services.settings):
            asyncio.run(serve())
    finally:
        services.close()


@mcp_app.command("memory")
def mcp_memory(
    ctx: typer.Context,
    http: HttpPort = None,
    host: HttpHost = "127.0.0.1",
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="Offer only the four read tools (the Memory Analyst's)."),
    ] = False,
) -> None:
    """Serve the cognee_* memory tools over MCP (stdio by default) for this workspace's memory."""
    import asyncio

    from sergas_tui.memory.mcp_server import run_memory_server
    from sergas_tui.secrets import SecretName, SecretStore
    from sergas_tui.services import open_services

    state = _state(ctx)
    token = None
    if http is not None:
        secret = SecretStore().require(
            SecretName.MCP_SERVER_TOKEN, "Serving the memory MCP server over HTTP"
        )
        token = secret.get_secret_value()
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    def ready(url: str) -> None:
        err_console.print(f"Memory MCP server on {url}", markup=False, soft_wrap=True)

    try:
        with metrics_served(services.settings):
            asyncio.run(
                run_memory_server(
                    services.memory(),
                    http_port=http,
                    token=token,
                    read_only=read_only,
                    host=host,
                    clock=services.clock,
                    ready=ready,
                )
            )
    finally:
        services.close()
