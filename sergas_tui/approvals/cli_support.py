"""Plain-text views of an approval for the command line: the exact write, a table row, and
what executing it did.

Records and people are named through :class:`~sergas_tui.domain.names.RecordNames` (the id short
and secondary), amounts carry their currency and evidence is in words.

Everything here is pure. CRM-sourced text is passed through :func:`plain`, which drops terminal
control sequences, control characters and bidi overrides, so a crafted note or subject cannot
move the cursor, recolour the terminal or reorder what the owner reads before deciding. Callers
still print the result as literal text (``rich.text.Text``), never as markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import JsonValue
from rich.cells import cell_len

from sergas_tui.approvals.execution_records import ExecutionResult
from sergas_tui.approvals.write_plan import plan_write
from sergas_tui.crm.writer import TaskDraft
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
from sergas_tui.domain.evidence import describe_evidence
from sergas_tui.domain.money import is_amount_field
from sergas_tui.domain.names import RecordNames, short_id
from sergas_tui.domain.write_summary import action_line, also_lines

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
_SHORT_WHEN = "%m-%d %H:%M"
_WRITTEN = {"add_note": "Notes", "update_account": "Accounts"}


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


def _diff_value(names: RecordNames, approval: Approval, name: str, value: JsonValue) -> str:
    if is_amount_field(name) and isinstance(value, int | float) and not isinstance(value, bool):
        return names.money(value, "Accounts", approval.account_id)
    return _value(value)


def _task_lines(task: TaskDraft | None) -> list[str]:
    """How the executor logs the draft: the task's subject, priority and due date."""
    if task is None:  # pragma: no cover - every task-writing plan has a draft
        return []
    due = f"due {task.due_date.isoformat()}" if task.due_date else "no due date"
    return [f"Logged as a task: {one_line(task.subject)} · priority {task.priority} · {due}"]


def describe_write(
    approval: Approval,
    names: RecordNames | None = None,
    recommendation: Recommendation | None = None,
) -> list[str]:
    """The exact CRM write this approval would make, one line per item.

    Records are named (``Cobalt Retail Corp. (…1091)``), people by name and address, amounts
    with their currency; with the ``recommendation``, why it was proposed and its evidence in
    words (with links to Zoho's web UI when the org has one) follow the write.
    """
    names = names or RecordNames()
    action = approval.payload
    plan = plan_write(approval)
    account = one_line(names.account(approval.account_id))
    head = [
        f"Approval {approval.id} ({approval.status})",
        f"Account: {account}",
        f"Owner: {one_line(names.user(approval.owner_email))}",
    ]
    if recommendation is not None:
        head.append(
            f"Priority: {recommendation.priority} · confidence {recommendation.confidence} · "
            f"at stake {names.value_at_stake(approval.account_id)} in open deals"
        )
    body: list[str]
    if isinstance(action, UpdateAccountAction):
        body = [f"Write: update the Accounts record {account}:"]
        body += [
            f"{_INDENT}{one_line(c.field)}: {_diff_value(names, approval, c.field, c.old)} → "
            f"{_diff_value(names, approval, c.field, c.new)}"
            for c in action.field_changes
        ]
    elif isinstance(action, FollowUpEmailAction):
        body = [
            f"Write: a new Tasks record on {account} logging this email draft (not sent):",
            f"To: {one_line(names.recipient(action.recipient, approval.account_id))}",
            f"Subject: {one_line(action.subject)}",
            *_block("Body", action.draft_body),
            *_items("Next steps", action.next_steps),
            *_task_lines(plan.task),
        ]
    elif isinstance(action, CreateTaskAction):
        body = [
            f"Write: a new Tasks record on {account}:",
            f"Subject: {one_line(action.subject)}",
            f"Due: {action.due_date.isoformat() if action.due_date else NONE}",
            f"Priority: {one_line(plan.task.priority) if plan.task else NONE}",
        ]
        if action.description:
            body += _block("Description", action.description)
    elif isinstance(action, AddNoteAction):
        body = [
            f"Write: a new Notes record on {account}:",
            f"Title: {one_line(action.title)}",
            *_block("Content", action.content),
        ]
    elif isinstance(action, EscalationAction):
        body = [
            f"Write: a new Tasks record on {account} escalating the account:",
            f"To: {one_line(names.person(action.escalate_to, approval.owner_email))}",
            *_block("Reason", action.reason),
            *_task_lines(plan.task),
        ]
    else:  # pragma: no cover - the payload union is closed
        body = [f"{type(action).__name__}: {one_line(action.model_dump_json())}"]
    also = also_lines(approval.also, names, approval.account_id, approval.owner_email)
    if also:
        body += ["Also written with this decision:", *(f"{_INDENT}- {one_line(t)}" for t in also)]
    return head + body + _why(recommendation, names) + _footer(approval, names)


def _why(recommendation: Recommendation | None, names: RecordNames) -> list[str]:
    if recommendation is None:
        return []
    lines = _block("Why", recommendation.rationale)
    evidence = describe_evidence(recommendation.data_references, names)
    if evidence:
        lines.append("Evidence:")
        for item in evidence:
            lines.append(f"{_INDENT}- {one_line(item.text)}")
            if item.url:
                lines.append(f"{_INDENT}{one_line(item.url)}")
    return lines


