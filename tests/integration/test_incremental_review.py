"""Incremental reviews on the product path: `Orchestrator.review` over the demo simulator, with
changes written through the simulator's REST API the way other Zoho users would make them.

A review syncs only what changed since the last review of the same scope (one owner, or every
owner), merges it with the records the workspace kept, and stays within a few calls; a full
sync is due for the first review, every ``full_sync_days``, and when an account moved to the
owner; a review that fails keeps the old watermark (``agents/incremental.py``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from sergas_tui.agents.events import ReviewEvent, RunFinished, Synced
from sergas_tui.agents.incremental import ReviewSync
from sergas_tui.agents.scout import group_batch
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.crm.factory import SIMULATOR_URL
from sergas_tui.crm.simulator import Simulator, SimulatorConfig, create_simulator
from sergas_tui.demo import DemoStore, generate
from sergas_tui.domain import AccountFacts
from sergas_tui.domain.bundle import Bundle
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from sergas_tui.storage.sync_mirror import SyncMirror, scope_of
from tests.integration.simkit import api_for

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FAST = {"zoho": {"requests_per_minute": 10_000}}
SYNC_ENDPOINTS = ("COQL ", "GET Notes", "GET users", "GET Accounts/{id}/Notes")


@dataclass
class World:
    """A workspace with a demo org, and the demo's clock (the review's and the simulator's)."""

    locations: Locations
    clock: FixedClock

    @property
    def org(self) -> Path:
        return self.locations.demo_crm_file("demo")

    def simulator(self) -> Simulator:
        return create_simulator(
            self.org, SimulatorConfig(api_domain=SIMULATOR_URL, clock=self.clock)
        )

    def services(self, **orchestrator: Any) -> Services:
        overrides: dict[str, Any] = {**FAST, "orchestrator": orchestrator}
        services = open_services(
            load_settings(self.locations, overrides=overrides),
            self.locations,
            secrets=SecretStore(environ={}),
            clock=self.clock,
        )
        services.simulator = self.simulator()
        return services


@dataclass
class Review:
    events: list[ReviewEvent]
    finished: RunFinished
    facts: dict[str, AccountFacts]
    simulator_calls: dict[str, int]
    simulator_total: int

    @property
    def synced(self) -> Synced:
        return next(e for e in self.events if isinstance(e, Synced))


@pytest.fixture
def world(tmp_path: Path) -> World:
    locations = Locations.from_env()
    locations.demo_crm_file("demo").parent.mkdir(parents=True)
    generate(locations.demo_crm_file("demo"), accounts=120, owners=2, seed=7, now=NOW)
    return World(locations, FixedClock(NOW))


async def review(world: World, owner: str | None = None, **orchestrator: Any) -> Review:
    """One `sergas review`: new services, the whole run, what the scout saw."""
    services = world.services(**orchestrator)
    try:
        engine_owner = await services.orchestrator()
        seen: dict[str, AccountFacts] = {}
        scout = engine_owner.engine.scout

        async def watched(batch: Any, previous: Any) -> list[AccountFacts]:
            facts = await scout(batch, previous)
            seen.update({f.account_id: f for f in facts})
            return facts

        engine_owner.engine.scout = watched  # type: ignore[method-assign]
        events = [event async for event in engine_owner.review(owner)]
        finished = events[-1]
        assert isinstance(finished, RunFinished)
        assert services.simulator is not None
        counters = services.simulator.counters
        return Review(events, finished, seen, dict(counters.calls), counters.total_calls)
    finally:
        await services.aclose()
        services.close()


