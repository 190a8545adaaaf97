"""`sergas account ...`: one account's data.

    sergas account export ACCOUNT --out FILE.json    everything the workspace holds about it

ACCOUNT is the account's id or enough of its name to name one account (as `sergas signals`
takes it). The document's layout is described in :mod:`sergas_tui.account_export`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from sergas_tui.cli_common import State, state_of
from sergas_tui.errors import SergasError

account_app = typer.Typer(help="One account's data: export it.", no_args_is_help=True)

_ACCOUNT_HELP = "The account: its id, or enough of its name to name one account."


class UnknownAccountError(SergasError):
    """ACCOUNT names no account of the workspace, or several; nothing was written."""

    title = "Unknown account"
    exit_code = 2


def export_command(state: State, console: Console, *, account: str, out: Path) -> int:
    import asyncio

    from sergas_tui.account_export import export_account
    from sergas_tui.approvals.service import require_may
    from sergas_tui.domain.mutes import MuteError
    from sergas_tui.services import open_services
    from sergas_tui.user_files import output_file
    from sergas_tui.viewmodels.mutes import find_account

    output_file(out, "--out", special_ok=True)
    services = open_services(state.settings(), state.locations, workspace=state.workspace)

    async def run() -> dict[str, int]:
        try:
            try:
                account_id, name, owner = find_account(services, account)
            except MuteError as err:
                raise UnknownAccountError(err.message) from err
            # Team mode: only the owner and their managers may take an account's data away.
            require_may(services.identity(), owner, "export the data and")
            return await export_account(services, account_id, name, out)
        finally:
            await services.aclose()

    try:
        counts = asyncio.run(run())
    finally:
        services.close()
    listed = ", ".join(f"{kind.replace('_', ' ')} {count}" for kind, count in counts.items())
    console.print(Text(f"Wrote {out}: {listed}."), soft_wrap=True)
    return 0


@account_app.command("export")
def account_export(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help=_ACCOUNT_HELP)],
    out: Annotated[
        Path, typer.Option("--out", help="The JSON file to write (its directory must exist).")
    ],
) -> None:
    """Export everything this workspace holds about one account as one JSON document."""
    raise typer.Exit(export_command(state_of(ctx), Console(stderr=True), account=account, out=out))
