"""Simulator writes: inserts, updates, upserts and deletes persist, stamp, audit, keep the
store consistent and fail per record as Zoho documents."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.crm.simulator import Simulator, SimulatorConfig, create_simulator
from sergas_tui.crm.simulator.config import OAuthClient
from sergas_tui.demo import DemoStore
from sergas_tui.demo.zoho import MODULE_IDS
from tests.integration.simkit import (
    HARBOR_DEAL,
    HARBOR_POINT,
    NOW,
    Api,
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
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def sim(org: Path, clock: FixedClock) -> Iterator[Simulator]:
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
            {"Subject": "x", "What_Id": {"id": HARBOR_POINT}, "$se_module": "Campaigns"},
            "INVALID_DATA",
            "$se_module",
        ),
        (
            {"Subject": "x", "What_Id": {"id": HARBOR_POINT}, "$se_module": "Leads"},
            "INVALID_DATA",
            "What_Id",
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


async def test_account_update_is_partial_and_audited(api: Api, clock: FixedClock) -> None:
    url = f"/crm/v8/Accounts/{HARBOR_POINT}"
    before = (await api.get(url)).json()["data"][0]
    clock.advance(timedelta(minutes=5))

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
        ("POST", "/crm/v8/Accounts", {"data": {"Account_Name": "New"}}, "INVALID_DATA"),
        ("PATCH", "/crm/v8/Deals", {"data": [{"id": HARBOR_DEAL}]}, "INVALID_REQUEST_METHOD"),
        ("POST", "/crm/v8/Stage_History", {"data": [{"Stage": "x"}]}, "INVALID_MODULE"),
        ("POST", "/crm/v8/Tasks/upsert", {"data": [{"Subject": "x"}]}, "INVALID_MODULE"),
        (
            "POST",
            "/crm/v8/Leads/upsert",
            {"data": [{"Last_Name": "x"}], "duplicate_check_fields": ["Phone"]},
            "INVALID_DATA",
        ),
        (
            "POST",
            "/crm/v8/Leads/upsert",
            {"data": [{"Last_Name": "x"}], "duplicate_check_fields": "Email"},
            "INVALID_DATA",
        ),
        ("DELETE", "/crm/v8/Accounts", None, "REQUIRED_PARAM_MISSING"),
        ("DELETE", "/crm/v8/Accounts?ids=", None, "REQUIRED_PARAM_MISSING"),
        ("DELETE", "/crm/v8/Accounts?ids=12,abc", None, "UNABLE_TO_PARSE_DATA_TYPE"),
        (
            "DELETE",
            "/crm/v8/Accounts?ids=" + ",".join(str(10**18 + i) for i in range(101)),
            None,
            "LIMIT_EXCEEDED",
        ),
        (
            "POST",
            "/crm/v8/Tasks/1/Notes",
            {"data": [{"Note_Content": "x"}]},
            "INVALID_REQUEST_METHOD",
        ),
    ],
)
async def test_request_level_errors(
    api: Api, method: str, url: str, body: dict[str, Any] | None, code: str
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


# -- every record module: insert -------------------------------------------------------------

MERIDIAN = "5725767000001000024"
ELAINE = "5725767000001000006"  # a Harbor Point contact
HARBOR_STAGES = 6  # Stage_History rows of HARBOR_DEAL in the demo org


def stage_rows(org: Path, deal_id: str) -> int:
    with sqlite3.connect(org) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM records WHERE module = 'Stage_History' "
            "AND json_extract(data, '$.\"$deal_id\"') = ?",
            (deal_id,),
        ).fetchone()
    conn.close()
    return int(count)


async def delete(api: Api, url: str) -> httpx.Response:
    return await api.http.request("DELETE", url, headers=api.headers)


async def created(api: Api, module: str, item: dict[str, Any]) -> dict[str, Any]:
    """POST one record; the stored record as GET returns it."""
    response = await api.post(f"/crm/v8/{module}", json={"data": [item]})
    assert response.status_code == 201, response.json()
    record_id = success(response.json()["data"][0], "record added")
    stored = await api.get(f"/crm/v8/{module}/{record_id}")
    assert stored.status_code == 200
    record: dict[str, Any] = stored.json()["data"][0]
    return record


async def related_ids(api: Api, module: str, record_id: str, related: str) -> set[str]:
    response = await api.get(
        f"/crm/v8/{module}/{record_id}/{related}", params={"fields": "id", "per_page": 200}
    )
    assert response.status_code in (200, 204)
    return set() if response.status_code == 204 else {r["id"] for r in response.json()["data"]}


async def test_lead_insert_computes_full_name(api: Api, org: Path) -> None:
    before = max_id(org)

    lead = await created(
        api,
        "Leads",
        {"First_Name": "Brian", "Last_Name": "Dolan", "Company": "Villa", "Email": "b@villa.test"},
    )

    assert int(lead["id"]) == before + 1
    assert lead["Full_Name"] == "Brian Dolan"
    assert lead["Owner"]["id"] == JORDAN["id"]
    assert lead["Created_Time"] == lead["Modified_Time"] == STAMP
    assert lead["$approval_state"] == "approved"
    assert lead["Layout"]["name"] == "Standard"
    listed = await api.get("/crm/v8/Leads", params={"fields": "Full_Name,Email"})
    assert listed.json()["data"] == [
        {"id": lead["id"], "Full_Name": "Brian Dolan", "Email": "b@villa.test"}
    ]
    timeline = (await api.get(f"/crm/v8/Leads/{lead['id']}/__timeline")).json()["__timeline"]
    assert [(e["action"], e["record"]["name"]) for e in timeline] == [("added", "Brian Dolan")]


async def test_account_and_contact_inserts_fill_related_lists(api: Api) -> None:
    account = await created(
        api,
        "Accounts",
        {"Account_Name": "Northwind Freight", "Parent_Account": {"id": HARBOR_POINT}},
    )
    contact = await created(
        api,
        "Contacts",
        {"Last_Name": "Quill", "First_Name": "Pia", "Account_Name": account["id"]},
    )

    assert account["Parent_Account"] == {"name": "Harbor Point Logistics", "id": HARBOR_POINT}
    assert contact["Full_Name"] == "Pia Quill"
    assert contact["Account_Name"] == {"name": "Northwind Freight", "id": account["id"]}
    assert await related_ids(api, "Accounts", account["id"], "Contacts") == {contact["id"]}
    note = await api.post(
        f"/crm/v8/Contacts/{contact['id']}/Notes", json={"data": [{"Note_Content": "Met"}]}
    )
    assert note.status_code == 201
    note_id = note.json()["data"][0]["details"]["id"]
    assert await related_ids(api, "Contacts", contact["id"], "Notes") == {note_id}
    mine = await api.coql(
        f"select Full_Name from Contacts where Account_Name = '{account['id']}' limit 10"
    )
    assert [r["id"] for r in mine.json()["data"]] == [contact["id"]]


async def test_deal_insert_fills_probability_revenue_and_stage_history(api: Api) -> None:
    deal = await created(
        api,
        "Deals",
        {
            "Deal_Name": "Harbor Point - Yard Sensors",
            "Stage": "Needs Analysis",
            "Closing_Date": "2026-12-15",
            "Amount": 40000,
            "Account_Name": {"id": HARBOR_POINT},
            "Contact_Name": {"id": ELAINE},
        },
    )

    assert deal["Probability"] == 20
    assert deal["Expected_Revenue"] == 8000
    assert deal["Pipeline"] == "Standard (Standard)"
    assert deal["Contact_Name"] == {"name": "Elaine Porter", "id": ELAINE}
    assert deal["id"] in await related_ids(api, "Accounts", HARBOR_POINT, "Deals")
    assert deal["id"] in await related_ids(api, "Contacts", ELAINE, "Deals")
    history = await api.get(
        f"/crm/v8/Deals/{deal['id']}/Stage_History", params={"fields": "Stage,Probability"}
    )
    assert [(r["Stage"], r["Probability"]) for r in history.json()["data"]] == [
        ("Needs Analysis", 20)
    ]

    given = await created(
        api,
        "Deals",
        {
            "Deal_Name": "Given",
            "Stage": "Qualification",
            "Closing_Date": "2026-12-01",
            "Probability": 35,
        },
    )
    assert given["Probability"] == 35
    assert "Expected_Revenue" not in given or given["Expected_Revenue"] is None


async def test_event_and_call_inserts_reach_their_records(api: Api) -> None:
    event = await created(
        api,
        "Events",
        {
            "Event_Title": "Yard walk",
            "Start_DateTime": "2026-11-10T10:00:00+00:00",
            "End_DateTime": "2026-11-10T11:00:00+00:00",
            "What_Id": {"id": HARBOR_DEAL},
            "$se_module": "Deals",
        },
    )
    call = await created(
        api,
        "Calls",
        {
            "Subject": "Intro call",
            "Call_Type": "Outbound",
            "Call_Start_Time": "2026-11-02T08:00:00+00:00",
            "Call_Duration": "05:00",
            "Who_Id": {"id": ELAINE},
        },
    )

    assert event["What_Id"]["name"] == "Harbor Point - Fleet Telematics Expansion"
    assert event["id"] in await related_ids(api, "Deals", HARBOR_DEAL, "Events")
    assert event["id"] in await related_ids(api, "Accounts", HARBOR_POINT, "Events")
    assert call["Who_Id"] == {"name": "Elaine Porter", "id": ELAINE}
    assert call["id"] in await related_ids(api, "Contacts", ELAINE, "Calls")
    assert call["id"] in await related_ids(api, "Accounts", HARBOR_POINT, "Calls")
    deal = (await api.get(f"/crm/v8/Deals/{HARBOR_DEAL}")).json()["data"][0]
    assert deal["Last_Activity_Time"] == STAMP
    timeline = (await api.get(f"/crm/v8/Deals/{HARBOR_DEAL}/__timeline")).json()["__timeline"]
    assert timeline[0]["related_record"]["id"] == event["id"]


async def test_task_on_a_lead(api: Api) -> None:
    lead = await created(api, "Leads", {"Last_Name": "Okafor", "Company": "Kite Labs"})

    task = await created(
        api,
        "Tasks",
        {"Subject": "Qualify", "Status": "Completed", "What_Id": lead["id"], "$se_module": "Leads"},
    )

    assert task["What_Id"] == {"name": "Okafor", "id": lead["id"]}
    assert task["Closed_Time"] == STAMP
    lead_after = (await api.get(f"/crm/v8/Leads/{lead['id']}")).json()["data"][0]
    assert lead_after["Last_Activity_Time"] == STAMP


@pytest.mark.parametrize(
    ("module", "item", "api_name"),
    [
        ("Leads", {"First_Name": "No", "Company": "Last name"}, "Last_Name"),
        ("Accounts", {"Website": "https://x.example"}, "Account_Name"),
        ("Accounts", {"Account_Name": "   "}, "Account_Name"),
        ("Contacts", {"First_Name": "Only"}, "Last_Name"),
        ("Deals", {"Deal_Name": "No stage", "Closing_Date": "2026-12-01"}, "Stage"),
        ("Events", {"Event_Title": "x", "Start_DateTime": STAMP}, "End_DateTime"),
        ("Calls", {"Subject": "x", "Call_Start_Time": STAMP}, "Call_Type"),
        (
            "Calls",
            {"Subject": "x", "Call_Type": "Outbound", "Call_Start_Time": STAMP},
            "Call_Duration",
        ),
        ("Tasks", {"Subject": None}, "Subject"),
    ],
)
async def test_missing_mandatory_fields(
    api: Api, org: Path, module: str, item: dict[str, Any], api_name: str
) -> None:
    before = max_id(org)

    response = await api.post(f"/crm/v8/{module}", json={"data": [item]})

    assert response.status_code == 400
    (error,) = response.json()["data"]
    assert error == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": api_name, "json_path": f"$.data[0].{api_name}"},
        "message": "required field not found",
        "status": "error",
    }
    assert max_id(org) == before


@pytest.mark.parametrize(
    ("module", "item", "api_name", "message"),
    [
        (
            "Deals",
            {"Deal_Name": "x", "Stage": "Won-ish", "Closing_Date": "2026-12-01"},
            "Stage",
            "invalid picklist value",
        ),
        (
            "Deals",
            {
                "Deal_Name": "x",
                "Stage": "Qualification",
                "Closing_Date": "2026-12-01",
                "Probability": 120,
            },
            "Probability",
            "Given Probability is not valid",
        ),
        (
            "Deals",
            {
                "Deal_Name": "x",
                "Stage": "Qualification",
                "Closing_Date": "2026-12-01",
                "Expected_Revenue": 5,
            },
            "Expected_Revenue",
            "the field is read only",
        ),
        (
            "Contacts",
            {"Last_Name": "x", "Full_Name": "Mr X"},
            "Full_Name",
            "the field is read only",
        ),
        (
            "Contacts",
            {"Last_Name": "x", "Account_Name": {"id": ELAINE}},
            "Account_Name",
            "the id given seems to be invalid",
        ),
        (
            "Leads",
            {"Last_Name": "x", "Company": "y", "Email": "not-an-email"},
            "Email",
            "invalid data",
        ),
        (
            "Calls",
            {
                "Subject": "x",
                "Call_Type": "Inbound",
                "Call_Start_Time": STAMP,
                "Call_Duration": "00:00",
            },
            "Call_Duration",
            "Call Duration can not be zero.",
        ),
    ],
)
async def test_insert_value_errors(
    api: Api, module: str, item: dict[str, Any], api_name: str, message: str
) -> None:
    response = await api.post(f"/crm/v8/{module}", json={"data": [item]})

    assert response.status_code == 400
    (error,) = response.json()["data"]
    assert error["details"]["api_name"] == api_name
    assert error["message"] == message


async def test_duplicate_on_a_system_duplicate_check_field(api: Api, org: Path) -> None:
    before = max_id(org)

    response = await api.post(
        "/crm/v8/Accounts", json={"data": [{"Account_Name": "HARBOR point logistics"}]}
    )

    assert response.status_code == 400
    (error,) = response.json()["data"]
    assert error == {
        "code": "DUPLICATE_DATA",
        "details": {
            "api_name": "Account_Name",
            "json_path": "$.data[0].Account_Name",
            "duplicate_record": {
                "Owner": JORDAN,
                "module": {"api_name": "Accounts", "id": MODULE_IDS["Accounts"]},
                "id": HARBOR_POINT,
            },
            "more_records": False,
        },
        "message": "duplicate data",
        "status": "error",
    }
    assert max_id(org) == before


async def test_partial_insert_is_207_and_ids_have_no_gaps(api: Api, org: Path) -> None:
    before = max_id(org)
    body = {
        "data": [
            {"Last_Name": "Ng", "Company": "A", "Email": "ng@a.test"},
            {"Company": "No last name"},
            {"Last_Name": "Twin", "Company": "B", "Email": "NG@A.test"},
            "not an object",
            {"Last_Name": "Ito", "Company": "C", "Email": "ito@c.test"},
        ]
    }

    response = await api.post("/crm/v8/Leads", json=body)

    assert response.status_code == 207
    first, no_last, twin, junk, last = response.json()["data"]
    assert [first["code"], no_last["code"], twin["code"], junk["code"], last["code"]] == [
        "SUCCESS",
        "MANDATORY_NOT_FOUND",
        "DUPLICATE_DATA",
        "INVALID_DATA",
        "SUCCESS",
    ]
    assert twin["details"]["duplicate_record"]["id"] == first["details"]["id"]
    assert junk["details"]["json_path"] == "$.data[3]"
    assert [int(first["details"]["id"]), int(last["details"]["id"])] == [before + 1, before + 2]


async def test_insert_scope_and_kind(api: Api, sim: Simulator) -> None:
    response = await api.post(
        "/crm/v8/Contacts", json={"data": [{"Last_Name": f"P{i}"} for i in range(12)]}
    )

    assert response.status_code == 201
    assert sim.counters.calls["POST Contacts"] == 1
    assert sim.counters.credits["POST Contacts"] == 2


# -- every record module: update -------------------------------------------------------------


async def test_deal_stage_update_moves_probability_history_and_timeline(
    api: Api, clock: FixedClock, sim: Simulator
) -> None:
    url = f"/crm/v8/Deals/{HARBOR_DEAL}"
    clock.advance(timedelta(minutes=30))

    response = await api.put(url, json={"data": [{"Stage": "Closed Won"}]})

    assert response.status_code == 200
    assert response.json()["data"][0]["message"] == "record updated"
    deal = (await api.get(url)).json()["data"][0]
    assert (deal["Stage"], deal["Probability"], deal["Expected_Revenue"]) == (
        "Closed Won",
        100,
        185000,
    )
    assert deal["Amount"] == 185000
    history = (
        await api.get(
            f"{url}/Stage_History",
            params={
                "fields": "Stage,Duration,Modified_Time",
                "sort_order": "asc",
                "sort_by": "Modified_Time",
            },
        )
    ).json()["data"]
    assert len(history) == HARBOR_STAGES + 1
    assert history[-1]["Stage"] == "Closed Won"
    assert history[-1]["Duration"] is None
    assert history[-2]["Duration"] is not None
    entry = (await api.get(f"{url}/__timeline")).json()["__timeline"][0]
    changes = {c["api_name"]: c["_value"] for c in entry["field_history"]}
    assert changes == {
        "Stage": {"old": "Negotiation/Review", "new": "Closed Won"},
        "Probability": {"old": 90, "new": 100},
    }
    assert sim.counters.calls["PUT Deals/{id}"] == 1


async def test_batch_update_across_an_unknown_id_and_a_412(api: Api, sim: Simulator) -> None:
    body = {
        "data": [
            {"id": ELAINE, "Title": "COO"},
            {"id": HARBOR_POINT, "Title": "wrong module"},
        ]
    }

    response = await api.put("/crm/v8/Contacts", json=body)

    assert response.status_code == 207
    ok, unknown = response.json()["data"]
    assert ok["code"] == "SUCCESS"
    assert unknown == {
        "code": "INVALID_DATA",
        "details": {"api_name": "id", "json_path": "$.data[1].id"},
        "message": "the id given seems to be invalid",
        "status": "error",
    }
    stale = await api.put(
        f"/crm/v8/Contacts/{ELAINE}",
        json={"data": [{"Title": "CEO"}]},
        headers={"If-Unmodified-Since": "2026-01-01T00:00:00+00:00"},
    )
    assert stale.status_code == 412
    assert stale.json()["data"][0]["code"] == "ALREADY_MODIFIED"
    assert sim.counters.calls["PUT Contacts"] == 1


async def test_renames_reach_every_lookup(api: Api) -> None:
    await api.put(f"/crm/v8/Contacts/{ELAINE}", json={"data": [{"Last_Name": "Porter-Shaw"}]})
    await api.put(
        f"/crm/v8/Accounts/{HARBOR_POINT}", json={"data": [{"Account_Name": "Harbor Point Group"}]}
    )

    contact = (await api.get(f"/crm/v8/Contacts/{ELAINE}")).json()["data"][0]
    assert contact["Full_Name"] == "Elaine Porter-Shaw"
    assert contact["Account_Name"]["name"] == "Harbor Point Group"
    event = (await api.get("/crm/v8/Events/5725767000001000019")).json()["data"][0]
    assert event["Who_Id"]["name"] == "Elaine Porter-Shaw"
    deal = (await api.get(f"/crm/v8/Deals/{HARBOR_DEAL}")).json()["data"][0]
    assert deal["Account_Name"]["name"] == "Harbor Point Group"
    entry = (await api.get(f"/crm/v8/Contacts/{ELAINE}/__timeline")).json()["__timeline"][0]
    assert [c["api_name"] for c in entry["field_history"]] == ["Last_Name"]


async def test_a_deal_moving_account_takes_its_activities_notes_and_history(api: Api) -> None:
    response = await api.put(
        "/crm/v8/Deals", json={"data": [{"id": HARBOR_DEAL, "Account_Name": {"id": MERIDIAN}}]}
    )

    assert response.status_code == 200
    assert HARBOR_DEAL in await related_ids(api, "Accounts", MERIDIAN, "Deals")
    assert HARBOR_DEAL not in await related_ids(api, "Accounts", HARBOR_POINT, "Deals")
    assert len(await related_ids(api, "Deals", HARBOR_DEAL, "Stage_History")) == HARBOR_STAGES
    tasks = await related_ids(api, "Deals", HARBOR_DEAL, "Tasks")
    assert tasks == {"5725767000001000018"}
    assert tasks <= await related_ids(api, "Accounts", MERIDIAN, "Tasks")
    assert "5725767000001000019" in await related_ids(api, "Accounts", MERIDIAN, "Events")
    # A call on the account itself stays with the account.
    assert "5725767000001000020" in await related_ids(api, "Accounts", HARBOR_POINT, "Calls")


async def test_activity_update_relinks_and_closes(api: Api, clock: FixedClock) -> None:
    task = await created(
        api,
        "Tasks",
        {
            "Subject": "Chase",
            "What_Id": {"id": HARBOR_DEAL},
            "$se_module": "Deals",
            "Who_Id": {"id": ELAINE},
        },
    )
    assert task.get("Closed_Time") is None
    task_url = f"/crm/v8/Tasks/{task['id']}"
    clock.advance(timedelta(minutes=5))

    response = await api.put(
        task_url,
        json={
            "data": [
                {
                    "What_Id": {"id": MERIDIAN},
                    "$se_module": "Accounts",
                    "Who_Id": None,
                    "Status": "Completed",
                }
            ]
        },
    )

    assert response.status_code == 200
    task = (await api.get(task_url)).json()["data"][0]
    assert task["What_Id"] == {"name": "Meridian Health Partners", "id": MERIDIAN}
    assert task["$se_module"] == "Accounts"
    assert task["Who_Id"] is None
    assert task["Closed_Time"] == "2026-11-02T09:35:00+00:00"
    assert task["id"] in await related_ids(api, "Accounts", MERIDIAN, "Tasks")
    assert task["id"] not in await related_ids(api, "Deals", HARBOR_DEAL, "Tasks")
    assert task["id"] not in await related_ids(api, "Contacts", ELAINE, "Tasks")
    entry = (await api.get(f"{task_url}/__timeline")).json()["__timeline"][0]
    changes = {c["api_name"]: c["_value"] for c in entry["field_history"]}
    assert changes["What_Id"]["new"] == {"name": "Meridian Health Partners", "id": MERIDIAN}
    assert changes["Status"]["new"] == "Completed"


@pytest.mark.parametrize(
    ("url", "item", "code", "api_name"),
    [
        (
            f"/crm/v8/Accounts/{MERIDIAN}",
            {"Account_Name": "harbor point logistics"},
            "DUPLICATE_DATA",
            "Account_Name",
        ),
        (
            f"/crm/v8/Contacts/{ELAINE}",
            {"Email": "MARCO.VITALE@harbor-point-logistics.example"},
            "DUPLICATE_DATA",
            "Email",
        ),
        (f"/crm/v8/Deals/{HARBOR_DEAL}", {"Stage": None}, "MANDATORY_NOT_FOUND", "Stage"),
        (f"/crm/v8/Deals/{HARBOR_DEAL}", {"Probability": -1}, "INVALID_DATA", "Probability"),
        (
            "/crm/v8/Notes/5725767000001000021",
            {"Note_Title": "", "Note_Content": None},
            "MANDATORY_NOT_FOUND",
            "Note_Content",
        ),
        (
            "/crm/v8/Notes/5725767000001000021",
            {"Parent_Id": {"id": MERIDIAN}},
            "INVALID_DATA",
            "Parent_Id",
        ),
        (
            "/crm/v8/Tasks/5725767000001000018",
            {"What_Id": {"id": MERIDIAN}},
            "INVALID_DATA",
            "What_Id",
        ),
    ],
)
async def test_update_errors(
    api: Api, url: str, item: dict[str, Any], code: str, api_name: str
) -> None:
    response = await api.put(url, json={"data": [item]})

    assert response.status_code == 400
    (error,) = response.json()["data"]
    assert (error["code"], error["details"]["api_name"]) == (code, api_name)


async def test_an_update_keeping_its_own_unique_value_is_no_duplicate(api: Api) -> None:
    response = await api.put(
        f"/crm/v8/Accounts/{HARBOR_POINT}",
        json={"data": [{"Account_Name": "Harbor Point Logistics", "Rating": "Active"}]},
    )

    assert response.status_code == 200


async def test_note_update(api: Api) -> None:
    url = "/crm/v8/Notes/5725767000001000021"

    response = await api.put(url, json={"data": [{"Note_Title": "Renamed"}]})

    assert response.status_code == 200
    note = (await api.get(url)).json()["data"][0]
    assert note["Note_Title"] == "Renamed"
    assert "5725767000001000021" in await related_ids(api, "Accounts", HARBOR_POINT, "Notes")


# -- delete ----------------------------------------------------------------------------------


async def test_delete_one_record_then_get_is_204(api: Api, sim: Simulator) -> None:
    lead = await created(api, "Leads", {"Last_Name": "Gone", "Company": "Soon"})

    response = await delete(api, f"/crm/v8/Leads/{lead['id']}")

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "code": "SUCCESS",
                "details": {"id": lead["id"]},
                "message": "record deleted",
                "status": "success",
            }
        ]
    }
    assert (await api.get(f"/crm/v8/Leads/{lead['id']}")).status_code == 204
    assert (await api.get("/crm/v8/Leads", params={"fields": "id"})).status_code == 204
    assert sim.counters.calls["DELETE Leads/{id}"] == 1
    assert sim.counters.credits["DELETE Leads/{id}"] == 1


async def test_delete_many_reports_each_id(api: Api, sim: Simulator) -> None:
    first = await created(api, "Leads", {"Last_Name": "One", "Company": "x"})
    second = await created(api, "Leads", {"Last_Name": "Two", "Company": "x"})
    unknown = "5725767000009999999"

    response = await delete(api, f"/crm/v8/Leads?ids={first['id']},{unknown},{second['id']}")

    assert response.status_code == 207
    one, missing, two = response.json()["data"]
    assert one["details"] == {"id": first["id"]}
    assert two["message"] == "record deleted"
    assert missing == {
        "code": "INVALID_DATA",
        "details": {"id": unknown},
        "message": "record not deleted",
        "status": "error",
    }
    again = await delete(api, f"/crm/v8/Leads?ids={first['id']}")
    assert again.status_code == 400
    assert again.json()["data"][0]["message"] == "record not deleted"
    assert sim.counters.credits["DELETE Leads"] == 2


async def test_deleting_an_account_keeps_the_store_consistent(api: Api, org: Path) -> None:
    response = await delete(api, f"/crm/v8/Accounts?ids={HARBOR_POINT}")

    assert response.status_code == 200
    assert (await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}")).status_code == 204
    for related in ("Contacts", "Deals", "Notes", "Tasks"):
        gone = await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}/{related}", params={"fields": "id"})
        assert gone.status_code == 400
        assert error_code(gone) == "INVALID_DATA"
    for note_id in ("5725767000001000021", "5725767000001000022"):
        assert (await api.get(f"/crm/v8/Notes/{note_id}")).status_code == 204
    contact = await api.get(f"/crm/v8/Contacts/{ELAINE}")
    assert contact.status_code == 200
    assert (await api.get(f"/crm/v8/Accounts/{HARBOR_POINT}/__timeline")).status_code == 204
    listed = await api.coql(
        "select Account_Name from Accounts where Account_Name = 'Harbor Point Logistics'"
    )
    assert listed.status_code == 204
    with DemoStore.open(org) as store:
        assert store.account(HARBOR_POINT) is None
        assert store.meta().anchor == NOW


async def test_deleting_a_deal_removes_its_stage_history_and_notes(api: Api, org: Path) -> None:
    assert stage_rows(org, HARBOR_DEAL) == HARBOR_STAGES
    note = await api.post(
        f"/crm/v8/Deals/{HARBOR_DEAL}/Notes", json={"data": [{"Note_Content": "Won?"}]}
    )
    note_id = note.json()["data"][0]["details"]["id"]

    response = await delete(api, f"/crm/v8/Deals/{HARBOR_DEAL}")

    assert response.status_code == 200
    assert (await api.get(f"/crm/v8/Notes/{note_id}")).status_code == 204
    assert HARBOR_DEAL not in await related_ids(api, "Accounts", HARBOR_POINT, "Deals")
    assert stage_rows(org, HARBOR_DEAL) == 0
    # The deal's task stays (it keeps its account), as records looking a deleted one up do.
    assert "5725767000001000018" in await related_ids(api, "Accounts", HARBOR_POINT, "Tasks")


async def test_a_deleted_id_is_never_handed_out_again(
    api: Api, sim: Simulator, org: Path, clock: FixedClock
) -> None:
    lead = await created(api, "Leads", {"Last_Name": "Last", "Company": "x"})
    await delete(api, f"/crm/v8/Leads/{lead['id']}")
    sim.close()

    reopened = create_simulator(org, SimulatorConfig(clock=clock))
    try:
        async with api_for(reopened) as fresh:
            again = await created(fresh, "Leads", {"Last_Name": "Next", "Company": "x"})
    finally:
        reopened.close()

    assert int(again["id"]) == int(lead["id"]) + 1


async def test_delete_needs_the_delete_scope(org: Path, clock: FixedClock) -> None:
    client = OAuthClient(
        "1000.NODELETE",
        "secret",
        {"refresh": ("ZohoCRM.modules.leads.READ", "ZohoCRM.modules.leads.CREATE")},
    )
    deleter = OAuthClient("1000.DELETE", "secret", {"refresh": ("ZohoCRM.modules.leads.DELETE",)})
    simulator = create_simulator(org, SimulatorConfig(clock=clock, clients=(client, deleter)))
    try:
        async with api_for(simulator, authenticate=False) as api:
            await api.refresh(
                client_id="1000.NODELETE", client_secret="secret", refresh_token="refresh"
            )
            lead = await created(api, "Leads", {"Last_Name": "Kept", "Company": "x"})
            refused = await delete(api, f"/crm/v8/Leads/{lead['id']}")
            assert refused.status_code == 401
            assert error_code(refused) == "OAUTH_SCOPE_MISMATCH"
            assert refused.json()["details"] == {"required_scope": "ZohoCRM.modules.leads.DELETE"}
            await api.refresh(
                client_id="1000.DELETE", client_secret="secret", refresh_token="refresh"
            )
            assert (await delete(api, f"/crm/v8/Leads/{lead['id']}")).status_code == 200
    finally:
        simulator.close()


# -- upsert ----------------------------------------------------------------------------------


async def test_upsert_updates_a_match_and_inserts_the_rest(api: Api, sim: Simulator) -> None:
    body = {
        "data": [
            {
                "Last_Name": "Porter",
                "Email": "ELAINE.PORTER@harbor-point-logistics.example",
                "Title": "VP Operations",
            },
            {
                "Last_Name": "Newman",
                "Email": "newman@harbor-point-logistics.example",
                "Account_Name": {"id": HARBOR_POINT},
            },
        ]
    }

    response = await api.post("/crm/v8/Contacts/upsert", json=body)

    assert response.status_code == 201
    updated, inserted = response.json()["data"]
    assert list(updated) == ["code", "duplicate_field", "action", "details", "message", "status"]
    assert (updated["action"], updated["duplicate_field"], updated["message"]) == (
        "update",
        "Email",
        "record updated",
    )
    assert updated["details"]["id"] == ELAINE
    assert (inserted["action"], inserted["duplicate_field"], inserted["message"]) == (
        "insert",
        None,
        "record added",
    )
    elaine = (await api.get(f"/crm/v8/Contacts/{ELAINE}")).json()["data"][0]
    assert elaine["Title"] == "VP Operations"
    assert elaine["Email"] == "ELAINE.PORTER@harbor-point-logistics.example"
    assert inserted["details"]["id"] in await related_ids(api, "Accounts", HARBOR_POINT, "Contacts")
    assert sim.counters.calls["UPSERT Contacts"] == 1
    assert sim.counters.credits["UPSERT Contacts"] == 1

    only_updates = await api.post(
        "/crm/v8/Accounts/upsert",
        json={"data": [{"Account_Name": "Harbor Point Logistics", "Rating": "Active"}]},
    )
    assert only_updates.status_code == 200
    assert only_updates.json()["data"][0]["duplicate_field"] == "Account_Name"


async def test_upsert_with_explicit_fields_and_partial_failure(api: Api) -> None:
    lead = await created(
        api, "Leads", {"Last_Name": "Mora", "Company": "Atlas", "Email": "mora@atlas.test"}
    )
    body = {
        "duplicate_check_fields": ["Email"],
        "data": [
            {"Email": "mora@atlas.test", "Lead_Status": "Contacted"},
            {"Email": "new@atlas.test", "Company": "Atlas"},
        ],
    }

    response = await api.post("/crm/v8/Leads/upsert", json=body)

    assert response.status_code == 207
    updated, failed = response.json()["data"]
    assert (updated["action"], updated["details"]["id"]) == ("update", lead["id"])
    assert failed["code"] == "MANDATORY_NOT_FOUND"
    assert failed["details"]["api_name"] == "Last_Name"
    stored = (await api.get(f"/crm/v8/Leads/{lead['id']}")).json()["data"][0]
    assert stored["Lead_Status"] == "Contacted"
    assert stored["Last_Name"] == "Mora"


async def test_upsert_honours_if_unmodified_since(api: Api) -> None:
    response = await api.post(
        "/crm/v8/Accounts/upsert",
        json={"data": [{"Account_Name": "Harbor Point Logistics", "Rating": "Active"}]},
        headers={"If-Unmodified-Since": "2020-01-01T00:00:00+00:00"},
    )

    assert response.status_code == 412
    assert response.json()["data"][0]["code"] == "ALREADY_MODIFIED"
