"""The portfolio's rows and their pure rules: sorting, filtering, the status line.

Kept apart from :mod:`.portfolio` (which loads rows from the CRM and the store) so that the
table, the screen's first paint and the row cache import no domain model or adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["mine", "all"]
SortKey = Literal["risk", "name", "activity", "pipeline", "pending"]

SORT_KEYS: tuple[SortKey, ...] = ("risk", "name", "activity", "pipeline", "pending")
"""The order ``s`` cycles through."""
NATURAL_DESCENDING: dict[SortKey, bool] = {
    "risk": True,
    "name": False,
    "activity": True,
    "pipeline": True,
    "pending": True,
}
"""The direction each key starts in: the rows that need attention first (names A→Z)."""

RISK_RANK: dict[str | None, int] = {
    "critical": 5,
    "high": 4,
    "medium": 3,
    "low": 2,
    "none": 1,
    None: 0,
}
"""Risk levels as a sort key; ``None`` (never reviewed) ranks below "none"."""

RISK_LABEL: dict[str | None, str] = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "none": "none",
    None: "—",
}


@dataclass(frozen=True)
class PortfolioRow:
    """One account as the portfolio table lists it; ``haystack`` is built once for filtering."""

    account_id: str
    name: str
    owner_name: str
    owner_email: str
    industry: str | None
    risk_level: str | None
    """"critical", "high", "medium", "low", "none"; None when no review covered it yet."""
    top_signal: str | None
    days_since_activity: int | None
    """Days without a customer touch as of now; None before a review recorded them."""
    open_pipeline: float
    changed: bool | None
    """Modified in the CRM after its latest snapshot; None when never snapshotted."""
    pending: int
    quiet_at_least: bool = False
    """No touch on record: ``days_since_activity`` only bounds the silence."""
    haystack: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = (self.name, self.owner_name, self.owner_email, self.industry, self.top_signal)
        object.__setattr__(self, "haystack", " ".join(p for p in parts if p).casefold())

    @property
    def risk_text(self) -> str:
        return RISK_LABEL.get(self.risk_level, self.risk_level or "—")

    @property
    def risk_class(self) -> str:
        """The style name of the risk badge, e.g. "risk-high" or "risk-unreviewed"."""
        level = self.risk_level if self.risk_level in RISK_RANK else None
        return f"risk-{level or 'unreviewed'}"

    @property
    def activity_text(self) -> str:
        days = self.days_since_activity
        if days is None:
            return "—"
        if self.quiet_at_least:
            return f"≥{days} d"
        return "today" if days == 0 else f"{days} d"

    @property
    def pipeline_text(self) -> str:
        return money(self.open_pipeline) if self.open_pipeline else "—"

    @property
    def changed_text(self) -> str:
        return "Δ" if self.changed else ""

    @property
    def pending_text(self) -> str:
        return str(self.pending) if self.pending else ""


def money(value: float) -> str:
    """Short amounts for a narrow column: $950, $12.5k, $1.2M, $3.0B."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"${value / size:,.1f}{unit}"
    return f"${value:,.0f}"


# -- sorting, filtering, status -------------------------------------------------------------


def _primary(key: SortKey, row: PortfolioRow) -> float | str:
    if key == "risk":
        return RISK_RANK.get(row.risk_level, 0)
    if key == "name":
        return row.name.casefold()
    if key == "activity":
        days = row.days_since_activity
        return float("inf") if days is None else days
    if key == "pipeline":
        return row.open_pipeline
    return row.pending


def sort_rows(rows: Iterable[PortfolioRow], key: SortKey, descending: bool) -> list[PortfolioRow]:
    """Rows by ``key``; ties by open pipeline (largest first), then name.

    Risk ranks critical > high > medium > low > none > not reviewed; an unknown last touch
    ("—") counts as the longest silence.
    """
    ordered = sorted(rows, key=lambda r: (-r.open_pipeline, r.name.casefold()))
    return sorted(ordered, key=lambda r: _primary(key, r), reverse=descending)


def next_sort_key(key: SortKey) -> SortKey:
    return SORT_KEYS[(SORT_KEYS.index(key) + 1) % len(SORT_KEYS)]


def query_words(query: str) -> list[str]:
    return query.casefold().split()


def filter_rows(rows: Sequence[PortfolioRow], query: str) -> list[PortfolioRow]:
    """Rows whose name, owner, industry or top signal contain every word of ``query``.

    Case-insensitive; matches against each row's precomputed ``haystack``, so a keystroke
    costs one pass of substring tests.
    """
    words = query_words(query)
    if not words:
        return list(rows)
    if len(words) == 1:
        word = words[0]
        return [row for row in rows if word in row.haystack]
    return [row for row in rows if all(word in row.haystack for word in words)]


def status_line(
    *, total: int, shown: int, sort_key: SortKey, descending: bool, scope: Scope, marked: int
) -> str:
    """'120 accounts · 12 shown · sort: risk ↓ · all owners · 2 marked'."""
    arrow = "↓" if descending else "↑"
    who = "mine" if scope == "mine" else "all owners"
    parts = [
        f"{total} account{'s' if total != 1 else ''}",
        f"{shown} shown",
        f"sort: {sort_key} {arrow}",
        who,
    ]
    if marked:
        parts.append(f"{marked} marked")
    return " · ".join(parts)


def empty_text(*, loaded: bool, total: int, query: str, scope: Scope) -> str:
    """What the table says when it has no rows to show."""
    if not loaded:
        return "Loading accounts…"
    if total == 0:
        return "No accounts here. Press m to see all owners." if scope == "mine" else "No accounts."
    return f"No account matches {query.strip()!r}. Press escape to clear the filter."
