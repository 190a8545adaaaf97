"""Account detail: one account's overview, deals, activity, notes, changes, memory and actions.

Pushed on the portfolio stack by ``app.open_account(account_id)``; ``escape`` goes back. The
data comes from :func:`sergas_tui.viewmodels.account.load_account` in a worker; this screen only
lays it out. Sections are tabs, switched with ``[`` and ``]`` (digits are the app's modes).

The app keeps one instance installed and reuses it for the next account
(:meth:`AccountScreen.show_account`): building the tabs again costs far more than the data. An
account seen before is drawn from the app's view cache at once and refreshed behind it; a
refresh that brings the same detail redraws nothing, and the notes (widgets of their own) are
mounted only when they changed. An account not seen before shows what its portfolio row says
(``views`` kind ``account-row``: name, owner, risk, pipeline) until its detail arrives.

Why one module: this is one Textual screen, and Textual finds its parts on the screen
class: actions by name, ``@on`` handlers by message class, workers by method. Its state (the
account shown, how fresh its detail is, the cached detail and preview) is read by nearly every
method. What is not the screen's life cycle already lives elsewhere: the data and its wording in
``viewmodels/account.py`` and ``viewmodels/account_rows.py``, the section widgets in
``widgets/account_sections.py``; splitting the class into mixins would scatter one object's
state across files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import ScreenResume
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from sergas_tui.domain.mutes import day_of, describe, signal_label
from sergas_tui.screens.base import SergasScreen
from sergas_tui.screens.more import MoreModal
from sergas_tui.screens.signal_modals import SnoozeSignalModal, UnmuteSignalModal
from sergas_tui.services import Services
from sergas_tui.viewmodels.account import (
    AccountDetail,
    current_recommendations,
    load_account,
    with_mutes,
)
from sergas_tui.viewmodels.account_rows import NoteView, RecommendationRow
from sergas_tui.viewmodels.mutes import MuteRequest, default_until, save_mute, unmute
from sergas_tui.viewmodels.names import no_web_page
from sergas_tui.viewmodels.portfolio_rows import PortfolioRow
from sergas_tui.widgets.account_sections import (
    activity_text,
    changes_text,
    deals_text,
    memory_text,
    overview_text,
    preview_risk,
    preview_text,
    recommendations_text,
)
from sergas_tui.widgets.footer import ShellFooter
from sergas_tui.widgets.header import ShellHeader
from sergas_tui.widgets.note_card import NoteCard
from sergas_tui.widgets.text import safe_text

TABS: tuple[tuple[str, str], ...] = (
    ("tab-overview", "Overview"),
    ("tab-deals", "Deals"),
    ("tab-activity", "Activity"),
    ("tab-notes", "Notes"),
    ("tab-changes", "Changes"),
    ("tab-memory", "Memory"),
    ("tab-recs", "Recommendations"),
)
NAME_LIMIT = 60
FRESH_SECONDS = 60.0
"""An account read from the CRM this recently is drawn from the cache when opened again,
without reading the CRM (its recommendations' statuses are read from the store); ctrl+r
always reads it."""
SECTIONS = (
    "#account-risk",
    "#account-meta",
    "#overview-text",
    "#deals-text",
    "#activity-text",
    "#changes-text",
    "#memory-text",
    "#recs-text",
)
"""The Statics redrawn for each account (cleared when the screen moves to another one)."""


class AccountScreen(SergasScreen):
    """The detail of one account; loads in a worker and shows a plain message on failure."""

    CSS_PATH = Path(__file__).with_name("account.tcss")

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="account.back"),
        Binding(
            "right_square_bracket", "next_tab", "Next tab", id="account.next_tab", key_display="]"
        ),
        Binding(
            "left_square_bracket",
            "previous_tab",
            "Previous tab",
            id="account.previous_tab",
            key_display="[",
            show=False,
        ),
        Binding("F", "expand_all", "Expand notes", id="account.expand_all"),
        Binding("r", "review", "Review account", id="account.review"),
        Binding("z", "snooze_signal", "Snooze signal", id="account.snooze_signal"),
        Binding("u", "unmute_signal", "Unmute signal", id="account.unmute_signal", show=False),
        Binding("o", "open_record", "Open in Zoho", id="account.open"),
        Binding("m", "more", "More, lower priority", id="account.more"),
        Binding("ctrl+r", "reload", "Reload", id="account.reload", show=False),
    ]

    @dataclass
    class RecommendationsRead(Message):
        account_id: str
        rows: list[RecommendationRow]

    @dataclass
    class Loaded(Message):
        detail: AccountDetail
        read_at: float | None = None
        """``time.monotonic()`` when it was read from the CRM (None: drawn from the cache)."""
        changes: int = 0
        """``ShellApi.changes`` when the read began."""

    @dataclass
    class SignalsChanged(Message):
        """A snooze, dismissal or unmute was stored: the detail with its signals re-split."""

        detail: AccountDetail
        done: str

    def __init__(self, services: Services, account_id: str) -> None:
        super().__init__()
        self.services = services
        self.account_id = account_id
        self.detail: AccountDetail | None = None
        self.title = "Account"
        self._notes_shown: object = None
        """The notes the Notes tab holds widgets for (remounted only when they change)."""
        self._just_shown = False

    def compose(self) -> ComposeResult:
        yield ShellHeader("Account")
        with Horizontal(id="account-title"):
            yield Static(safe_text(f"Account {self.account_id}"), id="account-name")
            yield Static("", id="account-risk")
            yield Static("", id="account-meta")
        yield Static("Loading the account…", id="account-status", markup=False)
        with TabbedContent(id="account-tabs"):
            with TabPane("Overview", id="tab-overview"), VerticalScroll(classes="pane"):
                yield Static(id="overview-text")
            with TabPane("Deals", id="tab-deals"), VerticalScroll(classes="pane"):
                yield Static(id="deals-text")
            with TabPane("Activity", id="tab-activity"), VerticalScroll(classes="pane"):
                yield Static(id="activity-text")
            with TabPane("Notes", id="tab-notes"):
                yield VerticalScroll(id="notes-list", classes="pane")
            with TabPane("Changes", id="tab-changes"), VerticalScroll(classes="pane"):
                yield Static(id="changes-text")
            with TabPane("Memory", id="tab-memory"), VerticalScroll(classes="pane"):
                yield Static(id="memory-text")
            with TabPane("Recommendations", id="tab-recs"), VerticalScroll(classes="pane"):
                yield Static(id="recs-text")
        yield ShellFooter()

    def on_mount(self) -> None:
        self.add_class("-empty")
        self._begin()

    def show_account(self, account_id: str) -> None:
        """Show ``account_id`` on this (already mounted) screen, before the app pushes it
        again: the kept detail at once when there is one, then a refresh."""
        if account_id != self.account_id or self.detail is None:
            self.account_id = account_id
            self.detail = None
            self.query_one("#account-name", Static).update(safe_text(f"Account {account_id}"))
            for name in SECTIONS:
                self.query_one(name, Static).update("")
            self._notes_shown = None
            self.query_one("#notes-list", VerticalScroll).remove_children()
            tabs = self.query_one("#account-tabs", TabbedContent)
            for tab_id, label in TABS:
                tabs.get_tab(tab_id).label = label
        self.query_one("#account-tabs", TabbedContent).active = TABS[0][0]
        self._just_shown = True
        self._begin()

    def _begin(self) -> None:
        """Draw what is known of the account at once, then read it (quietly when a detail
        shows: a refresh that brings nothing new changes nothing on screen)."""
        kept = self.shell.views.get("account", self.account_id)
        if not isinstance(kept, AccountDetail):
            kept = self.detail
        if kept is not None:  # seen before: draw it now, refresh behind it
            if kept != self.detail:
                self._draw(kept)
            else:
                self._focus_active_pane()
            if self._fresh():  # read a moment ago: only the statuses the store holds
                self._loaded()
                self._refresh_recommendations(self.account_id)
            else:
                self.load()
            return
        row = self.shell.views.get("account-row", self.account_id)
        if isinstance(row, PortfolioRow):
            self._draw_preview(row)
            self._status("Reading its deals, activity, notes and history…")
            self.load()
            return
        self.add_class("-empty")
        self.action_reload()

    def _fresh(self) -> bool:
        """Whether this account was read from the CRM less than ``FRESH_SECONDS`` ago, with
        nothing changed in the app since (re-reading it costs the org's Zoho calls)."""
        read = self.shell.views.get("account-read", self.account_id)
        if not isinstance(read, tuple):
            return False
        read_at, changes = read
        return bool(changes == self.shell.changes and time.monotonic() - read_at < FRESH_SECONDS)

    def _draw_preview(self, row: PortfolioRow) -> None:
        """The account as its portfolio row knows it, until the detail is read."""
        self.query_one("#account-name", Static).update(
            safe_text(row.name, style="bold", limit=NAME_LIMIT)
        )
        text, level = preview_risk(row)
        self._show_risk(text, level)
        self.query_one("#account-meta", Static).update(safe_text(f"owner {row.owner_name or '—'}"))
        self.query_one("#overview-text", Static).update(preview_text(row))
        self.remove_class("-empty")
        self._focus_active_pane()

    # -- actions ----------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.add_class("-busy")
        self._status("Loading the account…" if self.detail is None else "Reloading…")
        self.load()

    def action_review(self) -> None:
        self.shell.start_review([self.account_id])

    def action_open_record(self) -> None:
        """Open this account's page in Zoho's web UI (in the browser)."""
        url = self.detail.url if self.detail is not None else None
        if url is None:
            self.notify(no_web_page(self.services), title="No Zoho page", markup=False)
            return
        self.app.open_url(url)

    def action_snooze_signal(self) -> None:
        """Snooze or dismiss one of the account's standing signals (asks in a dialog)."""
        detail = self.detail
        if detail is None:
            self.notify("The account is still loading.", title="Snooze", markup=False)
            return
        if not detail.signal_choices:
            why = (
                "Its other signals are already snoozed or dismissed."
                if detail.muted
                else "The latest review found none (press r to review it)."
            )
            self.notify(
                f"{detail.name} has no risk signal to snooze. {why}",
                title="Nothing to snooze",
                markup=False,
            )
            return
        now = self.services.clock.now()
        actor = self.shell.actor()

        def chosen(request: MuteRequest | None) -> None:
            if request is not None:
                self._save_mute(request, actor)

        modal = SnoozeSignalModal(
            detail.name, detail.signal_choices, default_until(now), day_of(now)
        )
        self.app.push_screen(modal, chosen)

    def action_more(self) -> None:
        """This account's items beyond today's budget; one may be pulled into the queue
        (the recommendations list refreshes when the dialog closes)."""
        title = f"More for {self.detail.name}" if self.detail is not None else ""
        modal = MoreModal(
            self.services, self.shell.actor(), account_id=self.account_id, title=title
        )
        self.app.push_screen(modal)

    def action_unmute_signal(self) -> None:
        """Count a snoozed or dismissed signal again (asks which, in a dialog)."""
        detail = self.detail
        if detail is None or not detail.muted:
            self.notify(
                "No signal of this account is snoozed or dismissed.",
                title="Nothing to unmute",
                markup=False,
            )
            return
        actor = self.shell.actor()

        def chosen(mute_id: str | None) -> None:
            if mute_id is not None:
                self._unmute(mute_id, actor)

        self.app.push_screen(UnmuteSignalModal(detail.name, detail.muted), chosen)

    def action_next_tab(self) -> None:
        self._step_tab(1)

    def action_previous_tab(self) -> None:
        self._step_tab(-1)

    def action_expand_all(self) -> None:
        cards = list(self.query(NoteCard))
        expand = not all(card.expanded for card in cards if card.foldable)
        for card in cards:
            if card.foldable:
                card.expanded = expand

    def _step_tab(self, step: int) -> None:
        tabs = self.query_one("#account-tabs", TabbedContent)
        ids = [tab_id for tab_id, _ in TABS]
        index = ids.index(tabs.active) if tabs.active in ids else 0
        tabs.active = ids[(index + step) % len(ids)]
        self._focus_active_pane()

    def _focus_active_pane(self) -> None:
        """Focus what the keys of the active tab act on: a table, the first note, the text."""
        tabs = self.query_one("#account-tabs", TabbedContent)
        pane = tabs.get_pane(tabs.active)
        target: Widget | None = next(iter(pane.query(NoteCard)), None)
        if target is None:
            target = next(iter(pane.query(".pane")), None)
        if target is not None:
            target.focus()

    # -- loading ----------------------------------------------------------------------------------

    def on_screen_resume(self, event: ScreenResume) -> None:
        """Back on this screen (after deciding in the queue, say): refresh the statuses.
        Not when the app has just pushed it for an account (that reloads it all)."""
        if self._just_shown:
            self._just_shown = False
            return
        if self.detail is not None:
            self._refresh_recommendations(self.account_id)

    @work(thread=True, exclusive=True, group="account-recs", exit_on_error=False)
    def _refresh_recommendations(self, account_id: str) -> None:
        rows = current_recommendations(self.services, account_id)
        self.post_message(self.RecommendationsRead(account_id, rows))

    @on(RecommendationsRead)
    def _recommendations_read(self, message: RecommendationsRead) -> None:
        if self.detail is None or message.account_id != self.account_id:
            return
        if message.rows == self.detail.recommendations:
            return
        self.detail = replace(self.detail, recommendations=message.rows)
        self.shell.views.put("account", self.account_id, self.detail)
        self.query_one("#recs-text", Static).update(recommendations_text(self.detail))
        self._label_tabs(self.detail)

    @work(thread=True, group="account-mutes", exit_on_error=False)
    def _save_mute(self, request: MuteRequest, actor: str) -> None:
        assert self.detail is not None
        mute = save_mute(self.services, self.account_id, request, actor=actor)
        label = signal_label(mute.signal_key)
        done = f"{describe(mute, self.services.clock.now())}: {label}."
        self.post_message(self.SignalsChanged(with_mutes(self.services, self.detail), done))

    @work(thread=True, group="account-mutes", exit_on_error=False)
    def _unmute(self, mute_id: str, actor: str) -> None:
        assert self.detail is not None
        mute = unmute(self.services, mute_id, actor=actor)
        done = f"{signal_label(mute.signal_key)} counts again from the next review."
        self.post_message(self.SignalsChanged(with_mutes(self.services, self.detail), done))

    @on(SignalsChanged)
    def _signals_changed(self, message: SignalsChanged) -> None:
        if self.detail is None or message.detail.account_id != self.account_id:
            return
        self.detail = replace(
            self.detail,
            signals=message.detail.signals,
            signal_choices=message.detail.signal_choices,
            muted=message.detail.muted,
        )
        self.shell.views.put("account", self.account_id, self.detail)
        self.query_one("#overview-text", Static).update(overview_text(self.detail))
        self.notify(message.done, title=self.detail.name, markup=False)

    @work(thread=True, exclusive=True, group="account", exit_on_error=False)
    def load(self) -> None:
        data, account_id = self.shell.data, self.account_id
        changes = self.shell.changes
        if data.shares_memory:  # off the app's loop: keys stay quick meanwhile
            worker = get_current_worker()
            detail = data.run(
                lambda services: load_account(services, account_id),
                cancelled=lambda: worker.is_cancelled,
            )
        else:
            read: Any = partial(load_account, self.services, account_id)
            detail = cast(AccountDetail, self.app.call_from_thread(read))
        self.post_message(self.Loaded(detail, time.monotonic(), changes))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # SergasScreen's handler runs too (Textual calls every class's handler in the MRO) and
        # reports the error; this one only replaces the loading message.
        if event.worker.group == "account" and event.state is WorkerState.ERROR:
            self.remove_class("-busy")
            error = event.worker.error
            message = getattr(error, "message", None) or str(error)
            self._status(
                f"Could not load this account: {message} "
                "Press ctrl+r to try again or escape to go back.",
                failed=True,
            )

    def _status(self, message: str, *, failed: bool = False) -> None:
        status = self.query_one("#account-status", Static)
        status.update(safe_text(message, single_line=False))
        status.set_class(failed, "-failed")
        status.remove_class("-hidden")

    @on(Loaded)
    def show_detail(self, message: Loaded) -> None:
        detail = message.detail
        if detail.account_id != self.account_id:  # a load for the account shown before
            return
        self.shell.views.put("account", self.account_id, detail)
        if message.read_at is not None:
            self.shell.views.put(
                "account-read", self.account_id, (message.read_at, message.changes)
            )
        if detail == self.detail:  # nothing new: no redraw
            self._loaded()
            return
        self._draw(detail)

    def _draw(self, detail: AccountDetail) -> None:
        self.detail = detail
        self.query_one("#account-name", Static).update(
            safe_text(detail.name, style="bold", limit=NAME_LIMIT)
        )
        known = detail.risk_level in ("high", "medium", "low", "none")
        self._show_risk(detail.risk_text, detail.risk_level if known else "unknown")
        meta = f"owner {detail.owner or '—'} · {detail.reviewed}"
        self.query_one("#account-meta", Static).update(safe_text(meta))
        self.query_one("#overview-text", Static).update(overview_text(detail))
        self.query_one("#changes-text", Static).update(changes_text(detail.changes))
        self.query_one("#memory-text", Static).update(memory_text(detail))
        self.query_one("#recs-text", Static).update(recommendations_text(detail))
        self.query_one("#deals-text", Static).update(deals_text(detail))
        self.query_one("#activity-text", Static).update(activity_text(detail))
        if detail.notes != self._notes_shown:
            self._notes_shown = detail.notes
            self.call_later(self._fill_notes, detail.notes)
        self._label_tabs(detail)
        first_load = self.has_class("-empty")
        self._loaded()
        self.remove_class("-empty")
        if first_load:
            self._focus_active_pane()

    def _show_risk(self, text: str, level: str) -> None:
        risk = self.query_one("#account-risk", Static)
        risk.update(text)
        for name in ("high", "medium", "low", "none", "unknown"):
            risk.set_class(name == level, f"-risk-{name}")

    def _loaded(self) -> None:
        self.query_one("#account-status", Static).add_class("-hidden")
        self.remove_class("-busy")

    async def _fill_notes(self, notes: list[NoteView]) -> None:
        if notes is not self._notes_shown:  # a newer list is on its way
            return
        box = self.query_one("#notes-list", VerticalScroll)
        await box.remove_children()
        if not notes:
            await box.mount(Static("No notes on this account.", classes="empty"))
        else:
            await box.mount_all(NoteCard(note) for note in notes)
        tabs = self.query_one("#account-tabs", TabbedContent)
        if tabs.active == "tab-notes" and self.focused is None:
            self._focus_active_pane()

    def _label_tabs(self, detail: AccountDetail) -> None:
        counts = {
            "tab-deals": len(detail.deals),
            "tab-activity": len(detail.activities),
            "tab-notes": len(detail.notes),
            "tab-changes": len(detail.changes),
            "tab-recs": len(detail.recommendations),
        }
        tabs = self.query_one("#account-tabs", TabbedContent)
        for tab_id, label in TABS:
            count = counts.get(tab_id)
            tabs.get_tab(tab_id).label = label if count is None else f"{label} {count}"
