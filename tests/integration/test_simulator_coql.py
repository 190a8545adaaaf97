"""Simulator: COQL (selection, comparators, brackets, dot-joins, order, limits, errors, credits)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.crm.simulator import Simulator, create_simulator
from sergas_tui.demo import DemoStore
from tests.integration.simkit import HARBOR_POINT, Api, api_for, error_code, make_org

Record = dict[str, Any]
JORDAN = "5725767000001000001"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture(scope="module")
def store(org: Path) -> Iterator[DemoStore]:
    with DemoStore.open(org) as opened:
        yield opened


@pytest.fixture
def sim(org: Path) -> Iterator[Simulator]:
    simulator = create_simulator(org)
    yield simulator
    simulator.close()


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with api_for(sim) as client:
        yield client


async def rows(api: Api, query: str) -> list[Record]:
    response = await api.coql(query)
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    data: list[Record] = response.json()["data"]
    return data


def accounts_by_id(store: DemoStore) -> dict[str, Record]:
    return {a["id"]: a for a in store.records("Accounts")}


CASES: list[tuple[str, Callable[[Record, dict[str, Record]], bool]]] = [
    ("Amount = 120000", lambda r, _: r.get("Amount") == 120_000),
    ("Amount != 120000", lambda r, _: r.get("Amount") not in (None, 120_000)),
    ("Amount > 500000", lambda r, _: (r.get("Amount") or 0) > 500_000),
    ("Amount < 50000", lambda r, _: r.get("Amount") is not None and r["Amount"] < 50_000),
    ("Amount >= 120000", lambda r, _: (r.get("Amount") or 0) >= 120_000),
    ("Amount <= 48000", lambda r, _: r.get("Amount") is not None and r["Amount"] <= 48_000),
    (
        "Amount between 100000 and 200000",
        lambda r, _: 100_000 <= (r.get("Amount") or -1) <= 200_000,
    ),
    (
        "Amount not between 100000 and 200000",
        lambda r, _: r.get("Amount") is not None and not 100_000 <= r["Amount"] <= 200_000,
    ),
    (
        "Stage in ('Closed Won', 'Closed Lost')",
        lambda r, _: r["Stage"] in ("Closed Won", "Closed Lost"),
    ),
    (
        "Stage not in ('Closed Won', 'Closed Lost')",
        lambda r, _: r["Stage"] not in ("Closed Won", "Closed Lost"),
    ),
    ("Next_Step is null", lambda r, _: r.get("Next_Step") is None),
    ("Next_Step is not null", lambda r, _: r.get("Next_Step") is not None),
    ("Deal_Name like 'Harbor%'", lambda r, _: r["Deal_Name"].lower().startswith("harbor")),
    ("Deal_Name not like '%Renewal%'", lambda r, _: "renewal" not in r["Deal_Name"].lower()),
    ("Stage = 'closed won'", lambda r, _: r["Stage"] == "Closed Won"),
    ("Closing_Date < '2026-06-01'", lambda r, _: (r.get("Closing_Date") or "9") < "2026-06-01"),
    (
        "Modified_Time > '2026-09-01T12:00:00+02:00'",
        lambda r, _: r["Modified_Time"] > "2026-09-01T10:00:00+00:00",
    ),
    ("Owner = '5725767000001000001'", lambda r, _: r["Owner"]["id"] == JORDAN),
    ("Owner.email = 'jordan.avery@demo.sergas.test'", lambda r, _: r["Owner"]["id"] == JORDAN),
    (f"Account_Name = '{HARBOR_POINT}'", lambda r, _: r["Account_Name"]["id"] == HARBOR_POINT),
    (
        "Account_Name.Account_Name = 'Harbor Point Logistics'",
        lambda r, _: r["Account_Name"]["id"] == HARBOR_POINT,
    ),
    (
        "Account_Name.Owner = '5725767000001000001'",
        lambda r, acc: acc[r["Account_Name"]["id"]]["Owner"]["id"] == JORDAN,
    ),
    (
        "Account_Name.Industry in ('Retail', 'Healthcare')",
        lambda r, acc: acc[r["Account_Name"]["id"]].get("Industry") in ("Retail", "Healthcare"),
    ),
    (
        "(Stage = 'Closed Won' and Amount > 100000)",
        lambda r, _: r["Stage"] == "Closed Won" and (r.get("Amount") or 0) > 100_000,
    ),
    (
        "((Stage = 'Closed Won' or Stage = 'Closed Lost') and Amount > 100000)",
        lambda r, _: r["Stage"] in ("Closed Won", "Closed Lost") and (r.get("Amount") or 0) > 1e5,
    ),
    (
        "(Stage = 'Closed Won' and (Amount > 100000 or Type = 'Renewal'))",
        lambda r, _: (
            r["Stage"] == "Closed Won"
            and ((r.get("Amount") or 0) > 100_000 or r.get("Type") == "Renewal")
        ),
    ),
]


@pytest.mark.parametrize(("where", "predicate"), CASES)
async def test_comparators_select_the_right_deals(
    api: Api, store: DemoStore, where: str, predicate: Callable[[Record, dict[str, Record]], bool]
) -> None:
    accounts = accounts_by_id(store)
    expected = {r["id"] for r in store.records("Deals") if predicate(r, accounts)}

    got = await rows(api, f"select Deal_Name from Deals where {where} limit 2000")

    assert {r["id"] for r in got} == expected
    assert expected


async def test_selection_shapes(api: Api) -> None:
    (deal,) = await rows(
        api,
        "select Deal_Name, Amount, Account_Name, Owner, Account_Name.Account_Name, "
        "Account_Name.Owner, Owner.email from Deals where id = '5725767000001000010'",
    )

    assert deal == {
        "id": "5725767000001000010",
        "Deal_Name": "Harbor Point - Fleet Telematics Expansion",
        "Amount": deal["Amount"],
        "Account_Name": {"id": HARBOR_POINT, "name": "Harbor Point Logistics"},
        "Owner": {"id": JORDAN, "name": "Jordan Avery"},
        "Account_Name.Account_Name": "Harbor Point Logistics",
        "Account_Name.Owner": {"id": JORDAN, "name": "Jordan Avery"},
        "Owner.email": "jordan.avery@demo.sergas.test",
    }
    assert isinstance(deal["Amount"], int)


async def test_multi_module_lookups(api: Api, store: DemoStore) -> None:
    got = await rows(
        api,
        "select Subject, What_Id, What_Id.id, 'What_Id->Deals.Deal_Name' from Tasks "
        "where What_Id.id = '5725767000001000010'",
    )

    assert got
    for task in got:
        assert task["What_Id"]["id"] == task["What_Id.id"] == "5725767000001000010"
        assert task["What_Id->Deals.Deal_Name"] == "Harbor Point - Fleet Telematics Expansion"


async def test_users_and_booleans(api: Api, store: DemoStore) -> None:
    users = await rows(api, "select full_name, email, confirm, role.name from Users")
    assert [u["id"] for u in users] == sorted(u["id"] for u in store.users())
    assert all(u["confirm"] is True for u in users)
    assert {u["role.name"] for u in users} == {"Account Executive", "Sales Manager"}

    opted = await rows(api, "select Email_Opt_Out from Contacts where Email_Opt_Out = false")
    assert opted
    assert all(c["Email_Opt_Out"] is False for c in opted)


async def test_order_by_and_default_order(api: Api) -> None:
    by_amount = await rows(
        api, "select Amount, Deal_Name from Deals order by Amount desc, Deal_Name asc limit 50"
    )
    amounts = [r["Amount"] for r in by_amount]
    assert amounts == sorted(amounts, reverse=True)

    default = await rows(api, "select Deal_Name from Deals")
    ids = [r["id"] for r in default]
    assert ids == sorted(ids)
    assert len(ids) == 200


async def test_limit_and_offset(api: Api) -> None:
    first = await rows(api, "select Deal_Name from Deals order by Deal_Name limit 20")
    window = await rows(api, "select Deal_Name from Deals order by Deal_Name limit 10 offset 5")
    comma = await rows(api, "select Deal_Name from Deals order by Deal_Name limit 5, 10")

    assert window == comma == first[5:15]
    response = await api.coql("select Deal_Name from Deals limit 10")
    assert response.json()["info"] == {"count": 10, "more_records": True}
    tail = await api.coql("select Deal_Name from Deals limit 200 offset 200")
    assert tail.json()["info"]["more_records"] is False


def nested(count: int) -> str:
    text = "Amount > 0"
    for _ in range(count - 1):
        text = f"({text} and Amount > 0)"
    return text


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select Deal_Name from Deals where Amount > 1 and Amount < 9 and Stage = 'x'", "SYNTAX"),
        ("select Deal_Name from Deals where (Amount > 1 or Amount < 9 or Stage = 'x')", "SYNTAX"),
        ("select * from Deals", "SYNTAX_ERROR"),
        ("select COUNT(*) from Deals", "SYNTAX_ERROR"),
        ("select Deal_Name Deals", "SYNTAX_ERROR"),
        ("select Deal_Name from Deals where Amount >", "SYNTAX_ERROR"),
        ("select Deal_Name from Deals limit 2001", "LIMIT_EXCEEDED"),
        ("select Deal_Name from Deals limit 2000 offset 98001", "LIMIT_EXCEEDED"),
        ("select Deal_Name from Deals limit 98001, 2000", "LIMIT_EXCEEDED"),
        ("select " + ", ".join(["Deal_Name"] * 51) + " from Deals", "LIMIT_EXCEEDED"),
        (
            "select Deal_Name from Deals where Amount in (" + ", ".join(["1"] * 101) + ")",
            "LIMIT_EXCEEDED",
        ),
        ("select Deal_Name from Deals where " + nested(26), "LIMIT_EXCEEDED"),
        (
            "select Deal_Name from Deals order by "
            + ", ".join(["Deal_Name", "Amount", "Stage", "Type", "id", "Probability"] * 2),
            "LIMIT_EXCEEDED",
        ),
        ("select Nope from Deals", "INVALID_QUERY"),
        ("select Deal_Name from Deals where Nope = 1", "INVALID_QUERY"),
        ("select Deal_Name from Widgets", "INVALID_MODULE"),
        ("select Deal_Name from Deals where Modified_Time > '2026-01-01'", "INVALID_QUERY"),
        ("select Deal_Name from Deals where Deal_Name > 'A'", "INVALID_QUERY"),
        ("select Deal_Name from Deals where Amount = 'lots'", "INVALID_QUERY"),
        ("select What_Id.Deal_Name from Tasks", "INVALID_QUERY"),
    ],
)
async def test_errors(api: Api, query: str, code: str) -> None:
    response = await api.coql(query)

    assert response.status_code == 400
    assert error_code(response) == ("SYNTAX_ERROR" if code == "SYNTAX" else code)


async def test_25_criteria_are_allowed(api: Api) -> None:
    response = await api.coql("select Deal_Name from Deals where " + nested(25))

    assert response.status_code == 200


async def test_request_errors(api: Api) -> None:
    missing = await api.post("/crm/v8/coql", json={})
    assert error_code(missing) == "MANDATORY_NOT_FOUND"
    not_json = await api.post("/crm/v8/coql", content=b"select")
    assert error_code(not_json) == "INVALID_DATA"


async def test_no_rows_is_204(api: Api) -> None:
    response = await api.coql("select Deal_Name from Deals where Deal_Name = 'no such deal'")

    assert response.status_code == 204


@pytest.mark.parametrize(("limit", "credits"), [(1, 1), (200, 1), (201, 2), (1000, 2), (1001, 3)])
async def test_credits_by_limit_tier(api: Api, sim: Simulator, limit: int, credits: int) -> None:
    await api.coql(f"select Deal_Name from Deals limit {limit}")

    assert sim.counters.credits["COQL Deals"] == credits
    assert sim.counters.calls["COQL Deals"] == 1


async def test_paginate_beyond_offsets_by_id(api: Api, store: DemoStore) -> None:
    seen: list[str] = []
    last = "0"
    while True:
        page = await rows(api, f"select Subject from Tasks where id > {last} order by id limit 100")
        if not page:
            break
        seen += [r["id"] for r in page]
        last = page[-1]["id"]

    assert seen == sorted(t["id"] for t in store.records("Tasks"))
