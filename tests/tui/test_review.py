"""The review run screen, driven like a user would: lanes, progress, cancel, failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.widgets import Static

from sergas_tui.app import SergasApp, make_app
from sergas_tui.config import Settings
from sergas_tui.errors import SergasError
from sergas_tui.screens.review import ReviewScreen
from sergas_tui.services import Services
from sergas_tui.viewmodels.owner_accounts import owner_accounts
from sergas_tui.widgets.agent_lane import AgentLane
from tests.tui.waiting import settle


def review_screen(app: SergasApp) -> ReviewScreen:
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


def lane(app: SergasApp, name: str) -> list[str]:
    return app.screen.query_one(f"#lane-{name}", AgentLane).entries


def shown(app: SergasApp, widget_id: str) -> str:
    return str(app.screen.query_one(widget_id, Static).render())


def count_status_refreshes(app: SergasApp, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = app.refresh_status

    def counting() -> None:
        calls.append(1)
        original()

    monkeypatch.setattr(app, "refresh_status", counting)
    return calls


def sequential(services: Services) -> None:
    """One account at a time, so the lanes' order (and a snapshot) is deterministic."""
    orchestrator = services.settings.orchestrator.model_copy(update={"max_parallel_subagents": 1})
    services.settings = services.settings.model_copy(update={"orchestrator": orchestrator})


def gate_author(
    services: Services, monkeypatch: pytest.MonkeyPatch, *, fail_for: str | None = None
) -> tuple[asyncio.Event, asyncio.Event]:
    """Make the engine's author wait for ``gate`` (and raise for the account named ``fail_for``).

    Returns ``(reached, gate)``: ``reached`` is set once an account waits at the author.
    """
    reached, gate = asyncio.Event(), asyncio.Event()
    if fail_for is not None:
        gate.set()
    real = services.orchestrator

    async def gated() -> Any:
        orchestrator = await real()
        author = orchestrator.engine.author

        async def slow_author(facts: Any, *args: Any) -> Any:
            reached.set()
            await gate.wait()
            if facts.account.name == fail_for:
                raise RuntimeError("the author tripped on this one")
            return await author(facts, *args)

        monkeypatch.setattr(orchestrator.engine, "author", slow_author)
        return orchestrator

    monkeypatch.setattr(services, "orchestrator", gated)
    return reached, gate


