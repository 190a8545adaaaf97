"""Pure rules that turn an account's facts into memory items. No I/O, deterministic.

- :func:`key_events` — turning points from field changes, deal stage history and risk signals
  ("Executive sponsor changed", "Close date pushed from … to …", "Stage moved to …", "Amount cut
  from … to …"), each with a stable id so re-ingesting the same facts changes nothing;
- :func:`commitments_in` — what the customer committed to, from simple phrase patterns in notes
  ("Budget approved for Q1", "Renewal intent confirmed", "Committed to a pilot…");
- :func:`relationship_strength` — from engaged contacts and activity cadence;
- :func:`recommendation_summary` — one line describing a recommendation;
- :func:`scrub` — :func:`~sergas_tui.domain.redact` plus dropping sensitive keys and changes of
  sensitive fields entirely, for anything stored as JSON.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import JsonValue

from sergas_tui.domain import (
    REDACTED,
    AccountFacts,
    Change,
    Deal,
    Recommendation,
    RelationshipStrength,
    is_sensitive_field,
    redact,
)
from sergas_tui.domain.common import as_date, as_float

SPONSOR_ROLE = "executive sponsor"
ROLE_FIELDS = frozenset({"contact_role", "role"})
CLOSE_FIELDS = frozenset({"closing_date", "close_date"})

# Signals whose story a change-derived event already tells (signal key -> event topic).
SIGNAL_TOPICS = {
    "executive_sponsor_change": "sponsor",
    "close_date_pushed": "close_date",
    "amount_decreased": "amount",
}

COVER_WINDOW = timedelta(days=90)
"""A change-derived event this recent makes a signal with the same topic redundant."""

ENGAGEMENT_WINDOW = timedelta(days=90)
"""Activities within this window before ``now`` count towards relationship strength."""


def stable_id(*parts: object) -> str:
    """A short deterministic id for derived items (same parts, same id)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:20]


def clip(text: str | None, limit: int) -> str:
    """``text`` cut to ``limit`` characters (empty for None)."""
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class DerivedEvent:
    """A key event before it is stored: ``topic`` says which story it tells."""

    id: str
    day: date
    event: str
    impact: str | None
    topic: str
    source: str


