"""What the approvals queue shows: each proposed write joined with its recommendation.

Pure code (no Textual): the join of approvals with recommendations and account names, the
structured preview of the exact CRM write, sorting, filtering, the row status wording, the
bulk-approve sentence, the adjust form's fields and the undo countdown. ``load_queue`` does
blocking SQLite reads and runs in a worker thread.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import JsonValue

from sergas_tui.approvals.errors import ApprovalError
from sergas_tui.approvals.executor import plan_write
from sergas_tui.approvals.service import validate_payload
from sergas_tui.domain import (
    AddNoteAction,
    Approval,
    ApprovalStatus,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    Recommendation,
    UpdateAccountAction,
)
from sergas_tui.services import Services

_S = ApprovalStatus

PRIORITY_RANK: Mapping[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}
"""Sort rank of a recommendation priority; unknown priorities sort last."""

PRIORITY_LABEL: Mapping[str, str] = {
    "critical": "crit",
    "high": "high",
    "medium": "med",
    "low": "low",
}
TYPE_LABEL: Mapping[str, str] = {
    "follow_up_email": "email",
    "create_task": "task",
    "add_note": "note",
    "escalation": "escal.",
    "update_account": "update",
}
TASK_PRIORITIES = ("Highest", "High", "Normal", "Low", "Lowest")
"""Zoho's task priority picklist (the executor writes "Normal" for anything else)."""

_MODULE = {"create_task": "Tasks", "add_note": "Notes", "update_account": "Accounts"}
DECIDABLE = frozenset({_S.PENDING, _S.CONFLICT})
"""Statuses a person can approve, adjust or reject from the queue."""
UNDOABLE = frozenset({_S.APPROVED, _S.ADJUSTED, _S.REJECTED})
OPEN = (_S.APPROVED, _S.ADJUSTED, _S.EXECUTING, _S.FAILED, _S.CONFLICT)
"""Non-pending statuses that still need the owner's attention, so the queue always lists them."""


# -- the exact write ------------------------------------------------------------------------


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


def show_value(value: JsonValue) -> str:
    """A field value as the preview shows it: strings quoted, nothing as ``(empty)``."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def write_preview(approval: Approval, account_name: str) -> WritePreview:
    """The write ``approval`` makes: module, record and the fields, built from ``plan_write``."""
    plan = plan_write(approval)
    action = approval.payload
    module = _MODULE[plan.method]
    on_account = f"on account {account_name}"
    if isinstance(action, UpdateAccountAction):
        return WritePreview(
            heading=f"Update Accounts record {approval.account_id} ({account_name})",
            module=module,
            record=approval.account_id,
            changes=tuple(
                FieldDiff(c.field, show_value(c.old), show_value(c.new))
                for c in action.field_changes
            ),
        )
    if isinstance(action, FollowUpEmailAction):
        subject = plan.task.subject if plan.task else action.subject
        fields = [
            PreviewField("To", action.recipient or "(recipient to confirm)"),
            PreviewField("Subject", action.subject),
            PreviewField("Body", action.draft_body, multiline=True),
        ]
        if action.next_steps:
            steps = "\n".join(f"- {step}" for step in action.next_steps)
            fields.append(PreviewField("Next steps", steps, multiline=True))
        fields.append(PreviewField("Logged as task", subject))
        return WritePreview(
            heading=f"Follow-up email draft, logged as a task {on_account} (not sent)",
            module=module,
            record="new task",
            fields=tuple(fields),
        )
    if isinstance(action, CreateTaskAction):
        priority = plan.task.priority if plan.task else "Normal"
        return WritePreview(
            heading=f"Create a task {on_account}",
            module=module,
            record="new task",
            fields=(
                PreviewField("Subject", action.subject),
                PreviewField("Due", action.due_date.isoformat() if action.due_date else "—"),
                PreviewField("Priority", priority),
                PreviewField("Description", action.description or "—", multiline=True),
            ),
        )
    if isinstance(action, AddNoteAction):
        return WritePreview(
            heading=f"Add a note {on_account}",
            module=module,
            record="new note",
            fields=(
                PreviewField("Title", action.title),
                PreviewField("Content", action.content, multiline=True),
            ),
        )
    if isinstance(action, EscalationAction):
        return WritePreview(
            heading=f"Escalate {account_name}, logged as a High task",
            module=module,
            record="new task",
            fields=(
                PreviewField("To", action.escalate_to),
                PreviewField("Reason", action.reason, multiline=True),
            ),
        )
    raise ValueError(f"no preview for {type(action).__name__}")  # pragma: no cover


def summary(approval: Approval) -> str:
    """A one-line description for the queue's table."""
    action = approval.payload
    if isinstance(action, FollowUpEmailAction | CreateTaskAction):
        return action.subject
    if isinstance(action, AddNoteAction):
        return action.title
    if isinstance(action, EscalationAction):
        return f"to {action.escalate_to}: {action.reason}"
    return ", ".join(f"{c.field} → {show_value(c.new)}" for c in action.field_changes)


