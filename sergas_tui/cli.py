"""The `sergas` command line (Typer). With no command it opens the TUI.

Every ``SergasError`` is printed as one paragraph on stderr and turned into its exit code (2 for
configuration, secrets and storage problems); nothing prints a traceback at a user.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sergas_tui import __version__
from sergas_tui.config import Settings, default_config_text, load_settings
from sergas_tui.doctor import Check, run_checks
from sergas_tui.errors import ConfigError, SergasError, WorkspaceError
from sergas_tui.locations import Locations, validate_workspace_name
from sergas_tui.logs import configure_logging, get_logger
from sergas_tui.secrets import SecretName, SecretStore, parse_secret_name
from sergas_tui.widgets.text import clean

if TYPE_CHECKING:
    from sergas_tui.memory.store import MemoryStore

DEFAULT_DEMO_ACCOUNTS = 5000
DEFAULT_DEMO_OWNERS = 50
DEFAULT_DEMO_SEED = 7

app = typer.Typer(
    name="sergas",
    help="Account reviews for account executives: Zoho CRM, agents, approvals, audit.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Show or create the configuration file.", no_args_is_help=True)
auth_app = typer.Typer(help="Store credentials in the OS keyring.", no_args_is_help=True)
demo_app = typer.Typer(help="The generated demo workspace.", no_args_is_help=True)
mcp_app = typer.Typer(help="Run Sergas's MCP servers.", no_args_is_help=True)
export_app = typer.Typer(help="Export briefs.", no_args_is_help=True)
memory_app = typer.Typer(help="The workspace's account memory.", no_args_is_help=True)
approvals_app = typer.Typer(
    help="Decide proposed CRM writes without the TUI.", no_args_is_help=True
)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(auth_app, name="auth")
app.add_typer(demo_app, name="demo")
app.add_typer(mcp_app, name="mcp")
app.add_typer(export_app, name="export")
app.add_typer(memory_app, name="memory")
app.add_typer(approvals_app, name="approvals")
app.add_typer(audit_app, name="audit")

out = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
log = get_logger("sergas.cli")


class State:
    """Per-invocation state shared by the commands (set by the root callback)."""

    def __init__(self, workspace: str | None) -> None:
        self.workspace = workspace
        self.locations = Locations.from_env()

    def settings(self) -> Settings:
        return load_settings(self.locations)

    def workspace_name(self, settings: Settings) -> str:
        return self.workspace or settings.workspace_name()


def _state(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state


def _version(value: bool) -> None:
    if value:
        out.print(f"sergas {__version__}", markup=False)
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="Workspace to open (default: demo, or your org)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Open the Sergas terminal app (or run one of the commands below)."""
    if workspace is not None:
        validate_workspace_name(workspace)
    state = State(workspace)
    ctx.obj = state
    settings = state.settings()
    configure_logging(state.locations.log_file, settings.auditing.log_level)
    if ctx.invoked_subcommand is None:
        _run_tui(state, settings)


def _run_tui(state: State, settings: Settings) -> None:
    from sergas_tui.app import make_app
    from sergas_tui.services import open_services

    name = state.workspace_name(settings)
    if settings.zoho.resolved_mode() == "demo":
        _ensure_demo(state.locations, name)
    services = open_services(settings, state.locations, workspace=name)
    try:
        make_app(settings, services).run()
    finally:
        services.close()


def _ensure_demo(locations: Locations, workspace: str) -> None:
    if locations.demo_crm_file(workspace).exists():
        return
    err_console.print(
        f"First run: generating the demo workspace {workspace!r} "
        f"({DEFAULT_DEMO_ACCOUNTS:,} accounts, {DEFAULT_DEMO_OWNERS} owners)…",
        markup=False,
    )
    _generate(locations, workspace, DEFAULT_DEMO_ACCOUNTS, DEFAULT_DEMO_OWNERS, DEFAULT_DEMO_SEED)


