"""Simulator COQL, pure part: parsing, limits, aggregates and GROUP BY compiled to a plan, and
the exact error bodies Zoho documents (v8 OpenAPI zoho/crm-oas ``v8.0/coql``, v8 pages
"Get Records through COQL Query" and "COQL-Limitations"). Execution against a demo org is in
``tests/integration/test_simulator_coql*.py``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sergas_tui.crm.simulator.coql import COQL_MODULES, Plan, compile_query, shape_row
from sergas_tui.crm.simulator.coql_parse import (
    AGGREGATES,
    MAX_AGGREGATES,
    MAX_COLUMNS,
    MAX_CRITERIA,
    MAX_GROUP,
    MAX_IN_VALUES,
    MAX_LIMIT,
    MAX_ORDER,
    MAX_REACH,
    Aggregate,
    Parser,
)
from sergas_tui.crm.simulator.errors import ZohoError
from sergas_tui.crm.simulator.limits import coql_cost
from sergas_tui.crm.simulator.schema import CATALOGUE

DEAL_FIELDS = [
    "Deal_Name",
    "Amount",
    "Stage",
    "Type",
    "Probability",
    "Closing_Date",
    "Lead_Source",
    "Next_Step",
    "Pipeline",
    "Owner",
    "Account_Name",
    "Contact_Name",
]


def error_of(query: str) -> ZohoError:
    with pytest.raises(ZohoError) as caught:
        compile_query(query)
    return caught.value


def nested(count: int) -> str:
    text = "Amount > 0"
    for _ in range(count - 1):
        text = f"({text} and Amount > 0)"
    return text


def keys(plan: Plan) -> list[str]:
    return [column.key for column in plan.columns]


# -- parsing -------------------------------------------------------------------------------------


def test_select_list_mixes_fields_and_aggregates() -> None:
    query = Parser(
        "SELECT Stage, SUM(Amount), COUNT(id) FROM Deals WHERE Amount is not null "
        "GROUP BY Stage ORDER BY Stage DESC LIMIT 5 OFFSET 10"
    ).parse()

    assert query.columns == ("Stage", Aggregate("SUM", "Amount"), Aggregate("COUNT", "id"))
    assert query.fields == ("Stage",)
    assert query.aggregates == (Aggregate("SUM", "Amount"), Aggregate("COUNT", "id"))
    assert query.group == ("Stage",)
    assert query.order == (("Stage", True),)
    assert (query.limit, query.offset) == (5, 10)


def test_keywords_are_case_insensitive_but_aggregates_are_not() -> None:
    query = Parser("select COUNT(id) from Deals Group By Stage").parse()
    assert query.group == ("Stage",)

    error = error_of("select count(id) from Deals")
    assert (error.status, error.code, error.message) == (400, "INVALID_DATA", "invalid data")
    assert error.details == {"reason": "unsupported aggregate function", "column": "count(id)"}


def test_quoted_field_inside_an_aggregate() -> None:
    query = Parser("select COUNT('What_Id->Deals.Deal_Name') from Tasks").parse()

    assert query.columns == (Aggregate("COUNT", "What_Id->Deals.Deal_Name"),)


# -- plans ---------------------------------------------------------------------------------------


def test_plain_query_always_returns_id_first_and_orders_by_id() -> None:
    plan = compile_query("select Deal_Name, Amount from Deals")

    assert keys(plan) == ["id", "Deal_Name", "Amount"]
    assert plan.order == ("r.id ASC",)
    assert not plan.aggregate
    assert plan.group == ()


def test_explicit_id_is_not_a_duplicate_of_the_implicit_one() -> None:
    plan = compile_query("select id, Deal_Name from Deals")

    assert keys(plan) == ["id", "Deal_Name"]


def test_grouped_plan_has_no_id_and_keys_like_zoho() -> None:
    plan = compile_query(
        "select Stage, SUM(amount), COUNT(id), AVG(Amount), MIN(Closing_Date), MAX(Amount) "
        "from deals group by stage"
    )

    assert plan.module == "Deals"
    assert plan.aggregate
    assert keys(plan) == [
        "Stage",
        "SUM(Amount)",
        "COUNT(id)",
        "AVG(Amount)",
        "MIN(Closing_Date)",
        "MAX(Amount)",
    ]
    assert len(plan.group) == 1
    assert plan.order == (f"{plan.group[0]} ASC",)


def test_aggregate_without_group_by_has_no_order() -> None:
    plan = compile_query("select COUNT(id) from Deals where Stage = 'Closed Won'")

    assert plan.aggregate
    assert plan.group == ()
    assert plan.order == ()
    assert plan.where is not None


def test_order_by_a_grouped_field_then_the_other_groups() -> None:
    plan = compile_query(
        "select Stage, Type, COUNT(id) from Deals group by Stage, Type order by Type desc"
    )

    assert len(plan.order) == 2
    assert plan.order[0].endswith(" DESC")
    assert plan.order[1] == f"{plan.group[0]} ASC"


def test_group_by_without_aggregates_is_a_distinct_list() -> None:
    plan = compile_query("select Stage from Deals group by Stage")

    assert keys(plan) == ["Stage"]
    assert plan.aggregate


def test_grouped_columns_need_not_all_be_selected() -> None:
    plan = compile_query("select COUNT(id) from Deals group by Stage, Owner")

    assert keys(plan) == ["COUNT(id)"]
    assert len(plan.group) == 2


def test_same_field_under_different_aggregates() -> None:
    plan = compile_query("select SUM(Amount), AVG(Amount), MIN(Amount), MAX(Amount) from Deals")

    assert keys(plan) == ["SUM(Amount)", "AVG(Amount)", "MIN(Amount)", "MAX(Amount)"]


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("select COUNT(Owner) from Deals", "COUNT(Owner)"),
        ("select COUNT(Account_Name) from Deals", "COUNT(Account_Name)"),
        ("select COUNT(Stage) from Deals", "COUNT(Stage)"),
        ("select COUNT(Probability) from Deals", "COUNT(Probability)"),
        ("select SUM(Probability) from Deals", "SUM(Probability)"),
        ("select SUM(Account_Name.Annual_Revenue) from Deals", "SUM(Account_Name.Annual_Revenue)"),
        ("select MAX(Modified_Time) from Deals", "MAX(Modified_Time)"),
        ("select MIN(Created_Time) from Leads", "MIN(Created_Time)"),
        ("select AVG(Annual_Revenue) from Leads", "AVG(Annual_Revenue)"),
        ("select COUNT(id) from Users", "COUNT(id)"),
    ],
)
def test_aggregates_on_supported_types(query: str, key: str) -> None:
    assert keys(compile_query(query)) == [key]


def test_shape_row_of_an_aggregate_plan() -> None:
    plan = compile_query(
        "select Owner, Stage, COUNT(id), SUM(Amount) from Deals group by Owner, Stage"
    )
    row = ('{"id":"7","name":"Ana Wong","email":"a@x"}', "Closed Won", 3, 120000)

    assert shape_row(plan, row) == {
        "Owner": {"id": "7", "name": "Ana Wong"},
        "Stage": "Closed Won",
        "COUNT(id)": 3,
        "SUM(Amount)": 120000,
    }


def test_shape_row_keeps_null_aggregates() -> None:
    plan = compile_query("select SUM(Amount), MAX(Closing_Date), COUNT(id) from Deals")

    assert shape_row(plan, (None, None, 0)) == {
        "SUM(Amount)": None,
        "MAX(Closing_Date)": None,
        "COUNT(id)": 0,
    }


# -- modules -------------------------------------------------------------------------------------


def test_notes_is_not_a_coql_module_but_leads_is() -> None:
    assert "Notes" not in COQL_MODULES
    assert {"Leads", "Accounts", "Contacts", "Deals", "Tasks", "Events", "Calls", "Users"} <= set(
        COQL_MODULES
    )


@pytest.mark.parametrize(
    "query",
    [
        "select Note_Title from Notes",
        "select COUNT(id) from Notes",
        "select Note_Title from notes where Note_Title is not null",
        "select Deal_Name from Widgets",
        "select Stage from Stage_History",
    ],
)
def test_modules_coql_does_not_serve_are_invalid_module(query: str) -> None:
    error = error_of(query)

    assert (error.status, error.code) == (400, "INVALID_MODULE")
    assert error.message == "the given module is not supported in api"
    assert error.details == {}


def test_leads_queries_compile() -> None:
    plan = compile_query(
        "select Last_Name, Company, Lead_Source from Leads where Lead_Status = 'Contacted'"
    )
    assert plan.module == "Leads"
    assert keys(plan) == ["id", "Last_Name", "Company", "Lead_Source"]

    grouped = compile_query("select Lead_Source, COUNT(id) from Leads group by Lead_Source")
    assert keys(grouped) == ["Lead_Source", "COUNT(id)"]

    joined = compile_query("select 'What_Id->Leads.Last_Name' from Tasks")
    assert keys(joined) == ["id", "What_Id->Leads.Last_Name"]


# -- errors and their documented bodies ------------------------------------------------------------

ERRORS: list[tuple[str, int, str, str, dict[str, Any]]] = [
    # SYNTAX_ERROR shapes: {}, {clause}, {near}, {operator}.
    ("update Leads set Last_Name = 'x'", 400, "SYNTAX_ERROR", "given coql query not supported", {}),
    ("delete from Deals", 400, "SYNTAX_ERROR", "given coql query not supported", {}),
    ("select Deal_Name", 400, "SYNTAX_ERROR", "missing clause", {"clause": "from"}),
    (
        "select Deal_Name where Amount > 1",
        400,
        "SYNTAX_ERROR",
        "missing clause",
        {"clause": "from"},
    ),
    (
        "select Deal_Name Deals",
        400,
        "SYNTAX_ERROR",
        "error occured while parsing the query",
        {"near": "Deals"},
    ),
    (
        "select * from Deals",
        400,
        "SYNTAX_ERROR",
        "error occured while parsing the query",
        {"near": "*"},
    ),
    (
        "select Deal_Name from Deals where Amount > 1 and Amount < 9 and Stage = 'x'",
        400,
        "SYNTAX_ERROR",
        "error occured while parsing the query",
        {"near": "and"},
    ),
    (
        "select Deal_Name from Deals where Amount not = 5",
        400,
        "SYNTAX_ERROR",
        "operator not supported",
        {"operator": "not"},
    ),
    (
        "select Stage, COUNT(id) from Deals group by Stage order by COUNT(id)",
        400,
        "SYNTAX_ERROR",
        "error occured while parsing the query",
        {"near": "("},
    ),
    (
        "select Stage, COUNT(id) from Deals order by Stage group by Stage",
        400,
        "SYNTAX_ERROR",
        "error occured while parsing the query",
        {"near": "group"},
    ),
    # LIMIT / OFFSET
    (
        "select Deal_Name from Deals limit 0",
        400,
        "INVALID_DATA",
        "limit should be greater than 0",
        {},
    ),
    (
        "select Deal_Name from Deals limit -3",
        400,
        "INVALID_DATA",
        "limit should be greater than 0",
        {},
    ),
    (
        "select Deal_Name from Deals limit s",
        400,
        "INVALID_QUERY",
        "limit given seems to be invalid",
        {"limit": "s"},
    ),
    (
        "select Deal_Name from Deals limit 2.5",
        400,
        "INVALID_QUERY",
        "limit given seems to be invalid",
        {"limit": "2.5"},
    ),
    (
        "select Deal_Name from Deals limit 10 offset x",
        400,
        "INVALID_QUERY",
        "offset given seems to be invalid",
        {"offset": "x"},
    ),
    (
        "select Deal_Name from Deals limit 10 offset -1",
        400,
        "INVALID_QUERY",
        "offset given seems to be invalid",
        {"offset": "-1"},
    ),
    # INVALID_QUERY shapes
    (
        "select Nope from Deals",
        400,
        "INVALID_QUERY",
        "column given seems to be invalid",
        {"column_name": "Nope", "clause": "select"},
    ),
    (
        "select Deal_Name from Deals where Nope = 1",
        400,
        "INVALID_QUERY",
        "column given seems to be invalid",
        {"column_name": "Nope", "clause": "where"},
    ),
    (
        "select Deal_Name from Deals order by Nope",
        400,
        "INVALID_QUERY",
        "column given seems to be invalid",
        {"column_name": "Nope", "clause": "order by"},
    ),
    (
        "select COUNT(id) from Deals group by Nope",
        400,
        "INVALID_QUERY",
        "column given seems to be invalid",
        {"column_name": "Nope", "clause": "group by"},
    ),
    (
        "select SUM(Nope) from Deals",
        400,
        "INVALID_QUERY",
        "column given seems to be invalid",
        {"column_name": "Nope", "clause": "select"},
    ),
    (
        "select Deal_Name from Deals where Deal_Name > 'A'",
        400,
        "INVALID_QUERY",
        "Invalid query formed",
        {"reason": "invalid operator found", "column_name": "Deal_Name", "operator": ">"},
    ),
    (
        "select Deal_Name from Deals where Amount = 'lots'",
        400,
        "INVALID_QUERY",
        "value given seems to be invalid for the column",
        {"column_name": "Amount", "clause": "where"},
    ),
    (
        "select Deal_Name from Deals where Amount = null",
        400,
        "INVALID_QUERY",
        "Invalid query formed",
        {
            "reason": "use 'is null' to compare with null",
            "column_name": "Amount",
            "operator": "=",
        },
    ),
    # aggregates over the wrong type
    (
        "select SUM(Deal_Name) from Deals",
        400,
        "INVALID_QUERY",
        "data type not supported",
        {"column_name": "Deal_Name", "clause": "select"},
    ),
    (
        "select AVG(Stage) from Deals",
        400,
        "INVALID_QUERY",
        "data type not supported",
        {"column_name": "Stage", "clause": "select"},
    ),
    (
        "select SUM(Closing_Date) from Deals",
        400,
        "INVALID_QUERY",
        "data type not supported",
        {"column_name": "Closing_Date", "clause": "select"},
    ),
    (
        "select AVG(Owner) from Deals",
        400,
        "INVALID_QUERY",
        "data type not supported",
        {"column_name": "Owner", "clause": "select"},
    ),
    (
        "select MAX(Deal_Name) from Deals",
        400,
        "INVALID_QUERY",
        "data type not supported",
        {"column_name": "Deal_Name", "clause": "select"},
    ),
    (
        "select COUNT(Deal_Name) from Deals",
        400,
        "INVALID_QUERY",
        "data type not supported",
        {"column_name": "Deal_Name", "clause": "select"},
    ),
    (
        "select COUNT(Email_Opt_Out) from Contacts",
        400,
        "INVALID_QUERY",
        "data type not supported",
        {"column_name": "Email_Opt_Out", "clause": "select"},
    ),
    # unknown functions
    (
        "select TestFunction(Last_Name) from Leads",
        400,
        "INVALID_DATA",
        "invalid data",
        {"reason": "unsupported aggregate function", "column": "TestFunction(Last_Name)"},
    ),
    (
        "select Sum(Amount) from Deals",
        400,
        "INVALID_DATA",
        "invalid data",
        {"reason": "unsupported aggregate function", "column": "Sum(Amount)"},
    ),
    # columns neither grouped nor aggregated
    (
        "select Stage, Deal_Name, COUNT(id) from Deals group by Stage",
        400,
        "INVALID_QUERY",
        "unsupported column",
        {"column_name": "Deal_Name", "clause": "select"},
    ),
    (
        "select Deal_Name, COUNT(id) from Deals",
        400,
        "INVALID_QUERY",
        "unsupported column",
        {"column_name": "Deal_Name", "clause": "select"},
    ),
    (
        "select Stage, COUNT(id) from Deals group by Stage order by Amount",
        400,
        "INVALID_QUERY",
        "unsupported column",
        {"column_name": "Amount", "clause": "order by"},
    ),
    (
        "select COUNT(id) from Deals order by id",
        400,
        "INVALID_QUERY",
        "unsupported column",
        {"column_name": "id", "clause": "order by"},
    ),
    # DUPLICATE_DATA
    (
        "select Last_Name, First_Name, Last_Name from Contacts",
        400,
        "DUPLICATE_DATA",
        "duplicate select column",
        {"column_name": "Last_Name"},
    ),
    (
        "select Deal_Name, deal_name from Deals",
        400,
        "DUPLICATE_DATA",
        "duplicate select column",
        {"column_name": "Deal_Name"},
    ),
    (
        "select MAX(Annual_Revenue), MAX(Annual_Revenue) from Leads",
        400,
        "DUPLICATE_DATA",
        "duplicate aggregate function",
        {"column_name": "Annual_Revenue", "aggregate": "MAX"},
    ),
    (
        "select Stage, Stage, COUNT(id) from Deals group by Stage",
        400,
        "DUPLICATE_DATA",
        "duplicate select column",
        {"column_name": "Stage"},
    ),
    (
        "select id from Contacts where id is not null order by id,id",
        400,
        "DUPLICATE_DATA",
        "duplicate order by column",
        {"column_name": "id"},
    ),
    (
        "select COUNT(id) from Deals group by Stage, stage",
        400,
        "DUPLICATE_DATA",
        "duplicate group by column",
        {"column_name": "Stage"},
    ),
]


@pytest.mark.parametrize(("query", "status", "code", "message", "details"), ERRORS)
def test_documented_error_bodies(
    query: str, status: int, code: str, message: str, details: dict[str, Any]
) -> None:
    error = error_of(query)

    assert (error.status, error.code, error.message, error.details) == (
        status,
        code,
        message,
        details,
    )


# -- limits --------------------------------------------------------------------------------------


def limit_error(query: str, by: str, limit: int) -> None:
    error = error_of(query)
    assert (error.status, error.code) == (400, "LIMIT_EXCEEDED")
    assert error.details == {"by": by, "limit": limit}


def test_limit_on_rows_per_call() -> None:
    assert compile_query(f"select Deal_Name from Deals limit {MAX_LIMIT}").limit == 2_000
    limit_error(f"select Deal_Name from Deals limit {MAX_LIMIT + 1}", "limit", 2_000)


def test_default_limit_and_offset_forms() -> None:
    plan = compile_query("select Deal_Name from Deals")
    assert (plan.limit, plan.offset) == (200, 0)
    assert (compile_query("select Deal_Name from Deals limit 5, 10").offset) == 5
    assert (compile_query("select Deal_Name from Deals limit 10 offset 5").offset) == 5


def test_limit_on_rows_reachable_by_offset() -> None:
    reach = MAX_REACH - MAX_LIMIT
    plan = compile_query(f"select Deal_Name from Deals limit {MAX_LIMIT} offset {reach}")
    assert plan.offset + plan.limit == 100_000
    limit_error(
        f"select Deal_Name from Deals limit {MAX_LIMIT} offset {reach + 1}", "offset", 100_000
    )
    limit_error(f"select Deal_Name from Deals limit {reach + 1}, {MAX_LIMIT}", "offset", 100_000)


def distinct_columns(count: int) -> list[str]:
    """``count`` different Deals columns: its own fields, then its account's."""
    own = [name for name in (f.api_name for f in CATALOGUE["Deals"].values()) if name != "id"]
    joined = [f"Account_Name.{f.api_name}" for f in CATALOGUE["Accounts"].values()]
    columns = (own + joined)[:count]
    assert len(columns) == count
    return columns


