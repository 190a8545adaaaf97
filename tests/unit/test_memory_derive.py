"""Pure memory rules: commitments, key events, relationship strength, scrubbing, FTS queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sergas_tui.domain import (
    Account,
    AccountFacts,
    Change,
    Deal,
    EscalationAction,
    FollowUpEmailAction,
    Recommendation,
    ScoutReport,
    StageChange,
)
from sergas_tui.memory.derive import (
    commitments_in,
    key_events,
    recommendation_summary,
    relationship_strength,
    scrub,
    scrub_ref,
)
from sergas_tui.memory.queries import fts_query

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


COMMITMENTS = [
    ("Budget approved for Q1.", "Budget approved for Q1"),
    ("Great call. The budget has been approved!", "Budget has been approved"),
    ("Q4 renewal intent confirmed in principle.", "Q4 renewal intent confirmed"),
    ("Verbal commitment to sign by month end.", "Verbal commitment to sign by month end"),
    ("They committed to a pilot with 50 users.", "Committed to a pilot with 50 users"),
    ("Agreed to revisit after the planning cycle.", "Agreed to revisit after the planning cycle"),
    ("Legal review to be completed in two weeks.", "Legal review to be completed in two weeks"),
    ("PO issued today", "PO issued"),
    ("[bold]They committed to a pilot[/bold]", "Committed to a pilot[/bold]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, [found]) for text, found in COMMITMENTS]
    + [
        ("They have not committed to anything.", []),
        ("Budget is no longer approved; the freeze continues.", []),
        ("Budget freeze announced; project on hold.", []),
        ("", []),
        ("Budget approved. We agreed to a pilot.", ["Budget approved", "Agreed to a pilot"]),
    ],
)
def test_commitments(text: str, expected: list[str]) -> None:
    assert commitments_in(text) == expected


def test_commitments_on_a_huge_note_are_bounded() -> None:
    text = "committed to " + "x" * 1_000_000
    assert commitments_in(text) == ["Committed to " + "x" * 80]


def _facts(**kwargs: object) -> AccountFacts:
    return AccountFacts.model_validate(
        {
            "account": Account(id="a1", name="Acme"),
            "report": ScoutReport(account_id="a1", account_name="Acme", owner="o"),
            "reviewed_at": NOW,
            **kwargs,
        }
    )


def test_stage_history_gives_the_latest_move_and_closes() -> None:
    history = [
        StageChange(stage="Qualification", changed_at=NOW - timedelta(days=300)),
        StageChange(stage="Closed Won", changed_at=NOW - timedelta(days=200)),
    ]
    open_history = [
        StageChange(stage="Qualification", changed_at=NOW - timedelta(days=40)),
        StageChange(stage="Needs Analysis", changed_at=NOW - timedelta(days=20)),
        StageChange(stage="Proposal", changed_at=NOW - timedelta(days=5)),
    ]
    fresh = [StageChange(stage="Qualification", changed_at=NOW - timedelta(days=2))]
    deals = [
        Deal(id="d1", name="Old", stage_history=history),
        Deal(id="d2", name="Open", stage_history=open_history),
        Deal(id="d3", name="New", stage_history=fresh),
    ]
    events = key_events(_facts(deals=deals))
    assert sorted((e.event, e.impact) for e in events) == [
        ("Stage moved to Closed Won", "Old"),
        ("Stage moved to Proposal", "Open"),
    ]


def test_the_same_stage_move_from_timeline_and_history_is_one_event() -> None:
    when = NOW - timedelta(days=5)
    deal = Deal(
        id="d1",
        name="Deal",
        stage_history=[
            StageChange(stage="Qualification", changed_at=when - timedelta(days=9)),
            StageChange(stage="Proposal", changed_at=when),
        ],
    )
    change = Change(field="Stage", old="Qualification", new="Proposal", timestamp=when,
                    module="Deals", record_id="d1")  # fmt: skip
    events = key_events(_facts(deals=[deal], changes=[change]))
    assert [(e.event, e.impact) for e in events] == [
        ("Stage moved to Proposal", "Deal: Qualification → Proposal")
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            Change(field="Closing_Date", old="2026-12-01", new="2026-11-20"),
            "Close date pulled in from 2026-12-01 to 2026-11-20",
        ),
        (
            Change(field="Amount", old="100,000", new=150000),
            "Amount raised from 100,000 to 150,000",
        ),
        (
            Change(field="Owner", old={"name": "Ann"}, new={"name": "Bob", "id": "2"}),
            "Owner changed from Ann to Bob",
        ),
        (Change(field="Account_Type", new="Customer"), "Account type changed to Customer"),
        (Change(field="Contact_Role", new="Executive Sponsor"), "Executive sponsor changed"),
    ],
)
def test_change_events(change: Change, expected: str) -> None:
    assert [e.event for e in key_events(_facts(changes=[change]))] == [expected]


@pytest.mark.parametrize(
    "change",
    [
        Change(field="Closing_Date", old="soon", new="2026-11-20"),
        Change(field="Amount", old=None, new=5),
        Change(field="Amount", old=5, new=5),
        Change(field="Tax_ID", old="1", new="2"),
        Change(field="Phone", old="1", new="2"),
        Change(field="Contact_Role", old="Champion", new="End User"),
    ],
)
def test_changes_that_are_not_key_events(change: Change) -> None:
    assert key_events(_facts(changes=[change])) == []


def _acts(*spec: tuple[float, str | None]) -> list[tuple[datetime | None, str | None]]:
    return [(NOW - timedelta(days=d), c) for d, c in spec]


@pytest.mark.parametrize(
    ("activities", "contacts", "expected"),
    [
        ([], 0, "unknown"),
        ([], 2, "weak"),
        (_acts((1, "a"), (5, "b"), (9, "c"), (20, "a")), 3, "strong"),
        (_acts((20, "a"), (25, "b"), (30, "c"), (40, "a")), 3, "moderate"),
        (_acts((1, "a"), (5, "b")), 2, "moderate"),
        (_acts((1, "a"), (5, "a"), (8, "a"), (9, "a")), 1, "weak"),
        (_acts((100, "a"), (120, "b"), (130, "c")), 3, "weak"),
        (_acts((-5, "a"), (-6, "b")), 2, "weak"),  # future activities do not count
        ([(None, "a")], 1, "weak"),
    ],
)
def test_relationship_strength(
    activities: list[tuple[datetime | None, str | None]], contacts: int, expected: str
) -> None:
    assert relationship_strength(activities, contacts, NOW) == expected


def test_scrub_drops_sensitive_fields_entirely() -> None:
    data = {
        "Tax_ID": "1",
        "keep": [{"field": "ssn", "old": "x", "new": "y"}, {"field": "Rating", "new": "Hot"}],
        "nested": {"home_address": "z", "ok": 1},
        "refs": ["zoho:Accounts:1"],
    }
    assert scrub(data) == {
        "keep": [{"field": "Rating", "new": "Hot"}],
        "nested": {"ok": 1},
        "refs": ["zoho:Accounts:1"],
    }
    assert data["Tax_ID"] == "1"  # the input is not changed
    assert scrub_ref("zoho:Contacts:1#Personal_Email") == "zoho:Contacts:1"
    assert scrub_ref("zoho:Deals:1#Stage") == "zoho:Deals:1#Stage"


def test_summaries() -> None:
    email = Recommendation(
        type="follow_up_email",
        priority="medium",
        confidence="high",
        rationale="r",
        suggested_action=FollowUpEmailAction(subject="Checking in", draft_body="Hi"),
    )
    escalate = EscalationAction(escalate_to="VP", reason="Churn")
    escalation = email.model_copy(update={"type": "escalation", "suggested_action": escalate})
    assert recommendation_summary(email) == "Follow-up email: Checking in"
    assert recommendation_summary(escalation) == "Escalate to VP: Churn"


@pytest.mark.parametrize(
    ("text", "expected", "loose"),
    [
        ("executive sponsor", '"executive" "sponsor"', '"executive" OR "sponsor"'),
        ('NEAR( "x" * [bold]', '"NEAR" "x" "bold"', '"NEAR" OR "x" OR "bold"'),
        ('" * ( ) ^ -', None, None),
        ("", None, None),
    ],
)
def test_fts_query_quotes_every_word(text: str, expected: str | None, loose: str | None) -> None:
    assert fts_query(text) == expected
    assert fts_query(text, any_term=True) == loose
