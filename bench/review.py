"""Benchmark a full rules review: 5,000 accounts / 50 owners against the in-process simulator.

    python bench/review.py [--accounts 5000] [--owners 50] [--rpm 120]

Generates the demo org (fixed seed and anchor) into a temporary workspace, then reviews every
owner's accounts with the default client limits (120 requests a minute, 5 in flight — the
simulator enforces the same). Prints wall time, peak RSS, Zoho calls and what was produced.
Targets: under 60 s and under 500 MB. ``--again`` reviews a second time on the unchanged CRM:
stage histories and timelines then come from the workspace's read cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sergas_tui.agents.events import RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


async def review(locations: Locations, rpm: int) -> tuple[RunFinished, float, int]:
    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": rpm}})
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(ANCHOR)
    )
    try:
        orchestrator = await services.orchestrator()
        started = time.perf_counter()
        finished = None
        async for event in orchestrator.review(None):
            if isinstance(event, RunFinished):
                finished = event
        seconds = time.perf_counter() - started
        assert finished is not None
        assert services.simulator is not None
        calls = services.simulator.counters.total_calls
        return finished, seconds, calls
    finally:
        await services.aclose()
        services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--rpm", type=int, default=120, help="client and simulator rate limit")
    parser.add_argument(
        "--again",
        action="store_true",
        help="review a second time on the unchanged CRM (per-record reads come from the cache)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sergas-bench-") as directory:
        root = Path(directory)
        os.environ["SERGAS_CONFIG_DIR"] = str(root / "config")
        locations = Locations(root / "config", root / "data", root / "log")
        path = locations.demo_crm_file("demo")
        path.parent.mkdir(parents=True)
        generate(path, accounts=args.accounts, owners=args.owners, seed=7, now=ANCHOR)
        finished, seconds, calls = asyncio.run(review(locations, args.rpm))
        again = asyncio.run(review(locations, args.rpm)) if args.again else None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = finished.summary
    print(f"rules review of {args.accounts} accounts / {args.owners} owners")
    print(f"  wall time        {seconds:.1f} s (review only; generation excluded)")
    print(f"  peak RSS         {peak_mb:.0f} MB (whole process)")
    print(f"  Zoho calls       {calls} (sync {s.calls})")
    print(f"  accounts         {s.accounts} reviewed, {s.at_risk} at risk, {s.failed} failed")
    print(f"  recommendations  {s.recommendations} pending approval")
    print(f"  briefs           {len(finished.briefs)}")
    if again is not None:
        second, second_seconds, second_calls = again
        print(
            f"  second review    {second_seconds:.1f} s, {second_calls} Zoho calls, "
            f"{second.summary.recommendations} new recommendations"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