def test_limit_on_select_columns() -> None:
    fifty = distinct_columns(MAX_COLUMNS)

    assert len(compile_query(f"select {', '.join(fifty)} from Deals").columns) == 51  # + id
    fifty_one = ", ".join(distinct_columns(MAX_COLUMNS + 1))
    limit_error(f"select {fifty_one} from Deals", "select columns", 50)


def test_limit_on_aggregates() -> None:
    five = "SUM(Amount), AVG(Amount), MIN(Amount), MAX(Amount), COUNT(id)"
    assert len(compile_query(f"select {five} from Deals").columns) == MAX_AGGREGATES
    limit_error(f"select {five}, COUNT(Amount) from Deals", "aggregate functions", 5)


def test_limit_on_group_by_fields() -> None:
    four = "Stage, Type, Owner, Lead_Source"
    assert len(compile_query(f"select COUNT(id) from Deals group by {four}").group) == MAX_GROUP
    limit_error(f"select COUNT(id) from Deals group by {four}, Pipeline", "group by", 4)


def test_limit_on_order_by_fields() -> None:
    ten = DEAL_FIELDS[:MAX_ORDER]
    plan = compile_query(f"select Deal_Name from Deals order by {', '.join(ten)}")
    assert len(plan.order) == 11  # + the id tie-breaker
    limit_error(
        f"select Deal_Name from Deals order by {', '.join(DEAL_FIELDS[: MAX_ORDER + 1])}",
        "order by",
        10,
    )


