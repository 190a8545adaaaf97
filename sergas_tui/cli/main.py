"""The `sergas` command line (Typer): the root app, every command on it, and the console-script
entry point. With no command it opens the TUI.

This is the one place where commands join the root app: the calls at the end of the module add
each command group (a Typer app of its own module) and each top-level command, in the order
`sergas --help` lists them. No module registers anything by being imported. The groups in
:data:`LAZY_GROUPS` are named here too, but their modules load only when the group runs.

Every ``SergasError`` is printed as one paragraph on stderr and turned into its exit code (2 for
configuration, secrets and storage problems); nothing prints a traceback at a user. A
configuration that does not load stops every command but those of :data:`WITHOUT_SETTINGS`,
which are how a person finds, replaces or diagnoses it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import click
import typer
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from sergas_tui import __version__
from sergas_tui.cli import (
    approvals,
    audit,
    auth,
    config,
    demo,
    doctor,
    export,
    mcp,
    memory,
    notify,
    review,
    tui,
    worker,
)
from sergas_tui.cli.common import State, err_console, log, out
from sergas_tui.errors import ConfigError, SergasError
from sergas_tui.locations import Locations, validate_workspace_name
from sergas_tui.logs import configure_logging
from sergas_tui.user_files import check_arguments

LAZY_GROUPS: dict[str, tuple[str, str, str]] = {
    "account": (
        "sergas_tui.cli.account",
        "account_app",
        "One account's data: export or forget it.",
    ),
    "admin": (
        "sergas_tui.cli.admin",
        "admin_app",
        "Team roles: who is an AE, a manager or an admin (team mode).",
    ),
    "signals": (
        "sergas_tui.cli.signals",
        "signals_app",
        "Snooze or dismiss an account's risk signals (they stay out of reviews meanwhile).",
    ),
}
"""Command groups whose module is imported only when the group runs: name → (module, Typer app
attribute, its help as `sergas --help` lists it; a test keeps the help in step)."""


class RootGroup(TyperGroup):
    """The root command: lists the lazy groups by their help, loads one only to run it."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (_module, _attribute, help_text) in LAZY_GROUPS.items():
            if name not in self.commands:
                self.commands[name] = TyperCommand(name=name, help=help_text)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in LAZY_GROUPS:
            self.commands[args[0]] = lazy_group(args[0])
        return super().resolve_command(ctx, args)


def lazy_group(name: str) -> Any:
    """The click group of one of :data:`LAZY_GROUPS` (imports its module)."""
    module, attribute, _help = LAZY_GROUPS[name]
    group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
    group.name = name
    # Plain help like every other command (a sub-Typer added to `app` inherits this).
    pending: list[Any] = [group]
    while pending:
        command = pending.pop()
        command.rich_markup_mode = app.rich_markup_mode
        pending.extend(getattr(command, "commands", {}).values())
    return group


WITHOUT_SETTINGS = frozenset({"config", "doctor"})
"""Commands that still run when the settings do not load, because they are how a person finds,
replaces or diagnoses a broken configuration: `config path` prints where the file is,
`config init --force` overwrites it and `doctor` reports the error as its failed configuration
check (exit 1). `config show` loads the settings itself and stops on the error like any other
command."""


def _version(value: bool) -> None:
    if value:
        out.print(f"sergas {__version__}", markup=False)
        raise typer.Exit()


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
    try:
        settings = state.settings()
    except ConfigError:
        if ctx.invoked_subcommand not in WITHOUT_SETTINGS:
            raise
        configure_logging(state.locations.log_file)  # the default level: the file's is unread
        log.warning("configuration_invalid", command=ctx.invoked_subcommand)
        return
    configure_logging(state.locations.log_file, settings.auditing.log_level)
    for note in settings.deprecations():  # stderr: stdout may be a protocol (MCP over stdio)
        err_console.print(f"Warning: {note}", markup=False, highlight=False)
    if ctx.invoked_subcommand is None:
        tui.open_tui(state, settings)


# --- the command tree -----------------------------------------------------------------------
# `sergas --help` lists the top-level commands first, then the groups, each in the order added
# here, then the lazy groups.

app = typer.Typer(
    name="sergas",
    cls=RootGroup,
    help="Account reviews for account executives: Zoho CRM, agents, approvals, audit.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.callback(invoke_without_command=True)(root)

app.command("doctor")(doctor.doctor)
app.command("review")(review.review)
app.command("worker")(worker.worker)  # team mode
app.command("schedule")(worker.schedule)  # team mode
app.command("serve")(notify.serve)  # team mode: the pages behind the digests' links

app.add_typer(config.config_app, name="config")
app.add_typer(auth.auth_app, name="auth")
app.add_typer(demo.demo_app, name="demo")
app.add_typer(mcp.mcp_app, name="mcp")
app.add_typer(export.export_app, name="export")
app.add_typer(memory.memory_app, name="memory")
app.add_typer(approvals.approvals_app, name="approvals")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(notify.notify_app, name="notify")  # team mode

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
