"""The command line's plain-text views of approvals: the exact write, and table rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sergas_tui.approvals.cli_support import approval_row, describe_write, plain
from sergas_tui.domain import Approval

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


@pytest.mark.parametrize(
    ("action_type", "payload", "expected"),
    [
        (
            "update_account",
            {"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]},
            ["Update Accounts record 123:", "    Rating: 'Warm' → 'Hot'"],
        ),
        (
            "follow_up_email",
            {"subject": "Hi", "draft_body": "Line 1\nLine 2", "recipient": "c@x"},
            ["To: c@x", "Subject: Hi", "Body:", "    Line 1", "    Line 2"],
        ),
        (
            "create_task",
            {"subject": "Call", "due_date": "2026-11-09", "priority": "High", "description": "D"},
            ["Subject: Call", "Due: 2026-11-09", "Priority: High", "Description:", "    D"],
        ),
        ("add_note", {"title": "Recap", "content": "Budget ok"}, ["Title: Recap", "    Budget ok"]),
        ("escalation", {"escalate_to": "vp@x", "reason": "Churn"}, ["To: vp@x", "    Churn"]),
    ],
)
def test_describe_write_shows_the_exact_write(
    action_type: str, payload: dict[str, Any], expected: list[str]
) -> None:
    lines = describe_write(_approval(action_type, payload))
    assert lines[0] == "Approval 0123456789abcdef (pending)"
    for line in expected:
        assert line in lines
    assert "Expires: 2026-11-05 09:30 UTC" in lines


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
    task = _approval("create_task", {"subject": "Call", "priority": "High"})
    assert approval_row(task) == (
        "01234567",
        "123",
        "create_task",
        "High",
        "pending",
        "2026-11-05 09:30 UTC",
    )
    note = _approval("add_note", {"title": "t", "content": "c"}, status="rejected")
    assert approval_row(note)[3:] == ("-", "rejected", "-")
