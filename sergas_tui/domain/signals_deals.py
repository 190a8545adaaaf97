"""Risk-signal detectors that look at one account's open deals (see :mod:`.signals`).

Each detector is pure: it takes the account's :class:`Bundle`, ``now`` and the thresholds, and
returns :class:`RiskSignal` objects whose evidence names the deal and the field that shows the
problem, and whose ``data`` holds the figures the message states (see :mod:`.signals` for the
names). Movement of a deal (close-date pushes, amount cuts, stage regressions) is read from
three sources, any of which may be missing: the deal's stage history (each row carries the
amount and closing date in force when the stage was entered, and the deal's current values
come last), timeline changes and the diff against the previous snapshot (``Bundle.changes``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from sergas_tui.config import SignalSettings
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.common import Severity, as_date, as_float
from sergas_tui.domain.pipeline import (
    EMPTY_SAMPLES,
    LATE_STAGES,
    StageSamples,
    is_open,
    stage_limit,
    stage_rank,
    stage_stay,
    stall_verdict,
)
from sergas_tui.domain.records import Deal, RecordRef, RiskSignal, SignalValue

T = TypeVar("T")

OVERDUE_HIGH_DAYS = 30
"""A deal this many days past its closing date is high risk."""
AMOUNT_CUT_HIGH = 0.25
"""An amount cut of at least this fraction of the earlier amount is high risk."""


def field_ref(deal: Deal, field: str) -> RecordRef:
    return RecordRef(module="Deals", id=deal.id, field=field)


def money(amount: float) -> str:
    return f"{amount:,.0f}"


def open_deals(bundle: Bundle) -> list[Deal]:
    """The account's open deals, biggest first (then by id, for a stable order)."""
    return sorted((d for d in bundle.deals if is_open(d)), key=lambda d: (-(d.amount or 0.0), d.id))


def _collapse(values: Iterable[T]) -> list[T]:
    out: list[T] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


def _history(deal: Deal, pick: Callable[[Deal], T | None], row_value: str) -> list[T]:
    """Values of a field from the stage history rows, then the deal's current value."""
    values = [getattr(row, row_value) for row in deal.stage_history]
    values.append(pick(deal))
    return _collapse(v for v in values if v is not None)


def _moves(
    bundle: Bundle, deal: Deal, fields: Sequence[str], parse: Callable[[object], T | None]
) -> list[tuple[T, T]]:
    """``(old, new)`` pairs of the deal's field changes that parse on both sides."""
    pairs: list[tuple[T, T]] = []
    for change in bundle.changes_of("Deals", deal.id, fields):
        old, new = parse(change.old), parse(change.new)
        if old is not None and new is not None and old != new:
            pairs.append((old, new))
    return pairs


def detect_stalled(
    bundle: Bundle,
    now: datetime,
    settings: SignalSettings,
    *,
    samples: StageSamples = EMPTY_SAMPLES,
) -> list[RiskSignal]:
    """``stalled_in_stage``: an open deal in its current stage longer than the stage's limit.

    A deal without stage history whose Created/Modified bounds straddle the limit is left
    alone: it may or may not be stalled, and a guess would be noise.
    """
    found: list[RiskSignal] = []
    for deal in open_deals(bundle):
        stay = stage_stay(deal)
        if stay is None:
            continue
        limit = stage_limit(stay.stage, settings, samples, deal_id=deal.id)
        if not stall_verdict(stay, limit.days, now):
            continue
        days = stay.min_days(now)
        data: dict[str, SignalValue] = {
            "deal": deal.name,
            "stage": stay.stage,
            "days_in_stage": days,
            "at_least": not stay.exact,
            "limit_days": limit.days,
            "limit_source": limit.source,
            "samples": limit.samples,
        }
        found.append(
            RiskSignal(
                key="stalled_in_stage",
                severity="high" if days >= 2 * limit.days else "warning",
                message=stalled_message(data, settings.stalled_stage_factor),
                evidence=[field_ref(deal, "Stage")],
                data=data,
            )
        )
    return found


def stalled_message(data: dict[str, SignalValue], factor: float) -> str:
    """The ``stalled_in_stage`` message, from the signal's ``data``."""
    days = data["days_in_stage"]
    how_long = f"at least {days} days" if data["at_least"] else f"{days} days"
    why = (
        f"{factor:g}× the typical time over {data['samples']} stays"
        if data["limit_source"] == "typical"
        else "configured"
    )
    return (
        f"Deal '{data['deal']}' has been in {data['stage']} for {how_long} "
        f"(limit {data['limit_days']}, {why})"
    )


