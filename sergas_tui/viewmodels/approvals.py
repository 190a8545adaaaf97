"""What the approvals queue shows: each proposed write joined with its recommendation.

Pure code (no Textual): the join of approvals with recommendations and the workspace's names
(:class:`~sergas_tui.domain.names.RecordNames`: accounts, deals, contacts and people by name,
amounts with their currency, evidence in words with links to Zoho), the structured preview of
the exact CRM write, sorting (priority, then the value at stake), filtering, the row status
wording, the bulk-approve sentence, the adjust form's fields and the undo countdown.
:func:`read_queue` does blocking SQLite reads (a worker thread); :func:`load_queue` adds what
the memory says about cited memory items.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import JsonValue

from sergas_tui.approvals.executor import plan_write
from sergas_tui.approvals.service import payload_problems
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
from sergas_tui.domain.approval import DECIDABLE, OPEN, UNDOABLE, Verb
from sergas_tui.domain.evidence import EvidenceItem, describe_evidence, field_label
from sergas_tui.domain.money import is_amount_field
from sergas_tui.domain.names import RecordNames, module_word, short_id
from sergas_tui.domain.picklists import TASK_PRIORITIES
from sergas_tui.domain.write_summary import also_lines
from sergas_tui.services import Services
from sergas_tui.storage import Repository
from sergas_tui.viewmodels.names import add_memory, load_names

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

_MODULE = {"create_task": "Tasks", "add_note": "Notes", "update_account": "Accounts"}


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
    module = _MODULE[plan.method]
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
    if approval.status != _S.CONFLICT or not approval.details:
        return []
    current = approval.details.get("current", approval.details)
    if isinstance(current, dict):
        return [(str(k), show_value(v)) for k, v in current.items()]
    return [("value", show_value(current))]


# -- queue items ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """One row of the queue: an approval with its recommendation's priority and evidence.

    ``account_name`` is the name alone (the table's narrow column); ``account_label`` adds the
    short id (``Quarry Ridge Materials (…7306)``). ``value`` is what the account's open deals
    are worth (the second sort key), ``value_text`` the same with its currency.
    """

    approval: Approval
    account_name: str
    preview: WritePreview
    priority: str | None = None
    confidence: str | None = None
    rationale: str | None = None
    evidence: tuple[EvidenceItem, ...] = ()
    account_label: str = ""
    value: float = 0.0
    value_text: str = "—"
    account_url: str | None = None
    names: RecordNames = field(default_factory=RecordNames, compare=False, repr=False)
    owner_label: str = ""
    """Whose item it is, shown in a manager's team view (empty: the person's own queue)."""

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
        return summary(self.approval, self.names)

    @property
    def decidable(self) -> bool:
        return self.status in DECIDABLE

    def search_text(self) -> str:
        """What the filter matches: account name, type (both spellings) and summary."""
        kind = self.approval.action_type
        return f"{self.account_name} {kind} {self.type_label} {self.summary}".casefold()


def make_item(
    approval: Approval, recommendation: Recommendation | None, names: RecordNames
) -> QueueItem:
    """Join an approval with its recommendation (None when it is gone) and the names."""
    account_id = approval.account_id
    common: dict[str, Any] = {
        "account_label": names.account(account_id),
        "value": names.open_deal_value(account_id),
        "value_text": names.value_at_stake(account_id),
        "account_url": names.url("Accounts", account_id),
        "names": names,
    }
    name = names.account_name(account_id)
    preview = write_preview(approval, names)
    if recommendation is None:
        return QueueItem(approval, name, preview, **common)
    return QueueItem(
        approval,
        name,
        preview,
        priority=recommendation.priority,
        confidence=recommendation.confidence,
        rationale=recommendation.rationale,
        evidence=tuple(describe_evidence(recommendation.data_references, names)),
        **common,
    )


def join_queue(
    approvals: Iterable[Approval],
    recommendations: Mapping[str, Recommendation],
    names: RecordNames,
) -> list[QueueItem]:
    """Queue items for ``approvals``, sorted (see :func:`sort_queue`)."""
    items = [make_item(a, recommendations.get(a.recommendation_id), names) for a in approvals]
    return sort_queue(items)


def priority_rank(priority: str | None) -> int:
    """0 for critical … 3 for low; unknown priorities after low."""
    return PRIORITY_RANK.get(priority or "", len(PRIORITY_RANK))


def sort_queue(items: Iterable[QueueItem]) -> list[QueueItem]:
    """Priority high → low, then the most value at stake (open deals of the account), then
    oldest first; ties by account name, then id (stable order)."""

    def key(item: QueueItem) -> tuple[int, float, dt.datetime, str, str]:
        return (
            priority_rank(item.priority),
            -item.value,
            item.approval.created_at,
            item.account_name.casefold(),
            item.id,
        )

    return sorted(items, key=key)


def filter_queue(items: Iterable[QueueItem], query: str) -> list[QueueItem]:
    """Items whose account, type or summary contains every word of ``query``."""
    words = query.casefold().split()
    return [i for i in items if all(w in i.search_text() for w in words)]


@dataclass(frozen=True)
class QueueData:
    """What the queue is built from: approvals, their recommendations and the names."""

    approvals: list[Approval]
    recommendations: dict[str, Recommendation]
    names: RecordNames


def recommendations_of(
    services: Services, approvals: Iterable[Approval], owners: Iterable[str | None] = ()
) -> dict[str, Recommendation]:
    """The recommendation of each approval (by id): from the owners' latest briefs in one read
    each, then one read per account the briefs do not cover (blocking reads)."""
    store = services.store
    found = list(approvals)
    recommendations: dict[str, Recommendation] = {}
    for owner in dict.fromkeys(o for o in owners if o):
        brief = store.latest_brief(owner)
        if brief is not None:
            recommendations |= {r.id: r for r in brief.recommendations}
    missing = {a.account_id for a in found if a.recommendation_id not in recommendations}
    for account_id in sorted(missing):
        recommendations |= {r.id: r for r in store.recommendations_for(account_id)}
    return recommendations


def read_queue(
    services: Services,
    keep_ids: Iterable[str] = (),
    owner: str | None = None,
    owners: Collection[str] | None = None,
) -> QueueData:
    """The owner's (default: the current user's) queue as stored, or the queues of ``owners``
    (a manager's team view; e-mails in lower case) (blocking reads: call from a thread worker).

    Pending approvals plus every approval still needing attention (approved but not written,
    writing, failed, conflict), plus ``keep_ids`` (decided in this session, so their outcome
    stays visible), their recommendations and the workspace's names.
    """
    store = services.store
    if owners is not None:
        team = {o.lower() for o in owners}
        found = {
            a.id: a
            for a in (*store.pending_approvals(None), *store.approvals_with_status(OPEN, None))
            if a.owner_email.lower() in team
        }
        approvals = [*found.values(), *_kept(store, keep_ids, found)]
        listed = sorted(team)
        return QueueData(
            approvals,
            recommendations_of(services, approvals, listed),
            load_names(services, listed),
        )
    owner = owner or services.current_user_email()
    found = {a.id: a for a in store.pending_approvals(owner)}
    found |= {a.id: a for a in store.approvals_with_status(OPEN, owner)}
    approvals = [*found.values(), *_kept(store, keep_ids, found)]
    recommendations = recommendations_of(services, approvals, [owner])
    return QueueData(approvals, recommendations, load_names(services, [owner]))


def _kept(
    store: Repository, keep_ids: Iterable[str], found: Mapping[str, Approval]
) -> list[Approval]:
    """The approvals of ``keep_ids`` not in ``found`` (decided in this session: their outcome
    stays visible)."""
    kept = []
    for ident in keep_ids:
        if ident not in found and (approval := store.get_approval(ident)) is not None:
            kept.append(approval)
    return kept


async def load_queue(
    services: Services,
    keep_ids: Iterable[str] = (),
    owner: str | None = None,
    owners: Collection[str] | None = None,
) -> list[QueueItem]:
    """The owner's (default: the current user's) queue, or ``owners``' queues, sorted, with
    cited memory items in words."""
    data = await asyncio.to_thread(read_queue, services, list(keep_ids), owner, owners)
    await add_memory(services, data.names, sorted({a.account_id for a in data.approvals}))
    return join_queue(data.approvals, data.recommendations, data.names)


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
    items: Sequence[QueueItem],
    visible: Sequence[QueueItem],
    marked: Iterable[str],
    query: str,
    whose: str = "you",
) -> str:
    """The line above the queue: how many wait (for ``whose``: "you", or a manager's "your
    team of 5"), how many are marked, what the filter shows."""
    waiting = sum(1 for i in items if i.status == _S.PENDING)
    parts = [f"{waiting} waiting for {whose}" if waiting else f"nothing waiting for {whose}"]
    count = len(set(marked))
    if count:
        parts.append(f"{count} marked")
    if query.strip():
        parts.append(f"filter {query.strip()!r}: {len(visible)} of {len(items)} shown")
    return " · ".join(parts)


def with_approval(item: QueueItem, approval: Approval) -> QueueItem:
    """``item`` after its approval changed (the preview follows an adjusted payload)."""
    return replace(item, approval=approval, preview=write_preview(approval, item.names))


def outcome_lines(approval: Approval, names: RecordNames | None = None) -> list[str]:
    """The decision and execution facts the preview shows under the write."""
    lines: list[str] = []
    if approval.decided_by:
        when = f"{approval.decided_at:%Y-%m-%d %H:%M} UTC" if approval.decided_at else "—"
        lines.append(f"{approval.status} by {approval.decided_by} at {when}")
    if approval.decision_rationale:
        lines.append(f"Reason: {approval.decision_rationale}")
    if approval.status == _S.EXECUTED:
        module = _MODULE[plan_write(approval).method]
        record = approval.result_record_id
        where = (names or RecordNames()).account(approval.account_id)
        made = f"{module_word(module).lower()} {short_id(record)}" if record else module
        lines.append(f"Written: {made} on {where}")
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


def refusal(item: QueueItem, verb: Verb) -> str | None:
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
