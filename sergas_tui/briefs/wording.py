"""One item of the owner's brief in words: a change, a signal, the reason for a write, its
evidence. Plain text (the template escapes it): records by name, amounts with their currency.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import JsonValue

from sergas_tui.domain import BriefAccount, Change, Recommendation, RiskSignal
from sergas_tui.domain.changes import RECORD_FIELD
from sergas_tui.domain.evidence import EvidenceItem, describe_evidence, field_label
from sergas_tui.domain.money import is_amount_field
from sergas_tui.domain.names import RecordNames, module_word
from sergas_tui.domain.records import RecordRef
from sergas_tui.domain.signals import SIGNALS

WHY_SIGNALS = 2
"""Signal messages quoted as the reason of a queue item."""
WHY_LIMIT = 240
SIGNAL_LIMIT = 130
"""Characters of one quoted signal message."""

_MONEY_KEYS = ("amount", "old_amount", "new_amount")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def short(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters (``…`` when cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _shown(value: JsonValue) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return short(str(value), 200)


def _change_value(names: RecordNames, account_id: str, field: str, value: JsonValue) -> str:
    if is_amount_field(field) and isinstance(value, int | float) and not isinstance(value, bool):
        return names.money(value, "Accounts", account_id)
    return _shown(value)


def _change_record(change: Change, account_id: str, names: RecordNames) -> str:
    module = change.module or "Accounts"
    name = names.name(module, change.record_id or account_id)
    return f"{module_word(module)} '{name}'" if name else module_word(module)


def _change_detail(change: Change, account_id: str, names: RecordNames) -> str:
    if change.field == RECORD_FIELD:
        return "added" if change.old is None else "removed" if change.new is None else "changed"
    old = _change_value(names, account_id, change.field, change.old)
    new = _change_value(names, account_id, change.field, change.new)
    return f"{field_label(change.field)} {old} → {new}"


def change_words(change: Change, account_id: str, names: RecordNames) -> str:
    """A change in words: ``Deal 'X' · Closing date 2026-12-20 → 2027-01-30``."""
    record = _change_record(change, account_id, names)
    detail = _change_detail(change, account_id, names)
    return f"{record} {detail}" if change.field == RECORD_FIELD else f"{record} · {detail}"


def grouped_changes(changes: Sequence[Change], account_id: str, names: RecordNames) -> list[str]:
    """Changes grouped by record, in order: ``Deal 'X': Stage A → B, Amount USD 1 → USD 2``."""
    groups: dict[str, list[str]] = {}
    for change in changes:
        record = _change_record(change, account_id, names)
        groups.setdefault(record, []).append(_change_detail(change, account_id, names))
    return [f"{record}: {', '.join(details)}" for record, details in groups.items()]


def _deal_of(signal: RiskSignal) -> str | None:
    return next((ref.id for ref in signal.evidence if ref.module == "Deals"), None)


def signal_text(signal: RiskSignal, names: RecordNames, account_id: str) -> str:
    """The signal's message with its amounts in their currency (``USD 317,500``)."""
    text = signal.message
    deal = _deal_of(signal)
    for key in _MONEY_KEYS:
        value = signal.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        bare = re.escape(f"{value:,.0f}")
        money = (
            names.money(value, "Deals", deal)
            if deal
            else names.money(value, "Accounts", account_id)
        )
        text = re.sub(rf"(?<![\w,.]){bare}(?![\w,])", money, text)
    return text


def _first_sentences(text: str, count: int = 2) -> str:
    return " ".join(_SENTENCE_END.split(" ".join(text.split()))[:count])


def why(rec: Recommendation | None, account: BriefAccount | None, names: RecordNames) -> str:
    """The reason in one line: the signals the recommendation answers (their messages and
    figures), else the first sentences of its rationale."""
    if rec is None:
        return ""
    account_id = rec.account_id or (account.account_id if account else "")
    cited = {ref.split("#", 1)[0] for ref in rec.data_references}
    answered = sorted(
        (s for s in (account.signals if account else []) if s.key in rec.signals),
        key=lambda s: not any(str(ref.record()) in cited for ref in s.evidence),
    )
    if answered:
        texts = [
            short(signal_text(s, names, account_id), SIGNAL_LIMIT) for s in answered[:WHY_SIGNALS]
        ]
        if len(answered) > WHY_SIGNALS:
            texts.append(f"and {len(answered) - WHY_SIGNALS} more")
        return short("; ".join(texts), WHY_LIMIT)
    return short(_first_sentences(rec.rationale), WHY_LIMIT)


def cited_evidence(rec: Recommendation | None, names: RecordNames) -> list[EvidenceItem]:
    """The CRM records a recommendation cites, by name. Left out: memory items (they repeat
    the signals), the account itself without a field (the line names it) and records the
    workspace has no name for (activities: the signal quotes them)."""
    if rec is None:
        return []
    refs: list[str] = []
    for text in rec.data_references:
        try:
            ref = RecordRef.parse(text)
        except ValueError:
            continue
        if ref.system != "zoho" or names.name(ref.module, ref.id) is None:
            continue
        if ref.module == "Accounts" and ref.id == rec.account_id and not ref.field:
            continue
        refs.append(text)
    items = describe_evidence(refs, names)
    return list({item.text: item for item in items}.values())


def signal_titles(rec: Recommendation) -> str:
    """The catalog titles of the signals a recommendation answers: ``Quiet account, No next
    step``; else the first sentence of its rationale."""
    titles = [SIGNALS[k].title if k in SIGNALS else k for k in dict.fromkeys(rec.signals)]
    return ", ".join(titles) if titles else short(_first_sentences(rec.rationale, 1), 80)
