"""HTTP plumbing of the Zoho client: retry rule, backoff maths, token bucket, semaphore."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.crm.http import (
    RATE_WINDOW_SECONDS,
    Limiter,
    RateWindow,
    backoff,
    count_calls,
    retry_after_seconds,
    should_retry,
)
from tests.conftest import FIXED_NOW
from tests.fakes.zoho_http import FakeTime

_REQUEST = httpx.Request("GET", "https://www.zohoapis.com/crm/v8/Accounts")


@pytest.mark.parametrize(
    ("outcome", "retry"),
    [
        (200, False),
        (201, False),
        (204, False),
        (304, False),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (412, False),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (httpx.ConnectTimeout("slow", request=_REQUEST), True),
        (httpx.ReadTimeout("slow", request=_REQUEST), True),
        (httpx.PoolTimeout("busy", request=_REQUEST), True),
        (httpx.ConnectError("refused", request=_REQUEST), True),
        (httpx.ReadError("reset", request=_REQUEST), True),
        (httpx.RemoteProtocolError("bad", request=_REQUEST), True),
        (httpx.LocalProtocolError("ours", request=_REQUEST), False),
        (httpx.UnsupportedProtocol("ftp", request=_REQUEST), False),
        (ValueError("bug"), False),
    ],
)
def test_should_retry(outcome: int | BaseException, retry: bool) -> None:
    assert should_retry(outcome) is retry


class _FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("retry", "no_jitter", "full_jitter"),
    [(1, 1.0, 0.75), (2, 2.0, 1.5), (3, 4.0, 3.0), (4, 8.0, 6.0), (5, 16.0, 12.0), (6, 30.0, 22.5)],
)
def test_backoff_doubles_from_initial_and_caps(
    retry: int, no_jitter: float, full_jitter: float
) -> None:
    assert backoff(retry, initial=1.0, cap=30.0, rng=_FixedRandom(0.0)) == pytest.approx(no_jitter)
    assert backoff(retry, initial=1.0, cap=30.0, rng=_FixedRandom(1.0)) == pytest.approx(
        full_jitter
    )


def test_backoff_with_seeded_rng_is_reproducible_and_in_range() -> None:
    first = [backoff(n, rng=random.Random(42)) for n in range(1, 8)]
    again = [backoff(n, rng=random.Random(42)) for n in range(1, 8)]
    assert first == again
    for n, delay in enumerate(first, start=1):
        base = min(2.0 ** (n - 1), 30.0)
        assert 0.75 * base <= delay <= base
    assert backoff(1000, rng=random.Random(1)) <= 30.0
    with pytest.raises(ValueError, match="start at 1"):
        backoff(0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "999"}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers)) == expected


def _max_in_any_window(times: list[float], window: float = RATE_WINDOW_SECONDS) -> int:
    """Most events in any closed interval [t, t + window] (windows start at an event)."""
    times = sorted(times)
    best = 0
    j = 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j + 1 < len(times) and times[j + 1] <= start + window:
            j += 1
        best = max(best, j - i + 1)
    return best


async def _run_pattern(limit: int, arrivals: list[tuple[float, int]]) -> list[float]:
    """Feed ``count`` concurrent acquirers at each (gap seconds, count); return grant times."""
    time = FakeTime(FixedClock(FIXED_NOW))
    bucket = RateWindow(limit, now=lambda: time.clock.now().timestamp(), sleep=time.sleep)
    granted: list[float] = []

    async def take() -> None:
        await bucket.acquire()
        granted.append(time.clock.now().timestamp())

    for gap, count in arrivals:
        if gap:
            time.clock.advance(timedelta(seconds=gap))
        await asyncio.gather(*(take() for _ in range(count)))
    return granted


@pytest.mark.parametrize(
    ("limit", "arrivals"),
    [
        (120, [(0, 400)]),
        (120, [(0, 5), (30, 200), (600, 130)]),
        (120, [(0, 60), (59, 60), (1, 60), (120, 300)]),
        (10, [(0, 40), (3, 40)]),
        (1, [(0, 3), (61, 2)]),
        (2, [(0, 6)]),
        (600, [(0, 2000)]),
    ],
)
async def test_rate_window_never_exceeds_the_limit_in_any_rolling_minute(
    limit: int, arrivals: list[tuple[float, int]]
) -> None:
    granted = await _run_pattern(limit, arrivals)
    assert len(granted) == sum(count for _, count in arrivals)
    assert _max_in_any_window(granted) <= limit


async def test_rate_window_sends_a_burst_up_to_the_limit_then_waits_a_minute() -> None:
    granted = await _run_pattern(120, [(0, 125)])
    start = granted[0]
    assert [round(t - start, 3) for t in granted[:120]] == [0.0] * 120
    assert granted[120] - start == pytest.approx(60.25, abs=0.01)
    assert granted[124] - start == pytest.approx(60.25, abs=0.01)


async def test_rate_window_sustained_rate_is_the_limit() -> None:
    granted = await _run_pattern(120, [(0, 600)])
    elapsed = max(granted) - min(granted)
    assert len(granted) / (elapsed + 60.25) * 60 == pytest.approx(120, rel=0.01)


async def test_semaphore_caps_calls_in_flight() -> None:
    time = FakeTime(FixedClock(FIXED_NOW))
    limiter = Limiter(10_000, 3, now=lambda: time.clock.now().timestamp(), sleep=time.sleep)
    seen: list[int] = []

    async def call() -> None:
        async with limiter.slot():
            seen.append(limiter.in_flight)
            for _ in range(3):
                await asyncio.sleep(0)

    await asyncio.gather(*(call() for _ in range(12)))
    assert max(seen) == 3
    assert limiter.max_in_flight == 3
    assert limiter.in_flight == 0


def test_count_calls_nests() -> None:
    with count_calls() as outer:
        with count_calls() as inner:
            assert inner is not outer
        assert outer.api == 0
