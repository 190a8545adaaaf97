"""The Data Scout's extra CRM reads, spent: stage histories and timelines of the records the
plans of :mod:`.scout_fetch` choose, from the read cache when the record is unchanged since it
was read, else from the CRM within the run's budgets (and kept in the cache for next time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TypeVar

import structlog
from pydantic import JsonValue, TypeAdapter

from sergas_tui.agents.scout_fetch import (
    STAGE_HISTORY_ROUNDS,
    TOUCH_HISTORY_ROUNDS,
    ScoutRun,
    contacts_needing_timeline,
    deals_needing_history,
    deals_needing_history_for_touch,
    deals_needing_timeline,
    fetch_bounded,
)
from sergas_tui.config import SignalSettings
from sergas_tui.crm.gateway import CrmReader
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.pipeline import StageSamples
from sergas_tui.domain.records import Change, Contact, Deal, StageChange
from sergas_tui.errors import SergasError
from sergas_tui.storage.read_cache import CacheKind, ReadCache

log = structlog.get_logger("sergas.scout")
_STAGE_ROWS: TypeAdapter[list[StageChange]] = TypeAdapter(list[StageChange])
_CHANGES: TypeAdapter[list[Change]] = TypeAdapter(list[Change])
R = TypeVar("R", Deal, Contact)


class ScoutReads:
    """The reads one Data Scout makes beyond the bulk sync (see the module docstring)."""

    def __init__(
        self,
        gateway: CrmReader,
        settings: SignalSettings,
        cache: ReadCache | None,
        *,
        timeline_budget: int,
        concurrency: int,
    ) -> None:
        self._gateway = gateway
        self._settings = settings
        self._cache = cache
        self._timeline_budget = timeline_budget
        self._concurrency = concurrency

    async def add_stage_history(
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

    async def touch_histories(
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
            attach_histories(view, found)
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

    async def read_timelines(
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


def attach_histories(bundles: Iterable[Bundle], histories: Mapping[str, list[StageChange]]) -> None:
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
