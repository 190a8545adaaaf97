"""The local memory's write batches (a review's accounts): shared transactions that its own
reads see at once, other connections at each commit, and nothing half-written — in this
process (a small batch) and in the memory process a large batch runs in."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.errors import StorageError
from sergas_tui.memory import LocalMemory, memory_file
from sergas_tui.memory.store import BatchingMemory
from tests.helpers.memory import NOW, STABLE, make_facts, recommendation

MODES = ["here", "process"]


class Batching(LocalMemory):
    """A local memory whose batches run here, or always in a memory process."""

    def __init__(self, path: Path, mode: str) -> None:
        super().__init__(path, clock=FixedClock(NOW), process_from=1 if mode == "process" else None)
        self.mode = mode

    async def begin_batch(self, accounts: int | None = None) -> None:
        await super().begin_batch(1 if accounts is None else accounts)
        assert self.in_process == (self.mode == "process")


@pytest.fixture(params=MODES)
async def memory(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LocalMemory]:
    store = Batching(tmp_path / "ws" / "memory.db", request.param)
    yield store
    await store.close()


def _accounts_seen_elsewhere(path: Path) -> set[str]:
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT account_id FROM accounts")}
    finally:
        conn.close()


async def test_batched_writes_are_read_at_once_here_and_elsewhere_at_the_commit(
    memory: LocalMemory,
) -> None:
    assert isinstance(memory, BatchingMemory)
    await memory.begin_batch()
    await memory.ingest(make_facts("a1", notes=STABLE))
    await memory.record_recommendation("a1", recommendation("a1", "r1", NOW))
    recollection = await memory.recall("a1", now=NOW)
    assert recollection.context.account_id == "a1"
    assert [p.recommendation_id for p in await memory.prior_recommendations("a1")] == ["r1"]
    assert _accounts_seen_elsewhere(memory.path) == set()  # not committed yet
    await memory.end_batch()
    assert _accounts_seen_elsewhere(memory.path) == {"a1"}
    # Writes are their own transactions again.
    await memory.ingest(make_facts("a2", notes=STABLE))
    assert _accounts_seen_elsewhere(memory.path) == {"a1", "a2"}


async def test_a_batch_commits_every_so_many_writes(
    memory: LocalMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_file, "BATCH_WRITES", 2)
    await memory.begin_batch()
    for i in range(5):
        await memory.ingest(make_facts(f"a{i}", notes=STABLE))
    assert _accounts_seen_elsewhere(memory.path) == {"a0", "a1", "a2", "a3"}
    await memory.end_batch()
    assert len(_accounts_seen_elsewhere(memory.path)) == 5


async def test_other_writes_commit_the_batch_first(memory: LocalMemory) -> None:
    await memory.begin_batch()
    await memory.ingest(make_facts("a1", notes=STABLE))
    await memory.ingest(make_facts("a2", notes=STABLE))
    assert await memory.forget("a2") > 0  # its own transaction, after the batch's
    assert _accounts_seen_elsewhere(memory.path) == {"a1"}
    await memory.end_batch()


async def test_a_failed_write_in_a_batch_is_undone_alone(memory: LocalMemory) -> None:
    await memory.begin_batch()
    await memory.ingest(make_facts("a1", notes=STABLE))
    broken = make_facts("a2", notes=STABLE)
    object.__setattr__(broken.account, "name", None)  # accounts.name is NOT NULL
    with pytest.raises(StorageError):
        await memory.ingest(broken)
    await memory.ingest(make_facts("a3", notes=STABLE, reviewed_at=NOW + timedelta(hours=1)))
    await memory.end_batch()
    assert _accounts_seen_elsewhere(memory.path) == {"a1", "a3"}


@pytest.mark.parametrize("mode", MODES)
async def test_closing_commits_an_open_batch(tmp_path: Path, mode: str) -> None:
    store = Batching(tmp_path / "ws" / "memory.db", mode)
    await store.begin_batch()
    await store.ingest(make_facts("a1", notes=STABLE))
    await store.close()
    assert _accounts_seen_elsewhere(store.path) == {"a1"}
    await store.end_batch()  # after close: nothing to do
