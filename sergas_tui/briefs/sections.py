"""What each section of the owner's brief says, as plain text for the Markdown template.

:func:`brief_sections` turns a :class:`~sergas_tui.domain.brief.CurrentBrief` and the
workspace's :class:`~sergas_tui.domain.names.RecordNames` into lines: accounts by name (with
their page in Zoho's web UI when there is one), each write in one line, the reason in the
signal's own words and figures, amounts with their currency and evidence as linkable items.
Every list is capped and says how many it left out, so the counts in the header always equal
the lines shown plus the ones left out. The text here is plain: the template escapes it.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from sergas_tui.briefs.wording import (
    cited_evidence,
    grouped_changes,
    short,
    signal_text,
    signal_titles,
    why,
)
from sergas_tui.domain import BriefAccount, Recommendation
from sergas_tui.domain.brief import BriefItem, CurrentBrief
from sergas_tui.domain.evidence import EvidenceItem
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.records import RecordRef
from sergas_tui.domain.signals import SEVERITY_WEIGHT, risk_level
from sergas_tui.domain.write_summary import action_line

CHANGES_LIMIT = 15
"""Accounts listed under "What changed"; the rest are counted."""
CHANGES_PER_ACCOUNT = 4
"""Changes quoted per account; the rest are counted."""
QUEUE_LIMIT = 25
"""Queue items shown in full; a longer queue is counted (the approvals queue has them all)."""
MORE_LIMIT = 30
DECIDED_LIMIT = 10
OTHERS_LIMIT = 30
QUIET_LIMIT = 60
"""Accounts named in the one paragraph of those with nothing to report."""
EVIDENCE_LIMIT = 3
WRITE_LIMIT = 110
LINE_LIMIT = 160

T = TypeVar("T")


@dataclass(frozen=True)
class ChangeLine:
    """One account's changes since its last review."""

    account: EvidenceItem
    changes: tuple[str, ...]
    left: int


@dataclass(frozen=True)
class QueueEntry:
    """One pending approval in full: the write, why, evidence and when it expires."""

    rank: int
    account: EvidenceItem
    priority: str
    at_stake: str
    write: str
    also: tuple[str, ...]
    why: str
    evidence: tuple[EvidenceItem, ...]
    evidence_left: int
    expires: datetime | None
    approval_id: str

    @property
    def short_id(self) -> str:
        return self.approval_id[:8]


@dataclass(frozen=True)
class Line:
    """One item in one line: an account, a label (priority, status, risk) and the text."""

    account: EvidenceItem
    label: str
    text: str
    reason: str = ""
    ref: str = ""
    """A short id to act on (a recommendation or an approval), or empty."""


@dataclass(frozen=True)
class Sections:
    """The brief's sections; each ``*_left`` is how many its list left out."""

    changes: tuple[ChangeLine, ...]
    changes_left: int
    queue: tuple[QueueEntry, ...]
    queue_left: int
    more: tuple[Line, ...]
    more_left: int
    decided: tuple[Line, ...]
    decided_left: int
    others: tuple[Line, ...]
    others_left: int
    quiet: tuple[EvidenceItem, ...] = ()
    """Accounts with nothing to report, by name (one paragraph)."""
    quiet_left: int = 0


def account_item(account_id: str, names: RecordNames, known: BriefAccount | None) -> EvidenceItem:
    """The account by name, linked to its page when it has one."""
    name = names.name("Accounts", account_id) or (known.account_name if known else "")
    return EvidenceItem(
        text=name or names.account(account_id),
        url=names.url("Accounts", account_id),
        ref=str(RecordRef(module="Accounts", id=account_id)),
    )


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "—"


def _queue_entry(
    rank: int,
    item: BriefItem,
    rec: Recommendation | None,
    account: BriefAccount | None,
    names: RecordNames,
    owner: str,
) -> QueueEntry:
    evidence = cited_evidence(rec, names)
    return QueueEntry(
        rank=rank,
        account=account_item(item.account_id, names, account),
        priority=rec.priority if rec else "—",
        at_stake=names.value_at_stake(item.account_id),
        write=action_line(item.payload, names, item.account_id, owner),
        also=tuple(action_line(w.action, names, item.account_id, owner) for w in item.also),
        why=why(rec, account, names),
        evidence=tuple(evidence[:EVIDENCE_LIMIT]),
        evidence_left=max(0, len(evidence) - EVIDENCE_LIMIT),
        expires=item.expires_at,
        approval_id=item.approval_id,
    )


def _more_line(
    rec: Recommendation, account: BriefAccount | None, names: RecordNames, owner: str
) -> Line:
    account_id = rec.account_id or ""
    write = action_line(rec.suggested_action, names, account_id, owner)
    return Line(
        account_item(account_id, names, account),
        rec.priority,
        short(write, WRITE_LIMIT),
        signal_titles(rec),
        rec.id[:8],
    )


