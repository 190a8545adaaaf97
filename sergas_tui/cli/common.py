"""What the `sergas` commands share: the consoles, per-run state and the demo workspace's
generation (the TUI's first run and `sergas demo` both make it).

The CLI modules import only what every command needs (Typer, Rich's console); a command imports
what it uses in its body, so `sergas --help` and the TUI's first paint stay fast (see
``tests/unit/test_startup_imports.py``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from sergas_tui.locations import Locations
from sergas_tui.logs import get_logger

if TYPE_CHECKING:
    from sergas_tui.config import Settings
    from sergas_tui.metrics import Exporter

DEFAULT_DEMO_ACCOUNTS = 5000
DEFAULT_DEMO_OWNERS = 50
DEFAULT_DEMO_SEED = 7

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


def can_confirm() -> bool:
    """Whether a confirmation can be asked: standard input is a terminal (not a pipe, a file or
    /dev/null, where the question would fail or read an answer nobody gave)."""
    import sys

    return sys.stdin is not None and sys.stdin.isatty()


def confirmed(question: str, *, what: str, unchanged: str = "Nothing was changed.") -> bool:
    """Ask ``question`` (yes/no, default no). Without a terminal to ask on, refuse with a clear
    error instead of reading an answer nobody gave: ``what`` cannot be undone, pass --yes
    (``unchanged`` ends the message)."""
    from sergas_tui.errors import ConfigError

    if not can_confirm():
        raise ConfigError(
            f"{what} cannot be undone and asks for a confirmation, and there is no terminal to "
            f"ask it on; pass --yes to go ahead without one. {unchanged}",
            title="No confirmation",
        )
    import typer

    return typer.confirm(question, default=False)


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


def body_arguments(state: State) -> dict[str, Any]:
    """The arguments every command body takes: settings, locations, console, workspace."""
    return {
        "settings": state.settings(),
        "locations": state.locations,
        "console": out,
        "workspace": state.workspace,
    }


def generate_demo(
    locations: Locations, workspace: str, accounts: int, owners: int, seed: int
) -> None:
    """Write the workspace's demo CRM (not while another process uses the workspace) and say
    what it holds."""
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
