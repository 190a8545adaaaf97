"""An append-only, auto-scrolling log for one agent's lane (Scout, Analyst, Author, failures).

Every line is escaped with ``safe_text``: account names and reasoning text are data, never
Rich markup or terminal control sequences. Lines wrap to the lane's width and are wrapped
again when the lane is resized (the lanes stack at narrow widths).
"""

from __future__ import annotations

from rich.table import Table
from textual import events
from textual.widgets import RichLog

from sergas_tui.viewmodels.review import Tone
from sergas_tui.widgets.text import clean, safe_text

LINE_LIMIT = 600
"""Longest line kept (reasoning text can be long; the lane wraps it)."""
MAX_LINES = 2000

BULLETS: dict[Tone, str] = {
    "normal": "•",
    "risk": "!",
    "muted": "·",
    "error": "✗",
    "reasoning": "›",
}
TONE_STYLES: dict[Tone, str] = {
    "normal": "",
    "risk": "bold",
    "muted": "dim",
    "error": "bold red",
    "reasoning": "italic",
}


class AgentLane(RichLog):
    """A titled lane; ``entries`` keeps the plain text written, for tests and re-wrapping."""

    DEFAULT_CSS = """
    AgentLane {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $accent;
        border-title-style: bold;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        padding: 0 1;
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(
            max_lines=MAX_LINES,
            min_width=1,
            wrap=True,
            markup=False,
            highlight=False,
            auto_scroll=True,
            id=id,
        )
        self.border_title = title
        self.entries: list[str] = []
        self._tones: list[Tone] = []
        self._wrap_width: int | None = None

    def add(self, text: str, tone: Tone = "normal") -> None:
        """Append one line (escaped, cut to ``LINE_LIMIT``)."""
        self.entries.append(clean(text, single_line=True, limit=LINE_LIMIT))
        self._tones.append(tone)
        if len(self.entries) > MAX_LINES:
            del self.entries[:-MAX_LINES]
            del self._tones[:-MAX_LINES]
        self.write(_line(text, tone))

    def reset(self) -> None:
        """Empty the lane."""
        self.clear()
        self.entries.clear()
        self._tones.clear()

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if self._wrap_width is not None and width != self._wrap_width and self.entries:
            self.clear()
            for text, tone in zip(self.entries, self._tones, strict=True):
                self.write(_line(text, tone))
        self._wrap_width = width


def _line(text: str, tone: Tone) -> Table:
    """A bullet and the escaped text, wrapped with a hanging indent so entries stand apart."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1, no_wrap=True)
    grid.add_column(ratio=1)
    style = TONE_STYLES[tone]
    grid.add_row(
        safe_text(BULLETS[tone], style=style),
        safe_text(text, style=style, limit=LINE_LIMIT),
    )
    return grid
