"""Simulator: the Search API (criteria operators, escaping, email/phone/word, caps)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.crm.simulator import Simulator, SimulatorConfig, create_simulator
from sergas_tui.demo import DemoStore
from tests.integration.simkit import HARBOR_POINT, Api, api_for, copy_org, error_code, make_org

Record = dict[str, Any]
WORD_FIELDS = (
    *("First_Name", "Last_Name", "Full_Name", "Email", "Title", "Department"),
    *("Mailing_City", "Mailing_Country", "Phone", "Mobile", "Home_Address", "Personal_Email"),
)


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


async def search(api: Api, module: str, **params: Any) -> set[str]:
    """Ids of every match, following ``page`` while ``more_records``."""
    found: list[str] = []
    for page in range(1, 11):
        response = await api.get(f"/crm/v8/{module}/search", params={**params, "page": page})
        if response.status_code == 204:
            break
        assert response.status_code == 200, response.text
        body = response.json()
        found += [r["id"] for r in body["data"]]
        if not body["info"]["more_records"]:
            break
    assert len(found) == len(set(found))
    return set(found)


def amount(r: Record) -> float:
    value = r.get("Amount")
    return float("nan") if value is None else float(value)


DEAL_CASES: list[tuple[str, Callable[[Record], bool]]] = [
    ("(Deal_Name:equals:renewal)", lambda r: "renewal" in r["Deal_Name"].lower()),
    ("(Deal_Name:starts_with:Harbor)", lambda r: r["Deal_Name"].startswith("Harbor")),
    ("(Stage:equals:Closed Won)", lambda r: r["Stage"] == "Closed Won"),
    ("(Stage:not_equal:Closed Won)", lambda r: r["Stage"] != "Closed Won"),
    ("(Stage:in:Closed Won,Closed Lost)", lambda r: r["Stage"] in ("Closed Won", "Closed Lost")),
    ("(Amount:greater_than:500000)", lambda r: amount(r) > 500_000),
    ("(Amount:greater_equal:120000)", lambda r: amount(r) >= 120_000),
    ("(Amount:less_than:50000)", lambda r: amount(r) < 50_000),
    ("(Amount:less_equal:48000)", lambda r: amount(r) <= 48_000),
    ("(Amount:equals:120000)", lambda r: amount(r) == 120_000),
    ("(Amount:between:100000,200000)", lambda r: 100_000 <= amount(r) <= 200_000),
    (
        "(Closing_Date:between:2026-01-01,2026-06-30)",
        lambda r: "2026-01-01" <= (r.get("Closing_Date") or "") <= "2026-06-30",
    ),
    (
        "(Modified_Time:greater_than:2026-09-01T11:00:00+02:00)",
        lambda r: r["Modified_Time"] > "2026-09-01T09:00:00+00:00",
    ),
    (
        f"(Account_Name:equals:{HARBOR_POINT})",
        lambda r: r["Account_Name"]["id"] == HARBOR_POINT,
    ),
    (
        "(Account_Name:equals:Harbor Point Logistics)",
        lambda r: r["Account_Name"]["name"] == "Harbor Point Logistics",
    ),
    (
        "((Stage:equals:Closed Won)or(Stage:equals:Closed Lost))",
        lambda r: r["Stage"] in ("Closed Won", "Closed Lost"),
    ),
    (
        "((Stage:equals:Closed Won)and(Amount:greater_than:100000))",
        lambda r: r["Stage"] == "Closed Won" and amount(r) > 100_000,
    ),
    (
        "(((Stage:equals:Closed Won)and(Amount:greater_than:100000))or(Type:equals:Renewal))",
        lambda r: (
            (r["Stage"] == "Closed Won" and amount(r) > 100_000) or r.get("Type") == "Renewal"
        ),
    ),
]


@pytest.mark.parametrize(("criteria", "predicate"), DEAL_CASES)
async def test_criteria_operators(
    api: Api, store: DemoStore, criteria: str, predicate: Callable[[Record], bool]
) -> None:
    expected = {r["id"] for r in store.records("Deals") if predicate(r)}

    assert await search(api, "Deals", criteria=criteria) == expected
    assert expected  # every case selects something in the demo org


async def test_boolean_and_email_criteria(api: Api, store: DemoStore) -> None:
    opted_in = {r["id"] for r in store.records("Contacts") if r.get("Email_Opt_Out") is False}
    assert await search(api, "Contacts", criteria="(Email_Opt_Out:equals:false)") == opted_in


async def test_escaped_commas_and_parentheses(org: Path, tmp_path: Path) -> None:
    sim = create_simulator(copy_org(org, tmp_path))
    async with api_for(sim) as api:
        name = "Acme (Europe), Ltd"
        update = await api.put(
            f"/crm/v8/Accounts/{HARBOR_POINT}", json={"data": [{"Account_Name": name}]}
        )
        assert update.status_code == 200
        escaped = r"Acme \(Europe\)\, Ltd"
        found = await search(api, "Accounts", criteria=f"(Account_Name:equals:{escaped})")
        listed = await search(
            api, "Accounts", criteria=rf"(Account_Name:in:{escaped},Nobody\, Inc)"
        )
    sim.close()

    assert found == {HARBOR_POINT}
    assert listed == {HARBOR_POINT}


async def test_search_returns_requested_fields_or_whole_records(api: Api) -> None:
    params = {"criteria": "(Account_Name:starts_with:Harbor Point)"}
    whole = (await api.get("/crm/v8/Accounts/search", params=params)).json()["data"]
    assert whole[0]["Account_Name"] == "Harbor Point Logistics"
    assert "Billing_City" in whole[0]
    some = await api.get("/crm/v8/Accounts/search", params={**params, "fields": "Rating"})
    assert set(some.json()["data"][0]) == {"id", "Rating"}


async def test_email_phone_and_word(api: Api, store: DemoStore) -> None:
    contact = next(c for c in store.records("Contacts") if c.get("Email") and c.get("Mobile"))

    assert contact["id"] in await search(api, "Contacts", email=contact["Email"].upper())
    assert contact["id"] in await search(api, "Contacts", phone=contact["Mobile"])
    last = contact["Last_Name"]
    expected_word = {
        c["id"]
        for c in store.records("Contacts")
        if any(last.lower() in str(c.get(f) or "").lower() for f in WORD_FIELDS)
    }
    assert await search(api, "Contacts", word=last) == expected_word
    assert await search(api, "Accounts", email="nobody@nowhere.test") == set()


async def test_parameter_precedence(api: Api, store: DemoStore) -> None:
    contact = next(c for c in store.records("Contacts") if c.get("Email") and c.get("Phone"))
    by_criteria = await search(
        api,
        "Contacts",
        criteria=f"(Email:equals:{contact['Email']})",
        email="nobody@nowhere.test",
        word="zzzz",
    )
    by_email = await search(api, "Contacts", email=contact["Email"], phone="000000000", word="zzzz")
    by_phone = await search(api, "Contacts", phone=contact["Phone"], word="zzzz")

    assert contact["id"] in by_criteria
    assert contact["id"] in by_email
    assert contact["id"] in by_phone


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "EXPECTED_PARAM_MISSING"),
        ({"word": "a"}, "INVALID_DATA"),
        ({"word": "foo(bar)"}, "INVALID_DATA"),
        ({"criteria": "(Amount:starts_with:1)"}, "INVALID_QUERY"),
        ({"criteria": "(Nope:equals:1)"}, "INVALID_QUERY"),
        ({"criteria": "(Amount:greater_than:lots)"}, "INVALID_QUERY"),
        ({"criteria": "(Amount:between:1)"}, "INVALID_QUERY"),
        ({"criteria": "((Stage:equals:x)xor(Stage:equals:y))"}, "INVALID_QUERY"),
        ({"criteria": "((Stage:equals:x)and(Stage:equals:y)"}, "INVALID_QUERY"),
        ({"criteria": "(Stage:equals:x)", "page": 11}, "LIMIT_REACHED"),
    ],
)
async def test_search_errors(api: Api, params: dict[str, Any], code: str) -> None:
    response = await api.get("/crm/v8/Deals/search", params=params)

    assert response.status_code == 400
    assert error_code(response) == code


async def test_at_most_ten_conditions(api: Api) -> None:
    def nested(count: int) -> str:
        text = "(Amount:greater_than:0)"
        for _ in range(count - 1):
            text = f"({text}and(Amount:greater_than:0))"
        return text

    assert (await api.get("/crm/v8/Deals/search", params={"criteria": nested(10)})).is_success
    response = await api.get("/crm/v8/Deals/search", params={"criteria": nested(11)})
    assert error_code(response) == "LIMIT_EXCEEDED"


async def test_no_match_is_204(api: Api) -> None:
    response = await api.get(
        "/crm/v8/Deals/search", params={"criteria": "(Deal_Name:equals:no such deal)"}
    )

    assert response.status_code == 204
    assert response.content == b""


async def test_search_stops_at_the_cap(api: Api, sim: Simulator) -> None:
    sim.config.page_cap = 100
    params = {"criteria": "(Email:equals:.example)", "per_page": 50}
    page_two = (await api.get("/crm/v8/Contacts/search", params={**params, "page": 2})).json()
    assert page_two["info"]["more_records"] is True
    assert page_two["info"]["next_page_token"] is None
    page_three = await api.get("/crm/v8/Contacts/search", params={**params, "page": 3})
    assert page_three.status_code == 400
    assert error_code(page_three) == "LIMIT_REACHED"


async def test_search_needs_the_search_scope(org: Path) -> None:
    from sergas_tui.crm.simulator import OAuthClient

    client = OAuthClient("1000.X", "s", {"r": ("ZohoCRM.modules.ALL",)})
    sim = create_simulator(org, SimulatorConfig(clients=(client,)))
    async with api_for(sim, authenticate=False) as api:
        await api.refresh(client_id="1000.X", client_secret="s", refresh_token="r")
        response = await api.get("/crm/v8/Deals/search", params={"word": "Harbor"})
    sim.close()

    assert error_code(response) == "OAUTH_SCOPE_MISMATCH"