def _generate(locations: Locations, workspace: str, accounts: int, owners: int, seed: int) -> None:
    from sergas_tui.demo import generate

    path = locations.demo_crm_file(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    with err_console.status("Generating the demo CRM…"):
        info = generate(path, accounts=accounts, owners=owners, seed=seed, now=started)
    seconds = (datetime.now(UTC) - started).total_seconds()
    log.info("demo_generated", workspace=workspace, accounts=accounts, owners=owners, seed=seed)
    out.print(
        f"Demo workspace {workspace!r}: {info.accounts:,} accounts, {info.owners} owners "
        f"(seed {info.seed}) in {seconds:.1f} s → {path}. You are {info.current_user_email}.",
        markup=False,
    )


# --- config -------------------------------------------------------------------------------


@config_app.command("path")
def config_path(ctx: typer.Context) -> None:
    """Print where the configuration file is (it need not exist)."""
    out.print(str(_state(ctx).locations.config_file), markup=False, soft_wrap=True)


@config_app.command("init")
def config_init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the default instead of writing it.")
    ] = False,
) -> None:
    """Write a commented default configuration covering every setting."""
    text = default_config_text()
    if print_only:
        out.print(text, markup=False, end="")
        return
    path = _state(ctx).locations.config_file
    if path.exists() and not force:
        raise SergasError(
            f"{path} already exists; it was left unchanged. Use --force to replace it with the "
            "default, or --print to see the default.",
            title="Configuration exists",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    out.print(f"Wrote {path}", markup=False)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective configuration (file + environment) as JSON."""
    settings = _state(ctx).settings()
    out.print_json(settings.model_dump_json())


# --- auth ---------------------------------------------------------------------------------

_NAMES_HELP = ", ".join(n.value for n in SecretName)


@auth_app.command("set")
def auth_set(
    name: Annotated[str, typer.Argument(help=f"One of: {_NAMES_HELP}.")],
    from_stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the value from standard input.")
    ] = False,
) -> None:
    """Store a secret in the OS keyring (prompted without echo, or from --stdin)."""
    secret = parse_secret_name(name)
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = typer.prompt(f"{secret.value}", hide_input=True)
    SecretStore().set(secret, value)
    out.print(f"Stored {secret.value} in the OS keyring.", markup=False)


@auth_app.command("clear")
def auth_clear(name: Annotated[str, typer.Argument(help=f"One of: {_NAMES_HELP}.")]) -> None:
    """Remove a secret from the OS keyring."""
    secret = parse_secret_name(name)
    removed = SecretStore().clear(secret)
    message = "Removed" if removed else "Nothing to remove for"
    out.print(f"{message} {secret.value} in the OS keyring.", markup=False)


@auth_app.command("status")
def auth_status() -> None:
    """Show which secrets are set and where from (never their values)."""
    store = SecretStore()
    table = Table("secret", "state", "source")
    for status in store.statuses():
        state = "missing" if status.source == "missing" else "set"
        table.add_row(Text(status.name.value), Text(state), Text(status.detail))
    out.print(table)


# --- doctor -------------------------------------------------------------------------------

_STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check configuration, secrets, the workspace and connectivity. Exit 1 if anything fails."""
    state = _state(ctx)
    checks = run_checks(state.locations, SecretStore(), state.workspace)
    _print_checks(checks)
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(1)


def _print_checks(checks: Sequence[Check]) -> None:
    table = Table("", "check", "result", show_header=False, box=None, pad_edge=False)
    group = None
    for check in checks:
        if check.group != group:
            group = check.group
            table.add_row(Text(group.upper(), style="bold"), Text(""), Text(""))
        table.add_row(
            Text(check.status, style=_STATUS_STYLE[check.status]),
            Text(check.name),
            Text(check.detail),
        )
    out.print(table)


# --- demo ---------------------------------------------------------------------------------


@demo_app.command("generate")
def demo_generate(
    ctx: typer.Context,
    accounts: Annotated[int, typer.Option(min=1, max=200_000, help="Accounts.")] = (
        DEFAULT_DEMO_ACCOUNTS
    ),
    owners: Annotated[int, typer.Option(min=1, max=2_000, help="Owners (users).")] = (
        DEFAULT_DEMO_OWNERS
    ),
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = (
        DEFAULT_DEMO_SEED
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing demo CRM.")] = False,
) -> None:
    """Generate a deterministic Zoho-shaped demo CRM for the workspace."""
    state = _state(ctx)
    settings = state.settings()
    name = state.workspace or "demo"
    if settings.zoho.resolved_mode() != "demo" and state.workspace is None:
        name = "demo"
    if owners > accounts:
        raise SergasError(
            f"--owners ({owners}) cannot exceed --accounts ({accounts}).", title="Bad arguments"
        )
    path = state.locations.demo_crm_file(name)
    if path.exists() and not force:
        raise WorkspaceError(
            f"The demo workspace {name!r} already has a demo CRM ({path}); it was left "
            "unchanged. Use `sergas demo reset` or `--force` to rebuild it."
        )
    _generate(state.locations, name, accounts, owners, seed)


@demo_app.command("reset")
def demo_reset(
    ctx: typer.Context,
    accounts: Annotated[int, typer.Option(min=1, max=200_000)] = DEFAULT_DEMO_ACCOUNTS,
    owners: Annotated[int, typer.Option(min=1, max=2_000)] = DEFAULT_DEMO_OWNERS,
    seed: Annotated[int, typer.Option()] = DEFAULT_DEMO_SEED,
) -> None:
    """Rebuild the demo CRM and start the workspace's local database afresh."""
    state = _state(ctx)
    name = state.workspace or "demo"
    db = state.locations.database_file(name)
    if db.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = db.with_name(f"{db.name}.reset-{stamp}")
        db.replace(backup)
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            if side.exists():
                side.replace(backup.with_name(backup.name + suffix))
        out.print(f"Moved the old workspace database to {backup}", markup=False)
    _generate(state.locations, name, accounts, owners, seed)


@demo_app.command("serve")
def demo_serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=0, max=65_535, help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
) -> None:
    """Serve the demo org over HTTP as a Zoho CRM v8 simulator (OAuth, records, COQL...)."""
    from sergas_tui.crm.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
    from sergas_tui.crm.simulator.config import SimulatorConfig
    from sergas_tui.crm.simulator.server import serve

    state = _state(ctx)
    name = state.workspace or "demo"
    path = state.locations.demo_crm_file(name)
    if not path.exists():
        raise WorkspaceError(
            f"The workspace {name!r} has no demo CRM at {path}. Run `sergas demo generate` first."
        )

    config = SimulatorConfig()

    def announce(base_url: str) -> None:
        config.api_domain = base_url  # the token endpoint tells clients to call back here
        err_console.print(
            f"Zoho CRM simulator for workspace {name!r} on {base_url} "
            f"(accounts server and API domain). Demo OAuth client: client_id {DEMO_CLIENT_ID}, "
            f"client_secret {DEMO_CLIENT_SECRET}, refresh_token {DEMO_REFRESH_TOKEN}. "
            "Ctrl+C stops it.",
            markup=False,
            soft_wrap=True,
        )

    serve(path, host=host, port=port, config=config, on_ready=announce)


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
) -> None:
    """Run a review headless: sync, signals, memory, recommendations (pending approval), brief."""
    from sergas_tui.review_cli import review_command

    if engine is not None and engine not in ("rules", "claude"):
        raise ConfigError(f"--engine must be 'rules' or 'claude', not {engine!r}.")
    state = _state(ctx)
    code = review_command(
        state.settings(),
        state.locations,
        out,
        workspace=state.workspace,
        owner=owner,
        everyone=everyone,
        engine=engine,
        json_file=json_file,
        markdown_dir=markdown_dir,
    )
    raise typer.Exit(code)