def _text(value: JsonValue) -> str | None:
    """A change value as a short string: lookups show their name, sensitive values nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        name = value.get("name") or value.get("email") or value.get("id")
        return None if name is None else str(name)
    if isinstance(value, list):
        return None
    return str(value)


def _money(amount: float) -> str:
    return f"{amount:,.0f}"


def _change_event(facts: AccountFacts, change: Change) -> DerivedEvent | None:
    """The key event a change stands for, or None when it is not a turning point."""
    if is_sensitive_field(change.field):
        return None
    aid = facts.account_id
    when = change.timestamp or facts.reviewed_at
    day = when.date()
    field = change.field.casefold()
    old, new = _text(change.old), _text(change.new)
    record = change.record_id or aid
    deal = _deal_name(facts.deals, record)
    if field in ROLE_FIELDS and SPONSOR_ROLE in {(old or "").casefold(), (new or "").casefold()}:
        who = _contact_name(facts, record)
        if (old or "").casefold() == SPONSOR_ROLE:
            impact = f"{who} moved from Executive Sponsor to {new or 'no role'}"
        else:
            impact = f"{who} became Executive Sponsor"
        event = "Executive sponsor changed"
        return DerivedEvent(stable_id(aid, "sponsor", day), day, event, impact, "sponsor", "change")
    if field in CLOSE_FIELDS:
        before, after = as_date(change.old), as_date(change.new)
        if before is None or after is None or before == after:
            return None
        verb = "pushed" if after > before else "pulled in"
        event = f"Close date {verb} from {before.isoformat()} to {after.isoformat()}"
        key = stable_id(aid, "close", record, before, after)
        return DerivedEvent(key, day, event, deal, "close_date", "change")
    if field == "stage" and new:
        key = stable_id(aid, "stage", record, new.casefold(), day)
        detail = f"{deal}: {old} → {new}" if deal and old else deal
        return DerivedEvent(key, day, f"Stage moved to {new}", detail, "stage", "change")
    if field == "amount":
        before_amt, after_amt = as_float(change.old), as_float(change.new)
        if before_amt is None or after_amt is None or before_amt == after_amt:
            return None
        verb = "cut" if after_amt < before_amt else "raised"
        event = f"Amount {verb} from {_money(before_amt)} to {_money(after_amt)}"
        key = stable_id(aid, "amount", record, before_amt, after_amt)
        return DerivedEvent(key, day, event, deal, "amount", "change")
    if field == "owner" and new:
        event = f"Owner changed from {old or 'nobody'} to {new}"
        return DerivedEvent(
            stable_id(aid, "owner", record, new, day), day, event, deal, "owner", "change"
        )
    if field == "account_type" and new and (change.module in (None, "Accounts")):
        event = f"Account type changed to {new}"
        return DerivedEvent(stable_id(aid, "type", new, day), day, event, None, "type", "change")
    return None


def _deal_name(deals: Sequence[Deal], record_id: str) -> str | None:
    return next((d.name for d in deals if d.id == record_id), None)


def _contact_name(facts: AccountFacts, record_id: str) -> str:
    return next((c.name for c in facts.contacts if c.id == record_id), "A contact")


def _stage_history_events(facts: AccountFacts) -> Iterable[DerivedEvent]:
    """The stage each deal entered last, and any close, from its stage history.

    Earlier moves were the latest one at some earlier review, so memory collects them as they
    happen; replaying a whole history at the first ingest would only bury the recent events.
    """
    aid = facts.account_id
    for deal in facts.deals:
        rows = [(r.stage, r.changed_at.date()) for r in deal.stage_history if r.changed_at]
        for index, (stage, day) in enumerate(rows):
            latest = index == len(rows) - 1 and index > 0
            if latest or stage.casefold().startswith("closed"):
                key = stable_id(aid, "stage", deal.id, stage.casefold(), day)
                event = f"Stage moved to {stage}"
                yield DerivedEvent(key, day, event, deal.name, "stage", "stage_history")


def key_events(facts: AccountFacts) -> list[DerivedEvent]:
    """Every key event the facts show, without duplicates (first one of an id wins).

    A risk signal becomes an event of its own (dated at the review, one per signal key) unless
    a change in these facts already tells its story; the store also drops it when a change told
    it in an earlier review (see :data:`SIGNAL_TOPICS` and :data:`COVER_WINDOW`).
    """
    found: dict[str, DerivedEvent] = {}
    for change in facts.changes:
        event = _change_event(facts, change)
        if event is not None:
            found.setdefault(event.id, event)
    for event in _stage_history_events(facts):
        found.setdefault(event.id, event)
    topics = {e.topic for e in found.values()}
    day = facts.reviewed_at.date()
    for signal in facts.signals:
        if signal.severity == "info" or SIGNAL_TOPICS.get(signal.key) in topics:
            continue
        key = stable_id(facts.account_id, "signal", signal.key)
        impact = f"Flagged as a {signal.severity} risk"
        topic = SIGNAL_TOPICS.get(signal.key, signal.key)
        found.setdefault(
            key, DerivedEvent(key, day, clip(signal.message, 300), impact, topic, "signal")
        )
    return list(found.values())


_NEGATION = re.compile(r"\b(?:not|no longer|never|isn't|wasn't|hasn't|haven't|won't)\b", re.I)
_TAIL = r"[^.;!?\n]"
_COMMITMENT_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\bbudget (?:(?:has been|was|is|got) )?approved(?: for {_TAIL}{{1,40}})?",
        r"\b(?:q[1-4] )?renewal intent (?:(?:has been|was|is) )?confirmed",
        rf"\bverbal(?:ly)? commit(?:ment|ted)?(?: to {_TAIL}{{1,80}})?",
        rf"\bcommit(?:s|ted)? to {_TAIL}{{1,80}}",
        rf"\b(?:agreed|promised) to {_TAIL}{{1,80}}",
        r"\b(?:purchase order|PO) (?:was |has been )?(?:issued|received|signed)",
        rf"\bsigned (?:the )?(?:order form|contract|renewal|SOW|MSA){_TAIL}{{0,40}}",
        rf"\b[\w-]+ review to be completed {_TAIL}{{1,60}}",
    )
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
MAX_SENTENCE = 400


def commitments_in(text: str) -> list[str]:
    """The commitments a note states, in order, e.g. ``["Budget approved for Q1"]``.

    Sentence by sentence, each pattern may match once; a negation before the match ("has not
    committed to …") cancels it. The result is capitalised and stripped of trailing punctuation.
    """
    found: list[str] = []
    for sentence in _SENTENCE.split(text):
        sentence = sentence[:MAX_SENTENCE]
        spans: list[tuple[int, int]] = []
        for pattern in _COMMITMENT_PATTERNS:
            match = pattern.search(sentence)
            if match is None or _NEGATION.search(sentence[: match.start()]):
                continue
            if any(s < match.end() and match.start() < e for s, e in spans):
                continue
            spans.append(match.span())
            phrase = " ".join(match.group(0).split()).strip(" ,:-")
            found.append(phrase[:1].upper() + phrase[1:])
    return found


def relationship_strength(
    activities: Iterable[tuple[datetime | None, str | None]],
    contact_count: int,
    now: datetime,
) -> RelationshipStrength:
    """How well the account is engaged, from ``(when, contact_id)`` of its activities.

    Within the last :data:`ENGAGEMENT_WINDOW`: ``strong`` needs 3+ engaged contacts, 4+
    activities and one in the last 14 days; ``moderate`` 2+ contacts, 2+ activities and one in
    the last 30 days; anything else known is ``weak``; nothing known is ``unknown``.
    """
    rows = list(activities)
    if not rows and contact_count == 0:
        return "unknown"
    recent = [(w, c) for w, c in rows if w is not None and now - ENGAGEMENT_WINDOW <= w <= now]
    if not recent:
        return "weak"
    engaged = {c for _, c in recent if c}
    days_since = (now - max(w for w, _ in recent)).days
    if len(engaged) >= 3 and len(recent) >= 4 and days_since <= 14:
        return "strong"
    if len(engaged) >= 2 and len(recent) >= 2 and days_since <= 30:
        return "moderate"
    return "weak"


def recommendation_summary(rec: Recommendation) -> str:
    """One line that says what the recommendation proposed."""
    action: Any = rec.suggested_action
    if rec.type == "follow_up_email":
        return f"Follow-up email: {action.subject}"
    if rec.type == "create_task":
        return f"Task: {action.subject}"
    if rec.type == "add_note":
        return f"Note: {action.title}"
    if rec.type == "update_account":
        fields = [
            REDACTED if is_sensitive_field(c.field) else c.field for c in action.field_changes
        ]
        return "Update account: " + ", ".join(fields)
    return f"Escalate to {action.escalate_to}: {action.reason}"


def scrub(value: Any) -> Any:
    """``redact(value)``, then drop sensitive keys and field changes of sensitive fields.

    :func:`redact` replaces values; memory keeps nothing at all of a sensitive field, so a
    ``{"field": "Tax_ID", "old": …, "new": …}`` item disappears and so does a ``Tax_ID`` key.
    """
    return _prune(redact(value))


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        if is_sensitive_field(value.get("field")):
            return None
        return {
            k: _prune(v)
            for k, v in value.items()
            if not is_sensitive_field(k) and not is_sensitive_field(v)
        }
    if isinstance(value, list):
        return [p for p in (_prune(v) for v in value) if p is not None]
    return value


def scrub_ref(ref: str) -> str:
    """A reference string without a sensitive ``#field`` part."""
    base, _, field = ref.partition("#")
    return base if field and is_sensitive_field(field) else ref
