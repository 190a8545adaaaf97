"""One Zoho call budget per org, shared by every Sergas process of the machine.

Zoho limits an *org*, not a process: calls in flight at once, and (our politeness) calls per
rolling minute. The AE's app, a headless ``sergas review`` from cron, an MCP server and a second
terminal each used to pace themselves alone, so together they sent several times the limit and
the later ones met 429s. :class:`SharedBudget` keeps the budget in one small file per org under
the data directory, and every process that talks to that org takes its calls from it.

The file (a fixed layout, read and written with ``pread``/``pwrite`` under ``flock``; each step
holds the lock for microseconds and the kernel drops it if the holder dies):

- a header: a magic string, the machine's boot id (a file from before a reboot is reset: the
  monotonic clock it was written with started again), and how many calls were granted so far;
- :data:`MEMBERS` member entries: each process using the file (process id, its
  ``requests_per_minute``). The org's per-minute limit is the *smallest* of the live members'
  (a gone process's entry is cleared), so a process with a lower limit is never starved by one
  with a higher limit, and together they keep to the strictest;
- :data:`SLOTS` lease slots: a call in flight holds one (process id, lease expiry, lease
  token). A slot whose process is gone, or whose lease expired, is free again, so a process
  killed mid-call cannot hold the org's slots for ever;
- a ring of the last :data:`RING` grant times. A call *reserves* its time: now, or, when the
  grant ``per_minute`` places back is less than a minute (plus a margin) old, the moment it
  leaves the window. Reservations are made in the order the calls ask, whichever process they
  come from, so waiting is first come, first served and nobody is starved; the caller sleeps
  until its time, then takes a slot.

Each process asks with its own ``zoho.concurrent_requests`` against every process's calls in
flight (slots are polled, from 20 ms backing off to 0.5 s). Times come from ``time.monotonic``,
which on Linux is one clock for the whole machine (``CLOCK_MONOTONIC``). Within a process an
asyncio semaphore and lock keep the waiters in order.

Several machines (team-mode workers) do not share a file; there the budget is per machine. Where
``fcntl`` does not exist, or the file cannot be created, the process falls back to its own
:class:`~sergas_tui.crm.http.Limiter` and says so in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import random
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import structlog

from sergas_tui.crm.http import (
    RATE_WINDOW_MARGIN_SECONDS,
    RATE_WINDOW_SECONDS,
    Seconds,
    Sleep,
    tell_paced,
)

try:  # POSIX only; elsewhere the budget stays per process
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms we test
    fcntl = None  # type: ignore[assignment]

log = structlog.get_logger("sergas.zoho")

T = TypeVar("T")

MAGIC = b"SGZBUD02"
MEMBERS = 64
"""Processes that can use one org's file at once (more share the others' limit unregistered)."""
SLOTS = 32
"""Lease slots in the file: more than Zoho's largest concurrency (25)."""
RING = 10_000
"""Grant times kept: the largest ``zoho.requests_per_minute`` allowed."""
LEASE_MARGIN_SECONDS = 30.0
"""A lease outlives the HTTP timeout by this much before another process may take it over."""
POLL_FIRST_SECONDS = 0.02
POLL_MAX_SECONDS = 0.5
"""Waiting for another process to free a slot: polls start at 20 ms and back off to 0.5 s."""
LOCK_RETRY_SECONDS = 0.001

MAX_RESERVATION_SECONDS = 86_400.0
"""A reserved time further ahead than this cannot be ours: the file is reset."""

_HEADER = struct.Struct("<8s36sxxxxQ")  # magic, boot id, grants so far
_MEMBER = struct.Struct("<qqQ")  # pid (0: none), requests per minute, member token
_SLOT = struct.Struct("<qdQ")  # pid (0: free), lease expiry, token
_STAMP = struct.Struct("<d")
_MEMBERS_AT = _HEADER.size
_SLOTS_AT = _MEMBERS_AT + MEMBERS * _MEMBER.size
_RING_AT = _SLOTS_AT + SLOTS * _SLOT.size
FILE_SIZE = _RING_AT + RING * _STAMP.size


def budget_key(*parts: str) -> str:
    """A file-name-safe key for one org (a hash of what identifies it: the API host and the
    OAuth client, or the demo org's file)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:24]


def budget_dir(data_dir: Path) -> Path:
    """Where the machine's budgets live: one file per org."""
    return data_dir / "zoho-budget"


def rest_budget_file(data_dir: Path, zoho_host: str, client_id: str) -> Path:
    """The budget file of an org reached over REST: its API host (or accounts server, or data
    centre) and the OAuth client id."""
    return budget_dir(data_dir) / f"{budget_key(zoho_host, client_id)}.budget"


def demo_budget_file(data_dir: Path, org_file: Path) -> Path:
    """The budget file of a demo org (its generated file)."""
    return budget_dir(data_dir) / f"{budget_key('demo', str(org_file.resolve()))}.budget"


