"""The AE's daily queue on the demo org: a budget per owner per day, ranked by expected value,
"more, lower priority" that can be pulled in, snoozed signals left out of every review path, and
one top recommendation per planted scenario naming its problem."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
import pytest_asyncio
from pydantic import JsonValue

from sergas_tui.agents.events import RecommendationProposed, RunFinished
from sergas_tui.approvals.queue import QueueError, pull_in
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.domain import ApprovalStatus, AuditAction, Recommendation
from sergas_tui.domain.mutes import SignalMute
from sergas_tui.domain.queue import queue_order
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from sergas_tui.storage import Repository
from sergas_tui.storage.mutes import add_mute
from sergas_tui.viewmodels.portfolio import read_stored_facts

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FAST = {"zoho": {"requests_per_minute": 10_000}}
BUDGET = 18
TTL = timedelta(hours=72)


@dataclass
class World:
    services: Services
    clock: FixedClock
    owners: list[str]

    @property
    def repo(self) -> Repository:
        return self.services.store

    async def review(
        self, owner: str | None, account_ids: Collection[str] | None = None
    ) -> tuple[RunFinished, list[RecommendationProposed]]:
        orchestrator = await self.services.orchestrator()
        proposed: list[RecommendationProposed] = []
        finished = None
        async for event in orchestrator.review(owner, account_ids=account_ids):
            if isinstance(event, RecommendationProposed):
                proposed.append(event)
            if isinstance(event, RunFinished):
                finished = event
        assert finished is not None
        return finished, proposed

    def live(self, account_id: str) -> list[Recommendation]:
        """The account's recommendations still open: queued or with a pending approval."""
        pending = {
            a.recommendation_id
            for a in self.repo.approvals_for(account_id)
            if a.status == ApprovalStatus.PENDING
        }
        return [
            r
            for r in self.repo.recommendations_for(account_id)
            if r.status == "queued" or r.id in pending
        ]


@pytest_asyncio.fixture
async def world() -> AsyncIterator[World]:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=300, owners=3, seed=7, now=NOW)
    clock = FixedClock(NOW)
    services = open_services(
        load_settings(locations, overrides=FAST),
        locations,
        secrets=SecretStore(environ={}),
        clock=clock,
    )
    assert services.demo is not None
    owners = sorted({a["Owner"]["email"] for a in services.demo.records("Accounts")})
    try:
        yield World(services, clock, owners)
    finally:
        await services.aclose()
        services.close()


async def test_a_review_lands_the_budget_and_keeps_the_rest_queued(world: World) -> None:
    finished, proposed = await world.review(None)
    repo = world.repo
    for owner in world.owners:
        pending = repo.pending_approvals(owner)
        queued = repo.queued_recommendations(owner)
        assert len(pending) == BUDGET, owner
        assert queued, owner
        # What landed is the best of what was found, by expected value (critical ones first).
        landed = [repo.get_recommendation(a.recommendation_id) for a in pending]
        assert all(r is not None and r.status == "pending" for r in landed)
        worst_landed = min(r.value or 0 for r in landed if r and r.priority != "critical")
        assert worst_landed >= max(r.value or 0 for r in queued)
    assert finished.summary.landed == BUDGET * len(world.owners)
    assert finished.summary.queued == sum(len(repo.queued_recommendations(o)) for o in world.owners)
    assert finished.summary.recommendations == len(proposed)
    # Each landing is audited as an approval request; a queued one is not (yet).
    requested = [
        e
        for e in repo.audit_events(limit=100_000)
        if e.action_type == AuditAction.APPROVAL_REQUESTED
    ]
    assert len(requested) == BUDGET * len(world.owners)

    # A second review on the unchanged CRM adds nothing: no new item, nothing more queued.
    before = {o: len(repo.queued_recommendations(o)) for o in world.owners}
    again, proposed_again = await world.review(None)
    assert proposed_again == []
    assert again.summary.recommendations == 0
    assert again.summary.landed == 0
    assert {o: len(repo.queued_recommendations(o)) for o in world.owners} == before
    assert repo.pending_approval_count() == BUDGET * len(world.owners)


async def test_the_queue_tops_up_to_the_budget_on_the_next_day(world: World) -> None:
    owner = world.owners[0]
    await world.review(None)
    repo = world.repo
    service = ApprovalService(repo, clock=world.clock)
    decided = repo.pending_approvals(owner)[:5]
    for approval in decided:
        await service.reject(approval.id, actor="tester", reason="not now")
    # Same day: the day's budget is spent, nothing more lands.
    _, _ = await world.review(owner)
    assert repo.pending_approval_count(owner) == BUDGET - 5
    # Next day: the queue is topped up to the budget again, best queued first.
    world.clock.advance(timedelta(days=1))
    best = queue_order(repo.queued_recommendations(owner))
    await world.review(owner)
    assert repo.pending_approval_count(owner) == BUDGET
    new = {
        a.recommendation_id
        for a in repo.pending_approvals(owner)
        if a.created_at >= NOW + timedelta(days=1)
    }
    assert len(new) == 5
    # A day later the refreshed queued items keep their ids: the top-ups were the best then.
    assert new <= {r.id for r in best} | {r.id for r in repo.queued_recommendations(owner)} | new


