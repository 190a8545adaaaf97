"""The Data Scout (rules engine): a sync batch → per-account :class:`AccountFacts`.

For each account the scout groups the batch's records (:func:`group_batch`), reads the few
extra things it needs from the CRM within budgets (stage history and timelines, planned in
:mod:`.scout_fetch`), works out what changed since the previous snapshot, runs the risk-signal
catalog (:mod:`sergas_tui.domain.signals`) and builds the seed's ScoutReport. The reads
themselves (from the read cache or the CRM) are made by :mod:`.scout_reads`.

It never writes: the new snapshots are in :attr:`DataScout.last_run` (``snapshots``) for the
orchestrator to store, and the repository is only read for the previous ones. Sensitive
values are redacted here, at the boundary: every :class:`Change` (timeline values are raw CRM
data) and every snapshot. The domain records themselves carry no sensitive field (the CRM
layer never fetches them).

For an incremental batch (``batch.full`` False) the batch holds only what changed; merge it with
stored records first (``group_batch`` + :func:`~sergas_tui.domain.bundle.merge_bundle`) and
call :meth:`DataScout.scout_bundles` with complete bundles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from pydantic import TypeAdapter

from sergas_tui.agents.scout_fetch import TOUCH_HISTORY_SHARE, ScoutRun
from sergas_tui.agents.scout_reads import ScoutReads, attach_histories
from sergas_tui.clock import Clock
from sergas_tui.config import SignalSettings
from sergas_tui.crm.gateway import CrmReader, SyncBatch
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.changes import (
    change_key,
    diff_snapshots,
    merge_changes,
    redact_change,
    snapshot_of,
    stage_history_changes,
)
from sergas_tui.domain.facts import AccountFacts
from sergas_tui.domain.outputs import ScoutReport
from sergas_tui.domain.pipeline import StageSamples, is_open
from sergas_tui.domain.records import Activity, Change, Contact, Deal, Link, Snapshot, StageChange
from sergas_tui.domain.signals import activity_time, detect_all
from sergas_tui.domain.touches import quiet_of
from sergas_tui.storage.read_cache import ReadCache
from sergas_tui.storage.repository import Repository

log = structlog.get_logger("sergas.scout")
_STAGE_ROWS: TypeAdapter[list[StageChange]] = TypeAdapter(list[StageChange])
_CHANGES: TypeAdapter[list[Change]] = TypeAdapter(list[Change])
R = TypeVar("R", Deal, Contact)

DEFAULT_STAGE_HISTORY_BUDGET = 60
"""Stage-history reads per owner and review (cached reads of unchanged deals cost nothing)."""
DEFAULT_TIMELINE_BUDGET = 20
"""Timeline reads per owner and review (likewise cached)."""
DEFAULT_CONCURRENCY = 8


def group_batch(batch: SyncBatch) -> dict[str, Bundle]:
    """The batch's records by account (pure). Activities and notes on a deal or a contact go
    to that record's account; records that point at no account of the batch are dropped."""
    bundles = {account.id: Bundle(account=account) for account in batch.accounts}
    owner_of: dict[str, str] = {account_id: account_id for account_id in bundles}
    for deal in batch.deals:
        if deal.account_id in bundles:
            bundles[deal.account_id].deals.append(deal)
            owner_of[deal.id] = deal.account_id
    for contact in batch.contacts:
        if contact.account_id in bundles:
            bundles[contact.account_id].contacts.append(contact)
            owner_of[contact.id] = contact.account_id

    def account_of(*links: Link | None) -> str | None:
        return next((owner_of[x.id] for x in links if x is not None and x.id in owner_of), None)

    for activity in batch.activities:
        if (account_id := account_of(activity.what, activity.who)) is not None:
            bundles[account_id].activities.append(activity)
    for note in batch.notes:
        if (account_id := account_of(note.parent)) is not None:
            bundles[account_id].notes.append(note)
    return bundles


