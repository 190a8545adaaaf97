"""The portfolio view model: joining rows, sorting, filtering and the status line."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sergas_tui.domain.outputs import BriefAccount
from sergas_tui.domain.records import (
    Account,
    Deal,
    Owner,
    Quiet,
    RecordRef,
    RiskSignal,
    Snapshot,
    Touch,
)
from sergas_tui.viewmodels.portfolio import (
    SORT_KEYS,
    PortfolioRow,
    SortKey,
    StoredFacts,
    build_rows,
    empty_text,
    filter_rows,
    money,
    next_sort_key,
    sort_rows,
    status_line,
    top_signal,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def row(name: str, **overrides: Any) -> PortfolioRow:
    values: dict[str, Any] = {
        "account_id": name.lower().replace(" ", "-"),
        "name": name,
        "owner_name": "Jordan Avery",
        "owner_email": "jordan@example.com",
        "industry": "Retail",
        "risk_level": "none",
        "top_signal": None,
        "days_since_activity": 3,
        "open_pipeline": 0.0,
        "changed": False,
        "pending": 0,
    }
    values.update(overrides)
    return PortfolioRow(**values)


ROWS = [
    row("Alpha", risk_level="high", open_pipeline=100.0, days_since_activity=2, pending=1),
    row("Bravo", risk_level=None, open_pipeline=900.0, days_since_activity=None),
    row("Charlie", risk_level="high", open_pipeline=500.0, days_since_activity=40, pending=3),
    row("Delta", risk_level="low", open_pipeline=0.0, days_since_activity=0),
    row("echo", risk_level="critical", open_pipeline=10.0, days_since_activity=9, pending=2),
    row("Foxtrot", risk_level="none", open_pipeline=100.0, days_since_activity=5),
    row("Golf", risk_level="medium", open_pipeline=100.0, days_since_activity=5),
    row("Aardvark", risk_level="high", open_pipeline=100.0, days_since_activity=2, pending=1),
]


@pytest.mark.parametrize(
    ("key", "descending", "expected"),
    [
        (
            "risk",
            True,
            ["echo", "Charlie", "Aardvark", "Alpha", "Golf", "Delta", "Foxtrot", "Bravo"],
        ),
        (
            "risk",
            False,
            ["Bravo", "Foxtrot", "Delta", "Golf", "Charlie", "Aardvark", "Alpha", "echo"],
        ),
        (
            "name",
            False,
            ["Aardvark", "Alpha", "Bravo", "Charlie", "Delta", "echo", "Foxtrot", "Golf"],
        ),
        (
            "activity",
            True,
            ["Bravo", "Charlie", "echo", "Foxtrot", "Golf", "Aardvark", "Alpha", "Delta"],
        ),
        (
            "pipeline",
            True,
            ["Bravo", "Charlie", "Aardvark", "Alpha", "Foxtrot", "Golf", "echo", "Delta"],
        ),
        (
            "pending",
            True,
            ["Charlie", "echo", "Aardvark", "Alpha", "Bravo", "Foxtrot", "Golf", "Delta"],
        ),
    ],
)
def test_sort_rows(key: SortKey, descending: bool, expected: list[str]) -> None:
    assert [r.name for r in sort_rows(ROWS, key, descending)] == expected


def test_sort_keys_cycle() -> None:
    seen = ["risk"]
    for _ in SORT_KEYS:
        seen.append(next_sort_key(seen[-1]))  # type: ignore[arg-type]
    assert seen == ["risk", "name", "activity", "pipeline", "pending", "risk"]


FILTERED = [
    row("Square [bold]Bracket[/bold] Media", industry="Media", top_signal="Gone quiet"),
    row(
        "Harbor Point Logistics",
        owner_name="Casey Lin",
        owner_email="casey@example.com",
        top_signal="Deal stalled in stage",
    ),
    row("Copper Solar", industry="Energy", top_signal=None),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Square [bold]Bracket[/bold] Media", "Harbor Point Logistics", "Copper Solar"]),
        ("   ", ["Square [bold]Bracket[/bold] Media", "Harbor Point Logistics", "Copper Solar"]),
        ("BRACKET", ["Square [bold]Bracket[/bold] Media"]),
        ("[bold]", ["Square [bold]Bracket[/bold] Media"]),
        ("casey", ["Harbor Point Logistics"]),
        ("energy", ["Copper Solar"]),
        ("stalled", ["Harbor Point Logistics"]),
        ("quiet media", ["Square [bold]Bracket[/bold] Media"]),
        ("quiet energy", []),
        ("jordan", ["Square [bold]Bracket[/bold] Media", "Copper Solar"]),
        ("zzz", []),
    ],
)
def test_filter_rows(query: str, expected: list[str]) -> None:
    assert [r.name for r in filter_rows(FILTERED, query)] == expected


def test_filter_uses_the_precomputed_haystacks() -> None:
    rows = [
        row(f"Account {i:04}", industry=("Mining" if i % 7 == 0 else "Retail")) for i in range(5000)
    ]
    assert rows[0].haystack == "account 0000 jordan avery jordan@example.com mining"
    # Changing a field after construction does not change what the filter matches:
    # the haystack was built once, when the row was.
    object.__setattr__(rows[1], "name", "Renamed")
    assert filter_rows(rows, "account 0001") == [rows[1]]
    assert filter_rows(rows, "renamed") == []
    mining = filter_rows(rows, "MINING")
    assert len(mining) == len(range(0, 5000, 7))
    assert filter_rows(rows, "account 4999 retail") == [rows[4999]]


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        ([], None),
        ([RiskSignal(key="no_next_step", message="m")], "No next step"),
        (
            [
                RiskSignal(key="no_next_step", message="a", severity="warning"),
                RiskSignal(key="no_activity_critical", message="b", severity="critical"),
            ],
            "Gone quiet",
        ),
        ([RiskSignal(key="custom", message="Legal hold", severity="high")], "Legal hold"),
    ],
)
def test_top_signal(signals: list[RiskSignal], expected: str | None) -> None:
    assert top_signal(signals) == expected


def test_build_rows_joins_crm_and_store() -> None:
    owner = Owner(id="u1", name="Jordan Avery", email="jordan@example.com")
    accounts = [
        Account(
            id="a1",
            name="Reviewed, then changed",
            owner=owner,
            industry="Retail",
            # Zoho's stamp (any task or edit bumps it) is not what Quiet counts.
            last_activity_time=NOW - timedelta(hours=5),
            modified_time=NOW - timedelta(hours=1),
        ),
        Account(id="a2", name="Reviewed", owner=owner, modified_time=NOW - timedelta(days=3)),
        Account(id="a3", name="", owner=None, last_activity_time=NOW + timedelta(hours=2)),
    ]
    deals = [
        Deal(id="d1", name="x", account_id="a1", amount=1000.0),
        Deal(id="d2", name="y", account_id="a1", amount=None),
        Deal(id="d3", name="z", account_id="a1", amount=250.5),
        Deal(id="d4", name="w", account_id=None, amount=99.0),
    ]
    snap = {"content_hash": "h", "owner_email": "jordan@example.com"}

    def touched(ago: timedelta) -> dict[str, Any]:
        touch = Touch(at=NOW - ago, kind="call", ref=RecordRef(module="Calls", id="c1"),
                      label="call 'Check-in'")  # fmt: skip
        quiet = Quiet(since=touch.at, basis="touch", touch=touch)
        return {"_quiet": quiet.model_dump(mode="json")}

    facts = StoredFacts(
        briefs={
            "a1": BriefAccount(
                account_id="a1",
                account_name="x",
                risk_level="high",
                signals=[RiskSignal(key="close_date_pushed", message="pushed")],
            ),
            "a2": BriefAccount(account_id="a2", account_name="y", risk_level="none"),
        },
        snapshots={
            "a1": Snapshot(
                account_id="a1",
                taken_at=NOW - timedelta(days=1),
                data=touched(timedelta(days=12, hours=3)),
                **snap,
            ),
            "a2": Snapshot(
                account_id="a2",
                taken_at=NOW - timedelta(days=1),
                data=touched(timedelta(hours=2)),
                **snap,
            ),
        },
        pending=Counter({"a1": 3}),
    )
    first, second, third = build_rows(accounts, deals, facts, NOW)
    assert first.risk_level == "high"
    assert first.top_signal == "Close date pushed"
    assert first.open_pipeline == 1250.5
    assert first.pipeline_text == "$1.3k"
    assert first.changed is True
    assert first.changed_text == "Δ"
    assert first.pending == 3
    assert first.pending_text == "3"
    assert first.days_since_activity == 12
    assert first.activity_text == "12 d"
    assert (first.owner_name, first.owner_email) == ("Jordan Avery", "jordan@example.com")
    assert second.changed is False
    assert second.top_signal is None
    assert second.days_since_activity == 0
    assert second.activity_text == "today"
    assert second.pipeline_text == "—"
    assert third.name == "(no name)"
    assert third.risk_level is None
    assert third.changed is None
    assert third.risk_text == "—"
    assert third.risk_class == "risk-unreviewed"
    # Never reviewed: no touch is known, whatever Last_Activity_Time says.
    assert third.days_since_activity is None
    assert third.activity_text == "—"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "$0"), (950.0, "$950"), (12_500.0, "$12.5k"), (1_234_567.0, "$1.2M"), (3e9, "$3.0B")],
)
def test_money(value: float, expected: str) -> None:
    assert money(value) == expected


@pytest.mark.parametrize(
    ("level", "css"),
    [("critical", "risk-critical"), ("high", "risk-high"), (None, "risk-unreviewed")],
)
def test_risk_class(level: str | None, css: str) -> None:
    assert row("x", risk_level=level).risk_class == css


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"total": 120, "shown": 12, "sort_key": "risk", "descending": True, "scope": "all"},
            "120 accounts · 12 shown · sort: risk ↓ · all owners",
        ),
        (
            {"total": 1, "shown": 1, "sort_key": "name", "descending": False, "scope": "mine"},
            "1 account · 1 shown · sort: name ↑ · mine",
        ),
    ],
)
def test_status_line(kwargs: dict[str, Any], expected: str) -> None:
    assert status_line(marked=0, **kwargs) == expected
    assert status_line(marked=2, **kwargs) == expected + " · 2 marked"


@pytest.mark.parametrize(
    ("kwargs", "starts"),
    [
        ({"loaded": False, "total": 0, "query": "", "scope": "mine"}, "Loading"),
        ({"loaded": True, "total": 0, "query": "", "scope": "mine"}, "No accounts here"),
        ({"loaded": True, "total": 5, "query": " acme ", "scope": "all"}, "No account matches"),
    ],
)
def test_empty_text(kwargs: dict[str, Any], starts: str) -> None:
    assert empty_text(**kwargs).startswith(starts)


def test_quiet_without_a_touch_on_record_is_a_lower_bound() -> None:
    account = Account(id="a1", name="Quiet one", last_activity_time=NOW - timedelta(days=1))
    quiet = Quiet(since=NOW - timedelta(days=90, hours=1), basis="records")
    snapshot = Snapshot(
        account_id="a1",
        owner_email="jordan@example.com",
        taken_at=NOW - timedelta(days=2),
        content_hash="h",
        data={"_quiet": quiet.model_dump(mode="json")},
    )
    facts = StoredFacts(briefs={}, snapshots={"a1": snapshot}, pending=Counter())
    (only,) = build_rows([account], [], facts, NOW)
    assert (only.days_since_activity, only.activity_text) == (90, "≥90 d")
