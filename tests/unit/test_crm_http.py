"""HTTP plumbing of the Zoho client: retry rule, backoff maths, token bucket, semaphore, and
what it does with Zoho's two kinds of 429 (concurrency: retry; credits used up: stop)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.crm.http import (
    MAX_RATE_LIMIT_WAIT_SECONDS,
    RATE_LIMIT_PATIENCE_SECONDS,
    RATE_WINDOW_SECONDS,
    CallKind,
    CrmStats,
    CrmWait,
    Limiter,
    RateWindow,
    RetryPolicy,
    Sender,
    backoff,
    count_calls,
    credits_remaining,
    current_patience,
    rate_limit_kind,
    rate_limit_patience,
    retry_after_seconds,
    should_retry,
    watch_waits,
)
from sergas_tui.errors import CrmRateLimitedError
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


# --- Zoho's 429s: concurrency (transient) or credits used up (not for hours) -------------------

EITHER = (
    "Number of API requests for the 24 hour period is exceeded or the concurrency limit of the "
    "user for the app is exceeded"
)
CREDITS = "Number of API requests for the 24 hour period is exceeded"
CONCURRENCY = "The concurrency limit of the user for the app is exceeded (20 API calls at once)"


def _new_shape(message: str) -> dict[str, Any]:
    return {"code": "TOO_MANY_REQUESTS", "details": {}, "message": message, "status": "error"}


def _old_shape(info: str) -> dict[str, Any]:
    return {"code": 429, "error": "TOO_MANY_REQUESTS", "error_info": info, "details": []}


def _429(body: dict[str, Any] | None, remaining: str | None = None) -> httpx.Response:
    headers = {"X-API-CREDITS-REMAINING": remaining} if remaining is not None else {}
    if body is None:
        return httpx.Response(429, headers=headers, text="Too Many Requests", request=_REQUEST)
    return httpx.Response(429, headers=headers, json=body, request=_REQUEST)


@pytest.mark.parametrize(
    ("response", "last", "kind"),
    [
        (_429(_new_shape(CREDITS)), None, "credits"),
        (_429(_new_shape("The API credits for the past 24 hours are exhausted.")), None, "credits"),
        (
            _429(_old_shape("You have exceeded the API limit for the past 24 hours.")),
            None,
            "credits",
        ),
        (_429(_new_shape(CONCURRENCY)), None, "concurrency"),
        (
            _429(_new_shape("The sub-concurrency limit of the user for the app is exceeded")),
            0,
            "concurrency",
        ),
        (_429(_old_shape("Too many concurrent requests")), None, "concurrency"),
        # Zoho's own sentence names both causes: the header decides.
        (_429(_new_shape(EITHER)), None, "unknown"),
        (_429(_new_shape(EITHER), remaining="0"), None, "credits"),
        (_429(_new_shape(EITHER), remaining="1200"), None, "concurrency"),
        (_429(_new_shape(EITHER)), 0, "credits"),
        (_429(_new_shape(EITHER)), 40, "concurrency"),
        (_429(_new_shape(EITHER), remaining="15"), 0, "concurrency"),  # this answer wins
        (_429(_new_shape("slow down")), None, "unknown"),
        (_429(None), None, "unknown"),  # a proxy's page
        (_429(None, remaining="0"), None, "credits"),
        # A message that names one limit wins over the header.
        (_429(_new_shape(CONCURRENCY), remaining="0"), None, "concurrency"),
        (_429(_new_shape(CREDITS), remaining="2"), None, "credits"),
    ],
)
def test_rate_limit_kind(response: httpx.Response, last: int | None, kind: str) -> None:
    assert rate_limit_kind(response, last_remaining=last) == kind


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"X-API-CREDITS-REMAINING": "48211"}, 48_211),
        ({"x-api-credits-remaining": " 7 "}, 7),
        ({"X-API-CREDITS-REMAINING": "0"}, 0),
        ({"X-API-CREDITS-REMAINING": "-3"}, 0),
        ({"X-API-CREDITS-REMAINING": "lots"}, None),
    ],
)
def test_credits_remaining_header(headers: dict[str, str], expected: int | None) -> None:
    assert credits_remaining(httpx.Headers(headers)) == expected


class _Script:
    """Answers the queued responses in turn (the last one repeats)."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(FixedClock(FIXED_NOW))


