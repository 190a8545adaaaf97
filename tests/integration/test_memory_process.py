"""The memory process a large review's batch runs in (``sergas_tui/memory/worker.py``).

A real child process over real pipes: a review through it stores exactly what a review in one
process stores; a dead child fails each later call with a message saying so and memory goes on
without it; the child commits what it received when the review's process closes its memory or
dies (kill -9); without a Python to start, on one core or for a small batch the batch stays in
the review's process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.errors import StorageError
from sergas_tui.locations import Locations
from sergas_tui.memory import LocalMemory, memory_path
from sergas_tui.memory import local as local_module
from sergas_tui.memory.schema import ITEM_TABLES
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from tests.fakes.reviewed_memory import FAST
from tests.helpers.memory import NOW, STABLE, make_facts

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds (or fail after :data:`DEADLINE` seconds)."""
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _committed(path: Path) -> set[str]:
    """Accounts another connection sees in the memory file."""
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as conn:
        return {row[0] for row in conn.execute("SELECT account_id FROM accounts")}


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie counts: it runs no more)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


def _memory(tmp_path: Path, *, process_from: int | None = 1) -> LocalMemory:
    return LocalMemory(
        tmp_path / "ws" / "memory.db", clock=FixedClock(NOW), process_from=process_from
    )


# -- the same memory either way ---------------------------------------------------------------


def _review_memory(root: Path, process_from: int | None) -> dict[str, list[tuple[object, ...]]]:
    """Review a small demo org with the memory's batch in a process or not; every memory row."""
    locations = Locations(config_dir=root / "config", data_dir=root / "data", log_dir=root / "log")
    crm = locations.demo_crm_file("demo")
    crm.parent.mkdir(parents=True)
    generate(crm, accounts=40, owners=2, seed=11, now=NOW)
    clock = FixedClock(NOW)
    services = open_services(
        load_settings(locations, overrides=FAST),
        locations,
        secrets=SecretStore(environ={}),
        clock=clock,
    )
    path = memory_path(locations.database_file("demo"))
    memory = LocalMemory(path, clock=clock, process_from=process_from)
    services._memory = memory
    used: list[bool] = []
    begin = memory.begin_batch

    async def noting(accounts: int | None = None) -> None:
        await begin(accounts)
        used.append(memory.in_process)

    memory.begin_batch = noting  # type: ignore[method-assign]

    async def review() -> None:
        orchestrator = await services.orchestrator()
        async for _event in orchestrator.review(None):
            pass

    try:
        asyncio.run(review())
    finally:
        asyncio.run(services.aclose())
        services.close()
    assert used == [process_from is not None]
    # Every row, but not the documents' rowids: accounts finish in whatever order they do.
    queries = {t: f"SELECT * FROM {t}" for t in (*ITEM_TABLES, "accounts")}
    queries["documents"] = "SELECT account_id, kind, item_id, title, body, day FROM documents"
    with closing(sqlite3.connect(path)) as conn:
        return {t: sorted(conn.execute(q).fetchall(), key=repr) for t, q in queries.items()}


def test_a_review_through_the_memory_process_stores_what_one_process_stores(
    tmp_path: Path,
) -> None:
    here = _review_memory(tmp_path / "here", None)
    there = _review_memory(tmp_path / "there", 1)
    assert here["accounts"]
    assert here["recommendations"]
    assert here["documents"]
    assert there == here


# -- failures ----------------------------------------------------------------------------------


async def test_a_dead_memory_process_fails_each_call_clearly_and_memory_goes_on(
    tmp_path: Path,
) -> None:
    memory = _memory(tmp_path)
    await memory.begin_batch(10)
    assert memory.in_process
    await memory.ingest(make_facts("a1", notes=STABLE))
    process = memory._process
    assert process is not None
    process.kill()
    for _ in range(2):
        with pytest.raises(StorageError) as caught:
            await memory.ingest(make_facts("a2", notes=STABLE))
        assert "The memory process for" in caught.value.message
        assert "stopped (exit code -9)" in caught.value.message
        assert "the next review stores it again" in caught.value.message
    await asyncio.wait_for(memory.end_batch(), DEADLINE)  # said already: no second error
    # Its open batch is lost; memory goes on in this process.
    assert _committed(memory.path) == set()
    await memory.ingest(make_facts("a3", notes=STABLE))
    assert _committed(memory.path) == {"a3"}
    await memory.close()


