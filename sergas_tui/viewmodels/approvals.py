"""What the approvals queue shows: each proposed write joined with its recommendation.

Pure code (no Textual): the join of approvals with recommendations and the workspace's names
(:class:`~sergas_tui.domain.names.RecordNames`: accounts, deals, contacts and people by name,
amounts with their currency, evidence in words with links to Zoho), sorting (priority, then the
value at stake), filtering, the row status wording, the bulk-approve sentence and what a verb
may not do to a row. :func:`read_queue` does blocking SQLite reads (a worker thread);
:func:`load_queue` adds what the memory says about cited memory items.

Next to it: the exact write's preview (:mod:`.approval_preview`), the adjust form
(:mod:`.approval_form`) and the queue's state as keys change it (:mod:`.approval_queue`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sergas_tui.approvals.write_plan import plan_write
from sergas_tui.domain import Approval, ApprovalStatus, Recommendation
from sergas_tui.domain.approval import DECIDABLE, OPEN, UNDOABLE, Verb
from sergas_tui.domain.evidence import EvidenceItem, describe_evidence
from sergas_tui.domain.names import RecordNames, module_word, short_id
from sergas_tui.services import Services
from sergas_tui.storage import Repository
from sergas_tui.viewmodels.approval_preview import (
    WRITE_MODULE,
    WritePreview,
    summary,
    write_preview,
)
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
        module = WRITE_MODULE[plan_write(approval).method]
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


def _undo_refusal(status: _S) -> str:
    """Why a write in ``status`` has no decision to take back (the title says "Cannot undo")."""
    if status == _S.PENDING:
        return "This write is pending: nothing has been decided on it yet."
    if status == _S.CONFLICT:
        return (
            "The CRM record changed after this write was approved, so it waits for a new "
            "decision: approve, adjust or reject it."
        )
    if status == _S.EXPIRED:
        return "This write expired before anyone decided it."
    if status == _S.EXECUTING:
        return "This write is being written to the CRM now, so its approval stands."
    if status == _S.FAILED:
        return "This write was tried and failed, so its approval stands; press R to retry it."
    return f"This write is {status}: it is in the CRM, so its approval stands."


def refusal(item: QueueItem, verb: Verb) -> str | None:
    """Why ``verb`` cannot apply to ``item`` right now (None when it can)."""
    status = item.status
    if verb == "retry":  # a failed write, or an approved one not written yet (write it now)
        if status == _S.FAILED or status.is_approved:
            return None
        return f"Only a failed or approved write can be written now; this one is {status}."
    if verb == "undo":
        return None if status in UNDOABLE else _undo_refusal(status)
    if status in DECIDABLE:
        return None
    if status in UNDOABLE:
        return f"This write is already {status}; press u to undo that first."
    return f"This write is {status}; it can no longer be {verb}d."


def ids_of(items: Sequence[QueueItem]) -> list[str]:
    return [item.id for item in items]
