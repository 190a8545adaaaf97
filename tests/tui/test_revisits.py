"""Coming back to a screen, or to an account, redraws from what is kept and reads only what
changed: the same table objects, no CRM read for an account read a moment ago."""

from __future__ import annotations

from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.screens.account import AccountScreen
from sergas_tui.screens.audit import AuditScreen
from sergas_tui.screens.portfolio import PortfolioScreen
from sergas_tui.services import Services
from sergas_tui.viewmodels.account import AccountDetail
from sergas_tui.widgets.footer import ShellFooter
from tests.tui.conftest import review_current_owner
from tests.tui.waiting import settle, until


def crm_reads(services: Services) -> list[str]:
    """Every CRM read made through the app's and the data loop's gateways, by the audit log
    (each CRM call is audited)."""
    rows = services.store.audit_rows()
    return [str(r["tool_name"]) for r in rows if str(r["tool_name"]).startswith("zoho_get_account")]


async def test_audit_table_is_not_rebuilt_when_nothing_changed(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await until(
            pilot,
            lambda: isinstance(app.screen, AuditScreen) and app.screen.page is not None,
            "the audit page",
        )
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.query_one("#audit-table", DataTable)
        first_row = table.coordinate_to_cell_key(Coordinate(0, 0)).row_key
        page = screen.page
        assert page is not None
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        assert app.screen is screen
        assert screen.page is page  # not read again: the log's head did not move
        assert (
            table.coordinate_to_cell_key(Coordinate(0, 0)).row_key is first_row
        )  # same rows, kept

        await pilot.press("1")
        await settle(pilot)
        count = len(page.rows)
        await review_current_owner(reviewed)  # appends audit rows
        await pilot.press("4")
        await until(pilot, lambda: screen.page is not page, "the audit page read again")
        assert screen.page is not None
        assert screen.page.total > page.total
        assert table.row_count >= count


async def test_account_screen_is_reused_and_draws_a_kept_account_at_once(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        portfolio = app.screen
        assert isinstance(portfolio, PortfolioScreen)
        rows = portfolio.table.rows
        first, second = rows[0], rows[1]
        await pilot.press("enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, AccountScreen) and app.screen.detail is not None,
            "the first account",
        )
        screen = app.screen
        assert isinstance(screen, AccountScreen)
        reads = crm_reads(reviewed)
        await pilot.press("escape")
        await settle(pilot)

        # The same account again: the same screen, drawn from the kept detail before any
        # worker runs, and no CRM read (it was read a moment ago).
        app.open_account(first.account_id)
        assert app.screen is screen
        assert screen.detail is not None
        assert screen.detail.account_id == first.account_id
        await settle(pilot)
        assert crm_reads(reviewed) == reads

        # Another account: the same screen, showing the portfolio row's facts at once, then
        # the detail.
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("down", "enter")
        assert app.screen is screen
        assert screen.account_id == second.account_id
        assert second.name in str(screen.query_one("#account-name", Static).render())
        assert "Owner" in str(screen.query_one("#overview-text", Static).render())
        await until(
            pilot,
            lambda: screen.detail is not None and screen.detail.account_id == second.account_id,
            "the second account's detail",
        )
        assert isinstance(app.views.get("account", second.account_id), AccountDetail)
        assert len(crm_reads(reviewed)) > len(reads)


async def test_footer_keeps_its_keys_when_they_do_not_change(
    settings: Settings, services: Services
) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(ShellFooter)
        keys = list(footer.children)
        assert keys
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert list(footer.children) == keys  # not rebuilt: the same bindings
