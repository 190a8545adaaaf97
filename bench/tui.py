"""Benchmark the TUI headless (Textual's ``run_test``) on a 5,000-account demo workspace.

    python bench/tui.py [--accounts 5000] [--owners 50] [--runs 3]

Prints three figures, each with its target:
- cold start to first paint: a fresh Python process imports Sergas, opens the workspace, starts
  the app and waits until the portfolio shows the owner's accounts (target ≤ 1.0 s; the Python
  interpreter's own start-up, ~20 ms, is not included);
- filter keystroke latency with all 5,000 accounts listed (manager view): from the key reaching
  the app (as the terminal driver delivers it) to the frame showing the filtered rows being
  rendered (target ≤ 50 ms), plus the filter computation alone. Textual paints at most 60
  frames a second, so a real terminal may show the frame up to ~16 ms later;
- approve keystroke to persisted decision: from pressing `a` in the approvals queue to the
  decision being readable from the workspace database (target ≤ 20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FILTER_WORDS = ("harbor", "energy", "gone quiet")


def _locations(root: Path) -> Any:
    from sergas_tui.locations import Locations

    return Locations(config_dir=root / "config", data_dir=root / "data", log_dir=root / "logs")


def _services(root: Path, **ui: object) -> Any:
    from sergas_tui.clock import FixedClock
    from sergas_tui.config import load_settings
    from sergas_tui.secrets import SecretStore
    from sergas_tui.services import open_services

    locations = _locations(root)
    overrides = {"ui": {"show_first_run_banner": False, **ui}}
    settings = load_settings(locations, overrides=overrides)
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(ANCHOR)
    )
    return settings, services


def _send_key(app: Any, key: str) -> None:
    """Hand one key to the app the way the terminal driver does (no Pilot idle-waiting)."""
    from textual import events

    char = " " if key == "space" else (key if len(key) == 1 else None)
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def _spin(ready: Any, limit_seconds: float = 10.0) -> None:
    """Yield to the event loop until ``ready()``; no sleeping beyond a bare time-slice."""
    deadline = time.perf_counter() + limit_seconds
    while not ready():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not react in time")
        await asyncio.sleep(0)


async def _until(pilot: Any, ready: Any, limit_seconds: float = 30.0) -> None:
    deadline = time.perf_counter() + limit_seconds
    while not ready():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.001)


# -- cold start (runs in a child process) --------------------------------------------------------


def cold_start_child(root: Path) -> None:
    started = time.perf_counter()
    from sergas_tui.app import make_app
    from sergas_tui.screens.portfolio import PortfolioScreen

    imported = time.perf_counter()
    settings, services = _services(root)

    async def run() -> dict[str, float]:
        app = make_app(settings, services)
        marks: dict[str, float] = {}
        async with app.run_test(size=(120, 40)) as pilot:

            def painted() -> bool:
                screen = app.screen
                return isinstance(screen, PortfolioScreen) and screen.table.row_count > 0

            await _until(pilot, painted)
            marks["rows"] = time.perf_counter() - started
        return marks

    marks = asyncio.run(run())
    services.close()
    print(json.dumps({"imports": imported - started, **marks}))


def cold_start(root: Path, runs: int) -> list[dict[str, float]]:
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, __file__, "--cold-start-child", str(root)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


# -- filter latency ------------------------------------------------------------------------------


async def filter_latency(root: Path) -> dict[str, Any]:
    from sergas_tui.app import make_app
    from sergas_tui.screens.portfolio import PortfolioScreen

    settings, services = _services(root)
    app = make_app(settings, services)
    keystrokes: list[float] = []
    compute: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, PortfolioScreen)
            await _until(pilot, lambda: screen.table.row_count > 0)
            await pilot.press("m")  # every owner's accounts
            await _until(pilot, lambda: screen.table.row_count > 1000, limit_seconds=120)
            total = screen.table.row_count
            for word in FILTER_WORDS:
                await pilot.press("slash")
                await pilot.pause()
                for char in word:
                    before = screen.table.rows
                    started = time.perf_counter()
                    _send_key(app, "space" if char == " " else char)
                    await _spin(lambda before=before: screen.table.rows is not before)
                    app.screen._on_timer_update()  # paint the frame now (not at the next tick)
                    keystrokes.append((time.perf_counter() - started) * 1000)
                    await pilot.pause()
                await pilot.press("escape")
                await pilot.pause()
            for word in FILTER_WORDS:
                for end in range(1, len(word) + 1):
                    started = time.perf_counter()
                    screen.apply_filter(word[:end])
                    compute.append((time.perf_counter() - started) * 1000)
            screen.apply_filter("")
    finally:
        services.close()
    return {"rows": total, "keystrokes": keystrokes, "compute": compute}


# -- approve → persisted -------------------------------------------------------------------------


async def approve_latency(root: Path, presses: int) -> dict[str, Any]:
    from sergas_tui.app import make_app
    from sergas_tui.domain import ApprovalStatus
    from sergas_tui.screens.approvals import ApprovalsScreen

    settings, services = _services(root, execute_delay_seconds=300.0)
    orchestrator = await services.orchestrator()
    async for _event in orchestrator.review(services.current_user_email()):
        pass
    await services.aclose()
    app = make_app(settings, services)
    times: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await _until(pilot, lambda: isinstance(app.screen, ApprovalsScreen))
            screen = app.screen
            assert isinstance(screen, ApprovalsScreen)
            await _until(pilot, lambda: screen.current() is not None)
            await app.workers.wait_for_complete()
            for _ in range(presses):
                item = screen.current()
                if item is None or item.approval.status != ApprovalStatus.PENDING:
                    await pilot.press("down")
                    await pilot.pause()
                    continue
                started = time.perf_counter()
                _send_key(app, "a")
                while True:
                    stored = services.store.get_approval(item.id)
                    if stored is not None and stored.status == ApprovalStatus.APPROVED:
                        break
                    await asyncio.sleep(0.0005)
                times.append((time.perf_counter() - started) * 1000)
                await pilot.pause()
                await pilot.press("down")
                await pilot.pause()
    finally:
        services.close()
    return {"approvals": times}


def _describe(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered):.1f} ms · p95 {p95:.1f} ms · "
        f"max {ordered[-1]:.1f} ms (n={len(ordered)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="cold starts to time")
    parser.add_argument("--approvals", type=int, default=30, help="approve key presses to time")
    parser.add_argument("--cold-start-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_start_child:
        cold_start_child(args.cold_start_child)
        return 0

    from sergas_tui.demo import generate

    with tempfile.TemporaryDirectory(prefix="sergas-bench-tui-") as tmp:
        root = Path(tmp)
        path = _locations(root).demo_crm_file("demo")
        path.parent.mkdir(parents=True)
        started = time.perf_counter()
        generate(path, accounts=args.accounts, owners=args.owners, seed=7, now=ANCHOR)
        print(
            f"demo workspace: {args.accounts:,} accounts, {args.owners} owners "
            f"({time.perf_counter() - started:.1f} s to generate)"
        )
        os.environ.setdefault("SERGAS_LOG_DIR", str(root / "logs"))

        cold = cold_start(root, args.runs)
        firsts = [run["rows"] for run in cold]
        print(
            f"cold start to first paint (portfolio rows shown): median "
            f"{statistics.median(firsts):.2f} s, best {min(firsts):.2f} s over {len(firsts)} "
            f"runs (imports {statistics.median(r['imports'] for r in cold):.2f} s) "
            f"— target ≤ 1.0 s"
        )

        filtered = asyncio.run(filter_latency(root))
        print(
            f"filter keystroke at {filtered['rows']:,} rows: {_describe(filtered['keystrokes'])}"
            " — target ≤ 50 ms"
        )
        print(f"  filter computation alone: {_describe(filtered['compute'])}")

        approved = asyncio.run(approve_latency(root, args.approvals))
        print(
            f"approve keystroke → persisted decision: {_describe(approved['approvals'])}"
            " — target ≤ 20 ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
