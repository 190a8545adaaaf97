"""The risk-signal catalog: one table per detector, the sentiment scorer, risk ordering."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sergas_tui.config import SignalSettings
from sergas_tui.demo import model
from sergas_tui.domain import (
    Account,
    Activity,
    Change,
    Contact,
    Deal,
    Link,
    Note,
    RecordRef,
    RiskSignal,
    StageChange,
)
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.pipeline import StageSamples
from sergas_tui.domain.signals import (
    RISK_LEVELS,
    SIGNALS,
    detect_all,
    detect_no_activity,
    detect_renewal_sentiment,
    detect_single_threaded,
    detect_sponsor_change,
    risk_level,
    risk_score,
)
from sergas_tui.domain.signals_deals import (
    detect_amount_decreased,
    detect_close_date_overdue,
    detect_close_date_pushed,
    detect_no_next_step,
    detect_stage_regression,
    detect_stalled,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
SETTINGS = SignalSettings()
NEGOTIATION = "Negotiation/Review"
PROPOSAL = "Proposal/Price Quote"


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def day(offset: int) -> date:
    """A calendar date ``offset`` days from today (negative: in the past)."""
    return TODAY + timedelta(days=offset)


def account(**fields: Any) -> Account:
    values: dict[str, Any] = {"id": "A1", "name": "Acme", "created_time": ago(1_000)}
    values["last_activity_time"] = ago(1)
    return Account(**{**values, **fields})


def deal(**fields: Any) -> Deal:
    values: dict[str, Any] = {
        "id": "D1",
        "name": "Big deal",
        "stage": PROPOSAL,
        "amount": 100_000.0,
        "closing_date": day(30),
        "next_step": "Send proposal",
        "type": "New Business",
        "account_id": "A1",
        "created_time": ago(5),
        "modified_time": ago(1),
    }
    return Deal(**{**values, **fields})


def rows(*entries: tuple[str, float] | tuple[str, float, dict[str, Any]]) -> list[StageChange]:
    """Stage history rows from ``(stage, days_ago[, extra fields])``."""
    out = []
    for entry in entries:
        extra = entry[2] if len(entry) == 3 else {}
        out.append(StageChange(stage=entry[0], changed_at=ago(entry[1]), **extra))
    return out


def contact(cid: str, *, role: str | None = None, created: float = 900) -> Contact:
    return Contact(
        id=cid, name=f"Person {cid}", role=role, account_id="A1", created_time=ago(created)
    )


def touch(aid: str, who: str | None, days_ago: float, kind: str = "call") -> Activity:
    link = Link(id=who, module="Contacts") if who else None
    return Activity(id=aid, kind=kind, subject="Call", when=ago(days_ago), who=link)


def note(nid: str, days_ago: float, content: str) -> Note:
    return Note(id=nid, content=content, created_time=ago(days_ago))


def bundle(**fields: Any) -> Bundle:
    fields.setdefault("account", account())
    return Bundle(**fields)


def keys(signals: list[RiskSignal]) -> list[str]:
    return [s.key for s in signals]


# -- no activity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, []),
        (13, []),
        (14, ["no_activity_warning"]),
        (29, ["no_activity_warning"]),
        (30, ["no_activity_critical"]),
        (31, ["no_activity_critical"]),
        (400, ["no_activity_critical"]),
    ],
)
def test_no_activity_thresholds(days: int, expected: list[str]) -> None:
    # Last_Activity_Time says yesterday (account()): it does not count, the call does.
    found = detect_no_activity(bundle(activities=[touch("c1", None, days)]), NOW, SETTINGS)
    assert keys(found) == expected
    for signal in found:
        assert signal.evidence == [RecordRef(module="Calls", id="c1")]
        assert signal.data["days_quiet"] == days
        assert signal.data["last_touch_date"] == ago(days).date().isoformat()
        assert f"No customer touch for {days} days" in signal.message
        assert f"limit {signal.data['limit_days']}" in signal.message


@pytest.mark.parametrize(
    ("account_fields", "activities", "expected"),
    [
        # The latest customer touch wins; Last_Activity_Time never counts.
        ({"last_activity_time": ago(1)}, [touch("c1", None, 3)], []),
        ({"last_activity_time": ago(1)}, [touch("c1", None, 20)], ["no_activity_warning"]),
        # A meeting in the future has not happened; its creation is no touch either.
        (
            {"last_activity_time": None},
            [touch("c1", None, 20),
             Activity(id="e1", kind="event", subject="QBR", when=NOW + timedelta(days=5),
                      created_time=ago(2))],
            ["no_activity_warning"],
        ),
        # No touch on record: since creation (a young account), else at least since the
        # records read reach back (see test_touches).
        ({"last_activity_time": None, "created_time": ago(40)}, [], ["no_activity_critical"]),
        ({"last_activity_time": ago(1), "created_time": ago(100)}, [], ["no_activity_critical"]),
        ({"last_activity_time": None, "created_time": ago(5)}, [], []),
        ({"last_activity_time": None, "created_time": None}, [], ["no_activity_critical"]),
    ],
)  # fmt: skip
def test_no_activity_sources(
    account_fields: dict[str, Any], activities: list[Activity], expected: list[str]
) -> None:
    found = detect_no_activity(
        bundle(account=account(**account_fields), activities=activities), NOW, SETTINGS
    )
    assert keys(found) == expected


def test_no_touch_at_all_cites_the_account_creation() -> None:
    (found,) = detect_no_activity(bundle(account=account(created_time=ago(45))), NOW, SETTINGS)
    assert found.evidence == [RecordRef(module="Accounts", id="A1", field="Created_Time")]
    assert found.data == {
        "days_quiet": 45,
        "basis": "created",
        "account_created_date": ago(45).date().isoformat(),
        "limit_days": 30,
    }
    assert found.message == "No customer touch since the account was created 45 days ago " + (
        "(limit 30)"
    )


# -- stalled in stage --------------------------------------------------------------------


def samples(stage: str, days: float, count: int) -> StageSamples:
    """``count`` other deals that each spent ``days`` in ``stage``."""
    deals = [
        Deal(
            id=f"S{i}",
            name="sample",
            stage="Closed Won",
            stage_history=rows((stage, 100 + days), ("Closed Won", 100)),
        )
        for i in range(count)
    ]
    return StageSamples.from_deals(deals)


NONE = StageSamples.from_deals([])


@pytest.mark.parametrize(
    ("subject", "known", "expected", "severity"),
    [
        # Exact time from stage history against the configured limit (30 days).
        (deal(stage=NEGOTIATION, stage_history=rows(("Qualification", 90), (NEGOTIATION, 30))),
         NONE, False, None),
        (deal(stage=NEGOTIATION, stage_history=rows(("Qualification", 90), (NEGOTIATION, 31))),
         NONE, True, "warning"),
        (deal(stage=NEGOTIATION, stage_history=rows(("Qualification", 90), (NEGOTIATION, 60))),
         NONE, True, "high"),
        # Typical time: 5 stays of 10 days → limit 15; 4 stays are too few (configured 30).
        (deal(stage_history=rows(("Qualification", 90), (PROPOSAL, 16))),
         samples(PROPOSAL, 10, 5), True, "warning"),
        (deal(stage_history=rows(("Qualification", 90), (PROPOSAL, 15))),
         samples(PROPOSAL, 10, 5), False, None),
        (deal(stage_history=rows(("Qualification", 90), (PROPOSAL, 16))),
         samples(PROPOSAL, 10, 4), False, None),
        # Without history: bounded by Modified_Time (certainly stalled) and Created_Time.
        (deal(stage=NEGOTIATION, created_time=ago(100), modified_time=ago(45)),
         NONE, True, "warning"),
        (deal(stage=NEGOTIATION, created_time=ago(20), modified_time=ago(2)), NONE, False, None),
        # Straddling the limit without history: unknown, so no signal.
        (deal(stage=NEGOTIATION, created_time=ago(60), modified_time=ago(10)), NONE, False, None),
        # Closed deals never stall.
        (deal(stage="Closed Won", created_time=ago(400), modified_time=ago(300)),
         NONE, False, None),
    ],
)  # fmt: skip
def test_stalled_in_stage(
    subject: Deal, known: StageSamples, expected: bool, severity: str | None
) -> None:
    found = detect_stalled(bundle(deals=[subject]), NOW, SETTINGS, samples=known)
    assert keys(found) == (["stalled_in_stage"] if expected else [])
    if found:
        assert found[0].severity == severity
        assert found[0].evidence == [RecordRef(module="Deals", id="D1", field="Stage")]
        assert str(subject.stage) in found[0].message


def test_stalled_message_is_precise() -> None:
    exact = deal(stage=NEGOTIATION, stage_history=rows(("Qualification", 90), (NEGOTIATION, 45)))
    (signal,) = detect_stalled(bundle(deals=[exact]), NOW, SETTINGS)
    assert signal.message == (
        "Deal 'Big deal' has been in Negotiation/Review for 45 days (limit 30, configured)"
    )
    bounded = deal(stage=NEGOTIATION, created_time=ago(100), modified_time=ago(45))
    (signal,) = detect_stalled(bundle(deals=[bounded]), NOW, SETTINGS)
    assert "for at least 45 days" in signal.message


def test_typical_time_excludes_the_deal_itself() -> None:
    own = deal(
        id="S0", stage_history=rows((PROPOSAL, 120), ("Needs Analysis", 110), (PROPOSAL, 16))
    )
    known = StageSamples.from_deals([own])
    assert known.typical(PROPOSAL, excluding="S0") == (0.0, 0)
    assert known.typical(PROPOSAL) == (10.0, 1)


# -- close date pushed / overdue ---------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "changes", "expected"),
    [
        ([], [], None),
        # One push visible in stage history (row close date → current close date).
        (rows(("Qualification", 40, {"closing_date": day(10)})), [], "warning"),
        # Two pushes: 10 → 20 in history, 20 → 30 to the current value.
        (rows(("Qualification", 40, {"closing_date": day(10)}),
              (PROPOSAL, 20, {"closing_date": day(20)})), [], "high"),
        # Two pushes from timeline changes alone.
        ([], [("Closing_Date", day(0), day(10)), ("Closing_Date", day(10), day(30))], "high"),
        ([], [("Closing_Date", day(0), day(30))], "warning"),
        # Pulled in (earlier) is not a push.
        (rows(("Qualification", 40, {"closing_date": day(60)})), [], None),
        ([], [("Closing_Date", day(60), day(30))], None),
    ],
)  # fmt: skip
def test_close_date_pushed(
    history: list[StageChange], changes: list[tuple[str, date, date]], expected: str | None
) -> None:
    timeline = [
        Change(field=f, old=o.isoformat(), new=n.isoformat(), module="Deals", record_id="D1",
               timestamp=ago(10))
        for f, o, n in changes
    ]  # fmt: skip
    subject = deal(stage_history=history, closing_date=day(30))
    found = detect_close_date_pushed(bundle(deals=[subject], changes=timeline), NOW, SETTINGS)
    assert [s.severity for s in found] == ([expected] if expected else [])
    for signal in found:
        assert signal.evidence == [RecordRef(module="Deals", id="D1", field="Closing_Date")]


def test_close_date_pushed_ignores_closed_deals() -> None:
    closed = deal(
        stage="Closed Lost", stage_history=rows(("Qualification", 40, {"closing_date": day(-30)}))
    )
    assert detect_close_date_pushed(bundle(deals=[closed]), NOW, SETTINGS) == []


@pytest.mark.parametrize(
    ("closing", "stage", "expected"),
    [
        (day(1), PROPOSAL, None),
        (day(0), PROPOSAL, None),
        (day(-1), PROPOSAL, "warning"),
        (day(-29), PROPOSAL, "warning"),
        (day(-30), PROPOSAL, "high"),
        (day(-30), "Closed Won", None),
        (None, PROPOSAL, None),
    ],
)
def test_close_date_overdue(closing: date | None, stage: str, expected: str | None) -> None:
    found = detect_close_date_overdue(
        bundle(deals=[deal(closing_date=closing, stage=stage)]), NOW, SETTINGS
    )
    assert [s.severity for s in found] == ([expected] if expected else [])


# -- amount decreased --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history_amounts", "changes", "current", "expected"),
    [
        ([100_000], [], 100_000, None),
        ([100_000], [], 150_000, None),  # up is fine
        ([100_000], [], 95_000, "warning"),  # 5% cut
        ([320_000], [], 210_000, "high"),  # 34% cut
        ([], [(100_000, 70_000)], 70_000, "high"),  # from a timeline/snapshot change
        ([], [(70_000, 100_000)], 100_000, None),
        ([100_000, 80_000], [], 120_000, None),  # dipped, then grew past the old amount
        ([100_000, 150_000], [], 120_000, "warning"),  # lower than its peak
        ([100_000], [], None, None),  # amount unknown
    ],
)
def test_amount_decreased(
    history_amounts: list[float],
    changes: list[tuple[float, float]],
    current: float | None,
    expected: str | None,
) -> None:
    history = [
        StageChange(stage=PROPOSAL, changed_at=ago(40 - i), amount=a)
        for i, a in enumerate(history_amounts)
    ]
    timeline = [
        Change(field="Amount", old=o, new=n, module="Deals", record_id="D1") for o, n in changes
    ]
    subject = deal(amount=current, stage_history=history)
    found = detect_amount_decreased(bundle(deals=[subject], changes=timeline), NOW, SETTINGS)
    assert [s.severity for s in found] == ([expected] if expected else [])
    for signal in found:
        assert signal.evidence == [RecordRef(module="Deals", id="D1", field="Amount")]


# -- stage regression --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "changes", "current", "expected"),
    [
        (["Qualification", "Needs Analysis", PROPOSAL], [], PROPOSAL, False),
        (["Qualification", PROPOSAL, "Needs Analysis"], [], "Needs Analysis", True),
        (["Qualification", PROPOSAL, "Needs Analysis", PROPOSAL], [], PROPOSAL, False),  # recovered
        ([], [(NEGOTIATION, PROPOSAL)], PROPOSAL, True),
        ([], [(PROPOSAL, NEGOTIATION)], NEGOTIATION, False),
        (["Closed Lost", "Qualification"], [], "Qualification", False),  # reopened, not regressed
    ],
)
def test_stage_regression(
    history: list[str], changes: list[tuple[str, str]], current: str, expected: bool
) -> None:
    stage_rows = [StageChange(stage=s, changed_at=ago(50 - i)) for i, s in enumerate(history)]
    timeline = [
        Change(field="Stage", old=o, new=n, module="Deals", record_id="D1") for o, n in changes
    ]
    subject = deal(stage=current, stage_history=stage_rows)
    found = detect_stage_regression(bundle(deals=[subject], changes=timeline), NOW, SETTINGS)
    assert keys(found) == (["stage_regression"] if expected else [])


# -- single-threaded ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contacts", "activities", "amount", "expected"),
    [
        (["c1"], [], 640_000, "high"),
        (["c1"], [], 100_000, "warning"),
        ([], [], 100_000, "warning"),
        (["c1"], [], 10_000, None),  # below single_threaded_min_amount
        (["c1", "c2"], [("c1", 5), ("c2", 10)], 100_000, None),  # two engaged
        (["c1", "c2"], [("c1", 5), ("c1", 10)], 100_000, "warning"),  # one engaged, twice
        (["c1", "c2"], [("c1", 5)], 100_000, None),  # one lone touch is no pattern
        (["c1", "c2"], [("c1", 5), ("c1", 10), ("c2", 120)], 100_000, "warning"),  # c2 too old
        (["c1", "c2"], [], 100_000, None),  # nobody engaged: a no-activity matter
    ],
)
def test_single_threaded(
    contacts: list[str], activities: list[tuple[str, float]], amount: float, expected: str | None
) -> None:
    subject = bundle(
        contacts=[contact(c) for c in contacts],
        deals=[deal(amount=amount)],
        activities=[touch(f"t{i}", who, ago_) for i, (who, ago_) in enumerate(activities)],
    )
    found = detect_single_threaded(subject, NOW, SETTINGS)
    assert [s.severity for s in found] == ([expected] if expected else [])
    for signal in found:
        assert RecordRef(module="Deals", id="D1") in signal.evidence


def test_single_threaded_needs_an_open_deal() -> None:
    subject = bundle(contacts=[contact("c1")], deals=[deal(stage="Closed Won")])
    assert detect_single_threaded(subject, NOW, SETTINGS) == []


# -- no next step ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "next_step", "expected"),
    [
        (PROPOSAL, None, True),
        (NEGOTIATION, "   ", True),
        (PROPOSAL, "Send the contract", False),
        ("Qualification", None, False),
        ("Closed Won", None, False),
    ],
)
def test_no_next_step(stage: str, next_step: str | None, expected: bool) -> None:
    found = detect_no_next_step(
        bundle(deals=[deal(stage=stage, next_step=next_step)]), NOW, SETTINGS
    )
    assert keys(found) == (["no_next_step"] if expected else [])


# -- renewal with declining sentiment ----------------------------------------------------

SOURING = [
    note("n1", 150, "Great QBR: they love the new dashboards."),
    note("n2", 90, "Walked through the usage numbers."),
    note("n3", 35, "They are evaluating a competitor as an alternative."),
    note("n4", 4, "The champion has gone quiet. Renewal at risk."),
]
STEADY = [
    note("n1", 150, "They are very happy with the rollout so far."),
    note("n2", 60, "Great feedback from the operations team."),
    note("n3", 4, "Budget approved for Q1."),
]


@pytest.mark.parametrize(
    ("deal_type", "closing", "notes", "expected"),
    [
        ("Renewal", day(60), SOURING, True),
        ("Renewal", day(90), SOURING, True),
        ("Renewal", day(91), SOURING, False),  # outside renewal_window_days
        ("Renewal", day(-5), SOURING, True),  # overdue renewals count too
        ("Renewal", day(60), STEADY, False),
        ("Renewal", day(60), SOURING[:1], False),  # one note: trend unknown
        ("New Business", day(60), SOURING, False),
    ],
)
def test_renewal_declining_sentiment(
    deal_type: str, closing: date, notes: list[Note], expected: bool
) -> None:
    subject = bundle(deals=[deal(type=deal_type, closing_date=closing)], notes=notes)
    found = detect_renewal_sentiment(subject, NOW, SETTINGS)
    assert keys(found) == (["renewal_declining_sentiment"] if expected else [])
    if found:
        assert RecordRef(module="Deals", id="D1", field="Closing_Date") in found[0].evidence
        assert RecordRef(module="Notes", id="n4") in found[0].evidence


# -- executive sponsor change ------------------------------------------------------------


def role_change(old: str, new: str, days_ago: float) -> Change:
    return Change(field="Contact_Role", old=old, new=new, timestamp=ago(days_ago),
                  module="Contacts", record_id="c1")  # fmt: skip


@pytest.mark.parametrize(
    ("contacts", "changes", "notes", "expected"),
    [
        ([contact("c1")], [role_change("Executive Sponsor", "Influencer", 20)], [],
         [RecordRef(module="Contacts", id="c1", field="Contact_Role")]),
        ([contact("c1")], [role_change("Champion", "Executive Sponsor", 44)], [],
         [RecordRef(module="Contacts", id="c1", field="Contact_Role")]),
        ([contact("c1")], [role_change("Executive Sponsor", "Influencer", 60)], [], []),
        ([contact("c1")], [role_change("Champion", "Influencer", 5)], [], []),
        ([contact("c9", role="Executive Sponsor", created=10)], [], [],
         [RecordRef(module="Contacts", id="c9")]),
        ([contact("c9", role="Executive Sponsor", created=400)], [], [], []),
        ([], [], [note("n1", 20, "Executive sponsor change: Dana has stepped back.")],
         [RecordRef(module="Notes", id="n1")]),
        ([], [], [note("n1", 20, "Executive sponsor joined the call and was enthusiastic.")], []),
        ([], [], [note("n1", 90, "Our executive sponsor has left the company.")], []),
    ],
)  # fmt: skip
def test_executive_sponsor_change(
    contacts: list[Contact], changes: list[Change], notes: list[Note], expected: list[RecordRef]
) -> None:
    found = detect_sponsor_change(
        bundle(contacts=contacts, changes=changes, notes=notes), NOW, SETTINGS
    )
    assert [s.evidence for s in found] == ([expected] if expected else [])
    assert all(s.severity == "high" for s in found)


def test_new_sponsor_on_a_new_account_is_no_change() -> None:
    subject = bundle(
        account=account(created_time=ago(10)),
        contacts=[contact("c9", role="Executive Sponsor", created=10)],
    )
    assert detect_sponsor_change(subject, NOW, SETTINGS) == []


# -- the catalog and risk ordering -------------------------------------------------------


def test_demo_signal_keys_are_in_the_catalog() -> None:
    demo_keys = {v for k, v in vars(model).items() if k.startswith("SIGNAL_")}
    assert demo_keys <= set(SIGNALS)
    assert {"no_activity_warning", "stage_regression", "no_next_step"} <= set(SIGNALS)


def test_detect_all_sorts_most_severe_first_and_uses_catalog_keys() -> None:
    subject = bundle(
        account=account(last_activity_time=ago(40)),
        contacts=[contact("c1")],
        deals=[deal(next_step=None, closing_date=day(-3))],
    )
    found = detect_all(subject, NOW, SETTINGS)
    assert keys(found) == [
        "no_activity_critical",
        "close_date_overdue",
        "single_threaded",
        "no_next_step",
    ]
    assert {s.key for s in found} <= set(SIGNALS)


def signal(severity: str) -> RiskSignal:
    return RiskSignal(key="x", severity=severity, message="x")


@pytest.mark.parametrize(
    ("severities", "level", "score"),
    [
        ([], "none", 0),
        (["info"], "low", 1),
        (["info", "info", "info"], "low", 3),
        (["warning"], "medium", 3),
        (["warning", "info"], "medium", 4),
        (["warning", "warning", "warning"], "high", 9),
        (["high"], "high", 8),
        (["high", "warning"], "high", 11),
        (["high", "high", "high"], "critical", 24),
        (["critical"], "critical", 20),
        (["critical"] * 4, "critical", 80),
    ],
)
def test_risk_level_and_score(severities: list[str], level: str, score: int) -> None:
    signals = [signal(s) for s in severities]
    assert risk_level(signals) == level
    assert risk_score(signals) == score


def test_risk_levels_order_accounts() -> None:
    accounts = {
        "quiet": [signal("critical")],
        "fine": [],
        "meh": [signal("info")],
        "shaky": [signal("warning")],
        "bad": [signal("high"), signal("warning")],
    }
    ranked = sorted(
        accounts,
        key=lambda k: (RISK_LEVELS.index(risk_level(accounts[k])), risk_score(accounts[k])),
    )
    assert ranked == ["fine", "meh", "shaky", "bad", "quiet"]