@dataclass(frozen=True)
class BudgetState:
    """What an org's budget file says now (for `sergas doctor`)."""

    members: int
    """Live processes using it."""
    per_minute: int | None
    """The strictest live member's per-minute limit (None: no member)."""
    last_minute: int
    """Calls granted in the last minute (reservations ahead included)."""
    in_flight: int


def read_budget(path: Path, *, now: Seconds = time.monotonic) -> BudgetState | None:
    """The state of the budget in ``path`` (None: no such file, or not one of ours)."""
    if fcntl is None or not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size != FILE_SIZE or not _current(fd):
            return None
        moment = now()
        granted = int(_HEADER.unpack(os.pread(fd, _HEADER.size, 0))[2])
        members = os.pread(fd, MEMBERS * _MEMBER.size, _MEMBERS_AT)
        limits = [
            int(limit) for pid, limit, _token in _MEMBER.iter_unpack(members) if pid and _alive(pid)
        ]
        slots = os.pread(fd, SLOTS * _SLOT.size, _SLOTS_AT)
        busy = sum(
            1
            for pid, expires, _token in _SLOT.iter_unpack(slots)
            if pid and expires > moment and _alive(pid)
        )
        ring = os.pread(fd, RING * _STAMP.size, _RING_AT)
        window = RATE_WINDOW_SECONDS
        recent = 0
        for back in range(1, min(granted, RING) + 1):
            (stamp,) = _STAMP.unpack_from(ring, ((granted - back) % RING) * _STAMP.size)
            if stamp <= moment - window:
                break
            recent += 1
        return BudgetState(len(limits), min(limits) if limits else None, recent, busy)
    finally:
        os.close(fd)


@functools.cache
def _boot_id() -> bytes:
    """This boot of the machine (read once per process)."""
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        text = ""
    return text.encode()[:36].ljust(36, b"\0")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


@dataclass(frozen=True)
class _Grant:
    slot: int
    token: int