def test_limit_on_criteria() -> None:
    assert compile_query("select Deal_Name from Deals where " + nested(MAX_CRITERIA)).where
    limit_error("select Deal_Name from Deals where " + nested(MAX_CRITERIA + 1), "criteria", 25)


@pytest.mark.parametrize("op", ["in", "not in"])
def test_limit_on_in_values(op: str) -> None:
    hundred = ", ".join(str(i) for i in range(MAX_IN_VALUES))
    assert compile_query(f"select Deal_Name from Deals where Amount {op} ({hundred})").where
    limit_error(f"select Deal_Name from Deals where Amount {op} ({hundred}, 100)", "in", 100)


@pytest.mark.parametrize(
    "where",
    [
        "(A and B) and C",
        "A and (B and C)",
        "((A and B) and C)",
        "(A and (B and C))",
        "((A or B) and (C or D))",
    ],
)
def test_bracket_rule_accepts_pairs(where: str) -> None:
    conditions = {"A": "Amount > 1", "B": "Stage = 'x'", "C": "Type = 'y'", "D": "Amount < 9"}
    text = "".join(conditions.get(ch, ch) for ch in where)

    assert compile_query(f"select Deal_Name from Deals where {text}").where is not None


@pytest.mark.parametrize(
    "where",
    [
        "Amount > 1 and Stage = 'x' and Type = 'y'",
        "(Amount > 1 or Stage = 'x' or Type = 'y')",
        "(Amount > 1 and Stage = 'x') and Type = 'y' and Amount < 9",
    ],
)
def test_bracket_rule_rejects_three_operands(where: str) -> None:
    assert error_of(f"select Deal_Name from Deals where {where}").code == "SYNTAX_ERROR"


