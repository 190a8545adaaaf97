"""Audit screen: the newest audit events, filters by text and type, and hash-chain verification.

A compliance reader scans what Sergas and its users did (tool calls, recommendations, decisions,
CRM writes, refusals), opens any event to see its stored inputs and outputs with the hashes
that chain it, and presses ``v`` to check that no row was edited, deleted or reordered.

Coming back to the screen reads only the log's head (:func:`audit_fingerprint`) and reloads the
page when it moved; the table is rebuilt only when the rows it would show differ.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import RowDoesNotExist
from textual.worker import Worker, WorkerState

from sergas_tui.audit import VerifyResult
from sergas_tui.screens.base import SergasScreen
from sergas_tui.services import Services
from sergas_tui.viewmodels.audit import (
    AuditPage,
    AuditRow,
    audit_fingerprint,
    detail_fields,
    filter_rows,
    load_audit,
    next_action,
    pretty_json,
    status_line,
    verification_message,
    verify,
)
from sergas_tui.widgets.footer import ShellFooter
from sergas_tui.widgets.header import ShellHeader
from sergas_tui.widgets.text import clean, safe_text

# Summaries name what happened, so they come before the raw action type; the summary takes
# the screen's remaining width and the columns after it scroll into view.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Time (UTC)", 14),
    ("Status", 8),
    ("Account", 20),
    ("Summary", 56),
    ("Action", 24),
    ("Agent", 21),
    ("Seq", 6),
)
SUMMARY = 3
"""Index of the summary column, whose width follows the screen's."""
SUMMARY_MIN = 28
CELL_PADDING = 2
SCROLLBAR = 2

STATUS_STYLES = {
    "denied": "bold $error",
    "error": "bold $error",
    "rejected": "$warning",
    "expired": "$warning",
    "undone": "$warning",
    "approved": "$success",
    "adjusted": "$success",
    "ok": "dim",
}


class AuditDetailScreen(ModalScreen[None]):
    """One event in full: every column, pretty-printed inputs/outputs, hashes. Text only."""

    CSS_PATH = Path(__file__).with_name("audit.tcss")
    BINDINGS = [
        Binding("escape,q,enter", "close", "Close", id="audit.detail_close"),
    ]

    def __init__(self, row: AuditRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="audit-detail"):
            yield Static(self._render_detail(), id="audit-detail-body", markup=False)

    def on_mount(self) -> None:
        container = self.query_one("#audit-detail", VerticalScroll)
        container.border_title = f"Audit event · seq {self.row.seq}"
        container.border_subtitle = "escape to close"
        container.focus()

    def _render_detail(self) -> Text:
        body = Text()
        for label, value in detail_fields(self.row):
            body.append(f"{label:<14}", style="bold")
            body.append(clean(value, single_line=True))
            body.append("\n")
        event = self.row.event
        for title, payload in (("Inputs", event.tool_inputs), ("Outputs", event.tool_outputs)):
            body.append(f"\n{title}\n", style="bold underline")
            body.append(clean(pretty_json(payload)))
            body.append("\n")
        return body

    def action_close(self) -> None:
        self.dismiss(None)


