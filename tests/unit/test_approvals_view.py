"""The approvals queue's view model: the join, the exact-write preview, order, filter, wording,
the adjust form and the undo countdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import JsonValue

from sergas_tui.domain import Approval, ApprovalStatus, Recommendation
from sergas_tui.domain.names import RecordNames
from sergas_tui.viewmodels.approval_form import form_fields, form_problems, payload_from_form
from sergas_tui.viewmodels.approval_preview import (
    FieldDiff,
    PreviewField,
    conflict_values,
    write_preview,
)
from sergas_tui.viewmodels.approval_queue import Countdowns
from sergas_tui.viewmodels.approvals import (
    QueueItem,
    bulk_summary,
    filter_queue,
    join_queue,
    make_item,
    queue_status,
    refusal,
    sort_queue,
    status_text,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
S = ApprovalStatus

EMAIL = {"subject": "Hi", "draft_body": "Line 1\nLine 2", "recipient": "c@x", "next_steps": ["A"]}
TASK = {"subject": "Call", "due_date": "2026-11-09", "priority": "High", "description": "D"}
NOTE = {"title": "Recap", "content": "Budget ok"}
ESCALATION = {"escalate_to": "vp@x", "reason": "Churn"}
UPDATE = {"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]}


def approval(action_type: str = "create_task", payload: Any = None, **overrides: Any) -> Approval:
    data: dict[str, Any] = {
        "id": "a-1",
        "recommendation_id": "rec-1",
        "account_id": "123",
        "owner_email": "a@x",
        "action_type": action_type,
        "payload": payload if payload is not None else TASK,
        "created_at": NOW,
    }
    return Approval.model_validate(data | overrides)


def recommendation(priority: str = "high", **overrides: Any) -> Recommendation:
    data: dict[str, Any] = {
        "id": "rec-1",
        "type": "create_task",
        "priority": priority,
        "confidence": "medium",
        "rationale": "Quiet for 40 days.",
        "suggested_action": TASK,
        "data_references": ["zoho:Accounts:123"],
        "account_id": "123",
    }
    return Recommendation.model_validate(data | overrides)


def names_for(name: str = "Acme", account_id: str = "123", deal_amount: float = 0) -> RecordNames:
    """Names that know one account (and, with an amount, one open deal of it)."""
    names = RecordNames()
    deals: dict[str, JsonValue] = {
        f"{account_id}-d": {"Deal_Name": "Renewal", "Stage": "Qualification", "Amount": deal_amount}
    }
    names.add_snapshot(account_id, {"Account_Name": name, "Deals": deals if deal_amount else {}})
    return names


ACME = names_for()


def item(
    ident: str, priority: str | None, minutes: int = 0, name: str = "Acme", value: float = 0
) -> QueueItem:
    rec = None if priority is None else recommendation(priority, id=f"rec-{ident}")
    base = approval(id=ident, recommendation_id=f"rec-{ident}")
    base = base.model_copy(update={"created_at": NOW + timedelta(minutes=minutes)})
    return make_item(base, rec, names_for(name, deal_amount=value))


# -- the exact write ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action_type", "payload", "module", "fields"),
    [
        (
            "follow_up_email",
            EMAIL,
            "Tasks",
            [
                PreviewField("To", "c@x"),
                PreviewField("Subject", "Hi"),
                PreviewField("Body", "Line 1\nLine 2", multiline=True),
                PreviewField("Next steps", "- A", multiline=True),
                PreviewField("Logged as task", "Send email: Hi"),
            ],
        ),
        (
            "create_task",
            TASK,
            "Tasks",
            [
                PreviewField("Subject", "Call"),
                PreviewField("Due", "2026-11-09"),
                PreviewField("Priority", "High"),
                PreviewField("Description", "D", multiline=True),
            ],
        ),
        (
            "add_note",
            NOTE,
            "Notes",
            [PreviewField("Title", "Recap"), PreviewField("Content", "Budget ok", multiline=True)],
        ),
        (
            "escalation",
            ESCALATION,
            "Tasks",
            [PreviewField("To", "vp@x"), PreviewField("Reason", "Churn", multiline=True)],
        ),
        (
            "escalation",
            {"escalate_to": "sales_manager", "reason": "Churn"},
            "Tasks",
            [
                PreviewField("To", "your sales manager (not named in [zoho] people)"),
                PreviewField("Reason", "Churn", multiline=True),
            ],
        ),
    ],
)
def test_preview_shows_every_field_of_the_write(
    action_type: str, payload: dict[str, Any], module: str, fields: list[PreviewField]
) -> None:
    preview = write_preview(approval(action_type, payload), ACME)
    assert preview.module == module
    assert list(preview.fields) == fields
    assert "Acme (123)" in preview.record


def test_update_preview_shows_old_and_new() -> None:
    preview = write_preview(approval("update_account", UPDATE), ACME)
    assert preview.module == "Accounts"
    assert preview.record == "Acme (123)"
    assert preview.changes == (FieldDiff("Rating", "'Warm'", "'Hot'"),)


def test_update_preview_shows_amounts_with_the_currency() -> None:
    names = RecordNames(home_currency="EUR")
    names.add_snapshot("123", {"Account_Name": "Acme", "Currency": "GBP"})
    revenue = {"field_changes": [{"field": "Annual_Revenue", "old": 1000, "new": 2500.5}]}
    preview = write_preview(approval("update_account", revenue), names)
    assert preview.changes == (FieldDiff("Annual_Revenue", "GBP 1,000", "GBP 2,500.50"),)


def test_email_recipient_is_named_from_the_account_contacts() -> None:
    names = RecordNames()
    contacts: dict[str, JsonValue] = {
        "c1": {"Full_Name": "Liam Murphy"},
        "c2": {"Full_Name": "Rosa Rossi"},
    }
    names.add_snapshot("123", {"Account_Name": "Acme", "Contacts": contacts})
    email = {**EMAIL, "recipient": "liam.murphy@acme.example"}
    fields = write_preview(approval("follow_up_email", email), names).fields
    assert PreviewField("To", "Liam Murphy <liam.murphy@acme.example>") in fields


def test_task_priority_shown_as_the_executor_writes_it() -> None:
    odd = approval(payload={**TASK, "priority": "Urgent"})
    assert PreviewField("Priority", "Normal") in write_preview(odd, ACME).fields


def test_conflict_values_come_from_details() -> None:
    conflicted = approval(
        "update_account", UPDATE, status="conflict", details={"current": {"Rating": "Cold"}}
    )
    assert conflict_values(conflicted) == [("Rating", "'Cold'")]
    assert conflict_values(approval()) == []


# -- join, order, filter --------------------------------------------------------------------


def test_join_takes_priority_rationale_and_evidence() -> None:
    [joined] = join_queue([approval()], {"rec-1": recommendation("critical")}, ACME)
    assert (joined.priority, joined.confidence) == ("critical", "medium")
    assert joined.rationale == "Quiet for 40 days."
    assert [e.text for e in joined.evidence] == ["Account 'Acme'"]
    assert [e.ref for e in joined.evidence] == ["zoho:Accounts:123"]
    assert joined.account_name == "Acme"
    assert joined.account_label == "Acme (123)"
    assert joined.account_url is None  # no web UI known (the demo org)


def test_join_without_a_name_shows_a_short_id() -> None:
    [joined] = join_queue([approval(account_id="5725767000001007306")], {}, RecordNames())
    assert joined.account_name == "Account …7306"
    assert joined.priority is None
    assert joined.priority_label == "—"


def test_sort_by_priority_then_value_at_stake() -> None:
    items = [
        item("small", "high", name="Small", value=1_000),
        item("crit", "critical"),
        item("big", "high", name="Big", value=250_000, minutes=9),
        item("none-high", "high", name="Zero"),
    ]
    assert [i.id for i in sort_queue(items)] == ["crit", "big", "small", "none-high"]
    assert items[2].value_text == "USD 250,000"


def test_sort_by_priority_then_oldest() -> None:
    items = [
        item("low", "low"),
        item("none", None),
        item("high-new", "high", minutes=5),
        item("crit", "critical", minutes=9),
        item("high-old", "high", minutes=1),
    ]
    assert [i.id for i in sort_queue(items)] == ["crit", "high-old", "high-new", "low", "none"]


def test_sort_ties_are_stable_by_account_then_id() -> None:
    items = [item("b", "high", name="Zeta"), item("a", "high", name="Alpha")]
    assert [i.id for i in sort_queue(items)] == ["a", "b"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["1", "2"]),
        ("acme", ["1"]),
        ("ACME task", ["1"]),
        ("create_task", ["1", "2"]),
        ("call", ["1", "2"]),
        ("globex missing", []),
    ],
)
def test_filter_matches_every_word(query: str, expected: list[str]) -> None:
    items = [item("1", "high", name="Acme"), item("2", "high", name="Globex")]
    assert [i.id for i in filter_queue(items, query)] == expected


# -- wording --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marked", "visible", "expected"),
    [
        (["a"], ["a"], "Approve 1 marked write?"),
        (["a", "b", "c"], ["a", "b", "c"], "Approve 3 marked writes?"),
        (["a", "b", "c", "d", "e"], ["a", "b", "c"], "Approve 5 marked writes (2 of them hidden"),
        (["a", "b"], [], "Approve 2 marked writes (all of them hidden by the filter)?"),
        (["a"], [], "Approve 1 marked write (hidden by the filter)?"),
        (["a", "a"], ["a"], "Approve 1 marked write?"),
    ],
)
def test_bulk_summary(marked: list[str], visible: list[str], expected: str) -> None:
    assert bulk_summary(marked, visible).startswith(expected)


@pytest.mark.parametrize(
    ("status", "seconds_left", "expected"),
    [
        ("pending", None, "pending"),
        ("approved", 6, "in 6 s · u undoes"),
        ("adjusted", 1, "in 1 s · u undoes"),
        ("approved", None, "approved"),
        ("executed", None, "✓ written"),
        ("failed", None, "✗ failed · R retry"),
        ("rejected", None, "rejected · u undo"),
        ("pending", 3, "pending"),
    ],
)
def test_status_text(status: str, seconds_left: int | None, expected: str) -> None:
    assert status_text(approval(status=status), seconds_left) == expected


@pytest.mark.parametrize(
    ("status", "verb", "allowed"),
    [
        ("pending", "approve", True),
        ("conflict", "approve", True),
        ("approved", "approve", False),
        ("executed", "reject", False),
        ("approved", "undo", True),
        ("rejected", "undo", True),
        ("pending", "undo", False),
        ("executing", "undo", False),
        ("failed", "retry", True),
        ("approved", "retry", True),
        ("pending", "retry", False),
    ],
)
def test_refusal(status: str, verb: Any, allowed: bool) -> None:
    queued = make_item(approval(status=status), None, ACME)
    assert (refusal(queued, verb) is None) is allowed


def test_queue_status_line() -> None:
    items = [item("1", "high"), item("2", "low")]
    assert queue_status(items, items, [], "") == "2 waiting for you"
    assert queue_status(items, items[:1], ["1"], "acme") == (
        "2 waiting for you · 1 marked · filter 'acme': 1 of 2 shown"
    )


# -- the adjust form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action_type", "payload", "names"),
    [
        ("follow_up_email", EMAIL, ["recipient", "subject", "draft_body", "next_steps"]),
        ("create_task", TASK, ["subject", "due_date", "priority", "description"]),
        ("add_note", NOTE, ["title", "content"]),
        ("escalation", ESCALATION, ["escalate_to", "reason"]),
        ("update_account", UPDATE, ["new:Rating"]),
    ],
)
def test_form_round_trips_unchanged(
    action_type: str, payload: dict[str, Any], names: list[str]
) -> None:
    original = approval(action_type, payload)
    fields = form_fields(original)
    assert [f.name for f in fields] == names
    values = {f.name: f.value for f in fields}
    assert form_problems(original, values) == []
    edited = payload_from_form(original, values)
    assert edited == original.payload.model_dump(mode="json")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"due_date": "next tuesday"}, "due_date"),
        ({"subject": "  "}, "subject: must not be empty"),
        ({"priority": "Urgent"}, "priority: use one of"),
    ],
)
def test_form_problems(changes: dict[str, str], problem: str) -> None:
    original = approval()
    values = {f.name: f.value for f in form_fields(original)} | changes
    problems = form_problems(original, values)
    assert any(problem in p for p in problems), problems


def test_form_edits_become_the_payload() -> None:
    original = approval("follow_up_email", EMAIL)
    values = {f.name: f.value for f in form_fields(original)}
    values |= {"subject": "New", "next_steps": "one\n\n two ", "recipient": ""}
    edited = payload_from_form(original, values)
    assert edited["subject"] == "New"
    assert edited["next_steps"] == ["one", "two"]
    assert edited["recipient"] is None


def test_update_form_keeps_number_types() -> None:
    numeric = {"field_changes": [{"field": "Annual_Revenue", "old": 10, "new": 20}]}
    original = approval("update_account", numeric)
    edited = payload_from_form(original, {"new:Annual_Revenue": "25"})
    assert edited["field_changes"] == [{"field": "Annual_Revenue", "old": 10, "new": 25}]


# -- the undo window ------------------------------------------------------------------------


def test_countdowns() -> None:
    clock = Countdowns()
    clock.start("a", now=100.0, delay=8)
    clock.start("b", now=100.0, delay=2)
    assert clock.seconds_left("a", 100.0) == 8
    assert clock.seconds_left("a", 101.5) == 7
    assert clock.pop_due(102.0) == ["b"]
    assert clock.seconds_left("b", 102.0) is None
    assert clock.cancel("a")
    assert not clock.cancel("a")
    assert not clock