async def write(world: World, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
    """A change made by someone else, through the simulator's REST API (stamped now)."""
    sim = world.simulator()
    try:
        async with api_for(sim) as api:
            headers = api.headers
            response = await api.http.request(method, f"/crm/v8/{path}", headers=headers, json=body)
            assert response.status_code in (200, 201), response.text
            return response.json()
    finally:
        sim.close()


def org() -> DemoStore:
    return DemoStore.open(Locations.from_env().demo_crm_file("demo"))


def open_deal_of(store: DemoStore, account_id: str) -> dict[str, Any]:
    return next(
        d for d in store.related("Deals", account_id) if not str(d["Stage"]).startswith("Closed")
    )


def sync_calls(review: Review) -> int:
    return sum(n for kind, n in review.simulator_calls.items() if kind.startswith(SYNC_ENDPOINTS))


async def test_the_first_review_is_full_and_counts_every_call_by_kind(world: World) -> None:
    first = await review(world)
    s = first.finished.summary
    assert first.synced.full
    assert s.sync.startswith("full sync (the first review")
    assert s.accounts == 120
    calls = s.zoho_calls
    assert s.calls == calls.total == first.simulator_total
    assert calls.sync == sync_calls(first)
    assert calls.stage_history == first.simulator_calls.get("GET Deals/{id}/Stage_History", 0)
    assert calls.timeline == sum(
        n for kind, n in first.simulator_calls.items() if kind.endswith("__timeline")
    )
    assert calls.metadata == first.simulator_calls.get("GET settings/fields", 0) == 1
    assert calls.stage_history > 0
    assert calls.writes == 0


async def test_a_second_review_asks_only_for_changes_and_sees_them(world: World) -> None:
    await review(world)
    with org() as store:
        accounts = sorted(a["id"] for a in store.records("Accounts"))
        changed = accounts[::20]  # 6 of 120 accounts: 5 %
        deal = open_deal_of(store, changed[0])
        old_stage = deal["Stage"]
        new_stage = "Negotiation/Review" if old_stage != "Negotiation/Review" else "Qualification"
        notes = [store.related("Notes", a)[0]["id"] for a in changed if store.related("Notes", a)]
    world.clock.advance(timedelta(hours=5))
    await write(
        world,
        "PUT",
        "Accounts",
        {"data": [{"id": a, "Description": "Updated by a colleague"} for a in changed]},
    )
    await write(world, "PUT", "Deals", {"data": [{"id": deal["id"], "Stage": new_stage}]})
    await write(
        world,
        "PUT",
        "Notes",
        {"data": [{"id": n, "Note_Content": "Edited after the call"} for n in notes]},
    )
    world.clock.advance(timedelta(hours=1))

    second = await review(world)
    s = second.finished.summary
    assert not second.synced.full
    assert s.sync.startswith("changes since")
    assert s.calls == s.zoho_calls.total == second.simulator_total
    assert s.calls <= 10, s.zoho_calls
    # The scout still saw every account, and the change.
    assert s.accounts == len(second.facts) == 120
    facts = second.facts[changed[0]]
    [seen] = [d for d in facts.deals if d.id == deal["id"]]
    assert seen.stage == new_stage
    stage_changes = [c for c in facts.changes if c.field == "Stage" and c.record_id == deal["id"]]
    assert stage_changes, facts.changes
    assert stage_changes[-1].new == new_stage
    edited = [n for n in facts.notes if n.content == "Edited after the call"]
    assert edited or not notes
    # The accounts nobody touched look the same as after the first review.
    assert all(not second.facts[a].changes for a in accounts if a not in changed)


async def test_the_incremental_records_match_a_full_sync(world: World) -> None:
    """Whatever changed, the merged records are those a full sync would bring."""
    services = world.services()
    try:
        crm = await services.crm()
        syncer = ReviewSync(crm, services.store, world.clock)
        first = await syncer.fetch(None)
        assert first.full
        await syncer.commit(first)
        with org() as store:
            accounts = sorted(a["id"] for a in store.records("Accounts"))
            source, target = accounts[3], accounts[4]
            moved = store.related("Deals", source)[0]["id"]
            contact = store.related("Contacts", accounts[5])[0]["id"]
        world.clock.advance(timedelta(hours=2))
        await write(
            world, "PUT", "Deals", {"data": [{"id": moved, "Account_Name": {"id": target}}]}
        )
        await write(world, "PUT", "Contacts", {"data": [{"id": contact, "Title": "CFO"}]})
        await write(
            world,
            "POST",
            "Tasks",
            {
                "data": [
                    {
                        "Subject": "Call back",
                        "What_Id": {"id": accounts[6]},
                        "$se_module": "Accounts",
                        "Due_Date": "2026-11-05",
                    }
                ]
            },
        )
        await write(
            world,
            "POST",
            "Notes",
            {
                "data": [
                    {
                        "Note_Content": "Met the buyer",
                        "Parent_Id": {"id": accounts[7]},
                        "$se_module": "Accounts",
                    }
                ]
            },
        )
        await write(
            world,
            "POST",
            "Accounts",
            {"data": [{"Account_Name": "Brand New Ltd"}]},
        )
        world.clock.advance(timedelta(hours=1))
        second = await syncer.fetch(None)
        assert not second.full
        assert second.batch.changed is not None
        assert moved in second.batch.changed
        full = await crm.sync(None, None)
    finally:
        await services.aclose()
        services.close()
    assert_same_records(group_batch(second.batch), group_batch(full))


def assert_same_records(merged: Mapping[str, Bundle], full: Mapping[str, Bundle]) -> None:
    assert sorted(merged) == sorted(full)
    for account_id, bundle in full.items():
        mine = merged[account_id]
        assert mine.account.model_dump() == bundle.account.model_dump()
        assert sorted(c.id for c in mine.contacts) == sorted(c.id for c in bundle.contacts)
        people = [c.model_copy(update={"role_fields_since": None}) for c in mine.contacts]
        assert {c.id: c for c in people} == {c.id: c for c in bundle.contacts}
        plain = [d.model_copy(update={"stage_fields_since": None}) for d in mine.deals]
        assert {d.id: d for d in plain} == {d.id: d for d in bundle.deals}, account_id
        assert {a.id: a for a in mine.activities} == {a.id: a for a in bundle.activities}
        assert {n.id: n for n in mine.notes} == {n.id: n for n in bundle.notes}


async def test_deleted_and_reassigned_accounts_leave_at_the_next_full_sync(world: World) -> None:
    with org() as store:
        users = {u["email"]: u["id"] for u in store.users()}
        owners = sorted({a["Owner"]["email"] for a in store.records("Accounts")})
        mine = sorted(
            a["id"] for a in store.records("Accounts") if a["Owner"]["email"] == owners[0]
        )
    me, other = owners
    first = await review(world, me, full_sync_days=7)
    assert first.synced.full
    gone, moved = mine[1], mine[2]
    world.clock.advance(timedelta(days=1))
    await write(world, "DELETE", f"Accounts/{gone}")
    await write(world, "PUT", "Accounts", {"data": [{"id": moved, "Owner": {"id": users[other]}}]})
    world.clock.advance(timedelta(hours=1))

    # An incremental review of the owner cannot see either (documented): they wait...
    second = await review(world, me, full_sync_days=7)
    assert not second.synced.full
    assert {gone, moved} <= set(second.facts)
    # ... for the periodic full sync.
    world.clock.advance(timedelta(days=7))
    third = await review(world, me, full_sync_days=7)
    assert third.synced.full
    assert "days ago" in third.finished.summary.sync
    assert gone not in third.facts
    assert moved not in third.facts
    assert len(third.facts) == len(mine) - 2
    # The other owner's next review finds the account that moved to them: an account the
    # stored records lack that is not new makes the sync full at once.
    await review(world, other, full_sync_days=7)  # its first: full
    with org() as store:
        back = next(
            a["id"]
            for a in sorted(store.records("Accounts"), key=lambda a: a["id"])
            if a["Owner"]["email"] == me and store.related("Deals", a["id"])
        )
    world.clock.advance(timedelta(hours=1))
    await write(world, "PUT", "Accounts", {"data": [{"id": back, "Owner": {"id": users[other]}}]})
    world.clock.advance(timedelta(hours=1))
    theirs = await review(world, other, full_sync_days=7)
    assert theirs.synced.full
    assert "moved to this owner" in theirs.finished.summary.sync
    assert back in theirs.facts
    assert theirs.facts[back].deals


async def test_an_all_owner_review_sees_a_reassignment_at_once(world: World) -> None:
    with org() as store:
        users = {u["email"]: u["id"] for u in store.users()}
        account = sorted(store.records("Accounts"), key=lambda a: a["id"])[0]
    other = next(email for email in users if email != account["Owner"]["email"])
    await review(world)
    world.clock.advance(timedelta(hours=1))
    await write(
        world, "PUT", "Accounts", {"data": [{"id": account["id"], "Owner": {"id": users[other]}}]}
    )
    world.clock.advance(timedelta(hours=1))
    second = await review(world)
    assert not second.synced.full
    owner = second.facts[account["id"]].account.owner
    assert owner is not None
    assert owner.email == other


async def test_a_failed_review_keeps_the_watermark(world: World) -> None:
    await review(world)
    mirror_state = stored_state(world)
    with org() as store:
        account = sorted(a["id"] for a in store.records("Accounts"))[10]
        deal = open_deal_of(store, account)
    world.clock.advance(timedelta(hours=2))
    await write(world, "PUT", "Deals", {"data": [{"id": deal["id"], "Amount": 1234.0}]})
    world.clock.advance(timedelta(hours=1))

    services = world.services()
    try:
        orchestrator = await services.orchestrator()

        async def broken(batch: Any, previous: Any) -> list[AccountFacts]:
            raise RuntimeError("the scout fell over")

        orchestrator.engine.scout = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            async for _ in orchestrator.review(None):
                pass
        # A cancelled review does not move it either.
        stream = orchestrator.review(None)
        async for event in stream:
            if isinstance(event, Synced):
                break
        await cast(AsyncGenerator[object, None], stream).aclose()
    finally:
        await services.aclose()
        services.close()
    assert stored_state(world) == mirror_state

    after = await review(world)
    assert not after.synced.full
    facts = after.facts[account]
    assert [d.amount for d in facts.deals if d.id == deal["id"]] == [1234.0]
    assert any(c.field == "Amount" and c.record_id == deal["id"] for c in facts.changes)
    assert stored_state(world) != mirror_state


async def test_a_full_sync_is_due_every_full_sync_days(world: World) -> None:
    assert (await review(world, full_sync_days=3)).synced.full
    world.clock.advance(timedelta(days=2))
    assert not (await review(world, full_sync_days=3)).synced.full
    world.clock.advance(timedelta(days=1, minutes=1))
    assert (await review(world, full_sync_days=3)).synced.full
    assert (await review(world, full_sync_days=0)).synced.full  # 0: every review


def stored_state(world: World) -> Any:
    services = world.services()
    try:
        return SyncMirror(services.store).load(scope_of(None)).state
    finally:
        services.close()
