"""The account screen's sections as rows of display strings: deals, activities, notes, changes
since the last review, memory, recommendations, and the glance and overview fields.

Pure functions of the records (no reads): :func:`~.account.load_account` gathers the records
and calls them. Text from the CRM stays raw here; the widgets escape it when they render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sergas_tui.domain import Activity, Change, Deal, EscalationAction, Note
from sergas_tui.domain.approval import Approval
from sergas_tui.domain.changes import RECORD_FIELD
from sergas_tui.domain.evidence import describe_evidence
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.outputs import BriefAccount, HistoricalContext, OwnerBrief, Recommendation
from sergas_tui.domain.pipeline import is_open, stage_stay
from sergas_tui.domain.records import Account
from sergas_tui.domain.redaction import REDACTED, is_sensitive_field
from sergas_tui.domain.touches import Touch, quiet_days
from sergas_tui.memory.derive import recommendation_summary
from sergas_tui.viewmodels.account_format import (
    FoldedText,
    close_date_text,
    day_text,
    days_in_stage_text,
    fold_text,
    money,
    relative_days,
    value_text,
    when_text,
)

MAX_ACTIVITIES = 100
"""The activity timeline shows at most this many entries, newest first."""
ACTIVITY_KINDS = {"task": "Task", "event": "Meeting", "call": "Call"}


@dataclass(frozen=True)
class DealRow:
    deal_id: str
    name: str
    stage: str
    in_stage: str
    """``45 d in stage`` for an open deal, empty for a closed one."""
    close_date: str
    amount: str
    is_open: bool
    late: bool


@dataclass(frozen=True)
class ActivityRow:
    when: str
    relative: str
    kind: str
    subject: str
    status: str
    who: str


@dataclass(frozen=True)
class NoteView:
    note_id: str
    title: str
    meta: str
    """``2026-10-27 09:30 · Jordan Avery``."""
    body: FoldedText


@dataclass(frozen=True)
class ChangeRow:
    record: str
    """``Account``, ``Deal Harbor Point - …`` or ``Contact Dana Whitfield``."""
    field: str
    old: str
    new: str
    when: str


@dataclass(frozen=True)
class KeyEventRow:
    day: str
    event: str
    impact: str


@dataclass(frozen=True)
class PriorRow:
    day: str
    recommendation: str
    status: str
    outcome: str


@dataclass(frozen=True)
class MemoryView:
    sentiment: str
    relationship: str
    stale: bool
    key_events: list[KeyEventRow] = field(default_factory=list)
    prior: list[PriorRow] = field(default_factory=list)
    commitments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecommendationRow:
    recommendation_id: str
    priority: str
    kind: str
    summary: str
    status: str
    """The approval's status when there is one, else the recommendation's."""
    detail: str
    """``confidence high · proposed 2026-11-02 · decided by … `` and the like."""
    rationale: str
    evidence: tuple[str, ...] = ()
    """The cited records in words (``Deal 'X' · Stage now Negotiation/Review``)."""


def glance_fields(
    deals: Sequence[Deal],
    activities: Sequence[Activity],
    recommendations: Sequence[RecommendationRow],
    now: datetime,
) -> list[tuple[str, str]]:
    """The few facts an AE wants first: open pipeline, next activity, what awaits a decision."""
    open_deals = [d for d in deals if is_open(d)]
    total = sum(d.amount or 0.0 for d in open_deals)
    noun = "open deal" if len(open_deals) == 1 else "open deals"
    pipeline = f"{len(open_deals)} {noun}" + (f" · {money(total)}" if open_deals else "")
    upcoming = sorted(
        (a for a in activities if a.when and a.when >= now and a.status != "Completed"),
        key=lambda a: (a.when, a.id),
    )
    next_text = "none planned"
    if upcoming:
        first = upcoming[0]
        kind = ACTIVITY_KINDS.get(first.kind, first.kind)
        next_text = f"{day_text(first.when)} ({relative_days(first.when, now.date())}) "
        next_text += f"{kind}: {first.subject}"
    pending = sum(1 for r in recommendations if r.status == "pending")
    noun = "recommendation" if pending == 1 else "recommendations"
    waiting = f"{pending} {noun} pending approval" if pending else "nothing"
    return [("Open pipeline", pipeline), ("Next activity", next_text), ("Awaiting you", waiting)]


def touch_text(touch: Touch | None, now: datetime) -> str:
    """``2026-09-22 (41 d ago) · call 'Contract status'``: the last customer touch, its age
    counted as the quiet signals count it; ``none recorded`` without one."""
    if touch is None:
        return "none recorded"
    days = quiet_days(touch, now)
    return f"{day_text(touch.at)} ({'today' if days == 0 else f'{days} d ago'}) · {touch.label}"


def overview_fields(
    account: Account, now: datetime, touch: Touch | None = None
) -> list[tuple[str, str]]:
    """Label/value pairs of the account's standard fields, unknown ones as ``—``; then the
    last customer touch (:mod:`sergas_tui.domain.touches`), never ``Last_Activity_Time``."""
    place = ", ".join(p for p in (account.billing_city, account.billing_country) if p)
    parent = account.parent_account
    return [
        ("Industry", account.industry or "—"),
        ("Type", account.account_type or "—"),
        ("Rating", account.rating or "—"),
        ("Annual revenue", money(account.annual_revenue)),
        ("Employees", "—" if account.employees is None else f"{account.employees:,}"),
        ("Phone", account.phone or "—"),
        ("Website", account.website or "—"),
        ("Location", place or "—"),
        ("Parent account", "—" if parent is None else (parent.name or parent.id)),
        ("Last customer touch", touch_text(touch, now)),
    ]


def deal_rows(deals: Sequence[Deal], now: datetime) -> list[DealRow]:
    """Open deals first (biggest first), then closed ones (latest close first)."""
    today = now.date()

    def order(deal: Deal) -> tuple[int, float, str]:
        if is_open(deal):
            return (0, -(deal.amount or 0.0), deal.id)
        closed = deal.closing_date.toordinal() if deal.closing_date else 0
        return (1, -closed, deal.id)

    rows: list[DealRow] = []
    for deal in sorted(deals, key=order):
        open_deal = is_open(deal)
        late = open_deal and deal.closing_date is not None and deal.closing_date < today
        rows.append(
            DealRow(
                deal_id=deal.id,
                name=deal.name,
                stage=deal.stage or "—",
                in_stage=days_in_stage_text(stage_stay(deal), now) if open_deal else "",
                close_date=close_date_text(deal.closing_date, today, open_deal=open_deal),
                amount=money(deal.amount),
                is_open=open_deal,
                late=late,
            )
        )
    return rows


def activity_rows(activities: Sequence[Activity], now: datetime) -> list[ActivityRow]:
    """The timeline, newest first (undated tasks last), at most :data:`MAX_ACTIVITIES`."""
    dated = sorted((a for a in activities if a.when), key=lambda a: (a.when, a.id), reverse=True)
    undated = [a for a in activities if a.when is None]
    today = now.date()
    return [
        ActivityRow(
            when=when_text(a.when),
            relative=relative_days(a.when, today),
            kind=ACTIVITY_KINDS.get(a.kind, a.kind),
            subject=a.subject,
            status=a.status or "—",
            who=(a.who.name or a.who.id) if a.who else "—",
        )
        for a in [*dated, *undated][:MAX_ACTIVITIES]
    ]


def note_views(notes: Sequence[Note]) -> list[NoteView]:
    """Notes newest first, each folded to a preview."""

    stamped = [(n.created_time or n.modified_time, n) for n in notes]
    dated = sorted(((t, n) for t, n in stamped if t), key=lambda p: p[0], reverse=True)
    ordered = [n for _, n in dated] + [n for t, n in stamped if t is None]
    views: list[NoteView] = []
    for note in ordered:
        author = (note.owner.name or note.owner.email or "") if note.owner else ""
        meta = " · ".join(p for p in (when_text(note.created_time), author) if p)
        views.append(
            NoteView(
                note_id=note.id,
                title=(note.title or "").strip() or "(untitled note)",
                meta=meta,
                body=fold_text(note.content),
            )
        )
    return views


def change_rows(
    changes: Sequence[Change], deals: Sequence[Deal], contact_names: dict[str, str]
) -> list[ChangeRow]:
    """Each change as ``record · field: old → new``; sensitive values never shown."""
    deal_names = {d.id: d.name for d in deals}
    rows: list[ChangeRow] = []
    for change in changes:
        module = change.module or "Accounts"
        rid = change.record_id or ""
        if module == "Deals":
            record = f"Deal {deal_names.get(rid, rid)}".strip()
        elif module == "Contacts":
            record = f"Contact {contact_names.get(rid, rid)}".strip()
        elif module == "Accounts":
            record = "Account"
        else:
            record = f"{module} {rid}".strip()
        old, new = change.old, change.new
        if is_sensitive_field(change.field):
            old, new = REDACTED, REDACTED
        name = change.field
        if name == RECORD_FIELD:
            name = "added" if old is None else "removed" if new is None else "record"
        rows.append(
            ChangeRow(
                record=record,
                field=name,
                old=value_text(old),
                new=value_text(new),
                when=day_text(change.timestamp),
            )
        )
    return rows


def memory_view(context: HistoricalContext) -> MemoryView:
    details = context.historical_context
    return MemoryView(
        sentiment=details.sentiment_trend,
        relationship=details.relationship_strength,
        stale=context.memory_stale,
        key_events=[
            KeyEventRow(day=e.date.isoformat(), event=e.event, impact=e.impact or "")
            for e in details.key_events
        ],
        prior=[
            PriorRow(
                day=p.date.isoformat(),
                recommendation=p.recommendation,
                status=p.status,
                outcome=p.outcome or "",
            )
            for p in details.prior_recommendations
        ],
        commitments=list(details.commitment_tracking),
    )


def _summary(rec: Recommendation, names: RecordNames) -> str:
    """The recommendation in one line, an escalation naming the person it goes to."""
    action = rec.suggested_action
    if isinstance(action, EscalationAction) and rec.account_id:
        who = names.person(action.escalate_to, names.owner_of(rec.account_id))
        return f"Escalate to {who}: {action.reason}"
    return recommendation_summary(rec)


def recommendation_rows(
    recommendations: Sequence[Recommendation],
    approvals: Sequence[Approval],
    names: RecordNames | None = None,
) -> list[RecommendationRow]:
    """Newest first; each joined with its latest approval for the status and the decision,
    with its evidence in words (records named by ``names``)."""
    names = names or RecordNames()
    latest: dict[str, Approval] = {}
    for item in approvals:  # oldest first, so the last one wins
        latest[item.recommendation_id] = item
    rows: list[RecommendationRow] = []
    for rec in reversed(recommendations):
        approval = latest.get(rec.id)
        status = str(approval.status) if approval else rec.status
        if status == "superseded":  # a later review replaced it: the newer one is listed
            continue
        detail = [f"confidence {rec.confidence}", f"proposed {day_text(rec.created_at)}"]
        if approval is not None:
            if approval.decided_by:
                detail.append(f"decided by {approval.decided_by} {day_text(approval.decided_at)}")
            elif status == "pending":
                detail.append(f"expires {when_text(approval.expiry)}")
            if approval.decision_rationale:
                detail.append(f"“{approval.decision_rationale}”")
            if approval.error_message:
                detail.append(approval.error_message)
        rows.append(
            RecommendationRow(
                recommendation_id=rec.id,
                priority=rec.priority,
                kind=rec.type,
                summary=_summary(rec, names),
                status=status,
                detail=" · ".join(detail),
                rationale=rec.rationale,
                evidence=tuple(i.text for i in describe_evidence(rec.data_references, names)),
            )
        )
    return rows


def brief_entry(brief: OwnerBrief | None, account_id: str) -> BriefAccount | None:
    """The account's entry in the brief (None when the brief did not review it)."""
    accounts = (brief.accounts or []) if brief else []
    return next((a for a in accounts if a.account_id == account_id), None)


def brief_changes(brief: OwnerBrief | None, account_id: str) -> list[Change]:
    """The changes the brief's review found on the account, in the brief's order."""
    groups = (brief.changes or []) if brief else []
    return [c for group in groups if group.account_id == account_id for c in group.changes]