class _Harness:
    def __init__(self, script: _Script, time: FakeTime, max_retries: int = 3) -> None:
        self.script = script
        self.time = time
        self.stats = CrmStats()
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(script))
        self.sender = Sender(
            self.client,
            limiter=Limiter(10_000, 5, now=time.monotonic, sleep=time.sleep),
            policy=RetryPolicy(max_retries=max_retries),
            stats=self.stats,
            sleep=time.sleep,
            rng=random.Random(3),
        )

    async def send(self, kind: CallKind = "api", max_retries: int | None = None) -> httpx.Response:
        async def build() -> httpx.Request:
            return self.client.build_request("GET", "https://www.zohoapis.com/crm/v8/users")

        return await self.sender.send(
            build,
            endpoint="GET /users",
            kind=kind,
            max_retries=max_retries,
        )


@pytest.fixture
def harness(time: FakeTime) -> Any:
    """``harness(*responses, max_retries=3)``: a Sender whose Zoho answers those in turn."""

    def make(*responses: httpx.Response, max_retries: int = 3) -> _Harness:
        return _Harness(_Script(*responses), time, max_retries)

    return make


def _ok(remaining: str | None = None) -> httpx.Response:
    headers = {"X-API-CREDITS-REMAINING": remaining} if remaining is not None else {}
    return httpx.Response(200, headers=headers, json={"users": [{"id": "1"}]})


async def test_a_concurrency_429_is_retried_with_backoff_and_jitter(
    harness: Any, time: FakeTime
) -> None:
    h = harness(_429(_new_shape(CONCURRENCY)), _429(_new_shape(CONCURRENCY)), _ok())

    response = await h.send()

    assert response.status_code == 200
    assert len(h.script.requests) == 3
    assert h.stats.retries == 2
    assert h.stats.rate_limited == 2
    rng = random.Random(3)
    assert time.backoffs() == pytest.approx([backoff(1, rng=rng), backoff(2, rng=rng)])
    assert 0.75 <= time.backoffs()[0] <= 1.0
    assert 1.5 <= time.backoffs()[1] <= 2.0


async def test_a_transient_429_is_waited_out_beyond_the_retry_budget_and_told(
    harness: Any, time: FakeTime
) -> None:
    answers = [_429(_new_shape(EITHER)) for _ in range(6)]
    h = harness(*answers, _ok(), max_retries=0)
    told: list[CrmWait] = []

    with watch_waits(told.append):
        response = await h.send()

    assert response.status_code == 200
    assert len(h.script.requests) == 7
    assert h.stats.rate_limit_waits == 6
    assert [w.kind for w in told] == ["rate_limited"] * 6
    assert [w.seconds for w in told] == pytest.approx(time.backoffs())
    assert "Zoho's rate limit (GET /users" in told[0].reason
    assert h.stats.rate_limit_seconds == pytest.approx(sum(time.backoffs()))


async def test_a_429_that_never_clears_is_raised_once_patience_is_spent(
    harness: Any, time: FakeTime
) -> None:
    h = harness(_429(_new_shape(EITHER)))

    with pytest.raises(CrmRateLimitedError) as raised:
        await h.send()

    assert raised.value.status_code == 429
    assert raised.value.retry_after is not None
    assert 0 < raised.value.retry_after <= MAX_RATE_LIMIT_WAIT_SECONDS
    assert "stopped; trying again in" in raised.value.message
    waited = sum(time.backoffs())
    assert waited <= RATE_LIMIT_PATIENCE_SECONDS
    assert waited > RATE_LIMIT_PATIENCE_SECONDS - MAX_RATE_LIMIT_WAIT_SECONDS
    assert max(time.backoffs()) <= MAX_RATE_LIMIT_WAIT_SECONDS
    assert len(h.script.requests) == len(time.backoffs()) + 1


