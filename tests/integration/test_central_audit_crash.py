"""Kill the sync process at random points, and drop its connection mid-transaction: after
recovery the central and local row sets are equal, with no duplicates."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sergas_tui.audit.central.sync import outbox_status, sync_once
from sergas_tui.audit.central.verify import verify_remote
from sergas_tui.storage import Repository
from tests.fakes.central_sync_crash import CRASH_ENV
from tests.helpers.central_audit import (
    Central,
    assert_central_equals_local,
    fill,
    outcome,
    terminate_sync_backends,
)

pytestmark = pytest.mark.slow


TRIALS = 24
BATCH = 10
DROPS = 5
KILLS_PER_ROUND = 10
"""Connections dropped under a running sync before the test judges it."""
MAX_ROUNDS = 40
ROOT = Path(__file__).resolve().parents[2]


def run_child(workspace: Path, dsn: str, point: str, kill: tuple[int, float] | None) -> int:
    """Start a syncing child and let it crash itself at ``point``, or with ``kill = (k, s)``
    SIGKILL it ``s`` seconds after it reports its k-th batch: inside a later batch, at a
    random phase (reading, COPY, commit, marking). Returns its exit status."""
    env = {"PATH": "/usr/bin:/bin", CRASH_ENV: point}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.central_sync_crash", str(workspace), dsn, str(BATCH)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    if kill is not None:
        after, delay = kill
        for line in child.stdout:
            if line.strip() == f"batch {after}":
                break
        time.sleep(delay)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
    _, err = child.communicate(timeout=60)
    assert child.returncode in (0, -signal.SIGKILL), err
    return child.returncode


def assert_marked_rows_are_central(central: Central, repo: Repository) -> None:
    """The invariant at every instant: a row marked synced is central, exactly once."""
    rows = central.audit_rows()
    seqs = [r["seq"] for r in rows]
    assert len(seqs) == len(set(seqs)), "a row reached the central audit twice"
    central_ids = {str(r["id"]) for r in rows}
    local = repo.audit_rows()
    assert central_ids <= {row["id"] for row in local}
    assert all(row["id"] in central_ids for row in local if row["synced_at"] is not None)


def test_random_kills_leave_central_and_local_equal(central: Central, tmp_path: Path) -> None:
    rng = random.Random(8)
    workspace = tmp_path / "workspace.sqlite"
    repo = Repository.open(workspace)
    try:
        sync_once(repo, central.target(), workspace="crash", migrate="only")
        fill(repo, 1500)
        outcomes = [outcome(i) for i in range(6)]
        killed = 0
        for trial in range(TRIALS):
            fill(repo, 120, start=1500 + trial * 120)
            changed = outcomes[trial % 6].model_copy(update={"approved_by": f"ae-{trial}"})
            repo.save_outcome(changed)
            kill: tuple[int, float] | None = None
            if trial % 4 == 0:
                point = f"before-mark:{rng.randint(1, 8)}"
            elif trial % 4 == 1:
                point = f"after-mark:{rng.randint(1, 8)}"
            else:
                point, kill = "", (rng.randint(1, 6), rng.uniform(0.0, 0.02))
            status = run_child(workspace, central.dsn, point, kill)
            killed += status == -signal.SIGKILL
            assert_marked_rows_are_central(central, repo)
        assert killed >= 20, f"only {killed} of {TRIALS} children were killed mid-sync"
        assert outbox_status(repo).pending_audit > 0 or killed == TRIALS

        report = sync_once(repo, central.target(), workspace="crash", batch_size=500)

        assert report.audit_already_present >= 0
        assert_central_equals_local(central, repo)
        assert outbox_status(repo).pending_rows == 0
        assert central.count("recommendation_outcomes") == 6
        assert verify_remote(repo, central.target()).ok
    finally:
        repo.close()


def test_connections_dropped_mid_transaction_are_retried(central: Central, tmp_path: Path) -> None:
    """The server 'stops' under the sync at random instants (its backend terminated from
    another session), inside COPYs, inserts and commits alike. Rounds of new rows are synced
    until the sync has survived at least :data:`DROPS` dropped connections (a condition, not a
    duration: a fast machine simply runs more rounds)."""
    repo = Repository.open(tmp_path / "workspace.sqlite")
    try:
        retries = 0
        terminated: list[int] = []
        for _round in range(MAX_ROUNDS):
            fill(repo, 3000)
            stop = threading.Event()

            def killer(stop: threading.Event = stop) -> None:
                # At most KILLS_PER_ROUND drops a round, well under the sync's 50 attempts: on
                # a loaded machine one attempt can outlast several kill intervals, and an
                # unbounded killer would then exhaust every attempt instead of testing them.
                rng = random.Random(3 + len(terminated))
                dropped = 0
                while not stop.is_set() and dropped < KILLS_PER_ROUND:
                    time.sleep(rng.uniform(0.01, 0.06))
                    count = terminate_sync_backends(central)
                    terminated.append(count)
                    dropped += count

            thread = threading.Thread(target=killer)
            thread.start()
            try:
                report = sync_once(
                    repo,
                    central.target(),
                    workspace="crash",
                    batch_size=BATCH * 2,
                    max_attempts=50,
                    sleep=lambda _: None,
                )
            finally:
                stop.set()
                thread.join()
            retries += report.retries
            if retries >= DROPS:
                break
        assert retries >= DROPS, terminated  # each one a dropped connection the sync survived
        assert_central_equals_local(central, repo)
    finally:
        repo.close()
