"""Portfolio screen (first cut): the current owner's accounts in a table.

The full portfolio (risk badges, filters, manager view) arrives with the TUI work; this screen
already follows the rules: data loads in a worker through the injected services, and CRM text
is shown as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from sergas_tui.screens.base import SergasScreen
from sergas_tui.services import AccountRow, Services
from sergas_tui.widgets.header import ShellHeader
from sergas_tui.widgets.text import safe_text

FIRST_RUN_TEXT = (
    "You are on the demo workspace: a generated Zoho org served by the built-in simulator, "
    "reviewed by the offline rules engine. To use your own data: `sergas config init`, set "
    "[zoho] client_id and `sergas auth set zoho_refresh_token`; for Claude, `sergas auth set "
    "anthropic_api_key`; for the central audit, [auditing] postgres_dsn. `sergas doctor` checks "
    "it all. Press b to hide this."
)


COLUMNS: tuple[tuple[str, int], ...] = (
    ("Account", 28),
    ("Industry", 16),
    ("Type", 9),
    ("Last activity", 13),
    ("Revenue", 9),
)


class PortfolioScreen(SergasScreen):
    BINDINGS = [
        Binding("ctrl+r", "reload", "Reload", id="portfolio.reload"),
        Binding("b", "toggle_banner", "Banner", id="portfolio.banner"),
        Binding("q", "app.quit", "Quit", id="app.quit"),
    ]

    @dataclass
    class Loaded(Message):
        rows: list[AccountRow]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def compose(self) -> ComposeResult:
        yield ShellHeader("Portfolio")
        banner = Static(FIRST_RUN_TEXT, id="first-run-banner", markup=False)
        if not (self.services.is_demo and self.services.settings.ui.show_first_run_banner):
            banner.add_class("-hidden")
        yield banner
        yield Static("Loading accounts…", id="portfolio-status", markup=False)
        table: DataTable[object] = DataTable(id="portfolio-table", cursor_type="row")
        for label, width in COLUMNS:
            table.add_column(label, width=width)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.add_class("-busy")
        self.load_rows()

    def action_toggle_banner(self) -> None:
        self.query_one("#first-run-banner").toggle_class("-hidden")

    @work(exclusive=True, group="portfolio", exit_on_error=False)
    async def load_rows(self) -> None:
        rows = await self.services.portfolio_rows()
        self.post_message(self.Loaded(rows))

    @on(Loaded)
    def show_rows(self, message: Loaded) -> None:
        table: DataTable[object] = self.query_one("#portfolio-table", DataTable)
        table.clear()
        for row in message.rows:
            table.add_row(
                safe_text(row.name, limit=COLUMNS[0][1]),
                safe_text(row.industry or "—", limit=COLUMNS[1][1]),
                safe_text(row.account_type or "—", limit=COLUMNS[2][1]),
                safe_text(row.last_activity_text),
                safe_text(row.revenue_text),
                key=row.account_id,
            )
        owner = self.services.owner_label()
        status = self.query_one("#portfolio-status", Static)
        status.update(safe_text(f"{len(message.rows)} accounts · {owner}"))
        self.remove_class("-busy")