async def test_pulling_in_an_item_past_the_budget(world: World) -> None:
    owner = world.owners[0]
    await world.review(owner)
    repo = world.repo
    chosen = queue_order(repo.queued_recommendations(owner))[-1]  # the least valuable
    rec, approval = pull_in(repo, chosen.id[:8], actor="ana", now=world.clock.now(), ttl=TTL)
    assert rec.id == chosen.id
    assert approval.status == ApprovalStatus.PENDING
    assert approval.owner_email == owner
    assert repo.pending_approval_count(owner) == BUDGET + 1
    stored = repo.get_recommendation(chosen.id)
    assert stored is not None
    assert stored.status == "pending"
    audit = [
        e
        for e in repo.audit_events(limit=100_000)
        if e.action_type == AuditAction.APPROVAL_REQUESTED
        and isinstance(e.tool_inputs, dict)
        and e.tool_inputs.get("recommendation_id") == chosen.id
    ]
    assert len(audit) == 1
    assert cast(dict[str, JsonValue], audit[0].tool_inputs)["pulled_in_by"] == "ana"
    with pytest.raises(QueueError, match="is pending, not waiting"):
        pull_in(repo, chosen.id, actor="ana", now=world.clock.now(), ttl=TTL)
    with pytest.raises(QueueError, match="No recommendation 'nope1234'"):
        pull_in(repo, "nope1234", actor="ana", now=world.clock.now(), ttl=TTL)
    with pytest.raises(QueueError, match="actor"):
        pull_in(repo, chosen.id, actor="  ", now=world.clock.now(), ttl=TTL)


async def test_a_snoozed_signal_is_left_out_of_every_review_path(world: World) -> None:
    assert world.services.demo is not None
    scenario = next(s for s in world.services.demo.scenarios() if s.key == "single_threaded")
    account = scenario.account_id
    owner = world.services.demo.meta().current_user_email
    await world.review(owner)
    assert any("single_threaded" in r.signals for r in world.live(account))
    pending = [a for a in world.repo.pending_approvals(owner) if a.account_id == account]
    for approval in pending:  # what already waits is decided by a person, not by the snooze
        await ApprovalService(world.repo, clock=world.clock).reject(
            approval.id, actor="ana", reason="handled"
        )
    add_mute(
        world.repo,
        SignalMute(
            account_id=account,
            signal_key="single_threaded",
            kind="snooze",
            reason="Customer on holiday until January",
            until=date(2027, 1, 10),
            created_by="ana",
            created_at=world.clock.now(),
            owner_email=owner,
        ),
    )
    world.clock.advance(timedelta(days=1))  # a new day: fresh recommendation ids
    for owner_scope, accounts in ((owner, None), (None, None), (None, [account])):
        finished, proposed = await world.review(owner_scope, accounts)
        reviewed = {a.account_id: a for b in finished.briefs for a in b.accounts or []}
        assert "single_threaded" not in {s.key for s in reviewed[account].signals}
        mine = [p.recommendation for p in proposed if p.account_id == account]
        assert not [r for r in mine if "single_threaded" in r.signals]
        assert not [r for r in world.live(account) if "single_threaded" in r.signals]
    # After the snooze ends the signal is back.
    world.clock.advance(timedelta(days=80))
    finished, _ = await world.review(None, [account])
    reviewed = {a.account_id: a for b in finished.briefs for a in b.accounts or []}
    assert "single_threaded" in {s.key for s in reviewed[account].signals}


async def test_every_planted_scenario_gets_one_top_recommendation_naming_its_problem(
    world: World,
) -> None:
    assert world.services.demo is not None
    finished, _ = await world.review(None)
    signals = {a.account_id: a.signals for b in finished.briefs for a in b.accounts or []}
    planted = [s for s in world.services.demo.scenarios() if s.expected_signals]
    assert len(planted) >= 8
    for scenario in planted:
        recs = queue_order(world.live(scenario.account_id))
        assert recs, scenario.key
        problem = scenario.expected_signals[0]
        about = [r for r in recs if problem in r.signals]
        assert len(about) == 1, (scenario.key, [(r.type, r.signals) for r in recs])
        assert recs[0] is about[0] or recs[0].id == about[0].id, scenario.key
        # It names the problem in the words of the signal the account shows.
        message = next(s.message for s in signals[scenario.account_id] if s.key == problem)
        assert message.split(" (")[0][:40] in about[0].rationale, (scenario.key, message)
    healthy = next(s for s in world.services.demo.scenarios() if s.key == "healthy_expansion")
    assert world.live(healthy.account_id) == []


async def test_critical_stays_rare_and_means_a_near_term_loss(world: World) -> None:
    finished, _ = await world.review(None)
    live = [r for o in world.owners for r in world.repo.queued_recommendations(o)]
    for approval in world.repo.pending_approvals():
        rec = world.repo.get_recommendation(approval.recommendation_id)
        assert rec is not None
        live.append(rec)
    critical_accounts = {r.account_id for r in live if r.priority == "critical"}
    accounts = finished.summary.accounts
    assert 0 < len(critical_accounts) <= 0.05 * accounts
    for account_id in critical_accounts:
        assert account_id is not None
        critical = [r for r in world.live(account_id) if r.priority == "critical"]
        assert all("closes in" in r.rationale for r in critical)


async def test_a_one_account_review_keeps_every_other_accounts_signals_on_screen(
    world: World,
) -> None:
    assert world.services.demo is not None
    owner = world.services.demo.meta().current_user_email
    await world.review(owner)
    before = read_stored_facts(world.repo, [owner], owner).briefs
    scenario = next(s for s in world.services.demo.scenarios() if s.key == "amount_cut")
    await world.review(owner, [scenario.account_id])
    after = read_stored_facts(world.repo, [owner], owner).briefs
    assert set(after) == set(before)  # not just the account reviewed last
    assert len(after) > 50
    other = next(
        aid for aid, entry in before.items() if entry.signals and aid != scenario.account_id
    )
    assert after[other].signals == before[other].signals
    covering = world.repo.brief_covering(owner, other)
    assert covering is not None
    assert any(a.account_id == other for a in covering.accounts or [])