class AuditScreen(SergasScreen):
    CSS_PATH = Path(__file__).with_name("audit.tcss")
    BINDINGS = [
        Binding("v", "verify", "Verify chain", id="audit.verify"),
        Binding("slash", "focus_filter", "Filter", id="audit.filter", key_display="/"),
        Binding("t", "cycle_type", "Type", id="audit.type"),
        Binding("enter", "detail", "Detail", id="audit.detail"),
        Binding("escape", "clear_filters", "Clear filters", id="audit.clear", show=False),
        Binding("ctrl+r", "reload", "Reload", id="audit.reload"),
    ]

    @dataclass
    class Loaded(Message):
        page: AuditPage
        fingerprint: tuple[object, ...] = ()

    @dataclass
    class Verified(Message):
        result: VerifyResult

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.page: AuditPage | None = None
        self.action_filter: str | None = None
        self.problem_seqs: dict[int, str] = {}
        self._skip_resume = False
        self._widths: list[int] = []
        self._fingerprint: tuple[object, ...] = ()
        self._drawn_rows: list[AuditRow] = []
        self._drawn: tuple[object, ...] | None = None
        """What the table was last built from (the very row objects, widths, broken seqs):
        the same again skips the rebuild (a reload brings new objects, so it redraws)."""

    def compose(self) -> ComposeResult:
        yield ShellHeader("Audit")
        yield Static(
            "Press v to verify the hash chain.", id="audit-verify", markup=False, shrink=False
        )
        with Horizontal(id="audit-filters"):
            yield Input(placeholder="/ filter by account, agent or text", id="audit-filter")
            yield Static("t type: all", id="audit-type", markup=False)
        yield Static("Loading audit events…", id="audit-status", markup=False)
        yield DataTable(id="audit-table", cursor_type="row")
        yield ShellFooter()

    def on_mount(self) -> None:
        self.query_one("#audit-table", DataTable).focus()

    def on_resize(self) -> None:
        if self.page is not None and self._column_widths() != self._widths:
            self._show_rows()

    def on_screen_resume(self) -> None:
        if self._skip_resume:  # back from the detail view: nothing changed
            self._skip_resume = False
            return
        if self.page is None:
            self.action_reload()
        else:
            self._reload_if_changed(self._fingerprint)

    # -- actions ------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.add_class("-busy")
        self.load_page()

    def action_verify(self) -> None:
        banner = self.query_one("#audit-verify", Static)
        banner.remove_class("-ok", "-problem")
        banner.add_class("-busy")
        banner.update("Verifying the hash chain…")
        self.verify_chain()

    def action_focus_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def action_cycle_type(self) -> None:
        types = self.page.action_types if self.page else []
        self.action_filter = next_action(self.action_filter, types)
        self._show_rows()

    def action_clear_filters(self) -> None:
        field = self.query_one("#audit-filter", Input)
        table = self.query_one("#audit-table", DataTable)
        if field.has_focus:
            table.focus()
            return
        if field.value or self.action_filter is not None:
            self.action_filter = None
            field.value = ""  # Input.Changed redraws the rows
            self._show_rows()

    def action_detail(self) -> None:
        table: DataTable[object] = self.query_one("#audit-table", DataTable)
        if self.page is None or table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        row = next((r for r in self.page.rows if r.key == key), None)
        if row is not None:
            self._skip_resume = True
            self.app.push_screen(AuditDetailScreen(row))

    # -- workers ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="audit-load", exit_on_error=False)
    def load_page(self) -> None:
        fingerprint = audit_fingerprint(self.services)  # before: rows added meanwhile reload
        self.post_message(self.Loaded(load_audit(self.services), fingerprint))

    @work(thread=True, exclusive=True, group="audit-check", exit_on_error=False)
    def _reload_if_changed(self, seen: tuple[object, ...]) -> None:
        if audit_fingerprint(self.services) != seen:
            self.app.call_from_thread(self.action_reload)

    @work(thread=True, exclusive=True, group="audit-verify", exit_on_error=False)
    def verify_chain(self) -> None:
        self.post_message(self.Verified(verify(self.services)))

    # -- handlers -----------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # SergasScreen's handler (run by Textual as well) sends the titled notification.
        if event.state is not WorkerState.ERROR:
            return
        if event.worker.group == "audit-verify":
            banner = self.query_one("#audit-verify", Static)
            banner.remove_class("-busy", "-ok")
            banner.add_class("-problem")
            banner.update(
                "The chain could not be verified (see the notification). Press v to retry."
            )
        elif event.worker.group == "audit-load":
            self.remove_class("-busy")
            self.query_one("#audit-status", Static).update(
                "The audit log could not be read (see the notification). ctrl+r retries."
            )

    @on(Loaded)
    def show_page(self, message: Loaded) -> None:
        self.page = message.page
        self._fingerprint = message.fingerprint
        if self.action_filter not in message.page.action_types:
            self.action_filter = None
        self._show_rows()
        self.remove_class("-busy")

    @on(Verified)
    def show_verification(self, message: Verified) -> None:
        ok, text = verification_message(message.result)
        banner = self.query_one("#audit-verify", Static)
        banner.remove_class("-busy", "-ok", "-problem")
        banner.add_class("-ok" if ok else "-problem")
        banner.update(safe_text(("✓ " if ok else "✗ ") + text, single_line=False))
        self.problem_seqs = {p.seq: p.kind for p in message.result.problems}
        self._show_rows()
        first = message.result.first
        if first is not None:
            self._move_to(first.id)

    @on(Input.Changed, "#audit-filter")
    def filter_changed(self) -> None:
        self._show_rows()

    @on(Input.Submitted, "#audit-filter")
    def filter_submitted(self) -> None:
        self.query_one("#audit-table", DataTable).focus()

    @on(DataTable.RowSelected, "#audit-table")
    def row_selected(self) -> None:
        self.action_detail()

    # -- drawing ------------------------------------------------------------------------------

    def _show_rows(self) -> None:
        page = self.page
        if page is None:
            return
        text = self.query_one("#audit-filter", Input).value
        rows = filter_rows(page.rows, text, self.action_filter)
        table: DataTable[object] = self.query_one("#audit-table", DataTable)
        widths = self._column_widths()
        drawn = (widths, dict(self.problem_seqs))
        if not self._same_drawn(rows, drawn):
            self._fill_table(table, rows, widths)
            self._drawn_rows, self._drawn = rows, drawn
        self.query_one("#audit-status", Static).update(
            safe_text(status_line(page, len(rows), text, self.action_filter))
        )
        type_label = self.query_one("#audit-type", Static)
        type_label.update(safe_text(f"t type: {self.action_filter or 'all'}"))
        type_label.set_class(self.action_filter is not None, "-active")

    def _same_drawn(self, rows: list[AuditRow], drawn: tuple[object, ...]) -> bool:
        old = self._drawn_rows
        return (
            drawn == self._drawn
            and len(rows) == len(old)
            and all(new is kept for new, kept in zip(rows, old, strict=True))
        )

    def _fill_table(
        self, table: DataTable[object], rows: list[AuditRow], widths: list[int]
    ) -> None:
        selected = self._selected_key(table)
        table.clear(columns=widths != self._widths)
        if widths != self._widths:
            for (label, _width), width in zip(COLUMNS, widths, strict=True):
                table.add_column(label, width=width)
            self._widths = widths
        for row in rows:
            table.add_row(*self._cells(row), key=row.key)
        self._move_to(selected)

    def _cells(self, row: AuditRow) -> tuple[Text, ...]:
        status, style = row.status, STATUS_STYLES.get(row.status, "")
        broken = self.problem_seqs.get(row.seq)
        if broken is not None:
            status, style = broken, "bold reverse $error"
        widths = self._widths
        return (
            safe_text(row.short_time, limit=widths[0]),
            Text(status, style=self._style(style)),
            safe_text(row.account_text, limit=widths[2]),
            safe_text(row.summary, limit=widths[3]),
            safe_text(row.event.action_type, limit=widths[4]),
            safe_text(row.event.agent_name, limit=widths[5]),
            safe_text(str(row.seq), style="dim"),
        )

    def _column_widths(self) -> list[int]:
        widths = [width for _label, width in COLUMNS]
        before = sum(w + CELL_PADDING for w in widths[:SUMMARY])
        room = self.size.width - before - CELL_PADDING - SCROLLBAR
        widths[SUMMARY] = max(room, SUMMARY_MIN)
        return widths

    def _style(self, style: str) -> str:
        """Resolve ``$variable`` colours of the current theme inside a Rich style string."""
        variables = self.app.theme_variables
        return " ".join(variables.get(p[1:], p) if p.startswith("$") else p for p in style.split())

    @staticmethod
    def _selected_key(table: DataTable[object]) -> str | None:
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except RowDoesNotExist:
            return None
        return str(key) if key is not None else None

    def _move_to(self, key: str | None) -> None:
        if key is None:
            return
        table: DataTable[object] = self.query_one("#audit-table", DataTable)
        with suppress(RowDoesNotExist):
            table.move_cursor(row=table.get_row_index(key))
