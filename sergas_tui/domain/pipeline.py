"""Zoho's default deal pipeline and how long a deal has been in its current stage.

Zoho fills a Stage_History row's ``Duration`` only once the deal leaves the stage, so the time
in the *current* stage is worked out here: exactly from the stage history when the deal carries
it, otherwise only bounded by the deal's own stamps — the stage was entered no earlier than
``Created_Time`` and no later than ``Modified_Time`` (entering a stage modifies the deal).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sergas_tui.config import SignalSettings
from sergas_tui.domain.picklists import CLOSED_STAGES, OPEN_STAGES
from sergas_tui.domain.records import Deal, StageChange

LATE_STAGES: frozenset[str] = frozenset(OPEN_STAGES[-2:])
"""Stages where a deal without a next step is a risk (Proposal/Price Quote,
Negotiation/Review)."""

_RANK: Mapping[str, int] = MappingProxyType(
    {stage.casefold(): index for index, stage in enumerate(OPEN_STAGES)}
)


def stage_rank(stage: str | None) -> int | None:
    """The position of an open stage in the pipeline (0 = Qualification); None otherwise."""
    return None if stage is None else _RANK.get(stage.strip().casefold())


def is_closed_stage(stage: str | None) -> bool:
    """True for Closed Won/Lost and any custom stage whose name starts with "Closed"."""
    return stage is not None and (
        stage in CLOSED_STAGES or stage.strip().casefold().startswith("closed")
    )


def is_open(deal: Deal) -> bool:
    """A deal is open until it reaches a closed stage (a deal with no stage counts as open)."""
    return not is_closed_stage(deal.stage)


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole days from ``earlier`` to ``later`` (floored; negative when reversed)."""
    return (later - earlier).days


@dataclass(frozen=True)
class StageStay:
    """When the deal entered its current stage: exactly, or between two bounds."""

    stage: str
    entered_at: datetime | None
    """Exact entry time, from the stage history."""
    earliest: datetime | None
    """Entered no earlier than this (Created_Time, or the last history row of another stage)."""
    latest: datetime | None
    """Entered no later than this (Modified_Time)."""

    @property
    def exact(self) -> bool:
        return self.entered_at is not None

    def min_days(self, now: datetime) -> int:
        """The fewest whole days the deal can have been in the stage."""
        bound = self.entered_at or self.latest
        return 0 if bound is None else max(0, days_between(bound, now))

    def max_days(self, now: datetime) -> int | None:
        """The most whole days the deal can have been in the stage; None when unbounded."""
        bound = self.entered_at or self.earliest
        return None if bound is None else max(0, days_between(bound, now))


def _current_run(history: list[StageChange], stage: str) -> StageChange | None:
    """The first row of the trailing run of history rows in ``stage``."""
    entered: StageChange | None = None
    for row in reversed(history):
        if row.stage.casefold() != stage.casefold():
            break
        entered = row
    return entered


def stage_fixed_by(deal: Deal) -> datetime | None:
    """When the deal's stage (and amount, probability, closing date) last changed at the
    latest: its Modified_Time, or the earlier :attr:`Deal.stage_fields_since` when the sync knows
    that later edits changed other fields only."""
    since, modified = deal.stage_fields_since, deal.modified_time
    if since is None or modified is None:
        return modified
    return min(since, modified)


def stage_stay(deal: Deal) -> StageStay | None:
    """How long ``deal`` may have been in its current stage; None when it has no stage."""
    if not deal.stage:
        return None
    history = [row for row in deal.stage_history if row.changed_at is not None]
    entered = _current_run(history, deal.stage)
    if entered is not None and entered.changed_at is not None:
        return StageStay(deal.stage, entered.changed_at, entered.changed_at, entered.changed_at)
    earliest = deal.created_time
    if history and history[-1].changed_at is not None:
        last = history[-1].changed_at
        earliest = last if earliest is None or last > earliest else earliest
    latest = stage_fixed_by(deal)
    return StageStay(deal.stage, None, earliest, latest)


def completed_stays(history: Iterable[StageChange]) -> list[tuple[str, float]]:
    """``(stage, days)`` for every stay in the history that has ended (a later row exists)."""
    rows = [(row.stage, row.changed_at) for row in history if row.changed_at is not None]
    stays: list[tuple[str, float]] = []
    start: tuple[str, datetime] | None = None
    for stage, at in rows:
        if start is not None and stage.casefold() == start[0].casefold():
            continue
        if start is not None:
            stays.append((start[0], (at - start[1]).total_seconds() / 86_400))
        start = (stage, at)
    return stays


@dataclass(frozen=True)
class StageSamples:
    """Completed stays per stage, across deals, to compute a typical time in each stage."""

    by_stage: Mapping[str, tuple[tuple[str, float], ...]]
    """Stage (casefolded) → ``(deal id, days)`` per completed stay."""

    @classmethod
    def from_deals(cls, deals: Iterable[Deal]) -> StageSamples:
        found: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for deal in deals:
            for stage, days in completed_stays(deal.stage_history):
                found[stage.casefold()].append((deal.id, days))
        return cls(MappingProxyType({k: tuple(v) for k, v in found.items()}))

    def typical(self, stage: str, *, excluding: str | None = None) -> tuple[float, int]:
        """The median days in ``stage`` over other deals' stays, and how many stays it used."""
        days = [d for deal_id, d in self.by_stage.get(stage.casefold(), ()) if deal_id != excluding]
        return (statistics.median(days) if days else 0.0), len(days)


EMPTY_SAMPLES = StageSamples(MappingProxyType({}))

DEFAULT_STAGE_LIMIT = 30
"""Days allowed in a stage that :attr:`SignalSettings.stage_limit_days` does not list."""


@dataclass(frozen=True)
class StageLimit:
    """How many days a deal may stay in a stage, and where that number came from."""

    days: int
    source: str
    """"typical" (factor × median of other deals) or "configured"."""
    samples: int = 0


def stage_limit(
    stage: str,
    settings: SignalSettings,
    samples: StageSamples = EMPTY_SAMPLES,
    *,
    deal_id: str | None = None,
) -> StageLimit:
    """``stalled_stage_factor`` × the typical days in ``stage`` over other deals when at least
    ``typical_stage_min_samples`` stays are known; the configured limit otherwise."""
    typical, count = samples.typical(stage, excluding=deal_id)
    if count >= settings.typical_stage_min_samples and typical > 0:
        days = max(1, round(typical * settings.stalled_stage_factor))
        return StageLimit(days, "typical", count)
    configured = {k.casefold(): v for k, v in settings.stage_limit_days.items()}
    return StageLimit(configured.get(stage.casefold(), DEFAULT_STAGE_LIMIT), "configured", count)


def stall_verdict(stay: StageStay, limit: int, now: datetime) -> bool | None:
    """True when the deal has certainly been in the stage longer than ``limit`` days, False
    when it certainly has not, None when the bounds straddle the limit (history needed)."""
    if stay.min_days(now) > limit:
        return True
    longest = stay.max_days(now)
    if longest is not None and longest <= limit:
        return False
    return None
