"""One recommendation per problem: folding the rules author's proposals."""

from __future__ import annotations

from typing import Any

from sergas_tui.agents.author.problems import MAX_PER_ACCOUNT, fold_problems, problem_of
from sergas_tui.domain import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    Recommendation,
    UpdateAccountAction,
)

DEAL = "zoho:Deals:2001"
ACCOUNT = "zoho:Accounts:1001"


def rec(kind: str, action: dict[str, Any], target: str, priority: str = "medium") -> Recommendation:
    return Recommendation.model_validate(
        {
            "id": f"{kind}-{target}",
            "account_id": "1001",
            "type": kind,
            "priority": priority,
            "confidence": "medium",
            "rationale": "because",
            "suggested_action": action,
            "data_references": [target, ACCOUNT],
        }
    )


TASK = {"subject": "Agree a close plan", "description": "Call Ana."}
EMAIL = {"subject": "Next steps", "draft_body": "Hi Ana,", "recipient": "ana@x.test"}
NOTE = {"title": "Risk", "content": "Close date pushed twice."}


def test_a_task_email_and_note_on_one_deal_become_one_decision() -> None:
    [one] = fold_problems(
        [
            rec("follow_up_email", EMAIL, DEAL),
            rec("add_note", NOTE, DEAL, "low"),
            rec("create_task", TASK, DEAL, "high"),
        ]
    )
    assert one.type == "create_task"
    assert one.priority == "high"
    assert isinstance(one.suggested_action, CreateTaskAction)
    description = one.suggested_action.description or ""
    assert "Call Ana." in description
    assert "Suggested email (to ana@x.test):" in description
    assert "Subject: Next steps" in description
    assert [w.type for w in one.also] == ["add_note"]
    assert isinstance(one.also[0].action, AddNoteAction)
    assert problem_of(one) == DEAL


def test_an_escalation_carries_the_account_update() -> None:
    update = {"field_changes": [{"field": "Rating", "old": "Active", "new": "At Risk"}]}
    folded = fold_problems(
        [
            rec("escalation", {"escalate_to": "vp", "reason": "churn"}, ACCOUNT, "high"),
            rec("update_account", update, ACCOUNT, "high"),
        ]
    )
    assert [r.type for r in folded] == ["escalation"]
    assert isinstance(folded[0].suggested_action, EscalationAction)
    assert [w.type for w in folded[0].also] == ["update_account"]
    assert isinstance(folded[0].also[0].action, UpdateAccountAction)


def test_an_account_keeps_at_most_two_unless_one_is_critical() -> None:
    many = [rec("create_task", TASK, f"zoho:Deals:{n}", "medium") for n in range(5)]
    assert len(fold_problems(many)) == MAX_PER_ACCOUNT
    critical = [*many, rec("create_task", TASK, "zoho:Deals:99", "critical")]
    kept = fold_problems(critical)
    assert len(kept) == MAX_PER_ACCOUNT + 1
    assert kept[0].priority == "critical"
    assert fold_problems(many, already_open=1) == fold_problems(many)[:1]


def test_held_problems_leave_whole_and_keep_the_account_cap() -> None:
    deals = [f"zoho:Deals:20{n:02d}" for n in range(4)]
    found = [
        rec("create_task", TASK, deals[0], "critical"),
        rec("create_task", TASK, deals[1], "high"),
        rec("create_task", TASK, deals[2], "high"),
        rec("create_task", TASK, deals[3], "medium"),
    ]
    first = fold_problems(found)
    assert [problem_of(r) for r in first] == deals[:3]  # two, plus one for the critical
    # The next review: the critical one is pending (held, and counted as open). The others
    # stay exactly as they were: the cap still counts the critical problem.
    again = fold_problems(found, already_open=1, held={deals[0]})
    assert [problem_of(r) for r in again] == deals[1:3]
    # Parts that rode with a held problem do not come back on their own.
    with_note = [
        rec("create_task", TASK, DEAL, "high").model_copy(update={"signals": ["amount_cut"]}),
        rec("add_note", NOTE, ACCOUNT, "low").model_copy(update={"signals": ["amount_cut"]}),
    ]
    [merged] = fold_problems(with_note)
    assert [w.type for w in merged.also] == ["add_note"]
    assert fold_problems(with_note, already_open=1, held={DEAL}) == []
