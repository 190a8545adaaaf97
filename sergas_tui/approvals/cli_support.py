"""Plain-text views of an approval for the command line: the exact write, and a table row.

Everything here is pure. CRM-sourced text is passed through :func:`plain`, which drops terminal
control sequences, control characters and bidi overrides, so a crafted note or subject cannot
move the cursor, recolour the terminal or reorder what the owner reads before deciding. Callers
still print the result as literal text (``rich.text.Text``), never as markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import JsonValue

from sergas_tui.domain import (
    AddNoteAction,
    Approval,
    ApprovalStatus,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    UpdateAccountAction,
)

# Whole escape sequences first (CSI, OSC, other two-byte ESC forms), then stray controls.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # other Fe sequences
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

SHORT_ID = 8
"""How many characters of an approval id the table shows (enough to type back)."""

NONE = "-"
_INDENT = "    "
_WHEN = "%Y-%m-%d %H:%M UTC"


def plain(value: object) -> str:
    """``value`` as text without control sequences; newlines kept, tabs become spaces."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = _ESCAPE.sub("", text)
    text = _CONTROL.sub("", text)
    return _BIDI.sub("", text)


def one_line(value: object) -> str:
    """:func:`plain` on a single line (newlines become spaces)."""
    return " ".join(plain(value).split("\n"))


def _value(value: JsonValue) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, str):
        return repr(one_line(value))
    return one_line(value)


def _block(label: str, text: object) -> list[str]:
    """A labelled multi-line value, each line indented under the label."""
    lines = plain(text).split("\n")
    return [f"{label}:", *(f"{_INDENT}{line}" for line in lines)]


def _items(label: str, values: Iterable[object]) -> list[str]:
    found = [f"{_INDENT}- {one_line(v)}" for v in values]
    return [f"{label}:", *found] if found else []


def describe_write(approval: Approval) -> list[str]:
    """The exact CRM write this approval would make, one line per item."""
    action = approval.payload
    head = [
        f"Approval {approval.id} ({approval.status})",
        f"Account: {one_line(approval.account_id)}   Owner: {one_line(approval.owner_email)}",
    ]
    body: list[str]
    if isinstance(action, UpdateAccountAction):
        body = [f"Update Accounts record {one_line(approval.account_id)}:"]
        body += [
            f"{_INDENT}{one_line(c.field)}: {_value(c.old)} → {_value(c.new)}"
            for c in action.field_changes
        ]
    elif isinstance(action, FollowUpEmailAction):
        body = [
            "Follow-up email draft (reviewed, then logged to the account):",
            f"To: {one_line(action.recipient) if action.recipient else '(account contact)'}",
            f"Subject: {one_line(action.subject)}",
            *_block("Body", action.draft_body),
            *_items("Next steps", action.next_steps),
        ]
    elif isinstance(action, CreateTaskAction):
        body = [
            f"Create a task on account {one_line(approval.account_id)}:",
            f"Subject: {one_line(action.subject)}",
            f"Due: {action.due_date.isoformat() if action.due_date else NONE}",
            f"Priority: {one_line(action.priority) if action.priority else NONE}",
        ]
        if action.description:
            body += _block("Description", action.description)
    elif isinstance(action, AddNoteAction):
        body = [
            f"Add a note to account {one_line(approval.account_id)}:",
            f"Title: {one_line(action.title)}",
            *_block("Content", action.content),
        ]
    elif isinstance(action, EscalationAction):
        body = [
            "Escalate the account:",
            f"To: {one_line(action.escalate_to)}",
            *_block("Reason", action.reason),
        ]
    else:  # pragma: no cover - the payload union is closed
        body = [f"{type(action).__name__}: {one_line(action.model_dump_json())}"]
    return head + body + _footer(approval)


def _footer(approval: Approval) -> list[str]:
    lines: list[str] = []
    if approval.status == ApprovalStatus.PENDING:
        lines.append(f"Expires: {approval.expiry.strftime(_WHEN)}")
    if approval.decided_by:
        when = approval.decided_at.strftime(_WHEN) if approval.decided_at else NONE
        lines.append(f"Decided by {one_line(approval.decided_by)} at {when}")
    if approval.decision_rationale:
        lines += _block("Rationale", approval.decision_rationale)
    if approval.status == ApprovalStatus.CONFLICT and approval.details:
        current = approval.details.get("current", approval.details)
        lines.append("The CRM record changed since it was read; its current values:")
        if isinstance(current, dict):
            lines += [f"{_INDENT}{one_line(k)}: {_value(v)}" for k, v in current.items()]
        else:
            lines.append(f"{_INDENT}{_value(current)}")
    if approval.error_message:
        lines.append(f"Last error: {one_line(approval.error_message)}")
    return lines


def approval_row(approval: Approval) -> tuple[str, ...]:
    """(id, account, type, priority, status, expires) for a table of approvals."""
    action = approval.payload
    priority = NONE
    if isinstance(action, CreateTaskAction) and action.priority:
        priority = one_line(action.priority)
    waiting = approval.status == ApprovalStatus.PENDING
    return (
        approval.id[:SHORT_ID],
        one_line(approval.account_id),
        str(approval.action_type),
        priority,
        str(approval.status),
        approval.expiry.strftime(_WHEN) if waiting else NONE,
    )
