"""A review of one owner and a review of every owner propose the same for that owner, and a
second review on an unchanged CRM spends no per-record reads (they come from the read cache)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from sergas_tui.agents.events import RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import DemoStore, generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from sergas_tui.storage import Repository

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


async def review(locations: Locations, owner: str | None) -> tuple[RunFinished, int]:
    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": 10_000}})
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(NOW)
    )
    try:
        orchestrator = await services.orchestrator()
        finished = None
        async for event in orchestrator.review(owner):
            if isinstance(event, RunFinished):
                finished = event
        assert finished is not None
        assert services.simulator is not None
        return finished, services.simulator.counters.total_calls
    finally:
        await services.aclose()
        services.close()


def proposals(locations: Locations, owner: str) -> set[tuple[str, str, str]]:
    with Repository.open(locations.database_file("demo")) as repo:
        return {
            (a.account_id, a.action_type, a.recommendation_id)
            for a in repo.pending_approvals(owner)
        }


def home(root: Path) -> Locations:
    return Locations(root / "config", root / "data", root / "log")


async def test_owner_scoped_and_all_owner_reviews_agree(tmp_path: Path) -> None:
    org = tmp_path / "org.sqlite"
    generate(org, accounts=240, owners=3, seed=4, now=NOW)
    store = DemoStore.open(org)
    owners = sorted({a["Owner"]["email"] for a in store.records("Accounts")})
    store.close()
    everyone, one = home(tmp_path / "all"), home(tmp_path / "one")
    for place in (everyone, one):
        target = place.demo_crm_file("demo")
        target.parent.mkdir(parents=True)
        shutil.copy(org, target)

    await review(everyone, None)
    await review(one, owners[0])
    mine = proposals(one, owners[0])
    assert mine
    assert proposals(everyone, owners[0]) == mine

    # Reviewing everyone after the owner-scoped review adds nothing for that owner either.
    await review(one, None)
    assert proposals(one, owners[0]) == mine


async def test_a_second_review_reads_unchanged_records_from_the_cache(tmp_path: Path) -> None:
    place = home(tmp_path)
    target = place.demo_crm_file("demo")
    target.parent.mkdir(parents=True)
    generate(target, accounts=120, owners=2, seed=4, now=NOW)
    first, first_calls = await review(place, None)
    second, second_calls = await review(place, None)
    # The summary counts every call of the review, as the simulator does.
    assert (first.summary.calls, second.summary.calls) == (first_calls, second_calls)
    assert first.summary.sync.startswith("full sync")
    assert second.summary.sync.startswith("changes since")
    per_record_first = first.summary.calls - first.summary.zoho_calls.sync
    per_record_second = second.summary.calls - second.summary.zoho_calls.sync
    assert per_record_first > 0
    assert per_record_second == 0, (per_record_first, per_record_second)
