"""The risk-signal catalog and its detectors (pure: no I/O, no clock of its own).

:data:`SIGNALS` lists every signal key with a title, a default severity and what it means.
Each detector takes one account's :class:`~sergas_tui.domain.bundle.Bundle`, ``now`` and
:class:`~sergas_tui.config.SignalSettings`, and returns :class:`RiskSignal` objects whose
evidence cites the records (and fields) that triggered them. :func:`detect_all` runs them all;
:func:`risk_score` and :func:`risk_level` turn signals into a sort order.

Deal detectors live in :mod:`.signals_deals`; account-level ones (activity, people, sentiment)
are here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal

from sergas_tui.config import SignalSettings
from sergas_tui.domain import sentiment
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.common import Severity
from sergas_tui.domain.pipeline import EMPTY_SAMPLES, StageSamples, days_between
from sergas_tui.domain.records import Activity, Contact, Note, RecordRef, RiskSignal
from sergas_tui.domain.signals_deals import (
    detect_amount_decreased,
    detect_close_date_overdue,
    detect_close_date_pushed,
    detect_no_next_step,
    detect_stage_regression,
    detect_stalled,
    money,
    open_deals,
)


@dataclass(frozen=True)
class SignalSpec:
    """One entry of the catalog."""

    key: str
    title: str
    severity: Severity
    """The usual severity; some detectors raise it (documented per key)."""
    meaning: str


_CATALOG: tuple[SignalSpec, ...] = (
    SignalSpec("no_activity_warning", "Quiet account", "warning",
               "No task, call or meeting for no_activity_warning_days or more."),
    SignalSpec("no_activity_critical", "Gone quiet", "critical",
               "No task, call or meeting for no_activity_critical_days or more (replaces the "
               "warning)."),
    SignalSpec("stalled_in_stage", "Deal stalled in stage", "warning",
               "An open deal has stayed in its stage longer than stalled_stage_factor x the "
               "typical time there (or the configured stage limit); high at twice the limit."),
    SignalSpec("close_date_pushed", "Close date pushed", "warning",
               "An open deal's closing date moved later; high at close_date_push_high pushes."),
    SignalSpec("close_date_overdue", "Close date passed", "warning",
               "An open deal is past its closing date; high after 30 days."),
    SignalSpec("amount_decreased", "Deal amount cut", "warning",
               "An open deal's amount is lower than it was; high for a cut of 25% or more."),
    SignalSpec("stage_regression", "Deal moved backwards", "warning",
               "An open deal sits in an earlier pipeline stage than it once reached."),
    SignalSpec("single_threaded", "Single-threaded", "warning",
               "An open deal of at least single_threaded_min_amount, and the account has one "
               "contact (or none), or one contact in 2+ activities within "
               "engaged_contact_days and nobody else; high from 250,000."),
    SignalSpec("no_next_step", "No next step", "warning",
               "An open deal in Proposal/Price Quote or Negotiation/Review has no Next_Step."),
    SignalSpec("renewal_declining_sentiment", "Renewal at risk", "high",
               "A Renewal deal closes within renewal_window_days and the notes' sentiment is "
               "declining."),
    SignalSpec("executive_sponsor_change", "Executive sponsor changed", "high",
               "Within sponsor_change_days a contact's role changed to or from Executive "
               "Sponsor, a new Executive Sponsor contact appeared, or a note reports it."),
)  # fmt: skip

SIGNALS: Mapping[str, SignalSpec] = MappingProxyType({spec.key: spec for spec in _CATALOG})
"""Every signal key the rules engine emits → its catalog entry."""

SEVERITY_WEIGHT: Mapping[Severity, int] = MappingProxyType(
    {"info": 1, "warning": 3, "high": 8, "critical": 20}
)
RiskLevel = Literal["none", "low", "medium", "high", "critical"]
RISK_LEVELS: tuple[RiskLevel, ...] = ("none", "low", "medium", "high", "critical")
"""Risk levels, least serious first (their index is a sort key)."""
_LEVEL_OF: Mapping[Severity, RiskLevel] = MappingProxyType(
    {"info": "low", "warning": "medium", "high": "high", "critical": "critical"}
)
ESCALATE_AT = 3
"""Signals of the worst severity (warning or above) that raise the level by one step."""
SINGLE_THREADED_HIGH_AMOUNT = 250_000.0
SINGLE_THREADED_MIN_TOUCHES = 2
"""Activities with the one engaged contact needed to call a multi-contact account
single-threaded."""
SPONSOR_ROLE = "executive sponsor"
_SPONSOR_NEWS = re.compile(
    r"\b(chang\w*|new|replac\w*|step(?:s|ped)? (?:back|down|aside)|left|leav\w*|depart\w*|"
    r"resign\w*|takes? over|took over|no longer|moved on|successor)\b"
)
_SENTENCE = re.compile(r"[.!?\n]+")
_NOTE_SCAN_CHARS = 20_000


def _signal(
    key: str, message: str, evidence: Iterable[RecordRef], severity: Severity | None = None
) -> RiskSignal:
    return RiskSignal(
        key=key,
        severity=severity or SIGNALS[key].severity,
        message=message,
        evidence=list(dict.fromkeys(evidence)),
    )


def activity_time(activity: Activity, now: datetime) -> datetime | None:
    """When an activity last happened, as far as we can tell: its time (due date, start)
    when that is not in the future, else its creation; None when neither is known."""
    times = [t for t in (activity.when, activity.created_time) if t is not None and t <= now]
    return max(times, default=None)


def detect_no_activity(bundle: Bundle, now: datetime, settings: SignalSettings) -> list[RiskSignal]:
    """``no_activity_warning`` / ``no_activity_critical`` (at most one of the two).

    The last activity is the latest of the account's and its deals' Last_Activity_Time and of
    the known activities' times. With none at all, the account's creation counts instead.
    """
    candidates: list[tuple[datetime, RecordRef]] = []
    if bundle.account.last_activity_time is not None:
        candidates.append((bundle.account.last_activity_time, bundle.account.ref()))
    for deal in bundle.deals:
        if deal.last_activity_time is not None:
            candidates.append((deal.last_activity_time, deal.ref()))
    for activity in bundle.activities:
        if (at := activity_time(activity, now)) is not None:
            candidates.append((at, activity.ref()))
    candidates = [(t, ref) for t, ref in candidates if t <= now]
    account_ref = RecordRef(module="Accounts", id=bundle.account.id, field="Last_Activity_Time")
    if candidates:
        last, ref = max(candidates, key=lambda item: item[0])
        days = days_between(last, now)
        what = f"No activity for {days} days (last on {last.date().isoformat()})"
        evidence = [account_ref] if ref.module == "Accounts" else [account_ref, ref]
    elif bundle.account.created_time is not None:
        days = days_between(bundle.account.created_time, now)
        what = f"No activity recorded since the account was created {days} days ago"
        evidence = [account_ref]
    else:
        return []
    if days >= settings.no_activity_critical_days:
        limit, key = settings.no_activity_critical_days, "no_activity_critical"
    elif days >= settings.no_activity_warning_days:
        limit, key = settings.no_activity_warning_days, "no_activity_warning"
    else:
        return []
    return [_signal(key, f"{what} (limit {limit})", evidence)]


def engaged_contacts(bundle: Bundle, now: datetime, days: int) -> dict[str, list[Activity]]:
    """Contact id → the activities within ``days`` that involved them (``Who_Id``), newest
    first. Only the account's own contacts count when the bundle lists any."""
    since = now - timedelta(days=days)
    known = {c.id for c in bundle.contacts}
    engaged: dict[str, list[tuple[datetime, Activity]]] = {}
    for activity in bundle.activities:
        at = activity_time(activity, now)
        who = activity.who.id if activity.who is not None else None
        if at is None or who is None or at < since or (known and who not in known):
            continue
        engaged.setdefault(who, []).append((at, activity))
    return {
        who: [a for _, a in sorted(items, key=lambda item: item[0], reverse=True)]
        for who, items in engaged.items()
    }