def conflict_values(approval: Approval) -> list[tuple[str, str]]:
    """The CRM's current values stored on a ``conflict`` approval, as (field, value) pairs."""
    if approval.status != _S.CONFLICT or not approval.details:
        return []
    current = approval.details.get("current", approval.details)
    if isinstance(current, dict):
        return [(str(k), show_value(v)) for k, v in current.items()]
    return [("value", show_value(current))]


# -- queue items ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """One row of the queue: an approval with its recommendation's priority and evidence."""

    approval: Approval
    account_name: str
    preview: WritePreview
    priority: str | None = None
    confidence: str | None = None
    rationale: str | None = None
    evidence: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.approval.id

    @property
    def status(self) -> ApprovalStatus:
        return self.approval.status

    @property
    def type_label(self) -> str:
        return TYPE_LABEL.get(self.approval.action_type, self.approval.action_type)

    @property
    def priority_label(self) -> str:
        return PRIORITY_LABEL.get(self.priority or "", "—")

    @property
    def summary(self) -> str:
        return summary(self.approval)

    @property
    def decidable(self) -> bool:
        return self.status in DECIDABLE

    def search_text(self) -> str:
        """What the filter matches: account name, type (both spellings) and summary."""
        kind = self.approval.action_type
        return f"{self.account_name} {kind} {self.type_label} {self.summary}".casefold()


def make_item(
    approval: Approval, recommendation: Recommendation | None, account_name: str | None
) -> QueueItem:
    """Join an approval with its recommendation (None when it is gone) and account name."""
    name = account_name or approval.account_id
    if recommendation is None:
        return QueueItem(approval, name, write_preview(approval, name))
    return QueueItem(
        approval,
        name,
        write_preview(approval, name),
        priority=recommendation.priority,
        confidence=recommendation.confidence,
        rationale=recommendation.rationale,
        evidence=tuple(recommendation.data_references),
    )


def join_queue(
    approvals: Iterable[Approval],
    recommendations: Mapping[str, Recommendation],
    names: Mapping[str, str],
) -> list[QueueItem]:
    """Queue items for ``approvals``, sorted (see :func:`sort_queue`)."""
    items = [
        make_item(a, recommendations.get(a.recommendation_id), names.get(a.account_id))
        for a in approvals
    ]
    return sort_queue(items)


def sort_queue(items: Iterable[QueueItem]) -> list[QueueItem]:
    """Priority high → low, then oldest first; ties by account name, then id (stable order)."""

    def key(item: QueueItem) -> tuple[int, dt.datetime, str, str]:
        rank = PRIORITY_RANK.get(item.priority or "", len(PRIORITY_RANK))
        return (rank, item.approval.created_at, item.account_name.casefold(), item.id)

    return sorted(items, key=key)


def filter_queue(items: Iterable[QueueItem], query: str) -> list[QueueItem]:
    """Items whose account, type or summary contains every word of ``query``."""
    words = query.casefold().split()
    return [i for i in items if all(w in i.search_text() for w in words)]


