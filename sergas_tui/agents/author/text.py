"""Words for the rules author: the rationale, the template context and the email recipient.

Every CRM value that reaches a rationale or a template goes through
:func:`~sergas_tui.agents.drafting.clean` first (names at most 80 characters, snippets at
most 200), and templates see plain dicts of those strings, never the models. Note text is
only ever quoted as evidence.

A figure about a signal (days quiet, days in stage, pushes, amounts) is never worked out here:
it comes from the signal's ``data``, as the signal's own message does, so a text and its
signal cannot disagree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sergas_tui.agents.author.rules import CONTACT_ROLES, RULES
from sergas_tui.agents.drafting import NAME_LIMIT, SNIPPET_LIMIT, clean, clean_name
from sergas_tui.domain import AccountFacts, Contact, Deal, HistoricalContext, RecordRef, RiskSignal
from sergas_tui.domain.money import DEFAULT_CURRENCY, format_money

RATIONALE_LIMIT = 1500
MESSAGE_LIMIT = 160
MAX_MESSAGES = 5
MAX_SNIPPETS = 2
MAX_COMMITMENTS = 2
_EXECUTIVE = re.compile(r"\b(chief|ceo|cfo|coo|cio|cto|president|founder|managing director)\b")
_SENIOR = re.compile(r"\b(vp|vice president|director|head)\b")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")


@functools.lru_cache(maxsize=4096)  # asked for the same few owners' addresses all run long
def valid_email(value: str | None) -> bool:
    """A plain ASCII address with no spaces or control characters (max 254 characters)."""
    return bool(value) and len(value or "") <= 254 and bool(_EMAIL.match(value or ""))


def title_rank(title: str | None) -> int:
    """Seniority from a job title: 0 executive, 1 VP/director/head, 2 anyone else."""
    text = (title or "").casefold()
    if _EXECUTIVE.search(text):
        return 0
    return 1 if _SENIOR.search(text) else 2


def best_contact(
    facts: AccountFacts,
    flavour: str,
    refs: Sequence[str],
    deals: Sequence[Deal],
    *,
    email: bool,
) -> Contact | None:
    """Whom to write to (or call), or None.

    The deal's own contact for deal flavours; otherwise by role (Executive Sponsor, Champion,
    Economic Buyer), then title seniority (for CRMs without a Contact_Role), then contacts the
    evidence names, then the most recently active. For a new-sponsor email, a contact whose
    role change is the evidence (the sponsor who moved on) is skipped and the newest contact
    wins ties. ``email=True`` requires a valid email address.
    """
    pool = [c for c in facts.contacts if not email or valid_email(c.email)]
    if flavour in ("deal_progress", "close_plan") and deals and deals[0].contact is not None:
        linked = [c for c in pool if c.id == deals[0].contact.id]
        if linked:
            return linked[0]
    parsed = [RecordRef.parse(r) for r in refs if r.startswith("zoho:Contacts:")]
    cited = {r.id for r in parsed}
    newest_first = flavour == "new_sponsor"
    if newest_first:
        moved = {r.id for r in parsed if r.field == "Contact_Role"}
        pool = [c for c in pool if c.id not in moved or c.role == CONTACT_ROLES[0]] or pool
    if not pool:
        return None

    def rank(c: Contact) -> tuple[int, int, int, float, str]:
        role = CONTACT_ROLES.index(c.role) if c.role in CONTACT_ROLES else len(CONTACT_ROLES)
        when = (c.created_time if newest_first else c.last_activity_time) or _EPOCH
        return (role, title_rank(c.title), 0 if c.id in cited else 1, -when.timestamp(), c.id)

    return min(pool, key=rank)


def memory_sentence(context: HistoricalContext) -> str:
    """What memory adds: sentiment trend, relationship, open commitments, last key event."""
    history = context.historical_context
    parts: list[str] = []
    if history.sentiment_trend != "unknown":
        parts.append(f"sentiment {history.sentiment_trend}")
    if history.relationship_strength != "unknown":
        parts.append(f"relationship {history.relationship_strength}")
    commitments = [clean(c) for c in history.commitment_tracking[:MAX_COMMITMENTS] if clean(c)]
    if commitments:
        parts.append("open commitments: " + "; ".join(f"“{c}”" for c in commitments))
    if history.key_events:
        event = max(history.key_events, key=lambda e: e.date)
        parts.append(f"last key event {event.date.isoformat()}: {clean(event.event)}")
    return ("History: " + ", ".join(parts) + ".") if parts else ""


def deal_phrase(deal: Deal, currency: str = DEFAULT_CURRENCY) -> str:
    """``Name (Stage, USD 185,000, closing 2026-12-01)`` with whatever is known."""
    bits = [clean_name(deal.stage)] if deal.stage else []
    if deal.amount is not None:
        bits.append(format_money(deal.amount, currency))
    if deal.closing_date is not None:
        bits.append(f"closing {deal.closing_date.isoformat()}")
    inner = f" ({', '.join(bits)})" if bits else ""
    return f"“{clean_name(deal.name)}”{inner}"


def note_snippets(facts: AccountFacts, refs: Sequence[str]) -> list[str]:
    """Quoted excerpts of the notes cited as evidence (never more than 200 characters)."""
    cited = [RecordRef.parse(r).id for r in refs if r.startswith("zoho:Notes:")]
    notes = {n.id: n for n in facts.notes}
    out: list[str] = []
    for note_id in dict.fromkeys(cited):
        note = notes.get(note_id)
        if note is None:
            continue
        text = clean(" — ".join(t for t in (note.title, note.content) if t), SNIPPET_LIMIT)
        if text:
            out.append(text)
        if len(out) >= MAX_SNIPPETS:
            break
    return out


def rationale(
    facts: AccountFacts,
    signals: Sequence[RiskSignal],
    deals: Sequence[Deal],
    refs: Sequence[str],
    history: str,
    reasons: Sequence[str],
    notes: Sequence[str],
    now: datetime,
    currency: str = DEFAULT_CURRENCY,
) -> str:
    """One paragraph naming the evidence: signal messages, deals, days, amounts, memory.

    Priority and confidence adjustments (``notes``) come before memory and note excerpts, so
    the length cap never cuts them off.
    """
    parts = [_sentence(clean(s.message, MESSAGE_LIMIT)) for s in signals[:MAX_MESSAGES]]
    if len(signals) > MAX_MESSAGES:
        parts.append(f"And {len(signals) - MAX_MESSAGES} more signals.")
    if deals:
        parts.append("Deals: " + "; ".join(deal_phrase(d, currency) for d in deals[:3]) + ".")
    if reasons:
        parts.append("Escalate because " + "; ".join(reasons) + ".")
    parts += list(notes)
    if history:
        parts.append(history)
    parts += [f"Note: “{s}”." for s in note_snippets(facts, refs)]
    return clean(" ".join(p for p in parts if p), RATIONALE_LIMIT)


def _sentence(text: str) -> str:
    return text if not text or text.endswith((".", "!", "?", "…")) else text + "."


def _contact_view(contact: Contact | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    name = clean_name(contact.name) or clean_name(contact.email) or "there"
    return {
        "name": name,
        "first_name": clean_name(contact.first_name) or name,
        "title": clean_name(contact.title),
        "role": clean_name(contact.role),
        "email": contact.email if valid_email(contact.email) else "",
    }


def _deal_view(deal: Deal | None, currency: str) -> dict[str, Any] | None:
    if deal is None:
        return None
    return {
        "name": clean_name(deal.name),
        "stage": clean_name(deal.stage),
        "amount": deal.amount,
        "amount_text": format_money(deal.amount, currency) if deal.amount is not None else "",
        "closing_date": deal.closing_date.isoformat() if deal.closing_date else "",
        "next_step": clean(deal.next_step),
        "type": clean_name(deal.type),
    }


def template_context(
    facts: AccountFacts,
    context: HistoricalContext,
    signals: Sequence[RiskSignal],
    *,
    contact: Contact | None,
    deal: Deal | None,
    refs: Sequence[str],
    reasons: Sequence[str],
    next_steps: Sequence[str],
    priority: str,
    due: date,
    today: date,
    currency: str = DEFAULT_CURRENCY,
) -> dict[str, Any]:
    """The variables every draft template sees (see ``drafting.sample_contexts``)."""
    account, owner = facts.account, facts.account.owner
    owner_name = clean_name(owner.name) if owner else ""
    history = context.historical_context
    views = [
        {"key": s.key, "severity": s.severity, "message": clean(s.message), "label": _label(s)}
        for s in signals
    ]
    return {
        "account": {
            "id": clean_name(account.id),
            "name": clean_name(account.name),
            "industry": clean_name(account.industry),
            "rating": clean_name(account.rating),
        },
        "owner": {
            "name": owner_name,
            "first_name": owner_name.split(" ")[0] if owner_name else "",
            "email": owner.email if owner and valid_email(owner.email) else "",
        },
        "contact": _contact_view(contact),
        "deal": _deal_view(deal, currency),
        "signal": views[0],
        "signals": views,
        "snippets": note_snippets(facts, refs),
        "memory": {
            "sentiment_trend": history.sentiment_trend,
            "relationship_strength": history.relationship_strength,
            "commitments": [clean(c) for c in history.commitment_tracking[:MAX_COMMITMENTS]],
            "stale": context.memory_stale,
        },
        "reasons": [clean(r) for r in reasons],
        "next_steps": [clean(s) for s in next_steps],
        "priority": priority,
        "due_date": due.isoformat(),
        "today": today.isoformat(),
        "last_activity_days": days_quiet([*signals, *facts.signals]),
    }


def days_quiet(signals: Sequence[RiskSignal]) -> int | None:
    """The days since the last customer touch that the first quiet signal states; None
    without one, or without a touch on record (its message says since when instead)."""
    for signal in signals:
        measured_from = signal.data.get("basis", "touch")
        if not signal.key.startswith("no_activity") or measured_from != "touch":
            continue
        value = signal.data.get("days_quiet")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _label(signal: RiskSignal) -> str:
    rule = RULES.get(signal.key)
    return rule.label if rule else clean(signal.key, NAME_LIMIT)