@export_app.command("brief")
def export_brief(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")],
    owner: Annotated[str | None, typer.Option("--owner", help="Owner email.")] = None,
) -> None:
    """Write the latest brief of an owner to Markdown."""
    from sergas_tui.review_cli import export_brief_command

    state = _state(ctx)
    code = export_brief_command(
        state.settings(),
        state.locations,
        out,
        workspace=state.workspace,
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
    try:
        asyncio.run(use(services.memory()))
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


@memory_app.command("stats")
def memory_stats(ctx: typer.Context) -> None:
    """What memory holds: items per kind and the newest ingest."""

    async def use(memory: MemoryStore) -> None:
        table = Table("what", "count")
        for key, value in (await memory.stats()).items():
            table.add_row(Text(str(key)), Text(str(value)))
        out.print(table)

    _with_memory(ctx, use)


# --- approvals and audit --------------------------------------------------------------

_AS_HELP = "Who decides (recorded in the audit log); default: your OS user name."


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
            state.settings(),
            state.locations,
            out,
            workspace=state.workspace,
            owner=owner,
            show_all_owners=everyone,
        )
    )


@approvals_app.command("show")
def approvals_show(ctx: typer.Context, ident: Annotated[str, typer.Argument()]) -> None:
    """The exact write an approval would make."""
    from sergas_tui.approvals_cli import show_command

    state = _state(ctx)
    raise typer.Exit(
        show_command(state.settings(), state.locations, out, workspace=state.workspace, ident=ident)
    )