def load_queue(services: Services, keep_ids: Iterable[str] = ()) -> list[QueueItem]:
    """The current owner's queue (blocking reads: call from a thread worker).

    Pending approvals plus every approval still needing attention (approved but not written,
    writing, failed, conflict), plus ``keep_ids`` (decided in this session, so their outcome
    stays visible). Recommendations and names come from the latest brief in one read; only
    approvals the brief does not cover cost one read per account.
    """
    store = services.store
    owner = services.current_user_email()
    found = {a.id: a for a in store.pending_approvals(owner)}
    found |= {a.id: a for a in store.approvals_with_status(OPEN, owner)}
    for ident in keep_ids:
        if ident not in found and (kept := store.get_approval(ident)) is not None:
            found[ident] = kept
    recommendations: dict[str, Recommendation] = {}
    names: dict[str, str] = {}
    brief = store.latest_brief(owner) if owner else None
    if brief is not None:
        recommendations = {r.id: r for r in brief.recommendations}
        names = {a.account_id: a.account_name for a in brief.accounts or []}
    missing = {a.account_id for a in found.values() if a.recommendation_id not in recommendations}
    for account_id in sorted(missing):
        recommendations |= {r.id: r for r in store.recommendations_for(account_id)}
    return join_queue(found.values(), recommendations, names)


# -- wording --------------------------------------------------------------------------------


def status_text(approval: Approval, seconds_left: int | None = None) -> str:
    """The status column (short): what happened or will happen, and the key that changes it."""
    status = approval.status
    if status.is_approved and seconds_left is not None:
        return f"in {seconds_left} s · u undoes"
    return {
        _S.PENDING: "pending",
        _S.APPROVED: "approved",
        _S.ADJUSTED: "adjusted",
        _S.REJECTED: "rejected · u undo",
        _S.EXPIRED: "expired",
        _S.EXECUTING: "writing…",
        _S.EXECUTED: "✓ written",
        _S.FAILED: "✗ failed · R retry",
        _S.CONFLICT: "! conflict",
    }[status]


def status_sentence(approval: Approval, seconds_left: int | None = None) -> str:
    """The status in words, for the preview."""
    status = approval.status
    if status.is_approved and seconds_left is not None:
        return f"{status}: written to the CRM in {seconds_left} s — u undoes"
    return {
        _S.PENDING: "pending: a approves, e adjusts, r rejects",
        _S.APPROVED: "approved: waiting to be written (R writes now, u undoes)",
        _S.ADJUSTED: "adjusted: waiting to be written (R writes now, u undoes)",
        _S.REJECTED: "rejected: nothing will be written (u undoes)",
        _S.EXPIRED: "expired: nothing will be written",
        _S.EXECUTING: "writing to the CRM…",
        _S.EXECUTED: "written to the CRM",
        _S.FAILED: "the write failed (R retries)",
        _S.CONFLICT: "conflict: the CRM record changed since it was read",
    }[status]


def queue_status(
    items: Sequence[QueueItem], visible: Sequence[QueueItem], marked: Iterable[str], query: str
) -> str:
    """The line above the queue: how many wait, how many are marked, what the filter shows."""
    waiting = sum(1 for i in items if i.status == _S.PENDING)
    parts = [f"{waiting} waiting for you" if waiting else "nothing waiting for you"]
    count = len(set(marked))
    if count:
        parts.append(f"{count} marked")
    if query.strip():
        parts.append(f"filter {query.strip()!r}: {len(visible)} of {len(items)} shown")
    return " · ".join(parts)


def with_approval(item: QueueItem, approval: Approval) -> QueueItem:
    """``item`` after its approval changed (the preview follows an adjusted payload)."""
    return replace(item, approval=approval, preview=write_preview(approval, item.account_name))


def outcome_lines(approval: Approval) -> list[str]:
    """The decision and execution facts the preview shows under the write."""
    lines: list[str] = []
    if approval.decided_by:
        when = f"{approval.decided_at:%Y-%m-%d %H:%M} UTC" if approval.decided_at else "—"
        lines.append(f"{approval.status} by {approval.decided_by} at {when}")
    if approval.decision_rationale:
        lines.append(f"Reason: {approval.decision_rationale}")
    if approval.status == _S.EXECUTED:
        module = _MODULE[plan_write(approval).method]
        lines.append(f"Written: {module} record {approval.result_record_id or '—'}")
    if approval.status == _S.FAILED:
        lines.append(f"Write failed: {approval.error_message or 'unknown error'} (R retries)")
    if approval.status == _S.CONFLICT:
        lines.append(
            f"Not written: {approval.error_message or 'the CRM record changed'}. "
            "Its current values are below; approve, adjust or reject again."
        )
    if approval.status == _S.PENDING:
        lines.append(f"Expires {approval.expiry:%Y-%m-%d %H:%M} UTC")
    return lines