class SharedBudget:
    """At most ``concurrency`` calls in flight and ``per_minute`` calls per rolling minute,
    counting every process that uses the same file (see the module docstring).

    Same interface as :class:`~sergas_tui.crm.http.Limiter`: ``async with budget.slot() as
    waited`` around one HTTP attempt.
    """

    def __init__(
        self,
        path: Path,
        per_minute: int,
        concurrency: int,
        *,
        lease_seconds: float,
        now: Seconds = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_minute < 1 or concurrency < 1:
            raise ValueError("limits must be at least 1")
        self.path = path
        self.per_minute = min(per_minute, RING)
        self.concurrency = min(concurrency, SLOTS)
        self._lease = lease_seconds + LEASE_MARGIN_SECONDS
        self._now = now
        self._sleep = sleep
        self._rng = random.Random()
        self._member = self._rng.getrandbits(63) or 1
        """This budget's token among the file's members (several may share a process)."""
        self._fd = -1
        self._fd = self._open(path)
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._lock = asyncio.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.waits_for_others = 0
        """Times this process waited because other processes held the org's slots."""

    # -- the file ----------------------------------------------------------------------------

    def _open(self, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            with _locked(fd, wait=True):
                if os.fstat(fd).st_size != FILE_SIZE or not _current(fd):
                    _reset(fd)
                self._enlist(fd, self.per_minute)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _enlist(self, fd: int, per_minute: int) -> None:
        """Put this budget among the members (the caller holds the lock); 0 takes it out."""
        raw = os.pread(fd, MEMBERS * _MEMBER.size, _MEMBERS_AT)
        free: int | None = None
        for index in range(MEMBERS):
            pid, _limit, token = _MEMBER.unpack_from(raw, index * _MEMBER.size)
            at = _MEMBERS_AT + index * _MEMBER.size
            if pid and token == self._member:
                entry = (pid, per_minute, token) if per_minute else (0, 0, 0)
                os.pwrite(fd, _MEMBER.pack(*entry), at)
                return
            if pid and not _alive(pid):
                os.pwrite(fd, _MEMBER.pack(0, 0, 0), at)
                pid = 0
            if not pid and free is None:
                free = index
        if per_minute and free is not None:
            mine = _MEMBER.pack(os.getpid(), per_minute, self._member)
            os.pwrite(fd, mine, _MEMBERS_AT + free * _MEMBER.size)

    def close(self) -> None:
        """Leave the members (the org's limit is the others' again) and close the file."""
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        with contextlib.suppress(OSError), _locked(fd, wait=True):
            if _current(fd):
                self._enlist(fd, 0)
        os.close(fd)

    def _org_limit(self, fd: int) -> int:
        """The smallest per-minute limit of the live members (ours if none is listed)."""
        raw = os.pread(fd, MEMBERS * _MEMBER.size, _MEMBERS_AT)
        limit = self.per_minute
        for index in range(MEMBERS):
            pid, theirs, _token = _MEMBER.unpack_from(raw, index * _MEMBER.size)
            if pid and 0 < theirs < limit and _alive(pid):
                limit = int(theirs)
        return limit

    def _reserve(self) -> float:
        """Reserve this call's time in the org's minute (one locked step); returns it."""
        now = self._now()
        fd = self._fd
        with _locked(fd):
            if not _current(fd):
                _reset(fd)
                self._enlist(fd, self.per_minute)
            granted = int(_HEADER.unpack(os.pread(fd, _HEADER.size, 0))[2])
            limit = self._org_limit(fd)
            at = now
            if granted >= limit:
                place = (granted - limit) % RING
                stamp = os.pread(fd, _STAMP.size, _RING_AT + place * _STAMP.size)
                earlier = float(_STAMP.unpack(stamp)[0])
                if earlier > now + MAX_RESERVATION_SECONDS:  # not a time of this clock
                    _reset(fd)
                    self._enlist(fd, self.per_minute)
                    granted = 0
                else:
                    at = max(now, earlier + RATE_WINDOW_SECONDS + RATE_WINDOW_MARGIN_SECONDS)
            os.pwrite(fd, _STAMP.pack(at), _RING_AT + (granted % RING) * _STAMP.size)
            os.pwrite(fd, _HEADER.pack(MAGIC, _boot_id(), granted + 1), 0)
            return at

    def _try_slot(self) -> _Grant | None:
        """Take a free lease slot now, or None when other processes hold them (one step)."""
        now = self._now()
        fd = self._fd
        with _locked(fd):
            raw = os.pread(fd, SLOTS * _SLOT.size, _SLOTS_AT)
            free: int | None = None
            busy = 0
            for index in range(SLOTS):
                pid, expires, _token = _SLOT.unpack_from(raw, index * _SLOT.size)
                if pid and expires > now and _alive(pid):
                    busy += 1
                elif free is None:
                    free = index
            if busy >= self.concurrency or free is None:
                return None
            token = self._rng.getrandbits(63) or 1
            lease = _SLOT.pack(os.getpid(), now + self._lease, token)
            os.pwrite(fd, lease, _SLOTS_AT + free * _SLOT.size)
            return _Grant(free, token)

    def _give_back(self, grant: _Grant) -> None:
        fd = self._fd
        if fd < 0:
            return
        at = _SLOTS_AT + grant.slot * _SLOT.size
        with _locked(fd, wait=True):
            _pid, _expires, token = _SLOT.unpack(os.pread(fd, _SLOT.size, at))
            if token == grant.token:  # not taken over after an expired lease
                os.pwrite(fd, _SLOT.pack(0, 0.0, 0), at)

    # -- the caller's side -------------------------------------------------------------------

    async def _take(self) -> tuple[_Grant, float]:
        waited = 0.0
        async with self._lock:
            at = await _retrying(self._reserve)
            wait = at - self._now()
            if wait > 0:
                tell_paced(wait, self.per_minute)
                waited += wait
                await self._sleep(wait)
            poll = POLL_FIRST_SECONDS
            while (grant := await _retrying(self._try_slot)) is None:
                self.waits_for_others += 1
                waited += poll
                await self._sleep(poll)
                poll = min(poll * 2, POLL_MAX_SECONDS)
            return grant, waited

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold one slot for one HTTP attempt; yields the seconds waited for room."""
        async with self._semaphore:
            grant, waited = await self._take()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield waited
            finally:
                self.in_flight -= 1
                with contextlib.suppress(OSError):
                    self._give_back(grant)


async def _retrying(step: Callable[[], T]) -> T:
    """Run one locked step, trying again while another process holds the lock (microseconds)."""
    while True:
        try:
            return step()
        except BlockingIOError:
            await asyncio.sleep(LOCK_RETRY_SECONDS)


def _current(fd: int) -> bool:
    """The file is ours and from this boot of the machine."""
    magic, boot, _granted = _HEADER.unpack(os.pread(fd, _HEADER.size, 0))
    return bool(magic == MAGIC and boot == _boot_id())


@contextlib.contextmanager
def _locked(fd: int, *, wait: bool = False) -> Iterator[None]:
    """Hold the file's lock. Without ``wait``, BlockingIOError when another process has it
    (the event loop never blocks on it); with it, block (for the few microseconds another
    holder needs)."""
    assert fcntl is not None
    fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _reset(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.ftruncate(fd, FILE_SIZE)
    os.pwrite(fd, _HEADER.pack(MAGIC, _boot_id(), 0), 0)


def open_budget(
    path: Path | None,
    per_minute: int,
    concurrency: int,
    *,
    lease_seconds: float,
    now: Seconds,
    sleep: Sleep,
) -> SharedBudget | None:
    """The shared budget in ``path``, or None (the caller keeps a per-process limiter) when
    there is no path, no ``fcntl``, or the file cannot be opened."""
    if path is None or fcntl is None:
        return None
    try:
        return SharedBudget(
            path, per_minute, concurrency, lease_seconds=lease_seconds, now=now, sleep=sleep
        )
    except OSError as err:
        log.warning("zoho.budget_unshared", path=str(path), error=str(err))
        return None


__all__ = [
    "FILE_SIZE",
    "BudgetState",
    "SharedBudget",
    "budget_dir",
    "budget_key",
    "demo_budget_file",
    "open_budget",
    "read_budget",
    "rest_budget_file",
]
