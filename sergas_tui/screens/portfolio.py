"""Portfolio screen (the app's home): the accounts by risk, filtered and sorted as you type.

Rows come from ``viewmodels.portfolio.load_portfolio``, read on the app's data loop (its own
thread and CRM connection, ``viewmodels/data_loop.py``) so keys never wait for the CRM; sorting,
filtering and the status wording are the pure functions of ``viewmodels/portfolio_rows``. The
table is a virtualised ``AccountTable``, so a filter keystroke only swaps its list of visible
rows.

The rows last shown for each scope are kept on disk (``viewmodels/portfolio_cache.py``): a
start, or ``m``, draws them at once and says "refreshing…" until the fresh rows replace them.

Reading the CRM's rows takes about a second of Python at 5,000 accounts, which keys would wait
on (one interpreter lock), so a refresh that only guards against change elsewhere — of rows
drawn from the cache, or older than ``STALE_SECONDS`` — starts once the user rests
(``REST_SECONDS`` without a key) on this screen. A change made in the app (``ShellApi.changes``,
the stored facts' fingerprint) and ctrl+r reload at once. Fresh rows equal to those shown
redraw nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import ScreenResume
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from sergas_tui.screens.base import SergasScreen
from sergas_tui.viewmodels.portfolio_cache import read_cached_rows, save_rows
from sergas_tui.viewmodels.portfolio_rows import (
    NATURAL_DESCENDING,
    PortfolioRow,
    Scope,
    SortKey,
    empty_text,
    filter_rows,
    next_sort_key,
    sort_rows,
    status_line,
)
from sergas_tui.viewmodels.shell import banner_visible, remember_banner
from sergas_tui.widgets.account_table import AccountTable
from sergas_tui.widgets.footer import ShellFooter
from sergas_tui.widgets.header import ShellHeader

if TYPE_CHECKING:
    from sergas_tui.services import Services

REFRESHING = "refreshing…"
REST_SECONDS = 0.4
"""How long without a key or click before a background refresh starts."""
STALE_SECONDS = 60.0
"""Coming back to the portfolio reloads it when its rows are older than this, or when
something in the app changed the workspace since (``ShellApi.changes``); ctrl+r always does."""

FIRST_RUN_TEXT = (
    "You are on the demo workspace: a generated Zoho org served by the built-in simulator, "
    "reviewed by the offline rules engine. To use your own data: `sergas config init`, set "
    "[zoho] client_id and `sergas auth set zoho_refresh_token`; for Claude, `sergas auth set "
    "anthropic_api_key`; for the central audit, [central] dsn. `sergas doctor` checks "
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
        fingerprint: tuple[object, ...] = ()

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.scope: Scope = "mine"
        self.sort_key: SortKey = "risk"
        self.descending = NATURAL_DESCENDING["risk"]
        self.filter_text = ""
        self.loaded = False
        """The rows shown are fresh from the CRM and the store (not only the cached ones)."""
        self.cached = False
        """The rows shown are the ones saved last time, while fresh ones load."""
        self._sorted: list[PortfolioRow] = []
        self._shown = 0
        self._loading = False
        self._loaded_at = 0.0
        self._loaded_changes = 0
        self._fingerprint: tuple[object, ...] = ()
        self._raw: list[PortfolioRow] | None = None
        """The rows shown, as loaded (or read from the cache), before sorting."""
        self._wanted: Scope | None = None
        """A refresh of this scope waits for the user to rest."""
        self._rest_timer: Timer | None = None

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
        yield ShellFooter()

    @property
    def table(self) -> AccountTable:
        return self.query_one("#portfolio-table", AccountTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#portfolio-filter", Input)

    def on_mount(self) -> None:
        self._show_cached()
        self.table.focus()

    def _cache_dir(self) -> Path:
        return self.services.locations.ui_cache_dir(self.services.workspace)

    def _show_cached(self) -> None:
        """Draw the rows saved for this scope (if any) until the fresh ones arrive."""
        rows = read_cached_rows(self._cache_dir(), self.scope, self.services.current_user_email())
        self.cached = rows is not None
        self._raw = rows
        if rows is None:
            self._show()
        else:
            self._resort(rows)

    def on_screen_resume(self, event: ScreenResume) -> None:
        """Reload on return when the rows may be out of date (after a review the risk column
        fills in, also when another process ran it); not while a load is under way."""
        if self._loading:
            return
        if self.loaded and self.shell.changes == self._loaded_changes:
            # Nothing changed here: the stored facts are checked now (two indexed reads), the
            # CRM when its rows are old, once the user rests.
            self._reload_if_changed(self.scope, self._fingerprint)
            if time.monotonic() - self._loaded_at >= STALE_SECONDS:
                self._reload_when_resting()
            return
        if not self.loaded and self.cached and self.shell.changes == self._loaded_changes:
            self._reload_when_resting()  # the cached rows' refresh waits for a pause
            return
        self.action_reload()

    def _reload_when_resting(self) -> None:
        """Reload this scope once the user has not pressed a key for ``REST_SECONDS`` while
        this screen shows (a refresh that competes with keys waits for a pause)."""
        self._wanted = self.scope
        if self._rest_timer is not None:
            self._rest_timer.stop()
        self._rest_timer = self.set_timer(REST_SECONDS, self._rested)

    def _rested(self) -> None:
        self._rest_timer = None
        if self._wanted != self.scope or self._loading:
            return
        if not self.is_current:  # on_screen_resume asks again
            return
        idle = time.monotonic() - self.shell.last_input
        if idle < REST_SECONDS:
            self._rest_timer = self.set_timer(REST_SECONDS - idle, self._rested)
            return
        self.action_reload()

    @work(thread=True, exclusive=True, group="portfolio-check", exit_on_error=False)
    def _reload_if_changed(self, scope: Scope, seen: tuple[object, ...]) -> None:
        from sergas_tui.viewmodels.portfolio import portfolio_fingerprint

        if portfolio_fingerprint(self.services, scope) != seen:
            self.app.call_from_thread(self._reload_scope, scope)

    def _reload_scope(self, scope: Scope) -> None:
        if scope == self.scope and not self._loading:
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
        if not (self.loaded or self.cached):
            return
        line = status_line(
            total=len(self._sorted),
            shown=self._shown,
            sort_key=self.sort_key,
            descending=self.descending,
            scope=self.scope,
            marked=len(self.table.marked),
        )
        if not self.loaded:
            line += f" · {REFRESHING}"
        self.query_one("#portfolio-status", Static).update(Text(line))

    # -- actions --------------------------------------------------------------------------

    def action_reload(self) -> None:
        self._wanted = None
        if self._rest_timer is not None:
            self._rest_timer.stop()
            self._rest_timer = None
        self.add_class("-busy")
        self._loading = True
        self._loaded_changes = self.shell.changes
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
            self._open(key)

    def _open(self, key: str) -> None:
        """Open an account, leaving its row for the account screen to show while it loads."""
        table = self.table
        if table.cursor_key == key:
            self.shell.views.put("account-row", key, table.rows[table.cursor_row])
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
        self.query_one("#portfolio-status", Static).update(Text("Loading accounts…"))
        self._show_cached()
        if self.cached:
            self._reload_when_resting()
        else:
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
        self._open(event.key)

    @on(AccountTable.MarksChanged)
    def _marks_changed(self, event: AccountTable.MarksChanged) -> None:
        self._update_status()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Stop looking busy; SergasScreen reports the failure itself."""
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._loading = False
        if event.state is WorkerState.ERROR:
            self.remove_class("-busy")

    @work(thread=True, exclusive=True, group="portfolio", exit_on_error=False)
    def load_rows(self, scope: Scope) -> None:
        from sergas_tui.viewmodels.portfolio import load_portfolio, portfolio_fingerprint

        fingerprint = portfolio_fingerprint(self.services, scope)  # before: changes meanwhile
        data = self.shell.data
        if data.separate:
            worker = get_current_worker()  # a scope toggled meanwhile cancels this read
            rows = data.run(
                lambda services: load_portfolio(services, scope),
                cancelled=lambda: worker.is_cancelled,
            )
        else:
            rows = self.app.call_from_thread(load_portfolio, self.services, scope)
        shown = self._raw
        self.post_message(self.Loaded(rows, scope, fingerprint))
        if rows != shown:  # (the rows shown came from the cache, or were saved there)
            save_rows(self._cache_dir(), scope, self.services.current_user_email(), rows)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.scope != self.scope:
            return
        self._loading = False
        self._loaded_at = time.monotonic()
        self._fingerprint = message.fingerprint
        self.loaded = True
        self.cached = False
        self.remove_class("-busy")
        self.table.retain_marks({row.account_id for row in message.rows})
        if message.rows == self._raw:  # the rows shown already: only the status changes
            self._update_status()
            return
        self._raw = message.rows
        self._resort(message.rows)
