"""`sergas doctor`: configuration, secrets, the workspace and connectivity, checked and listed
(exit 1 if anything fails)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from sergas_tui.cli.common import out, state_of

if TYPE_CHECKING:  # the command imports what it uses: `sergas --help` stays fast
    from sergas_tui.doctor import Check


_STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


def doctor(ctx: typer.Context) -> None:
    """Check configuration, secrets, the workspace and connectivity. Exit 1 if anything fails."""
    from sergas_tui.doctor import run_checks
    from sergas_tui.secrets import SecretStore

    state = state_of(ctx)
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
