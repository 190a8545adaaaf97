"""A private event loop for the screens' heavy reads, so the UI's event loop never waits on them.

Reading 5,000 accounts from the CRM costs the demo simulator and the record conversion about a
second of Python; on the app's own event loop that stalls every key for hundreds of
milliseconds at a time. :class:`DataLoop` runs such a read on an event loop of its own, in a
daemon thread, with its own CRM connection (a copy of the app's ``Services`` sharing the
workspace database, settings, secrets and clock, whose CRM gateway and simulator are built, and
bound, on that loop). A screen's thread worker calls :meth:`DataLoop.run` and waits.

Only for the demo CRM and Zoho REST: a Zoho MCP connection is a session (or a child process)
that is not worth opening twice, so :attr:`DataLoop.separate` is false there and callers read on
the app's loop as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sergas_tui.services import Services

T = TypeVar("T")

CLOSE_SECONDS = 10.0
POLL_SECONDS = 0.05
"""How often a waiting caller checks whether it was cancelled (see :meth:`DataLoop.run`)."""


class DataLoop:
    """One background event loop and CRM connection per app, started on first use."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._shadow: Services | None = None
        self._closed = False

    @property
    def separate(self) -> bool:
        """Whether reads may run here (demo CRM, Zoho REST) rather than on the app's loop."""
        return self._services.settings.zoho.resolved_mode() in ("demo", "rest")

    @property
    def shares_memory(self) -> bool:
        """Whether reads that recall memory may run here too: the local memory does its SQLite
        work in threads, so one instance serves both loops (Cognee and a memory server do not)."""
        memory = self._services.settings.memory
        return self.separate and memory.backend == "local" and not memory.endpoint

    def run(
        self,
        read: Callable[[Services], Coroutine[Any, Any, T]],
        *,
        cancelled: Callable[[], bool] | None = None,
    ) -> T:
        """Run ``read(services)`` on the data loop and return its result (blocking: call it from
        a thread worker, never from the app's event loop). Raises ``CancelledError`` when the
        loop closes first (the app is quitting), or when ``cancelled()`` turns true while it
        waits: the read is cancelled on the data loop too, so a superseded read (another
        account opened meanwhile) stops spending CRM calls and interpreter time."""
        loop, services = self._start()
        future = asyncio.run_coroutine_threadsafe(read(services), loop)
        try:
            if cancelled is None:
                return future.result()
            while True:
                try:
                    return future.result(timeout=POLL_SECONDS)
                except TimeoutError:
                    if cancelled():
                        future.cancel()
                        raise asyncio.CancelledError from None
        except concurrent.futures.CancelledError:
            raise asyncio.CancelledError from None

    def _start(self) -> tuple[asyncio.AbstractEventLoop, Services]:
        with self._lock:
            if self._closed:
                raise asyncio.CancelledError
            if self._loop is None or self._shadow is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="sergas-data", daemon=True)
                thread.start()
                self._shadow = shadow_of(self._services)
                self._loop, self._thread = loop, thread
            return self._loop, self._shadow

    def close(self) -> None:
        """Cancel the reads under way, close the CRM connection and stop the loop (blocking;
        idempotent; no read runs here afterwards)."""
        with self._lock:
            loop, thread, shadow = self._loop, self._thread, self._shadow
            self._loop = self._thread = self._shadow = None
            self._closed = True
        if loop is None or thread is None or shadow is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(_shut_down(shadow), loop)
            future.result(timeout=CLOSE_SECONDS)
        except Exception:  # closing is best effort: the process is ending
            pass
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CLOSE_SECONDS)
            if not thread.is_alive():
                loop.close()
            if shadow.simulator is not None:
                shadow.simulator.close()


async def _shut_down(services: Services) -> None:
    current = asyncio.current_task()
    reads = [task for task in asyncio.all_tasks() if task is not current]
    for task in reads:
        task.cancel()
    await asyncio.gather(*reads, return_exceptions=True)
    await services.aclose()


def shadow_of(services: Services) -> Services:
    """A copy of ``services`` for another event loop: the same workspace database, settings,
    secrets, clock and demo org, with no CRM gateway, simulator or memory yet (each is built on
    first use, on the loop that uses it) and no workspace registration of its own. Whatever was
    set on the instance itself (a test's stand-in for a method) carries over."""
    fields = {field.name for field in dataclasses.fields(services)}
    shadow = dataclasses.replace(
        services, _crm=None, _memory=None, _grants=None, simulator=None, workspace_use=None
    )
    shadow.__dict__.update({k: v for k, v in vars(services).items() if k not in fields})
    if "memory" not in vars(services):
        # One memory for both loops (see DataLoop.shares_memory); the app's Services close it.
        shadow.__dict__["memory"] = services.memory
    return shadow
