"""Benchmark the TUI as a person meets it: a real terminal, a cold process, the drawn screen.

    python bench/tui.py [--accounts 5000] [--owners 50] [--runs 3] [--keys 3]

Generates a demo workspace (default 5,000 accounts, 50 owners) in a temporary directory, then
starts ``sergas`` exactly as a person would — a new process of the installed console script —
inside tmux at 120×40 and reads the terminal's screen (``tmux capture-pane`` over a control-mode
connection, woken by tmux's own "the pane wrote output" notifications). Nothing in the app is
instrumented: a figure ends when the expected text is on the terminal's screen.

Each run (after one untimed warm-up start that creates the workspace database, as a first
start does once) measures:

- cold start to "my accounts": from spawning the process to the current owner's rows (the
  status line's account count and the first row's name) being drawn. Target ≤ 1.0 s;
- cold start to the manager view: ``m`` pressed the moment "my accounts" is drawn, until all
  5,000 rows are drawn (status line and first row). Target ≤ 1.5 s from the spawn;
- filter keystrokes at 5,000 rows: from handing a key to the terminal to the screen showing the
  typed filter and the status line's new "N shown" (N computed here from the same rows by the
  product's own filter). Target p95 ≤ 50 ms;
- switching views (``1``–``4``): from the key to the new view's content drawn; the first visit
  of each view is reported apart. Target ≤ 150 ms after the first time;
- opening an account (``enter`` in the portfolio): from the key to the account's name and
  overview drawn; the first open is reported apart, then opening another account and opening
  one again (seen before). Target ≤ 200 ms after the first time.

The package's bytecode is compiled first, as an installed app has it (where
``PYTHONDONTWRITEBYTECODE`` is set, a cold start would otherwise compile every module it
imports). Plus ``sergas --help`` wall time (target ≤ 0.5 s). The load average is printed
before and after: on a busy machine the figures are worse than on a quiet one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FILTER_WORDS = ("harbor", "energy", "north")
WIDTH, HEIGHT = 120, 40
ROOT = Path(__file__).resolve().parent.parent
SERGAS = Path(sys.executable).with_name("sergas")

Screen = list[str]
NAME_COLUMN = 11
"""Where the account name starts on a portfolio row: mark, space, 8 cells of risk, space."""


# -- the terminal -----------------------------------------------------------------------------


class Terminal:
    """A tmux server with one pane, driven over a control-mode client.

    Commands (capture-pane, send-keys, respawn-pane) go over one pipe, without a process per
    call; a reader thread sorts tmux's replies from its ``%output`` notifications, which wake
    :meth:`wait_for` whenever the program in the pane writes to the terminal.
    """

    def __init__(self, width: int, height: int, env: dict[str, str]) -> None:
        self.socket = f"sergas-bench-{os.getpid()}"
        self.target = "bench"
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", self.target,
            "-x", str(width), "-y", str(height), "sleep 1000000",
        )  # fmt: skip
        for option in ("remain-on-exit on", "status off"):
            self._tmux("set-option", "-g", *option.split())
        self._tmux("set-option", "-g", "window-size", "manual")
        self._tmux("resize-window", "-t", self.target, "-x", str(width), "-y", str(height))
        self._socket_path = self._tmux("display-message", "-p", "#{socket_path}").strip()
        self.env = env
        self.control = subprocess.Popen(
            ["tmux", "-L", self.socket, "-C", "attach-session", "-t", self.target],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._replies: queue.Queue[list[str]] = queue.Queue()
        self._output = threading.Event()
        self._lock = threading.Lock()
        self._serial = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.command("refresh-client")  # (the attach's own reply is skipped here)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        )
        return done.stdout

    def _read(self) -> None:
        assert self.control.stdout is not None
        block: list[str] | None = None
        for raw in self.control.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if block is not None:
                if line.startswith(("%end ", "%error ")):
                    self._replies.put(block)
                    block = None
                else:
                    block.append(line)
            elif line.startswith("%begin "):
                block = []
            elif line.startswith("%output "):
                self._output.set()

    def command(self, text: str) -> list[str]:
        """Run one tmux command; its reply. Each command is followed by an echo of a new token,
        and replies are read up to that echo: an unexpected reply can never shift them."""
        assert self.control.stdin is not None
        with self._lock:
            self._serial += 1
            token = f"sergas-bench-{self._serial}"
            self.control.stdin.write(f"{text}\ndisplay-message -p {token}\n".encode())
            self.control.stdin.flush()
            replies: list[list[str]] = []
            while (reply := self._replies.get(timeout=30)) != [token]:
                replies.append(reply)
            return replies[-1] if replies else []

    def screen(self) -> Screen:
        return self.command(f"capture-pane -p -t {self.target}")

    def spawn(self, argv: list[str]) -> float:
        """Start ``argv`` in the pane (replacing what ran there); returns the start time."""
        env = " ".join(f"-e {shlex.quote(f'{k}={v}')}" for k, v in self.env.items())
        command = shlex.quote(shlex.join(argv))
        self._output.clear()
        started = time.perf_counter()
        self.command(f"respawn-pane -k {env} -t {self.target} {command}")
        return started

    def keys(self, *keys: str, literal: bool = False) -> float:
        """Type ``keys`` (tmux key names, or text with ``literal``); returns when it did."""
        flag = "-l " if literal else ""
        words = " ".join(shlex.quote(k) for k in keys)
        self._output.clear()
        started = time.perf_counter()
        self.command(f"send-keys -t {self.target} {flag}{words}")
        return started

    def wait_for(self, ready: Callable[[Screen], bool], what: str, limit: float = 60.0) -> float:
        """The time at which a capture of the screen first satisfied ``ready``."""
        deadline = time.perf_counter() + limit
        while True:
            self._output.clear()
            asked = time.perf_counter()
            shown = self.screen()
            if ready(shown):
                return asked
            if asked > deadline:
                raise TimeoutError(f"the terminal never showed {what}:\n" + "\n".join(shown))
            self._output.wait(0.05)

    def pane_dead(self) -> bool:
        reply = self.command(f"display-message -p -t {self.target} '#{{pane_dead}}'")
        return bool(reply) and reply[0].strip() == "1"

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._tmux("kill-server")
        self.control.wait(timeout=10)
        if self._socket_path:
            Path(self._socket_path).unlink(missing_ok=True)


# -- what the screen should show --------------------------------------------------------------


@dataclass
class Expected:
    """The rows of one portfolio scope, as the product's view model computes them."""

    rows: list[Any]
    word_counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def first_name(self) -> str:
        return self.rows[0].name[:12] if self.rows else ""


