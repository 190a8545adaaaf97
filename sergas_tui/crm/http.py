"""HTTP plumbing of the Zoho REST client: defaults, retry rules, rate limits, the send loop.

Shaped like the anthropic SDK's client: every default sits in the constants block below, the
retry decision (:func:`should_retry`) and the delay (:func:`backoff`) are pure functions, and
only 408, 429, 5xx, timeouts and connection errors are retried.

Zoho limits an org by API credits per rolling 24 hours and by calls in flight at once (5 to 25
by edition, 10 for heavy calls); it documents no per-minute limit and sends no ``Retry-After``
(docs/zoho.md, zoho-crm.md section 4). Every attempt of an API call, retries included, first
takes a slot from our own :class:`Limiter`: a semaphore for calls in flight
(``zoho.concurrent_requests``, 5 by default, within every edition's limit) and a sliding-minute
:class:`RateWindow` (``zoho.requests_per_minute``, 120 by default). The per-minute cap is our
client-side politeness, which spreads a day's calls out so that one sync cannot burn the org's
credits in minutes; it is not a Zoho limit. Both are paced by a monotonic clock, never the
domain clock, which may be frozen in the demo. Token calls to the accounts server skip the
limiter: they do not count against the CRM's limits.

The budget is shared by every process of the machine that talks to the same org
(:mod:`sergas_tui.crm.budget`), so an AE's app, a scheduled review and an MCP server together
stay within it.

A 429 from Zoho means one of two things (:func:`rate_limit_kind`): too many calls in flight
(or some other transient limit), which clears in moments, or the org's credits for the last 24
hours used up, which will not clear for hours. The first never fails a call: it is waited out
(the server's ``Retry-After`` when it sends one, else backoff with jitter up to
:data:`MAX_RATE_LIMIT_WAIT_SECONDS`) for up to :data:`RATE_LIMIT_PATIENCE_SECONDS`, without
spending the retry budget, and every wait is told to the open :func:`watch_waits` observers (a
review shows it as progress). The second is not retried but raised at once as
:class:`~sergas_tui.errors.CrmRateLimitedError` saying so. The
``X-API-CREDITS-REMAINING`` header (sent once half the day's credits are used) is kept in
:attr:`CrmStats.credits_remaining`.

Why one module: everything here serves one decision, made for each attempt in
:meth:`Sender.send`: whether to try again (:func:`should_retry`, :func:`backoff`), whether a 429
is a passing limit or spent credits (:func:`rate_limit_kind`), how long to wait and who is told
(:func:`watch_waits`), which slot the attempt takes (:class:`Limiter`, :class:`RateWindow`)
and what is counted (:class:`CrmStats`, :func:`count_calls`). The defaults block at the top
governs all of them, and the send loop is where they combine; split apart, the constants, the
pure rules and the loop would have to be read side by side across files to see what one call
does. What stands on its own already lives elsewhere: error decoding (``crm/errors_map.py``),
the budget shared between processes (``crm/budget.py``) and the REST calls themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx

from sergas_tui import __version__, metrics
from sergas_tui.crm.errors_map import (
    REQUEST_ID_HEADERS,
    decode_json,
    error_from_response,
    error_from_transport,
    parse_error_body,
    request_label,
)
from sergas_tui.errors import CrmRateLimitedError

# --- defaults ---------------------------------------------------------------------------------
DEFAULT_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_RETRIES = 3
INITIAL_RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 30.0
RETRY_JITTER = 0.25  # a backoff delay is shortened by a random 0-25 %
MAX_RETRY_AFTER_SECONDS = 60.0  # a Retry-After longer than this is ignored
RATE_LIMIT_PATIENCE_SECONDS = 900.0  # a call waits out 429s this long before it gives up
MAX_RATE_LIMIT_WAIT_SECONDS = 60.0  # one wait after a 429 (backoff doubles up to this)
SHOWN_WAIT_SECONDS = 1.0  # a limiter wait at least this long is told to wait observers
RETRYABLE_STATUS_CODES = frozenset({408, 429})  # plus every 5xx
DEFAULT_REQUESTS_PER_MINUTE = 120  # our politeness, not a Zoho limit (Zoho has none a minute)
DEFAULT_CONCURRENT_REQUESTS = 5  # Zoho allows 5 (Free) to 25 (Ultimate) in flight
CREDITS_HEADER = "x-api-credits-remaining"
RATE_WINDOW_SECONDS = 60.0
RATE_WINDOW_MARGIN_SECONDS = 0.25  # a call granted now reaches the server a moment later
MIN_LIMITER_WAIT_SECONDS = 0.001  # floor on a limiter wait, so float rounding cannot spin
API_VERSION = "v8"
USER_AGENT = f"sergas/{__version__} (+httpx)"
# ----------------------------------------------------------------------------------------------

Sleep = Callable[[float], Awaitable[None]]
Seconds = Callable[[], float]
CallKind = Literal["api", "token"]
RateLimitKind = Literal["credits", "concurrency", "unknown"]


def should_retry(outcome: int | BaseException) -> bool:
    """Retry a status of 408, 429 or 5xx, a timeout or a connection error; nothing else."""
    if isinstance(outcome, BaseException):
        return isinstance(
            outcome, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
        )
    return outcome in RETRYABLE_STATUS_CODES or 500 <= outcome <= 599


def backoff(
    retry: int,
    *,
    initial: float = INITIAL_RETRY_DELAY_SECONDS,
    cap: float = MAX_RETRY_DELAY_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``retry`` (1 = the first retry).

    ``initial · 2^(retry-1)``, capped at ``cap``, then shortened by a random 0-25 % so that
    clients that failed together do not retry together.
    """
    if retry < 1:
        raise ValueError("retry numbers start at 1")
    base = min(initial * 2.0 ** min(retry - 1, 62), cap)
    return base * (1.0 - RETRY_JITTER * (rng or random).random())


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """A numeric ``Retry-After`` within reason (Zoho documents none, proxies may send one)."""
    value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or not 0 <= seconds <= MAX_RETRY_AFTER_SECONDS:
        return None
    return seconds


