"""The owner's daily queue: which recommendations land as approvals, best expected value first.

A review may find more worth doing than a person can decide in a day. Each recommendation gets
an expected value (:func:`expected_value`), the product of four plain factors:

- **severity** — its priority: critical 8, high 4, medium 2, low 1;
- **money at stake** — the open deals it is about (the account's open deals when it is about the
  account; without open deals, what the customer bought in the last year), on a log scale:
  ``1 + log10(1 + amount / 1,000)``, so 10,000 counts about 2 and 1,000,000 about 4; nothing at
  stake counts 1;
- **recency** — 1.25 when the records it cites changed since the last review, else 1;
- **the owner's history** — how often this owner accepted (approved, adjusted or had executed)
  this type of action in the last :data:`HISTORY_DAYS` days: ``0.5 + (accepted + 1) / (decided +
  2)``, 1 with no history; halved for each "not useful" mark the owner gave one of its signals
  (down to an eighth).

:func:`open_slots` says how many may land now under ``[review] daily_budget``: at most the budget
per day and at most the budget waiting at once. Critical ones land regardless (a concrete
near-term loss must not wait behind a budget). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sergas_tui.domain.approval import Approval, ApprovalStatus
from sergas_tui.domain.common import Priority
from sergas_tui.domain.outputs import Recommendation
from sergas_tui.domain.records import Change, Deal

SEVERITY_FACTOR: Mapping[Priority, float] = {
    "critical": 8.0,
    "high": 4.0,
    "medium": 2.0,
    "low": 1.0,
}
RECENT_FACTOR = 1.25
HISTORY_DAYS = 90
"""How far back the owner's decisions count."""
NOT_USEFUL_FLOOR = 0.125
CLOSED_PREFIX = "closed"
WON_STAGE = "closed won"
WON_LOOKBACK_DAYS = 365

_ACCEPTED = frozenset(
    {
        ApprovalStatus.APPROVED,
        ApprovalStatus.ADJUSTED,
        ApprovalStatus.EXECUTING,
        ApprovalStatus.EXECUTED,
        ApprovalStatus.FAILED,
        ApprovalStatus.CONFLICT,
    }
)


def _open(deal: Deal) -> bool:
    return not (deal.stage or "").strip().lower().startswith(CLOSED_PREFIX)


def _deal_ids(rec: Recommendation) -> list[str]:
    ids: list[str] = []
    for ref in rec.data_references:
        head = ref.split("#", 1)[0]
        parts = head.split(":")
        if len(parts) == 3 and parts[1] == "Deals" and parts[2] not in ids:
            ids.append(parts[2])
    return ids


def money_at_stake(rec: Recommendation, deals: Sequence[Deal], today: date) -> float:
    """The money a recommendation is about: the open deals it cites, else (an account problem)
    all the account's open deals, else what the customer bought in the last year (won deals
    closed within :data:`WON_LOOKBACK_DAYS`: what losing them would cost)."""
    open_deals = {d.id: d for d in deals if _open(d)}
    cited = [open_deals[i] for i in _deal_ids(rec) if i in open_deals]
    chosen = cited or list(open_deals.values())
    if not chosen:
        since = today - timedelta(days=WON_LOOKBACK_DAYS)
        chosen = [
            d
            for d in deals
            if (d.stage or "").strip().lower() == WON_STAGE
            and d.closing_date is not None
            and since <= d.closing_date <= today
        ]
    return float(sum(d.amount or 0.0 for d in chosen))


def is_recent(rec: Recommendation, changes: Iterable[Change], account_id: str) -> bool:
    """Whether a record the recommendation cites changed since the last review."""
    cited = {ref.split("#", 1)[0] for ref in rec.data_references}
    for change in changes:
        module = change.module or "Accounts"
        record = change.record_id or account_id
        if f"zoho:{module}:{record}" in cited:
            return True
    return False


@dataclass(frozen=True)
class OwnerHistory:
    """One owner's recent decisions: per action type, how many were decided and accepted;
    per signal key, how many rejections were marked "not useful"."""

    decided: Mapping[str, int] = field(default_factory=dict)
    accepted: Mapping[str, int] = field(default_factory=dict)
    not_useful: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_approvals(
        cls,
        approvals: Iterable[Approval],
        now: datetime,
        *,
        not_useful: Mapping[str, int] | None = None,
    ) -> OwnerHistory:
        since = now - timedelta(days=HISTORY_DAYS)
        decided: dict[str, int] = {}
        accepted: dict[str, int] = {}
        for approval in approvals:
            when = approval.decided_at or approval.created_at
            if when < since or approval.status in (ApprovalStatus.PENDING, ApprovalStatus.EXPIRED):
                continue
            kind = str(approval.action_type)
            decided[kind] = decided.get(kind, 0) + 1
            if approval.status in _ACCEPTED:
                accepted[kind] = accepted.get(kind, 0) + 1
        return cls(decided=decided, accepted=accepted, not_useful=dict(not_useful or {}))

    def factor(self, rec: Recommendation) -> float:
        decided = self.decided.get(rec.type, 0)
        base = 1.0
        if decided:
            base = 0.5 + (self.accepted.get(rec.type, 0) + 1) / (decided + 2)
        marks = max((self.not_useful.get(key, 0) for key in rec.signals), default=0)
        return base * max(NOT_USEFUL_FLOOR, 0.5**marks)


def expected_value(
    rec: Recommendation, *, at_stake: float, recent: bool, history: OwnerHistory
) -> float:
    """The recommendation's rank in its owner's queue (higher first); see the module text."""
    money = 1.0 + math.log10(1.0 + max(0.0, at_stake) / 1_000.0)
    value = SEVERITY_FACTOR[rec.priority] * money * history.factor(rec)
    if recent:
        value *= RECENT_FACTOR
    return round(value, 4)


def open_slots(budget: int, *, landed_today: int, waiting: int) -> int:
    """How many more may land now: at most ``budget`` a day, at most ``budget`` waiting."""
    return max(0, min(budget - landed_today, budget - waiting))


def queue_order(recs: Iterable[Recommendation]) -> list[Recommendation]:
    """Best expected value first (ties: priority, then the older, then by id)."""
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return sorted(recs, key=lambda r: (-(r.value or 0.0), rank[r.priority], r.created_at, r.id))
