"""Simulator: listing records (fields, paging, page tokens, If-Modified-Since) and single reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.crm.simulator import SimulatorConfig, create_simulator
from sergas_tui.demo import DemoStore
from tests.integration.simkit import HARBOR_POINT, NOW, Api, api_for, error_code, make_org


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def config(clock: FixedClock) -> SimulatorConfig:
    return SimulatorConfig(clock=clock, token_lifetime=timedelta(days=30))


@pytest.fixture
async def api(org: Path, config: SimulatorConfig) -> AsyncIterator[Api]:
    sim = create_simulator(org, config)
    async with api_for(sim) as client:
        yield client
    sim.close()


def all_ids(org: Path, module: str) -> set[str]:
    with DemoStore.open(org) as store:
        return {r["id"] for r in store.records(module)}


async def test_fields_is_required(api: Api) -> None:
    response = await api.get("/crm/v8/Accounts")

    assert response.status_code == 400
    assert error_code(response) == "REQUIRED_PARAM_MISSING"


async def test_at_most_50_fields(api: Api) -> None:
    fifty = ",".join(["Account_Name", *(f"Custom_{i}" for i in range(49))])
    assert (await api.get("/crm/v8/Accounts", params={"fields": fifty})).status_code == 200

    response = await api.get("/crm/v8/Accounts", params={"fields": fifty + ",Phone"})
    assert response.status_code == 400
    assert error_code(response) == "LIMIT_EXCEEDED"


async def test_only_requested_fields_and_id_come_back(api: Api) -> None:
    response = await api.get("/crm/v8/Accounts", params={"fields": "Account_Name,Owner,Phone"})

    assert response.status_code == 200
    body = response.json()
    assert all(set(r) <= {"id", "Account_Name", "Owner", "Phone"} for r in body["data"])
    assert all({"id", "Account_Name", "Owner"} <= set(r) for r in body["data"])
    assert set(body["data"][0]["Owner"]) == {"name", "id", "email"}
    info = body["info"]
    assert info["per_page"] == 200
    assert info["count"] == 150
    assert info["page"] == 1
    assert info["more_records"] is False
    assert info["next_page_token"] is None
    assert {"sort_by", "sort_order", "previous_page_token", "page_token_expiry"} <= set(info)


async def test_default_order_is_id_descending_and_sort_by_is_checked(api: Api) -> None:
    ids = [r["id"] for r in (await api.get("/crm/v8/Accounts?fields=id")).json()["data"]]
    assert ids == sorted(ids, reverse=True)

    response = await api.get(
        "/crm/v8/Deals",
        params={"fields": "Modified_Time", "sort_by": "Modified_Time", "sort_order": "asc"},
    )
    times = [r["Modified_Time"] for r in response.json()["data"]]
    assert times == sorted(times)

    bad = await api.get("/crm/v8/Deals", params={"fields": "Stage", "sort_by": "Stage"})
    assert bad.status_code == 400
    assert error_code(bad) == "INVALID_DATA"


async def test_per_page_is_at_most_200(api: Api) -> None:
    response = await api.get("/crm/v8/Accounts", params={"fields": "id", "per_page": 201})

    assert response.status_code == 400
    assert error_code(response) == "INVALID_DATA"


async def test_pages_cover_every_record_then_204(api: Api, org: Path) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        response = await api.get(
            "/crm/v8/Accounts", params={"fields": "id", "per_page": 50, "page": page}
        )
        body = response.json()
        assert body["info"]["page"] == page
        assert body["info"]["more_records"] is (page < 3)
        seen += [r["id"] for r in body["data"]]
    empty = await api.get("/crm/v8/Accounts", params={"fields": "id", "per_page": 50, "page": 4})

    assert len(seen) == len(set(seen)) == 150
    assert set(seen) == all_ids(org, "Accounts")
    assert empty.status_code == 204
    assert empty.content == b""


async def test_page_reaches_only_the_first_2000_records(api: Api) -> None:
    response = await api.get("/crm/v8/Notes", params={"fields": "id", "page": 11})

    assert response.status_code == 400
    assert error_code(response) == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"


async def test_page_tokens_reach_records_beyond_the_page_cap(
    api: Api, config: SimulatorConfig, org: Path
) -> None:
    config.page_cap = 100
    params = {"fields": "Full_Name", "per_page": 40, "sort_by": "Modified_Time"}
    seen: list[str] = []
    for page in (1, 2, 3):
        body = (await api.get("/crm/v8/Contacts", params={**params, "page": page})).json()
        seen += [r["id"] for r in body["data"]]
    assert body["info"]["count"] == 20  # the third page stops at the cap
    assert body["info"]["more_records"] is True
    over = await api.get("/crm/v8/Contacts", params={**params, "page": 4})
    assert over.status_code == 400
    assert error_code(over) == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"

    token = body["info"]["next_page_token"]
    assert token
    assert body["info"]["page_token_expiry"]
    while token:
        response = await api.get("/crm/v8/Contacts", params={**params, "page_token": token})
        body = response.json()
        assert body["info"]["previous_page_token"] == token
        seen += [r["id"] for r in body["data"]]
        token = body["info"]["next_page_token"]

    assert len(seen) == len(set(seen))
    assert set(seen) == all_ids(org, "Contacts")


async def test_page_token_errors(api: Api, config: SimulatorConfig, clock: FixedClock) -> None:
    params = {"fields": "Full_Name", "per_page": 50}
    token = (await api.get("/crm/v8/Contacts", params=params)).json()["info"]["next_page_token"]

    cases = [
        ({**params, "page_token": token, "page": 2}, "AMBIGUITY_DURING_PROCESSING"),
        ({**params, "fields": "Email", "page_token": token}, "TOKEN_BOUND_DATA_MISMATCH"),
        ({**params, "sort_order": "asc", "page_token": token}, "TOKEN_BOUND_DATA_MISMATCH"),
        ({**params, "page_token": token[:-4] + "0000"}, "INVALID_DATA"),
        ({**params, "page_token": "garbage"}, "INVALID_DATA"),
    ]
    for query, code in cases:
        response = await api.get("/crm/v8/Contacts", params=query)
        assert response.status_code == 400, query
        assert error_code(response) == code, query

    clock.advance(timedelta(hours=24, seconds=1))
    expired = await api.get("/crm/v8/Contacts", params={**params, "page_token": token})
    assert error_code(expired) == "EXPIRED_VALUE"


async def test_page_tokens_stop_at_the_token_cap(api: Api, config: SimulatorConfig) -> None:
    config.page_cap, config.page_token_cap = 40, 100
    params = {"fields": "id", "per_page": 40}
    token = (await api.get("/crm/v8/Contacts", params=params)).json()["info"]["next_page_token"]
    counts = []
    while token:
        response = await api.get("/crm/v8/Contacts", params={**params, "page_token": token})
        if response.status_code == 400:
            assert error_code(response) == "PAGINATION_LIMIT_EXCEEDED"
            break
        counts.append(response.json()["info"]["count"])
        token = response.json()["info"]["next_page_token"]

    assert counts == [40, 20]


async def test_ids_selects_records(api: Api) -> None:
    ids = (await api.get("/crm/v8/Deals?fields=id&per_page=3")).json()["data"]
    wanted = ",".join(r["id"] for r in ids)

    response = await api.get("/crm/v8/Deals", params={"fields": "Deal_Name", "ids": wanted})

    assert {r["id"] for r in response.json()["data"]} == set(wanted.split(","))
    none = await api.get("/crm/v8/Deals", params={"fields": "Deal_Name", "ids": "123"})
    assert none.status_code == 204
    assert none.content == b""


async def test_if_modified_since_filters_and_answers_304(api: Api, org: Path) -> None:
    since = "2026-10-01T12:00:00+02:00"
    with DemoStore.open(org) as store:
        expected = {
            r["id"]
            for r in store.records("Tasks")
            if r["Modified_Time"] > "2026-10-01T10:00:00+00:00"
        }

    response = await api.get(
        "/crm/v8/Tasks", params={"fields": "Modified_Time"}, headers={"If-Modified-Since": since}
    )
    assert {r["id"] for r in response.json()["data"]} == expected

    http_date = await api.get(
        "/crm/v8/Tasks",
        params={"fields": "Modified_Time"},
        headers={"If-Modified-Since": "Thu, 01 Oct 2026 10:00:00 GMT"},
    )
    assert {r["id"] for r in http_date.json()["data"]} == expected

    future = await api.get(
        "/crm/v8/Tasks",
        params={"fields": "Modified_Time"},
        headers={"If-Modified-Since": "2027-01-01T00:00:00+00:00"},
    )
    assert future.status_code == 304
    assert future.content == b""


async def test_get_one_record(api: Api) -> None:
    response = await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}")

    assert response.status_code == 200
    (record,) = response.json()["data"]
    assert record["Account_Name"] == "Harbor Point Logistics"
    assert record["$editable"] is True
    only = await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}", params={"fields": "Rating"})
    assert set(only.json()["data"][0]) == {"id", "Rating"}
    unknown = await api.get("/crm/v8/Accounts/5725767000009999999")
    assert unknown.status_code == 204
    assert unknown.content == b""


@pytest.mark.parametrize(
    ("method", "url", "status", "code"),
    [
        ("GET", "/crm/v8/Potentials?fields=id", 400, "INVALID_MODULE"),
        ("GET", "/crm/v8/Stage_History?fields=id", 400, "INVALID_MODULE"),
        ("GET", "/crm/v7/Accounts?fields=id", 404, "INVALID_URL_PATTERN"),
        ("GET", "/crm/v8/Accounts/1/Contacts/2/3", 404, "INVALID_URL_PATTERN"),
        ("PATCH", "/crm/v8/Accounts?ids=1", 400, "INVALID_REQUEST_METHOD"),
        ("GET", "/crm/v8/coql", 400, "INVALID_REQUEST_METHOD"),
    ],
)
async def test_url_errors(api: Api, method: str, url: str, status: int, code: str) -> None:
    response = await api.http.request(method, url, headers=api.headers)

    assert response.status_code == status
    assert error_code(response) == code


async def test_module_names_are_case_insensitive(api: Api) -> None:
    response = await api.get("/crm/v8/accounts", params={"fields": "id", "per_page": 1})

    assert response.status_code == 200
