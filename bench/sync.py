"""Benchmark a review's Zoho calls on the product path: a first review, then one after changes.

    python bench/sync.py [--accounts 5000] [--owners 50] [--change 0.05] [--owner EMAIL]

1. Generates the demo org (fixed seed and anchor) into a temporary workspace and opens it as
   `sergas review` does (``open_services`` → ``Services.orchestrator()`` →
   ``Orchestrator.review``), against the embedded demo simulator. Time is the demo's own clock:
   the org's anchor (``DemoStore.meta().anchor``), for the review and the simulator alike, so
   the sync window and every verdict are the same whatever the date.
2. First review of every owner (``--all``; ``--owner`` reviews one): a full sync.
3. Five hours later, other Zoho users change a share of the accounts (``--change``, 5 % by
   default) through the simulator's REST write API, as `PUT` batches of 100: each account's
   description, one deal's next step and one note on it.
4. An hour after that, a second review in a new process's worth of objects (new services, as a
   second `sergas review` would): an incremental sync since the first review.

For each review it prints the calls by kind from the review summary (what `sergas review`
shows as "Zoho API calls"), the simulator's own count of every API call it answered, the time,
and the machine's load (``os.getloadavg()``) before and after. Targets: the first review's sync
≤ 60 calls; the second review ≤ 10 calls in all (sync, stage history, timelines, metadata).
The client's per-minute limit is raised (``--rpm``) so that the first review's per-deal reads
do not make the benchmark wait; call counts do not depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from sergas_tui.agents.events import RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.crm.factory import SIMULATOR_URL
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    Simulator,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.demo import DemoStore, generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services

SEED = 7
FIRST_SYNC_TARGET = 60
SECOND_TARGET = 10
WRITE_BATCH = 100
ANCHOR = datetime.fromisoformat("2026-11-02T09:30:00+00:00")
"""Where the generated org is anchored (its own 'now'); the bench reads it back from the org."""


def simulator_for(locations: Locations, clock: FixedClock) -> Simulator:
    """The demo simulator as services build it, on the demo's clock."""
    config = SimulatorConfig(api_domain=SIMULATOR_URL, clock=clock)
    return create_simulator(locations.demo_crm_file("demo"), config)


async def review(
    locations: Locations, clock: FixedClock, owner: str | None, rpm: int
) -> tuple[RunFinished, float, dict[str, object]]:
    """One `sergas review` on the demo: fresh services, the orchestrator, the whole run."""
    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": rpm}})
    services = open_services(settings, locations, secrets=SecretStore(environ={}), clock=clock)
    services.simulator = simulator_for(locations, clock)
    try:
        orchestrator = await services.orchestrator()
        started = time.perf_counter()
        finished: RunFinished | None = None
        async for event in orchestrator.review(owner):
            if isinstance(event, RunFinished):
                finished = event
        seconds = time.perf_counter() - started
        assert finished is not None
        return finished, seconds, services.simulator.counters.snapshot()
    finally:
        await services.aclose()
        services.close()


def chosen_changes(path: Path, share: float, seed: int = 1) -> dict[str, list[str]]:
    """Which accounts change, and one deal and one note of each."""
    store = DemoStore.open(path)
    try:
        ids = sorted(a["id"] for a in store.records("Accounts"))
        accounts = random.Random(seed).sample(ids, int(len(ids) * share))
        deals: list[str] = []
        notes: list[str] = []
        for account_id in accounts:
            related = store.related("Deals", account_id)
            if related:
                deals.append(str(related[0]["id"]))
            written = store.related("Notes", account_id)
            if written:
                notes.append(str(written[0]["id"]))
    finally:
        store.close()
    return {"Accounts": accounts, "Deals": deals, "Notes": notes}


