"""The review pipeline on the rules engine, end to end over the demo org and the simulator."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
import pytest_asyncio

from sergas_tui.agents.events import AccountFailed, AccountScouted, ReviewEvent, RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import DemoStore, generate
from sergas_tui.domain import Recommendation, RecordRef, UpdateAccountAction
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
# Tests do not wait out Zoho's 120 calls a minute; the demo simulator follows the client's limit.
FAST = {"zoho": {"requests_per_minute": 10_000}}

# What each scenario must produce: signal keys (at least) and recommendation types (at least
# one of them). The healthy account must produce nothing at all.
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "stalled_negotiation": ({"stalled_in_stage"}, {"escalation", "create_task"}),
    "exec_sponsor_changed": ({"executive_sponsor_change"}, {"follow_up_email", "create_task"}),
    "no_activity_35d": ({"no_activity_critical"}, {"follow_up_email", "create_task"}),
    "close_date_pushed_twice": ({"close_date_pushed"}, {"create_task", "follow_up_email"}),
    "amount_cut": ({"amount_decreased"}, {"create_task", "add_note", "follow_up_email"}),
    "single_threaded": ({"single_threaded"}, {"create_task", "follow_up_email"}),
    "renewal_declining_sentiment": (
        {"renewal_declining_sentiment"},
        {"escalation", "follow_up_email", "create_task"},
    ),
}


async def run(services: Services, owner: str | None) -> tuple[list[ReviewEvent], RunFinished]:
    orchestrator = await services.orchestrator()
    events = [event async for event in orchestrator.review(owner)]
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    return events, finished


@pytest_asyncio.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=300, owners=3, seed=7, now=NOW)
    built = open_services(
        load_settings(locations, overrides=FAST),
        locations,
        secrets=SecretStore(environ={}),
        clock=FixedClock(NOW),
    )
    try:
        yield built
    finally:
        await built.aclose()
        built.close()


def recs_by_account(finished: RunFinished) -> dict[str, list[Recommendation]]:
    result: dict[str, list[Recommendation]] = {}
    for brief in finished.briefs:
        for rec in brief.recommendations:
            result.setdefault(rec.account_id or "", []).append(rec)
    return result


def signals_by_account(finished: RunFinished) -> dict[str, set[str]]:
    return {
        account.account_id: {s.key for s in account.signals}
        for brief in finished.briefs
        for account in brief.accounts or []
    }


async def test_every_scenario_yields_its_signals_and_recommendations(services: Services) -> None:
    assert services.demo is not None
    me = services.demo.meta().current_user_email
    _, finished = await run(services, me)
    assert finished.summary.failed == 0, finished.summary.failures
    signals = signals_by_account(finished)
    recs = recs_by_account(finished)
    scenarios = {s.key: s for s in services.demo.scenarios()}
    for key, (expected_signals, expected_types) in EXPECTED.items():
        account_id = scenarios[key].account_id
        assert expected_signals <= signals[account_id], (key, signals[account_id])
        types = {r.type for r in recs.get(account_id, [])}
        assert types & expected_types, (key, types)
    healthy = scenarios["healthy_expansion"].account_id
    assert signals[healthy] == set()
    assert recs.get(healthy, []) == []


async def test_references_resolve_and_injection_changes_nothing(services: Services) -> None:
    assert services.demo is not None
    me = services.demo.meta().current_user_email
    _, finished = await run(services, me)
    store: DemoStore = services.demo
    all_recs = [r for brief in finished.briefs for r in brief.recommendations]
    assert all_recs
    for rec in all_recs:
        assert rec.data_references, rec
        for ref in rec.data_references:
            parsed = RecordRef.parse(ref)
            if parsed.system == "zoho":
                assert store.record(parsed.module, parsed.id) is not None, ref
    injection = next(s for s in store.scenarios() if s.key == "hostile_injection").account_id
    for rec in all_recs:
        if isinstance(rec.suggested_action, UpdateAccountAction):
            for change in rec.suggested_action.field_changes:
                assert "shutdown" not in str(change.new).casefold(), rec
                assert "closed won" not in str(change.new).casefold(), rec
    injected = [r for r in all_recs if r.account_id == injection]
    assert all(not isinstance(r.suggested_action, UpdateAccountAction) for r in injected)


async def test_second_review_reports_no_changes_and_proposes_nothing_new(
    services: Services,
) -> None:
    assert services.demo is not None
    me = services.demo.meta().current_user_email
    _, first = await run(services, me)
    assert first.summary.recommendations > 0
    pending_after_first = services.store.pending_approval_count(me)
    _, second = await run(services, me)
    assert second.summary.with_changes == 0
    assert second.summary.recommendations == 0
    assert services.store.pending_approval_count(me) == pending_after_first


@pytest.mark.slow
async def test_all_references_resolve_in_a_5000_account_review(tmp_path: Path) -> None:
    locations = Locations.from_env()
    path = locations.demo_crm_file("big")
    path.parent.mkdir(parents=True)
    generate(path, accounts=5000, owners=50, seed=7, now=NOW)
    services = open_services(
        load_settings(locations, overrides=FAST),
        locations,
        workspace="big",
        secrets=SecretStore(environ={}),
        clock=FixedClock(NOW),
    )
    try:
        _, finished = await run(services, None)
        assert finished.summary.accounts == 5000
        assert finished.summary.failed == 0, finished.summary.failures[:5]
        assert services.demo is not None
        checked = 0
        for brief in finished.briefs:
            for rec in brief.recommendations:
                assert rec.data_references
                for ref in rec.data_references:
                    parsed = RecordRef.parse(ref)
                    if parsed.system == "zoho":
                        assert services.demo.record(parsed.module, parsed.id) is not None, ref
                        checked += 1
        assert checked > 1000
    finally:
        await services.aclose()
        services.close()


async def test_a_failing_account_is_recorded_and_the_run_goes_on(services: Services) -> None:
    assert services.demo is not None
    me = services.demo.meta().current_user_email
    victim = next(s.account_id for s in services.demo.scenarios() if s.key == "amount_cut")
    orchestrator = await services.orchestrator()
    real_author = orchestrator.engine.author

    async def flaky(facts, context, refs, prior):  # type: ignore[no-untyped-def]
        if facts.account_id == victim:
            raise RuntimeError("author blew up")
        return await real_author(facts, context, refs, prior)

    orchestrator.engine.author = flaky  # type: ignore[method-assign]
    events = [event async for event in orchestrator.review(me)]
    failed = [e for e in events if isinstance(e, AccountFailed)]
    assert [e.account_id for e in failed] == [victim]
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.summary.failed == 1
    assert finished.summary.accounts == 100
    assert finished.summary.recommendations > 0
    # The failed account keeps no snapshot, so the next review sees its changes again.
    assert services.store.latest_snapshot(victim) is None


async def test_cancelling_a_review_stops_cleanly(services: Services) -> None:
    assert services.demo is not None
    me = services.demo.meta().current_user_email
    orchestrator = await services.orchestrator()
    stream = orchestrator.review(me)
    seen = 0
    async for event in stream:
        seen += 1
        if isinstance(event, AccountScouted) and seen > 5:
            break
    await cast(AsyncGenerator[object, None], stream).aclose()
    last = services.store.last_sync(me)
    assert last is None or last.status == "ok"  # the cancelled run did not finish ok
    # A fresh review still works afterwards.
    _, finished = await run(services, me)
    assert finished.summary.failed == 0


async def test_every_crm_call_of_a_review_is_audited(services: Services) -> None:
    assert services.demo is not None
    me = services.demo.meta().current_user_email
    _, finished = await run(services, me)
    events = services.store.audit_events(limit=10_000)
    calls = [e for e in events if e.action_type == "tool_invocation"]
    assert {e.tool_name for e in calls} >= {"zoho_sync", "zoho_get_stage_history"}
    assert all(e.session_id == finished.run_id for e in calls)
    sync = next(e for e in calls if e.tool_name == "zoho_sync")
    assert isinstance(sync.tool_outputs, dict)
    assert sync.tool_outputs["accounts"] == finished.summary.accounts
    assert all(e.execution_time_ms is not None for e in calls)
