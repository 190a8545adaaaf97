"""Pure wording helpers of the account detail: money, dates, time in stage, folded text.

No I/O and no Textual: each takes values and returns the string the screen shows, so the
wording is unit-tested in tables (``tests/unit/test_account_view.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import JsonValue

from sergas_tui.domain.pipeline import StageStay

NOTE_PREVIEW_LINES = 6
"""Lines of a note shown before it is folded."""
NOTE_PREVIEW_CHARS = 600
"""Characters of a note shown before it is folded (a single line can be a megabyte)."""
NOTE_EXPANDED_CHARS = 20_000
"""The most of one note an expanded card shows; the rest stays in the CRM."""
# -- pure formatting helpers ----------------------------------------------------------------------


def money(amount: float | None) -> str:
    """``$185,000`` (whole units), or an em dash when unknown."""
    return "—" if amount is None else f"${amount:,.0f}"


def day_text(value: date | datetime | None) -> str:
    """ISO date, or an em dash."""
    if value is None:
        return "—"
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def when_text(value: datetime | None) -> str:
    """``2026-10-06 09:09`` (UTC as stored), or an em dash."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M")


def relative_days(value: date | datetime | None, today: date) -> str:
    """``today``, ``in 4 d`` or ``3 d ago``; empty when unknown."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    delta = (day - today).days
    if delta == 0:
        return "today"
    return f"in {delta} d" if delta > 0 else f"{-delta} d ago"


def days_in_stage_text(stay: StageStay | None, now: datetime) -> str:
    """``12 d in stage`` when the entry is known exactly, ``≥ 12 d in stage`` when only bounded
    (no stage history: the deal's last modification is the latest it can have entered)."""
    if stay is None:
        return "time in stage unknown"
    days = stay.min_days(now)
    return f"{days} d in stage" if stay.exact else f"≥ {days} d in stage"


def close_date_text(closing: date | None, today: date, *, open_deal: bool) -> str:
    """The closing date, with how far off it is (or how late) while the deal is open."""
    if closing is None:
        return "no close date" if open_deal else "—"
    if not open_deal:
        return closing.isoformat()
    late = (today - closing).days
    if late > 0:
        return f"{closing.isoformat()} ({late} d late)"
    return f"{closing.isoformat()} ({relative_days(closing, today)})"


def value_text(value: JsonValue) -> str:
    """A changed value as people read it: ``—`` for nothing, JSON for structures."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class FoldedText:
    """A long text cut for display: ``preview`` when folded, ``full`` (capped) when expanded."""

    preview: str
    full: str
    hidden_lines: int
    """Lines of the text that the preview leaves out."""
    foldable: bool
    """True when the preview leaves anything out."""

    @property
    def more_text(self) -> str:
        """``… (K more lines)`` under a folded preview; empty when nothing is hidden."""
        if not self.foldable:
            return ""
        if self.hidden_lines:
            unit = "line" if self.hidden_lines == 1 else "lines"
            return f"… ({self.hidden_lines:,} more {unit})"
        return "… (more)"


def fold_text(
    text: str | None,
    *,
    lines: int = NOTE_PREVIEW_LINES,
    chars: int = NOTE_PREVIEW_CHARS,
    expanded_chars: int = NOTE_EXPANDED_CHARS,
) -> FoldedText:
    """Fold ``text`` to its first ``lines`` lines and at most ``chars`` characters.

    The expanded form is capped too (``expanded_chars``): a one-megabyte note must not reach
    the terminal whole. Work is proportional to the caps, not to the text, apart from counting
    lines.
    """
    body = (text or "").rstrip()
    total_lines = body.count("\n") + 1 if body else 0
    head = body[: chars + 1]
    head_lines = head.split("\n")[:lines]
    preview = "\n".join(head_lines)
    if len(preview) > chars:
        preview = preview[:chars].rstrip()
    foldable = len(preview) < len(body)
    shown_lines = preview.count("\n") + 1 if preview else 0
    hidden = max(total_lines - shown_lines, 0) if foldable else 0
    full = body
    if len(body) > expanded_chars:
        rest = len(body) - expanded_chars
        full = f"{body[:expanded_chars]}\n… ({rest:,} more characters not shown; open it in Zoho)"
    return FoldedText(preview=preview, full=full, hidden_lines=hidden, foldable=foldable)


def risk_label(level: str | None) -> str:
    """``HIGH RISK``, ``NO RISK`` … or ``NOT REVIEWED`` for an account with no brief entry."""
    if not level or level == "not reviewed":
        return "NOT REVIEWED"
    return "NO RISK" if level == "none" else f"{level.upper()} RISK"
