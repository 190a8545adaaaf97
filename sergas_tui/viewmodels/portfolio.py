"""What the portfolio screen shows: one row per account, joined from the CRM and the store.

:func:`load_portfolio` joins CRM accounts and open deals with the latest stored brief (risk
level, signals), snapshots (changed since the last review, the last customer touch) and pending
approvals. Sorting, filtering and the status line are pure functions, so the screen only wires
keys to them.

"Quiet" is the days since the account's last customer touch as its latest review found it
(:mod:`sergas_tui.domain.touches`, kept in the snapshot), counted to now the way the quiet
signals count: never ``Last_Activity_Time``, which any task (ours too) or record edit bumps.
With no touch on record it is a lower bound, shown ``≥90 d``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sergas_tui.briefs.current import latest_entries
from sergas_tui.domain.changes import snapshot_quiet
from sergas_tui.domain.outputs import BriefAccount
from sergas_tui.domain.records import Account, Deal, RiskSignal, Snapshot
from sergas_tui.domain.signals import SEVERITY_WEIGHT, SIGNALS
from sergas_tui.domain.touches import quiet_days
from sergas_tui.errors import CrmError
from sergas_tui.services import Services
from sergas_tui.storage import Repository

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


# -- loading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFacts:
    """What the workspace database knows about the listed accounts."""

    briefs: dict[str, BriefAccount]
    snapshots: dict[str, Snapshot]
    pending: Counter[str]


def read_stored_facts(
    store: Repository, owner_emails: Iterable[str], owner_filter: str | None
) -> StoredFacts:
    """Latest brief entries, snapshots and pending approvals (blocking: run in a thread)."""
    briefs: dict[str, BriefAccount] = {}
    snapshots = store.latest_snapshots(owner_filter)
    for email in sorted(set(owner_emails)):
        # Each account's newest review, also when later reviews covered only a few accounts.
        owned = [aid for aid, snap in snapshots.items() if snap.owner_email == email]
        briefs |= latest_entries(store, email, owned).accounts
    return StoredFacts(
        briefs=briefs,
        snapshots=snapshots,
        pending=Counter(a.account_id for a in store.pending_approvals(owner_filter)),
    )


def top_signal(signals: Sequence[RiskSignal]) -> str | None:
    """The most severe signal's catalog title (its message for keys outside the catalog)."""
    if not signals:
        return None
    worst = max(signals, key=lambda s: SEVERITY_WEIGHT.get(s.severity, 0))
    spec = SIGNALS.get(worst.key)
    return spec.title if spec else worst.message


def build_rows(
    accounts: Sequence[Account], deals: Sequence[Deal], facts: StoredFacts, now: datetime
) -> list[PortfolioRow]:
    """Join CRM records with stored facts into table rows (pure)."""
    pipeline: dict[str, float] = {}
    for deal in deals:
        if deal.account_id:
            pipeline[deal.account_id] = pipeline.get(deal.account_id, 0.0) + (deal.amount or 0.0)
    rows: list[PortfolioRow] = []
    for account in accounts:
        entry = facts.briefs.get(account.id)
        snapshot = facts.snapshots.get(account.id)
        changed: bool | None = None
        if snapshot is not None:
            modified = account.modified_time
            changed = modified is not None and modified > snapshot.taken_at
        quiet = None if snapshot is None else snapshot_quiet(snapshot.data)
        owner = account.owner
        rows.append(
            PortfolioRow(
                account_id=account.id,
                name=account.name or "(no name)",
                owner_name=(owner.name or owner.email or "") if owner else "",
                owner_email=(owner.email or "") if owner else "",
                industry=account.industry,
                risk_level=entry.risk_level if entry else None,
                top_signal=top_signal(entry.signals) if entry else None,
                days_since_activity=None if quiet is None else quiet_days(quiet, now),
                open_pipeline=pipeline.get(account.id, 0.0),
                changed=changed,
                pending=facts.pending.get(account.id, 0),
                quiet_at_least=quiet is not None and quiet.at_least,
            )
        )
    return rows


async def load_portfolio(services: Services, scope: Scope) -> list[PortfolioRow]:
    """The current owner's accounts (``"mine"``) or everyone's (``"all"``, the manager view)."""
    me = services.current_user_email()
    if scope == "mine" and me is None:
        raise CrmError(
            "Sergas does not know which Zoho user you are. Set [zoho] user_email in the "
            "configuration (`sergas config path`), or press m for all owners.",
            title="Who are you?",
        )
    owner = me if scope == "mine" else None
    crm = await services.crm()
    accounts = await crm.get_accounts(owner)
    deals = await crm.list_open_deals(owner)
    owners = {a.owner.email for a in accounts if a.owner and a.owner.email}
    if owner:
        owners.add(owner)
    facts = await asyncio.to_thread(read_stored_facts, services.store, owners, owner)
    return build_rows(accounts, deals, facts, services.clock.now())


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
