"""The shell header: app name, then workspace · CRM freshness · engine · pending approvals."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from sergas_tui.viewmodels.shell import ShellStatus
from sergas_tui.widgets.text import clean


class ShellHeader(Widget):
    """One line; reads the app's ``status`` reactive, so every screen's header stays current."""

    COMPONENT_CLASSES = {"shell-header--warning"}

    DEFAULT_CSS = """
    ShellHeader {
        height: 1;
        dock: top;
        background: $panel;
        color: $foreground;
    }
    ShellHeader > .shell-header--warning {
        color: $warning;
        text-style: bold;
    }
    """

    status: reactive[ShellStatus | None] = reactive(None, layout=False)

    def __init__(self, title: str = "") -> None:
        super().__init__(id="shell-header")
        self.title = title

    def on_mount(self) -> None:
        self.watch(self.app, "status", self._app_status, init=True)

    def _app_status(self, status: ShellStatus | None) -> None:
        self.status = status

    def render(self) -> Text:
        status = self.status
        line = self._line(status, compact=False)
        if status is not None and line.cell_len > self.size.width:
            line = self._line(status, compact=True)
        return line

    def _line(self, status: ShellStatus | None, *, compact: bool) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" Sergas ", style="bold reverse")
        if self.title:
            line.append(f" {self.title} ", style="bold")
        if status is None:
            line.append("  loading…", style="dim")
            return line
        parts = status.compact_parts if compact else status.parts
        for index, part in enumerate(parts):
            line.append("  " if index == 0 else " · ", style="dim")
            style: str | Style = ""
            if index == len(parts) - 1 and status.pending:
                style = "bold"
            elif status.audit_failing and part == status.audit:
                style = self.get_component_rich_style("shell-header--warning")
            line.append(clean(part, single_line=True), style=style)
        return line
