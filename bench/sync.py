"""Benchmark the Zoho sync: API calls, credits and wall time against the simulator.

    python bench/sync.py --accounts 5000 --owners 50

1. Generates a demo org (fixed seed and anchor) in a temporary directory.
2. First full sync of every owner through ZohoRestGateway → the in-process simulator with the
   default client limits (120 requests/min, 5 in flight), after the review's read of the
   Accounts field metadata (the metadata cache, on disk as in a workspace).
3. Changes 5% of the accounts (and one open deal and one note on each) the way other Zoho users
   would, then, six hours later, runs an incremental sync since the first one (the metadata
   comes from the cache: no call).

Targets: full sync ≤ 60 calls, incremental ≤ 10 calls, the metadata calls included (the
simulator's count of every API call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr

from sergas_tui.config import ZohoSettings
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.metadata_cache import FieldsCache
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    Simulator,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.crm.zoho_rest import ZohoRestGateway
from sergas_tui.demo import generate

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FULL_TARGET = 60
INCREMENTAL_TARGET = 10
BASE = "http://sim.invalid"
CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)


class SimClock:
    """The simulator's wall clock, for the gateway too (the metadata cache ages with it)."""

    def __init__(self, now: list[datetime]) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now[0]


async def run_sync(
    sim: Simulator, since: datetime | None, cache: FieldsCache, clock: SimClock
) -> tuple[SyncBatch, float]:
    """What a review asks the CRM: the Accounts field metadata (at most once a day), then the
    bulk sync."""
    transport = httpx.ASGITransport(app=sim.app)
    async with ZohoRestGateway(
        ZohoSettings(accounts_url=BASE), CREDENTIALS, transport=transport, clock=clock
    ) as gateway:
        gateway.use_fields_cache(cache)
        started = time.perf_counter()
        await gateway.get_fields("Accounts")
        batch = await gateway.sync(modified_since=since)
        return batch, time.perf_counter() - started


def change_accounts(path: Path, share: float, when: datetime, seed: int = 1) -> int:
    """Edit a share of the accounts (plus a deal and a note each) directly in the org file."""
    stamp = when.isoformat()
    rng = random.Random(seed)
    with sqlite3.connect(path) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM records WHERE module = 'Accounts'")]
        chosen = rng.sample(ids, int(len(ids) * share))
        for account_id in chosen:
            db.execute(
                "UPDATE records SET modified_time = ?, data = json_set(data, "
                "'$.Description', 'Updated by a colleague', '$.Modified_Time', ?) "
                "WHERE module = 'Accounts' AND id = ?",
                (stamp, stamp, account_id),
            )
            db.execute(
                "UPDATE records SET modified_time = ?, data = json_set(data, "
                "'$.Next_Step', 'Follow-up call booked', '$.Modified_Time', ?) "
                "WHERE rowid = (SELECT rowid FROM records WHERE module = 'Deals' "
                "AND account_id = ? LIMIT 1)",
                (stamp, stamp, account_id),
            )
            db.execute(
                "UPDATE records SET modified_time = ?, data = json_set(data, "
                "'$.Note_Content', 'Edited after the call', '$.Modified_Time', ?) "
                "WHERE rowid = (SELECT rowid FROM records WHERE module = 'Notes' "
                "AND account_id = ? LIMIT 1)",
                (stamp, stamp, account_id),
            )
    return len(chosen)


def report(label: str, batch: SyncBatch, seconds: float, sim: Simulator, target: int) -> bool:
    counters = sim.counters.snapshot()
    metadata = counters["calls"].get("GET settings/fields", 0)
    total = counters["total_calls"]
    within = total <= target
    print(f"{label}")
    print(f"  sync calls        {batch.calls} (the client's count)")
    print(f"  metadata calls    {metadata}")
    print(f"  simulator calls   {total} (+{counters['token_calls']} token)")
    print(f"  target            <= {target}: {'met' if within else 'MISSED'}")
    print(f"  credits           {counters['credits_total']}")
    print(f"  wall time         {seconds:.2f} s")
    print(f"  peak in flight    {counters['peak_concurrency']}")
    print(f"  peak per minute   {counters['peak_per_minute']}")
    print(
        f"  fetched           {len(batch.accounts)} accounts, {len(batch.contacts)} contacts, "
        f"{len(batch.deals)} deals, {len(batch.activities)} activities, {len(batch.notes)} notes"
    )
    per_kind = dict(sorted(counters["calls"].items()))
    print(f"  calls by endpoint {json.dumps(per_kind)}")
    return within


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--change", type=float, default=0.05, help="share of accounts changed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sergas-bench-") as directory:
        path = Path(directory) / "org.sqlite"
        generate(path, accounts=args.accounts, owners=args.owners, seed=7, now=ANCHOR)
        clock_now = [ANCHOR]
        clock = SimClock(clock_now)
        cache = FieldsCache(Path(directory) / "zoho-metadata")  # as in a workspace
        sim = create_simulator(path, SimulatorConfig(api_domain=BASE, clock=lambda: clock_now[0]))
        try:
            full, seconds = asyncio.run(run_sync(sim, None, cache, clock))
            label = f"full sync of {args.accounts} accounts / {args.owners} owners"
            ok = report(label, full, seconds, sim, FULL_TARGET)
            later = ANCHOR + timedelta(hours=6)
            changed = change_accounts(path, args.change, later - timedelta(hours=1))
            clock_now[0] = later
            sim.reset_counters()
            since = ANCHOR + timedelta(minutes=1)
            incremental, seconds = asyncio.run(run_sync(sim, since, cache, clock))
            label = f"incremental sync after {changed} accounts changed"
            ok = report(label, incremental, seconds, sim, INCREMENTAL_TARGET) and ok
        finally:
            sim.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