def credits_remaining(headers: Mapping[str, str]) -> int | None:
    """``X-API-CREDITS-REMAINING`` as a number; None when absent (less than half the day's
    credits used) or unreadable."""
    value = headers.get(CREDITS_HEADER)
    if value is None:
        return None
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return None


_CREDIT_WORDS = ("24 hour", "credit", "daily", "per day")
_CONCURRENCY_WORDS = ("concurren", "in parallel", "simultaneous")


def message_says_credits(text: str) -> bool:
    """A 429's message names the used-up credits of the last 24 hours, and not calls in
    flight (Zoho's sentence for both names both: that one is not decided by the message)."""
    lowered = text.lower()
    credits = any(word in lowered for word in _CREDIT_WORDS)
    return credits and not any(word in lowered for word in _CONCURRENCY_WORDS)


def rate_limit_kind(
    response: httpx.Response, *, last_remaining: int | None = None
) -> RateLimitKind:
    """Which of Zoho's limits a 429 reports: ``credits``, ``concurrency`` or ``unknown``.

    Both answer ``TOO_MANY_REQUESTS`` (either body shape), and Zoho's documented sentence names
    both causes at once, so the message decides only when it names one of them; otherwise
    ``X-API-CREDITS-REMAINING`` does (on this answer, else ``last_remaining`` from the one
    before): none left means credits, some left means concurrency. Without either it is
    ``unknown`` (treated as transient).
    """
    parsed = parse_error_body(decode_json(response))
    text = (parsed.message or "").lower() if parsed else ""
    credits = any(word in text for word in _CREDIT_WORDS)
    concurrency = any(word in text for word in _CONCURRENCY_WORDS)
    if credits != concurrency:
        return "credits" if credits else "concurrency"
    remaining = credits_remaining(response.headers)
    if remaining is None:
        remaining = last_remaining
    if remaining is None:
        return "unknown"
    return "credits" if remaining == 0 else "concurrency"


