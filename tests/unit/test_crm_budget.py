"""The org's call budget shared through one file by every process of the machine."""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from sergas_tui.crm import budget as budget_module
from sergas_tui.crm.budget import (
    FILE_SIZE,
    BudgetState,
    SharedBudget,
    budget_key,
    open_budget,
    read_budget,
)
from sergas_tui.crm.http import (
    RATE_WINDOW_MARGIN_SECONDS,
    RATE_WINDOW_SECONDS,
    CrmWait,
    watch_waits,
)
from tests.conftest import FIXED_NOW
from tests.fakes.zoho_http import FakeTime

WINDOW = RATE_WINDOW_SECONDS + RATE_WINDOW_MARGIN_SECONDS


@pytest.fixture
def time() -> FakeTime:
    from sergas_tui.clock import FixedClock

    return FakeTime(FixedClock(FIXED_NOW))


def _budget(
    path: Path, time: FakeTime, per_minute: int = 100, concurrency: int = 5
) -> SharedBudget:
    return SharedBudget(
        path, per_minute, concurrency, lease_seconds=30, now=time.monotonic, sleep=time.sleep
    )


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_two_holders_of_the_file_share_one_per_minute_budget(
    tmp_path: Path, time: FakeTime
) -> None:
    path = tmp_path / "org.budget"
    first, second = _budget(path, time, per_minute=3), _budget(path, time, per_minute=3)
    for holder in (first, second, first):
        async with holder.slot() as waited:
            assert waited == 0
    told: list[CrmWait] = []
    with watch_waits(told.append):
        async with second.slot() as waited:
            pass
    # The fourth call of the minute waited for the first one to leave the window.
    assert waited == pytest.approx(WINDOW)
    assert [w.kind for w in told] == ["paced"]
    assert "3 Zoho calls a minute" in told[0].reason
    first.close()
    second.close()


async def test_slots_held_by_another_holder_count_against_the_concurrency(
    tmp_path: Path, time: FakeTime
) -> None:
    path = tmp_path / "org.budget"
    other = _budget(path, time, concurrency=2)
    polled = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the fake clock's, noting each poll
        await time.sleep(seconds)
        if len(time.sleeps) >= 3:
            polled.set()

    mine = SharedBudget(path, 100, 2, lease_seconds=30, now=time.monotonic, sleep=sleep)
    async with AsyncExitStack() as held:
        await held.enter_async_context(other.slot())
        await held.enter_async_context(other.slot())
        pending = mine.slot()
        waiting = asyncio.ensure_future(pending.__aenter__())
        # The fake sleep returns at once: the waiter polls the file and backs off meanwhile.
        await asyncio.wait_for(polled.wait(), 5)
        assert not waiting.done()
        assert mine.waits_for_others >= 3
    # The other holder let go of its slots: the waiter gets one.
    await asyncio.wait_for(waiting, 5)
    assert mine.in_flight == 1
    await pending.__aexit__(None, None, None)
    assert mine.in_flight == 0
    other.close()
    mine.close()


async def test_a_dead_process_or_an_expired_lease_frees_its_slot(
    tmp_path: Path, time: FakeTime
) -> None:
    path = tmp_path / "org.budget"
    holder = _budget(path, time, concurrency=2)
    slot = struct.Struct("<qdQ")
    start = budget_module._SLOTS_AT
    fd = os.open(path, os.O_RDWR)
    try:
        # Slot 0: a process that is gone; slot 1: a live process whose lease ran out.
        os.pwrite(fd, slot.pack(_dead_pid(), time.monotonic() + 1_000, 1), start)
        os.pwrite(fd, slot.pack(os.getppid(), time.monotonic() - 1, 2), start + slot.size)
    finally:
        os.close(fd)
    async with holder.slot() as waited, holder.slot() as waited_too:
        assert (waited, waited_too) == (0, 0)
    assert holder.waits_for_others == 0
    holder.close()


async def test_a_damaged_file_or_one_from_another_boot_is_started_afresh(
    tmp_path: Path, time: FakeTime
) -> None:
    path = tmp_path / "org.budget"
    path.write_bytes(b"not a budget")
    holder = _budget(path, time, per_minute=1)
    assert path.stat().st_size == FILE_SIZE
    async with holder.slot():
        pass
    # Written under another boot: its grants (which would make us wait) are forgotten.
    header = struct.Struct("<8s36sxxxxQ")
    fd = os.open(path, os.O_RDWR)
    try:
        magic, _boot, granted = header.unpack(os.pread(fd, header.size, 0))
        assert granted == 1
        os.pwrite(fd, header.pack(magic, b"another-boot".ljust(36, b"\0"), granted), 0)
    finally:
        os.close(fd)
    async with holder.slot() as waited:
        assert waited == 0
    holder.close()