def _decide(
    ctx: typer.Context,
    ident: str,
    decision: str,
    actor: str | None,
    reason: str | None,
    payload: Path | None = None,
    execute: bool = True,
) -> None:
    from sergas_tui.approvals_cli import decide_command, default_actor

    state = _state(ctx)
    raise typer.Exit(
        decide_command(
            state.settings(),
            state.locations,
            out,
            workspace=state.workspace,
            ident=ident,
            decision=decision,
            actor=actor or default_actor(),
            reason=reason,
            payload_file=payload,
            execute=execute,
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
) -> None:
    """Reject: nothing is written."""
    _decide(ctx, ident, "reject", actor, reason)


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
        execute_command(state.settings(), state.locations, out, workspace=state.workspace)
    )


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the hash chain; names any edited, deleted or reordered row (exit 1)."""
    from sergas_tui.approvals_cli import verify_command

    state = _state(ctx)
    raise typer.Exit(
        verify_command(state.settings(), state.locations, out, workspace=state.workspace)
    )


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
            state.settings(),
            state.locations,
            out,
            workspace=state.workspace,
            since=when,
            out=out_file,
        )
    )


# --- mcp ----------------------------------------------------------------------------------


@mcp_app.command("zoho")
def mcp_zoho(
    ctx: typer.Context,
    http: Annotated[
        int | None,
        typer.Option(
            "--http",
            min=1,
            max=65_535,
            help="Serve streamable HTTP on this port (bearer token: mcp_server_token).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address for --http.")] = "127.0.0.1",
) -> None:
    """Serve the Zoho tool catalog over MCP (stdio by default) for this workspace's CRM.

    Write tools need an approval token that this workspace's approvals store confirms.
    """
    import asyncio

    from sergas_tui.crm.approval_gate import ApprovalGate
    from sergas_tui.crm.mcp_server import build_zoho_server, run_http, run_stdio
    from sergas_tui.services import open_services

    state = _state(ctx)
    settings = state.settings()
    token = None
    if http is not None:
        token = SecretStore().require(
            SecretName.MCP_SERVER_TOKEN, "Serving the Zoho MCP server over HTTP"
        )
    services = open_services(settings, state.locations, workspace=state.workspace)

    async def serve() -> None:
        try:
            gateway = await services.crm()
            gate = ApprovalGate(services.store, clock=services.clock.now)
            server = build_zoho_server(gateway, gate)
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
        asyncio.run(serve())
    finally:
        services.close()


# --- entry point --------------------------------------------------------------------------


def report_error(error: SergasError) -> None:
    err_console.print(Text(f"{error.title}: {error.message}", style="bold red"), soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns (and exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="sergas", standalone_mode=False)
    except SergasError as error:
        report_error(error)
        code = error.exit_code
    except (click.exceptions.ClickException, typer.exceptions.TyperException) as error:
        # Usage errors (unknown option, bad value): click's own message and exit code.
        show = getattr(error, "show", None)
        if callable(show):
            show()
        code = int(getattr(error, "exit_code", 2))
    except (click.exceptions.Abort, typer.Abort):
        err_console.print("Aborted.", markup=False)
        code = 130
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # the last line of defence: log it, say where, no traceback
        log.exception("unexpected_error")
        locations = Locations.from_env()
        err_console.print(
            Text(
                f"Unexpected error: {type(error).__name__}: {error}. The details are in "
                f"{locations.log_file}; please include them when you report this.",
                style="bold red",
            ),
            soft_wrap=True,
        )
        code = 1
    else:
        code = result if isinstance(result, int) else 0
    if argv is None:
        sys.exit(code)
    return code
