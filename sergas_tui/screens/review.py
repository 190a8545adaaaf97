"""Review run screen (stub until the review lanes land)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.widgets import Footer, Static

from sergas_tui.screens.base import SergasScreen
from sergas_tui.services import Services
from sergas_tui.widgets.header import ShellHeader


class ReviewScreen(SergasScreen):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def compose(self) -> ComposeResult:
        yield ShellHeader("Review")
        yield Static("No review running.", markup=False)
        yield Footer()

    def start(self, account_ids: Sequence[str] | None = None) -> None:
        """Begin a review of the current owner (or just ``account_ids``)."""