async def test_a_shorter_patience_answers_rate_limited_with_when_to_try_again(
    harness: Any, time: FakeTime
) -> None:
    h = harness(_429(_new_shape(EITHER)))

    with rate_limit_patience(20.0), pytest.raises(CrmRateLimitedError) as raised:
        await h.send()

    waited = sum(time.backoffs())
    assert 0 < waited <= 20.0
    assert waited + (raised.value.retry_after or 0) > 20.0
    assert current_patience() == RATE_LIMIT_PATIENCE_SECONDS  # restored after the block


async def test_waits_outside_a_watch_block_are_not_told(harness: Any, time: FakeTime) -> None:
    told: list[CrmWait] = []
    with watch_waits(told.append):
        pass
    h = harness(_429(_new_shape(EITHER)), _ok())

    assert (await h.send()).status_code == 200
    assert told == []


@pytest.mark.parametrize(
    "refusal",
    [
        _429(
            _new_shape(
                CREDITS + ": the org's 54,000 API credits for the past 24 hours are used up."
            )
        ),
        _429(_old_shape("You have exceeded the API limit for the past 24 hours.")),
        _429(_new_shape(EITHER), remaining="0"),
    ],
)
async def test_a_credits_429_is_not_retried(
    harness: Any, time: FakeTime, refusal: httpx.Response
) -> None:
    h = harness(refusal, _ok())

    with pytest.raises(CrmRateLimitedError) as caught:
        await h.send()

    assert len(h.script.requests) == 1
    assert h.stats.retries == 0
    assert time.sleeps == []
    error = caught.value
    assert error.status_code == 429
    assert error.code == "TOO_MANY_REQUESTS"
    assert error.title == "Zoho API credits used up"
    assert "GET /crm/v8/users with HTTP 429 TOO_MANY_REQUESTS" in error.message
    assert "API credits for the last 24 hours are used up" in error.message
    assert "did not retry" in error.message


async def test_a_credits_429_is_not_retried_even_for_a_write(harness: Any) -> None:
    h = harness(_429(_new_shape(CREDITS)))

    with pytest.raises(CrmRateLimitedError, match="credits for the last 24 hours"):
        await h.send(max_retries=0)


async def test_credits_remaining_is_kept_and_named_in_the_error(harness: Any) -> None:
    h = harness(_ok(), _ok("1200"), _ok("3"), _429(_new_shape(CREDITS)))

    await h.send()
    assert h.stats.credits_remaining is None
    await h.send()
    assert h.stats.credits_remaining == 1_200
    assert h.stats.as_dict()["credits_remaining"] == 1_200
    await h.send()
    assert h.stats.credits_remaining == 3
    with pytest.raises(CrmRateLimitedError, match="the answer before reported 3 credits left"):
        await h.send()


async def test_the_429s_own_header_is_named_in_the_error(harness: Any) -> None:
    h = harness(_ok("5"), _429(_new_shape(EITHER), remaining="0"))

    await h.send()
    with pytest.raises(CrmRateLimitedError, match=r"Zoho reports 0 credits left"):
        await h.send()
    assert h.stats.credits_remaining == 0


async def test_last_seen_credits_classify_an_ambiguous_429(harness: Any) -> None:
    h = harness(_ok("0"), _429(_new_shape(EITHER)))

    await h.send()
    with pytest.raises(CrmRateLimitedError):
        await h.send()
    assert len(h.script.requests) == 2


async def test_credits_header_clears_when_zoho_stops_sending_it(harness: Any) -> None:
    h = harness(_ok("10"), httpx.Response(500), _ok())

    await h.send(max_retries=0)
    assert h.stats.credits_remaining == 10
    await h.send(max_retries=0)  # an error without the header tells nothing
    assert h.stats.credits_remaining == 10
    await h.send()  # a success without it: under half the credits used again
    assert h.stats.credits_remaining is None


async def test_token_calls_are_not_read_for_credits(harness: Any) -> None:
    h = harness(_429(_new_shape(CREDITS), remaining="0"))

    response = await h.send(kind="token", max_retries=0)

    assert response.status_code == 429
    assert h.stats.credits_remaining is None
    assert h.stats.rate_limited == 0
