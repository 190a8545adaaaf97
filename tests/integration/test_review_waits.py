"""A review never fails for a transient Zoho limit: it waits, and says so as it happens."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sergas_tui.agents.events import AccountScouted, CrmWaiting, RunFinished, Synced
from sergas_tui.crm.factory import SIMULATOR_URL
from sergas_tui.crm.simulator import SimulatorConfig, create_simulator
from sergas_tui.crm.simulator.faults import FaultPlan
from sergas_tui.locations import Locations
from sergas_tui.viewmodels.review import ReviewProgress
from tests.integration.simkit import NOW, demo_services


async def test_429s_during_the_sync_are_waited_out_and_shown(tmp_path: Path) -> None:
    # No retries at all: only waiting out the 429s can get the review through.
    services = demo_services(retry_max_attempts=0, retry_initial_delay_ms=0)
    clock = services.clock
    org = Locations.from_env().demo_crm_file("demo")
    simulator = create_simulator(org, SimulatorConfig(api_domain=SIMULATOR_URL, clock=clock))
    simulator.faults = FaultPlan(schedule={2: "rate_limit", 3: "rate_limit", 6: "rate_limit"})
    services.simulator = simulator
    events = []
    try:
        orchestrator = await services.orchestrator()
        async for event in orchestrator.review(None):
            events.append(event)
    finally:
        await services.aclose()
        services.close()

    waits = [e for e in events if isinstance(e, CrmWaiting)]
    assert len(waits) == 3
    assert all(w.kind == "rate_limited" and "Zoho's rate limit" in w.reason for w in waits)
    # Shown while the sync waited, not after it.
    synced = next(i for i, e in enumerate(events) if isinstance(e, Synced))
    assert events.index(waits[0]) < synced
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.summary.failed == 0
    assert finished.summary.accounts == 40
    assert simulator.counters.limits_hit["injected"] == 3

    progress = ReviewProgress()
    progress.begin(None, NOW)
    lines = []
    for event in events[:synced]:
        lines += progress.apply(event, NOW)
    assert progress.note.startswith("Waiting for Zoho — Zoho's rate limit (")
    assert "trying again in under a second" in progress.note
    assert any("waiting" in line.text for line in lines)


async def test_the_event_loop_keeps_turning_through_a_review(tmp_path: Path) -> None:
    """The review runs its short SQLite work on the loop's thread (no thread hand-offs), yet
    the loop keeps serving everything else (a screen drawing): during the sync at least once
    per Zoho call, and during the account loop at least once per account."""
    services = demo_services()
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.ensure_future(ticker())
    at: dict[str, int] = {}
    try:
        orchestrator = await services.orchestrator()
        async for event in orchestrator.review(None):
            if isinstance(event, Synced):
                at["synced"], sync_calls = ticks, event.calls
            elif isinstance(event, AccountScouted):
                at.setdefault("first account", ticks)
            elif isinstance(event, RunFinished):
                at["finished"], accounts = ticks, event.summary.accounts
    finally:
        stop.set()
        await ticking
        await services.aclose()
        services.close()
    assert sync_calls > 0
    assert at["synced"] >= sync_calls
    assert at["finished"] - at["first account"] >= accounts == 40
