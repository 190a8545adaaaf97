"""A writer thread that applies units of work to the workspace database in chunked transactions.

A review stores each account's results (recommendations, audit rows, approvals, snapshot) as
one *unit*: a function calling :class:`~sergas_tui.storage.repository.Repository` methods, handed
to :meth:`WriteBatch.run` in one hop. The writer thread applies units in order, each inside a
savepoint of one open transaction (a failing unit leaves nothing behind, and the others go on),
and commits once the open chunk holds ``chunk`` units or is ``max_delay`` seconds old (also when
no further unit arrives), and on :meth:`WriteBatch.flush` / :meth:`WriteBatch.close`.

So a commit only ever holds whole units: a crash or a kill mid-review loses at most the open
chunk's units, never part of one, and those accounts are reviewed afresh next time (their
snapshots went with them). Any other write of the repository, from any thread, commits the
open chunk first and then makes its own transaction, so it keeps its meaning ("stored when the
method returns"). Reads on other connections see a unit once its chunk is committed; the
review flushes before reading what its units wrote.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from sergas_tui.errors import StorageError

if TYPE_CHECKING:
    from sergas_tui.storage.transactions import Transactions

T = TypeVar("T")

_STOP = object()
"""Queue item: commit and end the thread."""


class WriteBatch:
    """One writer thread applying units of work in chunked transactions (see the module)."""

    def __init__(self, repository: Transactions, *, chunk: int = 64, max_delay: float = 1.0):
        self._repo = repository
        self._chunk = max(1, chunk)
        self._max_delay = max(0.0, max_delay)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        """A commit that failed: its units are lost, so flush and close raise it."""
        self._closed = False
        self.units = 0
        """Units applied so far (failed ones included)."""
        self.commits = 0
        """Chunk commits made by this batch (not counting commits made by other writes)."""
        self._thread = threading.Thread(target=self._loop, name="sergas-writer", daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------------

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn`` as one unit; its future holds what it returned (or raised) once the
        unit is applied (committed with its chunk later)."""
        if self._closed:
            raise StorageError("The write batch is closed.")
        if self._failure is not None:
            raise self._lost()
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future

    async def run(self, fn: Callable[[], T]) -> T:
        """:meth:`submit` and wait for the unit to be applied; cancelling the wait before the
        writer started the unit drops it (a started unit finishes whole)."""
        return await asyncio.wrap_future(self.submit(fn))

    def flush_future(self) -> Future[None]:
        """A future done once every unit queued before it is applied and committed (failed
        with the commit's error when a commit failed)."""
        future: Future[None] = Future()
        self._queue.put((None, future))
        return future

    def flush(self) -> None:
        """Apply and commit everything queued so far; raises when a commit failed."""
        if self._closed:
            return
        self.flush_future().result()

    async def aflush(self) -> None:
        if not self._closed:
            await asyncio.wrap_future(self.flush_future())

    def close(self) -> None:
        """Apply what was queued, commit it and end the thread; raises when a commit failed."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
        if self._failure is not None:
            raise self._lost()

    def __enter__(self) -> WriteBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lost(self) -> StorageError:
        failure = self._failure
        if isinstance(failure, StorageError):
            return failure
        return StorageError(f"Could not commit a batch of writes: {failure!r}.")

    # -- the writer thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            units, age = self._repo._chunk_state()
            timeout = None if units == 0 else max(0.0, self._max_delay - age)
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._commit()
                continue
            if item is _STOP:
                self._commit()
                return
            fn, future = item
            if fn is None:  # a flush
                self._commit()
                if self._failure is not None:
                    future.set_exception(self._lost())
                else:
                    future.set_result(None)
                continue
            if not future.set_running_or_notify_cancel():
                continue  # the caller stopped waiting before it started
            try:
                result = self._repo._run_unit(fn)
            except BaseException as err:
                future.set_exception(err)
            else:
                future.set_result(result)
            self.units += 1
            units, age = self._repo._chunk_state()
            if units >= self._chunk or age >= self._max_delay:
                self._commit()

    def _commit(self) -> None:
        units, _ = self._repo._chunk_state()
        try:
            self._repo._commit_chunk()
        except BaseException as err:
            if self._failure is None:
                self._failure = err
            return
        if units:
            self.commits += 1
