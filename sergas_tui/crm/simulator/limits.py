"""Zoho's API limits: a rolling 24-hour credit ledger, a concurrency gate, a per-minute rate.

Costs per call follow zoho-crm.md section 4.2: 1 credit for reads, COQL by LIMIT tier
(1-200 -> 1, 201-1000 -> 2, 1001-2000 -> 3), inserts and updates 1 per 10 records. All three
limits answer 429 TOO_MANY_REQUESTS with no ``Retry-After`` (Zoho sends none).
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

CREDIT_WINDOW = timedelta(hours=24)
RATE_WINDOW_SECONDS = 60.0
HEADER_THRESHOLD = 0.5


def coql_cost(limit: int) -> int:
    """Credits of a COQL query by its LIMIT."""
    if limit <= 200:
        return 1
    return 2 if limit <= 1_000 else 3


def write_cost(records: int) -> int:
    """Credits of an insert or update of ``records`` records."""
    return max(1, math.ceil(records / 10))


class CreditLedger:
    """Credits spent in the last 24 hours (a rolling window, as Zoho's is)."""

    def __init__(self) -> None:
        self._spent: deque[tuple[datetime, int]] = deque()
        self._total = 0

    def used(self, now: datetime) -> int:
        cutoff = now - CREDIT_WINDOW
        while self._spent and self._spent[0][0] <= cutoff:
            _, credits = self._spent.popleft()
            self._total -= credits
        return self._total

    def try_spend(self, credits: int, allowance: int, now: datetime) -> bool:
        """Spend ``credits`` if the allowance has room; False (nothing spent) otherwise."""
        if self.used(now) + credits > allowance:
            return False
        self._spent.append((now, credits))
        self._total += credits
        return True

    def header(self, allowance: int, now: datetime) -> str | None:
        """``X-API-CREDITS-REMAINING`` value, shown once half the allowance is used."""
        used = self.used(now)
        if used < allowance * HEADER_THRESHOLD:
            return None
        return str(max(0, allowance - used))

    def reset(self) -> None:
        self._spent.clear()
        self._total = 0


class ConcurrencyGate:
    """Counts calls in flight; a call over the limit is refused, never queued."""

    def __init__(self) -> None:
        self.in_flight = 0

    def enter(self, limit: int) -> bool:
        if self.in_flight >= limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


class RateWindow:
    """Accepted calls in the last 60 seconds."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def try_acquire(self, limit: int | None, now: float) -> bool:
        times = self._times
        while times and times[0] <= now - RATE_WINDOW_SECONDS:
            times.popleft()
        if limit is not None and len(times) >= limit:
            return False
        times.append(now)
        return True

    def reset(self) -> None:
        self._times.clear()


__all__ = ["ConcurrencyGate", "CreditLedger", "RateWindow", "coql_cost", "write_cost"]
