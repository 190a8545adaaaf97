"""The approvals queue: nothing reaches the CRM without a person's recorded decision here.

A decision is stored at once (in a worker, the moment the key is pressed); an approved write
then waits ``[ui] execute_delay_seconds`` so `u` can take it back, and is written by the
executor in a worker, its result landing on the row. A decision never depends on the screen
staying open: an approved write left unwritten (the app closed during the delay) is written
the next time the queue opens, after the same delay.

Why one module: this is the Textual wiring of one screen — its key bindings, workers, timers
and the rendering of what :class:`~sergas_tui.viewmodels.approval_queue.ApprovalQueue` decides;
the queue's state and rules, the write preview and the adjust form already live in view models
and modals of their own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize, ScreenResume
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from sergas_tui.domain import Approval
from sergas_tui.domain.approval import Verb
from sergas_tui.screens.approval_modals import (
    AdjustModal,
    BulkApproveModal,
    Rejection,
    RejectModal,
)
from sergas_tui.screens.base import SergasScreen
from sergas_tui.screens.more import MoreModal
from sergas_tui.services import Services
from sergas_tui.viewmodels.approval_desk import ApprovalDesk
from sergas_tui.viewmodels.approval_queue import (
    EMPTY,
    ApprovalQueue,
    Countdowns,
    Refused,
    write_failure,
)
from sergas_tui.viewmodels.approvals import QueueItem, load_queue, status_text
from sergas_tui.viewmodels.names import no_web_page
from sergas_tui.widgets.footer import ShellFooter
from sergas_tui.widgets.header import ShellHeader
from sergas_tui.widgets.text import safe_text
from sergas_tui.widgets.write_preview import WritePreview

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("mark", " ", 1),
    ("priority", "Pri", 4),
    ("type", "Type", 6),
    ("account", "Account", 15),
    ("summary", "Write", 17),
    ("status", "Status", 17),
)
NARROW_WIDTH = 110
"""Below this many columns the preview moves under the queue."""
TICK_SECONDS = 0.25


class ApprovalsScreen(SergasScreen):
    CSS_PATH = Path(__file__).with_name("approvals.tcss")
    AUTO_FOCUS = "#approvals-table"
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approvals.approve"),
        Binding("r", "reject", "Reject", id="approvals.reject"),
        Binding("e", "adjust", "Adjust", id="approvals.adjust"),
        Binding("space", "toggle_mark", "Mark", id="approvals.mark"),
        Binding("A", "approve_marked", "Approve marked", id="approvals.approve_marked"),
        Binding("u", "undo", "Undo", id="approvals.undo"),
        Binding("R", "retry", "Retry write", id="approvals.retry"),
        Binding("slash", "filter", "Filter", id="approvals.filter", key_display="/"),
        Binding("escape", "close_filter", "Clear filter", id="approvals.filter_clear", show=False),
        Binding("o", "open_record", "Open in Zoho", id="approvals.open"),
        Binding("m", "more", "More", id="approvals.more"),
        Binding("t", "team_view", "Team", id="approvals.team", show=False),
        Binding("ctrl+r", "reload", "Reload", id="approvals.reload"),
    ]

    @dataclass
    class Loaded(Message):
        items: list[QueueItem]
        more: int = 0
        """Queued recommendations beyond today's budget ("more, lower priority")."""

    @dataclass
    class Decided(Message):
        approvals: list[Approval]

    @dataclass
    class Executed(Message):
        approval: Approval

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.queue = ApprovalQueue()
        """The queue's state and its rules (no Textual): this screen draws what it says."""
        self._modal_open = False

    # What the queue holds, readable on the screen (as the Pilot tests read it).

    @property
    def items(self) -> dict[str, QueueItem]:
        return self.queue.items

    @property
    def shown(self) -> list[QueueItem]:
        return self.queue.shown

    @property
    def marked(self) -> set[str]:
        return self.queue.marked

    @property
    def countdowns(self) -> Countdowns:
        return self.queue.countdowns

    def compose(self) -> ComposeResult:
        yield ShellHeader("Approvals")
        yield Static("Loading the queue…", id="approvals-status", markup=False)
        yield Input(
            placeholder="Filter: account, type or subject", id="approvals-filter", classes="-hidden"
        )
        with Horizontal(id="approvals-body"):
            table: DataTable[Text] = DataTable(id="approvals-table", cursor_type="row")
            for key, label, width in COLUMNS:
                table.add_column(label, width=width, key=key)
            yield table
            yield WritePreview(id="approvals-preview")
        yield ShellFooter()

    def on_mount(self) -> None:
        # Who decides here is recorded on every decision (looked up once, on the UI thread).
        self.desk = ApprovalDesk(self.services, self.shell.actor())
        self.service = self.desk.service
        self._ticker = self.set_interval(TICK_SECONDS, self._tick, pause=True)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW_WIDTH, "-narrow")

    def on_screen_resume(self, _event: ScreenResume) -> None:
        if self._modal_open:  # back from our own dialog: nothing new to read
            self._modal_open = False
            return
        self.reload(quiet=not self.queue.first_load)

    def _ask(self, modal: Any, callback: Any) -> None:
        self._modal_open = True
        self.app.push_screen(modal, callback)

    # -- reading --------------------------------------------------------------------------------

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#approvals-table", DataTable)

    def current(self) -> QueueItem | None:
        return self.queue.item_at(self.table.cursor_row)

    def _cells(self, item: QueueItem) -> list[Text]:
        left = self.queue.seconds_left(item.id, time.monotonic())
        widths = {key: width for key, _label, width in COLUMNS}
        priority_style = "bold" if item.priority in ("critical", "high") else ""
        return [
            Text("●" if item.id in self.queue.marked else " "),
            Text(item.priority_label, style=priority_style),
            Text(item.type_label),
            safe_text(item.account_name, limit=widths["account"]),
            safe_text(item.summary, limit=widths["summary"]),
            Text(status_text(item.approval, left)),
        ]

    def _show_rows(self) -> None:
        table = self.table
        rows = self.queue.arrange(table.cursor_row)
        if not (rows.unchanged and table.row_count == len(rows.items)):
            table.clear()
            for item in rows.items:
                table.add_row(*self._cells(item), key=item.id)
            if rows.cursor is not None:
                table.move_cursor(row=rows.cursor)
        self._show_status()
        self._show_preview()

    def _show_row(self, item: QueueItem) -> None:
        if not self.queue.shows(item.id):
            return
        for (key, _label, _width), cell in zip(COLUMNS, self._cells(item), strict=True):
            self.table.update_cell(item.id, key, cell)
        self._show_preview()

    def _show_status(self) -> None:
        me = self.service.identity
        line = self.queue.status_line(None if me is None else len(me.team))
        self.query_one("#approvals-status", Static).update(safe_text(line))

    def _show_preview(self) -> None:
        item = self.current()
        left = None if item is None else self.queue.seconds_left(item.id, time.monotonic())
        self.query_one(WritePreview).show(item, left)

    @on(DataTable.RowHighlighted, "#approvals-table")
    def _highlighted(self) -> None:
        self._show_preview()

    # -- actions --------------------------------------------------------------------------------

    def _target(self, verb: Verb) -> QueueItem | None:
        found = self.queue.target(self.table.cursor_row, verb)
        if isinstance(found, Refused):
            self._say(found)
            return None
        return found

    def _say(self, refused: Refused) -> None:
        self.notify(refused.message, title=refused.title, severity=refused.severity, markup=False)

    def action_approve(self) -> None:
        if (item := self._target("approve")) is not None:
            self.decide([item.id], "approve")

    def action_reject(self) -> None:
        item = self._target("reject")
        if item is None:
            return

        def rejected(rejection: Rejection | None) -> None:
            if rejection is not None:
                self.decide(
                    [item.id],
                    "reject",
                    reason=rejection.reason or None,
                    not_useful=rejection.not_useful,
                )

        self._ask(RejectModal(f"{item.account_name} — {item.summary}"), rejected)

    def action_adjust(self) -> None:
        item = self._target("adjust")
        if item is None:
            return

        def adjusted(payload: dict[str, Any] | None) -> None:
            if payload is not None:
                self.decide([item.id], "adjust", payload=payload)

        self._ask(AdjustModal(item.approval, item.account_name), adjusted)

    def action_undo(self) -> None:
        if (item := self._target("undo")) is not None:
            self.queue.cancel_countdown(item.id)
            self.decide([item.id], "undo")

    def action_retry(self) -> None:
        if (item := self._target("retry")) is not None:
            self.queue.cancel_countdown(item.id)
            self.execute(item.id)

    def action_team_view(self) -> None:
        """A manager's team queues, or their own again (team mode only)."""
        me = self.service.identity
        if me is None or not me.team:
            self.notify(
                "Only a manager in team mode has a team view: the queues of the people who "
                "report to them.",
                title="No team view",
                markup=False,
            )
            return
        self.queue.toggle_team_view()
        self.reload()

    def action_toggle_mark(self) -> None:
        item = self.current()
        if item is None:
            return
        self.queue.toggle_mark(item.id)
        self._show_row(item)
        self._show_status()
        self.table.action_cursor_down()

    def action_approve_marked(self) -> None:
        ready = self.queue.marked_ready()
        if not ready:
            self.notify(
                "Mark pending writes with space first.", title="Nothing marked", markup=False
            )
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.decide(ready, "approve")

        self._ask(BulkApproveModal(self.queue.bulk_question(ready)), confirmed)

    def action_filter(self) -> None:
        box = self.query_one("#approvals-filter", Input)
        box.remove_class("-hidden")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#approvals-filter", Input)
        if box.has_class("-hidden"):
            return
        box.value = ""
        box.add_class("-hidden")
        self.table.focus()

    def action_reload(self) -> None:
        self.reload()

    def action_open_record(self) -> None:
        """Open the selected write's account in Zoho's web UI (in the browser)."""
        item = self.current()
        if item is None:
            self._say(EMPTY)
            return
        if item.account_url is None:
            self.notify(no_web_page(self.services), title="No Zoho page", markup=False)
            return
        self.app.open_url(item.account_url)

    def action_more(self) -> None:
        """What waits beyond today's budget; pulling one in reloads the queue."""

        def closed(pulled: list[str] | None) -> None:
            if pulled:
                self.reload()
                self.shell.refresh_status()

        self._ask(MoreModal(self.services, self.shell.actor()), closed)

    @on(Input.Changed, "#approvals-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.queue.set_filter(event.value)
        self._show_rows()

    @on(Input.Submitted, "#approvals-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    # -- the undo window ------------------------------------------------------------------------

    def schedule(self, approval_ids: list[str]) -> None:
        """Write these approved ids after the undo delay (at once when the delay is 0)."""
        delay = self.services.settings.ui.execute_delay_seconds
        for ident in self.queue.schedule(approval_ids, delay, time.monotonic()):
            self.execute(ident)
        if self.queue.countdowns:
            self._ticker.resume()

    def _tick(self) -> None:
        tick = self.queue.tick(time.monotonic())
        for ident in tick.due:
            self.execute(ident)
        for ident, text in tick.statuses:  # only the status cell, only when it changes
            self.table.update_cell(ident, "status", Text(text))
        current = self.current()
        if current is not None and self.queue.counting_down(current.id):
            self._show_preview()
        if not tick.running:
            self._ticker.pause()

    # -- workers --------------------------------------------------------------------------------

    def reload(self, *, quiet: bool = False) -> None:
        """Read the queue again; ``quiet`` (coming back to the screen) does not dim the table
        meanwhile, and a queue that did not change is not redrawn."""
        if not quiet:
            self.add_class("-busy")
        self.queue.begin_load()
        self._load()

    @work(exclusive=True, group="approvals-load", exit_on_error=False)
    async def _load(self) -> None:
        owner = self.services.current_user_email()
        if self.services.central_audit_configured and self.service.identity is None:
            # Team mode: who is at the keyboard (this OS account's person in the team's roles;
            # an unmapped account is reported and sees nothing). Decisions are theirs.
            # An unknown person, or roles that cannot be read, is reported and sees nothing:
            # team mode never falls back to the device's configured user.
            me = await asyncio.to_thread(self.services.identity)
            self.service.identity = me
            if me is not None:
                self.desk.actor = me.email
        me = self.service.identity
        if me is not None:  # the person's own queue, not the device's
            owner = me.email
        owners = self.queue.owners_to_read(me)
        if self.queue.needs_people(owners):
            store = self.services.people()
            if store is not None:
                self.queue.set_people(await asyncio.to_thread(store.all))
        # Team mode: what other devices and workers changed first (nothing in local mode).
        failed_before = self.service.team_error is not None
        await self.service.pull(None if owners is not None else owner)
        problem = self.service.team_error
        if problem is not None and not failed_before:  # said once per outage, not per reload
            self.notify(
                f"{problem.message} The queue shows this device's approvals; deciding waits "
                "until they are back.",
                title="Team records unreachable",
                severity="warning",
                markup=False,
            )
        await self.service.expire_due()
        items = await load_queue(self.services, set(self.queue.session_ids), owner, owners)
        if owners is not None:
            items = self.queue.with_owners(items)
        more = await asyncio.to_thread(self.services.store.queued_recommendations, owner)
        self.post_message(self.Loaded(items, len(more)))

    # Decisions and writes are not exclusive: a second key press must never cancel the first.
    # A decision is an async worker on the app's loop; its database work runs in threads.
    @work(group="approvals-decide", exit_on_error=False)
    async def decide(
        self,
        approval_ids: list[str],
        verb: Verb,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        not_useful: bool = False,
    ) -> None:
        decisions = await self.desk.decide(
            approval_ids, verb, reason=reason, payload=payload, not_useful=not_useful
        )
        if decisions.decided:  # shown even when a refusal stopped the rest
            self.post_message(self.Decided(decisions.decided))
        decisions.raise_error()

    @work(group="approvals-execute", exit_on_error=False)
    async def reconcile(self) -> None:
        """Finish writes a crash left half-done (see ApprovalDesk.reconcile)."""
        for stored in await self.desk.reconcile():
            self.post_message(self.Executed(stored))

    @work(group="approvals-execute", exit_on_error=False)
    async def execute(self, approval_id: str) -> None:
        if (writing := self.queue.writing(approval_id)) is not None:
            self.post_message(self.Executed(writing))
        stored = await self.desk.execute(approval_id)
        if stored is not None:
            self.post_message(self.Executed(stored))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """After a failed decision or write, reload so every row shows the truth.

        (SergasScreen's handler has already reported the failure: Textual calls the handler of
        every class in the hierarchy.)
        """
        if event.state is WorkerState.ERROR and event.worker.group != "approvals-load":
            self.reload()

    # -- results --------------------------------------------------------------------------------

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        first = self.queue.loaded(message.items, message.more)
        self._show_rows()
        self.remove_class("-busy")
        if first is None:
            return
        if first.reconcile:
            self.reconcile()
        if first.unwritten:
            delay = self.services.settings.ui.execute_delay_seconds
            self.notify(
                f"{len(first.unwritten)} write(s) you approved earlier are not in the CRM yet; "
                f"writing them in {delay:g} s (u undoes one).",
                title="Approved writes waiting",
                markup=False,
            )
            self.schedule(first.unwritten)

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        approved, changed = self.queue.decided(message.approvals)
        self.schedule(approved)
        for item in changed:
            self._show_row(item)
        self._show_status()
        self.shell.refresh_status()

    @on(Executed)
    def _executed(self, message: Executed) -> None:
        item = self.queue.changed(message.approval)
        if item is None:
            return
        self._show_row(item)
        if (failure := write_failure(item)) is not None:
            self.notify(
                failure,
                title=f"Write {item.status}",
                severity="error",
                markup=False,
            )
