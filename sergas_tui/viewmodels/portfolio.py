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
from dataclasses import dataclass
from datetime import datetime

from sergas_tui.briefs.current import latest_entries
from sergas_tui.domain.changes import snapshot_quiet
from sergas_tui.domain.outputs import BriefAccount
from sergas_tui.domain.records import Account, Deal, RiskSignal, Snapshot
from sergas_tui.domain.signals import SEVERITY_WEIGHT, SIGNALS
from sergas_tui.domain.touches import quiet_days
from sergas_tui.errors import CrmError
from sergas_tui.services import Services
from sergas_tui.storage import Repository
from sergas_tui.viewmodels.portfolio_rows import (
    NATURAL_DESCENDING,
    RISK_LABEL,
    RISK_RANK,
    SORT_KEYS,
    PortfolioRow,
    Scope,
    SortKey,
    empty_text,
    filter_rows,
    money,
    next_sort_key,
    query_words,
    sort_rows,
    status_line,
)

__all__ = [
    "NATURAL_DESCENDING",
    "RISK_LABEL",
    "RISK_RANK",
    "SORT_KEYS",
    "PortfolioRow",
    "Scope",
    "SortKey",
    "StoredFacts",
    "build_rows",
    "empty_text",
    "filter_rows",
    "load_portfolio",
    "money",
    "next_sort_key",
    "portfolio_fingerprint",
    "query_words",
    "read_stored_facts",
    "sort_rows",
    "status_line",
    "top_signal",
]


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


def portfolio_fingerprint(services: Services, scope: Scope) -> tuple[object, ...]:
    """What changes when the stored facts the portfolio shows may have changed: the latest
    review of the scope and the count of pending approvals (two indexed reads; blocking)."""
    me = services.current_user_email()
    owner = me if scope == "mine" else None
    last = services.store.last_sync(owner or "*")
    return (
        None if last is None else last.started_at,
        services.store.pending_approval_count(owner),
    )