def expected_rows(root: Path) -> tuple[Expected, Expected, str]:
    """My rows and everyone's, sorted as the portfolio opens (risk, pipeline, name)."""
    import asyncio

    from sergas_tui.config import load_settings
    from sergas_tui.services import open_services
    from sergas_tui.viewmodels.portfolio import (
        NATURAL_DESCENDING,
        filter_rows,
        load_portfolio,
        sort_rows,
    )

    locations = _locations(root)
    services = open_services(load_settings(locations), locations)

    async def both() -> tuple[list[Any], list[Any]]:
        try:
            return (
                await load_portfolio(services, "mine"),
                await load_portfolio(services, "all"),
            )
        finally:
            await services.aclose()

    try:
        mine, everyone = asyncio.run(both())
        me = services.current_user_email() or ""
    finally:
        services.close()
    scopes = []
    for rows in (mine, everyone):
        ordered = sort_rows(rows, "risk", NATURAL_DESCENDING["risk"])
        expected = Expected(ordered)
        for word in FILTER_WORDS:
            for end in range(1, len(word) + 1):
                expected.word_counts[word[:end]] = len(filter_rows(ordered, word[:end]))
        scopes.append(expected)
    return scopes[0], scopes[1], me


def _text(screen: Screen) -> str:
    return "\n".join(screen)


def portfolio_drawn(
    expected: Expected, *, scope: str, at_top: bool = True
) -> Callable[[Screen], bool]:
    """The status line of ``scope`` and a screenful of its rows; ``at_top``: the first row too
    (after a filter the table keeps the cursor's account in view, wherever it is)."""
    who = "all owners" if scope == "all" else "mine"
    status = re.compile(
        rf"\b{expected.total} accounts? · {expected.total} shown · sort: risk ↓ · {who}\b"
    )
    names = {row.name[:12] for row in expected.rows}
    enough = min(expected.total, 20)

    def ready(screen: Screen) -> bool:
        text = _text(screen)
        if not status.search(text) or (at_top and expected.first_name not in text):
            return False
        return sum(1 for line in screen if line[NAME_COLUMN : NAME_COLUMN + 12] in names) >= enough

    return ready


def filtered(prefix: str, count: int) -> Callable[[Screen], bool]:
    status = re.compile(rf"· {count} shown ·")

    def ready(screen: Screen) -> bool:
        text = _text(screen)
        return bool(status.search(text)) and any(line.strip().startswith(prefix) for line in screen)

    return ready


VIEW_READY: dict[str, Callable[[Screen], bool]] = {
    "2": lambda s: " Review " in s[0] and "r reviews your" in _text(s),
    "3": lambda s: " Approvals " in s[0] and "waiting for you" in _text(s),
    "4": lambda s: " Audit " in s[0] and ("events" in _text(s)) and "Loading audit" not in _text(s),
}


