"""Alert hygiene: an owner snoozes or dismisses one risk signal of one account (pure rules).

An AE who knows why an account looks at risk ("the customer is on holiday until January")
mutes that signal so the same recommendation stops coming back every review:

- a **snooze** lasts to the end of its ``until`` day (a UTC day, like every date Sergas shows);
- a **dismiss** lasts until someone lifts it, or to the end of its ``until`` day when it has one.

Either needs a reason and is recorded with who did it. A mute names a signal *key*
(``no_activity_critical``…), so it covers every signal of that key on the account (each stalled
deal, say). :func:`without_muted` is what a review applies right after the Data Scout, so no
engine ever sees a muted signal; :func:`split_muted` tells a screen which signals were muted and
by what. Storage is :mod:`sergas_tui.storage.mutes`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sergas_tui.domain.common import Timestamp, ensure_aware, new_id
from sergas_tui.domain.facts import AccountFacts
from sergas_tui.domain.records import RiskSignal
from sergas_tui.domain.signals import SIGNALS
from sergas_tui.errors import MuteError as MuteError

MuteKind = Literal["snooze", "dismiss"]
"""``snooze``: until a date; ``dismiss``: until lifted (or until a date, when given)."""

DEFAULT_SNOOZE_DAYS = 14
"""What the snooze dialog proposes: one review cycle's worth of quiet."""

MAX_SNOOZE_DAYS = 366
"""The furthest a snooze may reach; longer is a dismissal (and a year-2207 typo is caught)."""

MUTE_AGENT = "owner"
"""``agent_name`` of the audit rows of mutes: a person did it (as for approval decisions)."""


