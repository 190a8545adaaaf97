"""The account detail view model: wording, folding, ordering and joins, without a screen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sergas_tui.domain import Account, Activity, Change, Deal, Link, Note, Owner, StageChange
from sergas_tui.domain.approval import Approval, ApprovalStatus
from sergas_tui.domain.changes import RECORD_FIELD
from sergas_tui.domain.outputs import (
    AccountChanges,
    BriefAccount,
    CreateTaskAction,
    OwnerBrief,
    Recommendation,
)
from sergas_tui.domain.pipeline import StageStay
from sergas_tui.domain.touches import account_last_touch
from sergas_tui.viewmodels.account_format import (
    close_date_text,
    days_in_stage_text,
    fold_text,
    money,
    relative_days,
    risk_label,
    value_text,
)
from sergas_tui.viewmodels.account_rows import (
    activity_rows,
    brief_changes,
    brief_entry,
    deal_rows,
    glance_fields,
    note_views,
    overview_fields,
    recommendation_rows,
)
from sergas_tui.viewmodels.account_rows import (
    change_rows as make_change_rows,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(None, "—"), (0.0, "$0"), (185_000.0, "$185,000"), (1234.56, "$1,235")],
)
def test_money(amount: float | None, expected: str) -> None:
    assert money(amount) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (TODAY, "today"),
        (TODAY + timedelta(days=4), "in 4 d"),
        (days_ago(3), "3 d ago"),
    ],
)
def test_relative_days(value: date | datetime | None, expected: str) -> None:
    assert relative_days(value, TODAY) == expected


@pytest.mark.parametrize(
    ("stay", "expected"),
    [
        (None, "time in stage unknown"),
        (
            StageStay("Negotiation/Review", days_ago(45), days_ago(45), days_ago(45)),
            "45 d in stage",
        ),
        (StageStay("Qualification", None, days_ago(60), days_ago(12)), "≥ 12 d in stage"),
        (StageStay("Qualification", None, None, None), "≥ 0 d in stage"),
    ],
)
def test_days_in_stage_text(stay: StageStay | None, expected: str) -> None:
    assert days_in_stage_text(stay, NOW) == expected


@pytest.mark.parametrize(
    ("closing", "open_deal", "expected"),
    [
        (None, True, "no close date"),
        (None, False, "—"),
        (date(2026, 11, 27), True, "2026-11-27 (in 25 d)"),
        (date(2026, 10, 1), True, "2026-10-01 (32 d late)"),
        (date(2026, 10, 1), False, "2026-10-01"),
        (TODAY, True, "2026-11-02 (today)"),
    ],
)
def test_close_date_text(closing: date | None, open_deal: bool, expected: str) -> None:
    assert close_date_text(closing, TODAY, open_deal=open_deal) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "—"),
        ("", "—"),
        ("Influencer", "Influencer"),
        (320000.0, "320,000"),
        (12.5, "12.5"),
        (7, "7"),
        (True, "yes"),
        ({"b": 1, "a": "x"}, '{"a": "x", "b": 1}'),
    ],
)
def test_value_text(value: object, expected: str) -> None:
    assert value_text(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("high", "HIGH RISK"),
        ("none", "NO RISK"),
        ("not reviewed", "NOT REVIEWED"),
        (None, "NOT REVIEWED"),
    ],
)
def test_risk_label(level: str | None, expected: str) -> None:
    assert risk_label(level) == expected


# -- folding ------------------------------------------------------------------------------------


def test_short_text_is_not_folded() -> None:
    folded = fold_text("one\ntwo")
    assert folded.preview == "one\ntwo"
    assert folded.full == "one\ntwo"
    assert not folded.foldable
    assert folded.more_text == ""


def test_many_lines_fold_to_the_first_ones() -> None:
    text = "\n".join(f"line {i}" for i in range(1, 21))
    folded = fold_text(text, lines=6)
    assert folded.preview.splitlines() == [f"line {i}" for i in range(1, 7)]
    assert folded.hidden_lines == 14
    assert folded.more_text == "… (14 more lines)"
    assert folded.full == text


def test_one_hidden_line_is_singular() -> None:
    assert fold_text("a\nb\nc", lines=2).more_text == "… (1 more line)"


def test_a_single_huge_line_folds_by_characters_and_caps_the_expanded_text() -> None:
    text = "x" * 1_048_576
    folded = fold_text(text, chars=600, expanded_chars=20_000)
    assert len(folded.preview) == 600
    assert folded.foldable
    assert folded.hidden_lines == 0
    assert folded.more_text == "… (more)"
    assert folded.full.startswith("x" * 20_000)
    assert folded.full.endswith("(1,028,576 more characters not shown; open it in Zoho)")


@pytest.mark.parametrize("text", [None, "", "   \n  "])
def test_empty_text(text: str | None) -> None:
    folded = fold_text(text)
    assert (folded.preview, folded.full, folded.foldable) == ("", "", False)


def test_folding_keeps_markup_and_escapes_as_data() -> None:
    text = "[bold]x[/bold]\x1b[31m"
    assert fold_text(text).preview == text  # escaping is the widget's job, not lost here


# -- rows ----------------------------------------------------------------------------------------


def deal(deal_id: str, stage: str, amount: float | None, **extra: object) -> Deal:
    return Deal(id=deal_id, name=f"Deal {deal_id}", stage=stage, amount=amount, **extra)


def test_deal_rows_open_biggest_first_then_closed() -> None:
    history = [
        StageChange(stage="Proposal/Price Quote", changed_at=days_ago(60)),
        StageChange(stage="Negotiation/Review", changed_at=days_ago(45)),
    ]
    deals = [
        deal("1", "Closed Won", 50_000.0, closing_date=date(2026, 9, 1)),
        deal("2", "Qualification", 10_000.0, created_time=days_ago(40), modified_time=days_ago(30)),
        deal(
            "3",
            "Negotiation/Review",
            185_000.0,
            stage_history=history,
            closing_date=date(2026, 10, 20),
        ),
    ]
    rows = deal_rows(deals, NOW)
    assert [r.deal_id for r in rows] == ["3", "2", "1"]
    assert rows[0].in_stage == "45 d in stage"
    assert rows[0].late
    assert rows[0].close_date == "2026-10-20 (13 d late)"
    assert rows[1].in_stage == "≥ 30 d in stage"
    assert rows[1].close_date == "no close date"
    assert rows[2].in_stage == ""
    assert not rows[2].is_open


def test_activity_rows_newest_first_undated_last_and_capped() -> None:
    acts = [
        Activity(id="a", kind="call", subject="Old call", when=days_ago(20), status="Done"),
        Activity(id="b", kind="task", subject="Someday"),
        Activity(
            id="c",
            kind="event",
            subject="QBR",
            when=days_ago(2),
            who=Link(id="9", name="Dana Whitfield"),
        ),
    ]
    rows = activity_rows(acts, NOW)
    assert [r.subject for r in rows] == ["QBR", "Old call", "Someday"]
    assert (rows[0].kind, rows[0].relative, rows[0].who, rows[0].status) == (
        "Meeting",
        "2 d ago",
        "Dana Whitfield",
        "—",
    )
    many = [Activity(id=str(i), kind="call", subject=str(i), when=days_ago(i)) for i in range(150)]
    assert len(activity_rows(many, NOW)) == 100


def test_note_views_newest_first_with_author_and_placeholder_title() -> None:
    notes = [
        Note(id="1", title="Old", content="a", created_time=days_ago(9)),
        Note(
            id="2",
            title="  ",
            content="b",
            created_time=days_ago(1),
            owner=Owner(id="u", name="Jordan Avery"),
        ),
        Note(id="3", title="Undated", content="c"),
    ]
    views = note_views(notes)
    assert [v.note_id for v in views] == ["2", "1", "3"]
    assert views[0].title == "(untitled note)"
    assert views[0].meta == "2026-11-01 09:30 · Jordan Avery"
    assert views[2].meta == "—"


def test_change_rows_name_records_and_hide_sensitive_values() -> None:
    deals = [deal("7", "Qualification", 1.0)]
    changes = [
        Change(
            field="Stage", old="Qualification", new="Needs Analysis", module="Deals", record_id="7"
        ),
        Change(
            field="Contact_Role",
            old="Executive Sponsor",
            new="Influencer",
            module="Contacts",
            record_id="c1",
        ),
        Change(field="Tax_ID", old="123", new="456"),
        Change(field=RECORD_FIELD, old=None, new="Priya Raman", module="Contacts", record_id="c2"),
        Change(
            field="Amount",
            old=320000.0,
            new=210000.0,
            module="Deals",
            record_id="8",
            timestamp=days_ago(15),
        ),
    ]
    rows = make_change_rows(changes, deals, {"c1": "Dana Whitfield"})
    assert [(r.record, r.field, r.old, r.new) for r in rows] == [
        ("Deal Deal 7", "Stage", "Qualification", "Needs Analysis"),
        ("Contact Dana Whitfield", "Contact_Role", "Executive Sponsor", "Influencer"),
        ("Account", "Tax_ID", "[REDACTED]", "[REDACTED]"),
        ("Contact c2", "added", "—", "Priya Raman"),
        ("Deal 8", "Amount", "320,000", "210,000"),
    ]
    assert rows[-1].when == "2026-10-18"


def recommendation(rec_id: str, subject: str, priority: str = "high") -> Recommendation:
    return Recommendation(
        id=rec_id,
        account_id="A1",
        type="create_task",
        priority=priority,
        confidence="medium",
        rationale="Because.",
        suggested_action=CreateTaskAction(subject=subject),
        created_at=days_ago(1),
    )


def approval(rec_id: str, status: ApprovalStatus, **extra: object) -> Approval:
    return Approval(
        recommendation_id=rec_id,
        account_id="A1",
        owner_email="me@example.test",
        action_type="create_task",
        payload=CreateTaskAction(subject="x"),
        status=status,
        created_at=days_ago(1),
        **extra,
    )


def test_recommendations_join_their_latest_approval() -> None:
    recs = [recommendation("r1", "Call the sponsor"), recommendation("r2", "Send plan", "low")]
    approvals = [
        approval("r1", ApprovalStatus.PENDING),
        approval(
            "r1",
            ApprovalStatus.REJECTED,
            decided_by="jordan",
            decided_at=NOW,
            decision_rationale="not now",
        ),
    ]
    rows = recommendation_rows(recs, approvals)
    assert [r.recommendation_id for r in rows] == ["r2", "r1"]
    assert rows[0].status == "pending"  # no approval: the recommendation's own status
    assert rows[0].summary == "Task: Send plan"
    assert rows[1].status == "rejected"
    assert "decided by jordan 2026-11-02" in rows[1].detail
    assert "“not now”" in rows[1].detail


def test_pending_approval_shows_its_expiry() -> None:
    rows = recommendation_rows(
        [recommendation("r1", "x")], [approval("r1", ApprovalStatus.PENDING)]
    )
    assert "expires 2026-11-04 09:30" in rows[0].detail


def test_glance_fields() -> None:
    deals = [deal("1", "Qualification", 100.0), deal("2", "Closed Lost", 900.0)]
    acts = [
        Activity(id="a", kind="task", subject="Send redlines", when=NOW + timedelta(days=3)),
        Activity(
            id="b", kind="call", subject="Done", when=NOW + timedelta(days=1), status="Completed"
        ),
        Activity(id="c", kind="call", subject="Past", when=days_ago(1)),
    ]
    recs = recommendation_rows(
        [recommendation("r1", "x")], [approval("r1", ApprovalStatus.PENDING)]
    )
    assert glance_fields(deals, acts, recs, NOW) == [
        ("Open pipeline", "1 open deal · $100"),
        ("Next activity", "2026-11-05 (in 3 d) Task: Send redlines"),
        ("Awaiting you", "1 recommendation pending approval"),
    ]
    assert glance_fields([], [], [], NOW) == [
        ("Open pipeline", "0 open deals"),
        ("Next activity", "none planned"),
        ("Awaiting you", "nothing"),
    ]


def test_brief_lookups() -> None:
    change = Change(field="Stage", old="a", new="b")
    brief = OwnerBrief(
        owner_email="me@example.test",
        generated_at=NOW,
        accounts_reviewed=2,
        high_priority_accounts=0,
        accounts=[BriefAccount(account_id="A1", account_name="One", risk_level="high")],
        changes=[
            AccountChanges(account_id="A1", account_name="One", changes=[change]),
            AccountChanges(account_id="A2", account_name="Two", changes=[change, change]),
        ],
    )
    entry = brief_entry(brief, "A1")
    assert entry is not None
    assert entry.risk_level == "high"
    assert brief_entry(brief, "nope") is None
    assert brief_entry(None, "A1") is None
    assert brief_changes(brief, "A1") == [change]
    assert brief_changes(None, "A1") == []


def test_overview_names_the_last_customer_touch_not_last_activity_time() -> None:
    now = NOW
    account = Account(id="A1", name="Acme", last_activity_time=now - timedelta(days=1))
    ours = Activity(id="T1", kind="task", subject="Call Elena", status="Not Started",
                    when=now + timedelta(days=3), created_time=now - timedelta(days=1),
                    description="Call her.\n\n[sergas:abc]")  # fmt: skip
    call = Activity(id="C1", kind="call", subject="Contract status", status="Interested",
                    when=now - timedelta(days=41, hours=2))  # fmt: skip
    won = Deal(id="D1", name="Renewal", stage="Closed Won", closing_date=date(2026, 9, 1))
    touch = account_last_touch(account, [won], [ours, call], now)
    fields = dict(overview_fields(account, now, touch))
    assert fields["Last customer touch"] == "2026-09-22 (41 d ago) · call 'Contract status'"
    assert dict(overview_fields(account, now))["Last customer touch"] == "none recorded"
