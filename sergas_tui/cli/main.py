"""The `sergas` command line (Typer). With no command it opens the TUI.

Every ``SergasError`` is printed as one paragraph on stderr and turned into its exit code (2 for
configuration, secrets and storage problems); nothing prints a traceback at a user.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.text import Text

from sergas_tui import __version__
from sergas_tui.errors import SecretError, SergasError, WorkspaceError
from sergas_tui.locations import Locations, validate_workspace_name
from sergas_tui.logs import configure_logging
from sergas_tui.user_files import check_arguments

if TYPE_CHECKING:  # the commands import what they use: `sergas --help` stays fast
    from sergas_tui.config import Settings
    from sergas_tui.doctor import Check

DEFAULT_DEMO_ACCOUNTS = 5000
DEFAULT_DEMO_OWNERS = 50
DEFAULT_DEMO_SEED = 7

SECRET_NAMES = (
    "zoho_refresh_token",
    "zoho_client_secret",
    "anthropic_api_key",
    "postgres_password",
    "zoho_mcp_token",
    "mcp_server_token",
    "zoho_mcp_url",
    "smtp_password",
    "notify_webhook_url",
)
"""The values of ``secrets.SecretName``, for help texts (a test keeps them in step)."""

from sergas_tui.cli.common import (  # noqa: E402
    State,
    app,
    auth_app,
    config_app,
    demo_app,
    err_console,
    log,
    out,
    state_of,
)

_state = state_of


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
    for note in settings.deprecations():  # stderr: stdout may be a protocol (MCP over stdio)
        err_console.print(f"Warning: {note}", markup=False, highlight=False)
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
    from sergas_tui.storage.workspace_lock import exclusive_use

    path = locations.demo_crm_file(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    # Replacing the org file under a live process would break it: not while one uses it.
    with (
        exclusive_use(path.parent, "rebuild the demo CRM"),
        err_console.status("Generating the demo CRM…"),
    ):
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
    from sergas_tui.config import default_config_text

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
    """Print the effective configuration (file + environment) as JSON; passwords, keys and
    tokens written inside a DSN or URL are masked."""
    from sergas_tui.config import settings_for_display

    settings = _state(ctx).settings()
    out.print_json(data=settings_for_display(settings))


# --- auth ---------------------------------------------------------------------------------

_NAMES_HELP = ", ".join(SECRET_NAMES)


@auth_app.command("set")
def auth_set(
    name: Annotated[str, typer.Argument(help=f"One of: {_NAMES_HELP}.")],
    from_stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the value from standard input.")
    ] = False,
) -> None:
    """Store a secret in the OS keyring (prompted without echo, or from --stdin)."""
    from sergas_tui.secrets import SecretStore, parse_secret_name

    secret = parse_secret_name(name)
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = typer.prompt(f"{secret.value}", hide_input=True)
    SecretStore().set(secret, value)
    out.print(f"Stored {secret.value} in the OS keyring.", markup=False)


@auth_app.command("generate")
def auth_generate(
    name: Annotated[str, typer.Argument(help="The secret to make: mcp_server_token.")],
    show: Annotated[
        bool,
        typer.Option(
            "--show",
            help="Also print the new token on standard output (the only output there), for "
            "your clients.",
        ),
    ] = False,
    no_store: Annotated[
        bool,
        typer.Option(
            "--no-store",
            help="Do not store it in the keyring; print it only (implies --show), e.g. for "
            "SERGAS_MCP_SERVER_TOKEN on a machine without a keyring.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a good token already in the keyring."),
    ] = False,
) -> None:
    """Make a random MCP server bearer token (43 characters) and store it in the OS keyring.

    The token is never printed unless --show (or --no-store) asks for it.
    """
    from sergas_tui.secrets import (
        GENERATE_COMMAND,
        KEYRING_SERVICE,
        SECRET_SPECS,
        SecretName,
        SecretStore,
        new_server_token,
        parse_secret_name,
        server_token_problem,
    )

    secret = parse_secret_name(name)
    if secret != SecretName.MCP_SERVER_TOKEN:
        raise SecretError(
            f"Sergas generates only mcp_server_token; {secret.value} is issued elsewhere "
            f"— {SECRET_SPECS[secret].description[:1].lower()}"
            f"{SECRET_SPECS[secret].description[1:]}. Store it with `sergas auth set "
            f"{secret.value}`.",
            title="Cannot generate this secret",
        )
    token = new_server_token()
    if not no_store:
        store = SecretStore()
        if (problem := store.keyring_problem()) is not None:
            raise SecretError(
                f"No usable OS keyring ({problem}), so the token cannot be stored. Run "
                f"`{GENERATE_COMMAND} --no-store` and put the printed token in "
                "SERGAS_MCP_SERVER_TOKEN instead.",
                title="No keyring",
            )
        current = store.get(secret) if store.has_in_keyring(secret) else None
        if (
            current is not None
            and server_token_problem(current.get_secret_value()) is None
            and not force
        ):
            raise SecretError(
                "The OS keyring already holds a good mcp_server_token; it was left unchanged "
                "(clients using it would be locked out). Pass --force to replace it.",
                title="Token exists",
            )
        store.set(secret, token)
        notice = (
            f"Stored a new random mcp_server_token ({len(token)} characters) in the OS keyring "
            f"(service '{KEYRING_SERVICE}', entry '{secret.value}'); `sergas mcp zoho --http` "
            "and `sergas mcp memory --http` use it. "
        )
        if store.environ.get("SERGAS_MCP_SERVER_TOKEN"):
            notice += "SERGAS_MCP_SERVER_TOKEN is also set; the keyring's token wins. "
        if show:
            notice += "The token is printed on standard output for your clients."
        else:
            notice += (
                "Clients on other machines need the same token: read it with your keyring "
                f"tool (`keyring get {KEYRING_SERVICE} {secret.value}`), or run "
                f"`{GENERATE_COMMAND} --force --show` to replace it and print the new one."
            )
        err_console.print(notice, markup=False, soft_wrap=True)
    if show or no_store:
        sys.stdout.write(token + "\n")
        sys.stdout.flush()


@auth_app.command("clear")
def auth_clear(name: Annotated[str, typer.Argument(help=f"One of: {_NAMES_HELP}.")]) -> None:
    """Remove a secret from the OS keyring."""
    from sergas_tui.secrets import SecretStore, parse_secret_name

    secret = parse_secret_name(name)
    removed = SecretStore().clear(secret)
    message = "Removed" if removed else "Nothing to remove for"
    out.print(f"{message} {secret.value} in the OS keyring.", markup=False)


@auth_app.command("status")
def auth_status() -> None:
    """Show which secrets are set and where from (never their values)."""
    from rich.table import Table

    from sergas_tui.secrets import SecretStore

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
    from sergas_tui.doctor import run_checks
    from sergas_tui.secrets import SecretStore

    state = _state(ctx)
    checks = run_checks(state.locations, SecretStore(), state.workspace)
    _print_checks(checks)
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(1)


def _print_checks(checks: Sequence[Check]) -> None:
    from rich.table import Table

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
    from sergas_tui.storage.workspace_lock import exclusive_use

    state = _state(ctx)
    name = state.workspace or "demo"
    db = state.locations.database_file(name)
    with exclusive_use(db.parent, "reset the workspace"):
        pass  # refuse early, before anything moves, while another process uses it
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


class DemoEdition(enum.StrEnum):
    """Zoho CRM editions, for the simulator's API limits."""

    free = "free"
    standard = "standard"
    professional = "professional"
    enterprise = "enterprise"
    ultimate = "ultimate"


