"""Deterministic prose for demo notes, descriptions and names.

Notes are assembled from sentence templates with a chosen tone (positive, neutral, negative)
so sentiment analysis has something real to chew on, while staying a pure function of the rng.
"""

from __future__ import annotations

import re
from random import Random

from sergas_tui.demo import words
from sergas_tui.demo.model import JsonDict

TONES: tuple[str, ...] = ("positive", "neutral", "negative")

_POOLS: dict[str, tuple[str, ...]] = {
    "positive": words.NOTE_POSITIVE,
    "neutral": words.NOTE_NEUTRAL,
    "negative": words.NOTE_NEGATIVE,
}


def slug(name: str) -> str:
    """Lower-case, hyphenated form of a company name, for domains."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "company"


def short_name(name: str) -> str:
    """A company name without its legal suffix ("Acme Foods Inc." -> "Acme Foods")."""
    for suffix in words.COMPANY_SUFFIXES:
        if name.endswith(" " + suffix):
            return name[: -len(suffix) - 1]
    return name


def company_name(rng: Random, taken: set[str]) -> str:
    """A realistic company name not yet in ``taken`` (which it is added to)."""
    for attempt in range(200):
        style = rng.random()
        prefix = rng.choice(words.COMPANY_PREFIXES)
        core = rng.choice(words.COMPANY_CORES)
        suffix = rng.choice(words.COMPANY_SUFFIXES)
        if style < 0.55:
            name = f"{prefix} {core} {suffix}"
        elif style < 0.75:
            name = f"{prefix} {core}"
        elif style < 0.9:
            first, second = rng.sample(words.LAST_NAMES, 2)
            name = f"{first} & {second} {suffix}"
        else:
            city = rng.choice(words.PLACES)[0]
            name = f"{prefix} {core} of {city}"
        if attempt >= 100:
            name = f"{name} {attempt}"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of company names")  # pragma: no cover - 200 tries suffice


def sentence(rng: Random, tone: str) -> str:
    """One sentence of the given tone."""
    text = rng.choice(_POOLS[tone])
    return text.replace("{competitor}", rng.choice(words.COMPETITORS))


def meeting_note(rng: Random, tone: str, contact: JsonDict | None) -> tuple[str, str]:
    """A (title, content) pair: a short recap of an interaction with the given tone."""
    topic = rng.choice(words.NOTE_TOPICS)
    if contact is not None:
        who = contact["Full_Name"]
        title = contact.get("Title")
        who = f"{who} ({title})" if title else who
        opener = rng.choice(
            (
                f"Met with {who} to discuss {topic}.",
                f"Call with {who} about {topic}.",
                f"Caught up with {who} on {topic}.",
            )
        )
    else:
        opener = f"Internal review of {topic}."
    body = [sentence(rng, tone)]
    if rng.random() < 0.5:
        body.append(sentence(rng, rng.choice(("neutral", tone))))
    if tone == "positive" and rng.random() < 0.4:
        body.append(rng.choice(words.NOTE_COMMITMENTS))
    if rng.random() < 0.6:
        body.append(f"Next step: {rng.choice(words.NEXT_STEPS).lower()}.")
    unique: list[str] = []
    for part in body:
        if part not in unique:
            unique.append(part)
    return rng.choice(words.NOTE_TITLES), " ".join([opener, *unique])


def company_description(rng: Random, industry: str, city: str, country: str) -> str:
    """A one-line company description for the account record."""
    size = rng.choice(("Mid-sized", "Family-owned", "Fast-growing", "Established", "Regional"))
    return f"{size} {industry.lower()} company headquartered in {city}, {country}."
