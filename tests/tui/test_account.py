"""The account detail screen, driven like a user would, on a reviewed demo workspace."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static, TabbedContent

from sergas_tui.app import SergasApp, make_app
from sergas_tui.config import Settings
from sergas_tui.screens.account import AccountScreen
from sergas_tui.screens.portfolio import PortfolioScreen
from sergas_tui.services import Services
from sergas_tui.widgets.note_card import NoteCard
from tests.helpers.tui import open_account, scenario_id, shown
from tests.tui.waiting import settle


def everything_shown(screen: AccountScreen) -> str:
    return "\n".join(str(s.render()) for s in screen.query(Static))


async def test_shows_every_section_of_a_scenario_account(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, "exec_sponsor_changed"))
        assert shown(screen, "#account-name") == "Meridian Health Partners"
        risk = screen.query_one("#account-risk", Static)
        assert str(risk.render()) == "HIGH RISK"
        assert risk.has_class("-risk-high")
        assert "owner Jordan Avery" in shown(screen, "#account-meta")
        assert "Executive sponsor change" in shown(screen, "#overview-text")
        assert "1 open deal · $240,000" in shown(screen, "#overview-text")
        deals = shown(screen, "#deals-text")
        assert "Proposal/Price Quote · 16 d in stage · closes 2026-12-17 (in 45 d)" in deals
        assert "Executive alignment" in shown(screen, "#activity-text")
        assert len(screen.query(NoteCard)) == 3
        changes = shown(screen, "#changes-text")
        assert "Contact Dana Whitfield" in changes
        assert "Executive Sponsor → Influencer" in changes
        memory = shown(screen, "#memory-text")
        assert "Executive sponsor changed" in memory
        assert "Prior recommendations" in memory
        recs = shown(screen, "#recs-text")
        assert "Task:" in recs
        assert "[pending]" in recs


async def test_brackets_switch_tabs_and_focus_their_content(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, "stalled_negotiation"))
        tabs = screen.query_one("#account-tabs", TabbedContent)
        assert tabs.active == "tab-overview"
        await pilot.press("right_square_bracket")
        assert tabs.active == "tab-deals"
        assert app.focused is screen.query_one("#deals-text").parent
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert tabs.active == "tab-recs"
        assert app.current_mode == "portfolio"


async def test_huge_note_is_folded_then_expands(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, "hostile_huge_note"))
        huge = next(card for card in screen.query(NoteCard) if card.foldable)
        body = huge.query_one(".note-body", Static)
        folded = str(body.render())
        assert len(folded) <= 700
        assert "more lines" in str(huge.query_one(".note-more", Static).render())
        screen.query_one("#account-tabs", TabbedContent).active = "tab-notes"
        huge.focus()
        await pilot.press("enter")
        assert huge.expanded
        expanded = str(body.render())
        assert len(expanded) > 10 * len(folded)
        assert "more characters not shown" in expanded
        await pilot.press("f")
        assert not huge.expanded
        await pilot.press("F")
        assert huge.expanded


async def test_markup_in_crm_text_is_shown_literally(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, "hostile_markup"))
        assert shown(screen, "#account-name") == "Square [bold]Bracket[/bold] Media"
        text = everything_shown(screen)
        assert "[b]Escalation[/b]" in text
        assert "[reverse]" in text
        assert app.is_running


async def test_terminal_escapes_are_made_visible(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, "hostile_ansi"))
        text = everything_shown(screen)
        assert "\x1b" not in text
        assert "\x07" not in text
        assert "\\x1b" in text


async def test_escape_returns_to_the_portfolio(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_account(pilot, scenario_id(reviewed, "healthy_expansion"))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PortfolioScreen)


async def test_unknown_account_is_a_titled_notification(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, "999999")
        assert [n.title for n in app._notifications] == ["Account not found"]
        assert "Could not load this account" in shown(screen, "#account-status")
        assert app.is_running
        await pilot.press("escape")
        assert isinstance(app.screen, PortfolioScreen)


async def test_r_reviews_just_this_account(
    settings: Settings, reviewed: Services, monkeypatch: Any
) -> None:
    asked: list[object] = []
    monkeypatch.setattr(SergasApp, "start_review", lambda self, ids=None: asked.append(ids))
    account_id = scenario_id(reviewed, "amount_cut")
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_account(pilot, account_id)
        await pilot.press("r")
        assert asked == [[account_id]]


async def test_statuses_refresh_when_coming_back_from_the_queue(
    settings: Settings, reviewed: Services
) -> None:
    from sergas_tui.approvals.service import ApprovalService

    [approval, *_] = reviewed.store.pending_approvals(reviewed.current_user_email())
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, approval.account_id)
        assert "approved" not in shown(screen, "#recs-text")
        await pilot.press("3")
        await settle(pilot)
        service = ApprovalService(reviewed.store, clock=reviewed.clock)
        await service.approve(approval.id, actor="jordan")
        await pilot.press("1")
        await settle(pilot)
        assert app.screen is screen
        assert "approved" in shown(screen, "#recs-text")


async def test_recommendations_show_their_evidence_in_words(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, "exec_sponsor_changed"))
        recs = shown(screen, "#recs-text")
        assert "· Contact 'Dana Whitfield'" in recs or "· Account 'Meridian Health" in recs
        assert "zoho:" not in recs
        assert "memory:" not in recs


async def test_o_opens_the_account_in_zoho(
    settings: Settings, reviewed: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sergas_tui.viewmodels.account as account_view
    from sergas_tui.domain.record_links import zoho_web

    opened: list[str] = []
    app = make_app(settings, reviewed)
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    account = scenario_id(reviewed, "exec_sponsor_changed")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_account(pilot, account)
        await pilot.press("o")  # the demo org has no web UI: it says so
        await pilot.pause()
        assert opened == []
        assert any("demo CRM" in str(n.message) for n in app._notifications)
    monkeypatch.setattr(account_view, "web_of", lambda _services: zoho_web("in"))
    app = make_app(settings, reviewed)
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_account(pilot, account)
        await pilot.press("o")
        await pilot.pause()
        assert opened == [f"https://crm.zoho.in/crm/tab/Accounts/{account}"]


def _opened(account_id: str, *keys: str) -> Any:
    async def run_before(pilot: Any) -> None:
        await open_account(pilot, account_id)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def test_snapshot_scenario_account(
    snap_compare: Any, settings: Settings, reviewed: Services
) -> None:
    run_before = _opened(scenario_id(reviewed, "exec_sponsor_changed"))
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_scenario_deals_80x24(
    snap_compare: Any, settings: Settings, reviewed: Services
) -> None:
    run_before = _opened(scenario_id(reviewed, "stalled_negotiation"), "right_square_bracket")
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_hostile_markup_notes(
    snap_compare: Any, settings: Settings, reviewed: Services
) -> None:
    keys = ("right_square_bracket",) * 3
    run_before = _opened(scenario_id(reviewed, "hostile_markup"), *keys)
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