@demo_app.command("serve")
def demo_serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=0, max=65_535, help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    edition: Annotated[
        DemoEdition, typer.Option(help="Zoho edition whose API limits to apply.")
    ] = DemoEdition.enterprise,
    daily_credits: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="API credits per rolling 24 hours, instead of the edition's allowance "
            "(a small number shows how clients meet Zoho's 429).",
        ),
    ] = None,
) -> None:
    """Serve the demo org over HTTP as a Zoho CRM v8 simulator (OAuth, metadata, records,
    COQL, writes), with a Zoho edition's API limits."""
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

    config = SimulatorConfig(edition=edition.value, daily_credits=daily_credits)

    def announce(base_url: str) -> None:
        config.api_domain = base_url  # the token endpoint tells clients to call back here
        err_console.print(
            f"Zoho CRM simulator for workspace {name!r} on {base_url} "
            f"(accounts server and API domain). Demo OAuth client: client_id {DEMO_CLIENT_ID}, "
            f"client_secret {DEMO_CLIENT_SECRET}, refresh_token {DEMO_REFRESH_TOKEN}. "
            f"API limits of a Zoho {config.edition} org: "
            f"{'credits' if daily_credits is None else f'{daily_credits:,} credits'} per "
            f"rolling 24 hours, {config.concurrency()} calls in flight. Ctrl+C stops it.",
            markup=False,
            soft_wrap=True,
        )

    serve(path, host=host, port=port, config=config, on_ready=announce)


import sergas_tui.cli.ops  # noqa: E402,F401  (registers the operational commands)
from sergas_tui.cli import worker  # noqa: E402

worker.register(app)  # `sergas worker`, `sergas schedule` (team mode)
from sergas_tui.cli import notify  # noqa: E402

notify.register(app)  # `sergas notify`, `sergas serve` (team mode)

# `sergas signals` is registered in common.LAZY_GROUPS: its module loads on first use.

# --- entry point --------------------------------------------------------------------------


def report_error(error: SergasError) -> None:
    err_console.print(Text(f"{error.title}: {error.message}", style="bold red"), soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns (and exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        check_arguments(args)
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
