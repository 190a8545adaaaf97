"""Zoho's API limits: a rolling 24-hour credit ledger by edition, and concurrency gates.

What Zoho documents (zoho-crm.md section 4; https://www.zoho.com/crm/help/api/api-limits.html,
https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html, Kaizen #93 and #203):

- Credits per rolling 24 hours, per org, by edition: Free 5,000; Standard/Starter, Professional,
  Enterprise/Zoho One and Ultimate/CRM Plus 50,000 + 250/500/1,000/2,000 per user licence +
  add-on credits, capped at 100,000 / 3,000,000 / 5,000,000 / no cap.
- ``X-API-CREDITS-REMAINING`` on responses once at least half of the day's credits (add-ons
  left out) are used.
- Calls in flight at once, per org and app: Free 5, Standard 10, Professional 15, Enterprise 20,
  Ultimate 25; plus a sub-concurrency limit of 10 (all editions) for heavy calls.
- Over any of them: HTTP 429 ``TOO_MANY_REQUESTS``, with no ``Retry-After`` and no
  ``X-RateLimit-*`` headers (none are documented).

Costs per call (section 4.2): 1 credit for reads and metadata, COQL by LIMIT tier
(1-200 -> 1, 201-1000 -> 2, 1001-2000 -> 3), inserts, updates and upserts 1 per 10 records.

Zoho documents no per-minute limit. :class:`RateWindow` stays only as an opt-in test knob
(``SimulatorConfig.per_minute``, off by default) for checking a client's own politeness limit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

CREDIT_WINDOW = timedelta(hours=24)
RATE_WINDOW_SECONDS = 60.0
HEADER_THRESHOLD = 0.5
CREDITS_HEADER: Final = "X-API-CREDITS-REMAINING"
SUB_CONCURRENCY = 10
"""Heavy calls in flight at once, in every edition."""
HEAVY_WRITE_RECORDS = 10
"""An insert, update or upsert of more than this many records is a heavy call."""

HEAVY_TEMPLATES = frozenset({"COQL", "SEARCH {module}"})
"""Endpoint kinds that are always heavy calls (COQL, search)."""
BULK_WRITE_TEMPLATES = frozenset({"POST {module}", "PUT {module}", "UPSERT {module}"})
"""Multi-record writes: heavy above ``HEAVY_WRITE_RECORDS`` records."""

Edition = Literal["free", "standard", "professional", "enterprise", "ultimate"]
EDITION_NAMES: tuple[Edition, ...] = get_args(Edition)

# The messages of our 429s: Zoho's status-codes page gives one sentence for both causes
# ("Number of API requests for the 24 hour period is exceeded or the concurrency limit of the
# user for the app is exceeded"); we say which half applies.
CREDITS_EXHAUSTED = "Number of API requests for the 24 hour period is exceeded"
CONCURRENCY_EXCEEDED = "The concurrency limit of the user for the app is exceeded"
SUB_CONCURRENCY_EXCEEDED = "The sub-concurrency limit of the user for the app is exceeded"
EITHER_LIMIT = (
    "Number of API requests for the 24 hour period is exceeded or the concurrency limit of the "
    "user for the app is exceeded"
)
"""The sentence itself, for 429s that do not say which limit (injected faults)."""


@dataclass(frozen=True)
class EditionLimits:
    """One edition's row of Zoho's API-limits tables."""

    base_credits: int
    per_licence: int
    max_credits: int | None
    """Cap on the allowance; None: no cap (Ultimate/CRM Plus)."""
    concurrency: int


EDITIONS: Mapping[str, EditionLimits] = {
    "free": EditionLimits(5_000, 0, 5_000, 5),
    "standard": EditionLimits(50_000, 250, 100_000, 10),
    "professional": EditionLimits(50_000, 500, 3_000_000, 15),
    "enterprise": EditionLimits(50_000, 1_000, 5_000_000, 20),
    "ultimate": EditionLimits(50_000, 2_000, None, 25),
}


def edition_limits(edition: str) -> EditionLimits:
    """The limits of ``edition``; a ValueError naming the editions for anything else."""
    limits = EDITIONS.get(edition)
    if limits is None:
        names = ", ".join(EDITION_NAMES)
        raise ValueError(f"unknown Zoho CRM edition {edition!r}; use one of {names}")
    return limits


def credit_allowance(edition: str, licences: int, add_ons: int = 0) -> int:
    """Credits per rolling 24 hours: 50,000 + per-licence x licences + add-ons, capped at the
    edition's maximum (Free: 5,000 flat; Ultimate/CRM Plus: no cap)."""
    limits = edition_limits(edition)
    total = limits.base_credits + limits.per_licence * max(0, licences) + max(0, add_ons)
    return total if limits.max_credits is None else min(total, limits.max_credits)