def patience_spent_error(
    response: httpx.Response, waited: float, retry_after: float
) -> CrmRateLimitedError:
    """The error for a transient 429 that lasted longer than this call would wait."""
    error = error_from_response(response)
    return CrmRateLimitedError(
        f"{error.message} Sergas waited {wait_text(waited)} for Zoho's limit to clear and "
        f"stopped; trying again in {wait_text(retry_after)} should work.",
        status_code=error.status_code,
        code=error.code,
        request_id=error.request_id,
        details=error.details,
        retry_after=retry_after,
    )


def credits_exhausted_error(
    response: httpx.Response, *, last_remaining: int | None = None
) -> CrmRateLimitedError:
    """The error for a 429 that says the org's API credits for the last 24 hours are gone."""
    parsed = parse_error_body(decode_json(response))
    try:
        label = request_label(response.request)
    except RuntimeError:
        label = "the request"
    what = f"Zoho answered {label} with HTTP {response.status_code}"
    if parsed and parsed.code:
        what += f" {parsed.code}"
    if parsed and parsed.message:
        what += f" ({parsed.message.rstrip('. ')})"
    remaining = credits_remaining(response.headers)
    if remaining is not None:
        left = f" (Zoho reports {remaining:,} credits left)"
    elif last_remaining is not None:
        left = f" (the answer before reported {last_remaining:,} credits left)"
    else:
        left = ""
    request_id = next((v for name in REQUEST_ID_HEADERS if (v := response.headers.get(name))), None)
    return CrmRateLimitedError(
        f"{what}. The org's Zoho API credits for the last 24 hours are used up{left}. Sergas "
        "did not retry: credits come back only as the calls made 24 hours earlier leave Zoho's "
        "rolling window, so waiting minutes will not help. Try again in a few hours, or ask "
        "your Zoho administrator about API usage (other apps share the same credits) or "
        "add-on credits.",
        status_code=response.status_code,
        code=parsed.code if parsed else None,
        request_id=request_id,
        details=parsed.details if parsed else None,
        title="Zoho API credits used up",
    )


class RateWindow:
    """Requests-per-minute limiter over a sliding window; waiters are served in arrival order.

    A call is granted when fewer than ``per_minute`` calls were granted in the last
    ``RATE_WINDOW_SECONDS`` (plus a small margin for the trip to the server), so no rolling
    minute ever holds more than the limit, and a burst up to the limit goes out at once. That is
    what the limit allows and what the CRM measures; a token bucket would have to hold back part
    of the allowance to give the same guarantee.
    """

    def __init__(self, per_minute: int, *, now: Seconds, sleep: Sleep) -> None:
        if per_minute < 1:
            raise ValueError("requests per minute must be at least 1")
        self.per_minute = per_minute
        self._now = now
        self._sleep = sleep
        self._granted: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait for room in the window and take it; returns the seconds waited."""
        waited = 0.0
        window = RATE_WINDOW_SECONDS + RATE_WINDOW_MARGIN_SECONDS
        async with self._lock:
            while True:
                now = self._now()
                while self._granted and self._granted[0] <= now - window:
                    self._granted.popleft()
                if len(self._granted) < self.per_minute:
                    self._granted.append(now)
                    return waited
                wait = max(self._granted[0] + window - now, MIN_LIMITER_WAIT_SECONDS)
                tell_paced(wait, self.per_minute)
                waited += wait
                await self._sleep(wait)


class Limiter:
    """At most ``concurrency`` calls in flight and ``per_minute`` calls per rolling minute.

    Both are our client's own politeness (``zoho.concurrent_requests``,
    ``zoho.requests_per_minute``): Zoho's limits are credits per 24 hours and calls in flight.

    The semaphore is taken before the rate window, so a call is sent right after it is granted
    room in the window.
    """

    def __init__(self, per_minute: int, concurrency: int, *, now: Seconds, sleep: Sleep) -> None:
        self.window = RateWindow(per_minute, now=now, sleep=sleep)
        self.concurrency = concurrency
        self._semaphore = asyncio.Semaphore(concurrency)
        self.in_flight = 0
        self.max_in_flight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold one slot for one HTTP attempt; yields the seconds waited for the rate window."""
        async with self._semaphore:
            waited = await self.window.acquire()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield waited
            finally:
                self.in_flight -= 1


