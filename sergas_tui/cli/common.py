"""What every `sergas` command shares: the Typer apps, the consoles and per-run state.

The CLI modules import only what every command needs (Typer, Rich's console); a command imports
what it uses in its body, so `sergas --help` and the TUI's first paint stay fast (see
``tests/unit/test_startup_imports.py``).
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from sergas_tui.locations import Locations
from sergas_tui.logs import get_logger

if TYPE_CHECKING:
    from sergas_tui.config import Settings
    from sergas_tui.metrics import Exporter

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


app = typer.Typer(
    name="sergas",
    cls=RootGroup,
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
        from sergas_tui.config import load_settings

        return load_settings(self.locations)

    def workspace_name(self, settings: Settings) -> str:
        return self.workspace or settings.workspace_name()


def warn(message: str) -> None:
    """A warning on stderr: something did not work, and the command goes on without it."""
    from rich.text import Text

    err_console.print(Text(message, style="yellow"), soft_wrap=True)


def metrics_served(settings: Settings) -> AbstractContextManager[Exporter | None]:
    """Serve this process's Prometheus metrics while the block runs, when ``[monitoring]
    prometheus_port`` is set (for `sergas review`, `sergas worker`, `sergas serve` and the MCP
    servers); the address goes to stderr, where a stdio MCP server's protocol is not."""
    from sergas_tui import metrics

    def tell(message: str) -> None:
        err_console.print(message, markup=False, soft_wrap=True)

    return metrics.exposed(settings.monitoring, warn=warn, tell=tell)


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state
