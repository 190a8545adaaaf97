"""Benchmark a full first rules review against the in-process simulator, at several sizes.

    python bench/review.py [--sizes 1000,2500,5000] [--owners-per-thousand 10] [--repeat 1]
                           [--rpm 10000] [--again] [--json]

For each size it first generates the demo org (fixed seed and anchor) into a fresh temporary
workspace, then runs the review alone in a child process, so no figure includes generation:

- wall time of ``Orchestrator.review(None)`` (every owner), and the cost per thousand accounts;
- peak RSS of the review process (interpreter, imports and the review; nothing else runs in it)
  next to its RSS just before the review started, the peak of the memory process a large
  review starts (``memory/worker.py``), and the peak of the two together (sampled ten times a
  second);
- CPU seconds of the review process and of the memory process;
- bytes the review wrote: ``wchar`` (handed to ``write()``/``pwrite()``, the memory process's
  pipe included) and ``write_bytes`` (sent to the storage layer) from ``/proc/self/io``, which
  also counts the memory process once it has ended (the kernel adds a reaped child's I/O to
  its parent's), against the final sizes of the workspace databases it writes (``sergas.db``
  and ``memory.db``, WAL files included) after closing;
- the machine's load (``os.getloadavg()``) before and after, since this is a shared machine.

Owners scale with the accounts (10 per thousand: 50 at 5,000). ``--rpm`` is the client's
per-minute politeness limit; the default lifts it (the simulator, like Zoho, enforces none) so
the figure is the review's own work, not the wait for the next minute's window. ``--again``
reviews a second time on the unchanged CRM (stage histories and timelines then come from the
read cache). Targets (issue 17): a 5,000 / 50 first review ≤ 20 s on a quiet 2-core machine,
per-thousand cost flat within 15 % from 1,000 to 5,000, peak RSS ≤ 400 MiB, disk written
≤ 5× the final size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
MIB = 1_048_576
WORKSPACE_DATABASES = ("sergas.db", "memory.db")


def _io() -> dict[str, int]:
    """This process's I/O counters (``/proc/self/io``; zeros where it does not exist)."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return {"wchar": 0, "write_bytes": 0}
    values = dict(line.split(": ") for line in text.splitlines())
    return {k: int(values.get(k, 0)) for k in ("wchar", "write_bytes")}


def _rss_mib(pid: int | str = "self") -> float:
    """Resident set size now (``/proc/PID/status`` VmRSS), MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children() -> list[int]:
    """This process's child processes (``/proc/self/task/*/children``)."""
    found: list[int] = []
    try:
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


class RssSampler:
    """Samples this process's RSS plus its children's (the memory process of a large review)
    ten times a second: the peak of the sum is the review's memory as the machine sees it."""

    def __init__(self) -> None:
        self.peak_total = 0.0
        self.peak_children = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            children = sum(_rss_mib(pid) for pid in _children())
            self.peak_children = max(self.peak_children, children)
            self.peak_total = max(self.peak_total, _rss_mib() + children)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _db_bytes(folder: Path) -> dict[str, int]:
    """Size of each workspace database, its WAL and shared-memory files included."""
    sizes: dict[str, int] = {}
    for name in WORKSPACE_DATABASES:
        total = 0
        for suffix in ("", "-wal"):
            path = folder / f"{name}{suffix}"
            if path.exists():
                total += path.stat().st_size
        sizes[name] = total
    return sizes