class CallBudget(Protocol):
    """What the sender takes a slot from for each attempt: :class:`Limiter` (this process
    only) or :class:`~sergas_tui.crm.budget.SharedBudget` (every process of the machine)."""

    concurrency: int

    def slot(self) -> contextlib.AbstractAsyncContextManager[float]: ...


@dataclass(frozen=True)
class CrmWait:
    """A wait the CRM client is about to make: how long, and why (for people to read)."""

    seconds: float
    reason: str
    kind: Literal["rate_limited", "paced"]
    """``rate_limited``: Zoho answered 429; ``paced``: our own per-minute budget is spent."""


WaitObserver = Callable[[CrmWait], None]

_WAIT_OBSERVERS: ContextVar[tuple[WaitObserver, ...]] = ContextVar(
    "sergas_crm_wait_observers", default=()
)


@contextmanager
def watch_waits(observer: WaitObserver) -> Iterator[None]:
    """Tell ``observer`` about every wait of the CRM calls made in this block (and in the
    tasks started from it)."""
    token = _WAIT_OBSERVERS.set((*_WAIT_OBSERVERS.get(), observer))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # closed from another context
            _WAIT_OBSERVERS.reset(token)


_PATIENCE: ContextVar[float] = ContextVar(
    "sergas_crm_rate_limit_patience", default=RATE_LIMIT_PATIENCE_SECONDS
)


def current_patience() -> float:
    """Seconds a call of this context waits out transient 429s (see :func:`rate_limit_patience`)."""
    return _PATIENCE.get()


@contextmanager
def rate_limit_patience(seconds: float) -> Iterator[None]:
    """Wait out transient 429s for at most ``seconds`` per call in this block (instead of
    :data:`RATE_LIMIT_PATIENCE_SECONDS`): for a server whose own client gives up sooner, so
    that it answers "rate limited, try again in N s" (:class:`CrmRateLimitedError` with
    ``retry_after``) before that client's timeout."""
    token = _PATIENCE.set(seconds)
    try:
        yield
    finally:
        _PATIENCE.reset(token)


def wait_text(seconds: float) -> str:
    """A wait for people to read: 'under a second', '12 s', '2 min 5 s'."""
    if seconds < 1:
        return "under a second"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def tell_wait(wait: CrmWait) -> None:
    """Tell the open :func:`watch_waits` observers about a wait about to be made."""
    _tell_wait(wait)


def _tell_wait(wait: CrmWait) -> None:
    metrics.zoho_wait(wait.kind)
    for observer in _WAIT_OBSERVERS.get():
        with contextlib.suppress(Exception):  # an observer never breaks a call
            observer(wait)


def tell_paced(seconds: float, per_minute: int) -> None:
    """Tell the wait observers that the per-minute budget holds a call back (long waits only)."""
    if seconds >= SHOWN_WAIT_SECONDS:
        _tell_wait(
            CrmWait(
                seconds,
                f"{per_minute} Zoho calls a minute used (zoho.requests_per_minute); "
                f"next call in {wait_text(seconds)}",
                "paced",
            )
        )


