"""Fault injection: seeded random 429s, 500s and slow answers, plus a schedule by call number.

A :class:`FaultPlan` says what to inject; a :class:`FaultInjector` applies one plan. Every
API call draws exactly three numbers from ``random.Random(plan.seed)``, so the same plan and
the same sequence of calls always give the same faults. Call numbers count API calls since the
plan was installed, starting at 1; the OAuth endpoint takes part only when
``include_token_endpoint`` is set.

Kinds: ``rate_limit`` (429 TOO_MANY_REQUESTS), ``server_error`` (500 INTERNAL_ERROR), ``slow``
(answer after ``delay`` seconds; combines with the others) and ``expire_tokens`` (every access
token issued so far expires, so this call and later ones get 401 INVALID_TOKEN until the client
refreshes).
A call gets at most one error answer: when 429 and 500 are both drawn, 429 wins and only it is
logged and counted.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["rate_limit", "server_error", "slow", "expire_tokens"]
FAULT_KINDS: tuple[FaultKind, ...] = ("expire_tokens", "slow", "rate_limit", "server_error")


@dataclass(frozen=True)
class FaultPlan:
    """What to inject; the default plan injects nothing."""

    seed: int = 0
    rate_limit: float = 0.0
    """Probability that a call is answered 429 TOO_MANY_REQUESTS."""
    server_error: float = 0.0
    """Probability that a call is answered 500 INTERNAL_ERROR."""
    slow: float = 0.0
    """Probability that a call is answered only after ``delay`` seconds."""
    delay: float = 1.0
    schedule: Mapping[int, FaultKind | tuple[FaultKind, ...]] = field(default_factory=dict)
    """Faults forced at given call numbers (1 = the first call after installing the plan)."""
    expire_tokens_at: int | None = None
    """Shorthand for ``schedule={n: "expire_tokens"}``."""
    include_token_endpoint: bool = False
    """Also fault ``POST /oauth/v2/token`` (it never is otherwise)."""

    def scheduled(self, call: int) -> set[FaultKind]:
        kinds = self.schedule.get(call, ())
        chosen: set[FaultKind] = {kinds} if isinstance(kinds, str) else set(kinds)
        if self.expire_tokens_at == call:
            chosen.add("expire_tokens")
        return chosen


class FaultInjector:
    """Applies one plan: call :meth:`draw` once per eligible call."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.calls = 0
        self.log: list[tuple[int, FaultKind]] = []
        self._rng = random.Random(plan.seed)

    def draw(self) -> list[FaultKind]:
        """The faults of the next call, in the order they apply."""
        self.calls += 1
        plan = self.plan
        chosen = plan.scheduled(self.calls)
        # Always three draws, so a plan's sequence never depends on which faults fired.
        slow, limited, failed = (self._rng.random() for _ in range(3))
        if slow < plan.slow:
            chosen.add("slow")
        if limited < plan.rate_limit:
            chosen.add("rate_limit")
        if failed < plan.server_error:
            chosen.add("server_error")
        if "rate_limit" in chosen:
            chosen.discard("server_error")  # one error answer per call: 429 wins
        kinds = [kind for kind in FAULT_KINDS if kind in chosen]
        self.log.extend((self.calls, kind) for kind in kinds)
        return kinds


__all__ = ["FAULT_KINDS", "FaultInjector", "FaultKind", "FaultPlan"]
