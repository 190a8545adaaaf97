""" "More, lower priority" in the TUI: the queue says how many wait beyond the budget, `m` lists
them by name, and `p` pulls one into the queue, recorded with who did it."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from pydantic import JsonValue
from textual.widgets import DataTable, Static

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.domain import ApprovalStatus, AuditAction
from sergas_tui.screens.account import AccountScreen
from sergas_tui.screens.more import MoreModal
from sergas_tui.services import Services
from tests.helpers.tui import open_queue
from tests.tui.conftest import review_current_owner
from tests.tui.waiting import settle


@pytest.fixture
def reviewed(settings: Settings, services: Services) -> Services:
    """One review of the current owner with a small daily budget, so that items wait."""
    settings.review.daily_budget = 5

    async def run() -> None:
        await review_current_owner(services)
        await services.aclose()

    asyncio.run(run())
    return services


async def test_more_lists_by_name_and_pulls_one_in(settings: Settings, reviewed: Services) -> None:
    owner = reviewed.current_user_email()
    queued = reviewed.store.queued_recommendations(owner)
    assert queued, "the demo review leaves items beyond the daily budget"
    pending_before = reviewed.store.pending_approval_count(owner)
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        status = str(screen.query_one("#approvals-status", Static).render())
        assert f"{len(queued)} more, lower priority (m)" in status
        await pilot.press("m")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, MoreModal)
        table = modal.query_one("#more-table", DataTable)
        assert table.row_count == len(queued)
        first = modal.items[0]
        assert first.id == queued[0].id  # best expected value first
        cells = [str(c) for c in table.get_row_at(0)]
        assert first.account_name[:10] in cells[2]
        raw_id = queued[0].account_id
        assert raw_id is not None
        assert not any(raw_id in c for c in cells)  # a name, not a raw id
        await pilot.press("p")
        await settle(pilot)
        assert table.row_count == len(queued) - 1
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert screen.table.row_count == pending_before + 1
    stored = reviewed.store.get_recommendation(first.id)
    assert stored is not None
    assert stored.status == "pending"
    landed = reviewed.store.approvals_for(first.recommendation.account_id or "")
    assert any(
        a.recommendation_id == first.id and a.status == ApprovalStatus.PENDING for a in landed
    )
    audit = [
        e
        for e in reviewed.store.audit_events(limit=100_000)
        if e.action_type == AuditAction.APPROVAL_REQUESTED
        and isinstance(e.tool_inputs, dict)
        and e.tool_inputs.get("recommendation_id") == first.id
    ]
    assert [cast(dict[str, JsonValue], e.tool_inputs)["pulled_in_by"] for e in audit] == [
        app.actor()
    ]


async def test_the_account_screen_shows_what_waits_and_pulls_it(
    settings: Settings, reviewed: Services
) -> None:
    owner = reviewed.current_user_email()
    rec = reviewed.store.queued_recommendations(owner)[0]
    account_id = rec.account_id or ""
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_account(account_id)
        await settle(pilot)
        account = app.screen
        assert isinstance(account, AccountScreen)
        assert account.detail is not None
        assert any(r.status == "queued" for r in account.detail.recommendations)
        await pilot.press("m")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, MoreModal)
        assert {i.recommendation.account_id for i in modal.items} == {account_id}
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is account
        assert account.detail is not None
        statuses = {r.recommendation_id: r.status for r in account.detail.recommendations}
        assert statuses[modal.pulled[0]] == "pending"