@dataclass
class CrmStats:
    """Counters for benchmarks and `sergas doctor`: what the client actually sent."""

    requests: int = 0
    """API calls sent, every attempt counted (token calls are not)."""
    token_requests: int = 0
    """Calls to the accounts server's token endpoint."""
    retries: int = 0
    """Attempts that were retries after a retryable failure."""
    refreshes: int = 0
    """Access tokens fetched (first one, before expiry, after INVALID_TOKEN)."""
    throttled_seconds: float = 0.0
    """Time spent waiting for the requests-per-minute limiter."""
    rate_limited: int = 0
    """429 answers received (each retry counted)."""
    credits_remaining: int | None = None
    """Zoho's ``X-API-CREDITS-REMAINING`` from the latest API answer: the org's credits left
    in the rolling 24 hours. None until Zoho sends it, which it does once half are used (and
    again None after a successful answer without it)."""
    backoff_seconds: float = 0.0
    """Time spent in retry backoff."""
    rate_limit_waits: int = 0
    """429s that were waited out (transient limits: counted in ``retries`` too, but they do
    not spend the retry budget)."""
    rate_limit_seconds: float = 0.0
    """Time spent waiting out those 429s."""
    by_endpoint: Counter[str] = field(default_factory=Counter)
    """Attempts per endpoint template, e.g. ``GET /Accounts/{id}`` or ``POST /coql Deals``."""

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "token_requests": self.token_requests,
            "retries": self.retries,
            "refreshes": self.refreshes,
            "throttled_seconds": round(self.throttled_seconds, 3),
            "rate_limited": self.rate_limited,
            "credits_remaining": self.credits_remaining,
            "backoff_seconds": round(self.backoff_seconds, 3),
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_seconds": round(self.rate_limit_seconds, 3),
            "by_endpoint": dict(sorted(self.by_endpoint.items())),
        }


@dataclass
class CallCounter:
    """HTTP calls made inside one :func:`count_calls` block (and the tasks it starts)."""

    api: int = 0
    token: int = 0


_COUNTERS: ContextVar[tuple[CallCounter, ...]] = ContextVar("sergas_crm_counters", default=())


@contextmanager
def count_calls() -> Iterator[CallCounter]:
    """Count the calls of one operation, even while others share the client concurrently.

    Tasks inherit the context, so calls made by tasks started inside the block count too.
    """
    counter = CallCounter()
    reset = _COUNTERS.set((*_COUNTERS.get(), counter))
    try:
        yield counter
    finally:
        _COUNTERS.reset(reset)


def note_api_call() -> None:
    """Count one CRM API call made other than through :class:`Sender` (an MCP tool call) in
    every open :func:`count_calls` block."""
    for counter in _COUNTERS.get():
        counter.api += 1


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = INITIAL_RETRY_DELAY_SECONDS
    max_delay: float = MAX_RETRY_DELAY_SECONDS


