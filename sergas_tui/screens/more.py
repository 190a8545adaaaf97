""" "More, lower priority": the recommendations beyond the owner's daily budget, and pulling one in.

Opened from the approvals queue (`m`) and the account screen. Each row is a queued
recommendation, best expected value first; `p` (or enter) pulls the selected one into the
approvals queue now, recorded with who did it. The dialog dismisses with the ids it pulled in,
so the screen underneath reloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from sergas_tui.screens.base import ShellApi
from sergas_tui.services import Services
from sergas_tui.viewmodels.more import MoreItem, load_more, pull_more
from sergas_tui.widgets.text import safe_text

MORE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("priority", "Pri", 4),
    ("type", "Type", 6),
    ("account", "Account", 22),
    ("what", "What", 40),
)


class MoreModal(ModalScreen[list[str]]):
    """Queued recommendations of the current owner (or of one account)."""

    CSS_PATH = Path(__file__).with_name("more.tcss")
    AUTO_FOCUS = "#more-table"
    BINDINGS = [
        Binding("p", "pull", "Pull into my queue", id="more.pull"),
        Binding("escape", "close", "Close", id="more.close"),
    ]

    @dataclass
    class Loaded(Message):
        items: list[MoreItem]

    @dataclass
    class Pulled(Message):
        recommendation_id: str

    def __init__(
        self, services: Services, actor: str, *, account_id: str | None = None, title: str = ""
    ) -> None:
        super().__init__()
        self.services = services
        self.actor = actor
        self.account_id = account_id
        self.title_text = title or "More, lower priority"
        self.items: list[MoreItem] = []
        self.pulled: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="more-dialog"):
            yield Static("Loading…", id="more-status", markup=False)
            table: DataTable[Text] = DataTable(id="more-table", cursor_type="row")
            for key, label, width in MORE_COLUMNS:
                table.add_column(label, width=width, key=key)
            yield table
            yield Static("", id="more-why", markup=False)
            yield Static(
                "p or enter pulls the selected item into your queue · escape closes",
                classes="dialog-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#more-dialog").border_title = self.title_text
        self._load()

    @work(exclusive=True, group="more-load", exit_on_error=False)
    async def _load(self) -> None:
        items = await load_more(self.services, account_id=self.account_id)
        self.post_message(self.Loaded(items))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.items = message.items
        table = self.query_one("#more-table", DataTable)
        table.clear()
        for item in self.items:
            table.add_row(
                Text(item.priority_label),
                Text(item.type_label),
                safe_text(item.account_name, limit=22),
                safe_text(item.headline, limit=40),
                key=item.id,
            )
        self._status()
        self._why()

    def _status(self) -> None:
        count = len(self.items)
        line = (
            f"{count} more, lower priority — below today's budget; pull one in to decide it now."
            if count
            else "Nothing waiting beyond your queue."
        )
        self.query_one("#more-status", Static).update(line)

    def current(self) -> MoreItem | None:
        table = self.query_one("#more-table", DataTable)
        row = table.cursor_row
        return self.items[row] if 0 <= row < len(self.items) else None

    @on(DataTable.RowHighlighted, "#more-table")
    def _why(self) -> None:
        item = self.current()
        text = "" if item is None else f"{item.account_label} · {item.value_text} · {item.why}"
        self.query_one("#more-why", Static).update(safe_text(text, limit=400))

    @on(DataTable.RowSelected, "#more-table")
    def _selected(self) -> None:
        self.action_pull()

    def action_pull(self) -> None:
        item = self.current()
        if item is None:
            self.notify("Nothing to pull in.", title="More", markup=False)
            return
        self._pull(item.id)

    @work(group="more-pull", exit_on_error=False)
    async def _pull(self, recommendation_id: str) -> None:
        await pull_more(self.services, recommendation_id, self.actor)
        self.post_message(self.Pulled(recommendation_id))

    @on(Pulled)
    def _pulled(self, message: Pulled) -> None:
        item = next((i for i in self.items if i.id == message.recommendation_id), None)
        self.pulled.append(message.recommendation_id)
        self.items = [i for i in self.items if i.id != message.recommendation_id]
        table = self.query_one("#more-table", DataTable)
        table.remove_row(message.recommendation_id)
        self._status()
        self._why()
        what = "" if item is None else f"{item.account_name} — {item.headline}"
        self.notify(f"In your queue now: {what}", title="Pulled in", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Worker state changes do not bubble: report a failed load or pull like every
        screen does (a titled notification, never a crash)."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            cast("ShellApi", self.app).report_error(event.worker.error, source=event.worker.name)

    def action_close(self) -> None:
        self.dismiss(self.pulled)