def detect_single_threaded(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``single_threaded``: a meaningful open deal rests on one person — the account has one
    contact (or none), or several but only one was involved in activities within
    ``engaged_contact_days``, in at least :data:`SINGLE_THREADED_MIN_TOUCHES` of them (one
    lone activity says nothing about a pattern)."""
    floor = settings.single_threaded_min_amount
    deals = [d for d in open_deals(bundle) if floor <= 0 or (d.amount or 0.0) >= floor]
    if not deals:
        return []
    deal = deals[0]
    engaged = engaged_contacts(bundle, now, settings.engaged_contact_days)
    if len(bundle.contacts) == 0:
        who, evidence = "has no contacts", []
    elif len(bundle.contacts) == 1:
        only = bundle.contacts[0]
        who, evidence = f"has a single contact, {only.name}", [only.ref()]
    elif len(engaged) == 1 and len(touches := next(iter(engaged.values()))) >= (
        SINGLE_THREADED_MIN_TOUCHES
    ):
        contact_id = next(iter(engaged))
        contact = bundle.contact(contact_id)
        name = contact.name if contact else contact_id
        who = (
            f"has {len(bundle.contacts)} contacts but only {name} was involved in the "
            f"{len(touches)} activities of the last {settings.engaged_contact_days} days"
        )
        evidence = [RecordRef(module="Contacts", id=contact_id), *(a.ref() for a in touches[:3])]
    else:
        return []
    amount = deal.amount or 0.0
    value = f" ({money(amount)})" if deal.amount is not None else ""
    return [
        _signal(
            "single_threaded",
            f"Open deal '{deal.name}'{value} is single-threaded: the account {who}",
            [deal.ref(), *evidence],
            "high" if amount >= SINGLE_THREADED_HIGH_AMOUNT else "warning",
        )
    ]


def note_time(note: Note) -> datetime | None:
    return note.created_time or note.modified_time


def note_text(note: Note) -> str:
    return note.content or note.title or ""


def detect_renewal_sentiment(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``renewal_declining_sentiment``: a renewal closes soon (or is overdue) while the notes'
    sentiment trend is declining (:func:`sentiment.trend` over every known note)."""
    today = now.date()
    renewals = [
        (d, closing)
        for d in open_deals(bundle)
        if _is_renewal(d.type, d.name)
        and (closing := d.closing_date) is not None
        and (closing - today).days <= settings.renewal_window_days
    ]
    if not renewals:
        return []
    scored = [
        (when, sentiment.score(note_text(n)), n)
        for n in bundle.notes
        if (when := note_time(n)) is not None and note_text(n)
    ]
    if sentiment.trend([(when, value) for when, value, _ in scored]) != "declining":
        return []
    scored.sort(key=lambda item: item[0])
    negative = [n.ref() for _, value, n in scored if value < 0][-3:]
    first, last = scored[0], scored[-1]
    deal, closing = renewals[0]
    due = (closing - today).days
    timing = f"closes in {due} days" if due >= 0 else f"was due {-due} days ago"
    return [
        _signal(
            "renewal_declining_sentiment",
            f"Renewal '{deal.name}' {timing} ({closing.isoformat()}) and note "
            f"sentiment is declining ({first[1]:+.2f} on {first[0].date().isoformat()} to "
            f"{last[1]:+.2f} on {last[0].date().isoformat()}, {len(scored)} notes)",
            [RecordRef(module="Deals", id=d.id, field="Closing_Date") for d, _ in renewals]
            + negative,
        )
    ]


def _is_renewal(deal_type: str | None, name: str) -> bool:
    if deal_type:
        return "renewal" in deal_type.casefold()
    return "renewal" in name.casefold()


def _is_sponsor(value: object) -> bool:
    return isinstance(value, str) and value.strip().casefold() == SPONSOR_ROLE


def _sponsor_note(note: Note) -> bool:
    text = note_text(note)[:_NOTE_SCAN_CHARS].casefold()
    return any(
        SPONSOR_ROLE in part and _SPONSOR_NEWS.search(part) for part in _SENTENCE.split(text)
    )


def detect_sponsor_change(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``executive_sponsor_change`` from three sources, any of which suffices: a Contacts
    role change to or from Executive Sponsor (timeline or snapshot diff), a new Executive
    Sponsor contact on an older account, or a note that reports the change."""
    since = now - timedelta(days=settings.sponsor_change_days)
    parts: list[str] = []
    evidence: list[RecordRef] = []
    names: dict[str, Contact] = {c.id: c for c in bundle.contacts}
    for change in bundle.changes:
        if change.module != "Contacts" or change.record_id is None:
            continue
        if change.field.casefold() not in {"contact_role", "role"}:
            continue
        if not (_is_sponsor(change.old) or _is_sponsor(change.new)):
            continue
        if change.timestamp is not None and change.timestamp < since:
            continue
        contact = names.get(change.record_id)
        name = contact.name if contact else f"Contact {change.record_id}"
        on = f" on {change.timestamp.date().isoformat()}" if change.timestamp else ""
        parts.append(
            f"{name}'s role changed from {change.old or 'none'} to {change.new or 'none'}{on}"
        )
        evidence.append(RecordRef(module="Contacts", id=change.record_id, field=change.field))
    account_created = bundle.account.created_time
    for contact in bundle.contacts:
        created = contact.created_time
        if not _is_sponsor(contact.role) or created is None or created < since:
            continue
        if account_created is None or account_created >= since:
            continue
        parts.append(
            f"{contact.name} was added as Executive Sponsor on {created.date().isoformat()}"
        )
        evidence.append(contact.ref())
    recent_notes = [n for n in bundle.notes if (t := note_time(n)) is not None and t >= since]
    reported = [n for n in recent_notes if _sponsor_note(n)]
    if reported and not parts:
        latest = max(reported, key=lambda n: note_time(n) or since)
        parts.append(
            f"a note of {(note_time(latest) or since).date().isoformat()} reports a "
            "change of executive sponsor"
        )
    evidence += [n.ref() for n in reported]
    if not parts:
        return []
    return [
        _signal(
            "executive_sponsor_change", "Executive sponsor change: " + "; ".join(parts), evidence
        )
    ]


Detector = Callable[[Bundle, datetime, SignalSettings], list[RiskSignal]]

DETECTORS: tuple[Detector, ...] = (
    detect_no_activity,
    detect_close_date_pushed,
    detect_close_date_overdue,
    detect_amount_decreased,
    detect_stage_regression,
    detect_single_threaded,
    detect_no_next_step,
    detect_renewal_sentiment,
    detect_sponsor_change,
)
"""Every detector but :func:`detect_stalled`, which also needs the portfolio's stage samples."""


def detect_all(
    bundle: Bundle,
    now: datetime,
    settings: SignalSettings,
    *,
    samples: StageSamples = EMPTY_SAMPLES,
) -> list[RiskSignal]:
    """Every signal of one account, most severe first (then in catalog order)."""
    found = detect_stalled(bundle, now, settings, samples=samples)
    for detector in DETECTORS:
        found.extend(detector(bundle, now, settings))
    order = list(SIGNALS)
    return sorted(found, key=lambda s: (-SEVERITY_WEIGHT[s.severity], order.index(s.key)))


def risk_score(signals: Sequence[RiskSignal]) -> int:
    """A number that orders accounts by risk: the sum of the signals' severity weights."""
    return sum(SEVERITY_WEIGHT[s.severity] for s in signals)


def risk_level(signals: Sequence[RiskSignal]) -> RiskLevel:
    """ "none" without signals; else the worst severity's level (info → low, warning →
    medium, high → high, critical → critical), one step higher when :data:`ESCALATE_AT` or
    more signals share that worst severity (warning or above)."""
    if not signals:
        return "none"
    worst = max(signals, key=lambda s: SEVERITY_WEIGHT[s.severity]).severity
    level = _LEVEL_OF[worst]
    count = sum(1 for s in signals if s.severity == worst)
    if worst != "info" and count >= ESCALATE_AT:
        level = RISK_LEVELS[min(len(RISK_LEVELS) - 1, RISK_LEVELS.index(level) + 1)]
    return level


def risk_rank(signals: Sequence[RiskSignal]) -> tuple[int, int]:
    """A sort key, most at risk last: (level index, score). Sort with ``reverse=True``."""
    return RISK_LEVELS.index(risk_level(signals)), risk_score(signals)
