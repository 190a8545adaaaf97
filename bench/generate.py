"""Benchmark the demo org generator: wall time, database size and records per module.

    python bench/generate.py --accounts 5000 --owners 50 --seed 7

Generates into a temporary directory (deleted afterwards) with a fixed anchor, so runs are
comparable. Target: under 20 s for 5,000 accounts on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sergas_tui.demo import DemoStore, build_org

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sergas-bench-") as directory:
        path = Path(directory) / "zoho-demo.db"
        started = time.perf_counter()
        org = build_org(accounts=args.accounts, owners=args.owners, seed=args.seed, now=ANCHOR)
        built = time.perf_counter()
        DemoStore.write(path, org)
        written = time.perf_counter()
        size_mb = path.stat().st_size / 1_048_576
        with DemoStore.open(path) as store:
            counts = store.counts()
            timeline = store.timeline_count()

    print(f"accounts={args.accounts} owners={args.owners} seed={args.seed}")
    print(f"wall time      {written - started:6.2f} s")
    print(f"  build        {built - started:6.2f} s")
    print(f"  write        {written - built:6.2f} s")
    print(f"database size  {size_mb:6.1f} MB")
    for module, count in counts.items():
        print(f"  {module:<14} {count:>8,}")
    print(f"  {'timeline':<14} {timeline:>8,}")
    print(f"  {'total':<14} {sum(counts.values()) + timeline:>8,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
