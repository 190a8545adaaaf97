"""Outcome tracking rules (sergas_tui.approvals.outcomes.assess), one case per rule row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import JsonValue

from sergas_tui.approvals.outcomes import assess
from sergas_tui.domain import Activity, Change, RecommendationOutcome, RiskSignal
from sergas_tui.domain.records import StageChange
from tests.unit.author_kit import ACCOUNT_ID, DEAL_ID, NOW, make_deal, make_facts, signal

EXECUTED = NOW - timedelta(days=20)
OUR_TASK = "T-ours"


def row(executed_at: datetime | None = EXECUTED, **over: Any) -> RecommendationOutcome:
    values: dict[str, Any] = {
        "recommendation_id": "R1",
        "account_id": ACCOUNT_ID,
        "created_at": EXECUTED - timedelta(days=1),
        "recommendation_type": "create_task",
        "status": "completed",
        "executed_at": executed_at,
    }
    values.update(over)
    return RecommendationOutcome(**values)


def task(id_: str, days_after: float, status: str = "Not Started", **over: Any) -> Activity:
    return Activity(
        id=id_,
        kind="task",
        subject="Follow up",
        when=EXECUTED + timedelta(days=days_after),
        status=status,
        **over,
    )


def call(days_after: float) -> Activity:
    return Activity(
        id="CALL1", kind="call", subject="Call", when=EXECUTED + timedelta(days=days_after)
    )


STALL = signal("stalled_in_stage")
QUIET = signal("no_activity_critical", "critical")
MOVED = make_deal(
    stage_history=[StageChange(stage="Negotiation/Review", changed_at=EXECUTED + timedelta(days=2))]
)
OLD_MOVE = make_deal(
    stage_history=[
        StageChange(stage="Proposal/Price Quote", changed_at=EXECUTED - timedelta(days=9))
    ]
)
STAGE_CHANGE = Change(
    field="Stage",
    old="Proposal/Price Quote",
    new="Negotiation/Review",
    timestamp=EXECUTED + timedelta(days=1),
    module="Deals",
    record_id=DEAL_ID,
)


@dataclass
class Case:
    name: str
    kind: str
    expected: tuple[str, float] | None
    age_days: float = 20
    activities: Sequence[Activity] = ()
    signals: Sequence[RiskSignal] = ()
    deal_ids: Sequence[str] = ()
    deals: Sequence[Any] | None = None
    changes: Sequence[Change] = ()
    written: dict[str, JsonValue] | None = None
    account: dict[str, Any] = field(default_factory=dict)


CASES = [
    # -- tasks (create_task / follow_up_email / escalation) ---------------------------------
    Case(
        "task completed",
        "create_task",
        ("successful", 1.0),
        activities=[task(OUR_TASK, 1, "Completed")],
        signals=[QUIET],
    ),
    Case(
        "completed counts before 3 days",
        "escalation",
        ("successful", 1.0),
        age_days=1,
        activities=[task(OUR_TASK, 0.5, "Completed")],
    ),
    Case(
        "activity resumed, problem remains",
        "follow_up_email",
        ("partial", 0.6),
        activities=[task(OUR_TASK, 0), call(3)],
        signals=[QUIET],
    ),
    Case(
        "activity resumed, no_activity signal gone",
        "follow_up_email",
        ("successful", 0.8),
        activities=[call(3)],
        signals=[STALL],
    ),
    Case(
        "activity resumed, targeted deal moved (history)",
        "create_task",
        ("successful", 0.8),
        activities=[call(3)],
        signals=[STALL],
        deal_ids=[DEAL_ID],
        deals=[MOVED],
    ),
    Case(
        "activity resumed, targeted deal moved (change)",
        "create_task",
        ("successful", 0.8),
        activities=[call(3)],
        signals=[STALL],
        deal_ids=[DEAL_ID],
        changes=[STAGE_CHANGE],
    ),
    Case(
        "activity resumed, targeted deal did not move",
        "create_task",
        ("partial", 0.6),
        activities=[call(3)],
        deal_ids=[DEAL_ID],
        deals=[OLD_MOVE],
    ),
    Case(
        "our own open task is not resumed activity",
        "create_task",
        ("unsuccessful", 0.0),
        activities=[task(OUR_TASK, 2)],
        signals=[QUIET],
    ),
    Case(
        "other Sergas-written tasks do not count",
        "create_task",
        ("unsuccessful", 0.0),
        activities=[task("T2", 2, description="x\n\n[sergas:abc]")],
        signals=[QUIET],
    ),
    Case(
        "future-dated task has not happened",
        "create_task",
        ("unsuccessful", 0.0),
        activities=[task("T3", 30)],
        signals=[QUIET],
    ),
    Case(
        "activity before execution does not count",
        "create_task",
        ("unsuccessful", 0.0),
        activities=[task("T4", -2, "Completed")],
        signals=[QUIET],
    ),
    Case("nothing after 14 days", "escalation", ("unsuccessful", 0.0), age_days=14),
    Case("nothing yet, too early", "create_task", None, age_days=2),
    Case("nothing yet, 3-13 days", "follow_up_email", None, age_days=10, signals=[QUIET]),
    # -- add_note ----------------------------------------------------------------------------
    Case("note, risk cleared", "add_note", ("successful", 1.0), age_days=1),
    Case("note, risk unchanged after 14 days", "add_note", ("successful", 0.5), signals=[QUIET]),
    Case("note, risk still there, too early", "add_note", None, age_days=5, signals=[QUIET]),
    # -- update_account ----------------------------------------------------------------------
    Case(
        "update kept",
        "update_account",
        ("successful", 1.0),
        age_days=1,
        written={"Rating": "At Risk"},
        account={"rating": "At Risk"},
    ),
    Case(
        "update reverted",
        "update_account",
        ("unsuccessful", 0.0),
        age_days=1,
        written={"Rating": "At Risk"},
        account={"rating": "Active"},
    ),
    Case(
        "update of Account_Name kept",
        "update_account",
        ("successful", 1.0),
        written={"Account_Name": "Acme Corp"},
    ),
    Case(
        "update with unknown field",
        "update_account",
        ("unsuccessful", 0.0),
        written={"No_Such_Field": 1},
    ),
    Case("update without written values", "update_account", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_table(case: Case) -> None:
    now = EXECUTED + timedelta(days=case.age_days)
    facts = make_facts(
        case.signals,
        deals=case.deals,
        changes=case.changes,
        reviewed_at=now,
        **case.account,
    ).model_copy(update={"activities": list(case.activities)})
    verdict = assess(
        row(recommendation_type=case.kind),
        case.kind,
        facts,
        now=now,
        result_record_id=OUR_TASK,
        deal_ids=case.deal_ids,
        written=case.written,
    )
    assert verdict == case.expected


def test_facts_read_before_execution_give_no_verdict() -> None:
    facts = make_facts(reviewed_at=EXECUTED - timedelta(minutes=1))
    facts = facts.model_copy(update={"activities": [task(OUR_TASK, 0, "Completed")]})
    verdict = assess(row(), "create_task", facts, now=NOW, result_record_id=OUR_TASK)
    assert verdict is None


@pytest.mark.parametrize("over", [{"status": "approved"}, {"executed_at": None}])
def test_only_executed_rows_are_assessed(over: dict[str, Any]) -> None:
    facts = make_facts().model_copy(update={"activities": [task(OUR_TASK, 1, "Completed")]})
    verdict = assess(row(**over), "create_task", facts, now=NOW, result_record_id=OUR_TASK)
    assert verdict is None