class DataScout:
    """Turns synced CRM records into reviewed facts: changes, risk signals, ScoutReports."""

    def __init__(
        self,
        gateway: CrmReader,
        repository: Repository,
        settings: SignalSettings,
        clock: Clock,
        *,
        timeline_budget: int = DEFAULT_TIMELINE_BUDGET,
        concurrency: int = DEFAULT_CONCURRENCY,
        read_cache: ReadCache | None = None,
    ) -> None:
        self._repository = repository
        self._settings = settings
        self._clock = clock
        self._reads = ScoutReads(
            gateway,
            settings,
            read_cache or (ReadCache(repository) if isinstance(repository, Repository) else None),
            timeline_budget=timeline_budget,
            concurrency=concurrency,
        )
        self.last_run: ScoutRun | None = None
        """What the latest run did (calls, undecided deals, the snapshots to store)."""

    async def scout(
        self,
        batch: SyncBatch,
        *,
        previous: Mapping[str, Snapshot] | None = None,
        account_ids: set[str] | None = None,
        stage_history_budget: int = DEFAULT_STAGE_HISTORY_BUDGET,
    ) -> list[AccountFacts]:
        """Facts for every account of ``batch`` (or of ``account_ids``), in batch order.

        ``previous`` maps account id → its last stored snapshot; None reads them from the
        repository (``latest_snapshots(batch.owner_email)``); ``{}`` means "no baseline".
        """
        bundles = group_batch(batch)
        if account_ids is not None:
            bundles = {k: v for k, v in bundles.items() if k in account_ids}
        return await self.scout_bundles(
            bundles,
            owner_email=batch.owner_email,
            previous=previous,
            stage_history_budget=stage_history_budget,
            fresh=batch.changed,
        )

    async def scout_bundles(
        self,
        bundles: Mapping[str, Bundle],
        *,
        owner_email: str | None = None,
        previous: Mapping[str, Snapshot] | None = None,
        stage_history_budget: int = DEFAULT_STAGE_HISTORY_BUDGET,
        fresh: Collection[str] | None = None,
    ) -> list[AccountFacts]:
        """Like :meth:`scout`, for complete bundles (e.g. an incremental batch merged with
        stored records). The bundles are not modified. ``fresh``: the records whose stage
        history or timeline may be read from the CRM (those changed since the last review);
        the others' come from the read cache or not at all. None: any record's."""
        now = self._clock.now()
        run = ScoutRun(
            started_at=now,
            accounts=len(bundles),
            fresh=None if fresh is None else frozenset(fresh),
        )
        self.last_run = run
        if previous is None:
            previous = await asyncio.to_thread(self._repository.latest_snapshots, owner_email)
        work = [bundle.copy() for bundle in bundles.values()]
        # Budgets, typical stage times and read choices are per owner, so a review of one
        # owner and a review of every owner decide the same things about that owner's accounts.
        groups = by_owner(work)

        async def plan(group: list[Bundle]) -> tuple[StageSamples, dict[str, list[Change]]]:
            share = stage_history_budget // TOUCH_HISTORY_SHARE
            dated, asked = await self._reads.touch_histories(group, now, share, run)
            samples = await self._reads.add_stage_history(
                group, now, stage_history_budget - asked, run
            )
            found = await self._reads.read_timelines(group, now, run)
            attach_histories(group, dated)
            return samples, found

        planned = await asyncio.gather(*(plan(group) for group in groups.values()))
        samples_of: dict[str, StageSamples] = {}
        timeline: dict[str, list[Change]] = {}
        for owner, (samples, found) in zip(groups, planned, strict=True):
            samples_of[owner] = samples
            timeline.update(found)
        facts: list[AccountFacts] = []
        for bundle in work:
            samples = samples_of[owner_key(bundle)]
            facts.append(self._facts(bundle, now, samples, timeline, previous, run))
        return facts

    def _facts(
        self,
        bundle: Bundle,
        now: datetime,
        samples: StageSamples,
        timeline: Mapping[str, list[Change]],
        previous: Mapping[str, Snapshot],
        run: ScoutRun,
    ) -> AccountFacts:
        account = bundle.account
        snapshot = snapshot_of(account, bundle.deals, bundle.contacts)
        before = previous.get(account.id)
        diff = diff_snapshots(
            before.data if before else None,
            snapshot,
            module="Accounts",
            record_id=account.id,
            at=now,
        )
        from_history = [c for d in bundle.deals for c in stage_history_changes(d)]
        known = merge_changes(timeline.get(account.id, []), from_history, bundle.changes, diff)
        bundle.changes = [redact_change(c) for c in known]
        # The silence the quiet signals measure, kept for the portfolio's Quiet column.
        account = account.model_copy(update={"quiet": quiet_of(bundle, now)})
        bundle.account = account
        run.snapshots[account.id] = dict(snapshot_of(account, bundle.deals, bundle.contacts))
        signals = detect_all(bundle, now, self._settings, samples=samples)
        since = (
            before.taken_at
            if before is not None
            else now - timedelta(days=self._settings.recent_activity_days)
        )
        # The snapshot diff is "since the last review" by definition, whatever its stamp.
        diffed = {change_key(c) for c in diff}
        changes = [c for c in bundle.changes if change_key(c) in diffed or _after(c, since)]
        recent = _recent(bundle.activities, now, self._settings.recent_activity_days)
        report = ScoutReport(
            account_id=account.id,
            account_name=account.name,
            owner=_owner_label(account.owner.email, account.owner.name, account.owner.id)
            if account.owner
            else "",
            last_modified=account.modified_time,
            changes_detected=bool(changes),
            changes=changes,
            open_deals=[d for d in bundle.deals if is_open(d)],
            recent_activities=recent,
            notes_count=len(bundle.notes),
            risk_signals=list(signals),
        )
        return AccountFacts(
            account=account,
            contacts=list(bundle.contacts),
            deals=list(bundle.deals),
            activities=list(bundle.activities),
            notes=list(bundle.notes),
            changes=changes,
            signals=signals,
            report=report,
            reviewed_at=now,
        )


def owner_key(bundle: Bundle) -> str:
    """Whose account a bundle is (the owner's email, else id; '' when unowned)."""
    owner = bundle.account.owner
    if owner is None:
        return ""
    return (owner.email or owner.id or "").casefold()


def by_owner(bundles: Iterable[Bundle]) -> dict[str, list[Bundle]]:
    """Bundles grouped by owner, in order of first appearance."""
    groups: dict[str, list[Bundle]] = {}
    for bundle in bundles:
        groups.setdefault(owner_key(bundle), []).append(bundle)
    return groups


def _after(change: Change, since: datetime) -> bool:
    return change.timestamp is None or change.timestamp > since


def _owner_label(*candidates: str | None) -> str:
    return next((c for c in candidates if c), "")


def _recent(activities: Iterable[Activity], now: datetime, days: int) -> list[Activity]:
    """Activities that happened within ``days`` before ``now``, newest first."""
    since = now - timedelta(days=days)
    dated = [(at, a) for a in activities if (at := activity_time(a, now)) is not None]
    return [a for at, a in sorted(dated, key=lambda x: x[0], reverse=True) if at >= since]


__all__ = [
    "DEFAULT_STAGE_HISTORY_BUDGET",
    "DEFAULT_TIMELINE_BUDGET",
    "DataScout",
    "ScoutRun",
    "by_owner",
    "group_batch",
    "owner_key",
]
