"""Simulator: notes, tasks and account updates persist, stamp, audit and fail per record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.crm.simulator import Simulator, SimulatorConfig, create_simulator
from sergas_tui.demo import DemoStore
from tests.integration.simkit import (
    HARBOR_DEAL,
    HARBOR_POINT,
    NOW,
    Api,
    Clock,
    api_for,
    copy_org,
    error_code,
    make_org,
)

STAMP = "2026-11-02T09:30:00+00:00"
JORDAN = {"name": "Jordan Avery", "id": "5725767000001000001"}
ANA = "5725767000001000004"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture
def org(source: Path, tmp_path: Path) -> Path:
    return copy_org(source, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(org: Path, clock: Clock) -> Iterator[Simulator]:
    simulator = create_simulator(org, SimulatorConfig(clock=clock))
    yield simulator
    simulator.close()


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with api_for(sim) as client:
        yield client


def max_id(org: Path) -> int:
    import sqlite3

    with sqlite3.connect(org) as conn:
        (value,) = conn.execute("SELECT max(CAST(id AS INTEGER)) FROM records").fetchone()
    conn.close()
    return int(value)


def success(item: dict[str, Any], message: str) -> str:
    assert item["code"] == "SUCCESS"
    assert item["status"] == "success"
    assert item["message"] == message
    details = item["details"]
    assert set(details) == {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"}
    assert details["Modified_Time"] == STAMP
    assert details["Modified_By"] == JORDAN
    return str(details["id"])


async def test_note_with_parent_object(api: Api, org: Path) -> None:
    before = max_id(org)
    body = {
        "data": [
            {
                "Note_Title": "Call",
                "Note_Content": "They want a pilot.",
                "Parent_Id": {"module": {"api_name": "Accounts"}, "id": HARBOR_POINT},
            }
        ]
    }
    response = await api.post("/crm/v8/Notes", json=body)

    assert response.status_code == 201
    note_id = success(response.json()["data"][0], "record added")
    assert len(note_id) == 19
    assert int(note_id) == before + 1
    notes = await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}/Notes", params={"fields": "Parent_Id"})
    mine = [n for n in notes.json()["data"] if n["id"] == note_id]
    assert mine[0]["Parent_Id"]["name"] == "Harbor Point Logistics"
    timeline = (await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}/__timeline")).json()
    assert timeline["__timeline"][0]["related_record"]["id"] == note_id


@pytest.mark.parametrize("key", ["se_module", "$se_module"])
async def test_note_with_legacy_parent(api: Api, key: str) -> None:
    body = {"data": [{"Note_Content": "Legacy shape", "Parent_Id": HARBOR_DEAL, key: "Deals"}]}

    response = await api.post("/crm/v8/Notes", json=body)

    assert response.status_code == 201
    note_id = success(response.json()["data"][0], "record added")
    notes = await api.get(f"/crm/v8/Deals/{HARBOR_DEAL}/Notes", params={"fields": "id"})
    assert note_id in {n["id"] for n in notes.json()["data"]}


async def test_nested_note_url(api: Api) -> None:
    response = await api.post(
        f"/crm/v8/Accounts/{HARBOR_POINT}/Notes", json={"data": [{"Note_Content": "Nested"}]}
    )

    assert response.status_code == 201
    note_id = success(response.json()["data"][0], "record added")
    record = (await api.get(f"/crm/v8/Notes/{note_id}")).json()["data"][0]
    assert record["Parent_Id"]["module"] == {"api_name": "Accounts"}
    assert record["Owner"]["id"] == JORDAN["id"]


@pytest.mark.parametrize(
    ("item", "code", "api_name"),
    [
        (
            {"Parent_Id": HARBOR_POINT, "se_module": "Accounts"},
            "MANDATORY_NOT_FOUND",
            "Note_Content",
        ),
        ({"Note_Content": "x"}, "MANDATORY_NOT_FOUND", "Parent_Id"),
        ({"Note_Content": "x", "Parent_Id": HARBOR_POINT}, "MANDATORY_NOT_FOUND", "se_module"),
        (
            {"Note_Content": "x", "Parent_Id": "1", "se_module": "Accounts"},
            "INVALID_DATA",
            "Parent_Id",
        ),
        (
            {"Note_Content": "x", "Parent_Id": HARBOR_POINT, "se_module": "Leads"},
            "INVALID_DATA",
            "Parent_Id",
        ),
        (
            {"Note_Content": 5, "Parent_Id": HARBOR_POINT, "se_module": "Accounts"},
            "INVALID_DATA",
            "Note_Content",
        ),
    ],
)
async def test_note_errors(api: Api, item: dict[str, Any], code: str, api_name: str) -> None:
    response = await api.post("/crm/v8/Notes", json={"data": [item]})

    assert response.status_code == 400
    (error,) = response.json()["data"]
    assert error["code"] == code
    assert error["status"] == "error"
    assert error["details"]["api_name"] == api_name
    assert error["details"]["json_path"].startswith("$.data[0]")


async def test_task_on_a_deal(api: Api, org: Path, sim: Simulator) -> None:
    task = {
        "Subject": "Send the revised quote",
        "Due_Date": "2026-11-09",
        "Priority": "High",
        "What_Id": {"id": HARBOR_DEAL},
        "$se_module": "Deals",
        "Who_Id": {"id": "5725767000001000006"},
        "Description": "Follow-up",
    }
    response = await api.post("/crm/v8/Tasks", json={"data": [task]})

    assert response.status_code == 201
    task_id = success(response.json()["data"][0], "record added")
    stored = (await api.get(f"/crm/v8/Tasks/{task_id}")).json()["data"][0]
    assert stored["What_Id"] == {
        "name": "Harbor Point - Fleet Telematics Expansion",
        "id": HARBOR_DEAL,
    }
    assert stored["$se_module"] == "Deals"
    assert stored["Status"] == "Not Started"
    assert stored["Owner"]["email"] == "jordan.avery@demo.sergas.test"
    deal_tasks = await api.get(f"/crm/v8/Deals/{HARBOR_DEAL}/Tasks", params={"fields": "id"})
    assert task_id in {t["id"] for t in deal_tasks.json()["data"]}
    account_tasks = await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}/Tasks", params={"fields": "id"})
    assert task_id in {t["id"] for t in account_tasks.json()["data"]}
    for url in (f"/crm/v8/Accounts/{HARBOR_POINT}", f"/crm/v8/Deals/{HARBOR_DEAL}"):
        record = (await api.get(url, params={"fields": "Last_Activity_Time"})).json()["data"][0]
        assert record["Last_Activity_Time"] == STAMP


@pytest.mark.parametrize(
    ("item", "code", "api_name"),
    [
        ({"Due_Date": "2026-11-09"}, "MANDATORY_NOT_FOUND", "Subject"),
        ({"Subject": "x", "What_Id": {"id": HARBOR_POINT}}, "MANDATORY_NOT_FOUND", "$se_module"),
        (
            {"Subject": "x", "What_Id": {"id": HARBOR_POINT}, "$se_module": "Leads"},
            "INVALID_DATA",
            "$se_module",
        ),
        (
            {"Subject": "x", "What_Id": {"id": "42"}, "$se_module": "Accounts"},
            "INVALID_DATA",
            "What_Id",
        ),
        ({"Subject": "x", "Who_Id": {"id": HARBOR_POINT}}, "INVALID_DATA", "Who_Id"),
        ({"Subject": "x", "Due_Date": "09/11/2026"}, "INVALID_DATA", "Due_Date"),
        ({"Subject": "x", "Priority": "Urgent"}, "INVALID_DATA", "Priority"),
        ({"Subject": "x", "Owner": {"id": "99"}}, "INVALID_DATA", "Owner"),
        ({"Subject": "x", "Colour": "red"}, "INVALID_DATA", "Colour"),
    ],
)
async def test_task_errors(api: Api, item: dict[str, Any], code: str, api_name: str) -> None:
    response = await api.post("/crm/v8/Tasks", json={"data": [item]})

    assert response.status_code == 400
    (error,) = response.json()["data"]
    assert error["code"] == code
    assert error["details"]["api_name"] == api_name


async def test_account_update_is_partial_and_audited(api: Api, clock: Clock) -> None:
    url = f"/crm/v8/Accounts/{HARBOR_POINT}"
    before = (await api.get(url)).json()["data"][0]
    clock.advance(minutes=5)

    response = await api.put(
        url,
        json={"data": [{"Rating": "Project Cancelled", "Employees": 950, "Owner": {"id": ANA}}]},
    )

    assert response.status_code == 200
    (item,) = response.json()["data"]
    assert item["message"] == "record updated"
    assert item["details"]["Modified_Time"] == "2026-11-02T09:35:00+00:00"
    after = (await api.get(url)).json()["data"][0]
    assert after["Rating"] == "Project Cancelled"
    assert after["Employees"] == 950
    assert after["Owner"] == {"name": "Ana Wong", "id": ANA, "email": "ana.wong@demo.sergas.test"}
    assert after["Phone"] == before["Phone"]
    assert after["Modified_By"]["id"] == JORDAN["id"]
    entry = (await api.get(f"{url}/__timeline")).json()["__timeline"][0]
    assert entry["action"] == "updated"
    changes = {c["api_name"]: c["_value"] for c in entry["field_history"]}
    assert changes["Rating"] == {"old": before["Rating"], "new": "Project Cancelled"}
    assert changes["Employees"] == {"old": before["Employees"], "new": 950}
    assert changes["Owner"]["new"] == {"name": "Ana Wong", "id": ANA}
    mine = await api.coql(f"select Account_Name from Accounts where Owner = '{ANA}' limit 2000")
    assert HARBOR_POINT in {r["id"] for r in mine.json()["data"]}
    since = await api.get(
        "/crm/v8/Accounts",
        params={"fields": "Account_Name"},
        headers={"If-Modified-Since": "2026-11-02T09:31:00+00:00"},
    )
    assert [r["id"] for r in since.json()["data"]] == [HARBOR_POINT]


async def test_if_unmodified_since(api: Api) -> None:
    url = f"/crm/v8/Accounts/{HARBOR_POINT}"
    stale = await api.put(
        url,
        json={"data": [{"Rating": "Active"}]},
        headers={"If-Unmodified-Since": "2020-01-01T00:00:00+00:00"},
    )
    assert stale.status_code == 412
    assert stale.json()["data"][0]["code"] == "ALREADY_MODIFIED"

    fresh = await api.put(
        url,
        json={"data": [{"Rating": "Active"}]},
        headers={"If-Unmodified-Since": "2026-11-02T09:30:00+00:00"},
    )
    assert fresh.status_code == 200


async def test_batch_update_reports_each_record(api: Api) -> None:
    body = {
        "data": [
            {"id": HARBOR_POINT, "Phone": "+1 555 0100"},
            {"id": "5725767000009999999", "Phone": "+1 555 0101"},
            {"Phone": "+1 555 0102"},
            {"id": HARBOR_POINT, "Employees": "many"},
        ]
    }
    response = await api.put("/crm/v8/Accounts", json=body)

    assert response.status_code == 207
    first, unknown, no_id, bad_value = response.json()["data"]
    assert first["code"] == "SUCCESS"
    assert unknown["code"] == "INVALID_DATA"
    assert unknown["details"]["api_name"] == "id"
    assert no_id["code"] == "MANDATORY_NOT_FOUND"
    assert bad_value["code"] == "INVALID_DATA"
    assert bad_value["details"] == {
        "api_name": "Employees",
        "json_path": "$.data[3].Employees",
        "expected_data_type": "integer",
    }

    failed = await api.put("/crm/v8/Accounts", json={"data": [{"id": "1", "Phone": "x"}]})
    assert failed.status_code == 400


@pytest.mark.parametrize(
    ("item", "api_name"),
    [
        ({"Modified_Time": STAMP}, "Modified_Time"),
        ({"Last_Activity_Time": STAMP}, "Last_Activity_Time"),
        ({"account_name": "lower"}, "account_name"),
        ({"Account_Name": "x" * 256}, "Account_Name"),
        ({"Parent_Account": {"id": "1"}}, "Parent_Account"),
        ({"Annual_Revenue": "lots"}, "Annual_Revenue"),
    ],
)
async def test_account_update_errors(api: Api, item: dict[str, Any], api_name: str) -> None:
    response = await api.put(f"/crm/v8/Accounts/{HARBOR_POINT}", json={"data": [item]})

    assert response.status_code == 400
    assert response.json()["data"][0]["details"]["api_name"] == api_name


@pytest.mark.parametrize(
    ("method", "url", "body", "code"),
    [
        ("PUT", "/crm/v8/Accounts", {"data": [{"id": HARBOR_POINT}] * 101}, "LIMIT_EXCEEDED"),
        ("PUT", "/crm/v8/Accounts", {"data": []}, "INVALID_DATA"),
        ("POST", "/crm/v8/Accounts", {"data": [{"Account_Name": "New"}]}, "INVALID_REQUEST_METHOD"),
        ("PUT", "/crm/v8/Deals", {"data": [{"id": HARBOR_DEAL}]}, "INVALID_REQUEST_METHOD"),
        (
            "POST",
            "/crm/v8/Tasks/1/Notes",
            {"data": [{"Note_Content": "x"}]},
            "INVALID_REQUEST_METHOD",
        ),
    ],
)
async def test_request_level_errors(
    api: Api, method: str, url: str, body: dict[str, Any], code: str
) -> None:
    response = await api.http.request(method, url, json=body, headers=api.headers)

    assert response.status_code == 400
    assert error_code(response) == code


async def test_write_credits_are_one_per_ten_records(api: Api, sim: Simulator) -> None:
    body = {"data": [{"id": HARBOR_POINT, "Rating": "Active"}] * 11}

    response = await api.put("/crm/v8/Accounts", json=body)

    assert response.status_code == 200
    assert sim.counters.credits["PUT Accounts"] == 2


async def test_concurrent_writes_get_distinct_increasing_ids(api: Api, org: Path) -> None:
    before = max_id(org)
    body = {"data": [{"Subject": "Parallel", "What_Id": HARBOR_POINT, "$se_module": "Accounts"}]}

    responses = await asyncio.gather(*(api.post("/crm/v8/Tasks", json=body) for _ in range(5)))

    ids = sorted(int(r.json()["data"][0]["details"]["id"]) for r in responses)
    assert ids == list(range(before + 1, before + 6))


async def test_writes_persist_in_a_file_the_demo_store_still_opens(
    api: Api, sim: Simulator, org: Path
) -> None:
    response = await api.post(
        f"/crm/v8/Deals/{HARBOR_DEAL}/Notes", json={"data": [{"Note_Content": "Persisted"}]}
    )
    note_id = response.json()["data"][0]["details"]["id"]
    sim.close()

    with DemoStore.open(org) as store:
        note = store.record("Notes", note_id)
        assert note is not None
        assert note["Note_Content"] == "Persisted"
        assert note_id in {n["id"] for n in store.related("Notes", HARBOR_POINT)}
        assert store.meta().anchor == NOW
