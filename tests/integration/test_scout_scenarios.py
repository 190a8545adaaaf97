"""The Data Scout on a generated 300-account demo org, through the REST gateway and simulator.

The local user's accounts are synced once and scouted (module fixture); the tests then check
every scenario account's expected signals (table-driven), that evidence points at real
records, that nothing sensitive leaks, the CRM call budgets, and a second run against the
snapshots of the first.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from sergas_tui.agents.scout import DataScout, ScoutRun
from sergas_tui.clock import FixedClock
from sergas_tui.config import SignalSettings, ZohoSettings
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.demo import DemoStore, generate
from sergas_tui.demo.model import HOSTILE_KEYS, SCENARIO_KEYS, TOUCH_KEYS, Scenario
from sergas_tui.domain import AccountFacts, RiskSignal
from sergas_tui.domain.redaction import REDACTED_FIELDS
from sergas_tui.storage import Repository

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)
STAGE_HISTORY_BUDGET = 60
TIMELINE_BUDGET = 20


@dataclass
class Scouted:
    """Everything one sync + scout of the local user's book produced."""

    org: Path
    workspace: Path
    batch: SyncBatch
    facts: dict[str, AccountFacts]
    run: ScoutRun
    endpoints: dict[str, int]
    scenarios: dict[str, Scenario]


def gateway_for(org: Path) -> tuple[ZohoRestGateway, object]:
    sim = create_simulator(org, SimulatorConfig(clock=FixedClock(NOW)))
    sim.config.api_domain = "http://sim.invalid"
    # A high rate limit: the test measures calls, not the limiter's pacing.
    settings = ZohoSettings(accounts_url="http://sim.invalid", requests_per_minute=10_000)
    transport = httpx.ASGITransport(app=sim.app)
    return ZohoRestGateway(settings, CREDENTIALS, transport=transport, clock=FixedClock(NOW)), sim


async def sync_and_scout(org: Path, workspace: Path) -> Scouted:
    gateway, sim = gateway_for(org)
    with DemoStore.open(org) as store:
        me = store.meta().current_user_email
        scenarios = {s.key: s for s in store.scenarios()}
    try:
        batch = await gateway.sync(me)
        with Repository.open(workspace, clock=FixedClock(NOW)) as repo:
            scout = DataScout(
                gateway, repo, SignalSettings(), FixedClock(NOW), timeline_budget=TIMELINE_BUDGET
            )
            before = dict(gateway.stats.by_endpoint)
            facts = await scout.scout(batch, stage_history_budget=STAGE_HISTORY_BUDGET)
            after = gateway.stats.by_endpoint
        assert scout.last_run is not None
        endpoints = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
        return Scouted(
            org,
            workspace,
            batch,
            {f.account_id: f for f in facts},
            scout.last_run,
            endpoints,
            scenarios,
        )
    finally:
        await gateway.aclose()
        sim.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def scouted(tmp_path_factory: pytest.TempPathFactory) -> Scouted:
    home = tmp_path_factory.mktemp("scout")
    org = home / "org.sqlite"
    generate(org, accounts=300, owners=3, seed=7, now=NOW)
    return asyncio.run(sync_and_scout(org, home / "workspace.sqlite"))


def keys(signals: list[RiskSignal]) -> set[str]:
    return {s.key for s in signals}


def test_scenario_table_matches_the_demo(scouted: Scouted) -> None:
    assert set(scouted.scenarios) == set(SCENARIO_KEYS) | set(HOSTILE_KEYS) | set(TOUCH_KEYS)
    assert all(s.account_id in scouted.facts for s in scouted.scenarios.values())


@pytest.mark.parametrize("key", [*SCENARIO_KEYS, *HOSTILE_KEYS, *TOUCH_KEYS])
def test_scenario_yields_its_expected_signals(scouted: Scouted, key: str) -> None:
    scenario = scouted.scenarios[key]
    facts = scouted.facts[scenario.account_id]
    found = keys(facts.signals)
    assert set(scenario.expected_signals) <= found, [s.message for s in facts.signals]
    if key == "healthy_expansion":
        assert facts.signals == [], [s.message for s in facts.signals]
    assert keys(facts.report.signals()) == found


