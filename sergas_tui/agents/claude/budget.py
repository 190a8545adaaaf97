"""What a review may spend on the model: a cost budget and a time limit, checked per request.

``[anthropic] max_cost_usd`` caps the model cost of one run and ``[orchestrator]
session_timeout_minutes`` its duration. Both stop gracefully: a request already sent finishes,
no new request starts, and the accounts still waiting are reviewed by the rules engine (the
engine says so in the run's events). :func:`usage_of_result` turns a ``ResultMessage`` into a
:class:`~sergas_tui.agents.events.Usage`, computing the cost delta: the CLI reports cost
cumulatively per conversation (reset by ``/clear``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sergas_tui.agents.events import Usage


@dataclass
class Budget:
    """The run's spending so far against its limits; ``stop_reason`` once one is reached."""

    max_cost_usd: float | None = None
    deadline: float | None = None
    """``time.monotonic()`` value after which no new request starts."""
    clock: Callable[[], float] = time.monotonic
    spent: Usage = field(default_factory=Usage)

    def add(self, usage: Usage) -> None:
        self.spent = self.spent + usage

    def remaining_seconds(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def stop_reason(self) -> str | None:
        """Why no new request may start, or ``None`` while within the limits."""
        cost = self.spent.cost_usd or 0.0
        if self.max_cost_usd is not None and cost >= self.max_cost_usd:
            return (
                f"the run's model budget of ${self.max_cost_usd:.2f} is spent (${cost:.4f} so far)"
            )
        remaining = self.remaining_seconds()
        if remaining is not None and remaining <= 0:
            return "the run's time limit ([orchestrator] session_timeout_minutes) is reached"
        return None


def _int(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return int(value) if isinstance(value, int | float) else 0


@dataclass
class CostTracker:
    """Turns the CLI's cumulative per-conversation cost into per-request deltas."""

    conversation: str | None = None
    reported: float = 0.0

    def delta(self, session_id: str | None, total_cost_usd: float | None) -> float | None:
        if total_cost_usd is None:
            return None
        if session_id != self.conversation or total_cost_usd < self.reported:
            self.conversation, self.reported = session_id, 0.0
        delta = total_cost_usd - self.reported
        self.reported = total_cost_usd
        return max(delta, 0.0)


def usage_of_result(
    usage: Mapping[str, Any] | None, cost_delta: float | None, requests: int = 1
) -> Usage:
    """A request's :class:`Usage` from ``ResultMessage.usage`` (per query, not cumulative)."""
    usage = usage or {}
    tokens_in = (
        _int(usage, "input_tokens")
        + _int(usage, "cache_creation_input_tokens")
        + _int(usage, "cache_read_input_tokens")
    )
    return Usage(
        input_tokens=tokens_in,
        output_tokens=_int(usage, "output_tokens"),
        cost_usd=cost_delta,
        requests=requests,
    )