def _footer(approval: Approval, names: RecordNames) -> list[str]:
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
    if approval.result_record_id:
        written = names.label(
            _WRITTEN.get(approval.action_type, "Tasks"), approval.result_record_id
        )
        lines.append(f"Written: {one_line(written)}")
    if approval.error_message:
        lines.append(f"Last error: {one_line(approval.error_message)}")
    return lines


def _result_subject(approval: Approval | None, names: RecordNames) -> tuple[str, str]:
    """(the account's label, the write in words) of the approval a result is about."""
    if approval is None:  # gone from the store (the account was forgotten, say)
        return "the account", "the approved write"
    action = approval.payload
    account = one_line(names.account(approval.account_id))
    return account, one_line(action_line(action, names, approval.account_id, approval.owner_email))


def describe_result(
    result: ExecutionResult, approval: Approval | None, names: RecordNames | None = None
) -> str:
    """What executing ``approval`` did, as one sentence (or a short paragraph for a write that
    did not land: what failed and what to do).

    E.g. ``Written to Zoho for Acme Corp (…1091) as record 5725767000001001136: Task 'Call
    Dana' (2026-12-20, priority High).`` The record's whole id, so it can be found in Zoho; an
    account update names none (the record is the account). CRM text is :func:`one_line`;
    print the sentence as literal text, never as markup.
    """
    names = names or RecordNames()
    account, what = _result_subject(approval, names)
    record = ""
    if result.record_id and not isinstance(
        approval.payload if approval else None, UpdateAccountAction
    ):
        record = f" as record {one_line(result.record_id)}"
    further = len(approval.also) if approval is not None else 0
    also = ""
    if further:
        also = (
            f" With it, {further} further write{'s' if further > 1 else ''} of the same decision."
        )
    ident = result.approval_id[:SHORT_ID]
    error = one_line(result.error or "").rstrip(".")
    if result.status == "executed":
        return f"Written to Zoho for {account}{record}: {what}.{also}"
    if result.status == "already_executed":
        return f"Already in Zoho for {account}{record}: {what}. Nothing was written again.{also}"
    if result.status == "conflict":
        return (
            f"Not written for {account}: {what}. The CRM record changed since Sergas read it, "
            "so nothing was overwritten. `sergas approvals show "
            f"{ident}` lists its current values; approve, adjust or reject it again."
        )
    if result.status == "failed":
        return (
            f"Not written for {account}: {what}. {error or 'The write did not complete'}. Your "
            "approval stands; once the cause is fixed, retry it from the approvals queue of "
            "the app (run `sergas`, select it and press R)."
        )
    status = approval.status if approval is not None else None
    if status is not None and not (status.is_approved or status == ApprovalStatus.FAILED):
        why = f"it is {status}, so there is nothing to write"
    else:
        why = error or "another Sergas is writing it"
    return f"Not written now for {account}: {what}: {why}. Nothing was changed."


PRIORITY_SHORT = {"critical": "crit", "high": "high", "medium": "med", "low": "low"}
TYPE_SHORT = {
    "follow_up_email": "email",
    "create_task": "task",
    "add_note": "note",
    "escalation": "escal.",
    "update_account": "update",
}
ROW_HEADERS = ("id", "pri", "account", "type", "at stake", "expires UTC")
"""The columns of ``sergas approvals list`` (see :func:`approval_row`)."""


def _cut(text: str, cells: int) -> str:
    """The longest start of ``text`` that fits ``cells`` terminal cells."""
    out = ""
    for char in text:
        if cell_len(out + char) > cells:
            break
        out += char
    return out


def fit_label(name: str, record_id: str, width: int | None) -> str:
    """``Meridian Health Partn… (…0023)``: the name cut with an ellipsis so that the label,
    short id included, fits ``width`` terminal cells (None: no limit; wide characters count
    twice)."""
    suffix = f" ({short_id(record_id)})"
    label = f"{name}{suffix}"
    if width is None or cell_len(label) <= width:
        return label
    room = width - cell_len(suffix) - 1
    if room < 3:
        return _cut(label, max(width - 1, 0)) + "…"
    return _cut(name, room).rstrip() + "…" + suffix


def approval_row(
    approval: Approval,
    names: RecordNames | None = None,
    priority: str | None = None,
    account_width: int | None = None,
) -> tuple[str, ...]:
    """(id, priority, account, type, value at stake, expires) for a table of approvals.

    Short enough for 80 columns: the id's first 8 characters, ``crit``/``high``/``med``/
    ``low``, the account's name with its short id, a one-word type, the open deals' value in
    the account's currency and the expiry as ``MM-DD HH:MM`` (UTC) for a pending approval.
    """
    names = names or RecordNames()
    waiting = approval.status == ApprovalStatus.PENDING
    account = approval.account_id
    name = names.name("Accounts", account)
    label = names.account(account)  # "Account …7306" when the name is unknown
    if name is not None:
        label = fit_label(one_line(name), account, account_width)
    return (
        approval.id[:SHORT_ID],
        PRIORITY_SHORT.get(priority or "", NONE),
        label,
        TYPE_SHORT.get(str(approval.action_type), str(approval.action_type)),
        names.value_at_stake(approval.account_id),
        approval.expiry.strftime(_SHORT_WHEN) if waiting else str(approval.status),
    )