def test_every_evidence_ref_resolves_to_a_demo_record(scouted: Scouted) -> None:
    checked = 0
    with DemoStore.open(scouted.org) as store:
        for facts in scouted.facts.values():
            known = facts.known_refs()
            for signal in facts.signals:
                assert signal.evidence, signal.message
                for ref in signal.evidence:
                    assert store.record(ref.module, ref.id) is not None, (str(ref), signal)
                    assert str(ref.record()) in known, (str(ref), signal)
                    checked += 1
    assert checked > 100


def test_reports_follow_the_seed_shape(scouted: Scouted) -> None:
    for facts in scouted.facts.values():
        report = facts.report
        assert report.account_id == facts.account_id
        assert report.account_name == facts.account.name
        assert report.owner
        assert report.notes_count == len(facts.notes)
        assert all(d.stage not in ("Closed Won", "Closed Lost") for d in report.open_deals)
        window = NOW - timedelta(days=SignalSettings().recent_activity_days)
        for activity in report.recent_activities:
            times = [t for t in (activity.when, activity.created_time) if t and t <= NOW]
            assert max(times) >= window
        assert report.changes_detected == bool(report.changes)
        json.loads(report.model_dump_json())  # hostile text included


# What "quiet" means, pinned on the demo: (scenario, signals, last touch kind, record, its age).
QUIET_TABLE = [
    # Sergas's own open task, an unanswered call, an account edit and a fresh
    # Last_Activity_Time are no touch: quiet since the call 40 days ago.
    ("own_task_only", ["no_activity_critical"], "call", "Calls", 40),
    # A renewal won 12 days ago is a touch (its closing date dates it).
    ("deal_won_recently", [], "deal_won", "Deals", 12),
    # A stage move 6 days ago is a touch (the scout reads the deal's stage history for it).
    ("stage_move_recently", [], "stage_move", "Deals", 6),
    # A completed call 3 days ago is a touch; the open task overdue since long ago is not.
    ("completed_call_recently", [], "call", "Calls", 3),
    ("no_activity_35d", ["no_activity_critical"], "call", "Calls", 35),
]


@pytest.mark.parametrize(("key", "signals", "kind", "module", "days"), QUIET_TABLE)
def test_quiet_counts_customer_touches_only(
    scouted: Scouted, key: str, signals: list[str], kind: str, module: str, days: int
) -> None:
    facts = scouted.facts[scouted.scenarios[key].account_id]
    assert [s.key for s in facts.signals] == signals, [s.message for s in facts.signals]
    quiet = facts.account.quiet
    assert quiet is not None
    touch = quiet.touch
    assert touch is not None
    assert (quiet.basis, quiet.since) == ("touch", touch.at)
    assert (touch.kind, touch.ref.module, (NOW - touch.at).days) == (kind, module, days)
    assert touch.ref.record() in {r.ref() for r in facts.activities} | {
        d.ref() for d in facts.deals
    }
    # The snapshot the portfolio reads keeps the same touch.
    assert scouted.run.snapshots[facts.account_id]["_quiet"] == quiet.model_dump(mode="json")
    for signal in facts.signals:
        # The evidence is the touch's own record, never Accounts#Last_Activity_Time.
        assert signal.evidence == [touch.ref]
        assert signal.data["days_quiet"] == days
        assert f"No customer touch for {days} days" in signal.message


def test_no_quiet_signal_cites_last_activity_time(scouted: Scouted) -> None:
    quiet = [
        s for f in scouted.facts.values() for s in f.signals if s.key.startswith("no_activity")
    ]
    assert len(quiet) > 5
    for signal in quiet:
        assert all(ref.field != "Last_Activity_Time" for ref in signal.evidence), signal
        assert isinstance(signal.data["days_quiet"], int)


