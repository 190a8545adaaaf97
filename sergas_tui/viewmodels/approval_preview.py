"""The exact CRM write an approval stands for, as the approvals queue previews it.

Pure code (no Textual), built from the executor's own plan (``plan_write``) so the preview shows
what will be written: module, record, fields (an account update as old → new per field) and the
further writes of the same decision; and the queue's one-line summary of a write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from pydantic import JsonValue

from sergas_tui.approvals.write_plan import plan_write
from sergas_tui.domain import (
    AddNoteAction,
    Approval,
    ApprovalStatus,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    UpdateAccountAction,
)
from sergas_tui.domain.evidence import field_label
from sergas_tui.domain.money import is_amount_field
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.write_summary import also_lines

WRITE_MODULE: Mapping[str, str] = {
    "create_task": "Tasks",
    "add_note": "Notes",
    "update_account": "Accounts",
}
"""The Zoho module each kind of planned write lands in (by ``plan_write``'s method)."""


@dataclass(frozen=True)
class PreviewField:
    """One labelled value of the write; ``multiline`` values (bodies) keep their newlines."""

    label: str
    value: str
    multiline: bool = False


@dataclass(frozen=True)
class FieldDiff:
    """One field of an account update: the value read from the CRM and the value to write."""

    field: str
    old: str
    new: str


@dataclass(frozen=True)
class WritePreview:
    """The exact CRM write an approval stands for (as the executor will perform it)."""

    heading: str
    module: str
    record: str
    fields: tuple[PreviewField, ...] = ()
    changes: tuple[FieldDiff, ...] = ()
    also: tuple[str, ...] = ()
    """The further writes of the same decision, one line each (see ``Approval.also``)."""


def show_value(value: JsonValue) -> str:
    """A field value as the preview shows it: strings quoted, nothing as ``(empty)``."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def diff_value(names: RecordNames, approval: Approval, name: str, value: JsonValue) -> str:
    """An update's old or new value: amounts with the account's currency, others as stored."""
    if is_amount_field(name) and isinstance(value, int | float) and not isinstance(value, bool):
        return names.money(value, "Accounts", approval.account_id)
    return show_value(value)


def write_preview(approval: Approval, names: RecordNames) -> WritePreview:
    """The writes ``approval`` makes: module, record and the fields of the main write (built
    from ``plan_write``), and the further writes of the same decision."""
    preview = _main_write(approval, names)
    also = also_lines(approval.also, names, approval.account_id, approval.owner_email)
    return replace(preview, also=tuple(also)) if also else preview


def _main_write(approval: Approval, names: RecordNames) -> WritePreview:
    plan = plan_write(approval)
    action = approval.payload
    module = WRITE_MODULE[plan.method]
    account = names.account(approval.account_id)
    if isinstance(action, UpdateAccountAction):
        return WritePreview(
            heading="Update the account's fields",
            module=module,
            record=account,
            changes=tuple(
                FieldDiff(
                    c.field,
                    diff_value(names, approval, c.field, c.old),
                    diff_value(names, approval, c.field, c.new),
                )
                for c in action.field_changes
            ),
        )
    if isinstance(action, FollowUpEmailAction):
        subject = plan.task.subject if plan.task else action.subject
        fields = [
            PreviewField("To", names.recipient(action.recipient, approval.account_id)),
            PreviewField("Subject", action.subject),
            PreviewField("Body", action.draft_body, multiline=True),
        ]
        if action.next_steps:
            steps = "\n".join(f"- {step}" for step in action.next_steps)
            fields.append(PreviewField("Next steps", steps, multiline=True))
        fields.append(PreviewField("Logged as task", subject))
        return WritePreview(
            heading="Follow-up email draft, logged as a task (not sent)",
            module=module,
            record=f"new task on {account}",
            fields=tuple(fields),
        )
    if isinstance(action, CreateTaskAction):
        priority = plan.task.priority if plan.task else "Normal"
        return WritePreview(
            heading="Create a task",
            module=module,
            record=f"new task on {account}",
            fields=(
                PreviewField("Subject", action.subject),
                PreviewField("Due", action.due_date.isoformat() if action.due_date else "—"),
                PreviewField("Priority", priority),
                PreviewField("Description", action.description or "—", multiline=True),
            ),
        )
    if isinstance(action, AddNoteAction):
        return WritePreview(
            heading="Add a note",
            module=module,
            record=f"new note on {account}",
            fields=(
                PreviewField("Title", action.title),
                PreviewField("Content", action.content, multiline=True),
            ),
        )
    if isinstance(action, EscalationAction):
        return WritePreview(
            heading="Escalate the account, logged as a High task",
            module=module,
            record=f"new task on {account}",
            fields=(
                PreviewField("To", names.person(action.escalate_to, approval.owner_email)),
                PreviewField("Reason", action.reason, multiline=True),
            ),
        )
    raise ValueError(f"no preview for {type(action).__name__}")  # pragma: no cover


def summary(approval: Approval, names: RecordNames | None = None) -> str:
    """A one-line description for the queue's table (people by name when ``names`` knows)."""
    action = approval.payload
    if isinstance(action, FollowUpEmailAction | CreateTaskAction):
        return action.subject
    if isinstance(action, AddNoteAction):
        return action.title
    if isinstance(action, EscalationAction):
        who = names.person(action.escalate_to, approval.owner_email) if names else None
        return f"to {who or action.escalate_to}: {action.reason}"
    if names is None:
        return ", ".join(f"{c.field} → {show_value(c.new)}" for c in action.field_changes)
    return ", ".join(
        f"{field_label(c.field)} → {diff_value(names, approval, c.field, c.new)}"
        for c in action.field_changes
    )


def conflict_values(approval: Approval) -> list[tuple[str, str]]:
    """The CRM's current values stored on a ``conflict`` approval, as (field, value) pairs."""
    if approval.status != ApprovalStatus.CONFLICT or not approval.details:
        return []
    current = approval.details.get("current", approval.details)
    if isinstance(current, dict):
        return [(str(k), show_value(v)) for k, v in current.items()]
    return [("value", show_value(current))]