class Sender:
    """Sends requests with retries, limits and counting; converts transport errors.

    ``build`` is called again for every attempt, so each attempt carries the current access
    token and passes through the limiter again. Responses of any status are returned once
    retries are over: turning them into errors is the caller's job (it knows the context).
    The one exception is a 429 saying the org's daily credits are used up: retrying cannot
    help for hours, so it raises :class:`~sergas_tui.errors.CrmRateLimitedError` at once.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        limiter: CallBudget,
        policy: RetryPolicy,
        stats: CrmStats,
        sleep: Sleep,
        rng: random.Random,
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.policy = policy
        self.stats = stats
        self._sleep = sleep
        self._rng = rng

    def _count(self, kind: CallKind, endpoint: str) -> None:
        if kind == "api":
            self.stats.requests += 1
            self.stats.by_endpoint[endpoint] += 1
        else:
            self.stats.token_requests += 1
        for counter in _COUNTERS.get():
            if kind == "api":
                counter.api += 1
            else:
                counter.token += 1

    def _observe(self, response: httpx.Response) -> None:
        """Keep Zoho's credits header; on a credits-exhausted 429 raise instead of retrying."""
        stats = self.stats
        last = stats.credits_remaining
        remaining = credits_remaining(response.headers)
        if remaining is not None:
            stats.credits_remaining = remaining
        elif response.is_success:
            stats.credits_remaining = None  # Zoho stops sending it below half used
        if response.status_code == 429:
            stats.rate_limited += 1
            if rate_limit_kind(response, last_remaining=last) == "credits":
                raise credits_exhausted_error(response, last_remaining=last)

    async def _attempt(self, request: httpx.Request, kind: CallKind) -> httpx.Response:
        if kind == "token":
            return await self.client.send(request)
        async with self.limiter.slot() as waited:
            self.stats.throttled_seconds += waited
            started = time.perf_counter()
            try:
                response = await self.client.send(request)
            except httpx.TransportError as err:
                failure = "TIMEOUT" if isinstance(err, httpx.TimeoutException) else "NETWORK"
                metrics.zoho_call(time.perf_counter() - started, failure)
                raise
            metrics.zoho_call(time.perf_counter() - started, _error_code(response))
            return response

    def _rate_limit_delay(self, response: httpx.Response, waits: int) -> float:
        delay = retry_after_seconds(response.headers)
        if delay is None:
            delay = backoff(
                waits + 1,
                initial=max(self.policy.initial_delay, MIN_LIMITER_WAIT_SECONDS),
                cap=MAX_RATE_LIMIT_WAIT_SECONDS,
                rng=self._rng,
            )
        return delay

    def _rate_limit_wait(
        self, response: httpx.Response, endpoint: str, delay: float, waited: float
    ) -> float | None:
        """How long to wait out a transient 429 (None: patience is spent, stop waiting)."""
        if waited + delay > current_patience():
            return None
        parsed = parse_error_body(decode_json(response))
        said = f": {parsed.message.rstrip('. ')}" if parsed and parsed.message else ""
        _tell_wait(
            CrmWait(
                delay,
                f"Zoho's rate limit ({endpoint}{said}); trying again in {wait_text(delay)}",
                "rate_limited",
            )
        )
        return delay

    async def send(
        self,
        build: Callable[[], Awaitable[httpx.Request]],
        *,
        endpoint: str,
        kind: CallKind = "api",
        max_retries: int | None = None,
    ) -> httpx.Response:
        """Send with up to ``max_retries`` retries (default from the policy)."""
        retries = self.policy.max_retries if max_retries is None else max_retries
        attempt = 0
        limit_waits = 0
        limit_waited = 0.0
        while True:
            request = await build()
            self._count(kind, endpoint)
            delay: float | None = None
            try:
                response = await self._attempt(request, kind)
            except httpx.TransportError as err:
                if attempt >= retries or not should_retry(err):
                    raise error_from_transport(err, request) from err
            else:
                if kind == "api":
                    self._observe(response)  # raises for used-up credits
                if response.status_code == 429 and kind == "api":
                    # A transient limit: wait it out, whatever the retry budget says.
                    delay = self._rate_limit_delay(response, attempt + limit_waits)
                    wait = self._rate_limit_wait(response, endpoint, delay, limit_waited)
                    if wait is None:
                        raise patience_spent_error(response, limit_waited, delay)
                    limit_waits += 1
                    limit_waited += wait
                    self.stats.retries += 1
                    self.stats.backoff_seconds += wait
                    self.stats.rate_limit_waits += 1
                    self.stats.rate_limit_seconds += wait
                    await self._sleep(wait)
                    continue
                if attempt >= retries or not should_retry(response.status_code):
                    return response
                delay = retry_after_seconds(response.headers)
            attempt += 1
            if delay is None:
                delay = backoff(
                    attempt,
                    initial=self.policy.initial_delay,
                    cap=self.policy.max_delay,
                    rng=self._rng,
                )
            self.stats.retries += 1
            self.stats.backoff_seconds += delay
            await self._sleep(delay)


def _error_code(response: httpx.Response) -> str | None:
    """None for a successful answer; else Zoho's error code, or ``HTTP_<status>``."""
    if response.is_success:
        return None
    parsed = parse_error_body(decode_json(response))
    return parsed.code if parsed is not None else f"HTTP_{response.status_code}"


def timeout_for(seconds: float) -> httpx.Timeout:
    """The httpx timeout for ``zoho.timeout_seconds`` (connecting gets at most 10 s)."""
    return httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))