def decision_label(item: BriefItem, names: RecordNames, owner: str | None = None) -> str:
    """``approved by you 2026-12-06 14:02``, ``rejected by Dana Whitfield <…> …``, ``expired
    2026-12-09 09:30``: the status at export time, who and when."""
    who = ""
    if item.decided_by:
        mine = owner is not None and item.decided_by.casefold() == owner.casefold()
        who = " by you" if mine else f" by {names.user(item.decided_by)}"
    when = item.decided_at or (item.expires_at if item.status == "expired" else None)
    return f"{item.status}{who} {_when(when)}".strip()


def _decided_line(
    item: BriefItem, account: BriefAccount | None, names: RecordNames, owner: str
) -> Line:
    failed = item.status in ("failed", "conflict") and item.error_message
    return Line(
        account_item(item.account_id, names, account),
        decision_label(item, names, owner),
        short(action_line(item.payload, names, item.account_id, owner), WRITE_LIMIT),
        short(item.error_message or "", WRITE_LIMIT) if failed else "",
        item.approval_id[:8],
    )


def _other_line(account: BriefAccount, names: RecordNames) -> Line:
    worst = sorted(account.signals, key=lambda s: -SEVERITY_WEIGHT.get(s.severity, 0))
    text = signal_text(worst[0], names, account.account_id)
    if len(worst) > 1:
        extra = len(worst) - 1
        text = f"{short(text, LINE_LIMIT - 24)}; and {extra} more signal{'s' * (extra > 1)}"
    level = account.risk_level if account.risk_level != "none" else risk_level(account.signals)
    return Line(account_item(account.account_id, names, account), f"risk {level}", text)


def _capped(items: Sequence[T], limit: int) -> tuple[tuple[T, ...], int]:
    return tuple(items[:limit]), max(0, len(items) - limit)


def brief_sections(brief: CurrentBrief, names: RecordNames) -> Sections:
    """Every section of ``brief`` in plain words (see the module text)."""
    owner = brief.owner_email
    accounts = {a.account_id: a for a in brief.accounts or []}
    recs = {r.id: r for r in brief.recommendations}

    change_lines = [
        ChangeLine(
            account=account_item(group.account_id, names, accounts.get(group.account_id)),
            changes=tuple(
                grouped_changes(group.changes[:CHANGES_PER_ACCOUNT], group.account_id, names)
            ),
            left=max(0, len(group.changes) - CHANGES_PER_ACCOUNT),
        )
        for group in brief.changes or []
        if group.changes
    ]
    queue = [
        _queue_entry(
            i + 1,
            item,
            recs.get(item.recommendation_id),
            accounts.get(item.account_id),
            names,
            owner,
        )
        for i, item in enumerate(brief.queue[:QUEUE_LIMIT])
    ]
    said: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(queue):  # the same reason twice: point at the first
        key = (entry.account.ref, entry.why)
        if entry.why and key in said:
            queue[index] = replace(entry, why=f"the same as #{said[key]}")
        said.setdefault(key, entry.rank)
    more = [
        _more_line(r, accounts.get(r.account_id or ""), names, owner)
        for r in brief.recommendations
        if r.status == "queued"
    ]
    decided = [
        _decided_line(item, accounts.get(item.account_id), names, owner) for item in brief.decided
    ]
    attention = {a.account_id for a in brief.queue} | {
        r.account_id for r in brief.recommendations if r.status == "queued"
    }
    others = [
        _other_line(a, names)
        for a in brief.accounts or []
        if a.signals and a.account_id not in attention
    ]
    changes, changes_left = _capped(change_lines, CHANGES_LIMIT)
    more_shown, more_left = _capped(more, MORE_LIMIT)
    decided_shown, decided_left = _capped(decided, DECIDED_LIMIT)
    others_shown, others_left = _capped(others, OTHERS_LIMIT)
    quiet = sorted(
        (
            account_item(a.account_id, names, a)
            for a in brief.accounts or []
            if not a.signals and a.account_id not in attention
        ),
        key=lambda item: item.text.casefold(),
    )
    quiet_shown, quiet_left = _capped(quiet, QUIET_LIMIT)
    return Sections(
        changes=changes,
        changes_left=changes_left,
        queue=tuple(queue),
        queue_left=max(0, len(brief.queue) - QUEUE_LIMIT),
        more=more_shown,
        more_left=more_left,
        decided=decided_shown,
        decided_left=decided_left,
        others=others_shown,
        others_left=others_left,
        quiet=quiet_shown,
        quiet_left=quiet_left,
    )
