"""Evidence as people read it: what a recommendation's data references point at.

A recommendation cites ``zoho:Deals:5725…#Closing_Date`` or ``memory:key_events:84a1…``; a person
needs "Deal 'Atlas Farms – Data Migration' · Closing date 2026-12-20 → 2027-01-30" and a link to
check it. :func:`describe_evidence` turns each reference into an :class:`EvidenceItem` using a
:class:`~sergas_tui.domain.names.RecordNames`: the record's name from the snapshots, the field's
change when the review found one (else its current value), a short description of a memory item,
and the record's page in Zoho's web UI when there is one. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from sergas_tui.domain.money import is_amount_field
from sergas_tui.domain.names import RecordNames, module_word, short_id
from sergas_tui.domain.outputs import HistoricalContext
from sergas_tui.domain.records import RecordRef

FIELD_LABELS: Mapping[str, str] = {
    "Last_Activity_Time": "Last activity",
    "Closing_Date": "Closing date",
    "Next_Step": "Next step",
    "Contact_Role": "Role",
    "role": "Role",
    "Annual_Revenue": "Annual revenue",
    "Account_Type": "Type",
    "Deal_Name": "Name",
    "Account_Name": "Name",
    "Full_Name": "Name",
    "Billing_Country": "Country",
}
"""Zoho field API names as a person says them (others: underscores become spaces)."""

SNAPSHOT_ALIASES: Mapping[str, str] = {"Contact_Role": "role"}
"""Fields stored in a snapshot under another key."""

MEMORY_WORDS: Mapping[str, str] = {
    "key_events": "Key event",
    "commitments": "Commitment",
    "recommendations": "Earlier recommendation",
    "notes": "Remembered note",
}
VALUE_LIMIT = 60


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence: the sentence, the record's web page (or None) and the raw ref."""

    text: str
    url: str | None
    ref: str


def field_label(name: str) -> str:
    """``Closing date`` for ``Closing_Date``."""
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()


def _value(names: RecordNames, ref: RecordRef, value: JsonValue) -> str:
    if value is None or value == "":
        return "(empty)"
    if ref.field and is_amount_field(ref.field):
        return names.money(value, ref.module, ref.id)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    text = " ".join(str(value).split())
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _field_text(names: RecordNames, ref: RecordRef) -> str:
    assert ref.field is not None
    label = field_label(ref.field)
    change = names.change(ref.module, ref.id, ref.field) or names.change(
        ref.module, ref.id, SNAPSHOT_ALIASES.get(ref.field, ref.field)
    )
    if change is not None:
        return f"{label} {_value(names, ref, change.old)} → {_value(names, ref, change.new)}"
    known = names.record(ref.module, ref.id)
    stored = SNAPSHOT_ALIASES.get(ref.field, ref.field)
    if known is not None and stored in known.fields:
        return f"{label} now {_value(names, ref, known.fields[stored])}"
    return label


def _record_text(names: RecordNames, ref: RecordRef) -> str:
    word = module_word(ref.module)
    name = names.name(ref.module, ref.id)
    return f"{word} '{name}'" if name else f"{word} {short_id(ref.id)}"


def describe_ref(text: str, names: RecordNames) -> EvidenceItem:
    """One reference in words (an unparsable one is shown as it is)."""
    try:
        ref = RecordRef.parse(text)
    except ValueError:
        return EvidenceItem(text=" ".join(text.split()), url=None, ref=text)
    if ref.system == "memory":
        said = names.memory(str(ref.record()))
        word = MEMORY_WORDS.get(ref.module, f"Memory ({ref.module})")
        return EvidenceItem(text=said or f"{word} from memory ({ref.id[:8]})", url=None, ref=text)
    if ref.system != "zoho":
        other = f"{ref.system}: {ref.module} {short_id(ref.id)}"
        return EvidenceItem(text=other, url=None, ref=text)
    sentence = _record_text(names, ref)
    if ref.field:
        sentence += f" · {_field_text(names, ref)}"
    return EvidenceItem(text=sentence, url=names.url(ref.module, ref.id), ref=text)


def describe_evidence(refs: Iterable[str], names: RecordNames) -> list[EvidenceItem]:
    """Every reference in words, in order; a bare record ref is dropped when a field of the
    same record is cited too (the field line names the record already)."""
    texts = list(dict.fromkeys(refs))
    with_fields: set[str] = set()
    for text in texts:
        try:
            ref = RecordRef.parse(text)
        except ValueError:
            continue
        if ref.field:
            with_fields.add(str(ref.record()))
    return [describe_ref(t, names) for t in texts if t not in with_fields]


def memory_descriptions(context: HistoricalContext, refs: Sequence[RecordRef]) -> dict[str, str]:
    """What each memory reference of an account's recollection says.

    The memory backends list the refs behind the key events, commitments and prior
    recommendations in the same order as the items (a backend may return fewer items than refs,
    always the first ones). Commitments are de-duplicated by text, which can shift them, so
    they are described only when the counts agree; refs left out read as a generic "Commitment
    from memory".
    """
    details = context.historical_context
    by_kind: dict[str, list[str]] = {}
    for ref in refs:
        if ref.system == "memory":
            by_kind.setdefault(ref.module, []).append(str(ref.record()))
    said: dict[str, str] = {}
    events = [
        f"Key event {e.date.isoformat()}: {e.event}" + (f" ({e.impact})" if e.impact else "")
        for e in details.key_events
    ]
    commitments = [f"Commitment: {text}" for text in details.commitment_tracking]
    prior = [
        f"Earlier recommendation {p.date.isoformat()}: {p.recommendation} ({p.status}"
        + (f", {p.outcome})" if p.outcome else ")")
        for p in details.prior_recommendations
    ]
    for kind, texts in (
        ("key_events", events),
        ("commitments", commitments),
        ("recommendations", prior),
    ):
        found = by_kind.get(kind, [])
        if kind != "commitments" or len(found) == len(texts):
            pairs = zip(found, texts, strict=False)  # a prefix of the items may be all there is
            said.update({ref: " ".join(text.split()) for ref, text in pairs})
    return said
