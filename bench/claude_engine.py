"""Benchmark the Claude engine: a 500-account review, real SDK + CLI, a fake model with latency.

    python bench/claude_engine.py [--accounts 500] [--owners 5] [--latency 0.3] [--batch 8]

Generates the demo org into a temporary workspace, starts the fake Messages API
(``tests/fakes/anthropic_api.py``) with every turn answered after ``--latency`` seconds, and
reviews every owner's accounts on the Claude engine. The scripted model answers each batch for
exactly the account ids in its prompt (Scout and Analyst: an assessment each; Author: one
task each). Prints, as JSON: CLI processes started (counted by the engine and, independently,
by sampling this process's children in /proc), requests per role, input tokens per flagged
account, wall time. Targets: processes ≤ pool size + 1; input tokens per flagged account
≤ 3,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from sergas_tui.agents.claude import ClaudeEngine
from sergas_tui.agents.events import AccountScouted, RunFinished
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from tests.e2e.test_claude_engine_script import assess, recommend
from tests.fakes.anthropic_api import ApiRequest, FakeAnthropic, Turn
from tests.fakes.sdk_env import DUMMY_API_KEY, LOOPBACK

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
MAX_TOKENS_PER_ACCOUNT = 3000


def claude_children() -> set[int]:
    """PIDs of this process's children that run the Claude Code CLI."""
    me = str(os.getpid())
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me and b"claude" in cmdline:
            found.add(int(entry.name))
    return found


async def sample_children(seen: set[int], peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        now = await asyncio.to_thread(claude_children)
        seen |= now
        peak[0] = max(peak[0], len(now))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


def slow(step: object, latency: float) -> object:
    def delayed(request: ApiRequest) -> Turn:
        turn = step(request)  # type: ignore[operator]
        assert isinstance(turn, Turn)
        return turn.after(latency)

    return delayed


async def review(root: Path, args: argparse.Namespace) -> dict[str, object]:
    locations = Locations(config_dir=root / "config", data_dir=root / "data", log_dir=root / "log")
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=args.accounts, owners=args.owners, seed=7, now=ANCHOR)
    with FakeAnthropic() as fake:
        for lane, step in (
            ("scout", assess()),
            ("analyst", assess("History of {id}: steady.")),
            ("author", recommend()),
        ):
            fake.script(*[slow(step, args.latency)] * args.accounts, lane=lane)  # type: ignore[arg-type]
        overrides = {
            "zoho": {"requests_per_minute": 10_000},
            "anthropic": {"engine": "claude", "base_url": fake.base_url},
            "orchestrator": {"author_batch_size": args.batch},
        }
        services = open_services(
            load_settings(locations, overrides=overrides),
            locations,
            secrets=SecretStore(environ={"ANTHROPIC_API_KEY": DUMMY_API_KEY}),
            clock=FixedClock(ANCHOR),
        )
        seen: set[int] = set()
        peak = [0]
        stop = asyncio.Event()
        try:
            orchestrator = await services.orchestrator()
            engine = orchestrator.engine
            assert isinstance(engine, ClaudeEngine)
            engine.config = engine.config.with_(
                workdir=root / "claude",
                env={"CLAUDE_CODE_MAX_RETRIES": "0", "NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK},
            )
            sampler = asyncio.create_task(sample_children(seen, peak, stop))
            started = time.perf_counter()
            finished: RunFinished | None = None
            flagged = 0
            async for event in orchestrator.review(None):
                if isinstance(event, AccountScouted) and (event.signals or event.changes):
                    flagged += 1
                elif isinstance(event, RunFinished):
                    finished = event
            seconds = time.perf_counter() - started
            stop.set()
            await sampler
        finally:
            await services.aclose()
            services.close()
        assert finished is not None
        usage = fake.usage()
        requests = {
            lane: len(fake.message_requests(lane)) for lane in ("scout", "analyst", "author")
        }
        per_account = usage.input_tokens / flagged if flagged else 0.0
        pool = engine.config.pool_size
        return {
            "accounts": finished.summary.accounts,
            "flagged_accounts": flagged,
            "recommendations": finished.summary.recommendations,
            "fallbacks": finished.summary.fallbacks,
            "failed": finished.summary.failed,
            "pool_size": pool,
            "cli_processes_started": engine.processes_started,
            "cli_processes_seen_in_proc": len(seen),
            "cli_processes_peak": peak[0],
            "requests": requests,
            "requests_total": usage.requests,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "input_tokens_per_flagged_account": round(per_account),
            "latency_per_turn_s": args.latency,
            "wall_seconds": round(seconds, 1),
            "fake_errors": fake.errors[:3],
            "targets_met": {
                "processes": engine.processes_started <= pool + 1 and len(seen) <= pool + 1,
                "tokens_per_account": per_account <= MAX_TOKENS_PER_ACCOUNT,
            },
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--owners", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model turn")
    parser.add_argument("--batch", type=int, default=8, help="accounts per request")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sergas-bench-claude-") as tmp:
        result = asyncio.run(review(Path(tmp), args))
    print(json.dumps(result, indent=2))
    met = result["targets_met"]
    assert isinstance(met, dict)
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
