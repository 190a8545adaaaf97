"""The risk-signal catalog and its detectors (pure: no I/O, no clock of its own).

:data:`SIGNALS` lists every signal key with a title, a default severity and what it means.
Each detector takes one account's :class:`~sergas_tui.domain.bundle.Bundle`, ``now`` and
:class:`~sergas_tui.config.SignalSettings`, and returns :class:`RiskSignal` objects whose
evidence cites the records (and fields) that triggered them. :func:`detect_all` runs them all;
:func:`risk_score` and :func:`risk_level` turn signals into a sort order.

Every figure a signal states is worked out once, with the detector's ``now``, and kept in
``RiskSignal.data`` under a documented name; the message is rendered from ``data``, and any
other text that repeats a figure (the author's tasks, emails and rationales) takes it from
there too. The names per key:

- ``no_activity_*``: ``days_quiet``, ``limit_days``, ``basis`` (``touch``, ``created``,
  ``records``: see :func:`.touches.quiet_of`) and, by basis, ``last_touch`` (how the touch is
  named), ``last_touch_date`` (ISO), ``last_touch_kind``; or ``account_created_date``; or
  ``records_since`` (``days_quiet`` is then a lower bound);
- ``stalled_in_stage``: ``deal``, ``stage``, ``days_in_stage``, ``at_least`` (True when the
  entry into the stage is only bounded), ``limit_days``, ``limit_source``, ``samples``;
- ``close_date_pushed``: ``deal``, ``pushes``, ``first_date``, ``closing_date``;
- ``close_date_overdue``: ``deal``, ``days_overdue``, ``closing_date``;
- ``amount_decreased``: ``deal``, ``old_amount``, ``new_amount``, ``cut_percent``;
- ``stage_regression``: ``deal``, ``from_stage``, ``to_stage``;
- ``single_threaded``: ``deal``, ``amount`` (when known), ``contacts``, and when one
  contact carries the account ``engaged_contact``, ``engaged_activities``, ``window_days``;
- ``no_next_step``: ``deal``, ``stage``;
- ``renewal_declining_sentiment``: ``deal``, ``days_to_close`` (negative once overdue),
  ``closing_date``, ``first_score``, ``first_date``, ``last_score``, ``last_date``, ``notes``;
- ``executive_sponsor_change``: ``changes`` (how many were found).

Deal detectors live in :mod:`.signals_deals`; account-level ones (activity, people, sentiment)
are here.

Why one module: the catalog (:data:`SIGNALS`), the account-level detectors and the
scoring read the same table: a detector's default severity is its catalog entry's,
:func:`detect_all` orders signals by catalog position, and the risk level comes from the
severity weights defined here. The deal detectors, which state their own severities and need no
catalog lookup, live in :mod:`.signals_deals`; moving the account-level ones out as well would
make them and the catalog import each other.
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
from sergas_tui.domain.pipeline import EMPTY_SAMPLES, StageSamples
from sergas_tui.domain.records import Activity, Contact, Note, RecordRef, RiskSignal, SignalValue
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
from sergas_tui.domain.touches import quiet_days, quiet_of


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
               "No customer touch (a call or meeting held, a task completed, a deal moving "
               "stage, won or lost) for no_activity_warning_days or more."),
    SignalSpec("no_activity_critical", "Gone quiet", "critical",
               "No customer touch for no_activity_critical_days or more (replaces the "
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
    key: str,
    message: str,
    evidence: Iterable[RecordRef],
    severity: Severity | None = None,
    *,
    data: Mapping[str, SignalValue] | None = None,
) -> RiskSignal:
    return RiskSignal(
        key=key,
        severity=severity or SIGNALS[key].severity,
        message=message,
        evidence=list(dict.fromkeys(evidence)),
        data=dict(data or {}),
    )


def activity_time(activity: Activity, now: datetime) -> datetime | None:
    """When an activity last happened, as far as we can tell: its time (due date, start)
    when that is not in the future, else its creation; None when neither is known."""
    times = [t for t in (activity.when, activity.created_time) if t is not None and t <= now]
    return max(times, default=None)


def quiet_message(data: Mapping[str, SignalValue]) -> str:
    """The ``no_activity_*`` message, from the signal's ``data``."""
    days, limit = data["days_quiet"], data["limit_days"]
    if data["basis"] == "touch":
        return (
            f"No customer touch for {days} days (last: {data['last_touch']} on "
            f"{data['last_touch_date']}; limit {limit})"
        )
    if data["basis"] == "created":
        return f"No customer touch since the account was created {days} days ago (limit {limit})"
    return (
        f"No customer touch for at least {days} days (none on record since "
        f"{data['records_since']}; limit {limit})"
    )


