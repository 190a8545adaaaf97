"""Snoozing and dismissing signals: the pure rules (domain/mutes.py) and their wording
(viewmodels/mutes.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from sergas_tui.domain import Account, AccountFacts, RiskSignal, ScoutReport, Snapshot
from sergas_tui.domain.mutes import (
    MuteError,
    SignalMute,
    check_signal_key,
    describe,
    is_active,
    muted_signals,
    parse_until,
    split_muted,
    until_problem,
    without_muted,
)
from sergas_tui.domain.names import CrmUser, RecordNames
from sergas_tui.viewmodels.mutes import (
    default_until,
    find_account,
    form_problems,
    match_accounts,
    mute_text,
    request_from_form,
    signals_view,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def mute(**over: Any) -> SignalMute:
    values: dict[str, Any] = {
        "account_id": "A1",
        "signal_key": "no_activity_critical",
        "kind": "snooze",
        "reason": "customer on holiday",
        "until": date(2027, 1, 10),
        "created_by": "ana@example.com",
        "created_at": NOW - timedelta(days=1),
    }
    values.update(over)
    return SignalMute(**values)


def sig(key: str, message: str | None = None) -> RiskSignal:
    return RiskSignal(key=key, message=message or f"{key} seen")


def facts(*signals: RiskSignal, account_id: str = "A1") -> AccountFacts:
    return AccountFacts(
        account=Account(id=account_id, name="Acme"),
        signals=list(signals),
        report=ScoutReport(
            account_id=account_id,
            account_name="Acme",
            owner="ana",
            risk_signals=[*signals, "a plain seed-style signal"],
        ),
        reviewed_at=NOW,
    )


# -- is_active ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "now", "active"),
    [
        ({}, NOW, True),
        # A snooze lasts to the end of its until day (UTC), not a moment longer.
        ({"until": TODAY}, datetime(2026, 11, 2, 23, 59, 59, tzinfo=UTC), True),
        ({"until": TODAY}, datetime(2026, 11, 3, 0, 0, tzinfo=UTC), False),
        ({"until": TODAY - timedelta(days=1)}, NOW, False),
        # A dismissal without a date lasts until lifted.
        ({"kind": "dismiss", "until": None}, NOW + timedelta(days=3650), True),
        ({"kind": "dismiss", "until": TODAY + timedelta(days=3)}, NOW + timedelta(days=4), False),
        # Lifted: over from that moment on.
        ({"lifted_at": NOW - timedelta(hours=1), "lifted_by": "ana"}, NOW, False),
        ({"lifted_at": NOW + timedelta(hours=1), "lifted_by": "ana"}, NOW, True),
    ],
)
def test_is_active(over: dict[str, Any], now: datetime, active: bool) -> None:
    assert is_active(mute(**over), now) is active


@pytest.mark.parametrize(
    "over",
    [
        {"reason": "   "},
        {"reason": ""},
        {"kind": "snooze", "until": None},
        {"created_by": " "},
        {"lifted_at": NOW},  # lifted by nobody
        {"kind": "forever"},
    ],
)
def test_invalid_mutes_are_refused(over: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        mute(**over)


# -- without_muted ------------------------------------------------------------------------------


def test_without_muted_removes_the_muted_keys_from_signals_and_report() -> None:
    quiet = sig("no_activity_critical")
    stalled_a = sig("stalled_in_stage", "Deal A stalled")
    stalled_b = sig("stalled_in_stage", "Deal B stalled")
    pushed = sig("close_date_pushed")
    before = facts(quiet, stalled_a, stalled_b, pushed)
    mutes = [
        mute(),  # the quiet signal, snoozed
        mute(signal_key="stalled_in_stage", kind="dismiss", until=None),  # every stalled deal
        mute(account_id="OTHER", signal_key="close_date_pushed"),  # another account's
        mute(signal_key="close_date_pushed", until=TODAY - timedelta(days=1)),  # ended
    ]
    after = without_muted(before, mutes, NOW)
    assert after.signals == [pushed]
    assert after.report.risk_signals == [pushed, "a plain seed-style signal"]
    assert after.account == before.account
    assert before.signals == [quiet, stalled_a, stalled_b, pushed]  # the input is untouched
    assert [(m.signal, m.mute.signal_key) for m in muted_signals(before, mutes, NOW)] == [
        (quiet, "no_activity_critical"),
        (stalled_a, "stalled_in_stage"),
        (stalled_b, "stalled_in_stage"),
    ]


def test_without_muted_changes_nothing_without_an_active_mute() -> None:
    before = facts(sig("no_activity_critical"))
    assert without_muted(before, [], NOW) is before
    ended = mute(until=TODAY - timedelta(days=1))
    lifted = mute(lifted_at=NOW - timedelta(minutes=1), lifted_by="ana")
    assert without_muted(before, [ended, lifted], NOW) is before
    # The day after the snooze's last day, the signal is back.
    later = datetime(2027, 1, 11, 0, 0, tzinfo=UTC)
    assert without_muted(before, [mute()], later).signals == before.signals
    assert without_muted(before, [mute()], later - timedelta(seconds=1)).signals == []


def test_split_muted_names_the_newest_mute_of_a_key() -> None:
    old = mute(reason="old reason", created_at=NOW - timedelta(days=5))
    new = mute(reason="new reason", created_at=NOW - timedelta(days=1))
    kept, muted = split_muted([sig("no_activity_critical")], [new, old], "A1", NOW)
    assert kept == []
    assert [m.mute.reason for m in muted] == ["new reason"]


# -- what a person types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("no_activity_critical", "no_activity_critical"),
        ("  Stalled_In_Stage ", "stalled_in_stage"),
        ("close-date-pushed", "close_date_pushed"),
        ("Gone-Quiet", "no_activity_critical"),
        ("single threaded", "single_threaded"),
        ("gone quiet", "no_activity_critical"),
    ],
)
def test_signal_keys_are_checked(text: str, key: str) -> None:
    assert check_signal_key(text) == key


def test_an_unknown_signal_lists_the_valid_ones() -> None:
    with pytest.raises(MuteError) as raised:
        check_signal_key("no_activty")
    message = raised.value.message
    assert "'no_activty'" in message
    assert "no_activity_critical (Gone quiet)" in message
    assert "stalled_in_stage" in message


@pytest.mark.parametrize(
    ("kind", "until", "problem"),
    [
        ("snooze", TODAY, None),
        ("snooze", TODAY + timedelta(days=14), None),
        ("snooze", None, "needs an end date"),
        ("snooze", TODAY - timedelta(days=1), "is in the past"),
        ("snooze", TODAY + timedelta(days=400), "more than 366 days"),
        ("dismiss", None, None),
        ("dismiss", TODAY + timedelta(days=400), None),
        ("dismiss", TODAY - timedelta(days=1), "is in the past"),
    ],
)
def test_until_problems(kind: Any, until: date | None, problem: str | None) -> None:
    found = until_problem(kind, until, TODAY)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_parse_until() -> None:
    assert parse_until(" 2027-01-10 ") == date(2027, 1, 10)
    with pytest.raises(MuteError, match="YYYY-MM-DD"):
        parse_until("10/01/2027")


@pytest.mark.parametrize(
    ("kind", "reason", "until", "problems"),
    [
        ("snooze", "on holiday", "2026-11-16", []),
        ("snooze", "", "2026-11-16", ["Say why"]),
        ("snooze", "on holiday", "", ["needs an end date"]),
        ("snooze", "on holiday", "next week", ["'next week' is not a date"]),
        ("snooze", " ", "2026-11-01", ["Say why", "is in the past"]),
        ("dismiss", "not our deal", "", []),
    ],
)
def test_form_problems(kind: Any, reason: str, until: str, problems: list[str]) -> None:
    found = form_problems(kind, reason, until, TODAY)
    assert len(found) == len(problems)
    for text, expected in zip(found, problems, strict=True):
        assert expected in text


def test_request_from_form() -> None:
    request = request_from_form("no_activity_critical", "dismiss", "  not\nours ", "", TODAY)
    assert (request.kind, request.reason, request.until) == ("dismiss", "not ours", None)
    with pytest.raises(MuteError, match="Nothing was changed"):
        request_from_form("no_activity_critical", "snooze", "x", "", TODAY)
    assert default_until(NOW) == date(2026, 11, 16)


# -- wording ------------------------------------------------------------------------------------


def names() -> RecordNames:
    found = RecordNames()
    found.add_users([CrmUser(id="u1", email="ana@example.com", name="Ana Silva")])
    return found


def test_mute_text_names_the_person() -> None:
    assert mute_text(mute(), names(), NOW) == (
        "Snoozed until 2027-01-10 — customer on holiday (by Ana Silva <ana@example.com>)"
    )
    dismissed = mute(kind="dismiss", until=None, created_by="jordan")
    assert mute_text(dismissed, names(), NOW) == "Dismissed — customer on holiday (by jordan)"
    assert describe(mute(until=TODAY - timedelta(days=2)), NOW) == "Snooze ended 2026-10-31"
    lifted = mute(lifted_at=NOW - timedelta(hours=1), lifted_by="ana")
    assert describe(lifted, NOW) == "Snooze lifted 2026-11-02"


def test_signals_view_splits_offers_and_lists_mutes() -> None:
    signals = [
        sig("no_activity_critical", "No customer touch for 61 days"),
        sig("stalled_in_stage", "Deal A stalled"),
        sig("stalled_in_stage", "Deal B stalled"),
    ]
    mutes = [
        mute(),
        # A dismissal of a signal the latest review did not list (it ran after the mute).
        mute(signal_key="close_date_pushed", kind="dismiss", until=None),
        mute(account_id="OTHER"),
    ]
    view = signals_view(signals, mutes, "A1", names(), NOW)
    assert view.active == ["Deal A stalled", "Deal B stalled"]
    assert [(c.key, c.label, c.message) for c in view.choices] == [
        ("stalled_in_stage", "Deal stalled in stage", "Deal A stalled (+1 more)")
    ]
    assert [(r.label, r.message) for r in view.muted] == [
        ("Close date pushed", ""),
        ("Gone quiet", "No customer touch for 61 days"),
    ]
    assert view.muted[1].text.startswith("Snoozed until 2027-01-10 — customer on holiday")


ACCOUNTS = {
    "4471000000001": "Acme Corp",
    "4471000000002": "Acme Logistics",
    "4471000000003": "Société Générale Café",
    "4471000000004": None,
}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("4471000000001", ["4471000000001"]),
        ("acme corp", ["4471000000001"]),
        ("ACME", ["4471000000001", "4471000000002"]),
        ("acme log", ["4471000000002"]),
        ("societe generale cafe", ["4471000000003"]),
        ("nothing like it", []),
        ("   ", []),
        ("…0003", ["4471000000003"]),  # the end of an id, as lists show it
        ("...0004", ["4471000000004"]),
        ("00000004", ["4471000000004"]),
        ("0005", []),
        ("003", []),  # fewer than four digits is not an id's end
    ],
)
def test_match_accounts(text: str, found: list[str]) -> None:
    assert match_accounts(ACCOUNTS, text) == found


class _Store:
    def __init__(self, names: dict[str, str]) -> None:
        self._names = names

    def latest_snapshots(self) -> dict[str, Snapshot]:
        at = datetime(2026, 12, 1, tzinfo=UTC)
        return {
            i: Snapshot(
                account_id=i,
                owner_email="o@x.test",
                taken_at=at,
                content_hash="h",
                data={"Account_Name": name},
            )
            for i, name in self._names.items()
        }


def test_two_accounts_of_one_name_are_listed_with_their_whole_ids() -> None:
    services: Any = SimpleNamespace(
        store=_Store({"4471000010309": "Thistle Farms", "4471000011327": "Thistle Farms"})
    )
    with pytest.raises(MuteError) as raised:
        find_account(services, "Thistle Farms")
    assert "(4471000010309)" in raised.value.message
    assert "(4471000011327)" in raised.value.message
    assert find_account(services, "…1327")[0] == "4471000011327"