def account_drawn(name: str) -> Callable[[Screen], bool]:
    head = name[:20]

    def ready(screen: Screen) -> bool:
        text = _text(screen)
        return (
            " Account " in screen[0]
            and head in text
            and "Loading the account" not in text
            and "Owner" in text
        )

    return ready


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    mine: float = 0.0
    manager: float = 0.0
    manager_key: float = 0.0
    keystrokes: list[float] = field(default_factory=list)
    first_views: dict[str, float] = field(default_factory=dict)
    views: list[float] = field(default_factory=list)
    views_by_key: dict[str, list[float]] = field(default_factory=dict)
    first_open: float | None = None
    opens: list[float] = field(default_factory=list)
    reopens: list[float] = field(default_factory=list)


def one_run(
    term: Terminal, mine: Expected, everyone: Expected, keys: int, *, timed: bool = True
) -> Run:
    run = Run()
    started = term.spawn([str(SERGAS)])
    drawn = term.wait_for(portfolio_drawn(mine, scope="mine"), "my accounts")
    run.mine = drawn - started
    pressed = term.keys("m")
    drawn = term.wait_for(portfolio_drawn(everyone, scope="all"), "the manager view")
    run.manager = drawn - started
    run.manager_key = drawn - pressed
    if timed:
        _filter_keys(term, everyone, run)
        _switch_views(term, everyone, run, rounds=keys)
        _open_accounts(term, everyone, run, opens=keys + 1)
    term.keys("q")
    term.wait_for(lambda _s: term.pane_dead(), "the app quitting", limit=30)
    return run


def _filter_keys(term: Terminal, everyone: Expected, run: Run) -> None:
    for word in FILTER_WORDS:
        term.keys("/")
        term.wait_for(lambda s: any("filter:" in line for line in s), "the filter field")
        for end in range(1, len(word) + 1):
            prefix = word[:end]
            pressed = term.keys(word[end - 1], literal=True)
            drawn = term.wait_for(filtered(prefix, everyone.word_counts[prefix]), repr(prefix))
            run.keystrokes.append((drawn - pressed) * 1000)
        term.keys("Escape")
        term.wait_for(portfolio_drawn(everyone, scope="all", at_top=False), "all rows again")


def _switch_views(term: Terminal, everyone: Expected, run: Run, *, rounds: int) -> None:
    back = portfolio_drawn(everyone, scope="all", at_top=False)
    for _ in range(rounds):
        for key, ready in VIEW_READY.items():
            for press, shown in ((key, ready), ("1", back)):
                pressed = term.keys(press)
                drawn = term.wait_for(shown, f"view {press}")
                ms = (drawn - pressed) * 1000
                if press != "1" and press not in run.first_views:
                    run.first_views[press] = ms
                else:
                    run.views.append(ms)
                    run.views_by_key.setdefault(press, []).append(ms)


def _open_accounts(term: Terminal, everyone: Expected, run: Run, *, opens: int) -> None:
    """Open the first rows' accounts in turn, each twice (the second time it was seen before);
    home, then down once per account (keys reach the app in order, so each enter opens the
    row the cursor moved to)."""
    back = portfolio_drawn(everyone, scope="all")
    term.keys("Home")
    term.wait_for(back, "the first rows")
    for index in range(opens):
        name = everyone.rows[index].name
        for again in (False, True):
            pressed = term.keys("Enter")
            drawn = term.wait_for(account_drawn(name), f"account {name!r}")
            ms = (drawn - pressed) * 1000
            if again:
                run.reopens.append(ms)
            elif run.first_open is None:
                run.first_open = ms
            else:
                run.opens.append(ms)
            term.keys("Escape")
            term.wait_for(lambda s: " Portfolio " in s[0] and back(s), "the portfolio again")
        term.keys("Down")


# -- figures ----------------------------------------------------------------------------------


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _ms(values: Iterable[float], target: float) -> str:
    values = list(values)
    if not values:
        return "no samples"
    verdict = "ok" if _p95(values) <= target else "OVER"
    return (
        f"median {statistics.median(values):.0f} ms · p95 {_p95(values):.0f} ms · max "
        f"{max(values):.0f} ms (n={len(values)}) — target ≤ {target:.0f} ms [{verdict}]"
    )


def _s(values: list[float], target: float) -> str:
    median = statistics.median(values)
    verdict = "ok" if median <= target else "OVER"
    runs = ", ".join(f"{v:.2f}" for v in values)
    return f"median {median:.2f} s ({runs}) — target ≤ {target:.1f} s [{verdict}]"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def help_times(env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(SERGAS), "--help"], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def _locations(root: Path) -> Any:
    from sergas_tui.locations import Locations

    return Locations(config_dir=root / "config", data_dir=root / "data", log_dir=root / "logs")


