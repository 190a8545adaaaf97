"""One line per CRM write, in words, for the further writes of a decision (a write set).

An approval (and its recommendation) can carry ``also`` writes performed with its main action
(the risk note that goes with the call task, say). The approvals queue, ``sergas approvals
show`` and the brief list them under the main write with :func:`also_lines`, naming people and
showing amounts in the account's currency. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue

from sergas_tui.domain.evidence import field_label
from sergas_tui.domain.money import is_amount_field
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.outputs import (
    AddNoteAction,
    AlsoWrite,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    SuggestedAction,
    UpdateAccountAction,
)

TEXT_LIMIT = 80


def _short(text: str, limit: int = TEXT_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _value(names: RecordNames, account_id: str | None, field: str, value: JsonValue) -> str:
    if is_amount_field(field) and isinstance(value, int | float) and not isinstance(value, bool):
        return names.money(value, "Accounts", account_id)
    if value is None or value == "":
        return "(empty)"
    return repr(value) if isinstance(value, str) else str(value)


def action_line(
    action: SuggestedAction, names: RecordNames, account_id: str | None, owner: str | None
) -> str:
    """``Note 'Risk assessment' — Renewal at risk…`` and the like: one write in words."""
    if isinstance(action, AddNoteAction):
        return f"Note '{_short(action.title, 60)}' — {_short(action.content)}"
    if isinstance(action, CreateTaskAction):
        due = action.due_date.isoformat() if action.due_date else "no due date"
        return (
            f"Task '{_short(action.subject, 60)}' ({due}, priority {action.priority or 'Normal'})"
        )
    if isinstance(action, FollowUpEmailAction):
        to = names.recipient(action.recipient, account_id)
        return f"Email draft to {to}: '{_short(action.subject, 60)}' (logged as a task, not sent)"
    if isinstance(action, EscalationAction):
        return f"Escalation to {names.person(action.escalate_to, owner)}: {_short(action.reason)}"
    if isinstance(action, UpdateAccountAction):
        changes = "; ".join(
            f"{field_label(c.field)} {_value(names, account_id, c.field, c.old)} → "
            f"{_value(names, account_id, c.field, c.new)}"
            for c in action.field_changes
        )
        return f"Account update: {changes}"
    return type(action).__name__  # pragma: no cover - the payload union is closed


def also_lines(
    also: Sequence[AlsoWrite], names: RecordNames, account_id: str | None, owner: str | None
) -> list[str]:
    """Each further write of a decision, in order, one line each."""
    return [action_line(write.action, names, account_id, owner) for write in also]