def detect_no_activity(bundle: Bundle, now: datetime, settings: SignalSettings) -> list[RiskSignal]:
    """``no_activity_warning`` / ``no_activity_critical`` (at most one of the two).

    Days without a customer touch (:func:`~.touches.quiet_of`): since the last one — calls
    and meetings held, tasks completed by people, deals moving stage, won or lost; never open
    tasks, tasks Sergas wrote, record edits or ``Last_Activity_Time`` — and the evidence is the
    touch's record. With none on record: since the account was created (its whole life read),
    else *at least* since the records read reach back.
    """
    quiet = quiet_of(bundle, now)
    days = quiet_days(quiet, now)
    data: dict[str, SignalValue] = {"days_quiet": days, "basis": quiet.basis}
    account = bundle.account
    if quiet.touch is not None:
        touch = quiet.touch
        data["last_touch"] = touch.label
        data["last_touch_date"] = touch.at.date().isoformat()
        data["last_touch_kind"] = touch.kind
        evidence = [touch.ref]
    elif quiet.basis == "created":
        data["account_created_date"] = quiet.since.date().isoformat()
        evidence = [RecordRef(module="Accounts", id=account.id, field="Created_Time")]
    else:
        data["records_since"] = quiet.since.date().isoformat()
        evidence = [account.ref()]
    if days >= settings.no_activity_critical_days:
        limit, key = settings.no_activity_critical_days, "no_activity_critical"
    elif days >= settings.no_activity_warning_days:
        limit, key = settings.no_activity_warning_days, "no_activity_warning"
    else:
        return []
    data["limit_days"] = limit
    return [_signal(key, quiet_message(data), evidence, data=data)]


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
    data: dict[str, SignalValue] = {"deal": deal.name, "contacts": len(bundle.contacts)}
    if deal.amount is not None:
        data["amount"] = deal.amount
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
        data["engaged_contact"] = contact.name if contact else contact_id
        data["engaged_activities"] = len(touches)
        data["window_days"] = settings.engaged_contact_days
        who = (
            f"has {data['contacts']} contacts but only {data['engaged_contact']} was involved "
            f"in the {data['engaged_activities']} activities of the last "
            f"{data['window_days']} days"
        )
        evidence = [RecordRef(module="Contacts", id=contact_id), *(a.ref() for a in touches[:3])]
    else:
        return []
    amount = deal.amount or 0.0
    value = f" ({money(amount)})" if "amount" in data else ""
    return [
        _signal(
            "single_threaded",
            f"Open deal '{data['deal']}'{value} is single-threaded: the account {who}",
            [deal.ref(), *evidence],
            "high" if amount >= SINGLE_THREADED_HIGH_AMOUNT else "warning",
            data=data,
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
    data: dict[str, SignalValue] = {
        "deal": deal.name,
        "days_to_close": (closing - today).days,
        "closing_date": closing.isoformat(),
        "first_score": round(first[1], 2),
        "first_date": first[0].date().isoformat(),
        "last_score": round(last[1], 2),
        "last_date": last[0].date().isoformat(),
        "notes": len(scored),
    }
    return [
        _signal(
            "renewal_declining_sentiment",
            renewal_message(data),
            [RecordRef(module="Deals", id=d.id, field="Closing_Date") for d, _ in renewals]
            + negative,
            data=data,
        )
    ]


def renewal_message(data: Mapping[str, SignalValue]) -> str:
    """The ``renewal_declining_sentiment`` message, from the signal's ``data``."""
    due = int(data["days_to_close"])
    timing = f"closes in {due} days" if due >= 0 else f"was due {-due} days ago"
    return (
        f"Renewal '{data['deal']}' {timing} ({data['closing_date']}) and note sentiment is "
        f"declining ({float(data['first_score']):+.2f} on {data['first_date']} to "
        f"{float(data['last_score']):+.2f} on {data['last_date']}, {data['notes']} notes)"
    )


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
            "executive_sponsor_change",
            "Executive sponsor change: " + "; ".join(parts),
            evidence,
            data={"changes": len(parts)},
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
