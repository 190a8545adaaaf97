"""Benchmark the AE's daily queue: what one review leaves for each owner to decide.

    python bench/queue.py [--accounts 5000] [--owners 50] [--seed 7]

(``bench/queue.py`` runs this module; the work is here so that the launcher can stay tiny.)

Generates the demo org (fixed seed and anchor) into a temporary workspace, reviews every owner
through the product's own path (``Services.orchestrator()``, the rules engine, the in-process
simulator), then reads the approvals the review left pending. Prints, per owner and overall:

- pending approvals after the first review (what landed within ``[review] daily_budget``), how
  many more wait as "more, lower priority", and the accounts with a critical item (pending or
  waiting; the share is of all accounts);
- items per account that has any;
- duplicates: more than one item (pending or waiting) for the same account and problem (the
  deal or account a recommendation targets: its first data reference);
- the estimated time to clear the queue at 30 s an item;
- after a second review on the unchanged CRM, how many items it added;
- after an owner-scoped review of one owner, how many items that added (the two paths must
  agree: 0).

Targets (issue 14): median ≤ 20 pending per owner, ≤ 5 % of accounts critical, 0 duplicates,
≤ 10 minutes to clear, 0 added by a second review or by the owner-scoped path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sergas_tui.agents.events import RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import DemoStore, generate
from sergas_tui.domain import Approval
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SECONDS_PER_ITEM = 30


async def review(locations: Locations, owner: str | None) -> RunFinished:
    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": 10_000}})
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(ANCHOR)
    )
    try:
        orchestrator = await services.orchestrator()
        finished = None
        async for event in orchestrator.review(owner):
            if isinstance(event, RunFinished):
                finished = event
        assert finished is not None
        return finished
    finally:
        await services.aclose()
        services.close()


def queued(locations: Locations) -> list[Any]:
    """Recommendations waiting beyond the daily budget ("more, lower priority")."""
    from sergas_tui.storage import Repository

    with Repository.open(locations.database_file("demo")) as repo:
        return repo.queued_recommendations()


def pending(locations: Locations) -> list[Approval]:
    from sergas_tui.storage import Repository

    with Repository.open(locations.database_file("demo")) as repo:
        return repo.pending_approvals()


def recommendations_of(locations: Locations, approvals: list[Approval]) -> dict[str, Any]:
    """Approval id → the recommendation behind it."""
    from sergas_tui.storage import Repository

    found: dict[str, Any] = {}
    with Repository.open(locations.database_file("demo")) as repo:
        cache: dict[str, dict[str, Any]] = {}
        for approval in approvals:
            if approval.account_id not in cache:
                recs = repo.recommendations_for(approval.account_id)
                cache[approval.account_id] = {r.id: r for r in recs}
            found[approval.id] = cache[approval.account_id].get(approval.recommendation_id)
    return found


def problem_of(rec: Any) -> str:
    """What a recommendation is about: its first data reference (the deal or account it
    targets), so a task, an email and a note on the same target are one problem."""
    refs = getattr(rec, "data_references", None) or ["?"]
    return str(refs[0]).split("#")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=10, help="owners to list one by one")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="sergas-queue-") as directory:
        root = Path(directory)
        os.environ["SERGAS_CONFIG_DIR"] = str(root / "config")
        locations = Locations(root / "config", root / "data", root / "log")
        path = locations.demo_crm_file("demo")
        path.parent.mkdir(parents=True)
        generate(path, accounts=args.accounts, owners=args.owners, seed=args.seed, now=ANCHOR)
        store = DemoStore.open(path)
        owner_of = {a["id"]: a["Owner"]["email"] for a in store.records("Accounts")}
        accounts_of = Counter(owner_of.values())
        store.close()

        started = time.perf_counter()
        asyncio.run(review(locations, None))
        first_seconds = time.perf_counter() - started
        first = pending(locations)
        waiting = queued(locations)
        asyncio.run(review(locations, None))
        second = pending(locations)
        waiting_second = queued(locations)
        owner = sorted(accounts_of)[0]
        asyncio.run(review(locations, owner))
        third = pending(locations)
        recs = recommendations_of(locations, first)

    by_owner: dict[str, list[Approval]] = defaultdict(list)
    for approval in first:
        by_owner[approval.owner_email].append(approval)
    print(f"first review of {args.accounts} accounts / {args.owners} owners: {first_seconds:.1f} s")
    more_of: dict[str, list[Any]] = defaultdict(list)
    for rec in waiting:
        more_of[owner_of[rec.account_id or ""]].append(rec)
    print(
        f"{'owner':38} {'accounts':>8} {'pending':>7} {'more':>5} {'critical':>8} "
        f"{'per acct':>8} {'dup':>4} {'clear min':>9}"
    )
    counts, critical_accounts, duplicates_all = [], 0, 0
    for email in sorted(accounts_of):
        items = by_owner.get(email, [])
        more = more_of.get(email, [])
        crit = {
            a.account_id
            for a in items
            if recs.get(a.id) is not None and recs[a.id].priority == "critical"
        } | {r.account_id for r in more if r.priority == "critical"}
        critical_accounts += len(crit)
        per_account = Counter(a.account_id for a in items)
        kinds = Counter((a.account_id, problem_of(recs.get(a.id))) for a in items)
        kinds.update((r.account_id, problem_of(r)) for r in more)
        duplicates = sum(n - 1 for n in kinds.values() if n > 1)
        duplicates_all += duplicates
        counts.append(len(items))
        if len(counts) <= args.show:
            per = len(items) / len(per_account) if per_account else 0.0
            print(
                f"{email:38} {accounts_of[email]:8d} {len(items):7d} {len(more):5d} {len(crit):8d} "
                f"{per:8.2f} {duplicates:4d} {len(items) * SECONDS_PER_ITEM / 60:9.1f}"
            )
    total_accounts = sum(accounts_of.values())
    median = statistics.median(counts) if counts else 0
    print(
        f"overall: {len(first)} pending, {len(waiting)} more lower priority; "
        f"median {median:.0f} pending per owner "
        f"(min {min(counts)}, max {max(counts)}); critical accounts "
        f"{critical_accounts} = {100 * critical_accounts / total_accounts:.1f} %; "
        f"more than one item for the same account and problem: {duplicates_all}; "
        f"median time to clear {median * SECONDS_PER_ITEM / 60:.1f} min"
    )
    print(
        f"second review on the unchanged CRM added {len(second) - len(first)} pending, "
        f"{len(waiting_second) - len(waiting)} more"
    )
    print(f"owner-scoped review of {owner} then added {len(third) - len(second)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
