"""`sergas approvals more` and `sergas approvals pull`: the items beyond the daily budget.

A review lands at most ``[review] daily_budget`` items a day in each owner's approvals queue;
the rest wait as "more, lower priority". `more` lists them (names, not ids; 80 columns), best
expected value first; `pull` takes one into the queue now, recorded with who did it.
"""

from __future__ import annotations

import asyncio
from functools import partial

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sergas_tui.approvals.cli_support import fit_label
from sergas_tui.approvals.service import require_may
from sergas_tui.cli.approvals_run import default_actor, run_with_services
from sergas_tui.config import Settings
from sergas_tui.errors import SergasError
from sergas_tui.locations import Locations
from sergas_tui.services import Services
from sergas_tui.viewmodels.more import MoreItem, pull, read_more

SHORT_ID = 8


def more_table(items: list[MoreItem], *, title: str, width: int = 80) -> Table:
    """id, priority, account, type, what: the account and the text are cut to fit ``width``."""
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    fixed = SHORT_ID + 4 + 6 + 2 * 4
    account_width = max(16, min(30, (width - fixed) // 2))
    what_width = max(12, width - fixed - account_width)
    table.add_column("id", no_wrap=True, width=SHORT_ID)
    table.add_column("pri", no_wrap=True, width=4)
    table.add_column("account", no_wrap=True, overflow="ellipsis", width=account_width)
    table.add_column("type", no_wrap=True, width=6)
    table.add_column("what", no_wrap=True, overflow="ellipsis", width=what_width)
    for item in items:
        rec = item.recommendation
        table.add_row(
            Text(rec.id[:SHORT_ID]),
            Text(item.priority_label),
            Text(fit_label(item.account_name, rec.account_id or "", account_width)),
            Text(item.type_label),
            Text(" ".join(item.headline.split())),
        )
    return table


def more_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    owner: str | None,
) -> int:
    async def body(services: Services) -> int:
        me = services.identity()
        email = owner or (me.email if me is not None else services.current_user_email())
        require_may(me, email, "see")
        items = await asyncio.to_thread(read_more, services, email)
        title = f"{len(items)} more, lower priority (beyond today's budget)"
        console.print(more_table(items, title=title, width=console.width))
        if items:
            console.print(
                Text("`sergas approvals pull ID` takes one into your queue now.", style="dim")
            )
        return 0

    return run_with_services(settings, locations, workspace, body)


def pull_command(
    settings: Settings,
    locations: Locations,
    console: Console,
    *,
    workspace: str | None,
    ident: str,
    actor: str | None,
) -> int:
    async def body(services: Services) -> int:
        who = actor or default_actor()
        try:
            approval = await asyncio.to_thread(
                partial(pull, services, ident, who, named=actor is not None)
            )
        except SergasError as err:
            console.print(Text(err.message, style="red"))
            return 1
        items = await asyncio.to_thread(read_more, services, approval.owner_email)
        console.print(
            Text(
                f"In the queue now as approval {approval.id[:SHORT_ID]} "
                f"(`sergas approvals show {approval.id[:SHORT_ID]}`); {len(items)} more wait."
            )
        )
        return 0

    return run_with_services(settings, locations, workspace, body)
