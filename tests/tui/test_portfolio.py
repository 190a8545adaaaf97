"""The portfolio screen, driven like a user would: list, filter, sort, scope, marks, open."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from textual.widgets import Input, Static

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.errors import CrmError
from sergas_tui.screens.account import AccountScreen
from sergas_tui.screens.portfolio import PortfolioScreen
from sergas_tui.services import Services
from sergas_tui.viewmodels.portfolio import PortfolioRow, SortKey, load_portfolio, sort_rows
from sergas_tui.widgets.account_table import AccountTable, fit, layout
from tests.tui.conftest import review_current_owner
from tests.tui.waiting import settle


def table_of(app: Any) -> AccountTable:
    table: AccountTable = app.screen.query_one("#portfolio-table", AccountTable)
    return table


def status_of(app: Any) -> str:
    return str(app.screen.query_one("#portfolio-status", Static).render())


def ids(rows: Sequence[PortfolioRow]) -> list[str]:
    return [row.account_id for row in rows]


def line_text(table: AccountTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


async def test_lists_the_owners_accounts_by_risk(settings: Settings, reviewed: Services) -> None:
    expected = sort_rows(await load_portfolio(reviewed, "mine"), "risk", True)
    await reviewed.aclose()
    assert 20 <= len(expected) <= 60
    assert any(row.risk_level in ("high", "critical") for row in expected)
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert ids(table.rows) == ids(expected)
        assert table.rows[0].risk_level in ("high", "critical")
        assert status_of(app).startswith(f"{len(expected)} accounts · {len(expected)} shown")
        assert "sort: risk ↓ · mine" in status_of(app)
        assert "Risk ↓" in line_text(table, 0)
        assert table.has_focus


async def test_filter_narrows_live_and_escape_restores(
    settings: Settings, services: Services
) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        total = table.row_count
        await pilot.press("slash")
        field = app.screen.query_one("#portfolio-filter", Input)
        assert field.has_focus
        await pilot.press(*"bracket")
        assert ids(table.rows) == [r.account_id for r in table.rows if "bracket" in r.haystack]
        assert table.row_count == 1
        assert "1 shown" in status_of(app)
        await pilot.press("escape")
        assert table.row_count == total
        assert field.value == ""
        assert field.has_class("-hidden")
        assert table.has_focus


async def test_enter_in_the_filter_keeps_it(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"bracket", "enter")
        table = table_of(app)
        assert table.has_focus
        assert table.row_count == 1
        await pilot.press("s")  # keys act on the screen again, the filter stays
        assert table.row_count == 1
        assert isinstance(app.screen, PortfolioScreen)
        assert app.screen.sort_key == "name"


async def test_keys_typed_in_the_filter_stay_there(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"sm r b", "space", "q")
        field = app.screen.query_one("#portfolio-filter", Input)
        assert field.value == "sm r b q"
        table = table_of(app)
        assert table.marked == set()
        assert isinstance(app.screen, PortfolioScreen)
        assert app.screen.sort_key == "risk"
        assert app.screen.scope == "mine"


async def test_nothing_matches_says_so(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PortfolioScreen)
        assert screen.apply_filter("no such account anywhere") == 0
        assert "No account matches" in line_text(table_of(app), 1)


async def test_sort_keys_cycle_and_reverse(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        rows = list(table.rows)
        await pilot.press("s")
        assert ids(table.rows) == ids(sort_rows(rows, "name", False))
        assert "sort: name ↑" in status_of(app)
        assert "Account ↑" in line_text(table, 0)
        await pilot.press("S")
        assert ids(table.rows) == ids(sort_rows(rows, "name", True))
        keys: tuple[SortKey, ...] = ("activity", "pipeline", "pending", "risk")
        for key in keys:
            await pilot.press("s")
            assert f"sort: {key} ↓" in status_of(app)
            assert ids(table.rows) == ids(sort_rows(rows, key, True))


async def test_m_toggles_the_manager_view(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        mine = table.row_count
        await pilot.press("m")
        await settle(pilot)
        assert table.row_count == 120
        assert len({row.owner_email for row in table.rows}) == 4
        assert "all owners" in status_of(app)
        assert "Owner" in line_text(table, 0)
        await pilot.press("m")
        await settle(pilot)
        assert table.row_count == mine
        assert "Owner" not in line_text(table, 0)


async def test_marks_go_to_the_review(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(settings, services)
    started: list[Sequence[str] | None] = []
    monkeypatch.setattr(app, "start_review", started.append)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        first, third = table.rows[0].account_id, table.rows[2].account_id
        await pilot.press("space", "down", "down", "space")
        assert table.marked == {first, third}
        assert "2 marked" in status_of(app)
        assert line_text(table, 1).startswith("●")
        await pilot.press("space")
        assert table.marked == {first}
        await pilot.press("r")
        assert started == [[first]]
        assert table.marked == set()
        await pilot.press("r")
        assert started[-1] is None  # nothing marked: the whole portfolio


async def test_enter_opens_the_account(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        expected = table_of(app).rows[1].account_id
        await pilot.press("down", "enter")
        assert isinstance(app.screen, AccountScreen)
        assert app.screen.account_id == expected


async def test_a_click_moves_the_cursor(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.click("#portfolio-table", offset=(10, 4))
        assert table.cursor_row == 3


async def test_refresh_keeps_the_cursor_on_the_account(
    settings: Settings, services: Services
) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.press("down", "down", "down", "down", "down")
        key = table.cursor_key
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert table.cursor_key == key
        assert table.cursor_row == 5
        table.set_rows(list(reversed(table.rows)))  # the account moved: the cursor follows
        assert table.cursor_key == key
        assert table.cursor_row == table.row_count - 6


async def test_returning_to_the_screen_shows_the_review(
    settings: Settings, services: Services
) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert all(row.risk_level is None for row in table.rows)
        await review_current_owner(services)
        await pilot.press("4")
        await pilot.press("1")
        await settle(pilot)
        table = table_of(app)
        assert all(row.risk_level is not None for row in table.rows)
        assert any(row.pending for row in table.rows)


async def test_hostile_text_is_shown_literally(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        table = table_of(app)
        screen = app.screen
        assert isinstance(screen, PortfolioScreen)
        assert screen.apply_filter("bracket") == 1
        line = line_text(table, 1)
        assert "[bold]Bracket[/bold]" in line
        screen.apply_filter("")
        for y in range(1, table.row_count + 1):
            table.scroll_to(y=max(y - 30, 0), animate=False, immediate=True)
            rendered = line_text(table, y - round(table.scroll_y))
            assert not any(ch in rendered for ch in "\x1b\u202e\u2066")


async def test_banner_toggles(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        banner = app.screen.query_one("#first-run-banner")
        assert not banner.has_class("-hidden")
        await pilot.press("b")
        assert banner.has_class("-hidden")
        await settle(pilot)
    # Hidden once, it stays hidden the next time the app opens this workspace.
    again = make_app(settings, services)
    async with again.run_test(size=(120, 40)) as pilot:
        assert again.screen.query_one("#first-run-banner").has_class("-hidden")
        await pilot.press("b")
        await settle(pilot)
    assert services.store.meta_value("ui.first_run_banner_dismissed") is None


async def test_worker_failure_becomes_a_titled_notification(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> object:
        raise CrmError("The CRM is down for maintenance.", title="CRM unavailable")

    monkeypatch.setattr(services, "crm", broken)
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        notes = list(app._notifications)
        assert [n.title for n in notes] == ["CRM unavailable"]
        assert app.is_running
        assert not app.screen.has_class("-busy")


@pytest.mark.parametrize(
    ("text", "width", "right", "expected"),
    [
        ("abc", 5, False, "abc  "),
        ("abc", 5, True, "  abc"),
        ("abcdef", 4, False, "abc…"),
        ("日本語", 4, False, "日 …"),
        ("", 2, False, "  "),
    ],
)
def test_fit(text: str, width: int, right: bool, expected: str) -> None:
    assert fit(text, width, right=right) == expected


@pytest.mark.parametrize("width", [78, 118, 200])
@pytest.mark.parametrize("show_owner", [False, True])
def test_layout_fills_the_width(width: int, show_owner: bool) -> None:
    columns = layout(width, show_owner=show_owner)
    assert sum(w for _, w in columns) + len(columns) - 1 == width
    assert ("owner" in [c.key for c, _ in columns]) == show_owner
    assert all(w >= c.width for c, w in columns)


async def filter_to_bracket(pilot: Any) -> None:
    await settle(pilot)
    await pilot.press("slash", *"bracket", "enter")
    await pilot.pause()


def test_snapshot_120x40(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    assert snap_compare(make_app(settings, reviewed), terminal_size=(120, 40), run_before=settle)


def test_snapshot_80x24_filtered(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(80, 24), run_before=filter_to_bracket)