def test_harbor_point_stalled_message_is_precise(scouted: Scouted) -> None:
    facts = scouted.facts[scouted.scenarios["stalled_negotiation"].account_id]
    (stalled,) = [s for s in facts.signals if s.key == "stalled_in_stage"]
    assert "in Negotiation/Review for at least 45 days" in stalled.message
    assert stalled.evidence[0].field == "Stage"


def test_call_budgets_hold(scouted: Scouted) -> None:
    run = scouted.run
    assert run.accounts == len(scouted.batch.accounts) == 100
    assert run.stage_history_calls <= STAGE_HISTORY_BUDGET
    assert run.timeline_calls <= TIMELINE_BUDGET
    assert run.failed_calls == 0
    stage = scouted.endpoints.get("GET /Deals/{id}/Stage_History", 0)
    timelines = sum(v for k, v in scouted.endpoints.items() if k.endswith("/__timeline"))
    assert (stage, timelines) == (run.stage_history_calls, run.timeline_calls)
    # The scout reads nothing but stage histories and timelines.
    assert sum(scouted.endpoints.values()) == run.calls


def test_nothing_sensitive_leaks(scouted: Scouted) -> None:
    with sqlite3.connect(scouted.org) as conn:
        rows = conn.execute("SELECT data FROM records").fetchall()
    conn.close()
    secrets = {
        str(value)
        for (data,) in rows
        for name, value in json.loads(data).items()
        if name in REDACTED_FIELDS and isinstance(value, str) and len(value) > 4
    }
    assert len(secrets) > 10
    text = json.dumps(
        [f.model_dump(mode="json") for f in scouted.facts.values()] + [scouted.run.snapshots]
    )
    assert not [s for s in secrets if s in text]
    assert not [name for name in REDACTED_FIELDS if f'"{name}"' in text]


async def test_second_run_compares_with_the_stored_snapshots(scouted: Scouted) -> None:
    gateway, sim = gateway_for(scouted.org)
    try:
        with Repository.open(scouted.workspace, clock=FixedClock(NOW)) as repo:
            owner = scouted.batch.owner_email or "*"
            for account_id, data in scouted.run.snapshots.items():
                repo.save_snapshot(account_id, owner, data)
            scout = DataScout(gateway, repo, SignalSettings(), FixedClock(NOW))
            again = {f.account_id: f for f in await scout.scout(scouted.batch)}
            assert all(f.changes == [] for f in again.values())
            assert {k: keys(f.signals) for k, f in again.items()} == {
                k: keys(f.signals) for k, f in scouted.facts.items()
            }
            # A close date pushed since the last run shows up as a change and a signal.
            healthy = scouted.scenarios["healthy_expansion"].account_id
            deal = next(d for d in again[healthy].deals if d.stage == "Proposal/Price Quote")
            assert deal.closing_date is not None
            moved = deal.model_copy(update={"closing_date": deal.closing_date + timedelta(days=30)})
            batch = SyncBatch(
                owner_email=scouted.batch.owner_email,
                modified_since=None,
                fetched_at=NOW,
                full=True,
                accounts=scouted.batch.accounts,
                contacts=scouted.batch.contacts,
                deals=[moved if d.id == deal.id else d for d in scouted.batch.deals],
                activities=scouted.batch.activities,
                notes=scouted.batch.notes,
            )
            (facts,) = await scout.scout(batch, account_ids={healthy})
    finally:
        await gateway.aclose()
        sim.close()  # type: ignore[attr-defined]
    assert [(c.record_id, c.field, c.old, c.new) for c in facts.changes] == [
        (deal.id, "Closing_Date", deal.closing_date.isoformat(),
         (deal.closing_date + timedelta(days=30)).isoformat()),
    ]  # fmt: skip
    assert keys(facts.signals) == {"close_date_pushed"}
    assert isinstance(deal.closing_date, date)
