"""Whose reviews a scheduling run queues, and in which order.

The owners are the CRM users who own at least one account: one read of the org's user list
and one bulk read of its accounts (``CrmReader.get_accounts()``: COQL, 2,000 accounts a call,
so 1 + 3 calls for 5,000 accounts and up to 200 users) give each owner's e-mail and name and
when each account last moved (:func:`sergas_tui.team.scheduling.org_accounts`). A user who owns
no account has nothing to review and is not queued; an owner the CRM gives no e-mail for
cannot be reviewed by address and is left out (and counted).

**Changed** means: at least one of the owner's accounts has a Zoho ``Modified_Time`` or
``Last_Activity_Time`` after the start of that owner's last successful review — the later of
the workspace's last successful sync run covering the owner and the last review job of the
owner that succeeded on any worker (the central queue). An owner never reviewed counts as
changed. Deals, notes or contacts edited without touching the account are not seen by this
cheap test (the review itself still finds them); only the order depends on it.

**Order** (:func:`review_order`): changed owners first, most changed accounts first; then the
unchanged ones, least recently reviewed first; ties by e-mail. Changed owners' jobs also get a
higher procrastinate priority, so they run first even behind jobs queued earlier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sergas_tui.domain import Account


@dataclass(frozen=True)
class OwnerToReview:
    email: str
    name: str | None
    accounts: int
    changed_accounts: int
    last_reviewed: datetime | None
    """When the owner's last successful review started (None: never)."""

    @property
    def changed(self) -> bool:
        return self.last_reviewed is None or self.changed_accounts > 0

    def label(self) -> str:
        """'Jordan Avery <jordan.avery@…>' (the e-mail alone when the name is unknown)."""
        return f"{self.name} <{self.email}>" if self.name else self.email


def owner_key(email: str) -> str:
    """How owners are compared (e-mail addresses are case-insensitive in practice)."""
    return email.strip().casefold()


def _moved_at(account: Account) -> datetime | None:
    stamps = [t for t in (account.modified_time, account.last_activity_time) if t is not None]
    return max(stamps) if stamps else None


def owners_from_accounts(
    accounts: Iterable[Account], last_reviewed: Mapping[str, datetime]
) -> list[OwnerToReview]:
    """One entry per account owner with an e-mail; ``last_reviewed`` is keyed by
    :func:`owner_key`."""
    seen: dict[str, tuple[str, str | None]] = {}
    counts: dict[str, int] = {}
    changed: dict[str, int] = {}
    for account in accounts:
        owner = account.owner
        if owner is None or not owner.email:
            continue
        key = owner_key(owner.email)
        if key not in seen or (owner.name and not seen[key][1]):
            seen[key] = (owner.email, owner.name)
        counts[key] = counts.get(key, 0) + 1
        moved = _moved_at(account)
        reviewed = last_reviewed.get(key)
        if reviewed is not None and moved is not None and moved > reviewed:
            changed[key] = changed.get(key, 0) + 1
    return [
        OwnerToReview(
            email=email,
            name=name,
            accounts=counts[key],
            changed_accounts=changed.get(key, 0),
            last_reviewed=last_reviewed.get(key),
        )
        for key, (email, name) in seen.items()
    ]


def review_order(owners: Iterable[OwnerToReview]) -> list[OwnerToReview]:
    """Changed owners first (most changed accounts first, never-reviewed ones counting all
    their accounts), then the rest, least recently reviewed first; ties by e-mail."""

    def key(owner: OwnerToReview) -> tuple[int, int, float, str]:
        if owner.changed:
            weight = owner.accounts if owner.last_reviewed is None else owner.changed_accounts
            return (0, -weight, 0.0, owner_key(owner.email))
        assert owner.last_reviewed is not None
        return (1, 0, owner.last_reviewed.timestamp(), owner_key(owner.email))

    return sorted(owners, key=key)


def pick_owners(
    known: Iterable[OwnerToReview], wanted: Iterable[str]
) -> tuple[list[OwnerToReview], list[str]]:
    """The ``wanted`` owners among ``known`` (in the order asked, duplicates dropped), and the
    e-mails that own no account."""
    by_key = {owner_key(o.email): o for o in known}
    found: list[OwnerToReview] = []
    missing: list[str] = []
    for email in dict.fromkeys(owner_key(w) for w in wanted):
        owner = by_key.get(email)
        if owner is None:
            missing.append(email)
        else:
            found.append(owner)
    return found, missing
