"""Benchmark scheduled reviews from the queue: 1, 2 and 4 `sergas worker` processes.

    python bench/workers.py [--accounts 5000] [--owners 50] [--workers 1,2,4]
                            [--limit 600] [--dsn postgresql://postgres@127.0.0.1:5432/test]
                            [--skip-scaling] [--skip-limit] [--json]

The demo org (fixed seed and anchor, as ``bench/review.py``) is generated once. Every run gets
a fresh copy of it in a fresh workspace and a fresh PostgreSQL schema, so each is a first
review of every owner: N ``sergas worker --no-schedule`` processes start and register, then the
clock runs from ``sergas schedule`` (one job per owner) until every review job has succeeded.

1. **Scaling.** The workers use the demo CRM in-process (each its own simulator over the same
   org file) with Zoho's per-minute politeness lifted (10,000 calls a minute, as
   ``bench/review.py``): wall time per worker count and the ratio to one worker.
2. **One limit for the org.** The same reviews against one Zoho of the run: ``sergas demo
   serve`` in its own process, every worker in REST mode with ``[zoho] requests_per_minute =
   --limit``. The server counts what it receives from all workers together: total calls, the
   most in any rolling minute, the most in flight, 429s. With one budget per org on the
   machine (``crm/budget.py``) the peak stays within the limit however many workers run; with
   one budget per process, N workers could send N times the limit.

Each run also prints the machine's load before and after (``os.getloadavg()``; this is a
shared machine), the reviews each worker ran, and how many processes the org's budget file
counted as sharing it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.2
REVIEW_TASK = "sergas.review_owner"
UNLIMITED = 10_000


def _load() -> float:
    return os.getloadavg()[0]


def _sergas(*args: str) -> list[str]:
    return [sys.executable, "-m", "sergas_tui", *args]


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERGAS_", "ANTHROPIC_"))}
    env.update(
        SERGAS_CONFIG_DIR=str(root / "config"),
        SERGAS_DATA_DIR=str(root / "data"),
        SERGAS_LOG_DIR=str(root / "log"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    env.update(extra)
    return env


def _query(dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


@contextlib.contextmanager
def _zoho(template: Path, root: Path) -> Iterator[str]:
    """``sergas demo serve`` on a copy of the org: the run's one Zoho; yields its URL."""
    from sergas_tui.locations import Locations

    served = root / "zoho"
    org = Locations(served / "config", served / "data", served / "log").demo_crm_file("demo")
    org.parent.mkdir(parents=True)
    shutil.copyfile(template, org)
    proc = subprocess.Popen(
        _sergas("demo", "serve", "--port", "0"),
        env=_env(served),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        if found is None:
            raise SystemExit("the simulator did not start")
        url = found.group(0)
        for _ in range(100):
            try:
                if httpx.get(f"{url}/__simulator/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _run(template: Path, workers: int, admin_dsn: str, limit: int | None) -> dict[str, Any]:
    """One run with ``workers`` processes; ``limit``: against one served Zoho at that limit."""
    from sergas_tui.crm.budget import read_budget
    from sergas_tui.crm.simulator.config import (
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_REFRESH_TOKEN,
    )
    from sergas_tui.locations import Locations

    schema = f"sergas_bench_{uuid4().hex[:10]}"
    dsn = make_conninfo(admin_dsn, options=f"-c search_path={schema}")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    root = Path(tempfile.mkdtemp(prefix="sergas-bench-workers-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        with contextlib.ExitStack() as stack:
            locations = Locations(root / "config", root / "data", root / "log")
            env = _env(root, SERGAS_CENTRAL__DSN=dsn)
            if limit is None:
                org = locations.demo_crm_file("demo")
                org.parent.mkdir(parents=True)
                shutil.copyfile(template, org)
                env["SERGAS_ZOHO__REQUESTS_PER_MINUTE"] = str(UNLIMITED)
                url = None
            else:
                url = stack.enter_context(_zoho(template, root))
                locations.config_dir.mkdir(parents=True)
                locations.config_file.write_text(
                    "[zoho]\n"
                    'mode = "rest"\n'
                    f'client_id = "{DEMO_CLIENT_ID}"\n'
                    f'accounts_url = "{url}"\n'
                    f"requests_per_minute = {limit}\n"
                )
                env.update(
                    SERGAS_ZOHO_CLIENT_SECRET=DEMO_CLIENT_SECRET,
                    SERGAS_ZOHO_REFRESH_TOKEN=DEMO_REFRESH_TOKEN,
                )
            # The queue's tables and the workspace exist before anything is timed.
            done = subprocess.run(
                _sergas("worker", "--migrate-only"), env=env, capture_output=True, text=True
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            load_before = _load()
            for _ in range(workers):
                procs.append(
                    subprocess.Popen(
                        _sergas("worker", "--no-schedule"),
                        env=env,
                        cwd=ROOT,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                )
            deadline = time.monotonic() + 120
            while _query(dsn, "SELECT count(*) FROM procrastinate_workers")[0][0] < workers:
                stopped = [p for p in procs if p.poll() is not None]
                if stopped or time.monotonic() > deadline:
                    raise SystemExit("a worker did not start: " + procs[0].communicate()[0])
                time.sleep(0.1)

            started = time.perf_counter()
            scheduled = subprocess.run(_sergas("schedule"), env=env, capture_output=True, text=True)
            if scheduled.returncode != 0:
                raise SystemExit(scheduled.stderr)
            owners = int(_query(dsn, "SELECT owners FROM sergas_schedule_runs")[0][0])
            members = 0
            budgets = locations.data_dir / "zoho-budget"
            while True:
                for path in budgets.glob("*.budget"):
                    state = read_budget(path)
                    if state is not None:
                        members = max(members, state.members)
                counts = dict(
                    _query(
                        dsn,
                        "SELECT status::text, count(*) FROM procrastinate_jobs "
                        "WHERE task_name = %s GROUP BY status",
                        REVIEW_TASK,
                    )
                )
                if counts.get("succeeded", 0) + counts.get("failed", 0) >= owners:
                    break
                stopped = [p for p in procs if p.poll() is not None]
                if stopped:
                    raise SystemExit("a worker stopped: " + stopped[0].communicate()[0])
                time.sleep(SAMPLE_SECONDS)
            seconds = time.perf_counter() - started
            load_after = _load()
            zoho = None
            if url is not None:
                health = httpx.get(f"{url}/__simulator/health", timeout=10).json()
                zoho = health["counters"]
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.communicate(timeout=120)
        attempts = _query(
            dsn,
            "SELECT worker, outcome, coalesce(zoho_calls, 0), coalesce(accounts, 0) "
            "FROM sergas_review_attempts",
        )
        return {
            "workers": workers,
            "limit": limit,
            "seconds": seconds,
            "owners": owners,
            "succeeded": counts.get("succeeded", 0),
            "failed": counts.get("failed", 0),
            "accounts": sum(a[3] for a in attempts if a[1] == "ok"),
            "reviews_per_worker": sorted(Counter(a[0] for a in attempts).values(), reverse=True),
            "review_calls": sum(a[2] for a in attempts),
            "budget_members": members,
            "zoho": zoho,
            "load_before": load_before,
            "load_after": load_after,
        }
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        shutil.rmtree(root, ignore_errors=True)


def _line(run: dict[str, Any], first: dict[str, Any]) -> str:
    n = run["workers"]
    return (
        f"  {n} worker{'s' if n > 1 else ' '}: {run['seconds']:6.1f} s wall  "
        f"x{first['seconds'] / run['seconds']:4.2f}  {run['succeeded']}/{run['owners']} owners "
        f"({run['accounts']:,} accounts), {run['failed']} failed; reviews per worker "
        f"{run['reviews_per_worker']}; budget shared by {run['budget_members']} "
        f"process{'es' if run['budget_members'] != 1 else ''}; load "
        f"{run['load_before']:.2f}->{run['load_after']:.2f}"
    )


def _zoho_line(run: dict[str, Any]) -> str:
    zoho = run["zoho"]
    limit = run["limit"]
    within = "within" if zoho["peak_per_minute"] <= limit else "OVER"
    n = run["workers"]
    separate = f"; {n} separate budgets would allow {n * limit:,}" if n > 1 else ""
    return (
        f"           Zoho saw {zoho['total_calls']:,} calls (the reviews counted "
        f"{run['review_calls']:,}); peak {zoho['peak_per_minute']:,} in a rolling minute "
        f"({within} the limit of {limit:,}{separate}); peak {zoho['peak_concurrency']} in "
        f"flight; {zoho['too_many_requests']} answered 429"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument(
        "--limit", type=int, default=600, help="[zoho] requests_per_minute in part 2"
    )
    parser.add_argument(
        "--dsn",
        default=os.environ.get(
            "SERGAS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL database where the bench may create and drop schemas",
    )
    parser.add_argument("--skip-scaling", action="store_true", help="only part 2")
    parser.add_argument("--skip-limit", action="store_true", help="only part 1")
    parser.add_argument("--json", action="store_true", help="print every run as JSON too")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]

    from sergas_tui.demo import generate

    with tempfile.TemporaryDirectory(prefix="sergas-bench-org-") as directory:
        template = Path(directory) / "zoho-demo.db"
        started = time.perf_counter()
        generate(template, accounts=args.accounts, owners=args.owners, seed=7, now=ANCHOR)
        print(
            f"{args.accounts:,} accounts / {args.owners} owners generated in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs; load at start "
            f"{_load():.2f}",
            flush=True,
        )
        parts: list[tuple[str, int | None]] = []
        if not args.skip_scaling:
            parts.append(
                (f"1. scaling: demo CRM in each worker, {UNLIMITED:,} calls/min allowed", None)
            )
        if not args.skip_limit:
            parts.append(
                (
                    f"2. one limit for the org: one served Zoho, every worker allowed "
                    f"{args.limit:,} calls/min",
                    args.limit,
                )
            )
        for title, limit in parts:
            print(title, flush=True)
            runs: list[dict[str, Any]] = []
            for workers in counts:
                run = _run(template, workers, args.dsn, limit)
                runs.append(run)
                print(_line(run, runs[0]), flush=True)
                if run["zoho"] is not None:
                    print(_zoho_line(run), flush=True)
                if args.json:
                    print(json.dumps(run))
            print(
                "  wall time "
                + ", ".join(f"{r['workers']}: {r['seconds']:.1f} s" for r in runs)
                + f"; ratio to {runs[0]['workers']}: "
                + ", ".join(f"x{runs[0]['seconds'] / r['seconds']:.2f}" for r in runs),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
