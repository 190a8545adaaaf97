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
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from pydantic import JsonValue, TypeAdapter

from sergas_tui.agents.scout_fetch import (
    STAGE_HISTORY_ROUNDS,
    TOUCH_HISTORY_ROUNDS,
    TOUCH_HISTORY_SHARE,
    ScoutRun,
    contacts_needing_timeline,
    deals_needing_history,
    deals_needing_history_for_touch,
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
from sergas_tui.domain.records import (
    Activity,
    Change,
    Contact,
    Deal,
    Link,
    Snapshot,
    StageChange,
)
from sergas_tui.domain.signals import activity_time, detect_all
from sergas_tui.domain.touches import quiet_of
from sergas_tui.errors import SergasError
from sergas_tui.storage.read_cache import CacheKind, ReadCache
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
        self._gateway = gateway
        self._repository = repository
        self._settings = settings
        self._clock = clock
        self._timeline_budget = timeline_budget
        self._concurrency = concurrency
        self._cache = read_cache or (
            ReadCache(repository) if isinstance(repository, Repository) else None
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
            dated, asked = await self._touch_histories(group, now, share, run)
            samples = await self._add_stage_history(group, now, stage_history_budget - asked, run)
            found = await self._read_timelines(group, now, run)
            _attach(group, dated)
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

    async def _add_stage_history(
        self, bundles: list[Bundle], now: datetime, budget: int, run: ScoutRun
    ) -> StageSamples:
        """Fetch stage history where a stall verdict needs it (the biggest ``budget`` deals of
        these bundles, from the read cache when the deal is unchanged); the final samples."""
        samples = StageSamples.from_deals(d for b in bundles for d in b.deals)
        asked: set[str] = set()
        for _ in range(STAGE_HISTORY_ROUNDS):
            wanted = await self._readable(
                "stage_history",
                [
                    d
                    for d in deals_needing_history(bundles, self._settings, samples, now)
                    if d.id not in asked
                ],
                run,
            )
            left = budget - len(asked)
            if not wanted or left <= 0:
                break
            chosen = wanted[:left]
            asked.update(d.id for d in chosen)
            histories = await self._stage_histories(chosen, now, run)
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
        run.undecided_deals += [
            d.id for d in deals_needing_history(bundles, self._settings, samples, now)
        ]
        return samples

    async def _touch_histories(
        self, bundles: list[Bundle], now: datetime, budget: int, run: ScoutRun
    ) -> tuple[dict[str, list[StageChange]], int]:
        """Stage histories of deals that may date a customer touch of an otherwise quiet
        account (see scout_fetch), at most ``budget`` reads, and how many were asked.

        They are read before the stall rounds (a move they date can clear a critical quiet
        signal) but attached to the deals only after them and the timeline reads, so those
        decide what they would have decided with the rest of the budget (a deal both want is
        asked twice, the second time from the read cache).
        """
        found: dict[str, list[StageChange]] = {}
        asked: set[str] = set()
        for _ in range(TOUCH_HISTORY_ROUNDS):
            view = [b.copy() for b in bundles]
            _attach(view, found)
            plan = deals_needing_history_for_touch(view, self._settings, now, skip=asked)
            plan = await self._readable("stage_history", plan, run)
            wanted = plan[: max(0, budget - len(asked))]
            if not wanted:
                break
            asked.update(d.id for d in wanted)
            found.update(await self._stage_histories(wanted, now, run))
        return found, len(asked)

    async def _stage_histories(
        self, deals: list[Deal], now: datetime, run: ScoutRun
    ) -> dict[str, list[StageChange]]:
        """Deal id → its stage history (non-empty ones), cached reads first."""
        cached = await self._cached("stage_history", {d.id: d.modified_time for d in deals})
        histories = {deal_id: _STAGE_ROWS.validate_python(rows) for deal_id, rows in cached.items()}
        missing = [d for d in deals if d.id not in cached]
        run.stage_history_calls += len(missing)
        fetched = await fetch_bounded(
            missing,
            lambda deal: self._gateway.get_stage_history(deal.id),
            budget=len(missing),
            concurrency=self._concurrency,
            run=run,
        )
        await self._keep(
            "stage_history",
            [
                (deal.id, deal.modified_time, _STAGE_ROWS.dump_python(rows, mode="json"))
                for deal, rows in fetched
            ],
            now,
        )
        histories.update({deal.id: rows for deal, rows in fetched})
        return {deal_id: rows for deal_id, rows in histories.items() if rows}

    async def _readable(self, kind: CacheKind, records: list[R], run: ScoutRun) -> list[R]:
        """Of ``records`` (in order), those this run may read: all of them, or in an
        incremental review those changed since the last review and those with a cached read
        (free). Unchanged records never read stay unread until a full review."""
        if run.fresh is None or not records:
            return records
        fresh = run.fresh
        unchanged = {r.id: r.modified_time for r in records if r.id not in fresh}
        cached = await self._cached(kind, unchanged)
        return [r for r in records if r.id in fresh or r.id in cached]

    async def _cached(
        self, kind: CacheKind, records: Mapping[str, datetime | None]
    ) -> dict[str, list[JsonValue]]:
        if self._cache is None or not records:
            return {}
        return await asyncio.to_thread(self._cache.fresh, kind, records)

    async def _keep(
        self,
        kind: CacheKind,
        reads: list[tuple[str, datetime | None, list[JsonValue]]],
        now: datetime,
    ) -> None:
        if self._cache is not None and reads:
            try:
                await asyncio.to_thread(self._cache.save, kind, reads, now)
            except SergasError as err:  # a cache that cannot be written only costs calls
                log.warning("scout.cache_not_written", error=err.message)

    async def _read_timelines(
        self, bundles: list[Bundle], now: datetime, run: ScoutRun
    ) -> dict[str, list[Change]]:
        """Account id → timeline changes of the first ``timeline_budget`` records that need
        one (see scout_fetch), from the read cache when the record is unchanged."""
        owner = {c.id: b.account.id for b in bundles for c in b.contacts}
        owner.update({d.id: b.account.id for b in bundles for d in b.deals})
        modified: dict[str, datetime | None] = {
            c.id: c.modified_time for b in bundles for c in b.contacts
        }
        modified.update({d.id: d.modified_time for b in bundles for d in b.deals})
        contacts = contacts_needing_timeline(bundles, self._settings, now)
        deals = deals_needing_timeline(bundles, self._settings)
        contacts = await self._readable("timeline:Contacts", contacts, run)
        deals = await self._readable("timeline:Deals", deals, run)
        targets: list[tuple[str, str, str]] = [
            ("Contacts", c.id, owner[c.id]) for c in contacts
        ] + [("Deals", d.id, owner[d.id]) for d in deals]
        chosen = targets[: max(0, self._timeline_budget)]
        reads: list[tuple[tuple[str, str, str], list[Change]]] = []
        missing: list[tuple[str, str, str]] = []
        for module in ("Contacts", "Deals"):
            kind: CacheKind = "timeline:Contacts" if module == "Contacts" else "timeline:Deals"
            mine = [t for t in chosen if t[0] == module]
            cached = await self._cached(kind, {t[1]: modified.get(t[1]) for t in mine})
            for target in mine:
                if target[1] in cached:
                    reads.append((target, _CHANGES.validate_python(cached[target[1]])))
                else:
                    missing.append(target)
        run.timeline_calls += len(missing)
        fetched = await fetch_bounded(
            missing,
            lambda t: self._gateway.get_timeline(t[0], t[1]),
            budget=len(missing),
            concurrency=self._concurrency,
            run=run,
        )
        for module in ("Contacts", "Deals"):
            kind = "timeline:Contacts" if module == "Contacts" else "timeline:Deals"
            await self._keep(
                kind,
                [
                    (t[1], modified.get(t[1]), _CHANGES.dump_python(changes, mode="json"))
                    for t, changes in fetched
                    if t[0] == module
                ],
                now,
            )
        reads += fetched
        found: dict[str, list[Change]] = {}
        for (module, record_id, account_id), changes in reads:
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


def _attach(bundles: Iterable[Bundle], histories: Mapping[str, list[StageChange]]) -> None:
    """Give deals without stage history the one read for them, if any (in place)."""
    if not histories:
        return
    for bundle in bundles:
        bundle.deals = [
            d.model_copy(update={"stage_history": histories[d.id]})
            if d.id in histories and not d.stage_history
            else d
            for d in bundle.deals
        ]


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
