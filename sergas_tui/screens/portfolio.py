"""Portfolio screen (the app's home): the accounts by risk, filtered and sorted as you type.

Rows come from ``viewmodels.portfolio.load_portfolio`` in an async worker; sorting, filtering
and the status wording are that module's pure functions. The table is a virtualised
``AccountTable``, so a filter keystroke only swaps its list of visible rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import ScreenResume
from textual.message import Message
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from sergas_tui.screens.base import SergasScreen
from sergas_tui.services import Services
from sergas_tui.viewmodels.portfolio import (
    NATURAL_DESCENDING,
    PortfolioRow,
    Scope,
    SortKey,
    empty_text,
    filter_rows,
    load_portfolio,
    next_sort_key,
    sort_rows,
    status_line,
)
from sergas_tui.viewmodels.shell import banner_visible, remember_banner
from sergas_tui.widgets.account_table import AccountTable
from sergas_tui.widgets.header import ShellHeader

FIRST_RUN_TEXT = (
    "You are on the demo workspace: a generated Zoho org served by the built-in simulator, "
    "reviewed by the offline rules engine. To use your own data: `sergas config init`, set "
    "[zoho] client_id and `sergas auth set zoho_refresh_token`; for Claude, `sergas auth set "
    "anthropic_api_key`; for the central audit, [auditing] postgres_dsn. `sergas doctor` checks "
    "it all. Press b to hide this."
)


class PortfolioScreen(SergasScreen):
    CSS_PATH = Path(__file__).with_name("portfolio.tcss")
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="portfolio.filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", id="portfolio.clear", show=False),
        Binding("enter", "open", "Open", id="portfolio.open"),
        Binding("space", "mark", "Mark", id="portfolio.mark"),
        Binding("r", "review", "Review", id="portfolio.review"),
        Binding("s", "cycle_sort", "Sort", id="portfolio.sort"),
        Binding("S", "reverse_sort", "Reverse sort", id="portfolio.reverse", show=False),
        Binding("m", "toggle_scope", "Mine/all", id="portfolio.scope"),
        Binding("ctrl+r", "reload", "Reload", id="portfolio.reload"),
        Binding("b", "toggle_banner", "Banner", id="portfolio.banner", show=False),
    ]

    @dataclass
    class Loaded(Message):
        """The rows of one scope arrived from the CRM and the store."""

        rows: list[PortfolioRow]
        scope: Scope

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.scope: Scope = "mine"
        self.sort_key: SortKey = "risk"
        self.descending = NATURAL_DESCENDING["risk"]
        self.filter_text = ""
        self.loaded = False
        self._sorted: list[PortfolioRow] = []
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield ShellHeader("Portfolio")
        banner = Static(FIRST_RUN_TEXT, id="first-run-banner", markup=False)
        if not banner_visible(self.services):
            banner.add_class("-hidden")
        yield banner
        yield Static("Loading accounts…", id="portfolio-status", markup=False)
        yield Input(
            placeholder="filter: name, owner, industry, signal (enter keeps, escape clears)",
            id="portfolio-filter",
            classes="-hidden",
        )
        yield AccountTable(id="portfolio-table")
        yield Footer()

    @property
    def table(self) -> AccountTable:
        return self.query_one("#portfolio-table", AccountTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#portfolio-filter", Input)

    def on_mount(self) -> None:
        self._show()
        self.table.focus()

    def on_screen_resume(self, event: ScreenResume) -> None:
        """Reload on every return (after a review the risk column fills in)."""
        self.action_reload()

    # -- the view -------------------------------------------------------------------------

    def apply_filter(self, text: str) -> int:
        """Show the rows matching ``text``; returns how many are shown (synchronous)."""
        self.filter_text = text
        self._show()
        return self._shown

    def _resort(self, rows: list[PortfolioRow]) -> None:
        self._sorted = sort_rows(rows, self.sort_key, self.descending)
        self._show()

    def _show(self) -> None:
        table = self.table
        shown = filter_rows(self._sorted, self.filter_text)
        self._shown = len(shown)
        table.empty_text = empty_text(
            loaded=self.loaded, total=len(self._sorted), query=self.filter_text, scope=self.scope
        )
        table.set_view(
            show_owner=self.scope == "all", sort_key=self.sort_key, descending=self.descending
        )
        table.set_rows(shown)
        self._update_status()

    def _update_status(self) -> None:
        if not self.loaded:
            return
        line = status_line(
            total=len(self._sorted),
            shown=self._shown,
            sort_key=self.sort_key,
            descending=self.descending,
            scope=self.scope,
            marked=len(self.table.marked),
        )
        self.query_one("#portfolio-status", Static).update(Text(line))

    # -- actions --------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.add_class("-busy")
        self.load_rows(self.scope)

    def action_toggle_banner(self) -> None:
        banner = self.query_one("#first-run-banner")
        banner.toggle_class("-hidden")
        self._remember_banner(visible=not banner.has_class("-hidden"))

    @work(thread=True, group="portfolio-banner", exit_on_error=False)
    def _remember_banner(self, *, visible: bool) -> None:
        remember_banner(self.services, visible=visible)

    def action_filter(self) -> None:
        field = self.filter_input
        field.remove_class("-hidden")
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.filter_input
        field.value = ""
        field.add_class("-hidden")
        self.apply_filter("")
        self.table.focus()

    def action_open(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            self.shell.open_account(key)

    def action_mark(self) -> None:
        self.table.toggle_mark()

    def action_review(self) -> None:
        marked = sorted(self.table.marked)
        self.table.clear_marks()
        self.shell.start_review(marked or None)

    def action_cycle_sort(self) -> None:
        self.sort_key = next_sort_key(self.sort_key)
        self.descending = NATURAL_DESCENDING[self.sort_key]
        self._resort(self._sorted)

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self._resort(self._sorted)

    def action_toggle_scope(self) -> None:
        self.scope = "all" if self.scope == "mine" else "mine"
        self.loaded = False
        self._sorted = []
        self._show()
        self.query_one("#portfolio-status", Static).update(Text("Loading accounts…"))
        self.action_reload()

    # -- events ---------------------------------------------------------------------------

    @on(Input.Changed, "#portfolio-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    @on(Input.Submitted, "#portfolio-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.add_class("-hidden")
        self.table.focus()

    @on(AccountTable.Selected)
    def _selected(self, event: AccountTable.Selected) -> None:
        self.shell.open_account(event.key)

    @on(AccountTable.MarksChanged)
    def _marks_changed(self, event: AccountTable.MarksChanged) -> None:
        self._update_status()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Stop looking busy; SergasScreen reports the failure itself."""
        if event.state is WorkerState.ERROR:
            self.remove_class("-busy")

    @work(exclusive=True, group="portfolio", exit_on_error=False)
    async def load_rows(self, scope: Scope) -> None:
        rows = await load_portfolio(self.services, scope)
        self.post_message(self.Loaded(rows, scope))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.scope != self.scope:
            return
        self.loaded = True
        self.remove_class("-busy")
        self.table.retain_marks({row.account_id for row in message.rows})
        self._resort(message.rows)