async def test_the_strictest_members_limit_is_the_orgs_until_it_leaves(
    tmp_path: Path, time: FakeTime
) -> None:
    path = tmp_path / "org.budget"
    fast = _budget(path, time, per_minute=10_000)
    slow = _budget(path, time, per_minute=2)
    # The fast process, while the slow one is a member, keeps to 2 a minute as well.
    for _ in range(2):
        async with fast.slot() as waited:
            assert waited == 0
    async with fast.slot() as waited:
        assert waited == pytest.approx(WINDOW)
    slow.close()
    async with fast.slot() as waited:
        assert waited == 0
    fast.close()


async def test_waiting_is_first_come_first_served_across_holders(
    tmp_path: Path, time: FakeTime
) -> None:
    """A process making calls in a tight loop cannot starve another: times are reserved in
    the order the calls ask, so each waits its turn."""
    path = tmp_path / "org.budget"
    busy, patient = _budget(path, time, per_minute=2), _budget(path, time, per_minute=2)
    for _ in range(2):
        async with busy.slot():
            pass
    # The patient process asks next: its call gets the next minute's first place ...
    patient_at = patient._reserve()
    # ... and the busy process's next call comes after it.
    busy_at = busy._reserve()
    assert patient_at == pytest.approx(time.monotonic() + WINDOW)
    assert busy_at >= patient_at
    busy.close()
    patient.close()


def test_budget_keys_name_files_and_differ_by_org() -> None:
    one = budget_key("https://www.zohoapis.eu", "1000.ABC")
    assert one == budget_key("https://www.zohoapis.eu", "1000.ABC")
    assert one != budget_key("https://www.zohoapis.com", "1000.ABC")
    assert one.isalnum()


def test_without_a_usable_file_the_process_keeps_its_own_limits(
    tmp_path: Path, time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")

    # The budget directory cannot be created (a file is in the way).
    def opened(path: Path | None) -> SharedBudget | None:
        return open_budget(path, 10, 2, lease_seconds=30, now=time.monotonic, sleep=time.sleep)

    assert opened(blocked / "sub" / "org.budget") is None
    assert opened(None) is None
    monkeypatch.setattr(budget_module, "fcntl", None)
    assert opened(tmp_path / "org.budget") is None


_HOLDER = """
import asyncio, sys, time
from pathlib import Path
from sergas_tui.crm.budget import SharedBudget

async def main() -> None:
    budget = SharedBudget(Path(sys.argv[1]), 10_000, 1, lease_seconds=30)
    out = open(sys.argv[2], "w")
    for _ in range(int(sys.argv[3])):
        async with budget.slot():
            start = time.monotonic()
            await asyncio.sleep(0.002)
            out.write(f"{start} {time.monotonic()}\\n")
    out.close()

asyncio.run(main())
"""


def test_processes_never_hold_more_slots_than_the_concurrency(tmp_path: Path) -> None:
    """Two real processes with a concurrency of 1: their calls never overlap in time."""
    path = tmp_path / "org.budget"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    children = [
        subprocess.Popen([sys.executable, "-c", _HOLDER, str(path), str(log), "40"]) for log in logs
    ]
    for child in children:
        assert child.wait(timeout=120) == 0
    spans = sorted(
        tuple(map(float, line.split())) for log in logs for line in log.read_text().splitlines()
    )
    assert len(spans) == 80
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "two processes held the org's only slot at once"


async def test_the_budget_file_can_be_read_for_the_doctor(tmp_path: Path, time: FakeTime) -> None:
    path = tmp_path / "org.budget"
    assert read_budget(path, now=time.monotonic) is None
    app, review = _budget(path, time, per_minute=300), _budget(path, time, per_minute=120)
    for _ in range(3):
        async with app.slot():
            pass
    async with review.slot():
        state = read_budget(path, now=time.monotonic)
    assert state == BudgetState(members=2, per_minute=120, last_minute=4, in_flight=1)
    review.close()
    app.close()
    assert read_budget(path, now=time.monotonic) == BudgetState(0, None, 4, 0)


def test_doctor_describes_the_orgs_shared_budget(tmp_path: Path) -> None:
    from sergas_tui.config import load_settings
    from sergas_tui.crm.budget import demo_budget_file
    from sergas_tui.doctor import run_checks
    from sergas_tui.locations import Locations
    from sergas_tui.secrets import SecretStore

    locations = Locations(tmp_path / "config", tmp_path / "data", tmp_path / "log")
    settings = load_settings(locations)
    org = locations.demo_crm_file(settings.workspace_name())
    holder = SharedBudget(demo_budget_file(locations.data_dir, org), 90, 3, lease_seconds=30)
    try:
        checks = run_checks(locations, SecretStore(environ={}))
    finally:
        holder.close()
    budget = next(c for c in checks if c.name == "call budget")
    assert "shared by 1 running Sergas process of this machine: 90 calls a minute" in budget.detail
    assert "this config allows 120 calls a minute and 5 in flight" in budget.detail
