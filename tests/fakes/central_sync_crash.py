"""Run ``sync_once`` in a process that can be SIGKILLed at any point of a central sync.

Usage: ``python -m tests.fakes.central_sync_crash <workspace.sqlite> <dsn> <batch size>``.
The child prints ``ready`` once imports are done and the database is open, then ``batch N``
after each batch is committed and marked, so the parent can time a kill inside the sync. With
``SERGAS_CRASH_AT`` set it kills itself instead:

- ``before-mark:N``: the N-th batch is committed centrally, not yet marked locally;
- ``after-mark:N``: the N-th batch is committed and marked, the run not finished.

The crash is injected by wrapping the repository's marking method here; production code has
no test hooks.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.audit.central.sync import sync_once
from sergas_tui.storage import Repository

CRASH_ENV = "SERGAS_CRASH_AT"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(repo: Repository, point: str) -> None:
    """Make the repository kill the process around its N-th ``mark_audit_synced``."""
    when, _, nth = point.partition(":")
    if when not in ("before-mark", "after-mark") or not nth.isdigit():
        raise SystemExit(f"unknown crash point {point!r}")
    real: Callable[..., int] = repo.mark_audit_synced
    calls = 0

    def marking(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == int(nth) and when == "before-mark":
            die()
        marked = real(*args, **kwargs)
        if calls == int(nth) and when == "after-mark":
            die()
        return marked

    repo.mark_audit_synced = marking  # type: ignore[method-assign]


def main(workspace: Path, dsn: str, batch_size: int) -> int:
    repo = Repository.open(workspace)
    point = os.environ.get(CRASH_ENV, "")
    if point:
        arm(repo, point)
    print("ready", flush=True)
    try:
        report = sync_once(
            repo,
            CentralTarget(dsn),
            workspace="crash",
            batch_size=batch_size,
            migrate="never",
            on_batch=lambda progress: print(f"batch {progress.batch}", flush=True),
        )
    finally:
        repo.close()
    print(f"done {report.audit_sent}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
