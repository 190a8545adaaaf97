"""`?` / F1: every binding of the screen underneath, grouped by where it applies."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Static


@dataclass(frozen=True)
class HelpLine:
    keys: str
    description: str
    where: str
    binding_id: str | None
    enabled: bool


def _where(node: object) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return "This screen"
    if isinstance(node, Widget):
        return f"In {type(node).__name__}"
    return "Other"


def bindings_of(screen: Screen[object]) -> list[HelpLine]:
    """Every described binding active on ``screen`` (keys merged per action), screen first."""
    merged: dict[tuple[int, str], HelpLine] = {}
    order = {"This screen": 0, "Everywhere": 2}
    app = screen.app
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description:
            continue
        where = _where(active.node)
        shown = app.get_key_display(binding) if binding.key == key else key
        ident = (id(active.node), binding.action)
        if ident in merged:
            line = merged[ident]
            if shown not in line.keys.split(" / "):
                merged[ident] = HelpLine(
                    f"{line.keys} / {shown}", line.description, where, line.binding_id, line.enabled
                )
            continue
        merged[ident] = HelpLine(shown, binding.description, where, binding.id, active.enabled)
    return sorted(merged.values(), key=lambda line: (order.get(line.where, 1), line.where))


class HelpScreen(ModalScreen[None]):
    """A modal listing keys; any of escape, q, ? or F1 closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close help", id="help.close"),
    ]

    def __init__(self, lines: list[HelpLine], *, title: str = "") -> None:
        super().__init__()
        self.lines = lines
        self.heading = title

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(self._table(), id="help-table")

    def on_mount(self) -> None:
        body = self.query_one("#help-body")
        body.border_title = f"Keys — {self.heading}" if self.heading else "Keys"
        # Border titles are markup: the brackets of "[ui]" are escaped.
        body.border_subtitle = "escape closes · remap keys by binding id in \\[ui] keymap"

    def _table(self) -> Table:
        table = Table(box=None, expand=True, show_header=True, padding=(0, 1))
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        table.add_column("Where", style="dim", no_wrap=True)
        table.add_column("Binding id", style="dim", no_wrap=True)
        for line in self.lines:
            style = "" if line.enabled else "dim"
            table.add_row(
                Text(line.keys),
                Text(line.description, style=style),
                Text(line.where),
                Text(line.binding_id or "—"),
            )
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
