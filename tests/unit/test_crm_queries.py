"""COQL and search builders, and the field lists of the REST client."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sergas_tui.crm.fields import MAX_FIELDS, MODULE_FIELDS, fields_param
from sergas_tui.crm.queries import (
    CoqlQuery,
    and_all,
    criterion,
    escape_criteria_value,
    literal,
    looks_like_criteria,
    not_in,
    search_params,
    zoho_datetime,
)
from sergas_tui.domain.redaction import is_sensitive_field


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "'plain'"),
        ("O'Brien", r"'O\'Brien'"),
        ("back\\slash", r"'back\\slash'"),
        (42, "42"),
        (2.5, "2.5"),
        (True, "true"),
        (date(2026, 11, 2), "'2026-11-02'"),
        (datetime(2026, 11, 2, 9, 30, tzinfo=UTC), "'2026-11-02T09:30:00+00:00'"),
        (datetime(2026, 11, 2, 9, 30, 15, 999), "'2026-11-02T09:30:15+00:00'"),
        (
            datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "'2026-11-02T09:30:00+05:30'",
        ),
    ],
)
def test_literal(value: str | int | float | date | datetime, text: str) -> None:
    assert literal(value) == text


def test_zoho_datetime_takes_naive_as_utc() -> None:
    assert zoho_datetime(datetime(2026, 1, 1)) == "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("conditions", "text"),
    [
        (["A"], "A"),
        (["A", "B"], "(A and B)"),
        (["A", "B", "C"], "((A and B) and C)"),
        (["A", "B", "C", "D"], "(((A and B) and C) and D)"),
    ],
)
def test_and_all_brackets_pairs(conditions: list[str], text: str) -> None:
    assert and_all(conditions) == text


def test_coql_query_pages_by_id_cursor() -> None:
    query = CoqlQuery("Deals", ("Deal_Name", "Stage"), ("Owner = '1'",))
    assert query.render() == (
        "select id, Deal_Name, Stage from Deals where Owner = '1' order by id asc limit 2000"
    )
    assert query.render("99") == (
        "select id, Deal_Name, Stage from Deals where (Owner = '1' and id > '99') "
        "order by id asc limit 2000"
    )
    bare = CoqlQuery("Accounts", ("Account_Name",))
    assert "where id is not null order by id asc" in bare.render()
    assert "where id > '5' order by" in bare.render("5")


def test_not_in_limits() -> None:
    assert not_in("Stage", ["Closed Won"]) == "Stage not in ('Closed Won')"
    with pytest.raises(ValueError, match="not in"):
        not_in("Stage", [])
    with pytest.raises(ValueError, match="not in"):
        not_in("Stage", [str(n) for n in range(51)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(Industry:equals:Retail)", True),
        ("((Industry:equals:Retail)and(Rating:not_equal:Cold))", True),
        ("(Annual_Revenue:greater_than:1000)", True),
        ("Acme (UK)", False),
        ("Industry:equals:Retail", False),
        ("(not:a:criteria)", False),
    ],
)
def test_looks_like_criteria(text: str, expected: bool) -> None:
    assert looks_like_criteria(text) is expected


def test_criteria_escaping() -> None:
    assert escape_criteria_value("a,b(c)") == r"a\,b\(c\)"
    assert (
        criterion("Account_Name", "starts_with", "X, Inc") == r"(Account_Name:starts_with:X\, Inc)"
    )
    with pytest.raises(ValueError, match="operator"):
        criterion("Account_Name", "contains", "x")


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("acme", {"word": "acme"}),
        ("  Acme   Corp ", {"word": "Acme Corp"}),
        ("Müller", {"word": "Müller"}),
        ("a", {"criteria": "(Account_Name:starts_with:a)"}),
        ("AT&T", {"criteria": "(Account_Name:equals:AT&T)"}),
        ("(Rating:equals:Hot)", {"criteria": "(Rating:equals:Hot)"}),
    ],
)
def test_search_params(query: str, params: dict[str, str]) -> None:
    assert search_params(query) == params


def test_search_params_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        search_params("  ")


@pytest.mark.parametrize("module", sorted(MODULE_FIELDS))
def test_field_lists_fit_zoho_limits_and_hold_nothing_sensitive(module: str) -> None:
    fields = MODULE_FIELDS[module]
    assert 0 < len(fields) <= MAX_FIELDS
    assert len(set(fields)) == len(fields)
    assert "id" not in fields
    assert not [f for f in fields if is_sensitive_field(f)]
    assert fields_param(fields) == ",".join(fields)


def test_fields_param_refuses_more_than_fifty() -> None:
    with pytest.raises(ValueError, match="at most 50"):
        fields_param(f"F{n}" for n in range(51))
