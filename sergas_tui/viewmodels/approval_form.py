"""The adjust form of an approval: its editable fields, and the payload the edited form makes.

Pure code (no Textual), shared by the TUI's adjust dialog and the web approval page: the fields
of each kind of write in the order the form shows them, the edited texts turned back into a
payload for ``ApprovalService.adjust``, and what is wrong with an edit (the service's own check).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import JsonValue

from sergas_tui.approvals.service import payload_problems
from sergas_tui.domain import (
    AddNoteAction,
    Approval,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    UpdateAccountAction,
)
from sergas_tui.domain.picklists import TASK_PRIORITIES
from sergas_tui.viewmodels.approval_preview import show_value

FieldKind = Literal["line", "text"]


@dataclass(frozen=True)
class FormField:
    """One input of the adjust form: ``name`` is the payload key (or ``new:<field>``)."""

    name: str
    label: str
    value: str
    kind: FieldKind = "line"
    hint: str = ""


def _text(value: JsonValue) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def form_fields(approval: Approval) -> list[FormField]:
    """The editable fields of ``approval``'s payload, in the order the form shows them."""
    action = approval.payload
    if isinstance(action, FollowUpEmailAction):
        return [
            FormField("recipient", "To", action.recipient or "", hint="e-mail address"),
            FormField("subject", "Subject", action.subject),
            FormField("draft_body", "Body", action.draft_body, "text"),
            FormField(
                "next_steps", "Next steps", "\n".join(action.next_steps), "text", "one a line"
            ),
        ]
    if isinstance(action, CreateTaskAction):
        return [
            FormField("subject", "Subject", action.subject),
            FormField(
                "due_date",
                "Due date",
                action.due_date.isoformat() if action.due_date else "",
                hint="YYYY-MM-DD, or empty",
            ),
            FormField(
                "priority", "Priority", action.priority or "", hint=" / ".join(TASK_PRIORITIES)
            ),
            FormField("description", "Description", action.description or "", "text"),
        ]
    if isinstance(action, AddNoteAction):
        return [
            FormField("title", "Title", action.title),
            FormField("content", "Content", action.content, "text"),
        ]
    if isinstance(action, EscalationAction):
        return [
            FormField("escalate_to", "Escalate to", action.escalate_to),
            FormField("reason", "Reason", action.reason, "text"),
        ]
    return [
        FormField(f"new:{c.field}", c.field, _text(c.new), hint=f"now {show_value(c.old)}")
        for c in action.field_changes
    ]


def _typed_like(original: JsonValue, text: str) -> JsonValue:
    """An update's new value: empty is null; non-string originals are parsed as JSON."""
    if text.strip() == "":
        return None
    if isinstance(original, str) or original is None:
        return text
    try:
        parsed: JsonValue = json.loads(text)
    except json.JSONDecodeError:
        return text
    return parsed


def payload_from_form(approval: Approval, values: Mapping[str, str]) -> dict[str, Any]:
    """The edited payload (as a dict for ``ApprovalService.adjust``) from the form's texts."""
    action = approval.payload
    if isinstance(action, UpdateAccountAction):
        changes = [
            {
                "field": c.field,
                "old": c.old,
                "new": _typed_like(c.new, values.get(f"new:{c.field}", _text(c.new))),
            }
            for c in action.field_changes
        ]
        return {"field_changes": changes}
    payload: dict[str, Any] = action.model_dump(mode="json")
    for name, text in values.items():
        if name == "next_steps":
            payload[name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif name in ("recipient", "due_date", "priority", "description"):
            payload[name] = text.strip() or None
        else:
            payload[name] = text
    return payload


def form_problems(
    approval: Approval, values: Mapping[str, str], *, today: dt.date | None = None
) -> list[str]:
    """What is wrong with the edited form, one line per problem (empty when it can be saved).

    The service's own check (:func:`payload_problems`: required texts, Zoho's priority
    picklist, field sizes, dates not in the past) on the payload the form makes. ``today``
    defaults to the day the approval was proposed (the service checks against its clock again
    when saving).
    """
    day = today or approval.created_at.astimezone().date()
    return payload_problems(approval, payload_from_form(approval, values), today=day)
