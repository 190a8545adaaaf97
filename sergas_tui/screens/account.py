"""Account detail screen (stub until the detail view lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from sergas_tui.screens.base import SergasScreen
from sergas_tui.services import Services
from sergas_tui.widgets.header import ShellHeader


class AccountScreen(SergasScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="account.back")]

    def __init__(self, services: Services, account_id: str) -> None:
        super().__init__()
        self.services = services
        self.account_id = account_id

    def compose(self) -> ComposeResult:
        yield ShellHeader("Account")
        yield Static(f"Account {self.account_id}", markup=False)
        yield Footer()
