"""A CRM note as a focusable card: title, time and author, then the text, folded when long."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from sergas_tui.viewmodels.account_rows import NoteView
from sergas_tui.widgets.text import safe_text

TITLE_LIMIT = 160
"""Characters of a note title shown in the card's header line."""


class NoteCard(Widget, can_focus=True):
    """One note; ``enter``/``f`` toggles a long note between its preview and its full text.

    The text is CRM data: it is rendered as a literal ``Text`` (control characters made
    visible), never as markup.
    """

    DEFAULT_CSS = """
    NoteCard {
        height: auto;
    }
    NoteCard > .note-body, NoteCard > .note-more {
        height: auto;
    }
    """

    BINDINGS = [
        Binding("enter,f", "toggle_fold", "Expand/fold note", id="account.note_toggle"),
    ]

    expanded: reactive[bool] = reactive(False)

    def __init__(self, note: NoteView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.note = note
        if note.body.foldable:
            self.add_class("-foldable")

    @property
    def foldable(self) -> bool:
        return self.note.body.foldable

    def compose(self) -> ComposeResult:
        header = Text()
        header.append_text(safe_text(self.note.title, style="bold", limit=TITLE_LIMIT))
        if self.note.meta:
            header.append("  ")
            header.append_text(safe_text(self.note.meta, style="dim"))
        yield Static(header, classes="note-header")
        yield Static(self._body(), classes="note-body")
        yield Static(self._more(), classes="note-more")

    def _body(self) -> Text:
        body = self.note.body
        text = body.full if self.expanded else body.preview
        if not text:
            return Text("(no text)", style="dim italic")
        return safe_text(text, single_line=False)

    def _more(self) -> Text:
        if not self.foldable:
            return Text()
        if self.expanded:
            return Text("▲ enter folds this note", style="dim")
        return Text(f"{self.note.body.more_text}  ▼ enter expands", style="dim")

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(expanded, "-expanded")
        if not self.is_mounted:
            return
        self.query_one(".note-body", Static).update(self._body())
        self.query_one(".note-more", Static).update(self._more())

    def action_toggle_fold(self) -> None:
        if self.foldable:
            self.expanded = not self.expanded
