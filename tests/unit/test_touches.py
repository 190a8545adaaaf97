"""What "quiet" means: which records are customer touches (one table), and the quiet signal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sergas_tui.config import SignalSettings
from sergas_tui.domain import Account, Activity, Change, Deal, Link, Note, RecordRef, StageChange
from sergas_tui.domain.bundle import Bundle
from sergas_tui.domain.changes import snapshot_of, snapshot_quiet
from sergas_tui.domain.signals import detect_no_activity
from sergas_tui.domain.touches import (
    ACTIVITY_HISTORY_DAYS,
    activity_touch,
    last_touch,
    quiet_days,
    quiet_of,
    written_by_sergas,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SETTINGS = SignalSettings()
OURS = "Call Elena Vasquez.\n\n[sergas:5b0c6a52-2f0e-4d1c-9a0e-3c5d00000001]"
BASELINE = "c-old"
"""A completed call 40 days ago: without a later touch the account is quiet (critical)."""


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def day(days_ago: int) -> date:
    return (NOW - timedelta(days=days_ago)).date()


def call(cid: str, days_ago: float, **fields: Any) -> Activity:
    return Activity(id=cid, kind="call", subject="Check-in", when=ago(days_ago), **fields)


def task(tid: str, **fields: Any) -> Activity:
    return Activity(id=tid, kind="task", subject="Follow up", **fields)


def deal(**fields: Any) -> Deal:
    values: dict[str, Any] = {"id": "D1", "name": "Renewal 2027", "account_id": "A1"}
    return Deal(**{**values, **fields})


def rows(*entries: tuple[str, float]) -> list[StageChange]:
    return [StageChange(stage=stage, changed_at=ago(days)) for stage, days in entries]


def bundle(*, activities: Sequence[Activity] = (), **fields: Any) -> Bundle:
    account = Account(
        id="A1",
        name="Acme",
        created_time=ago(1_000),
        # Zoho bumps this for every task, ours and open ones too: it never counts.
        last_activity_time=ago(1),
        modified_time=ago(1),
    )
    return Bundle(account=account, activities=[call(BASELINE, 40), *activities], **fields)


# (case, extra records, the touch expected instead of the 40-day-old call: (kind, ref, days))
TABLE: list[tuple[str, dict[str, Any], tuple[str, str, int] | None]] = [
    ("our own open task is not a touch",
     {"activities": [task("t1", when=ago(-3), created_time=ago(2), status="Not Started",
                          description=OURS)]},
     None),
    ("our own task is not a touch even when completed",
     {"activities": [task("t1", status="Completed", closed_time=ago(2), description=OURS)]},
     None),
    ("an open task whose due date passed is not a touch",
     {"activities": [task("t1", when=ago(5), created_time=ago(9), status="In Progress")]},
     None),
    ("an open future task is not a touch",
     {"activities": [task("t1", when=ago(-4), created_time=ago(1), status="Not Started")]},
     None),
    ("a task a person completed is a touch",
     {"activities": [task("t1", when=ago(6), status="Completed", closed_time=ago(3))]},
     ("task", "zoho:Tasks:t1", 3)),
    ("a completed call is a touch",
     {"activities": [call("c1", 3, status="Interested")]},
     ("call", "zoho:Calls:c1", 3)),
    ("an unanswered call is not a touch",
     {"activities": [call("c1", 3, status="No response/Busy")]},
     None),
    ("a scheduled call is not a touch",
     {"activities": [call("c1", -2, status="Scheduled", created_time=ago(1))]},
     None),
    ("a meeting held is a touch",
     {"activities": [Activity(id="e1", kind="event", subject="QBR", when=ago(4))]},
     ("meeting", "zoho:Events:e1", 4)),
    ("a future meeting is not a touch (nor is scheduling it)",
     {"activities": [Activity(id="e1", kind="event", subject="QBR", when=ago(-5),
                              created_time=ago(1))]},
     None),
    ("a deal won (closing date) is a touch",
     {"deals": [deal(stage="Closed Won", closing_date=day(12), modified_time=ago(12))]},
     ("deal_won", "zoho:Deals:D1#Closing_Date", 12)),
    ("a deal won (stage history) is a touch when it entered Closed Won",
     {"deals": [deal(stage="Closed Won", closing_date=day(20),
                     stage_history=rows(("Negotiation/Review", 60), ("Closed Won", 9)))]},
     ("deal_won", "zoho:Deals:D1#Stage", 9)),
    ("a deal lost is a touch",
     {"deals": [deal(stage="Closed Lost", closing_date=day(5))]},
     ("deal_lost", "zoho:Deals:D1#Closing_Date", 5)),
    ("a stage move (stage history) is a touch",
     {"deals": [deal(stage="Proposal/Price Quote",
                     stage_history=rows(("Qualification", 80), ("Proposal/Price Quote", 6)))]},
     ("stage_move", "zoho:Deals:D1#Stage", 6)),
    ("a stage move (timeline change) is a touch",
     {"deals": [deal(stage="Proposal/Price Quote", modified_time=ago(2))],
      "changes": [Change(field="Stage", old="Qualification", new="Proposal/Price Quote",
                         timestamp=ago(2), module="Deals", record_id="D1")]},
     ("stage_move", "zoho:Deals:D1#Stage", 2)),
    ("creating a deal is not a touch",
     {"deals": [deal(stage="Qualification", created_time=ago(2), modified_time=ago(2),
                     stage_history=rows(("Qualification", 2)))]},
     None),
    ("editing a deal (Modified_Time) is not a touch",
     {"deals": [deal(stage="Proposal/Price Quote", created_time=ago(90), modified_time=ago(1),
                     next_step="Send redlines")]},
     None),
    ("a deal won with a future closing date and no known stage change is not dated",
     {"deals": [deal(stage="Closed Won", closing_date=day(-10))]},
     None),
    ("a note is not a touch",
     {"notes": [Note(id="n1", content="Spoke to Elena", created_time=ago(1))]},
     None),
    ("Last_Activity_Time alone is not a touch", {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "extra", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_quiet_counts_customer_touches_only(
    case: str, extra: dict[str, Any], expected: tuple[str, str, int] | None
) -> None:
    subject = bundle(**extra)
    touch = last_touch(subject, NOW)
    found = detect_no_activity(subject, NOW, SETTINGS)
    assert touch is not None
    if expected is None:
        assert str(touch.ref) == f"zoho:Calls:{BASELINE}", case
        assert [s.key for s in found] == ["no_activity_critical"], case
        assert found[0].evidence == [touch.ref]
        assert found[0].data["days_quiet"] == 40
        return
    kind, ref, days = expected
    assert (touch.kind, str(touch.ref), quiet_days(touch, NOW)) == (kind, ref, days), case
    assert found == [], case


def test_the_latest_touch_wins_and_names_itself() -> None:
    subject = bundle(
        activities=[call("c1", 20, status="Interested")],
        deals=[deal(stage="Closed Won", closing_date=day(25))],
    )
    touch = last_touch(subject, NOW)
    assert touch is not None
    assert touch.label == "call 'Check-in'"
    (signal,) = detect_no_activity(subject, NOW, SETTINGS)
    assert signal.key == "no_activity_warning"
    assert signal.data == {
        "days_quiet": 20,
        "basis": "touch",
        "last_touch": "call 'Check-in'",
        "last_touch_date": ago(20).date().isoformat(),
        "last_touch_kind": "call",
        "limit_days": 14,
    }
    assert signal.message == (
        f"No customer touch for 20 days (last: call 'Check-in' on {ago(20).date()}; limit 14)"
    )


@pytest.mark.parametrize(
    ("created", "latest", "basis", "days", "message"),
    [
        # Its whole life is on record and holds no touch: quiet since it was created.
        (60, 1, "created", 60,
         "No customer touch since the account was created 60 days ago (limit 30)"),
        (10, None, "created", 10, None),
        # Older: the records read reach back ACTIVITY_HISTORY_DAYS, so at least that long...
        (1_000, 1, "records", ACTIVITY_HISTORY_DAYS,
         f"No customer touch for at least 90 days (none on record since {day(90)}; limit 30)"),
        (None, None, "records", ACTIVITY_HISTORY_DAYS, None),
        # ...or since Last_Activity_Time when nothing at all happened for longer.
        (1_000, 200, "records", 200,
         f"No customer touch for at least 200 days (none on record since {day(200)}; "
         "limit 30)"),
    ],
)  # fmt: skip
def test_no_touch_on_record(
    created: int | None, latest: int | None, basis: str, days: int, message: str | None
) -> None:
    account = Account(
        id="A1",
        name="Acme",
        created_time=None if created is None else ago(created),
        last_activity_time=None if latest is None else ago(latest),
    )
    empty = Bundle(account=account)
    assert last_touch(empty, NOW) is None
    quiet = quiet_of(empty, NOW)
    assert (quiet.basis, quiet_days(quiet, NOW), quiet.at_least) == (
        basis, days, basis == "records"
    )  # fmt: skip
    found = detect_no_activity(empty, NOW, SETTINGS)
    if days < SETTINGS.no_activity_warning_days:
        assert found == []
        return
    (signal,) = found
    assert signal.data["days_quiet"] == days
    assert signal.data["basis"] == basis
    if message is not None:
        assert signal.message == message
    expected = "Created_Time" if basis == "created" else None
    assert signal.evidence == [RecordRef(module="Accounts", id="A1", field=expected)]


@pytest.mark.parametrize(
    ("text", "ours"),
    [(OURS, True), ("[sergas:x]", True), ("Call back Elena", False), (None, False)],
)
def test_written_by_sergas(text: str | None, ours: bool) -> None:
    assert written_by_sergas(text) is ours
    assert (activity_touch(task("t", status="Completed", closed_time=ago(1),
                                description=text), NOW) is None) is ours  # fmt: skip


def test_the_snapshot_keeps_the_silence_for_the_portfolio() -> None:
    subject = bundle(activities=[Activity(id="e1", kind="event", subject="QBR", when=ago(4))])
    quiet = quiet_of(subject, NOW)
    assert quiet.touch is not None
    assert quiet.touch.ref == RecordRef(module="Events", id="e1")
    account = subject.account.model_copy(update={"quiet": quiet})
    data = snapshot_of(account, [], [])
    assert snapshot_quiet(data) == quiet
    # Never compared: without it the snapshot is the same.
    assert {k: v for k, v in data.items() if k != "_quiet"} == snapshot_of(subject.account, [], [])
    assert snapshot_quiet(snapshot_of(subject.account, [], [])) is None
    assert snapshot_quiet({"_quiet": {"since": "nonsense"}}) is None


def test_a_who_link_changes_nothing() -> None:
    linked = call("c1", 2, status="Interested", who=Link(id="P1", module="Contacts"))
    touch = activity_touch(linked, NOW)
    assert touch is not None
    assert touch.ref == RecordRef(module="Calls", id="c1")