def _bytecode() -> str:
    """Compile the package's bytecode, as installing a wheel does (``make`` does it too).

    Otherwise, where ``PYTHONDONTWRITEBYTECODE`` is set (some sandboxes and CI images set it),
    every cold start would compile the modules it imports from source, a cost no installed app
    pays."""
    import compileall

    compileall.compile_dir(str(ROOT / "sergas_tui"), quiet=1)
    unset = "unset" if not os.environ.get("PYTHONDONTWRITEBYTECODE") else "set"
    return f"bytecode: compiled ahead (PYTHONDONTWRITEBYTECODE is {unset} here)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="cold starts to time")
    parser.add_argument("--keys", type=int, default=3, help="rounds of view switches and opens")
    parser.add_argument(
        "--samples", action="store_true", help="also print every sample, in the order taken"
    )
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("bench/tui.py needs tmux (apt-get install tmux).", file=sys.stderr)
        return 2
    if not SERGAS.exists():
        print(f"no {SERGAS}: install the package (pip install -e .)", file=sys.stderr)
        return 2
    print(f"before: {_load()}")
    print(_bytecode())
    from sergas_tui.demo import generate

    with tempfile.TemporaryDirectory(prefix="sergas-bench-tui-") as tmp:
        root = Path(tmp)
        env = {
            "SERGAS_CONFIG_DIR": str(root / "config"),
            "SERGAS_DATA_DIR": str(root / "data"),
            "SERGAS_LOG_DIR": str(root / "logs"),
            "SERGAS_UI__EXECUTE_DELAY_SECONDS": "8",
        }
        path = _locations(root).demo_crm_file("demo")
        path.parent.mkdir(parents=True)
        started = time.perf_counter()
        generate(path, accounts=args.accounts, owners=args.owners, seed=7, now=ANCHOR)
        print(
            f"demo workspace: {args.accounts:,} accounts, {args.owners} owners "
            f"({time.perf_counter() - started:.1f} s to generate)"
        )
        os.environ.update(env)
        mine, everyone, me = expected_rows(root)
        print(f"you are {me}: {mine.total} accounts; the manager view lists {everyone.total}")

        child_env = {**os.environ, **env}
        helps = help_times(child_env, max(args.runs, 3))
        term = Terminal(WIDTH, HEIGHT, {**env, "COLORTERM": "truecolor"})
        try:
            started = time.perf_counter()
            term.screen()
            round_trip = (time.perf_counter() - started) * 1000
            warm = one_run(term, mine, everyone, args.keys, timed=False)
            runs = [one_run(term, mine, everyone, args.keys) for _ in range(args.runs)]
        finally:
            term.close()
    print(
        f"tmux {WIDTH}×{HEIGHT}; one screen capture takes {round_trip:.1f} ms (included in "
        f"every figure); warm-up start (creates the workspace database): {warm.mine:.2f} s to "
        f"my accounts, {warm.manager:.2f} s to the manager view"
    )
    print(f"sergas --help: {_s(helps, 0.5)}")
    print(f"cold start to my accounts ({mine.total} rows): {_s([r.mine for r in runs], 1.0)}")
    print(
        f"cold start to the manager view ({everyone.total:,} rows, m pressed when my accounts "
        f"showed): {_s([r.manager for r in runs], 1.5)}"
    )
    print(f"  m → manager view drawn: {_ms([r.manager_key * 1000 for r in runs], 1500)}")
    print(
        f"filter keystroke at {everyone.total:,} rows: "
        f"{_ms([k for r in runs for k in r.keystrokes], 50)}"
    )
    firsts = {key: statistics.median(r.first_views[key] for r in runs) for key in VIEW_READY}
    print(
        "first visit of each view: "
        + ", ".join(f"{key}: {ms:.0f} ms" for key, ms in firsts.items())
        + " (medians over runs)"
    )
    print(f"switching views after the first time: {_ms([v for r in runs for v in r.views], 150)}")
    for key in ("1", *VIEW_READY):
        values = [v for r in runs for v in r.views_by_key.get(key, [])]
        if values:
            print(f"  to view {key}: median {statistics.median(values):.0f} ms (n={len(values)})")
    first_opens = [r.first_open for r in runs if r.first_open is not None]
    print(f"first account opened: median {statistics.median(first_opens):.0f} ms")
    print(f"opening another account: {_ms([o for r in runs for o in r.opens], 200)}")
    print(f"opening an account again: {_ms([o for r in runs for o in r.reopens], 200)}")
    if args.samples:
        for number, r in enumerate(runs, 1):
            print(f"run {number} samples (ms, in order):")
            print("  filter keys: " + " ".join(f"{k:.0f}" for k in r.keystrokes))
            print("  opens: " + " ".join(f"{k:.0f}" for k in r.opens))
            print("  reopens: " + " ".join(f"{k:.0f}" for k in r.reopens))
    print(f"after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
