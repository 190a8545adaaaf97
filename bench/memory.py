"""Benchmark memory: ingest of a 5,000-account workspace, then context and search latency.

    python bench/memory.py --accounts 5000 [--backends local,cognee]

1. Generates the demo org (fixed seed and anchor), syncs it through ZohoRestGateway → the
   in-process simulator and lets the Data Scout turn it into AccountFacts (no timeline or
   stage-history reads), exactly what a first review ingests.
2. For each backend, in a fresh directory: ingests every account's facts (Cognee: the bulk
   path ``sergas memory ingest`` uses), then times ``context`` for a sample of accounts and
   ``search`` (all accounts and one account) for a set of queries; prints p50/p95.

Targets: local ingest ≤ 30 s and context p95 ≤ 20 ms; Cognee ingest ≤ 5 min and context p95
≤ 100 ms. The Cognee backend needs sergas[cognee]; the offline hashing embedder is used.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from sergas_tui.agents.scout import DataScout
from sergas_tui.clock import FixedClock
from sergas_tui.config import SignalSettings, ZohoSettings
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.demo import generate
from sergas_tui.domain import AccountFacts
from sergas_tui.memory import LocalMemory, MemoryStore
from sergas_tui.memory.factory import backfill
from sergas_tui.storage import Repository

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
BASE = "http://sim.invalid"
CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)
QUERIES = [
    "executive sponsor",
    "renewal at risk",
    "budget approved",
    "close date pushed",
    "no recent activity",
    "discount procurement",
    "champion quiet",
    "pilot",
    "support outage",
    "stage moved to negotiation",
]
TARGETS = {"local": (30.0, 20.0), "cognee": (300.0, 100.0)}
"""Backend → (ingest seconds, context p95 ms)."""


async def scout_facts(directory: Path, accounts: int, owners: int) -> list[AccountFacts]:
    org = directory / "org.sqlite"
    generate(org, accounts=accounts, owners=owners, seed=7, now=ANCHOR)
    sim = create_simulator(org, SimulatorConfig(api_domain=BASE, clock=FixedClock(ANCHOR)))
    repository = Repository.open(directory / "sergas.db")
    try:
        settings = ZohoSettings(accounts_url=BASE, requests_per_minute=10_000)
        transport = httpx.ASGITransport(app=sim.app)
        async with ZohoRestGateway(settings, CREDENTIALS, transport=transport) as gateway:
            batch = await gateway.sync(modified_since=None)
            scout = DataScout(
                gateway, repository, SignalSettings(), FixedClock(ANCHOR), timeline_budget=0
            )
            return await scout.scout(batch, previous={}, stage_history_budget=0)
    finally:
        repository.close()
        sim.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def timed(samples: list[float], call: object) -> None:
    started = time.perf_counter()
    await call  # type: ignore[misc]
    samples.append((time.perf_counter() - started) * 1000)


def open_store(kind: str, directory: Path) -> MemoryStore:
    clock = FixedClock(ANCHOR)
    if kind == "local":
        return LocalMemory(directory / "memory.db", clock=clock)
    from sergas_tui.memory.cognee.backend import CogneeMemory
    from sergas_tui.memory.cognee.embed import resolve_spec

    return CogneeMemory(
        directory / "cognee",
        embedder=resolve_spec("offline", None),
        clock=clock,
        log_file=directory / "sergas.log",
    )


async def bench(kind: str, facts: list[AccountFacts], directory: Path, sample: int) -> bool:
    store = open_store(kind, directory)
    try:
        if kind == "cognee":
            await store.stats()  # import Cognee and open the stores outside the timing
        done = [0]

        def progress(n: int) -> None:
            done[0] += n
            if done[0] % 1000 == 0:
                print(f"    {kind}: {done[0]} accounts ingested", flush=True)

        report = await backfill(store, facts, progress=progress)
        ingest = report.seconds
        rng = random.Random(7)
        ids = rng.sample([f.account_id for f in facts], min(sample, len(facts)))
        context: list[float] = []
        for aid in ids:
            await timed(context, store.context(aid, now=ANCHOR))
        search_all: list[float] = []
        search_one: list[float] = []
        for query in QUERIES * 3:
            await timed(search_all, store.search(query, limit=10))
            await timed(search_one, store.search(query, account_id=rng.choice(ids), limit=10))
        stats = await store.stats()
    finally:
        await store.close()
    c50, c95 = percentiles(context)
    a50, a95 = percentiles(search_all)
    o50, o95 = percentiles(search_one)
    target_ingest, target_p95 = TARGETS[kind]
    ok = ingest <= target_ingest and c95 <= target_p95
    items = {k: v for k, v in stats.items() if isinstance(v, int)}
    print(f"{kind}")
    print(f"  items             {items}")
    print(
        f"  ingest            {ingest:.1f} s for {len(facts)} accounts "
        f"(target ≤ {target_ingest:.0f} s)"
    )
    print(
        f"  context           p50 {c50:.1f} ms  p95 {c95:.1f} ms (target p95 ≤ {target_p95:.0f} ms)"
    )
    print(f"  search, all       p50 {a50:.1f} ms  p95 {a95:.1f} ms")
    print(f"  search, one acct  p50 {o50:.1f} ms  p95 {o95:.1f} ms")
    print(f"  targets           {'met' if ok else 'MISSED'}", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--backends", default="local,cognee")
    parser.add_argument("--sample", type=int, default=500, help="accounts timed for context")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.backends.split(",") if k.strip()]
    with tempfile.TemporaryDirectory(prefix="sergas-bench-memory-") as name:
        directory = Path(name)
        started = time.perf_counter()
        facts = asyncio.run(scout_facts(directory, args.accounts, args.owners))
        print(f"facts for {len(facts)} accounts in {time.perf_counter() - started:.1f} s")
        results = []
        for kind in kinds:
            folder = directory / kind
            folder.mkdir()
            results.append(asyncio.run(bench(kind, facts, folder, args.sample)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