# -- credits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "credits"),
    [
        ("select COUNT(id) from Deals", 1),
        ("select Stage, COUNT(id) from Deals group by Stage limit 200", 1),
        ("select Stage, COUNT(id) from Deals group by Stage limit 201", 2),
        ("select Stage, SUM(Amount) from Deals group by Stage limit 1000", 2),
        ("select Stage, SUM(Amount) from Deals group by Stage limit 1001", 3),
        ("select Stage, SUM(Amount) from Deals group by Stage limit 2000", 3),
    ],
)
def test_aggregate_queries_cost_by_limit_tier(query: str, credits: int) -> None:
    assert coql_cost(compile_query(query).limit) == credits


# -- properties ------------------------------------------------------------------------------------


@given(
    limit=st.integers(min_value=-5, max_value=3_000),
    offset=st.integers(min_value=0, max_value=120_000),
)
def test_limit_and_offset_are_checked_like_zoho(limit: int, offset: int) -> None:
    query = f"select Deal_Name from Deals limit {limit} offset {offset}"
    if limit < 1:
        assert error_of(query).code == "INVALID_DATA"
    elif limit > MAX_LIMIT or offset + limit > MAX_REACH:
        assert error_of(query).code == "LIMIT_EXCEEDED"
    else:
        plan = compile_query(query)
        assert (plan.limit, plan.offset) == (limit, offset)


@given(
    functions=st.lists(
        st.sampled_from(AGGREGATES), min_size=1, max_size=MAX_AGGREGATES, unique=True
    ),
    grouped=st.lists(st.sampled_from(["Stage", "Type", "Owner", "Lead_Source"]), unique=True),
)
def test_any_aggregate_mix_over_amount_compiles(functions: list[str], grouped: list[str]) -> None:
    columns = [*grouped, *(f"{f}(Amount)" for f in functions)]
    group = f" group by {', '.join(grouped)}" if grouped else ""
    plan = compile_query(f"select {', '.join(columns)} from Deals{group}")

    assert keys(plan) == columns
    assert len(plan.group) == len(grouped)
    assert all(column.key != "id" for column in plan.columns)
