"""The approvals queue: nothing reaches the CRM without a person's recorded decision here.

A decision is stored at once (in a worker, the moment the key is pressed); an approved write
then waits ``[ui] execute_delay_seconds`` so `u` can take it back, and is written by the
executor in a worker, its result landing on the row. A decision never depends on the screen
staying open: an approved write left unwritten (the app closed during the delay) is written
the next time the queue opens, after the same delay.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
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

from sergas_tui.domain import Approval, ApprovalStatus
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
from sergas_tui.viewmodels.approvals import (
    Countdowns,
    QueueItem,
    bulk_summary,
    filter_queue,
    ids_of,
    load_queue,
    queue_status,
    refusal,
    sort_queue,
    status_text,
    with_approval,
)
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
        self.items: dict[str, QueueItem] = {}
        self.shown: list[QueueItem] = []
        self.marked: set[str] = set()
        self.session_ids: set[str] = set()
        self.countdowns = Countdowns()
        self.filter_text = ""
        self._first_load = True
        self.more = 0
        self._modal_open = False
        self._touched: dict[str, Approval] = {}
        self._status_shown: dict[str, str] = {}
        self.team_view = False
        """A manager's view of their team's queues (team mode; ``t``)."""
        self._people: dict[str, str] = {}
        """The team's people by e-mail (lower case), read when the team view opens."""
        self._drawn: list[tuple[QueueItem, bool]] | None = None
        """The rows (and their marks) the table was last built from."""
        """Approvals changed since the running load started (fresher than what it read)."""

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
        self.reload(quiet=not self._first_load)

    def _ask(self, modal: Any, callback: Any) -> None:
        self._modal_open = True
        self.app.push_screen(modal, callback)

    # -- reading --------------------------------------------------------------------------------

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#approvals-table", DataTable)

    def current(self) -> QueueItem | None:
        table = self.table
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _cells(self, item: QueueItem) -> list[Text]:
        left = self.countdowns.seconds_left(item.id, time.monotonic())
        widths = {key: width for key, _label, width in COLUMNS}
        priority_style = "bold" if item.priority in ("critical", "high") else ""
        return [
            Text("●" if item.id in self.marked else " "),
            Text(item.priority_label, style=priority_style),
            Text(item.type_label),
            safe_text(item.account_name, limit=widths["account"]),
            safe_text(item.summary, limit=widths["summary"]),
            Text(status_text(item.approval, left)),
        ]

    def _show_rows(self) -> None:
        table = self.table
        keep = self.current()
        shown = filter_queue(sort_queue(self.items.values()), self.filter_text)
        drawn = [(item, item.id in self.marked) for item in shown]
        if drawn == self._drawn and table.row_count == len(shown):
            self.shown = shown  # the same rows: the table stays as it is
            self._show_status()
            self._show_preview()
            return
        self.shown = shown
        self._drawn = drawn
        table.clear()
        for item in self.shown:
            table.add_row(*self._cells(item), key=item.id)
        ids = ids_of(self.shown)
        if keep is not None and keep.id in ids:
            table.move_cursor(row=ids.index(keep.id))
        self._show_status()
        self._show_preview()

    def _show_row(self, item: QueueItem) -> None:
        if item.id not in ids_of(self.shown):
            return
        self.shown = [item if v.id == item.id else v for v in self.shown]
        self._drawn = None  # the table no longer shows what it was built from
        for (key, _label, _width), cell in zip(COLUMNS, self._cells(item), strict=True):
            self.table.update_cell(item.id, key, cell)
        self._show_preview()

    def _show_status(self) -> None:
        me = self.service.identity
        whose = f"your team of {len(me.team)}" if self.team_view and me is not None else "you"
        line = queue_status(
            list(self.items.values()), self.shown, self.marked, self.filter_text, whose
        )
        if self.more:
            line += f" · {self.more} more, lower priority (m)"
        self.query_one("#approvals-status", Static).update(safe_text(line))

    def _show_preview(self) -> None:
        item = self.current()
        left = None if item is None else self.countdowns.seconds_left(item.id, time.monotonic())
        self.query_one(WritePreview).show(item, left)

    @on(DataTable.RowHighlighted, "#approvals-table")
    def _highlighted(self) -> None:
        self._show_preview()

    # -- actions --------------------------------------------------------------------------------

    def _target(self, verb: Verb) -> QueueItem | None:
        item = self.current()
        if item is None:
            self.notify("The queue is empty.", title="Approvals", markup=False)
            return None
        problem = refusal(item, verb)
        if problem is not None:
            self.notify(problem, title=f"Cannot {verb}", severity="warning", markup=False)
            return None
        return item

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
            self.countdowns.cancel(item.id)
            self.decide([item.id], "undo")

    def action_retry(self) -> None:
        if (item := self._target("retry")) is not None:
            self.countdowns.cancel(item.id)
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
        self.team_view = not self.team_view
        self.reload()

    def action_toggle_mark(self) -> None:
        item = self.current()
        if item is None:
            return
        self.marked ^= {item.id}
        self._show_row(item)
        self._show_status()
        self.table.action_cursor_down()

    def action_approve_marked(self) -> None:
        marked = [i for i in ids_of(sort_queue(self.items.values())) if i in self.marked]
        ready = [i for i in marked if self.items[i].decidable]
        if not ready:
            self.notify(
                "Mark pending writes with space first.", title="Nothing marked", markup=False
            )
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.decide(ready, "approve")

        question = bulk_summary(ready, ids_of(self.shown))
        self._ask(BulkApproveModal(question), confirmed)

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
            self.notify("The queue is empty.", title="Approvals", markup=False)
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
        self.filter_text = event.value
        self._show_rows()

    @on(Input.Submitted, "#approvals-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    # -- the undo window ------------------------------------------------------------------------

    def schedule(self, approval_ids: list[str]) -> None:
        """Write these approved ids after the undo delay (at once when the delay is 0)."""
        delay = self.services.settings.ui.execute_delay_seconds
        if not approval_ids:
            return
        if delay <= 0:
            for ident in approval_ids:
                self.execute(ident)
            return
        now = time.monotonic()
        for ident in approval_ids:
            self.countdowns.start(ident, now, delay)
        self._ticker.resume()

    def _tick(self) -> None:
        now = time.monotonic()
        for ident in self.countdowns.pop_due(now):
            self.execute(ident)
        shown = set(ids_of(self.shown))
        for ident in self.countdowns.deadlines:  # only the status cell, only when it changes
            item = self.items.get(ident)
            if item is None or ident not in shown:
                continue
            text = status_text(item.approval, self.countdowns.seconds_left(ident, now))
            if self._status_shown.get(ident) != text:
                self._status_shown[ident] = text
                self.table.update_cell(ident, "status", Text(text))
        current = self.current()
        if current is not None and current.id in self.countdowns.deadlines:
            self._show_preview()
        if not self.countdowns:
            self._ticker.pause()

    # -- workers --------------------------------------------------------------------------------

    def reload(self, *, quiet: bool = False) -> None:
        """Read the queue again; ``quiet`` (coming back to the screen) does not dim the table
        meanwhile, and a queue that did not change is not redrawn."""
        if not quiet:
            self.add_class("-busy")
        self._touched = {}
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
        owners = sorted(me.owners()) if me is not None and self.team_view else None
        if owners is not None and not self._people:
            store = self.services.people()
            if store is not None:
                found = await asyncio.to_thread(store.all)
                self._people = {p.email.lower(): p.label() for p in found}
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
        items = await load_queue(self.services, set(self.session_ids), owner, owners)
        if owners is not None:
            people = self._people
            items = [
                replace(
                    i,
                    owner_label=people.get(i.approval.owner_email.lower(), i.approval.owner_email),
                )
                for i in items
            ]
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
        if (item := self.items.get(approval_id)) is not None:
            writing = item.approval.model_copy(update={"status": ApprovalStatus.EXECUTING})
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
        self.items = {item.id: item for item in message.items}
        self.more = message.more
        for ident, approval in self._touched.items():
            if ident in self.items:
                self.items[ident] = with_approval(self.items[ident], approval)
        self.marked &= set(self.items)
        self._show_rows()
        self.remove_class("-busy")
        if self._first_load:
            self._first_load = False
            if any(i.approval.status == ApprovalStatus.EXECUTING for i in message.items):
                self.reconcile()
            left = [
                i.id
                for i in message.items
                if i.status.is_approved and i.id not in self.countdowns.deadlines
            ]
            if left:
                delay = self.services.settings.ui.execute_delay_seconds
                self.notify(
                    f"{len(left)} write(s) you approved earlier are not in the CRM yet; "
                    f"writing them in {delay:g} s (u undoes one).",
                    title="Approved writes waiting",
                    markup=False,
                )
                self.schedule(left)

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        approved: list[str] = []
        for approval in message.approvals:
            self.session_ids.add(approval.id)
            self.marked.discard(approval.id)
            if approval.status.is_approved:
                approved.append(approval.id)
        self.schedule(approved)
        for approval in message.approvals:
            self._touched[approval.id] = approval
            if (item := self.items.get(approval.id)) is not None:
                self.items[approval.id] = with_approval(item, approval)
                self._show_row(self.items[approval.id])
        self._show_status()
        self.shell.refresh_status()

    @on(Executed)
    def _executed(self, message: Executed) -> None:
        approval = message.approval
        self._touched[approval.id] = approval
        item = self.items.get(approval.id)
        if item is None:
            return
        self.items[approval.id] = with_approval(item, approval)
        self._show_row(self.items[approval.id])
        if approval.status in (ApprovalStatus.FAILED, ApprovalStatus.CONFLICT):
            what = f"{item.account_label or item.account_name} — {item.summary}"
            self.notify(
                f"{what}: {approval.error_message or 'The CRM refused the write.'}",
                title=f"Write {approval.status}",
                severity="error",
                markup=False,
            )
