"""Simulator COQL over HTTP: aggregates and GROUP BY against the demo org, Notes refused as
Zoho documents, Leads served (empty and filled), credits by LIMIT tier, documented error bodies.

The expected values are computed from the org file's records with plain Python."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

from sergas_tui.crm.simulator import Simulator, create_simulator
from sergas_tui.demo import DemoStore
from tests.integration.simkit import Api, api_for, copy_org, error_code, make_org

Record = dict[str, Any]
JORDAN = "5725767000001000001"
LEAD_IDS = ("5725767000009000001", "5725767000009000002", "5725767000009000003")
LEAD_TASK = "5725767000009000100"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture(scope="module")
def deals(org: Path) -> list[Record]:
    with DemoStore.open(org) as store:
        return list(store.records("Deals"))


@pytest.fixture(scope="module")
def accounts(org: Path) -> dict[str, Record]:
    with DemoStore.open(org) as store:
        return {a["id"]: a for a in store.records("Accounts")}


@pytest.fixture
def sim(org: Path) -> Iterator[Simulator]:
    simulator = create_simulator(org)
    yield simulator
    simulator.close()


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with api_for(sim) as client:
        yield client


async def body(api: Api, query: str) -> Record:
    response = await api.coql(query)
    assert response.status_code == 200, response.text
    result: Record = response.json()
    assert set(result) == {"data", "info"}
    assert set(result["info"]) == {"count", "more_records"}
    assert result["info"]["count"] == len(result["data"])
    return result


async def rows(api: Api, query: str) -> list[Record]:
    data: list[Record] = (await body(api, query))["data"]
    return data


async def error_body(api: Api, query: str) -> Record:
    response = await api.coql(query)
    assert response.status_code == 400, response.text
    error_code(response)
    result: Record = response.json()
    return result


# -- aggregates ----------------------------------------------------------------------------------


async def test_count_without_group_by_is_one_row(api: Api, deals: list[Record]) -> None:
    won = sum(1 for d in deals if d["Stage"] == "Closed Won")

    result = await body(api, "select COUNT(id) from Deals where Stage = 'Closed Won'")

    assert result == {"data": [{"COUNT(id)": won}], "info": {"count": 1, "more_records": False}}
    assert won > 0


async def test_group_by_stage_matches_the_records(api: Api, deals: list[Record]) -> None:
    by_stage: dict[str, list[int]] = defaultdict(list)
    for deal in deals:
        if deal.get("Amount") is not None:
            by_stage[deal["Stage"]].append(deal["Amount"])

    got = await rows(
        api,
        "select Stage, SUM(Amount), COUNT(id), AVG(Amount), MIN(Amount), MAX(Amount) from Deals "
        "where Amount is not null group by Stage",
    )

    assert [r["Stage"] for r in got] == sorted(by_stage)
    for row in got:
        amounts = by_stage[row["Stage"]]
        assert row == {
            "Stage": row["Stage"],
            "SUM(Amount)": sum(amounts),
            "COUNT(id)": len(amounts),
            "AVG(Amount)": pytest.approx(mean(amounts)),
            "MIN(Amount)": min(amounts),
            "MAX(Amount)": max(amounts),
        }
        assert "id" not in row


async def test_count_of_a_field_skips_nulls(api: Api, deals: list[Record]) -> None:
    (row,) = await rows(api, "select COUNT(id), COUNT(Amount), COUNT(Type) from Deals")

    assert row == {
        "COUNT(id)": len(deals),
        "COUNT(Amount)": sum(1 for d in deals if d.get("Amount") is not None),
        "COUNT(Type)": sum(1 for d in deals if d.get("Type") is not None),
    }


async def test_min_and_max_of_dates(api: Api, deals: list[Record]) -> None:
    dates = [d["Closing_Date"] for d in deals if d.get("Closing_Date")]

    (row,) = await rows(api, "select MIN(Closing_Date), MAX(Closing_Date) from Deals")

    assert row == {"MIN(Closing_Date)": min(dates), "MAX(Closing_Date)": max(dates)}


async def test_group_by_owner_returns_the_lookup(api: Api, deals: list[Record]) -> None:
    counts: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    for deal in deals:
        counts[deal["Owner"]["id"]] += 1
        names[deal["Owner"]["id"]] = deal["Owner"]["name"]

    got = await rows(api, "select Owner, COUNT(id) from Deals group by Owner")

    assert {r["Owner"]["id"]: r["COUNT(id)"] for r in got} == counts
    for row in got:
        assert row["Owner"] == {"id": row["Owner"]["id"], "name": names[row["Owner"]["id"]]}


async def test_group_by_two_fields(api: Api, deals: list[Record]) -> None:
    mine = [d for d in deals if d["Owner"]["id"] == JORDAN]
    expected: dict[tuple[str, str | None], int] = defaultdict(int)
    for deal in mine:
        expected[(deal["Stage"], deal.get("Type"))] += 1

    got = await rows(
        api,
        f"select Stage, Type, COUNT(id) from Deals where Owner = '{JORDAN}' group by Stage, Type",
    )

    assert {(r["Stage"], r["Type"]): r["COUNT(id)"] for r in got} == expected


async def test_group_by_a_joined_field(
    api: Api, deals: list[Record], accounts: dict[str, Record]
) -> None:
    expected: dict[str | None, int] = defaultdict(int)
    for deal in deals:
        expected[accounts[deal["Account_Name"]["id"]].get("Industry")] += 1

    got = await rows(
        api,
        "select Account_Name.Industry, COUNT(id) from Deals group by Account_Name.Industry",
    )

    assert {r["Account_Name.Industry"]: r["COUNT(id)"] for r in got} == expected


async def test_group_by_without_aggregates_lists_distinct_values(
    api: Api, deals: list[Record]
) -> None:
    got = await rows(api, "select Stage from Deals group by Stage")

    assert got == [{"Stage": s} for s in sorted({d["Stage"] for d in deals})]


async def test_order_limit_and_offset_page_through_groups(api: Api, deals: list[Record]) -> None:
    stages = sorted({d["Stage"] for d in deals}, reverse=True)

    first = await body(
        api, "select Stage, COUNT(id) from Deals group by Stage order by Stage desc limit 3"
    )
    rest = await body(
        api,
        "select Stage, COUNT(id) from Deals group by Stage order by Stage desc limit 200 offset 3",
    )

    assert [r["Stage"] for r in first["data"]] == stages[:3]
    assert first["info"] == {"count": 3, "more_records": True}
    assert [r["Stage"] for r in rest["data"]] == stages[3:]
    assert rest["info"]["more_records"] is False


async def test_aggregate_over_no_rows(api: Api) -> None:
    (row,) = await rows(
        api, "select COUNT(id), SUM(Amount), MAX(Amount) from Deals where Stage = 'No such stage'"
    )
    assert row == {"COUNT(id)": 0, "SUM(Amount)": None, "MAX(Amount)": None}

    grouped = await api.coql(
        "select Stage, COUNT(id) from Deals where Stage = 'No such stage' group by Stage"
    )
    assert grouped.status_code == 204
    assert grouped.content == b""


@pytest.mark.parametrize(
    ("limit", "credits"), [("", 1), ("limit 200", 1), ("limit 201", 2), ("limit 1001", 3)]
)
async def test_aggregate_credits_by_limit_tier(
    api: Api, sim: Simulator, limit: str, credits: int
) -> None:
    await rows(api, f"select Stage, SUM(Amount) from Deals group by Stage {limit}")

    assert sim.counters.credits["COQL Deals"] == credits
    assert sim.counters.calls["COQL Deals"] == 1


# -- documented errors over HTTP -------------------------------------------------------------------


async def test_error_bodies_over_http(api: Api) -> None:
    assert await error_body(
        api, "select Stage, COUNT(id) from Deals group by " + "Stage, " * 4 + "Type"
    ) == {
        "code": "LIMIT_EXCEEDED",
        "details": {"by": "group by", "limit": 4},
        "message": "limit exceeded for group by",
        "status": "error",
    }
    assert await error_body(
        api, "select Stage, Deal_Name, COUNT(id) from Deals group by Stage"
    ) == {
        "code": "INVALID_QUERY",
        "details": {"column_name": "Deal_Name", "clause": "select"},
        "message": "unsupported column",
        "status": "error",
    }
    assert await error_body(api, "select SUM(Stage) from Deals") == {
        "code": "INVALID_QUERY",
        "details": {"column_name": "Stage", "clause": "select"},
        "message": "data type not supported",
        "status": "error",
    }
    assert await error_body(api, "select COUNT(id), COUNT(id) from Deals") == {
        "code": "DUPLICATE_DATA",
        "details": {"column_name": "id", "aggregate": "COUNT"},
        "message": "duplicate aggregate function",
        "status": "error",
    }


async def test_missing_select_query(api: Api) -> None:
    for payload in ({}, {"select_query": ""}, {"select_query": "  "}):
        response = await api.post("/crm/v8/coql", json=payload)
        assert response.status_code == 400
        assert response.json() == {
            "code": "MANDATORY_NOT_FOUND",
            "details": {"api_name": "select_query"},
            "message": "mandatory key not found",
            "status": "error",
        }


async def test_errors_cost_no_credits(api: Api, sim: Simulator) -> None:
    await error_body(api, "select SUM(Stage) from Deals")

    assert sim.counters.credits.get("COQL Deals", 0) == 0


# -- Notes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "select Note_Title, Note_Content from Notes",
        "select Note_Title from Notes where Parent_Id = '5725767000001000005'",
        "select COUNT(id) from Notes",
    ],
)
async def test_notes_cannot_be_read_by_coql(api: Api, query: str) -> None:
    assert await error_body(api, query) == {
        "code": "INVALID_MODULE",
        "details": {},
        "message": "the given module is not supported in api",
        "status": "error",
    }


async def test_notes_are_still_listed_over_rest(api: Api) -> None:
    response = await api.get("/crm/v8/Notes", params={"fields": "Note_Title", "per_page": "5"})

    assert response.status_code == 200
    assert len(response.json()["data"]) == 5


# -- Leads ---------------------------------------------------------------------------------------


async def test_empty_leads_answer_204_and_cost_a_credit(api: Api, sim: Simulator) -> None:
    response = await api.coql("select Last_Name, Company from Leads where Last_Name is not null")

    assert response.status_code == 204
    assert response.content == b""
    assert sim.counters.credits["COQL Leads"] == 1
    assert await rows(api, "select COUNT(id) from Leads") == [{"COUNT(id)": 0}]


def lead(index: int, last: str, source: str | None, revenue: int | None) -> Record:
    stamp = f"2026-10-0{index + 1}T09:00:00+00:00"
    owner = {"name": "Jordan Avery", "id": JORDAN, "email": "jordan.avery@demo.sergas.test"}
    return {
        "id": LEAD_IDS[index],
        "First_Name": "Pat",
        "Last_Name": last,
        "Full_Name": f"Pat {last}",
        "Company": f"{last} Ltd",
        "Lead_Source": source,
        "Lead_Status": "Contacted",
        "Annual_Revenue": revenue,
        "Owner": owner,
        "Created_Time": stamp,
        "Modified_Time": stamp,
    }


LEADS = [
    lead(0, "Okafor", "Web Download", 100_000),
    lead(1, "Lindqvist", "Web Download", 250_000),
    lead(2, "Ibarra", None, None),
]


@pytest.fixture(scope="module")
def leads_org(org: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = copy_org(org, tmp_path_factory.mktemp("leads"))
    task = {
        "id": LEAD_TASK,
        "Subject": "Call back about the trial",
        "What_Id": {"id": LEAD_IDS[0], "name": "Pat Okafor"},
        "$se_module": "Leads",
        "Owner": LEADS[0]["Owner"],
        "Created_Time": "2026-10-05T09:00:00+00:00",
        "Modified_Time": "2026-10-05T09:00:00+00:00",
    }
    with sqlite3.connect(path) as conn:
        for module, record in [*(("Leads", r) for r in LEADS), ("Tasks", task)]:
            conn.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    module,
                    record["id"],
                    None,
                    JORDAN,
                    record["Created_Time"],
                    record["Modified_Time"],
                    json.dumps(record),
                ),
            )
    conn.close()
    return path


@pytest.fixture
async def leads_api(leads_org: Path) -> AsyncIterator[Api]:
    simulator = create_simulator(leads_org)
    try:
        async with api_for(simulator) as client:
            yield client
    finally:
        simulator.close()


async def test_leads_are_queried_like_other_modules(leads_api: Api) -> None:
    got = await rows(
        leads_api,
        "select Last_Name, Company, Owner from Leads where (Lead_Status = 'Contacted' and "
        "Last_Name like '%a%') order by Last_Name",
    )

    assert got == [
        {
            "id": LEAD_IDS[2],
            "Last_Name": "Ibarra",
            "Company": "Ibarra Ltd",
            "Owner": {"id": JORDAN, "name": "Jordan Avery"},
        },
        {
            "id": LEAD_IDS[0],
            "Last_Name": "Okafor",
            "Company": "Okafor Ltd",
            "Owner": {"id": JORDAN, "name": "Jordan Avery"},
        },
    ]


async def test_leads_aggregates(leads_api: Api) -> None:
    got = await rows(
        leads_api,
        "select Lead_Source, COUNT(id), SUM(Annual_Revenue), AVG(Annual_Revenue) from Leads "
        "group by Lead_Source",
    )

    assert got == [
        {
            "Lead_Source": None,
            "COUNT(id)": 1,
            "SUM(Annual_Revenue)": None,
            "AVG(Annual_Revenue)": None,
        },
        {
            "Lead_Source": "Web Download",
            "COUNT(id)": 2,
            "SUM(Annual_Revenue)": 350_000,
            "AVG(Annual_Revenue)": 175_000.0,
        },
    ]


async def test_tasks_join_to_their_lead(leads_api: Api) -> None:
    got = await rows(
        leads_api,
        f"select Subject, 'What_Id->Leads.Last_Name' from Tasks where What_Id.id = '{LEAD_IDS[0]}'",
    )

    assert got == [
        {
            "id": LEAD_TASK,
            "Subject": "Call back about the trial",
            "What_Id->Leads.Last_Name": "Okafor",
        }
    ]
