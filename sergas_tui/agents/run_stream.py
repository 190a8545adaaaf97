"""The frame of one review run: its scope (garbage collection, inline SQLite work, the audit
session, the tally of Zoho calls, Zoho's waits as events) and its live stream of events.

The orchestrator runs each step (sync, scout, accounts) as a task and yields, while it runs,
what the step and the engine put in the run's :class:`EventSink` (:func:`live_events`).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sergas_tui import metrics
from sergas_tui.agents.events import AgentUsage, CrmWaiting, ReviewEvent
from sergas_tui.audit.gateway import audit_session
from sergas_tui.crm.call_tally import CallTally, tally_calls
from sergas_tui.crm.http import CrmWait, watch_waits
from sergas_tui.offload import run_inline

T = TypeVar("T")

_RARE_FULL_PASSES = 1000
"""Younger-generation passes between two full ones of the cyclic collector during a review."""
_reviews_running = 0


@contextmanager
def rare_full_collections() -> Iterator[None]:
    """Fewer full passes of the cyclic garbage collector while reviews run.

    A review keeps the whole synced portfolio alive (tens of thousands of records), and every
    full pass walks all of it: about 3 s of a 5,000-account review spent re-finding live
    objects. Records are freed by reference counting as before; only cyclic garbage waits a
    little longer. Restored when the last running review ends.
    """
    global _reviews_running
    first, second, third = gc.get_threshold()
    if _reviews_running == 0:
        gc.set_threshold(first, second, max(third, _RARE_FULL_PASSES))
    _reviews_running += 1
    try:
        yield
    finally:
        _reviews_running -= 1
        if _reviews_running == 0:
            gc.set_threshold(first, second, third)


@contextmanager
def run_scope(run_id: str, sink: EventSink) -> Iterator[CallTally]:
    """The context of one run: rare full garbage collections, short SQLite work without
    thread hand-offs, the run's audit session, the tally of every Zoho call of the run by
    kind (yielded), and Zoho's waits shown as events."""

    def waiting(wait: CrmWait) -> None:
        sink.put(CrmWaiting(run_id, wait.seconds, wait.reason, wait.kind))

    with (
        rare_full_collections(),
        run_inline(),
        audit_session(run_id, "zoho_scout"),
        tally_calls() as tally,
        watch_waits(waiting),
    ):
        yield tally


async def metered(agent_name: str, work: Awaitable[T]) -> T:
    """``work`` as one invocation of the subagent ``agent_name`` in the metrics."""
    with metrics.subagent(agent_name):
        return await work


@dataclass
class EventSink:
    """Where an engine's own events go: buffered until the run's event queue exists."""

    pending: list[ReviewEvent] = field(default_factory=list)
    queue: asyncio.Queue[ReviewEvent | None] | None = None

    def put(self, event: ReviewEvent) -> None:
        if isinstance(event, AgentUsage):  # each model request's tokens and cost, as it ends
            usage = event.usage
            metrics.model_usage(
                event.model,
                tokens=usage.input_tokens + usage.output_tokens,
                cost_usd=usage.cost_usd,
            )
        if self.queue is None:
            self.pending.append(event)
        else:
            self.queue.put_nowait(event)

    def drain(self) -> list[ReviewEvent]:
        events, self.pending = self.pending, []
        return events


async def live_events(work: asyncio.Future[Any], sink: EventSink) -> AsyncIterator[ReviewEvent]:
    """The events put in ``sink`` while ``work`` runs, as they come (``work`` is cancelled
    when the caller stops early); the caller then takes ``work.result()``."""
    live: asyncio.Queue[ReviewEvent | None] = asyncio.Queue()
    for early in sink.drain():
        live.put_nowait(early)
    sink.queue = live

    def done(_: object) -> None:
        sink.queue = None  # later engine events wait in the sink
        live.put_nowait(None)

    work.add_done_callback(done)
    try:
        while (event := await live.get()) is not None:
            yield event
    finally:
        sink.queue = None
        if not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
