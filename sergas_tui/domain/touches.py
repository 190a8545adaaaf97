"""Customer touches: what ends an account's silence (pure: no I/O, no clock of its own).

"Quiet N days" means N days since the latest *customer touch*, and only these count:

- a **call** that happened (its start is not in the future) and reached someone: not
  scheduled, overdue or cancelled, and not a "no response/busy", "no answer", "voicemail" or
  "missed" result;
- a **meeting** (event) that has started;
- a **completed task** (``Completed``, ``Closed`` or ``Done``) that Sergas did not write;
- a **deal moving to another stage** (its stage history, else a ``Stage`` change known from
  the Zoho timeline or the snapshot diff);
- a **deal won or lost**: when it entered its closed stage, else its closing date.

Never: open or future tasks, any task or note Sergas wrote through an approval (its text
carries the marker ``[sergas:<approval id>]``), scheduled calls, future meetings, notes,
record edits (``Modified_Time``) and ``Last_Activity_Time``, which Zoho bumps for every one
of those. The domain has no email records; when the org's emails are synced, a sent or
received email is a touch too.

:func:`last_touch` is the one definition: the quiet signals, the portfolio's Quiet column and
the account screen all use it. :func:`quiet_of` says how long the silence is: since the last
touch; with none on record, since the account's creation when its whole life is on record,
else *at least* since the records read reach back (a sync reads activities of the last
:data:`ACTIVITY_HISTORY_DAYS` days, and none at all happened after ``Last_Activity_Time``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, time, timedelta

from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.pipeline import days_between, is_closed_stage
from sergas_tui.domain.records import (
    Account,
    Activity,
    Deal,
    Quiet,
    QuietBasis,
    RecordRef,
    Touch,
    TouchKind,
)

ACTIVITY_HISTORY_DAYS = 90
"""How far back a sync reads tasks, calls and meetings (the gateways' ``history_days``): with
no touch among them, an account has been quiet for at least this long."""
SERGAS_MARKER = "[sergas:"
"""The start of the tag every task and note written for an approval carries."""
LABEL_SUBJECT_CHARS = 48
COMPLETED_TASK = frozenset({"completed", "closed", "done"})
_CALL_NOT_HELD = frozenset({"scheduled", "overdue", "cancelled", "canceled"})
_CALL_NOT_REACHED = ("no response", "no answer", "busy", "voicemail", "voice mail", "missed")


def written_by_sergas(text: str | None) -> bool:
    """True when ``text`` (a task's description, a note's content) carries an approval's
    marker: Sergas created the record, so it says nothing about the customer."""
    return text is not None and SERGAS_MARKER in text


def _subject(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > LABEL_SUBJECT_CHARS:
        flat = flat[: LABEL_SUBJECT_CHARS - 1].rstrip() + "…"
    return f"'{flat}'"


def _past(moment: datetime | None, now: datetime) -> datetime | None:
    return moment if moment is not None and moment <= now else None


def activity_touch(activity: Activity, now: datetime) -> Touch | None:
    """The touch an activity is, or None (see the module docstring)."""
    if written_by_sergas(activity.description):
        return None
    status = (activity.status or "").strip().casefold()
    at: datetime | None
    kind: TouchKind
    if activity.kind == "call":
        if status in _CALL_NOT_HELD or any(word in status for word in _CALL_NOT_REACHED):
            return None
        at = _past(activity.when or activity.created_time, now)
        kind, word = "call", "call"
    elif activity.kind == "event":
        at = _past(activity.when, now)
        kind, word = "meeting", "meeting"
    else:
        if status not in COMPLETED_TASK:
            return None
        at = (
            _past(activity.closed_time, now)
            or _past(activity.when, now)
            or _past(activity.created_time, now)
        )
        kind, word = "task", "completed task"
    if at is None:
        return None
    return Touch(at=at, kind=kind, ref=activity.ref(), label=f"{word} {_subject(activity.subject)}")


def _moves(bundle: Bundle, deal: Deal) -> Iterator[tuple[str, datetime]]:
    """``(stage entered, when)`` for each stage change of ``deal`` that is known: from its
    stage history when it carries one (the first row is the deal's creation, not a move),
    else from ``Stage`` changes (timeline, snapshot diff)."""
    rows = [row for row in deal.stage_history if row.changed_at is not None]
    if rows:
        for before, after in itertools.pairwise(rows):
            if after.changed_at is not None and after.stage.casefold() != before.stage.casefold():
                yield after.stage, after.changed_at
        return
    for change in bundle.changes_of("Deals", deal.id, ("Stage",)):
        if change.timestamp is None or not isinstance(change.new, str):
            continue
        if isinstance(change.old, str) and change.old.casefold() == change.new.casefold():
            continue
        yield change.new, change.timestamp


def _closed_kind(stage: str) -> TouchKind:
    return "deal_won" if "won" in stage.casefold() else "deal_lost"


def deal_touches(bundle: Bundle, deal: Deal, now: datetime) -> list[Touch]:
    """The touches one deal shows: its stage moves, and its win or loss."""
    name = _subject(deal.name)
    stage_ref = RecordRef(module="Deals", id=deal.id, field="Stage")
    found: list[Touch] = []
    for stage, at in _moves(bundle, deal):
        if at > now:
            continue
        if is_closed_stage(stage):
            kind = _closed_kind(stage)
            label = f"deal {name} {'won' if kind == 'deal_won' else 'lost'}"
        else:
            kind, label = "stage_move", f"deal {name} moved to {stage}"
        found.append(Touch(at=at, kind=kind, ref=stage_ref, label=label))
    current = deal.stage
    if current is not None and is_closed_stage(current) and deal.closing_date is not None:
        # The stage change itself is unknown: the closing date says when the deal closed.
        closed = datetime.combine(deal.closing_date, time.min, tzinfo=UTC)
        entered = [t for t in found if t.kind in ("deal_won", "deal_lost")]
        if not entered and closed <= now:
            kind = _closed_kind(current)
            found.append(
                Touch(
                    at=closed,
                    kind=kind,
                    ref=RecordRef(module="Deals", id=deal.id, field="Closing_Date"),
                    label=f"deal {name} {'won' if kind == 'deal_won' else 'lost'}",
                )
            )
    return found


def touches(bundle: Bundle, now: datetime) -> list[Touch]:
    """Every customer touch of the account known from ``bundle``, oldest first."""
    found: list[Touch] = []
    for activity in bundle.activities:
        if (touch := activity_touch(activity, now)) is not None:
            found.append(touch)
    for deal in bundle.deals:
        found.extend(deal_touches(bundle, deal, now))
    return sorted(found, key=_order)


def _order(touch: Touch) -> tuple[datetime, str]:
    return touch.at, str(touch.ref)


def last_touch(bundle: Bundle, now: datetime) -> Touch | None:
    """The account's latest customer touch at ``now``, or None when none is known."""
    return latest(touches(bundle, now))


def latest(found: Iterable[Touch]) -> Touch | None:
    """The latest of ``found`` (ties: the greatest reference, for a stable choice)."""
    return max(found, key=_order, default=None)


def quiet_of(bundle: Bundle, now: datetime) -> Quiet:
    """How long the account has gone without a customer touch at ``now`` (see the module)."""
    touch = last_touch(bundle, now)
    if touch is not None:
        return Quiet(since=touch.at, basis="touch", touch=touch)
    floor = now - timedelta(days=ACTIVITY_HISTORY_DAYS)
    created = bundle.account.created_time
    if created is not None and floor <= created <= now:
        return Quiet(since=created, basis="created")
    latest = bundle.account.last_activity_time  # nothing at all happened after it
    basis: QuietBasis = "records"
    return Quiet(since=min(floor, latest) if latest is not None else floor, basis=basis)


def account_last_touch(
    account: Account, deals: Sequence[Deal], activities: Sequence[Activity], now: datetime
) -> Touch | None:
    """:func:`last_touch` of records read separately (no known field changes)."""
    return last_touch(Bundle(account=account, deals=list(deals), activities=list(activities)), now)


def quiet_days(quiet: Touch | Quiet, now: datetime) -> int:
    """Whole days from a touch (or the start of a silence) to ``now``, as the quiet signals
    count them (never negative)."""
    return max(days_between(quiet.at if isinstance(quiet, Touch) else quiet.since, now), 0)


__all__ = [
    "ACTIVITY_HISTORY_DAYS",
    "SERGAS_MARKER",
    "Quiet",
    "Touch",
    "TouchKind",
    "account_last_touch",
    "activity_touch",
    "deal_touches",
    "last_touch",
    "latest",
    "quiet_days",
    "quiet_of",
    "touches",
    "written_by_sergas",
]
