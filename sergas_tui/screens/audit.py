"""Audit screen (stub until the audit view lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Static

from sergas_tui.screens.base import SergasScreen
from sergas_tui.services import Services
from sergas_tui.widgets.header import ShellHeader


class AuditScreen(SergasScreen):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def compose(self) -> ComposeResult:
        yield ShellHeader("Audit")
        yield Static("No audit events.", markup=False)
        yield Footer()