async def test_r_reviews_the_current_owner_in_three_lanes(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = await owner_accounts(services)
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = review_screen(app)
        assert screen.has_class("-idle")
        assert f"r reviews your {len(rows)} accounts" in shown(app, "#review-idle")
        refreshes = count_status_refreshes(app, monkeypatch)

        await pilot.press("r")
        await settle(pilot)

        progress = screen.progress
        assert progress.state == "finished"
        assert progress.done == progress.total == len(rows)
        scout = lane(app, "scout")
        assert len(scout) == len(rows)
        assert len(lane(app, "analyst")) == len(rows)
        assert any(line.startswith("Square [bold]Bracket[/bold] Media — ") for line in scout)
        assert any("signal" in line for line in scout)
        assert any(" — create_task " in line for line in lane(app, "author"))
        assert not any(
            "\x1b" in line for name in ("scout", "analyst", "author") for line in lane(app, name)
        )
        pending = services.store.pending_approval_count(services.current_user_email())
        assert progress.recommendations == pending > 0
        summary = shown(app, "#review-summary")
        assert f"{pending} proposed writes" in summary
        if pending:
            assert f"Press 3 to decide on the {pending} new items in your queue" in summary
        assert f"{len(rows)}/{len(rows)} accounts" in shown(app, "#review-status")
        assert "engine: rules · no token cost" in shown(app, "#review-activity")
        assert refreshes, "the header's pending count is refreshed when a run ends"
        assert screen.has_class("-finished")

        await pilot.press("c")
        assert lane(app, "scout") == []
        assert screen.progress.state == "idle"


async def test_start_review_from_the_app(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.start_review(None)
        await settle(pilot)
        assert app.current_mode == "review"
        screen = review_screen(app)
        assert screen.progress.state == "finished"
        assert screen.progress.done > 0


async def test_marked_accounts_only(settings: Settings, services: Services) -> None:
    rows = await owner_accounts(services)
    marked = [rows[0].account_id, rows[5].account_id]
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.start_review(marked)
        await settle(pilot)
        screen = review_screen(app)
        assert screen.account_ids == tuple(marked)
        assert screen.progress.done == screen.progress.total == 2
        scout = lane(app, "scout")
        assert len(scout) == 2
        assert {line.split(" — ")[0] for line in scout} == {rows[0].name, rows[5].name}


async def test_escape_cancels_cleanly(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached, _gate = gate_author(services, monkeypatch)
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        refreshes = count_status_refreshes(app, monkeypatch)
        await pilot.press("r")
        await asyncio.wait_for(reached.wait(), timeout=30)
        await pilot.pause()
        screen = review_screen(app)
        assert screen.progress.running
        assert lane(app, "scout"), "the scout lane streams before the author is done"

        await pilot.press("r")  # refused while running
        assert [n.title for n in app._notifications] == ["Review running"]

        await pilot.press("escape")
        await settle(pilot)
        assert app.is_running
        assert screen.progress.state == "cancelled"
        for name in ("scout", "analyst", "author"):
            assert lane(app, name)[-1] == "— cancelled —"
        assert shown(app, "#review-summary").startswith("Cancelled after 0/")
        assert refreshes
        assert screen.has_class("-cancelled")
        assert not [n for n in app._notifications if n.severity == "error"]
    actions = [e.action_type for e in services.store.audit_events(limit=500)]
    assert "review_cancelled" in actions


async def test_one_failing_account_is_listed_while_the_others_complete(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = await owner_accounts(services)
    victim = "Square [bold]Bracket[/bold] Media"
    assert victim in {row.name for row in rows}
    gate_author(services, monkeypatch, fail_for=victim)
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screen = review_screen(app)
        progress = screen.progress
        assert progress.state == "finished"
        assert progress.failed == 1
        assert progress.done == progress.total == len(rows)
        failures = app.screen.query_one("#review-failures", AgentLane)
        assert failures.entries == [f"{victim} — RuntimeError('the author tripped on this one')"]
        assert screen.has_class("-has-failures")
        assert "1 failed" in shown(app, "#review-summary")
        assert any(line.startswith(f"{victim} — failed:") for line in lane(app, "author"))


async def test_a_failing_run_becomes_a_titled_notification(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> Any:
        raise SergasError("The review engine could not start.", title="Review unavailable")

    monkeypatch.setattr(services, "orchestrator", broken)
    app = make_app(settings, services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert app.is_running
        assert [n.title for n in app._notifications] == ["Review unavailable"]
        screen = review_screen(app)
        assert screen.progress.state == "failed"
        assert "The review engine could not start." in shown(app, "#review-summary")
        assert lane(app, "author")[-1].startswith("— stopped:")


async def test_lanes_stack_at_80_columns(settings: Settings, services: Services) -> None:
    app = make_app(settings, services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = review_screen(app)
        assert screen.has_class("-narrow")
        lanes = list(screen.query(AgentLane))[:3]
        assert len({lane.region.x for lane in lanes}) == 1, "one above the other"
        assert all(lane.region.height >= 3 for lane in lanes)


async def run_review(pilot: Any) -> None:
    await pilot.press("2")
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)


def test_snapshot_finished_run_120x40(
    snap_compare: Any, settings: Settings, services: Services
) -> None:
    sequential(services)
    app = make_app(settings, services)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_review)


def test_snapshot_finished_run_80x24(
    snap_compare: Any, settings: Settings, services: Services
) -> None:
    sequential(services)
    app = make_app(settings, services)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_review)
