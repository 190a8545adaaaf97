"""What every `sergas` command shares: the Typer apps, the consoles and per-run state."""

from __future__ import annotations

import typer
from rich.console import Console

from sergas_tui.config import Settings, load_settings
from sergas_tui.locations import Locations
from sergas_tui.logs import get_logger

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


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state