def detect_close_date_pushed(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``close_date_pushed``: an open deal's closing date moved later at least once."""
    found: list[RiskSignal] = []
    for deal in open_deals(bundle):
        dates = _history(deal, lambda d: d.closing_date, "closing_date")
        from_history = sum(1 for a, b in itertools.pairwise(dates) if b > a)
        moves = _moves(bundle, deal, ("Closing_Date",), as_date)
        from_changes = sum(1 for old, new in moves if new > old)
        pushes = max(from_history, from_changes)
        if pushes == 0:
            continue
        first = moves[0][0] if moves and from_changes >= from_history else dates[0]
        data: dict[str, SignalValue] = {"deal": deal.name, "pushes": pushes}
        if deal.closing_date is not None:
            data["first_date"] = first.isoformat()
            data["closing_date"] = deal.closing_date.isoformat()
        times = "once" if pushes == 1 else f"{pushes} times"
        detail = ""
        if "closing_date" in data:
            detail = f" (from {data['first_date']} to {data['closing_date']})"
        found.append(
            RiskSignal(
                key="close_date_pushed",
                severity="high" if pushes >= settings.close_date_push_high else "warning",
                message=f"Deal '{data['deal']}' closing date pushed later {times}{detail}",
                evidence=[field_ref(deal, "Closing_Date")],
                data=data,
            )
        )
    return found


def detect_close_date_overdue(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``close_date_overdue``: an open deal whose closing date has passed."""
    today = now.date()
    found: list[RiskSignal] = []
    for deal in open_deals(bundle):
        if deal.closing_date is None or deal.closing_date >= today:
            continue
        late = (today - deal.closing_date).days
        severity: Severity = "high" if late >= OVERDUE_HIGH_DAYS else "warning"
        data: dict[str, SignalValue] = {
            "deal": deal.name,
            "days_overdue": late,
            "closing_date": deal.closing_date.isoformat(),
        }
        found.append(
            RiskSignal(
                key="close_date_overdue",
                severity=severity,
                message=f"Deal '{data['deal']}' is still open {late} "
                f"day{'' if late == 1 else 's'} after its closing date {data['closing_date']}",
                evidence=[field_ref(deal, "Closing_Date")],
                data=data,
            )
        )
    return found


def detect_amount_decreased(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``amount_decreased``: an open deal's amount is lower than an earlier amount."""
    found: list[RiskSignal] = []
    for deal in open_deals(bundle):
        if deal.amount is None:
            continue
        earlier = _history(deal, lambda d: d.amount, "amount")[:-1]
        earlier += [old for old, _ in _moves(bundle, deal, ("Amount",), as_float)]
        peak = max(earlier, default=None)
        if peak is None or deal.amount >= peak:
            continue
        cut = (peak - deal.amount) / peak if peak else 0.0
        data: dict[str, SignalValue] = {
            "deal": deal.name,
            "old_amount": peak,
            "new_amount": deal.amount,
            "cut_percent": round(cut * 100),
        }
        found.append(
            RiskSignal(
                key="amount_decreased",
                severity="high" if cut >= AMOUNT_CUT_HIGH else "warning",
                message=f"Deal '{data['deal']}' amount fell from {money(peak)} to "
                f"{money(deal.amount)} ({data['cut_percent']}% lower)",
                evidence=[field_ref(deal, "Amount")],
                data=data,
            )
        )
    return found


def detect_stage_regression(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``stage_regression``: an open deal now sits in an earlier stage than it once reached."""
    found: list[RiskSignal] = []
    for deal in open_deals(bundle):
        current = stage_rank(deal.stage)
        if current is None:
            continue
        reached = [row.stage for row in deal.stage_history]
        reached += [str(old) for old, _ in _moves(bundle, deal, ("Stage",), _stage_name)]
        furthest = max(reached, key=lambda s: stage_rank(s) or -1, default=None)
        if furthest is None or (stage_rank(furthest) or -1) <= current:
            continue
        data: dict[str, SignalValue] = {
            "deal": deal.name,
            "from_stage": furthest,
            "to_stage": deal.stage or "",
        }
        found.append(
            RiskSignal(
                key="stage_regression",
                message=f"Deal '{data['deal']}' moved back from {furthest} to {data['to_stage']}",
                evidence=[field_ref(deal, "Stage")],
                data=data,
            )
        )
    return found


def _stage_name(value: object) -> str | None:
    return value if isinstance(value, str) and stage_rank(value) is not None else None


def detect_no_next_step(
    bundle: Bundle, now: datetime, settings: SignalSettings
) -> list[RiskSignal]:
    """``no_next_step``: an open deal in a late stage with an empty Next_Step."""
    return [
        RiskSignal(
            key="no_next_step",
            message=f"Deal '{deal.name}' is in {deal.stage} with no next step",
            evidence=[field_ref(deal, "Next_Step")],
            data={"deal": deal.name, "stage": deal.stage or ""},
        )
        for deal in open_deals(bundle)
        if deal.stage in LATE_STAGES and not (deal.next_step or "").strip()
    ]
