"""The first portfolio screen, driven like a user would."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.errors import CrmError
from sergas_tui.services import Services


async def settle(pilot: Any) -> None:
    """Let the screen mount, its workers finish and their messages land."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_lists_the_current_owners_accounts(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    expected = await services.portfolio_rows()
    assert 20 <= len(expected) <= 60
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#portfolio-table", DataTable)
        assert table.row_count == len(expected)
        status = app.screen.query_one("#portfolio-status", Static)
        assert f"{len(expected)} accounts" in str(status.render())


async def test_hostile_text_is_shown_literally(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#portfolio-table", DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert not any("\x1b" in name for name in names)
        assert any("[" in name for name in names), "the demo plants markup in an account name"


async def test_banner_toggles(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        banner = app.screen.query_one("#first-run-banner")
        assert not banner.has_class("-hidden")
        await pilot.press("b")
        assert banner.has_class("-hidden")


async def test_worker_failure_becomes_a_titled_notification(
    settings: Settings, services: Services, monkeypatch: Any
) -> None:
    async def broken() -> list[object]:
        raise CrmError("The CRM is down for maintenance.", title="CRM unavailable")

    monkeypatch.setattr(services, "portfolio_rows", broken)
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        notes = list(app._notifications)
        assert [n.title for n in notes] == ["CRM unavailable"]
        assert app.is_running


def test_snapshot_120x40(snap_compare: Any, settings: Settings, services: Services) -> None:
    assert snap_compare(make_app(settings, services), terminal_size=(120, 40), run_before=settle)


def test_snapshot_80x24(snap_compare: Any, settings: Settings, services: Services) -> None:
    assert snap_compare(make_app(settings, services), terminal_size=(80, 24), run_before=settle)
