"""The shell around every screen: header, modes, help, keymap, palette, themes and export."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.screens.approvals import ApprovalsScreen
from sergas_tui.screens.audit import AuditScreen
from sergas_tui.screens.help import HelpScreen
from sergas_tui.screens.portfolio import PortfolioScreen
from sergas_tui.screens.review import ReviewScreen
from sergas_tui.services import Services
from sergas_tui.viewmodels.shell import ago
from sergas_tui.widgets.header import ShellHeader
from tests.conftest import FIXED_NOW
from tests.tui.waiting import settle


def header_text(app: Any) -> str:
    return str(app.screen.query_one(ShellHeader).render())


async def test_header_shows_workspace_freshness_engine_and_pending(
    settings: Settings, reviewed: Services
) -> None:
    pending = reviewed.store.pending_approval_count(reviewed.current_user_email())
    assert pending > 0
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = header_text(app)
        assert "demo · demo CRM · synced just now · engine: rules" in text
        assert f"{pending} pending" in text


async def test_header_on_a_fresh_workspace(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = header_text(app)
        assert "never synced" in text
        assert "nothing pending" in text


async def test_number_keys_switch_modes(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        expected = {"2": ReviewScreen, "3": ApprovalsScreen, "4": AuditScreen, "1": PortfolioScreen}
        for key, screen in expected.items():
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen), key


async def test_help_lists_the_screens_bindings_and_closes(
    settings: Settings, services: Services
) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        descriptions = {line.description for line in app.screen.lines}
        ids = {line.binding_id for line in app.screen.lines}
        assert {"Portfolio", "Approvals", "Audit", "Export brief", "Help"} <= descriptions
        assert "app.export" in ids
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PortfolioScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_keymap_override_from_config(settings: Settings, services: Services) -> None:
    settings.ui.keymap = {"app.help": "f2", "app.audit": "ctrl+a"}
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = {line.keys for line in app.screen.lines if line.binding_id == "app.help"}
        assert keys == {"f2"}
        assert not [n for n in app._notifications if n.title == "Unknown key bindings"]


async def test_a_keymap_id_no_binding_has_is_named(settings: Settings, services: Services) -> None:
    settings.ui.keymap = {"approvals.approve": "y", "approval.aprove": "z"}
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        [note] = [n for n in app._notifications if n.title == "Unknown key bindings"]
        assert "approval.aprove" in note.message
        assert "approvals.approve" not in note.message


async def test_unknown_theme_warns_and_falls_back(settings: Settings, services: Services) -> None:
    settings.ui.theme = "no-such-theme"
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert [n.title for n in app._notifications] == ["Unknown theme"]


async def test_configured_theme_applies(settings: Settings, services: Services) -> None:
    settings.ui.theme = "gruvbox"
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.theme == "gruvbox"


async def test_export_writes_the_brief_and_shows_the_path(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        [note] = [n for n in app._notifications if n.title == "Brief exported"]
    path = Path(note.message)
    assert path.name == f"brief-jordan.avery-{FIXED_NOW:%Y%m%d-%H%M}.md"
    assert path.parent == reviewed.locations.briefs_dir("demo")
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    assert "jordan.avery@demo.sergas.test" in text


async def test_export_before_any_review_explains_what_to_do(
    settings: Settings, services: Services
) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        [note] = list(app._notifications)
        assert note.title == "Nothing to export"
        assert "press r" in note.message
        assert app.is_running


async def test_palette_switches_views(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"view approvals")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalsScreen)


async def test_palette_opens_an_account_by_name(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"account open square bracket")
        await pilot.pause(0.3)
        from textual.command import CommandList

        options = app.screen.query_one(CommandList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("Square [bold]Bracket[/bold] Media" in p for p in prompts), prompts
        await pilot.press("enter")
        await settle(pilot)
        from sergas_tui.screens.account import AccountScreen

        assert isinstance(app.screen, AccountScreen)


def test_ago_wording() -> None:
    from datetime import timedelta

    now = FIXED_NOW
    assert ago(None, now) == "never"
    assert ago(now - timedelta(seconds=5), now) == "just now"
    assert ago(now - timedelta(minutes=3), now) == "3 min ago"
    assert ago(now - timedelta(hours=2), now) == "2 h ago"
    assert ago(now - timedelta(days=4), now) == "4 d ago"
    assert ago(now + timedelta(minutes=3), now) == "just now"


def test_snapshot_help_120x40(snap_compare: Any, settings: Settings, services: Services) -> None:
    async def open_help(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    app = make_app(settings, services)
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_help)
