"""Snoozed and dismissed signals as people read and make them: the account screen, its dialog
and ``sergas signals``.

Pure wording and form checks first (:func:`signals_view`, :func:`form_problems`,
:func:`match_accounts`), then the blocking calls into the workspace database (call them from a
thread or a command): :func:`save_mute`, :func:`unmute`, :func:`account_mutes`. Accounts and
people are named through :class:`~sergas_tui.domain.names.RecordNames`, never shown as raw ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sergas_tui.domain.mutes import (
    DEFAULT_SNOOZE_DAYS,
    MuteError,
    MuteKind,
    SignalMute,
    active_for,
    day_of,
    describe,
    parse_until,
    reason_problem,
    signal_label,
    split_muted,
    until_problem,
)
from sergas_tui.domain.names import RecordNames, short_id
from sergas_tui.domain.records import RiskSignal
from sergas_tui.services import Services
from sergas_tui.storage.mutes import add_mute, get_mute, lift_mute, list_mutes, mute_ids_with_prefix

MIN_PREFIX = 4
"""The shortest mute id prefix :func:`find_mute` resolves."""

SHORT_ID = 8
"""How many characters of a mute id lists show (enough to type back)."""


@dataclass(frozen=True)
class SignalChoice:
    """One of the account's current signals the snooze dialog offers."""

    key: str
    label: str
    """The catalog title: ``Gone quiet``."""
    message: str
    """What the review said (the first signal of that key; ``(+2 more)`` when several)."""


@dataclass(frozen=True)
class MutedRow:
    """An active snooze or dismissal on the account screen."""

    mute_id: str
    key: str
    label: str
    text: str
    """``Snoozed until 2027-01-10 — customer on holiday (by Ana Silva <ana@…>)``."""
    message: str = ""
    """What the review said about the signal, when the latest review found it."""


@dataclass(frozen=True)
class SignalsView:
    """The account's risk signals split by its active mutes."""

    active: list[str]
    """Messages of the signals still standing."""
    choices: list[SignalChoice]
    muted: list[MutedRow]


@dataclass(frozen=True)
class MuteRequest:
    """What the snooze dialog (or a command) asks for, checked."""

    signal_key: str
    kind: MuteKind
    reason: str
    until: date | None


# -- wording ------------------------------------------------------------------------------------


def mute_text(mute: SignalMute, names: RecordNames, now: datetime) -> str:
    """``Snoozed until 2027-01-10 — customer on holiday (by Ana Silva <ana@…>)``."""
    reason = " ".join(mute.reason.split())
    return f"{describe(mute, now)} — {reason} (by {names.user(mute.created_by)})"


def signals_view(
    signals: Sequence[RiskSignal],
    mutes: Iterable[SignalMute],
    account_id: str,
    names: RecordNames,
    now: datetime,
) -> SignalsView:
    """Which of the review's ``signals`` still stand, which the dialog offers, and every
    active mute of the account (also of signals the review did not list: a review that ran
    after the mute leaves muted signals out)."""
    mine = [m for m in mutes if m.account_id == account_id]
    kept, muted = split_muted(signals, mine, account_id, now)
    said = {m.signal.key: m.signal.message for m in reversed(muted)}
    by_key: dict[str, list[RiskSignal]] = {}
    for signal in kept:
        by_key.setdefault(signal.key, []).append(signal)
    choices = [
        SignalChoice(
            key=key,
            label=signal_label(key),
            message=group[0].message + (f" (+{len(group) - 1} more)" if len(group) > 1 else ""),
        )
        for key, group in by_key.items()
    ]
    muted_rows = [
        MutedRow(
            mute_id=mute.id,
            key=key,
            label=signal_label(key),
            text=mute_text(mute, names, now),
            message=said.get(key, ""),
        )
        for key, mute in active_for(mine, account_id, now).items()
    ]
    muted_rows.sort(key=lambda r: r.label.casefold())
    return SignalsView(active=[s.message for s in kept], choices=choices, muted=muted_rows)


def default_until(now: datetime) -> date:
    """What the dialog proposes: :data:`DEFAULT_SNOOZE_DAYS` from today (UTC)."""
    return day_of(now) + timedelta(days=DEFAULT_SNOOZE_DAYS)


# -- the dialog's form --------------------------------------------------------------------------


def form_problems(kind: MuteKind, reason: str, until_text: str, today: date) -> list[str]:
    """What is wrong with the dialog's fields, one sentence each (none: it can be saved).

    A dismissal's date may be left empty (for good); a snooze's may not."""
    problems: list[str] = []
    if (problem := reason_problem(reason)) is not None:
        problems.append(problem)
    until: date | None = None
    if until_text.strip():
        try:
            until = parse_until(until_text)
        except MuteError:
            problems.append(
                f"{until_text.strip()!r} is not a date; write it as YYYY-MM-DD "
                f"(e.g. {(today + timedelta(days=DEFAULT_SNOOZE_DAYS)).isoformat()})."
            )
            return problems
    if (problem := until_problem(kind, until, today)) is not None:
        problems.append(problem)
    return problems