def _required(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text


class SignalMute(BaseModel):
    """One snooze or dismissal of a signal key on an account, and whether it was lifted."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_id)
    account_id: str
    signal_key: str
    kind: MuteKind
    reason: str
    """Why, in the person's words (required: the next person reading it needs it)."""
    until: date | None = None
    """The last day muted (inclusive). Required for a snooze; None on a dismiss is for good."""
    created_by: str
    created_at: Timestamp
    owner_email: str | None = None
    """The account's owner when it was muted (whose queue it quietens)."""
    lifted_at: Timestamp | None = None
    lifted_by: str | None = None

    @field_validator("account_id", "signal_key", "created_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _required(value, "this field")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _required(value, "the reason")

    @model_validator(mode="after")
    def _consistent(self) -> SignalMute:
        if self.kind == "snooze" and self.until is None:
            raise ValueError("a snooze needs an until date")
        if (self.lifted_at is None) != (self.lifted_by is None):
            raise ValueError("lifted_at and lifted_by go together")
        return self

    @property
    def ends_at(self) -> datetime | None:
        """The instant the mute ends by itself: midnight UTC after ``until``; None for good."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def lifted(self) -> bool:
        return self.lifted_at is not None


def is_active(mute: SignalMute, now: datetime) -> bool:
    """True while the mute holds at ``now``: not lifted (by then), not past its ``until`` day.
    A naive ``now`` is taken to be UTC."""
    now = ensure_aware(now)
    if mute.lifted_at is not None and mute.lifted_at <= now:
        return False
    ends = mute.ends_at
    return ends is None or now < ends


@dataclass(frozen=True)
class MutedSignal:
    """A signal a review found and a mute set aside, with the mute that did it."""

    signal: RiskSignal
    mute: SignalMute


def active_for(
    mutes: Iterable[SignalMute], account_id: str, now: datetime
) -> dict[str, SignalMute]:
    """Signal key → the active mute of that key on the account (the newest, when several)."""
    found: dict[str, SignalMute] = {}
    for mute in mutes:
        if mute.account_id != account_id or not is_active(mute, now):
            continue
        known = found.get(mute.signal_key)
        if known is None or mute.created_at >= known.created_at:
            found[mute.signal_key] = mute
    return found


def split_muted(
    signals: Sequence[RiskSignal], mutes: Iterable[SignalMute], account_id: str, now: datetime
) -> tuple[list[RiskSignal], list[MutedSignal]]:
    """The account's signals in two: those still standing, and those an active mute covers."""
    by_key = active_for(mutes, account_id, now)
    kept: list[RiskSignal] = []
    muted: list[MutedSignal] = []
    for signal in signals:
        mute = by_key.get(signal.key)
        if mute is None:
            kept.append(signal)
        else:
            muted.append(MutedSignal(signal, mute))
    return kept, muted


def muted_signals(
    facts: AccountFacts, mutes: Sequence[SignalMute], now: datetime
) -> list[MutedSignal]:
    """The signals of ``facts`` that :func:`without_muted` removes, each with its mute."""
    return split_muted(facts.signals, mutes, facts.account_id, now)[1]


def without_muted(facts: AccountFacts, mutes: Sequence[SignalMute], now: datetime) -> AccountFacts:
    """``facts`` without the signals muted at ``now`` (in ``signals`` and in the Scout's
    report alike), so no engine, brief or queue sees them. ``mutes`` may hold every account's
    mutes; only this account's active ones count. Unchanged facts come back as they are."""
    kept, muted = split_muted(facts.signals, mutes, facts.account_id, now)
    if not muted:
        return facts
    gone = {m.signal.key for m in muted}
    report = facts.report.model_copy(
        update={
            "risk_signals": [
                s
                for s in facts.report.risk_signals
                if not (isinstance(s, RiskSignal) and s.key in gone)
            ]
        }
    )
    return facts.model_copy(update={"signals": kept, "report": report})


# -- what a person typed ------------------------------------------------------------------------


def signal_label(key: str) -> str:
    """The signal's title from the catalog (``Gone quiet``); the key itself when unknown."""
    spec = SIGNALS.get(key)
    return spec.title if spec else key


def _plain(text: str) -> str:
    """``gone quiet`` for ``Gone-Quiet``, ``no activity critical`` for the key."""
    return " ".join(_SEPARATORS.split(text.casefold())).strip()


_SEPARATORS = re.compile(r"[\s_\-]+")


def check_signal_key(text: str) -> str:
    """The signal key ``text`` names (exactly, or its catalog title, any case).

    Raises :class:`MuteError` listing the valid keys."""
    wanted = text.strip()
    folded = _plain(wanted)
    for key, spec in SIGNALS.items():
        if folded in (_plain(key), _plain(spec.title)):
            return key
    listing = ", ".join(f"{key} ({spec.title})" for key, spec in SIGNALS.items())
    raise MuteError(
        f"There is no risk signal {wanted!r}. Name one of: {listing}. Nothing was changed."
    )


def parse_until(text: str) -> date:
    """A ``YYYY-MM-DD`` date; :class:`MuteError` otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise MuteError(
            f"{text.strip()!r} is not a date; write it as YYYY-MM-DD (e.g. 2027-01-10). "
            "Nothing was changed."
        ) from None


def until_problem(kind: MuteKind, until: date | None, today: date) -> str | None:
    """Why ``until`` will not do for a ``kind`` mute made ``today`` (None when it will)."""
    if until is None:
        return "A snooze needs an end date (YYYY-MM-DD)." if kind == "snooze" else None
    if until < today:
        return f"{until.isoformat()} is in the past; pick today ({today.isoformat()}) or later."
    if kind == "snooze" and until > today + timedelta(days=MAX_SNOOZE_DAYS):
        return (
            f"{until.isoformat()} is more than {MAX_SNOOZE_DAYS} days away; dismiss the signal "
            "instead to silence it until you unmute it."
        )
    return None


def reason_problem(reason: str) -> str | None:
    """Why ``reason`` will not do (None when it will)."""
    if not reason.strip():
        return "Say why (the reason is recorded and shown to whoever reads this account)."
    return None


def day_of(now: datetime) -> date:
    """The UTC day of ``now``: the day a snooze's ``until`` is compared with."""
    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()


def describe(mute: SignalMute, now: datetime) -> str:
    """``Snoozed until 2027-01-10``, ``Dismissed``, ``Dismissed until …``, ``Lifted …``,
    ``Snooze ended 2027-01-10``: the mute's state in words."""
    if mute.lifted_at is not None and mute.lifted_at <= now:
        verb = "Snooze" if mute.kind == "snooze" else "Dismissal"
        return f"{verb} lifted {day_of(mute.lifted_at).isoformat()}"
    if not is_active(mute, now):
        verb = "Snooze" if mute.kind == "snooze" else "Dismissal"
        return f"{verb} ended {mute.until.isoformat() if mute.until else ''}".rstrip()
    if mute.kind == "snooze":
        return f"Snoozed until {mute.until.isoformat() if mute.until else '?'}"
    return f"Dismissed until {mute.until.isoformat()}" if mute.until else "Dismissed"
