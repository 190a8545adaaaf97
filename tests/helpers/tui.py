"""Pilot helpers: open an account or the approval queue, read what a screen shows."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.widgets import Static

from sergas_tui.screens.account import AccountScreen
from sergas_tui.screens.approvals import ApprovalsScreen
from sergas_tui.services import Services
from tests.tui.waiting import settle

S = TypeVar("S")


def scenario_id(services: Services, key: str) -> str:
    assert services.demo is not None
    return {s.key: s.account_id for s in services.demo.scenarios()}[key]


async def open_account(pilot: Any, account_id: str) -> AccountScreen:
    await settle(pilot)
    pilot.app.open_account(account_id)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, AccountScreen)
    return screen


def shown(screen: AccountScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_view(pilot: Any, key: str, kind: type[S]) -> S:
    """Press a view's number key and return the screen it shows."""
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


async def open_queue(pilot: Any) -> ApprovalsScreen:
    return await open_view(pilot, "3", ApprovalsScreen)