@dataclass(frozen=True)
class Allowance:
    """The day's credits and the part the header threshold is measured against."""

    total: int
    """Credits per rolling 24 hours."""
    header_base: int
    """Credits without add-ons: the header appears once half of these are used."""


def coql_cost(limit: int) -> int:
    """Credits of a COQL query by its LIMIT."""
    if limit <= 200:
        return 1
    return 2 if limit <= 1_000 else 3


def write_cost(records: int) -> int:
    """Credits of an insert, update or upsert of ``records`` records."""
    return max(1, math.ceil(records / 10))


def is_heavy_call(template: str, params: Mapping[str, str], records: int = 0) -> bool:
    """Whether a call falls under the sub-concurrency limit.

    Zoho's list (api-limits page, zoho-crm.md section 4.3): Get Records with ``cvid`` or
    ``sort_by``, Convert Lead, Insert/Update/Upsert of more than 10 records, Send Mail, Search
    Records, Query (COQL) and Composite. ``template`` is the simulator's endpoint kind before
    the module is filled in (``GET {module}``, ``COQL``...); ``records`` the size of a write's
    ``data`` array.
    """
    if template in HEAVY_TEMPLATES:
        return True
    if template == "GET {module}":
        return bool(params.get("cvid") or params.get("sort_by"))
    if template in BULK_WRITE_TEMPLATES:
        return records > HEAVY_WRITE_RECORDS
    return False


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

    def header(self, allowance: Allowance, now: datetime) -> str | None:
        """``X-API-CREDITS-REMAINING``, shown once half the credits without add-ons are used."""
        used = self.used(now)
        if used < allowance.header_base * HEADER_THRESHOLD:
            return None
        return str(max(0, allowance.total - used))

    def reset(self) -> None:
        self._spent.clear()
        self._total = 0


class ConcurrencyGate:
    """Counts calls in flight; a call over the limit is refused, never queued."""

    def __init__(self) -> None:
        self.in_flight = 0

    def enter(self, limit: int | None) -> bool:
        if limit is not None and self.in_flight >= limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


class RateWindow:
    """Accepted calls in the last 60 seconds (an opt-in test knob: Zoho has no such limit)."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def try_acquire(self, limit: int | None, now: float) -> bool:
        if limit is None:
            return True
        times = self._times
        while times and times[0] <= now - RATE_WINDOW_SECONDS:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True

    def reset(self) -> None:
        self._times.clear()


__all__ = [
    "BULK_WRITE_TEMPLATES",
    "CONCURRENCY_EXCEEDED",
    "CREDITS_EXHAUSTED",
    "CREDITS_HEADER",
    "EDITIONS",
    "EDITION_NAMES",
    "EITHER_LIMIT",
    "HEAVY_TEMPLATES",
    "SUB_CONCURRENCY",
    "SUB_CONCURRENCY_EXCEEDED",
    "Allowance",
    "ConcurrencyGate",
    "CreditLedger",
    "Edition",
    "EditionLimits",
    "RateWindow",
    "coql_cost",
    "credit_allowance",
    "edition_limits",
    "is_heavy_call",
    "write_cost",
]