async def change_accounts(locations: Locations, clock: FixedClock, share: float) -> int:
    """Other users edit a share of the accounts (and a deal and a note each) over REST."""
    changes = chosen_changes(locations.demo_crm_file("demo"), share)
    edits = {
        "Accounts": ("Description", "Updated by a colleague"),
        "Deals": ("Next_Step", "Follow-up call booked"),
        "Notes": ("Note_Content", "Edited after the call"),
    }
    sim = simulator_for(locations, clock)
    try:
        transport = httpx.ASGITransport(app=sim.app)
        async with httpx.AsyncClient(transport=transport, base_url=SIMULATOR_URL) as http:
            token = await http.post(
                "/oauth/v2/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                    "refresh_token": DEMO_REFRESH_TOKEN,
                },
            )
            headers = {"Authorization": f"Zoho-oauthtoken {token.json()['access_token']}"}
            for module, ids in changes.items():
                name, value = edits[module]
                for start in range(0, len(ids), WRITE_BATCH):
                    items = [{"id": i, name: value} for i in ids[start : start + WRITE_BATCH]]
                    response = await http.put(
                        f"/crm/v8/{module}", headers=headers, json={"data": items}
                    )
                    if response.status_code != 200:
                        raise SystemExit(f"PUT {module}: {response.status_code} {response.text}")
    finally:
        sim.close()
    return len(changes["Accounts"])


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} CPUs)"


def report(
    label: str, finished: RunFinished, seconds: float, counters: dict[str, object], load: str
) -> None:
    s = finished.summary
    calls = s.zoho_calls
    total = counters["total_calls"]
    print(label)
    print(f"  sync              {s.sync}")
    print(f"  Zoho API calls    {calls.text()}")
    print(f"  simulator count   {total} API calls (+{counters['token_calls']} token)")
    print(
        f"  accounts          {s.accounts} reviewed, {s.with_changes} with changes, "
        f"{s.at_risk} at risk, {s.failed} failed"
    )
    print(f"  recommendations   {s.recommendations} new")
    print(f"  wall time         {seconds:.1f} s")
    print(f"  load before       {load}")
    print(f"  load after        {load_text()}")
    endpoints = counters["calls"]
    assert isinstance(endpoints, dict)
    busiest = sorted(endpoints.items(), key=lambda item: (-item[1], item[0]))
    print("  by endpoint       " + ", ".join(f"{k} {v}" for k, v in busiest if k != "token"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--change", type=float, default=0.05, help="share of accounts changed")
    parser.add_argument("--owner", default=None, help="review this owner (default: everyone)")
    parser.add_argument("--rpm", type=int, default=10_000, help="client calls per minute")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sergas-bench-") as directory:
        root = Path(directory)
        os.environ["SERGAS_CONFIG_DIR"] = str(root / "config")
        locations = Locations(root / "config", root / "data", root / "log")
        path = locations.demo_crm_file("demo")
        path.parent.mkdir(parents=True)
        generate(path, accounts=args.accounts, owners=args.owners, seed=SEED, now=ANCHOR)
        with DemoStore.open(path) as store:
            anchor = store.meta().anchor
        clock = FixedClock(anchor)  # the demo's own clock, for the review and the simulator
        print(f"demo org: {args.accounts} accounts / {args.owners} owners, anchored at {anchor}")

        load = load_text()
        first, seconds, counters = asyncio.run(review(locations, clock, args.owner, args.rpm))
        report("first review (full sync)", first, seconds, counters, load)

        clock.advance(timedelta(hours=5))
        changed = asyncio.run(change_accounts(locations, clock, args.change))
        clock.advance(timedelta(hours=1))
        load = load_text()
        second, seconds, counters = asyncio.run(review(locations, clock, args.owner, args.rpm))
        report(f"second review, {changed} accounts changed", second, seconds, counters, load)

    first_sync = first.summary.zoho_calls.sync
    second_total = second.summary.zoho_calls.total
    first_ok = first_sync <= FIRST_SYNC_TARGET
    second_ok = second_total <= SECOND_TARGET
    print("targets")
    print(
        f"  first review sync <= {FIRST_SYNC_TARGET}: {first_sync} "
        f"{'met' if first_ok else 'MISSED'}"
    )
    print(
        f"  second review <= {SECOND_TARGET} in all: {second_total} "
        f"{'met' if second_ok else 'MISSED'}"
    )
    return 0 if first_ok and second_ok else 1


if __name__ == "__main__":
    sys.exit(main())