def bulk_summary(marked_ids: Iterable[str], visible_ids: Iterable[str]) -> str:
    """The bulk-approve question.

    E.g. 'Approve 5 marked writes (2 of them hidden by the filter)?'.
    """
    marked = list(dict.fromkeys(marked_ids))
    visible = set(visible_ids)
    hidden = sum(1 for ident in marked if ident not in visible)
    noun = "write" if len(marked) == 1 else "writes"
    text = f"Approve {len(marked)} marked {noun}"
    if hidden == len(marked) and hidden:
        text += " (all of them hidden by the filter)" if hidden > 1 else " (hidden by the filter)"
    elif hidden:
        text += f" ({hidden} of them hidden by the filter)"
    return text + "?"


def refusal(
    item: QueueItem, verb: Literal["approve", "adjust", "reject", "undo", "retry"]
) -> str | None:
    """Why ``verb`` cannot apply to ``item`` right now (None when it can)."""
    status = item.status
    if verb == "retry":  # a failed write, or an approved one not written yet (write it now)
        if status == _S.FAILED or status.is_approved:
            return None
        return f"Only a failed or approved write can be written now; this one is {status}."
    if verb == "undo":
        if status in UNDOABLE:
            return None
        return f"There is no decision to undo: this write is {status}."
    if status in DECIDABLE:
        return None
    if status in UNDOABLE:
        return f"This write is already {status}; press u to undo that first."
    return f"This write is {status}; it can no longer be {verb}d."


# -- the adjust form ------------------------------------------------------------------------

FieldKind = Literal["line", "text"]


@dataclass(frozen=True)
class FormField:
    """One input of the adjust form: ``name`` is the payload key (or ``new:<field>``)."""

    name: str
    label: str
    value: str
    kind: FieldKind = "line"
    hint: str = ""


_REQUIRED = frozenset({"subject", "draft_body", "title", "content", "escalate_to", "reason"})


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


def form_problems(approval: Approval, values: Mapping[str, str]) -> list[str]:
    """What is wrong with the edited form (empty when it can be saved).

    Required texts must not be blank, a task priority must be one of Zoho's, and the payload
    must pass :func:`validate_payload` (the service's own check).
    """
    problems = [
        f"{name}: must not be empty"
        for name, text in values.items()
        if name in _REQUIRED and not text.strip()
    ]
    priority = values.get("priority", "").strip()
    if (
        isinstance(approval.payload, CreateTaskAction)
        and priority
        and priority not in TASK_PRIORITIES
    ):
        problems.append(f"priority: use one of {', '.join(TASK_PRIORITIES)} (or leave it empty)")
    if problems:
        return problems
    try:
        validate_payload(approval, payload_from_form(approval, values))
    except ApprovalError as err:
        problems.append(err.message)
    return problems


# -- the undo window ------------------------------------------------------------------------


@dataclass
class Countdowns:
    """When each approved write is due (monotonic seconds): the undo window before writing."""

    deadlines: dict[str, float] = field(default_factory=dict)

    def start(self, approval_id: str, now: float, delay: float) -> None:
        self.deadlines[approval_id] = now + delay

    def cancel(self, approval_id: str) -> bool:
        """Stop the countdown; False when there was none (the write may have started)."""
        return self.deadlines.pop(approval_id, None) is not None

    def seconds_left(self, approval_id: str, now: float) -> int | None:
        deadline = self.deadlines.get(approval_id)
        if deadline is None:
            return None
        return max(int(-(-(deadline - now) // 1)), 0)

    def pop_due(self, now: float) -> list[str]:
        """The ids whose time has come, removed from the countdown."""
        due = [ident for ident, deadline in self.deadlines.items() if deadline <= now]
        for ident in due:
            del self.deadlines[ident]
        return due

    def __bool__(self) -> bool:
        return bool(self.deadlines)


def ids_of(items: Sequence[QueueItem]) -> list[str]:
    return [item.id for item in items]