async def test_an_unknown_operation_is_an_error_and_the_process_goes_on(tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    await memory.begin_batch(10)
    process = memory._process
    assert process is not None
    with pytest.raises(StorageError, match="no memory operation 'no_such_thing'"):
        await process.call("no_such_thing")
    await memory.ingest(make_facts("a1", notes=STABLE))
    assert (await memory.recall("a1", now=NOW)).context.account_id == "a1"
    await memory.end_batch()
    assert _committed(memory.path) == {"a1"}
    await memory.close()


async def test_closing_memory_during_a_batch_lets_the_process_commit_and_exit(
    tmp_path: Path,
) -> None:
    memory = _memory(tmp_path)
    await memory.begin_batch(10)
    process = memory._process
    assert process is not None
    await memory.ingest(make_facts("a1", notes=STABLE))
    pid = process._process.pid
    memory.close_now()  # synchronous: tells the process to commit and stop
    await asyncio.to_thread(_wait_for, lambda: _committed(memory.path) == {"a1"}, "the commit")
    await asyncio.wait_for(process._process.wait(), DEADLINE)
    assert _gone(pid)


async def test_ctrl_c_in_the_terminal_leaves_the_memory_process_to_the_review(
    tmp_path: Path,
) -> None:
    memory = _memory(tmp_path)
    await memory.begin_batch(10)
    process = memory._process
    assert process is not None
    os.kill(process._process.pid, signal.SIGINT)  # as the terminal sends it to the group
    await memory.ingest(make_facts("a1", notes=STABLE))
    assert process.alive
    await memory.end_batch()
    assert _committed(memory.path) == {"a1"}
    await memory.close()


def test_the_memory_process_commits_what_it_had_when_the_review_process_is_killed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ws" / "memory.db"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys
        from pathlib import Path
        from sergas_tui.clock import FixedClock
        from sergas_tui.memory import LocalMemory
        from tests.helpers.memory import NOW, STABLE, make_facts

        async def main():
            memory = LocalMemory(Path({str(path)!r}), clock=FixedClock(NOW), process_from=1)
            await memory.begin_batch(10)
            assert memory.in_process
            for aid in ("a1", "a2", "a3"):
                await memory.ingest(make_facts(aid, notes=STABLE))
            print(memory._process._process.pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    child = int(done.stdout.strip())
    _wait_for(lambda: _gone(child), "the memory process to exit")
    assert _committed(path) == {"a1", "a2", "a3"}


# -- when the batch stays here -----------------------------------------------------------------


async def test_without_a_python_to_start_the_batch_runs_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    memory = _memory(tmp_path)
    await memory.begin_batch(10)
    assert not memory.in_process
    await memory.ingest(make_facts("a1", notes=STABLE))
    assert _committed(memory.path) == set()  # batched here
    await memory.end_batch()
    assert _committed(memory.path) == {"a1"}
    await memory.close()


async def test_small_batches_and_a_single_core_stay_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = _memory(tmp_path, process_from=local_module.PROCESS_FROM)
    await memory.begin_batch(local_module.PROCESS_FROM - 1)
    assert not memory.in_process
    await memory.end_batch()
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    await memory.begin_batch(local_module.PROCESS_FROM * 10)
    assert not memory.in_process
    await memory.end_batch()
    await memory.close()


async def test_a_process_that_cannot_open_the_file_says_why(tmp_path: Path) -> None:
    from sergas_tui.memory.worker import MemoryProcess

    broken = tmp_path / "memory.db"
    broken.write_bytes(b"not a database at all" * 100)
    process = await MemoryProcess.start(broken)
    with pytest.raises(StorageError) as caught:
        await process.call("stats")
    assert "not an SQLite database" in caught.value.message
    await asyncio.wait_for(process.stop(), DEADLINE)  # already said: no second error
    assert not process.alive
