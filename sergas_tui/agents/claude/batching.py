"""A micro-batcher: per-account calls in, one request per batch of accounts out.

The orchestrator reviews accounts one by one, concurrently; the model is cheaper and faster
when one request carries several accounts. Each caller ``await batcher.submit(item)`` and gets
its own result; the batcher sends a batch when

- it is full (``size`` items), or
- no new item arrived for ``idle`` seconds (or the oldest waited ``max_wait``), or
- every account in flight is already waiting in a batcher or inside a running batch
  (a shared :class:`Flow` counts them), so nobody else will arrive;

but never more than ``concurrency`` batches at once (the sessions the role has): while they
run, newcomers wait and the next batch is formed when one finishes, so batches grow under
load instead of queueing one by one for a busy session.

``run_batch(items)`` returns one result per item, in order; if it raises, every caller of that
batch gets the exception (each then falls back on its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Flow:
    """Accounts currently inside the engine, and the batchers that may hold them."""

    active: int = 0
    batchers: list[MicroBatcher[object, object]] = field(default_factory=list)

    def enter(self) -> None:
        self.active += 1

    def leave(self) -> None:
        self.active = max(0, self.active - 1)
        self.poke()

    def parked(self) -> int:
        return sum(b.pending + b.running for b in self.batchers)

    def poke(self) -> None:
        """Flush every waiting batch when all accounts in flight are parked."""
        if self.active and self.parked() >= self.active:
            for batcher in self.batchers:
                batcher.flush()


class MicroBatcher(Generic[T, R]):
    """Collects items into batches for ``run_batch`` (see the module docstring)."""

    def __init__(
        self,
        run_batch: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        size: int,
        idle: float = 0.25,
        max_wait: float = 2.0,
        flow: Flow | None = None,
        name: str = "batch",
        concurrency: int = 1,
    ) -> None:
        if size < 1 or concurrency < 1:
            raise ValueError("size and concurrency must be at least 1")
        self._run_batch = run_batch
        self.size = size
        self.concurrency = concurrency
        self._in_progress = 0
        self.idle = idle
        self.max_wait = max_wait
        self.name = name
        self._items: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._first_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = 0
        """Items inside batches being run."""
        self.batches = 0
        """Batches sent so far."""
        self._flow = flow
        if flow is not None:
            flow.batchers.append(self)  # type: ignore[arg-type]

    @property
    def pending(self) -> int:
        return len(self._items)

    async def submit(self, item: T) -> R:
        """Queue ``item``; return its result once its batch has run."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._items.append((item, future))
        if self._first_at is None:
            self._first_at = loop.time()
        if len(self._items) >= self.size:
            self.flush()
        else:
            self._arm(loop)
            if self._flow is not None:
                self._flow.poke()
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The caller went away: drop the item if its batch has not started.
            self._items = [(i, f) for i, f in self._items if f is not future]
            future.cancel()
            raise

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
        waited = loop.time() - (self._first_at or loop.time())
        delay = max(0.0, min(self.idle, self.max_wait - waited))
        self._timer = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        """Send what is waiting now (in batches of at most ``size``)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._items and self._in_progress < self.concurrency:
            batch, self._items = self._items[: self.size], self._items[self.size :]
            self._in_progress += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        if not self._items:
            self._first_at = None

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_progress -= 1
        if self._items and not task.cancelled():
            self.flush()  # the next batch: everything that gathered meanwhile

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        live = [(item, fut) for item, fut in batch if not fut.done()]
        if not live:
            return
        self.batches += 1
        self.running += len(live)
        try:
            results = await self._run_batch([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(
                    f"{self.name}: {len(results)} results for a batch of {len(live)}"
                )
        except asyncio.CancelledError:
            for _, fut in live:
                fut.cancel()
            raise
        except Exception as err:
            for _, fut in live:
                if not fut.done():
                    fut.set_exception(err)
            return
        finally:
            self.running -= len(live)
            if self._flow is not None:
                self._flow.poke()
        for (_, fut), result in zip(live, results, strict=True):
            if not fut.done():
                fut.set_result(result)

    async def aclose(self) -> None:
        """Cancel running batches (their callers get ``CancelledError``)."""
        for _, fut in self._items:
            fut.cancel()
        self._items = []
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
