"""The CRM writes an approval stands for: its write set planned from its (possibly edited)
payload, each write carrying the approval's idempotency marker, and whether the org's fields
would take an account update.

- ``create_task`` → :meth:`CrmWriter.create_task`;
- ``add_note`` → :meth:`CrmWriter.add_note`;
- ``follow_up_email`` → a task "Send email: <subject>" (Sergas never sends mail itself);
- ``escalation`` → a task "Escalation: <reason>";
- ``update_account`` → :meth:`CrmWriter.update_account` with the new values.

The main write goes by the approval's id, the n-th further write of a write set by
``<approval id>/<n>`` (:func:`part_id`): their markers and grants use it. The executor
(:mod:`~sergas_tui.approvals.executor`) performs the plans; the approvals service and the
screens show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

from sergas_tui.crm.writer import (
    AccountUpdate,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
    with_marker,
)
from sergas_tui.domain import Approval
from sergas_tui.domain.grants import approval_marker
from sergas_tui.domain.metadata import ModuleFields, check_changes
from sergas_tui.domain.outputs import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    SuggestedAction,
    UpdateAccountAction,
)
from sergas_tui.domain.picklists import task_priority
from sergas_tui.errors import CrmError

WriteMethod = Literal["create_task", "add_note", "update_account"]


def marker(approval_id: str) -> str:
    """The tag written into every record an approval creates: ``[sergas:<approval id>]``."""
    return approval_marker(approval_id)


def write_approval(approval: Approval, part: int = 0) -> WriteApproval:
    """What the CRM writer is told about the approval a write (``part`` of its set) executes."""
    return WriteApproval(
        approval_id=part_id(approval.id, part),
        token=approval.token,
        account_id=approval.account_id,
        owner_email=approval.owner_email,
        action_type=str(approval.action_type),
        decided_by=approval.decided_by,
        expires_at=approval.expiry,
    )


def _with_marker(text: str | None, approval_id: str) -> str:
    return with_marker(text, approval_id)


@dataclass(frozen=True)
class PlannedWrite:
    """The gateway call an approval stands for."""

    method: WriteMethod
    task: TaskDraft | None = None
    note: NoteDraft | None = None
    changes: Mapping[str, JsonValue] | None = None
    marker_id: str = ""
    """The id in this write's marker: the approval's, or ``<approval id>/<n>`` for the n-th
    further write of a write set."""

    def request(self, approval: Approval) -> WriteRequest:
        """The write exactly as the CRM writer will be asked to perform it."""
        if self.task is not None:
            return self.task
        if self.note is not None:
            return self.note
        return AccountUpdate(approval.account_id, dict(self.changes or {}), approval.created_at)

    def inputs(self) -> JsonValue:
        """The call's arguments as JSON, for the audit log."""
        if self.task is not None:
            return {k: jsonable(v) for k, v in vars(self.task).items()}
        if self.note is not None:
            return {k: jsonable(v) for k, v in vars(self.note).items()}
        return {"changes": dict(self.changes or {})}


def jsonable(value: object) -> JsonValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def part_id(approval_id: str, part: int) -> str:
    """The id a write of a write set goes by: the approval's for the main write (part 0),
    ``<approval id>/<part>`` for the further ones (their markers and grants use it)."""
    return approval_id if part == 0 else f"{approval_id}/{part}"


def plan_write(approval: Approval) -> PlannedWrite:
    """The main write an approval's payload calls for, with the idempotency marker embedded."""
    return _plan(approval.payload, approval.account_id, approval.id)


SUBJECT_LIMIT = 120
"""Characters of a task subject we compose (Zoho's single-line text fields take 255); the full
text stays in the description."""


def subject_line(prefix: str, text: str, limit: int = SUBJECT_LIMIT) -> str:
    """``prefix`` and the first line of ``text``, cut with an ellipsis to ``limit`` characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    whole = prefix + first
    return whole if len(whole) <= limit else whole[: limit - 1].rstrip() + "…"


def plan_writes(approval: Approval) -> list[PlannedWrite]:
    """Every write of the approval's decision: the main one, then each ``also`` write."""
    plans = [plan_write(approval)]
    for n, extra in enumerate(approval.also, start=1):
        plans.append(_plan(extra.action, approval.account_id, part_id(approval.id, n)))
    return plans


def _plan(payload: SuggestedAction, account: str, aid: str) -> PlannedWrite:
    if isinstance(payload, CreateTaskAction):
        task = TaskDraft(
            account_id=account,
            subject=payload.subject,
            due_date=payload.due_date,
            priority=task_priority(payload.priority),
            description=_with_marker(payload.description, aid),
        )
        return PlannedWrite("create_task", task=task, marker_id=aid)
    if isinstance(payload, FollowUpEmailAction):
        lines = [f"To: {payload.recipient or '(recipient to confirm)'}"]
        lines += [f"Subject: {payload.subject}", "", payload.draft_body]
        if payload.next_steps:
            lines += ["", "Next steps:", *(f"- {step}" for step in payload.next_steps)]
        task = TaskDraft(
            account_id=account,
            subject=subject_line("Send email: ", payload.subject),
            description=_with_marker("\n".join(lines), aid),
        )
        return PlannedWrite("create_task", task=task, marker_id=aid)
    if isinstance(payload, EscalationAction):
        text = f"Escalate to: {payload.escalate_to}\nReason: {payload.reason}"
        task = TaskDraft(
            account_id=account,
            subject=subject_line("Escalation: ", payload.reason),
            priority="High",
            description=_with_marker(text, aid),
        )
        return PlannedWrite("create_task", task=task, marker_id=aid)
    if isinstance(payload, AddNoteAction):
        note = NoteDraft(
            parent_id=account, title=payload.title, content=_with_marker(payload.content, aid)
        )
        return PlannedWrite("add_note", note=note, marker_id=aid)
    if isinstance(payload, UpdateAccountAction):
        changes = {change.field: change.new for change in payload.field_changes}
        return PlannedWrite("update_account", changes=changes, marker_id=aid)
    raise ValueError(f"no write is defined for {type(payload).__name__}")


def refusal_of(fields: ModuleFields, changes: Mapping[str, JsonValue]) -> CrmError | None:
    """Why the org's Accounts fields would not take ``changes`` (an error to fail the approval
    with), or None when they would."""
    problems = [check.reason for check in check_changes(fields, changes) if not check.ok]
    if not problems:
        return None
    return CrmError(
        f"Not sent to Zoho: {'; '.join(problems)}. Adjust the approval to a value the org has "
        "(or add the value in Zoho's setup), then execute it again.",
        title="Value not in the org's CRM",
    )
