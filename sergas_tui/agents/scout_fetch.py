"""The Data Scout's extra CRM reads, planned purely and spent within fixed budgets.

A bulk sync (:meth:`CrmGateway.sync`) brings every record but no deal stage history and no
timelines; both cost one API call per record, so the scout asks only where the answer matters:

**Stage history** (``stage_history_budget`` calls per run, biggest amounts first): only for
open deals whose time in the current stage cannot be bounded against the stage's limit. The
stage was entered no later than Modified_Time (or the earlier ``Deal.stage_fields_since``, when
the review's sync knows that later edits left the stage alone: :func:`stage_fixed_by`) and no
earlier than Created_Time, so a deal modified longer ago than the limit is certainly stalled
and one created within the limit is certainly not; only deals in between need their history.
A second round re-plans with the typical stage times learnt from the first round's histories.
Deals still undecided when the budget runs out get **no** ``stalled_in_stage`` signal: they
are reported in :attr:`ScoutRun.undecided_deals` rather than guessed at.

**Timelines** (``timeline_budget`` calls per run):

1. contacts modified within ``sponsor_change_days`` but created before — the only cheap hint
   that a role (Executive Sponsor) may have changed — most recently modified first (an edit
   the review's sync knows left the role and title alone does not count:
   ``Contact.role_fields_since``);
2. open deals whose stage history shows fewer close-date pushes than
   ``close_date_push_high`` *and* were modified after entering their current stage, where
   more pushes may hide inside the stage (stage-history rows carry Close_Date and Amount per
   stage, which usually makes the timeline unnecessary).

Account timelines are never read: the snapshot diff covers account fields.

**Stage history for quiet accounts** (first, at most a quarter of the same budget): a deal
moving stage is a customer touch (:mod:`sergas_tui.domain.touches`), and only its stage history
dates the move. For an account whose last known touch is at least ``no_activity_warning_days``
old, a deal without history that was modified after that touch (a stage move modifies the
deal) and recently enough for a move to change the verdict is read: one per account and round
(its most recently modified such deal), accounts that would be critical first, then the
biggest deals, in up to three rounds (an account a read showed to be touched drops out).
These reads go before the stall rounds, which get the rest of the budget, because a move they
date can clear a critical "gone quiet" signal; the deals get them only after the stall rounds
and the timeline reads, so those decide what they would have decided with that budget.
A move older than the verdict window on a deal never read stays unknown: "quiet N days" is
then N days since the last *known* touch.

**Incremental reviews** (``ScoutRun.fresh``, from ``SyncBatch.changed``): only records changed
since the last review are read afresh; the others are read from the cache or, never read, not
at all until the next full review (``agents/incremental.py``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from pydantic import JsonValue

from sergas_tui.config import SignalSettings
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.pipeline import (
    StageSamples,
    days_between,
    is_open,
    stage_fixed_by,
    stage_limit,
    stage_stay,
    stall_verdict,
)
from sergas_tui.domain.records import Contact, Deal
from sergas_tui.domain.touches import quiet_of
from sergas_tui.errors import CrmError

log = structlog.get_logger("sergas.scout")

T = TypeVar("T")
R = TypeVar("R")

STAGE_HISTORY_ROUNDS = 2
"""Planning rounds for stage history (the second uses typical times learnt in the first)."""
TOUCH_HISTORY_SHARE = 4
"""At most 1/TOUCH_HISTORY_SHARE of the stage-history budget goes to dating touches."""
TOUCH_HISTORY_ROUNDS = 3
"""Rounds of reads dating touches (one deal per quiet account and round)."""


@dataclass
class ScoutRun:
    """What one scout run did: CRM calls spent, decisions left open, snapshots to store."""

    started_at: datetime
    accounts: int = 0
    stage_history_calls: int = 0
    timeline_calls: int = 0
    failed_calls: int = 0
    undecided_deals: list[str] = field(default_factory=list)
    """Open deals whose stall could not be decided (history not fetched): no signal."""
    snapshots: dict[str, dict[str, JsonValue]] = field(default_factory=dict)
    """Account id → the new snapshot (:func:`~sergas_tui.domain.changes.snapshot_of`), for the
    orchestrator to store with ``Repository.save_snapshot``."""
    fresh: frozenset[str] | None = None
    """Records that may be read afresh (``SyncBatch.changed`` of an incremental review: those
    changed since the last review); the others only from the read cache. None: any record."""

    @property
    def calls(self) -> int:
        return self.stage_history_calls + self.timeline_calls


def deals_needing_history(
    bundles: Iterable[Bundle], settings: SignalSettings, samples: StageSamples, now: datetime
) -> list[Deal]:
    """Open deals without stage history whose stall verdict depends on it, biggest first."""
    found: list[Deal] = []
    for bundle in bundles:
        for deal in bundle.deals:
            if deal.stage_history or not is_open(deal):
                continue
            stay = stage_stay(deal)
            if stay is None:
                continue
            limit = stage_limit(stay.stage, settings, samples, deal_id=deal.id)
            if stall_verdict(stay, limit.days, now) is None:
                found.append(deal)
    return sorted(found, key=lambda d: (-(d.amount or 0.0), d.id))


def deals_needing_history_for_touch(
    bundles: Iterable[Bundle], settings: SignalSettings, now: datetime, skip: Collection[str] = ()
) -> list[Deal]:
    """Per account that counts as quiet, the deal whose stage history most likely dates a
    later touch (its most recently modified one; ids in ``skip`` were read already).

    A deal qualifies when it has no history and was modified after the last known touch and
    recently enough for a stage move to change the verdict: within
    ``no_activity_warning_days`` (no longer quiet) or, for an account quiet for
    ``no_activity_critical_days``, within those (critical becomes a warning). Accounts that
    would be critical come first, then the biggest deals, as for the stall reads.
    """
    found: list[tuple[bool, Deal]] = []
    for bundle in bundles:
        silence = quiet_of(bundle, now)
        touch = silence.touch
        quiet = days_between(silence.since, now)
        if quiet < settings.no_activity_warning_days:
            continue
        window = (
            settings.no_activity_critical_days
            if quiet >= settings.no_activity_critical_days
            else settings.no_activity_warning_days
        )
        candidates = [
            d
            for d in bundle.deals
            if not d.stage_history
            and d.id not in skip
            and (moved := stage_fixed_by(d)) is not None
            and (touch is None or moved > touch.at)
            and days_between(moved, now) < window
        ]
        if candidates:
            critical = quiet >= settings.no_activity_critical_days
            found.append((critical, max(candidates, key=_modified_order)))
    found.sort(key=lambda item: (not item[0], -(item[1].amount or 0.0), item[1].id))
    return [deal for _, deal in found]


def _modified_order(deal: Deal) -> tuple[float, str]:
    moved = stage_fixed_by(deal)
    return (moved.timestamp() if moved else 0.0), deal.id


def contacts_needing_timeline(
    bundles: Iterable[Bundle], settings: SignalSettings, now: datetime
) -> list[Contact]:
    """Contacts changed within the sponsor window after being created before it."""
    since = now - timedelta(days=settings.sponsor_change_days)
    found = [
        (changed, c)
        for bundle in bundles
        for c in bundle.contacts
        if (changed := _role_fixed_by(c)) is not None
        and changed >= since
        and (c.created_time is None or c.created_time < since)
    ]
    return [c for _, c in sorted(found, key=lambda item: (-item[0].timestamp(), item[1].id))]


def _role_fixed_by(contact: Contact) -> datetime | None:
    """When the contact's role or title last changed at the latest: its Modified_Time, or the
    earlier ``role_fields_since`` when the sync knows later edits left them alone."""
    since, modified = contact.role_fields_since, contact.modified_time
    return modified if since is None or modified is None else min(since, modified)


def deals_needing_timeline(bundles: Iterable[Bundle], settings: SignalSettings) -> list[Deal]:
    """Open deals with stage history where close-date pushes may hide inside the stage."""
    found: list[Deal] = []
    for bundle in bundles:
        for deal in bundle.deals:
            entered = [r.changed_at for r in deal.stage_history if r.changed_at is not None]
            fixed = stage_fixed_by(deal)  # edits after it left the closing date alone
            if not entered or not is_open(deal) or fixed is None:
                continue
            dates = [r.closing_date for r in deal.stage_history] + [deal.closing_date]
            known = [d for d in dates if d is not None]
            pushes = sum(1 for a, b in itertools.pairwise(known) if b > a)
            if 0 < pushes < settings.close_date_push_high and max(entered) < fixed:
                found.append(deal)
    return sorted(found, key=lambda d: (-(d.amount or 0.0), d.id))


async def fetch_bounded(
    items: Sequence[T],
    fetch: Callable[[T], Awaitable[R]],
    *,
    budget: int,
    concurrency: int,
    run: ScoutRun,
) -> list[tuple[T, R]]:
    """Fetch for the first ``budget`` items, ``concurrency`` at a time; failed reads
    (:class:`CrmError`) are logged, counted in ``run.failed_calls`` and left out."""
    chosen = list(items[: max(0, budget)])
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: T) -> tuple[T, R] | None:
        async with gate:
            try:
                return item, await fetch(item)
            except CrmError as err:
                run.failed_calls += 1
                log.warning("scout.read_failed", error=str(err), title=err.title)
                return None

    results = await asyncio.gather(*(one(item) for item in chosen))
    return [result for result in results if result is not None]
