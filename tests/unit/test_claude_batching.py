"""The micro-batcher, the budget and the streamed-line coalescer."""

from __future__ import annotations

import asyncio

import pytest

from sergas_tui.agents.claude.batching import Flow, MicroBatcher
from sergas_tui.agents.claude.budget import Budget, CostTracker, usage_of_result
from sergas_tui.agents.claude.stream import LineStream
from sergas_tui.agents.events import Usage


class Recorder:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.fail = fail
        self.started = asyncio.Event()
        """Set once a batch is running."""

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.started.set()
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("the model is down")
        return [i * 10 for i in items]


async def test_a_full_batch_goes_at_once() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, size=3, idle=10.0)
    results = await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(3))), 30)
    assert results == [0, 10, 20]
    assert run.batches == [[0, 1, 2]]


async def test_a_partial_batch_goes_after_the_idle_window() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, size=8, idle=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2))
    assert list(results) == [10, 20]
    assert run.batches == [[1, 2]]
    assert 0.04 <= loop.time() - started < 30  # the idle window, not a slow machine's wait


async def test_everyone_waiting_flushes_without_the_timer() -> None:
    run = Recorder()
    flow = Flow()
    batcher = MicroBatcher(run, size=8, idle=10.0, flow=flow)
    flow.enter()
    flow.enter()
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0)
    assert run.batches == []  # one account in flight has not arrived yet
    results = await asyncio.wait_for(asyncio.gather(first, batcher.submit(2)), 30)
    assert list(results) == [10, 20]
    assert run.batches == [[1, 2]]


async def test_a_failed_batch_fails_each_caller() -> None:
    batcher = MicroBatcher(Recorder(fail=True), size=2, idle=0.01)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]


async def test_batches_grow_while_the_session_is_busy() -> None:
    run = Recorder(delay=0.05)
    batcher = MicroBatcher(run, size=8, idle=0.001, concurrency=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.wait_for(run.started.wait(), 30)  # the first batch is running
    assert run.batches == [[0]]
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 6)]
    await asyncio.wait_for(asyncio.gather(first, *rest), 30)
    assert run.batches == [[0], [1, 2, 3, 4, 5]]


async def test_cancelled_caller_leaves_its_batch() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, size=8, idle=0.05)
    gone = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0)
    gone.cancel()
    assert await batcher.submit(2) == 20
    assert run.batches == [[2]]


def test_invalid_sizes() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MicroBatcher(Recorder(), size=0)


def test_budget_stops_on_cost_and_on_time() -> None:
    now = [0.0]
    budget = Budget(max_cost_usd=0.10, deadline=60.0, clock=lambda: now[0])
    assert budget.stop_reason() is None
    budget.add(Usage(1000, 10, 0.06, 1))
    assert budget.stop_reason() is None
    budget.add(Usage(1000, 10, 0.05, 1))
    assert "budget of $0.10" in (budget.stop_reason() or "")
    assert budget.spent == Usage(2000, 20, pytest.approx(0.11), 2)  # type: ignore[arg-type]
    later = Budget(deadline=60.0, clock=lambda: now[0])
    now[0] = 61.0
    assert "time limit" in (later.stop_reason() or "")
    assert Budget().stop_reason() is None


def test_cost_deltas_follow_conversations() -> None:
    tracker = CostTracker()
    assert tracker.delta("s1", 0.01) == pytest.approx(0.01)
    assert tracker.delta("s1", 0.03) == pytest.approx(0.02)
    assert tracker.delta("s2", 0.005) == pytest.approx(0.005)  # /clear: a new conversation
    assert tracker.delta("s2", None) is None
    usage = usage_of_result(
        {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 3}, 0.5
    )
    assert usage == Usage(15, 3, 0.5, 1)


def test_line_stream_coalesces_deltas() -> None:
    lines: list[str] = []
    stream = LineStream(lines.append, max_lines=4)

    def delta(text: str) -> dict[str, object]:
        return {"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}}

    for piece in ("Harbor Point ", "looks stal", "led.\nNext: ", "check"):
        stream(delta(piece))
    stream({"type": "content_block_stop"})
    stream(
        {
            "type": "content_block_start",
            "content_block": {"type": "tool_use", "name": "mcp__zoho__zoho_get_notes"},
        }
    )
    stream(
        {
            "type": "content_block_start",
            "content_block": {"type": "tool_use", "name": "StructuredOutput"},
        }
    )
    stream(delta("x " * 200))
    stream.flush()
    assert lines[:3] == ["Harbor Point looks stalled.", "Next: check", "→ zoho_get_notes"]
    assert lines[-1] == "…"
    assert len(lines) == 4
