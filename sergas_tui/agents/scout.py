"""The Data Scout (rules engine): a sync batch → per-account :class:`AccountFacts`.

For each account the scout groups the batch's records (:func:`group_batch`), reads the few
extra things it needs from the CRM within budgets (stage history and timelines, planned in
:mod:`.scout_fetch`), works out what changed since the previous snapshot, runs the risk-signal
catalog (:mod:`sergas_tui.domain.signals`) and builds the seed's ScoutReport.

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
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sergas_tui.agents.scout_fetch import (
    STAGE_HISTORY_ROUNDS,
    ScoutRun,
    contacts_needing_timeline,
    deals_needing_history,
    deals_needing_timeline,
    fetch_bounded,
)
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
from sergas_tui.domain.records import Activity, Change, Link, Snapshot
from sergas_tui.domain.signals import activity_time, detect_all
from sergas_tui.storage.repository import Repository

DEFAULT_STAGE_HISTORY_BUDGET = 60
DEFAULT_TIMELINE_BUDGET = 20
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
    ) -> None:
        self._gateway = gateway
        self._repository = repository
        self._settings = settings
        self._clock = clock
        self._timeline_budget = timeline_budget
        self._concurrency = concurrency
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
        )

    async def scout_bundles(
        self,
        bundles: Mapping[str, Bundle],
        *,
        owner_email: str | None = None,
        previous: Mapping[str, Snapshot] | None = None,
        stage_history_budget: int = DEFAULT_STAGE_HISTORY_BUDGET,
    ) -> list[AccountFacts]:
        """Like :meth:`scout`, for complete bundles (e.g. an incremental batch merged with
        stored records). The bundles are not modified."""
        now = self._clock.now()
        run = ScoutRun(started_at=now, accounts=len(bundles))
        self.last_run = run
        if previous is None:
            previous = await asyncio.to_thread(self._repository.latest_snapshots, owner_email)
        work = [_copy(bundle) for bundle in bundles.values()]
        samples = await self._add_stage_history(work, now, stage_history_budget, run)
        timeline = await self._read_timelines(work, now, run)
        facts: list[AccountFacts] = []
        for bundle in work:
            facts.append(self._facts(bundle, now, samples, timeline, previous, run))
        return facts

    async def _add_stage_history(
        self, bundles: list[Bundle], now: datetime, budget: int, run: ScoutRun
    ) -> StageSamples:
        """Fetch stage history where a stall verdict needs it; the final stage samples."""
        samples = StageSamples.from_deals(d for b in bundles for d in b.deals)
        asked: set[str] = set()
        for _ in range(STAGE_HISTORY_ROUNDS):
            wanted = [
                d
                for d in deals_needing_history(bundles, self._settings, samples, now)
                if d.id not in asked
            ]
            left = budget - run.stage_history_calls
            if not wanted or left <= 0:
                break
            asked.update(d.id for d in wanted[:left])
            run.stage_history_calls += min(left, len(wanted))
            fetched = await fetch_bounded(
                wanted,
                lambda deal: self._gateway.get_stage_history(deal.id),
                budget=left,
                concurrency=self._concurrency,
                run=run,
            )
            histories = {deal.id: rows for deal, rows in fetched if rows}
            for bundle in bundles:
                bundle.deals = [
                    d.model_copy(update={"stage_history": histories[d.id]})
                    if d.id in histories
                    else d
                    for d in bundle.deals
                ]
            samples = StageSamples.from_deals(d for b in bundles for d in b.deals)
            if not histories:
                break
        run.undecided_deals = [
            d.id for d in deals_needing_history(bundles, self._settings, samples, now)
        ]
        return samples

    async def _read_timelines(
        self, bundles: list[Bundle], now: datetime, run: ScoutRun
    ) -> dict[str, list[Change]]:
        """Account id → timeline changes read within ``timeline_budget`` (see scout_fetch)."""
        owner = {c.id: b.account.id for b in bundles for c in b.contacts}
        owner.update({d.id: b.account.id for b in bundles for d in b.deals})
        contacts = contacts_needing_timeline(bundles, self._settings, now)
        deals = deals_needing_timeline(bundles, self._settings)
        targets: list[tuple[str, str, str]] = [
            ("Contacts", c.id, owner[c.id]) for c in contacts
        ] + [("Deals", d.id, owner[d.id]) for d in deals]
        budget = self._timeline_budget
        run.timeline_calls += min(budget, len(targets))
        fetched = await fetch_bounded(
            targets,
            lambda t: self._gateway.get_timeline(t[0], t[1]),
            budget=budget,
            concurrency=self._concurrency,
            run=run,
        )
        found: dict[str, list[Change]] = {}
        for (module, record_id, account_id), changes in fetched:
            found.setdefault(account_id, []).extend(
                c.model_copy(update={"module": c.module or module, "record_id": record_id})
                if c.record_id is None
                else c
                for c in changes
            )
        return found

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
        run.snapshots[account.id] = dict(snapshot)
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


def _copy(bundle: Bundle) -> Bundle:
    return Bundle(
        account=bundle.account,
        contacts=list(bundle.contacts),
        deals=list(bundle.deals),
        activities=list(bundle.activities),
        notes=list(bundle.notes),
        changes=list(bundle.changes),
    )


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
    "group_batch",
]
