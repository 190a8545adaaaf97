"""Simulator limits as Zoho documents them: credits by edition, the rolling ledger, the header
threshold, concurrency by edition, heavy calls, per-call costs (zoho-crm.md section 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sergas_tui.crm.simulator import SimulatorConfig
from sergas_tui.crm.simulator.limits import (
    EDITION_NAMES,
    SUB_CONCURRENCY,
    Allowance,
    ConcurrencyGate,
    CreditLedger,
    Edition,
    RateWindow,
    coql_cost,
    credit_allowance,
    edition_limits,
    is_heavy_call,
    write_cost,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


# --- the 24-hour allowance by edition ------------------------------------------------------------


@pytest.mark.parametrize(
    ("edition", "licences", "add_ons", "expected"),
    [
        ("free", 0, 0, 5_000),
        ("free", 50, 0, 5_000),  # Free is flat: licences do not count
        ("free", 3, 10_000, 5_000),  # and the edition maximum caps add-ons too
        ("standard", 10, 0, 52_500),  # Zoho's own example: 50,000 + 10 x 250
        ("standard", 200, 0, 100_000),  # 100,000 maximum
        ("professional", 10, 0, 55_000),
        ("professional", 10_000, 0, 3_000_000),
        ("enterprise", 4, 0, 54_000),
        ("enterprise", 100, 0, 150_000),
        ("enterprise", 4, 10_000, 64_000),  # add-on credits add up
        ("enterprise", 5_000, 0, 5_000_000),
        ("enterprise", 4_990, 20_000, 5_000_000),  # the maximum includes add-ons
        ("ultimate", 10, 0, 70_000),
        ("ultimate", 10_000, 5_000, 20_055_000),  # no maximum
    ],
)
def test_credit_allowance_follows_the_edition_formula(
    edition: str, licences: int, add_ons: int, expected: int
) -> None:
    assert credit_allowance(edition, licences, add_ons) == expected


@pytest.mark.parametrize(
    ("edition", "concurrency"),
    [("free", 5), ("standard", 10), ("professional", 15), ("enterprise", 20), ("ultimate", 25)],
)
def test_concurrency_by_edition(edition: Edition, concurrency: int) -> None:
    assert edition_limits(edition).concurrency == concurrency
    assert SimulatorConfig(edition=edition).concurrency() == concurrency
    assert SimulatorConfig(edition=edition, max_concurrency=3).concurrency() == 3


def test_every_edition_has_limits_and_an_unknown_one_is_refused() -> None:
    assert EDITION_NAMES == ("free", "standard", "professional", "enterprise", "ultimate")
    for name in EDITION_NAMES:
        assert edition_limits(name).concurrency > 0
    with pytest.raises(ValueError, match=r"unknown Zoho CRM edition 'gold'.*enterprise"):
        edition_limits("gold")
    with pytest.raises(ValueError, match="gold"):
        SimulatorConfig(edition="gold")  # type: ignore[arg-type]


def test_config_defaults_are_an_enterprise_org_without_a_per_minute_limit() -> None:
    config = SimulatorConfig()
    assert config.edition == "enterprise"
    assert config.concurrency() == 20
    assert config.sub_concurrency == SUB_CONCURRENCY == 10
    assert config.per_minute is None
    assert config.daily_credits is None
    # Licences default to the org's active users.
    assert config.allowance(users=4) == Allowance(54_000, 54_000)
    assert config.allowance(users=30) == Allowance(80_000, 80_000)


def test_config_allowance_overrides() -> None:
    assert SimulatorConfig(licences=10).allowance(users=4) == Allowance(60_000, 60_000)
    add_ons = SimulatorConfig(edition="standard", licences=10, add_on_credits=5_000)
    # The header threshold is measured against the credits without add-ons.
    assert add_ons.allowance(users=4) == Allowance(57_500, 52_500)
    assert SimulatorConfig(daily_credits=7).allowance(users=4) == Allowance(7, 7)
    assert SimulatorConfig(edition="ultimate").allowance(users=4) == Allowance(58_000, 58_000)


# --- the rolling ledger -------------------------------------------------------------------------


def test_ledger_is_a_rolling_24_hour_window_on_a_free_edition() -> None:
    allowance = credit_allowance("free", 3)
    assert allowance == 5_000
    ledger = CreditLedger()
    assert ledger.try_spend(3_000, allowance, T0)
    assert ledger.try_spend(2_000, allowance, T0 + timedelta(hours=6))
    assert not ledger.try_spend(1, allowance, T0 + timedelta(hours=23, minutes=59))
    assert ledger.used(T0 + timedelta(hours=23, minutes=59)) == 5_000  # a refusal spends nothing
    # Credits spent at 09:00 free up at 09:00 the next day, those of 15:00 at 15:00.
    next_day = T0 + timedelta(hours=24)
    assert ledger.used(next_day) == 2_000
    assert ledger.try_spend(3_000, allowance, next_day)
    assert not ledger.try_spend(1, allowance, next_day + timedelta(hours=5))
    assert ledger.used(next_day + timedelta(hours=6)) == 3_000


def test_ledger_refuses_a_call_that_costs_more_than_is_left() -> None:
    ledger = CreditLedger()
    assert ledger.try_spend(4_998, 5_000, T0)
    assert not ledger.try_spend(3, 5_000, T0)  # a 3-credit COQL call with 2 left
    assert ledger.try_spend(2, 5_000, T0)


@pytest.mark.parametrize("edition", EDITION_NAMES)
def test_header_appears_at_half_the_credits_used(edition: str) -> None:
    total = credit_allowance(edition, 10)
    allowance = Allowance(total, total)
    ledger = CreditLedger()
    half = total // 2
    ledger.try_spend(half - 1, total, T0)
    assert ledger.header(allowance, T0) is None
    ledger.try_spend(1, total, T0)
    assert ledger.header(allowance, T0) == str(total - half)
    ledger.try_spend(total - half, total, T0)
    assert ledger.header(allowance, T0) == "0"
    assert ledger.header(allowance, T0 + timedelta(hours=24)) is None  # the window rolled


def test_header_threshold_leaves_add_on_credits_out() -> None:
    # Standard, 10 licences: 52,500 + 10,000 add-ons. Half of 52,500 is the threshold.
    allowance = Allowance(62_500, 52_500)
    ledger = CreditLedger()
    ledger.try_spend(26_249, 62_500, T0)
    assert ledger.header(allowance, T0) is None
    ledger.try_spend(1, 62_500, T0)
    assert ledger.header(allowance, T0) == "36250"


# --- gates --------------------------------------------------------------------------------------


def test_concurrency_gate_refuses_over_the_limit_and_never_queues() -> None:
    gate = ConcurrencyGate()
    assert all(gate.enter(2) for _ in range(2))
    assert not gate.enter(2)
    assert gate.in_flight == 2
    gate.leave()
    assert gate.enter(2)
    assert gate.enter(None)  # no limit


def test_per_minute_window_is_off_unless_asked() -> None:
    window = RateWindow()
    assert all(window.try_acquire(None, 0.0) for _ in range(1_000))
    assert [window.try_acquire(2, t) for t in (0.0, 1.0, 2.0, 60.5)] == [True, True, False, True]


@pytest.mark.parametrize(
    ("template", "params", "records", "heavy"),
    [
        ("COQL", {}, 0, True),
        ("SEARCH {module}", {"word": "x"}, 0, True),
        ("GET {module}", {"fields": "Account_Name"}, 0, False),
        ("GET {module}", {"fields": "Account_Name", "sort_by": "Modified_Time"}, 0, True),
        ("GET {module}", {"fields": "Account_Name", "cvid": "123"}, 0, True),
        ("GET {module}/{id}", {"sort_by": "id"}, 0, False),
        ("GET {module}/{id}/{related}", {"sort_by": "id"}, 0, False),
        ("POST {module}", {}, 10, False),
        ("POST {module}", {}, 11, True),
        ("PUT {module}", {}, 11, True),
        ("UPSERT {module}", {}, 10, False),
        ("UPSERT {module}", {}, 100, True),
        ("PUT {module}/{id}", {}, 1, False),
        ("POST {module}/{id}/{related}", {}, 50, False),
        ("GET users", {}, 0, False),
    ],
)
def test_heavy_calls_are_the_ones_zoho_lists(
    template: str, params: dict[str, str], records: int, heavy: bool
) -> None:
    assert is_heavy_call(template, params, records) is heavy


# --- costs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "credits"), [(1, 1), (200, 1), (201, 2), (1_000, 2), (1_001, 3), (2_000, 3)]
)
def test_coql_costs_by_limit_tier(limit: int, credits: int) -> None:
    assert coql_cost(limit) == credits


@pytest.mark.parametrize(
    ("records", "credits"), [(1, 1), (10, 1), (11, 2), (20, 2), (99, 10), (100, 10)]
)
def test_writes_cost_one_credit_per_ten_records(records: int, credits: int) -> None:
    assert write_cost(records) == credits