def _cpu() -> float:
    """CPU seconds (user + system) this process used so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (the memory process of a large review)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> float:
    return os.getloadavg()[0]


# -- the child: one review, measured ----------------------------------------------------------


async def _review(root: Path, rpm: int) -> dict[str, Any]:
    from sergas_tui.agents.events import (
        AccountAuthored,
        AccountFailed,
        AccountScouted,
        RunFinished,
        Synced,
    )
    from sergas_tui.clock import FixedClock
    from sergas_tui.config import load_settings
    from sergas_tui.locations import Locations
    from sergas_tui.secrets import SecretStore
    from sergas_tui.services import open_services

    locations = Locations(root / "config", root / "data", root / "log")
    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": rpm}})
    load_before = _load()
    rss_before = _rss_mib()
    io_before = _io()
    cpu_before = _cpu()
    started = time.perf_counter()
    sampler = RssSampler().__enter__()
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(ANCHOR)
    )
    try:
        orchestrator = await services.orchestrator()
        finished = None
        # Where the time and memory go: open → synced → first account scouted (the Data Scout
        # done) → last account stored → finished (queues landed, briefs stored).
        marks: dict[str, tuple[float, float]] = {"open": (time.perf_counter(), _rss_mib())}
        async for event in orchestrator.review(None):
            if isinstance(event, Synced):
                marks["sync"] = (time.perf_counter(), _rss_mib())
            elif isinstance(event, AccountScouted) and "scout" not in marks:
                marks["scout"] = (time.perf_counter(), _rss_mib())
            elif isinstance(event, AccountAuthored | AccountFailed):
                # RSS read once (at the last account): reading it costs ~0.1 ms a time.
                rss = _rss_mib() if event.done == event.total else 0.0
                marks["accounts"] = (time.perf_counter(), rss)
            elif isinstance(event, RunFinished):
                marks["finish"] = (time.perf_counter(), _rss_mib())
                finished = event
        assert finished is not None
        assert services.simulator is not None
        calls = services.simulator.counters.total_calls
    finally:
        await services.aclose()
        services.close()
        sampler.__exit__()
    seconds = time.perf_counter() - started
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = _cpu() - cpu_before
    io_after = _io()
    folder = locations.workspace_dir("demo")
    s = finished.summary
    phases, last = {}, started
    for name, (at, rss) in marks.items():
        phases[name] = {"seconds": at - last, "rss_mib": rss}
        last = at
    return {
        "phases": phases,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rss_before_mib": rss_before,
        "peak_rss_mib": own_peak,
        "children_cpu_seconds": _children_cpu(),
        "children_peak_rss_mib": sampler.peak_children,
        "peak_total_rss_mib": max(sampler.peak_total, own_peak),
        # The memory process's counters are in these already: the kernel adds a reaped child's
        # I/O to its parent's /proc/self/io (and the review waits for it to exit).
        "wchar": io_after["wchar"] - io_before["wchar"],
        "write_bytes": io_after["write_bytes"] - io_before["write_bytes"],
        "db_bytes": _db_bytes(folder),
        "load_before": load_before,
        "load_after": _load(),
        "calls": calls,
        "calls_by_kind": s.zoho_calls.text(),
        "accounts": s.accounts,
        "at_risk": s.at_risk,
        "failed": s.failed,
        "recommendations": s.recommendations,
        "landed": s.landed,
        "queued": s.queued,
        "briefs": len(finished.briefs),
    }


def child(root: Path, rpm: int) -> int:
    os.environ["SERGAS_CONFIG_DIR"] = str(root / "config")
    result = asyncio.run(_review(root, rpm))
    print(json.dumps(result))
    return 0


# -- the parent: generate, then measure in a fresh process ------------------------------------


def _generate(root: Path, accounts: int, owners: int) -> float:
    from sergas_tui.demo import generate
    from sergas_tui.locations import Locations

    locations = Locations(root / "config", root / "data", root / "log")
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    started = time.perf_counter()
    generate(path, accounts=accounts, owners=owners, seed=7, now=ANCHOR)
    return time.perf_counter() - started


def _measure(root: Path, rpm: int) -> dict[str, Any]:
    env = {**os.environ, "SERGAS_CONFIG_DIR": str(root / "config")}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root), "--rpm", str(rpm)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the review process failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _phases(r: dict[str, Any]) -> str:
    return "         phases: " + ", ".join(
        f"{name} {p['seconds']:.1f} s ({p['rss_mib']:.0f} MiB)" for name, p in r["phases"].items()
    )


def _line(size: int, owners: int, r: dict[str, Any]) -> str:
    final = sum(r["db_bytes"].values())
    per_k = r["seconds"] / (size / 1000)
    return (
        f"{size:>6,} / {owners:<3} {r['seconds']:6.1f} s  {per_k:5.2f} s/1k  "
        f"CPU {r['cpu_seconds']:5.1f} s + {r['children_cpu_seconds']:4.1f} s in the memory "
        f"process  peak {r['peak_rss_mib']:4.0f} MiB (before {r['rss_before_mib']:3.0f}; "
        f"memory process {r['children_peak_rss_mib']:3.0f} MiB; together "
        f"{r['peak_total_rss_mib']:4.0f} MiB)  "
        f"written {r['write_bytes'] / MIB:6.0f} MiB to disk, {r['wchar'] / MIB:6.0f} MiB "
        f"write()  final {final / MIB:5.1f} MiB "
        f"(x{r['write_bytes'] / max(final, 1):4.1f} / x{r['wchar'] / max(final, 1):4.1f})  "
        f"load {r['load_before']:.2f}->{r['load_after']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2500,5000", help="accounts, comma-separated")
    parser.add_argument("--owners-per-thousand", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="reviews per size (median shown)")
    parser.add_argument("--rpm", type=int, default=10_000, help="client requests per minute")
    parser.add_argument("--again", action="store_true", help="also time a second review")
    parser.add_argument("--json", action="store_true", help="print every run as JSON too")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child(args.child, args.rpm)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(
        f"full first rules review, every owner; client limit {args.rpm} requests/min; "
        f"{os.cpu_count()} CPUs; load at start {_load():.2f}"
    )
    medians: dict[int, float] = {}
    for size in sizes:
        owners = max(1, size * args.owners_per_thousand // 1000)
        runs: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="sergas-bench-") as directory:
                root = Path(directory)
                generated = _generate(root, size, owners)
                first = _measure(root, args.rpm)
                first["generated_s"] = generated
                print(_line(size, owners, first), flush=True)
                print(_phases(first), flush=True)
                if args.again:
                    second = _measure(root, args.rpm)
                    first["again"] = second
                    print("  again  " + _line(size, owners, second), flush=True)
                runs.append(first)
        r = sorted(runs, key=lambda x: float(x["seconds"]))[len(runs) // 2]
        medians[size] = statistics.median(x["seconds"] for x in runs) / (size / 1000)
        print(
            f"         {r['accounts']} reviewed, {r['at_risk']} at risk, {r['failed']} failed; "
            f"{r['recommendations']} recommendations ({r['landed']} landed, {r['queued']} "
            f"queued); {r['calls']} Zoho calls answered by the simulator, the run counted "
            f"{r['calls_by_kind']}; {r['briefs']} briefs",
            flush=True,
        )
        if args.json:
            print(json.dumps({"accounts": size, "owners": owners, "runs": runs}))
    if len(medians) > 1:
        low, high = min(medians.values()), max(medians.values())
        print(
            "per-thousand cost (median): "
            + ", ".join(f"{k:,}: {v:.2f} s" for k, v in medians.items())
            + f"; spread {100 * (high - low) / low:.0f} %"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
