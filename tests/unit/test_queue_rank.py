"""The daily queue's ranking (domain/queue.py): expected value from severity, money at stake,
recency and the owner's own history; the budget's open slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sergas_tui.domain import (
    Approval,
    ApprovalStatus,
    Change,
    CreateTaskAction,
    Deal,
    Recommendation,
)
from sergas_tui.domain.queue import (
    OwnerHistory,
    expected_value,
    is_recent,
    money_at_stake,
    open_slots,
    queue_order,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def rec(**over: Any) -> Recommendation:
    values: dict[str, Any] = {
        "type": "create_task",
        "priority": "high",
        "confidence": "high",
        "rationale": "Why.",
        "suggested_action": CreateTaskAction(subject="Call"),
        "data_references": ["zoho:Deals:D1", "zoho:Accounts:A1"],
        "account_id": "A1",
        "signals": ["stalled_in_stage"],
        "created_at": NOW,
    }
    values.update(over)
    return Recommendation(**values)


def deal(ident: str, amount: float, stage: str = "Proposal/Price Quote", **over: Any) -> Deal:
    return Deal(id=ident, name=f"Deal {ident}", amount=amount, stage=stage, **over)


def decided(status: ApprovalStatus, kind: str = "create_task", days_ago: int = 5) -> Approval:
    when = NOW - timedelta(days=days_ago)
    return Approval(
        recommendation_id="R",
        account_id="A1",
        owner_email="ana@x.test",
        action_type=kind,
        payload=CreateTaskAction(subject="x"),
        status=status,
        created_at=when,
        decided_at=when,
    )


def test_money_at_stake_cited_deals_then_the_account_then_last_years_wins() -> None:
    deals = [
        deal("D1", 40_000),
        deal("D2", 60_000),
        deal("D3", 99_000, "Closed Won", closing_date=TODAY - timedelta(days=30)),
        deal("D4", 77_000, "Closed Won", closing_date=TODAY - timedelta(days=500)),
        deal("D5", 11_000, "Closed Lost", closing_date=TODAY - timedelta(days=30)),
    ]
    assert money_at_stake(rec(), deals, TODAY) == 40_000
    account_problem = rec(data_references=["zoho:Accounts:A1"])
    assert money_at_stake(account_problem, deals, TODAY) == 100_000
    only_closed = [d for d in deals if d.stage and d.stage.startswith("Closed")]
    assert money_at_stake(account_problem, only_closed, TODAY) == 99_000
    assert money_at_stake(account_problem, [], TODAY) == 0


def test_expected_value_orders_by_severity_money_recency_and_history() -> None:
    fresh = OwnerHistory()
    high = expected_value(rec(), at_stake=50_000, recent=False, history=fresh)
    medium = expected_value(rec(priority="medium"), at_stake=50_000, recent=False, history=fresh)
    assert high == pytest.approx(2 * medium, rel=1e-3)
    assert expected_value(rec(), at_stake=500_000, recent=False, history=fresh) > high
    recent = expected_value(rec(), at_stake=50_000, recent=True, history=fresh)
    assert recent == pytest.approx(1.25 * high, rel=1e-3)
    # An owner who rejects every task sees tasks lower; one who approves them, higher.
    rejecting = OwnerHistory.from_approvals([decided(ApprovalStatus.REJECTED)] * 4, NOW)
    approving = OwnerHistory.from_approvals([decided(ApprovalStatus.EXECUTED)] * 4, NOW)
    low = expected_value(rec(), at_stake=50_000, recent=False, history=rejecting)
    top = expected_value(rec(), at_stake=50_000, recent=False, history=approving)
    assert low < high < top
    # Decisions older than the history window, pending and expired ones do not count.
    old = OwnerHistory.from_approvals([decided(ApprovalStatus.REJECTED, days_ago=200)], NOW)
    waiting = OwnerHistory.from_approvals([decided(ApprovalStatus.PENDING)], NOW)
    assert old.factor(rec()) == waiting.factor(rec()) == 1.0


def test_not_useful_marks_halve_that_rule_for_the_owner() -> None:
    history = OwnerHistory(not_useful={"stalled_in_stage": 2})
    assert history.factor(rec()) == 0.25
    assert history.factor(rec(signals=["no_next_step"])) == 1.0
    many = OwnerHistory(not_useful={"stalled_in_stage": 10})
    assert many.factor(rec()) == 0.125  # never to nothing: the item can still be pulled in


def test_recent_means_a_cited_record_changed_since_the_last_review() -> None:
    moved = [Change(field="Stage", old="A", new="B", module="Deals", record_id="D1")]
    assert is_recent(rec(), moved, "A1")
    assert not is_recent(rec(), [Change(field="Stage", module="Deals", record_id="D9")], "A1")
    account_change = [Change(field="Rating", old="Active", new="Acquired")]
    assert is_recent(rec(), account_change, "A1")


def test_open_slots_cap_the_day_and_the_waiting_queue() -> None:
    assert open_slots(18, landed_today=0, waiting=0) == 18
    assert open_slots(18, landed_today=18, waiting=0) == 0  # the day's budget is spent
    assert open_slots(18, landed_today=0, waiting=13) == 5  # yesterday's items still wait
    assert open_slots(18, landed_today=30, waiting=30) == 0  # pulled in past it: never negative


def test_queue_order_is_best_value_first_and_stable() -> None:
    a = rec(id="a", value=3.0)
    b = rec(id="b", value=9.0)
    c = rec(id="c", value=3.0, priority="critical")
    assert [r.id for r in queue_order([a, b, c])] == ["b", "c", "a"]
    assert [r.id for r in queue_order([c, a, b])] == ["b", "c", "a"]