def request_from_form(
    signal_key: str, kind: MuteKind, reason: str, until_text: str, today: date
) -> MuteRequest:
    """The checked request; :class:`MuteError` naming every problem otherwise."""
    problems = form_problems(kind, reason, until_text, today)
    if problems:
        raise MuteError(" ".join(problems) + " Nothing was changed.")
    until = parse_until(until_text) if until_text.strip() else None
    return MuteRequest(signal_key, kind, " ".join(reason.split()), until)


# -- accounts by name ---------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    """Lower-case words without accents: ``José Núñez`` → ``["jose", "nunez"]``."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return _WORD.findall(plain.casefold())


def match_accounts(accounts: Mapping[str, str | None], text: str) -> list[str]:
    """Ids of the accounts ``text`` names: its id; else the accounts whose name is ``text``
    (any case, accents ignored); else those whose name holds every word of it."""
    wanted = text.strip()
    if not wanted:
        return []
    if wanted in accounts:
        return [wanted]
    digits = wanted.lstrip("…").lstrip(".")
    if digits.isdigit() and len(digits) >= 4:  # the end of an id, as lists show it (…0309)
        ending = sorted(i for i in accounts if i.endswith(digits))
        if ending:
            return ending
    words = _words(wanted)
    if not words:
        return []
    exact = [i for i, name in accounts.items() if name and _words(name) == words]
    if exact:
        return sorted(exact)
    return sorted(
        i
        for i, name in accounts.items()
        if name and all(any(w.startswith(x) for w in _words(name)) for x in words)
    )


def find_account(services: Services, text: str) -> tuple[str, str, str | None]:
    """(id, name, owner e-mail) of the one account ``text`` names in this workspace.

    Raises :class:`MuteError` when none or several match (listing a few, by name)."""
    snapshots = services.store.latest_snapshots()
    accounts: dict[str, str | None] = {}
    for account_id, snapshot in snapshots.items():
        name = snapshot.data.get("Account_Name")
        accounts[account_id] = name if isinstance(name, str) and name.strip() else None
    found = match_accounts(accounts, text)
    if not found:
        raise MuteError(
            f"No account in this workspace is named or numbered {text.strip()!r}. Accounts "
            "are known here once a review has seen them (`sergas review`); check the name "
            "in the app. Nothing was changed."
        )
    if len(found) > 1:
        names = [accounts[i] for i in found]
        # Two accounts of one name are told apart by their whole id (the short one may clash).
        shown = ", ".join(
            f"{accounts[i] or 'Account'} ({i if names.count(accounts[i]) > 1 else short_id(i)})"
            for i in found[:5]
        ) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise MuteError(
            f"{len(found)} accounts match {text.strip()!r}: {shown}. Give more of the name, "
            "or the account's id (the end of it is enough: …1234). Nothing was changed."
        )
    account_id = found[0]
    return (
        account_id,
        accounts[account_id] or f"Account {short_id(account_id)}",
        (snapshots[account_id].owner_email or None),
    )


# -- storing ------------------------------------------------------------------------------------


def save_mute(
    services: Services,
    account_id: str,
    request: MuteRequest,
    *,
    actor: str,
    owner_email: str | None = None,
) -> SignalMute:
    """Snooze or dismiss, audited (blocking). The date is checked again against the clock;
    the owner defaults to the account's owner in its latest snapshot."""
    now = services.clock.now()
    who = actor.strip()
    if not who:
        raise MuteError("A snooze or dismissal needs the name of the person making it.")
    problem = until_problem(request.kind, request.until, day_of(now)) or reason_problem(
        request.reason
    )
    if problem is not None:
        raise MuteError(f"{problem} Nothing was changed.")
    if owner_email is None:
        snapshot = services.store.latest_snapshot(account_id)
        owner_email = snapshot.owner_email if snapshot is not None else None
    mute = SignalMute(
        account_id=account_id,
        signal_key=request.signal_key,
        kind=request.kind,
        reason=request.reason,
        until=request.until,
        created_by=who,
        created_at=now,
        owner_email=owner_email,
    )
    return add_mute(services.store, mute)


def unmute(services: Services, mute_id: str, *, actor: str) -> SignalMute:
    """Lift a mute, audited (blocking)."""
    return lift_mute(services.store, mute_id, actor=actor, now=services.clock.now())


def account_mutes(services: Services, account_id: str) -> list[SignalMute]:
    """The account's active mutes (blocking)."""
    return list_mutes(services.store, now=services.clock.now(), account_id=account_id)


def find_mute(services: Services, ident: str) -> SignalMute:
    """The mute with this id, or this unique id prefix (:data:`MIN_PREFIX`+ characters)."""
    text = ident.strip()
    found = get_mute(services.store, text) if text else None
    if found is not None:
        return found
    if len(text) >= MIN_PREFIX:
        ids = mute_ids_with_prefix(services.store, text)
        if len(ids) > 1:
            raise MuteError(f"More than one mute starts with {text!r}; give more of the id.")
        if ids and (again := get_mute(services.store, ids[0])) is not None:
            return again
    raise MuteError(f"There is no mute {ident!r}. `sergas signals list` shows them with their ids.")
