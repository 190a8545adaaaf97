"""The command line's plain-text views of approvals: the exact write, table rows, and what
executing one did."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rich.cells import cell_len

from sergas_tui.approvals.cli_support import (
    approval_row,
    describe_result,
    describe_write,
    fit_label,
    plain,
)
from sergas_tui.approvals.execution_records import ExecutionResult
from sergas_tui.domain import Approval, Recommendation
from sergas_tui.domain.names import CrmUser, RecordNames

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _approval(action_type: str, payload: dict[str, Any], **overrides: Any) -> Approval:
    data: dict[str, Any] = {
        "id": "0123456789abcdef",
        "recommendation_id": "rec-1",
        "account_id": "123",
        "owner_email": "a@x",
        "action_type": action_type,
        "payload": payload,
        "created_at": NOW,
    }
    return Approval.model_validate(data | overrides)


ACCOUNT = "5725767000001007306"


def _names() -> RecordNames:
    names = RecordNames(people={"sales_manager": "Dana Whitfield <dana@x>"})
    names.add_snapshot(
        ACCOUNT,
        {
            "Account_Name": "Quarry Ridge Materials",
            "Annual_Revenue": 1_000_000.0,
            "Deals": {
                "5725767000001007310": {
                    "Deal_Name": "Quarry Ridge - Renewal",
                    "Stage": "Negotiation/Review",
                    "Amount": 36000.0,
                }
            },
            "Contacts": {"5725767000001007308": {"Full_Name": "Inês Barros", "role": "Champion"}},
        },
    )
    names.add_users([CrmUser("u1", "a@x", "Jordan Avery")])
    return names


@pytest.mark.parametrize(
    ("action_type", "payload", "expected"),
    [
        (
            "update_account",
            {
                "field_changes": [
                    {"field": "Rating", "old": "Warm", "new": "Hot"},
                    {"field": "Annual_Revenue", "old": 1_000_000, "new": 1_250_000.5},
                ]
            },
            [
                "Write: update the Accounts record Quarry Ridge Materials (…7306):",
                "    Rating: 'Warm' → 'Hot'",
                "    Annual_Revenue: USD 1,000,000 → USD 1,250,000.50",
            ],
        ),
        (
            "follow_up_email",
            {
                "subject": "Hi",
                "draft_body": "Line 1\nLine 2",
                "recipient": "ines.barros@quarry.example",
            },
            [
                "To: Inês Barros <ines.barros@quarry.example>",
                "Subject: Hi",
                "Body:",
                "    Line 1",
                "    Line 2",
                "Logged as a task: Send email: Hi · priority Normal · no due date",
            ],
        ),
        (
            "create_task",
            {"subject": "Call", "due_date": "2026-11-09", "priority": "High", "description": "D"},
            [
                "Write: a new Tasks record on Quarry Ridge Materials (…7306):",
                "Subject: Call",
                "Due: 2026-11-09",
                "Priority: High",
                "Description:",
                "    D",
            ],
        ),
        (
            "add_note",
            {"title": "Recap", "content": "Budget ok"},
            ["Write: a new Notes record on Quarry Ridge Materials (…7306):", "Title: Recap"],
        ),
        (
            "escalation",
            {"escalate_to": "sales_manager", "reason": "Churn"},
            ["To: Dana Whitfield <dana@x> (sales manager)", "    Churn"],
        ),
    ],
)
def test_describe_write_shows_the_exact_write_with_names(
    action_type: str, payload: dict[str, Any], expected: list[str]
) -> None:
    lines = describe_write(_approval(action_type, payload, account_id=ACCOUNT), _names())
    assert lines[0] == "Approval 0123456789abcdef (pending)"
    assert "Account: Quarry Ridge Materials (…7306)" in lines
    assert "Owner: Jordan Avery <a@x>" in lines
    for line in expected:
        assert line in lines
    assert "Expires: 2026-11-05 09:30 UTC" in lines
    assert not any(ACCOUNT in line for line in lines), "the id is short and secondary"


def test_describe_write_without_names_never_shows_a_bare_long_id() -> None:
    lines = describe_write(
        _approval("add_note", {"title": "t", "content": "c"}, account_id=ACCOUNT)
    )
    assert "Account: Account …7306" in lines


def test_describe_write_adds_why_and_the_evidence_in_words() -> None:
    rec = Recommendation.model_validate(
        {
            "type": "create_task",
            "priority": "critical",
            "confidence": "high",
            "rationale": "Quiet.",
            "suggested_action": {"subject": "Call"},
            "data_references": [
                f"zoho:Accounts:{ACCOUNT}",
                "zoho:Deals:5725767000001007310#Stage",
                "memory:key_events:84a16eed0000",
            ],
            "account_id": ACCOUNT,
        }
    )
    lines = describe_write(
        _approval("create_task", {"subject": "Call"}, account_id=ACCOUNT), _names(), rec
    )
    assert "Priority: critical · confidence high · at stake USD 36,000 in open deals" in lines
    assert "Why:" in lines
    assert "    - Account 'Quarry Ridge Materials'" in lines
    assert "    - Deal 'Quarry Ridge - Renewal' · Stage now Negotiation/Review" in lines
    assert "    - Key event from memory (84a16eed)" in lines


def test_fit_label_cuts_the_name_not_the_id() -> None:
    assert fit_label("Acme", ACCOUNT, 30) == "Acme (…7306)"
    assert fit_label("Meridian Health Partners", ACCOUNT, 20) == "Meridian He… (…7306)"
    assert len(fit_label("Meridian Health Partners", ACCOUNT, 20)) <= 20
    wide = fit_label("東京海上日動火災保険", ACCOUNT, 16)
    assert wide == "東京海… (…7306)"
    assert cell_len(wide) <= 16


def test_crm_text_loses_control_sequences() -> None:
    nasty = "Hi\x1b[2J\x1b]0;pwned\x07 there\u202e\x00\x9b31m!"
    assert plain(nasty) == "Hi there!"
    lines = describe_write(_approval("add_note", {"title": nasty, "content": "a\r\nb\tc"}))
    assert "Title: Hi there!" in lines
    start = lines.index("Content:") + 1
    assert lines[start : start + 2] == ["    a", "    b    c"]
    assert not any("\x1b" in line for line in lines)


def test_conflict_shows_the_crm_current_values() -> None:
    approval = _approval(
        "update_account",
        {"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]},
        status="conflict",
        details={"current": {"Rating": "Cold"}},
    )
    lines = describe_write(approval)
    assert "    Rating: 'Cold'" in lines
    assert not any(line.startswith("Expires") for line in lines)


def test_approval_row() -> None:
    task = _approval("create_task", {"subject": "Call", "priority": "High"}, account_id=ACCOUNT)
    assert approval_row(task, _names(), "critical") == (
        "01234567",
        "crit",
        "Quarry Ridge Materials (…7306)",
        "task",
        "USD 36,000",
        "11-05 09:30",
    )
    note = _approval("add_note", {"title": "t", "content": "c"}, status="rejected")
    assert approval_row(note)[1:] == ("-", "Account 123", "note", "—", "rejected")


def test_the_further_writes_of_a_decision_are_listed() -> None:
    approval = _approval(
        "create_task",
        {"subject": "Call Inês"},
        account_id=ACCOUNT,
        also=[
            {"type": "add_note", "action": {"title": "Risk", "content": "Quiet for 74 days."}},
            {
                "type": "update_account",
                "action": {"field_changes": [{"field": "Annual_Revenue", "old": 1, "new": 2}]},
            },
            {"type": "escalation", "action": {"escalate_to": "sales_manager", "reason": "Late"}},
        ],
    )
    lines = describe_write(approval, _names())
    start = lines.index("Also written with this decision:")
    assert lines[start + 1 : start + 4] == [
        "    - Note 'Risk' — Quiet for 74 days.",
        "    - Account update: Annual revenue USD 1 → USD 2",
        "    - Escalation to Dana Whitfield <dana@x> (sales manager): Late",
    ]


# -- what executing an approval did ---------------------------------------------------------

RECORD = "5725767000001001136"


def _task(**overrides: Any) -> Approval:
    payload = {"subject": "Follow up on the renewal", "due_date": "2026-12-20", "priority": "High"}
    return _approval("create_task", payload, account_id=ACCOUNT, **overrides)


def test_a_written_task_is_a_sentence_with_the_account_and_the_record() -> None:
    result = ExecutionResult("0123456789abcdef", "executed", RECORD, wrote=True, attempts=1)
    text = describe_result(result, _task(status="executed"), _names())
    assert text == (
        "Written to Zoho for Quarry Ridge Materials (…7306) as record 5725767000001001136: "
        "Task 'Follow up on the renewal' (2026-12-20, priority High)."
    )
    assert "ExecutionResult" not in text
    assert "approval_id" not in text


@pytest.mark.parametrize(
    ("action_type", "payload", "what"),
    [
        ("add_note", {"title": "Risk", "content": "Quiet."}, "Note 'Risk' — Quiet."),
        (
            "follow_up_email",
            {"subject": "Renewal", "draft_body": "Hi", "recipient": "ines@x"},
            "Email draft to ines@x: 'Renewal' (logged as a task, not sent)",
        ),
        (
            "escalation",
            {"escalate_to": "sales_manager", "reason": "Late"},
            "Escalation to Dana Whitfield <dana@x> (sales manager): Late",
        ),
    ],
)
def test_every_kind_of_write_is_named(action_type: str, payload: dict[str, Any], what: str) -> None:
    approval = _approval(action_type, payload, account_id=ACCOUNT, status="executed")
    result = ExecutionResult(approval.id, "executed", RECORD, wrote=True, attempts=1)
    assert describe_result(result, approval, _names()) == (
        f"Written to Zoho for Quarry Ridge Materials (…7306) as record {RECORD}: {what}."
    )


def test_an_account_update_names_no_record_and_further_writes_are_counted() -> None:
    approval = _approval(
        "update_account",
        {"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]},
        account_id=ACCOUNT,
        also=[{"type": "add_note", "action": {"title": "Why", "content": "Asked by Inês."}}],
    )
    result = ExecutionResult(approval.id, "executed", ACCOUNT, wrote=True, attempts=1)
    assert describe_result(result, approval, _names()) == (
        "Written to Zoho for Quarry Ridge Materials (…7306): Account update: Rating 'Warm' → "
        "'Hot'. With it, 1 further write of the same decision."
    )


def test_an_already_written_item_says_nothing_was_written_again() -> None:
    result = ExecutionResult("0123456789abcdef", "already_executed", RECORD)
    text = describe_result(result, _task(status="executed"), _names())
    assert text.startswith(f"Already in Zoho for Quarry Ridge Materials (…7306) as record {RECORD}")
    assert text.endswith("Nothing was written again.")


def test_a_failed_write_says_what_failed_and_what_to_do() -> None:
    error = "CRM error: Zoho refused the request (INVALID_DATA)."
    result = ExecutionResult("0123456789abcdef", "failed", attempts=3, error=error)
    text = describe_result(result, _task(status="failed"), _names())
    assert text.startswith(
        "Not written for Quarry Ridge Materials (…7306): Task 'Follow up on the renewal' "
        "(2026-12-20, priority High). CRM error: Zoho refused the request (INVALID_DATA). "
        "Your approval stands;"
    )
    assert "press R" in text


def test_a_conflict_says_how_to_see_the_current_values() -> None:
    result = ExecutionResult("0123456789abcdef", "conflict", attempts=1, error="changed")
    text = describe_result(result, _task(status="conflict"), _names())
    assert "The CRM record changed since Sergas read it, so nothing was overwritten." in text
    assert "`sergas approvals show 01234567`" in text


def test_a_skipped_item_says_why_and_that_nothing_changed() -> None:
    result = ExecutionResult("0123456789abcdef", "skipped", error="approval is rejected")
    assert describe_result(result, _task(status="rejected"), _names()) == (
        "Not written now for Quarry Ridge Materials (…7306): Task 'Follow up on the renewal' "
        "(2026-12-20, priority High): it is rejected, so there is nothing to write. Nothing "
        "was changed."
    )
    busy = ExecutionResult("0123456789abcdef", "skipped", error="another executor has it")
    text = describe_result(busy, _task(status="approved"), _names())
    assert text.endswith(": another executor has it. Nothing was changed.")


def test_crm_text_in_a_result_loses_control_sequences() -> None:
    subject = {"subject": "Hi\x1b[2J there\u202e"}
    approval = _approval("create_task", subject, account_id=ACCOUNT, status="failed")
    result = ExecutionResult(approval.id, "failed", error="Bad \x1b]0;pwn\x07 request")
    text = describe_result(result, approval, _names())
    assert "Task 'Hi there'" in text
    assert "Bad  request" in text
    assert "\x1b" not in text
    assert "\u202e" not in text


def test_a_result_without_its_approval_still_reads() -> None:
    result = ExecutionResult("0123456789abcdef", "executed", RECORD, wrote=True, attempts=1)
    assert describe_result(result, None) == (
        f"Written to Zoho for the account as record {RECORD}: the approved write."
    )
