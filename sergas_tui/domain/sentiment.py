"""A small deterministic sentiment scorer for CRM notes, and a trend over dated scores.

:func:`score` is lexicon based: words and a few phrases carry weights, a negation ("not",
"never", "n't", "no", "without") flips the next few words, an intensifier ("very") amplifies
the next one, and the sum is squashed into [-1, 1] with ``tanh``. It needs no model and no
network, gives the same answer everywhere, and is robust to hostile text: only the first
:data:`MAX_CHARS` characters are read, control and zero-width characters are dropped, and
markup or escape sequences are just more (unweighted) tokens.

:func:`trend` fits a least-squares line through ``(time, score)`` points and calls the fitted
change over the whole span "declining" or "improving" when it passes :data:`TREND_THRESHOLD`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from sergas_tui.domain.common import ensure_aware
from sergas_tui.domain.outputs import SentimentTrend

MAX_CHARS = 20_000
"""Characters of a text that are scored; the rest of a huge note changes nothing."""

TREND_THRESHOLD = 0.3
"""Fitted change of the score across the points that counts as a trend (scores are in ±1)."""

_SQUASH = 4.0
_NEGATION_REACH = 3

_WORDS: Mapping[str, float] = MappingProxyType(
    {
        # positive
        "happy": 2, "delighted": 3, "great": 2, "excellent": 3, "love": 3, "enthusiastic": 2,
        "pleased": 2, "satisfied": 2, "success": 2, "successful": 2, "thrilled": 3,
        "impressed": 2, "excited": 2, "keen": 1, "good": 1, "smooth": 1, "approved": 2,
        "confirmed": 1, "committed": 1, "commitment": 1, "positive": 1, "strong": 1,
        "growth": 1, "expand": 1, "expansion": 1, "recommend": 2, "helpful": 1, "thanks": 1,
        "grateful": 1, "passed": 1, "win": 1, "won": 1, "praise": 2, "renew": 1, "signed": 1,
        "progress": 1, "enjoy": 2, "valuable": 2, "benefit": 1,
        # negative
        "concern": -2, "concerned": -2, "complain": -2, "complaint": -2, "frustrated": -2,
        "frustration": -2, "angry": -3, "unhappy": -2, "disappointed": -2, "outage": -2,
        "issue": -1, "problem": -1, "risk": -2, "churn": -3, "cancel": -3,
        "cancellation": -3, "terminate": -3, "competitor": -1, "alternative": -1,
        "escalate": -2, "escalation": -2, "delay": -1, "freeze": -2, "drop": -1,
        "dropped": -1, "decline": -2, "missed": -1, "quiet": -1, "questioning": -1,
        "discount": -1, "slow": -1, "bug": -1, "broken": -2, "poor": -2, "bad": -2,
        "worse": -2, "worst": -3, "threaten": -3, "unresponsive": -2, "lost": -2,
        "fail": -2, "failure": -2, "upset": -2, "blocker": -1, "cut": -1, "stuck": -1,
        "backlogged": -1, "downgrade": -2, "terrible": -3, "awful": -3, "horrible": -3,
    }
)  # fmt: skip
_PHRASES: Mapping[str, float] = MappingProxyType(
    {
        "not renew": -3, "at risk": -2, "gone quiet": -1, "on hold": -2, "price increase": -1,
        "stepped back": -1, "no response": -1,
    }
)  # fmt: skip
_NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "cannot", "n't"})
_INTENSIFIERS: Mapping[str, float] = MappingProxyType(
    {"very": 1.5, "extremely": 2.0, "really": 1.3, "highly": 1.5, "so": 1.2}
)
_SUFFIXES = ("ing", "ed", "es", "s", "ly")
_TOKEN = re.compile(r"n't|[^\W\d_]+(?:'[^\W\d_]+)?")


_ASCII_BLANKS = {**dict.fromkeys(range(0x20), " "), 0x7F: " "}
"""The ASCII characters of Unicode's C (control) category, as spaces (ASCII's only Z is one)."""
_PHRASE_PATTERNS = tuple(
    (phrase, re.compile(rf"\b{re.escape(phrase)}\b"), weight) for phrase, weight in _PHRASES.items()
)


def _clean(text: str) -> str:
    head = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    if head.isascii():  # most CRM text: no per-character category lookups
        return head.translate(_ASCII_BLANKS)
    return "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in head)


def _weight(token: str) -> float:
    if token in _WORDS:
        return _WORDS[token]
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix) + 2:
            stem = token[: -len(suffix)]
            for candidate in (stem, stem + "e"):
                if candidate in _WORDS:
                    return _WORDS[candidate]
    return 0.0


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        if token.endswith("n't") and token != "n't":
            tokens.extend((token[:-3], "n't"))
        else:
            tokens.append(token.removesuffix("'s"))
    return tokens


def raw_score(text: str) -> float:
    """The unsquashed sum of weights of ``text`` (positive is good news)."""
    cleaned = _clean(text)
    tokens = _tokens(cleaned)
    total = 0.0
    negated = 0
    boost = 1.0
    for token in tokens:
        if token in _NEGATIONS:
            negated = _NEGATION_REACH
            continue
        if token in _INTENSIFIERS:
            boost = _INTENSIFIERS[token]
            continue
        weight = _weight(token) * boost
        if negated:
            weight = -weight
            negated -= 1
        total += weight
        boost = 1.0
    joined = " ".join(tokens)
    for phrase, pattern, weight in _PHRASE_PATTERNS:
        if phrase in joined:
            total += weight * len(pattern.findall(joined))
    return total


def score(text: str) -> float:
    """The sentiment of ``text`` in [-1, 1]: below 0 is negative, 0 neutral or unknown."""
    if not text:
        return 0.0
    return math.tanh(raw_score(text) / _SQUASH)


def trend(points: Sequence[tuple[datetime, float]]) -> SentimentTrend:
    """ "improving", "stable" or "declining" from dated scores; "unknown" under two points.

    The scores are fitted with a least-squares line over time (days); the fitted change from
    the first to the last point decides, against :data:`TREND_THRESHOLD`. Points at one
    instant are taken in the given order.
    """
    usable = [
        (ensure_aware(when), max(-1.0, min(1.0, value)))
        for when, value in points
        if math.isfinite(value)
    ]
    if len(usable) < 2:
        return "unknown"
    usable.sort(key=lambda point: point[0])
    start = usable[0][0]
    xs = [(when - start).total_seconds() / 86_400 for when, _ in usable]
    if xs[-1] == 0:
        xs = [float(index) for index in range(len(usable))]
    ys = [value for _, value in usable]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    change = slope * (xs[-1] - xs[0])
    if change <= -TREND_THRESHOLD:
        return "declining"
    if change >= TREND_THRESHOLD:
        return "improving"
    return "stable"
