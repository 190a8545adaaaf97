"""Change detection: the minimal snapshot, its diff, and merging changes from several sources."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from pydantic import JsonValue

from sergas_tui.domain import Account, Change, Contact, Deal, Owner, StageChange
from sergas_tui.domain.changes import (
    RECORD_FIELD,
    VOLATILE_FIELDS,
    changes_since,
    diff_snapshots,
    merge_changes,
    redact_change,
    snapshot_of,
    stage_history_changes,
)
from sergas_tui.domain.redaction import REDACTED

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ANA = Owner(id="u1", name="Ana", email="ana@example.test")


def acct(**fields: Any) -> Account:
    return Account(**{"id": "A1", "name": "Acme", "owner": ANA, "rating": "Active", **fields})


def a_deal(did: str = "D1", **fields: Any) -> Deal:
    values = {"id": did, "name": f"Deal {did}", "stage": "Qualification", "amount": 100_000.0,
              "closing_date": date(2026, 12, 1), "next_step": "Call", "owner": ANA}  # fmt: skip
    return Deal(**{**values, **fields})


def person(cid: str = "C1", **fields: Any) -> Contact:
    return Contact(**{"id": cid, "name": f"Person {cid}", "title": "CFO", "role": "Champion",
                      **fields})  # fmt: skip


def snap(
    account: Account | None = None,
    deals: list[Deal] | None = None,
    contacts: list[Contact] | None = None,
) -> dict[str, JsonValue]:
    return snapshot_of(
        account or acct(), [a_deal()] if deals is None else deals, contacts or [person()]
    )


def diff(before: dict[str, JsonValue] | None, after: dict[str, JsonValue]) -> list[Change]:
    return diff_snapshots(before, after, module="Accounts", record_id="A1", at=NOW)


def summary(changes: list[Change]) -> list[tuple[Any, ...]]:
    return [(c.module, c.record_id, c.field, c.old, c.new) for c in changes]


def test_snapshot_is_minimal_deterministic_and_json() -> None:
    deals = [a_deal("D2"), a_deal("D1", modified_time=NOW, probability=10.0)]
    one = snapshot_of(acct(modified_time=NOW, last_activity_time=NOW), deals, [person()])
    other = snapshot_of(acct(), list(reversed(deals)), [person()])
    assert one == other
    assert list(one["Deals"]) == ["D1", "D2"]  # type: ignore[arg-type]
    assert one["Deals"]["D1"] == {  # type: ignore[index, call-overload]
        "Deal_Name": "Deal D1", "Stage": "Qualification", "Amount": 100_000.0,
        "Closing_Date": "2026-12-01", "Next_Step": "Call", "Type": None,
        "Owner": "ana@example.test",
    }  # fmt: skip
    assert one["Contacts"] == {"C1": {"Full_Name": "Person C1", "Title": "CFO", "role": "Champion"}}
    assert not VOLATILE_FIELDS & set(one)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, snap(), []),  # no baseline, no changes
        (snap(), snap(), []),
        (snap(), snap(account=acct(rating="At Risk")),
         [("Accounts", "A1", "Rating", "Active", "At Risk")]),
        (snap(), snap(deals=[a_deal(stage="Needs Analysis")]),
         [("Deals", "D1", "Stage", "Qualification", "Needs Analysis")]),
        (snap(), snap(deals=[a_deal(closing_date=date(2027, 1, 15))]),
         [("Deals", "D1", "Closing_Date", "2026-12-01", "2027-01-15")]),
        (snap(), snap(deals=[a_deal(amount=80_000.0, next_step=None)]),
         [("Deals", "D1", "Amount", 100_000.0, 80_000.0),
          ("Deals", "D1", "Next_Step", "Call", None)]),
        (snap(), snap(deals=[a_deal(), a_deal("D9")]),
         [("Deals", "D9", RECORD_FIELD, None, "Deal D9")]),
        (snap(), snap(deals=[]), [("Deals", "D1", RECORD_FIELD, "Deal D1", None)]),
        (snap(), snap(contacts=[person(role="Executive Sponsor")]),
         [("Contacts", "C1", "role", "Champion", "Executive Sponsor")]),
        # An older snapshot with volatile fields, or an int where we now store a float.
        ({**snap(), "Modified_Time": "2026-01-01T00:00:00Z", "_version": 0}, snap(), []),
        ({**snap(), "Deals": {"D1": {**cast(Any, snap()["Deals"])["D1"], "Amount": 100_000}}},
         snap(), []),
        # A sensitive field never shows its values.
        ({**snap(), "Tax_ID": "123"}, {**snap(), "Tax_ID": "456"},
         [("Accounts", "A1", "Tax_ID", REDACTED, REDACTED)]),
    ],
)  # fmt: skip
def test_diff_snapshots(
    before: dict[str, JsonValue] | None, after: dict[str, JsonValue], expected: list[tuple[Any]]
) -> None:
    changes = diff(before, after)
    assert summary(changes) == expected
    assert all(c.timestamp == NOW for c in changes)


def test_snapshot_is_redacted() -> None:
    data = snapshot_of(acct(), [], [])
    assert "Tax_ID" not in data
    poisoned: dict[str, JsonValue] = {**data, "Deals": {"D1": {"Bank_Account": "DE00 1234"}}}
    assert summary(diff({**data, "Deals": {}}, poisoned)) == [
        ("Deals", "D1", RECORD_FIELD, None, None)
    ]


def ch(field: str, old: JsonValue, new: JsonValue, days_ago: float | None = None) -> Change:
    at = None if days_ago is None else NOW - timedelta(days=days_ago)
    return Change(field=field, old=old, new=new, timestamp=at, module="Deals", record_id="D1")


def test_merge_changes_dedupes_keeps_the_first_source_and_sorts_by_time() -> None:
    timeline = [ch("Amount", 320_000, 210_000, 15), ch("Stage", "Proposal", "Negotiation", 15)]
    history = [ch("Amount", 320_000.0, 210_000.0, 14), ch("Stage", "Qualification", "Proposal", 30)]
    snapshot = [ch("amount", "320000", "210000"), ch("Next_Step", "a", "b")]
    merged = merge_changes(timeline, history, snapshot)
    assert [(c.field, c.timestamp) for c in merged] == [
        ("Stage", NOW - timedelta(days=30)),
        ("Amount", NOW - timedelta(days=15)),
        ("Stage", NOW - timedelta(days=15)),
        ("Next_Step", None),
    ]


def test_stage_history_changes() -> None:
    deal = a_deal(
        stage_history=[
            StageChange(stage="Qualification", changed_at=NOW - timedelta(days=40), amount=1.0,
                        closing_date=date(2026, 12, 1)),
            StageChange(stage="Needs Analysis", changed_at=NOW - timedelta(days=20), amount=1.0,
                        closing_date=date(2027, 1, 1)),
            StageChange(stage="Needs Analysis", changed_at=None, amount=5.0),
        ]
    )  # fmt: skip
    assert summary(stage_history_changes(deal)) == [
        ("Deals", "D1", "Stage", "Qualification", "Needs Analysis"),
        ("Deals", "D1", "Closing_Date", "2026-12-01", "2027-01-01"),
    ]


@pytest.mark.parametrize(
    ("since", "expected"),
    [(None, 3), (NOW - timedelta(days=20), 2), (NOW - timedelta(days=5), 1), (NOW, 1)],
)
def test_changes_since(since: datetime | None, expected: int) -> None:
    changes = [ch("Stage", "a", "b", 30), ch("Stage", "b", "c", 10), ch("Stage", "c", "d")]
    assert len(changes_since(changes, since)) == expected


@pytest.mark.parametrize(
    ("change", "old", "new"),
    [
        (ch("Tax_ID", "111", "222"), REDACTED, REDACTED),
        (ch("tax_id", "111", "222"), REDACTED, REDACTED),
        (ch("Details", {"SSN": "1"}, {"SSN": "2", "x": 1}), {"SSN": REDACTED},
         {"SSN": REDACTED, "x": 1}),
        (ch("Stage", "a", "b"), "a", "b"),
    ],
)  # fmt: skip
def test_redact_change(change: Change, old: JsonValue, new: JsonValue) -> None:
    redacted = redact_change(change)
    assert (redacted.old, redacted.new) == (old, new)
