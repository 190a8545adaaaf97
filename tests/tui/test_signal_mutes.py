"""Snoozing, dismissing and unmuting a signal from the account screen, driven like a user."""

from __future__ import annotations

from datetime import date
from typing import Any

from textual.widgets import Input, RadioButton, Static

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.domain import AuditAction
from sergas_tui.screens.signal_modals import SnoozeSignalModal, UnmuteSignalModal
from sergas_tui.services import Services
from sergas_tui.storage.mutes import list_mutes
from sergas_tui.viewmodels.mutes import MuteRequest, account_mutes, save_mute
from tests.helpers.tui import open_account, scenario_id, shown
from tests.tui.waiting import settle

SPONSOR = "exec_sponsor_changed"
ME = "Jordan Avery <jordan.avery@demo.sergas.test>"


async def type_text(pilot: Any, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


def audit_kinds(services: Services) -> list[str]:
    return [e.action_type for e in services.store.audit_events(limit=50)]


async def test_z_snoozes_a_signal_for_14_days_by_default(
    settings: Settings, reviewed: Services
) -> None:
    account = scenario_id(reviewed, SPONSOR)
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, account)
        assert screen.detail is not None
        [choice] = screen.detail.signal_choices
        assert choice.label == "Executive sponsor changed"
        await pilot.press("z")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, SnoozeSignalModal)
        assert modal.query_one("#mute-until", Input).value == "2026-11-16"
        assert app.focused is modal.query_one("#mute-reason", Input)
        await type_text(pilot, "new sponsor met us last week")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        [mute] = account_mutes(reviewed, account)
        assert (mute.signal_key, mute.kind, str(mute.until)) == (
            "executive_sponsor_change",
            "snooze",
            "2026-11-16",
        )
        assert mute.created_by == "jordan.avery@demo.sergas.test"
        overview = shown(screen, "#overview-text")
        assert "Snoozed or dismissed" in overview
        assert "Executive sponsor changed: Snoozed until 2026-11-16 — new sponsor met us" in (
            " ".join(overview.split())
        )
        assert f"(by {ME})" in " ".join(overview.split())
        assert "No other risk signals." in overview
        assert screen.detail.signal_choices == []
        assert any("Snoozed until 2026-11-16" in str(n.message) for n in app._notifications)
        # Nothing left to snooze: z says so instead of opening an empty dialog.
        await pilot.press("z")
        await pilot.pause()
        assert app.screen is screen
        assert any(n.title == "Nothing to snooze" for n in app._notifications)
    assert AuditAction.SIGNAL_SNOOZED in audit_kinds(reviewed)


async def test_bad_input_stays_in_the_dialog_with_a_reason(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, SPONSOR))
        await pilot.press("z")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, SnoozeSignalModal)
        errors = modal.query_one("#mute-errors", Static)
        await pilot.press("enter")  # no reason
        await pilot.pause()
        assert app.screen is modal
        assert errors.has_class("-shown")
        assert "Say why" in str(errors.render())
        until = modal.query_one("#mute-until", Input)
        for bad, problem in (
            ("2020-01-01", "is in the past"),
            ("next week", "is not a date"),
            ("", "needs an end date"),
            ("2031-01-01", "more than 366 days"),
        ):
            until.value = bad
            modal.query_one("#mute-reason", Input).value = "on holiday"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is modal
            assert problem in str(errors.render())
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert app.is_running
    assert list_mutes(reviewed.store, now=reviewed.clock.now(), active_only=False) == []


async def test_dismiss_is_until_unmuted(settings: Settings, reviewed: Services) -> None:
    account = scenario_id(reviewed, SPONSOR)
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, account)
        await pilot.press("z")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, SnoozeSignalModal)
        await pilot.click("#kind-dismiss")
        await pilot.pause()
        assert modal.query_one("#kind-dismiss", RadioButton).value
        assert modal.query_one("#mute-until", Input).value == ""
        modal.query_one("#mute-reason", Input).value = "the [bold]reorg[/bold] is done"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        [mute] = account_mutes(reviewed, account)
        assert (mute.kind, mute.until) == ("dismiss", None)
        overview = " ".join(shown(screen, "#overview-text").split())
        assert "Dismissed — the [bold]reorg[/bold] is done" in overview  # shown literally
    assert AuditAction.SIGNAL_DISMISSED in audit_kinds(reviewed)


async def test_u_unmutes_a_signal(settings: Settings, reviewed: Services) -> None:
    account = scenario_id(reviewed, SPONSOR)
    until = date(2026, 11, 20)
    request = MuteRequest("executive_sponsor_change", "snooze", "on holiday", until)
    save_mute(reviewed, account, request, actor="ana@example.com")
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, account)
        overview = " ".join(shown(screen, "#overview-text").split())
        assert "Snoozed until 2026-11-20 — on holiday (by ana@example.com)" in overview
        assert "Executive sponsor change:" not in overview.split("Snoozed or dismissed")[0]
        await pilot.press("u")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, UnmuteSignalModal)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert account_mutes(reviewed, account) == []
        overview = shown(screen, "#overview-text")
        assert "Snoozed or dismissed" not in overview
        assert "Executive sponsor change" in overview
        assert screen.detail is not None
        assert [c.key for c in screen.detail.signal_choices] == ["executive_sponsor_change"]
        await pilot.press("u")  # nothing muted now
        await pilot.pause()
        assert app.screen is screen
        assert any(n.title == "Nothing to unmute" for n in app._notifications)
    assert AuditAction.SIGNAL_UNMUTED in audit_kinds(reviewed)


async def test_an_account_without_signals_has_nothing_to_snooze(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, "healthy_expansion"))
        await pilot.press("z")
        await pilot.pause()
        assert app.screen is screen
        [note] = [n for n in app._notifications if n.title == "Nothing to snooze"]
        assert "found none" in note.message


async def test_the_snooze_key_is_remappable(reviewed: Services) -> None:
    from sergas_tui.config import load_settings
    from sergas_tui.locations import Locations

    settings = load_settings(Locations.from_env())
    settings = settings.model_copy(
        update={
            "ui": settings.ui.model_copy(update={"keymap": {"account.snooze_signal": "ctrl+z"}})
        }
    )
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_account(pilot, scenario_id(reviewed, SPONSOR))
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert isinstance(app.screen, SnoozeSignalModal)


def test_snapshot_snooze_dialog_80x24(
    snap_compare: Any, settings: Settings, reviewed: Services
) -> None:
    async def run_before(pilot: Any) -> None:
        await open_account(pilot, scenario_id(reviewed, SPONSOR))
        await pilot.press("z")
        await pilot.pause()
        await pilot.press("enter")  # no reason yet: the dialog says so
        await settle(pilot)

    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_account_screen_keeps_running_when_saving_fails(
    settings: Settings, reviewed: Services, monkeypatch: Any
) -> None:
    import sergas_tui.screens.account as account_screen
    from sergas_tui.domain.mutes import MuteError

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise MuteError("The database said no.")

    monkeypatch.setattr(account_screen, "save_mute", refuse)
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_account(pilot, scenario_id(reviewed, SPONSOR))
        await pilot.press("z")
        await pilot.pause()
        app.screen.query_one("#mute-reason", Input).value = "on holiday"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert app.is_running
        assert any(n.title == "Snooze or dismiss" for n in app._notifications)
        assert "Snoozed or dismissed" not in shown(screen, "#overview-text")
