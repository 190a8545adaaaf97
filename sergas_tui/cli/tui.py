"""`sergas` with no command: open the terminal app (on the first run in the demo workspace,
generate its demo CRM first).

The root callback in :mod:`sergas_tui.cli.main` calls :func:`open_tui`; the app and the
services load only then, so every other command and `sergas --help` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sergas_tui.cli.common import (
    DEFAULT_DEMO_ACCOUNTS,
    DEFAULT_DEMO_OWNERS,
    DEFAULT_DEMO_SEED,
    State,
    err_console,
    generate_demo,
)
from sergas_tui.locations import Locations

if TYPE_CHECKING:
    from sergas_tui.config import Settings


def open_tui(state: State, settings: Settings) -> None:
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
    generate_demo(
        locations, workspace, DEFAULT_DEMO_ACCOUNTS, DEFAULT_DEMO_OWNERS, DEFAULT_DEMO_SEED
    )
