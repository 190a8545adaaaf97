"""What the simulator saw, for tests and benchmarks: calls, credits, peaks, faults, 429s.

Endpoint kinds name the call the way a person would: ``GET Accounts`` (list),
``GET Accounts/{id}``, ``GET Accounts/{id}/Contacts``, ``GET Deals/{id}/__timeline``,
``SEARCH Contacts``, ``COQL Deals``, ``GET users``, ``POST Tasks``, ``POST Notes``,
``POST Accounts/{id}/Notes``, ``PUT Accounts``, ``PUT Accounts/{id}``, and ``token`` for the
OAuth endpoint (counted in ``token_calls``, never in ``total_calls``).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

WINDOW_SECONDS = 60.0


@dataclass
class Counters:
    """Counts since the simulator started or :meth:`Simulator.reset_counters` was called."""

    calls: Counter[str] = field(default_factory=Counter)
    """API calls (and ``token``) per endpoint kind."""
    credits: Counter[str] = field(default_factory=Counter)
    """Credits charged per endpoint kind."""
    total_calls: int = 0
    """API calls that reached the simulator (token calls excluded)."""
    token_calls: int = 0
    """Calls to ``POST /oauth/v2/token``."""
    peak_concurrency: int = 0
    """Most API calls in flight at once."""
    peak_per_minute: int = 0
    """Most API calls that arrived within any rolling 60 seconds (a measure of the client's
    own politeness limit: Zoho has no per-minute limit)."""
    faults: Counter[str] = field(default_factory=Counter)
    """Injected faults per kind (``rate_limit``, ``server_error``, ``slow``, ``expire_tokens``)."""
    too_many_requests: int = 0
    """429 answers, whatever the cause."""
    limits_hit: Counter[str] = field(default_factory=Counter)
    """429 answers per cause: ``concurrency``, ``sub_concurrency``, ``credits``,
    ``per_minute`` (the opt-in test knob) and ``injected`` (the fault plan)."""
    status: Counter[int] = field(default_factory=Counter)
    """API answers per HTTP status."""
    _arrivals: deque[float] = field(default_factory=deque, repr=False)

    @property
    def credits_total(self) -> int:
        return sum(self.credits.values())

    def arrived(self, now: float) -> None:
        """Count an API call arriving at monotonic time ``now``."""
        self.total_calls += 1
        arrivals = self._arrivals
        arrivals.append(now)
        while arrivals and arrivals[0] <= now - WINDOW_SECONDS:
            arrivals.popleft()
        self.peak_per_minute = max(self.peak_per_minute, len(arrivals))

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, handy for printing benchmark figures."""
        return {
            "calls": dict(self.calls),
            "credits": dict(self.credits),
            "credits_total": self.credits_total,
            "total_calls": self.total_calls,
            "token_calls": self.token_calls,
            "peak_concurrency": self.peak_concurrency,
            "peak_per_minute": self.peak_per_minute,
            "faults": dict(self.faults),
            "too_many_requests": self.too_many_requests,
            "limits_hit": dict(self.limits_hit),
            "status": dict(self.status),
        }


__all__ = ["Counters"]
