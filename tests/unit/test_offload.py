"""Blocking work on a worker thread, or on the caller's thread inside a review."""

from __future__ import annotations

import asyncio
import threading

from sergas_tui.offload import inline, offload, run_inline


async def test_outside_a_review_work_runs_on_a_worker_thread() -> None:
    assert not inline()
    assert await offload(threading.get_ident) != threading.get_ident()


async def test_inside_run_inline_work_runs_here_and_tasks_inherit_it() -> None:
    with run_inline():
        assert inline()
        assert await offload(threading.get_ident) == threading.get_ident()
        started = asyncio.ensure_future(offload(threading.get_ident))
    assert await started == threading.get_ident()
    assert not inline()


async def test_inline_work_lets_the_loop_run_what_is_ready_first() -> None:
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    with run_inline():
        waiting = asyncio.ensure_future(other())
        await offload(lambda: ran.append("work"))
    await waiting
    assert ran == ["other", "work"]
