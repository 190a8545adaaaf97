"""Where short blocking work (SQLite statements) runs: on a worker thread, or on the caller's.

Handing blocking work to a worker thread keeps the event loop free while it runs, which is what
an interactive screen wants. A review is different: its throughput is bound by the interpreter
lock, each of its SQLite steps takes well under a millisecond to a few, and each hand-off costs
more than that in thread wake-ups and lock ping-pong (a 1,000-account review made about 700
futex calls per account). Inside :func:`run_inline` (the orchestrator enters it for a run, and
the tasks it starts inherit it), :func:`offload` calls the work right away on the caller's
thread; elsewhere it hops to a worker thread as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_INLINE: ContextVar[bool] = ContextVar("sergas_run_blocking_inline", default=False)


@contextmanager
def run_inline() -> Iterator[None]:
    """Run :func:`offload`'s work on the caller's thread in this block (and its tasks)."""
    token = _INLINE.set(True)
    try:
        yield
    finally:
        _INLINE.reset(token)


def inline() -> bool:
    """Whether blocking work of this context runs on the caller's thread."""
    return _INLINE.get()


async def offload(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on a worker thread, or right here inside :func:`run_inline`
    (after letting the event loop run what is ready, so a screen keeps drawing meanwhile)."""
    if _INLINE.get():
        await asyncio.sleep(0)
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)
