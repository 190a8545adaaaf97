"""Simulator: the metadata API (org, modules, fields, layouts, related lists, roles, profiles)
agrees with the records it serves."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.crm.simulator import create_simulator
from sergas_tui.crm.simulator.config import (
    DEMO_CLIENT,
    DEMO_REFRESH_TOKEN,
    OAuthClient,
    SimulatorConfig,
)
from sergas_tui.crm.simulator.schema import RECORD_MODULES
from tests.integration.simkit import (
    HARBOR_DEAL,
    HARBOR_POINT,
    Api,
    api_for,
    error_code,
    make_org,
)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_org(tmp_path_factory)


@pytest.fixture
async def api(org: Path) -> AsyncIterator[Api]:
    sim = create_simulator(org)
    async with api_for(sim) as client:
        yield client
    sim.close()


async def fields_of(api: Api, module: str) -> dict[str, dict[str, Any]]:
    response = await api.get("/crm/v8/settings/fields", params={"module": module})
    assert response.status_code == 200, response.text
    return {f["api_name"]: f for f in response.json()["fields"]}


def stored(org: Path, module: str) -> list[dict[str, Any]]:
    with sqlite3.connect(org) as conn:
        rows = conn.execute("SELECT data FROM records WHERE module = ?", (module,)).fetchall()
    conn.close()
    return [json.loads(data) for (data,) in rows]


async def test_org_names_its_zgid_and_domain(api: Api) -> None:
    response = await api.get("/crm/v8/org")
    assert response.status_code == 200
    (org,) = response.json()["org"]
    assert org["zgid"].isdigit()
    assert org["domain_name"] == f"org{org['zgid']}"
    assert org["iso_code"] == "USD"
    assert org["license_details"]["paid"] is True


async def test_every_served_module_is_listed_as_api_supported(api: Api) -> None:
    response = await api.get("/crm/v8/settings/modules")
    modules = {m["api_name"]: m for m in response.json()["modules"]}
    assert set(modules) == set(RECORD_MODULES)
    assert all(m["api_supported"] and m["generated_type"] == "default" for m in modules.values())
    assert modules["Events"]["plural_label"] == "Meetings"
    one = await api.get("/crm/v8/settings/modules/deals")
    (deals,) = one.json()["modules"]
    assert deals["api_name"] == "Deals"
    assert {r["api_name"] for r in deals["related_lists"]} >= {"Stage_History", "Notes"}


@pytest.mark.parametrize("module", ["Accounts", "Contacts", "Deals", "Tasks", "Events", "Calls"])
async def test_every_stored_field_and_picklist_value_is_in_the_metadata(
    api: Api, org: Path, module: str
) -> None:
    fields = await fields_of(api, module)
    for record in stored(org, module):
        for key, value in record.items():
            if key.startswith("$") or key == "id":
                continue
            assert key in fields, f"{module}.{key} is stored but not in /settings/fields"
            field = fields[key]
            if field["data_type"] == "picklist" and value is not None:
                values = {p["actual_value"] for p in field["pick_list_values"]}
                assert value in values, f"{module}.{key} = {value!r} is not a picklist value"


async def test_field_metadata_says_what_zoho_says(api: Api) -> None:
    accounts = await fields_of(api, "Accounts")
    name = accounts["Account_Name"]
    assert name["system_mandatory"] is True
    assert name["data_type"] == "text"
    assert name["json_type"] == "string"
    assert accounts["Owner"]["data_type"] == "ownerlookup"
    assert accounts["Parent_Account"]["lookup"]["module"]["api_name"] == "Accounts"
    assert accounts["Last_Activity_Time"]["read_only"] is True
    assert accounts["Tax_ID"]["custom_field"] is True
    ratings = [p["actual_value"] for p in accounts["Rating"]["pick_list_values"]]
    assert ratings[0] == "-None-"
    assert "At Risk" in ratings
    deals = await fields_of(api, "Deals")
    stage = {p["actual_value"]: p for p in deals["Stage"]["pick_list_values"]}
    assert stage["Closed Won"]["probability"] == 100
    tasks = await fields_of(api, "Tasks")
    assert tasks["What_Id"]["lookup"]["module"]["api_name"] == "se_module"
    assert "id" not in accounts  # Zoho does not list the record id as a field

    one = await api.get(f"/crm/v8/settings/fields/{name['id']}", params={"module": "Accounts"})
    assert one.json()["fields"][0]["api_name"] == "Account_Name"


async def test_metadata_answers_304_when_unchanged(api: Api) -> None:
    later = "2099-01-01T00:00:00+00:00"
    for url in ("/crm/v8/settings/fields", "/crm/v8/settings/modules"):
        response = await api.get(
            url, params={"module": "Accounts"}, headers={"If-Modified-Since": later}
        )
        assert response.status_code == 304
    earlier = "2001-01-01T00:00:00+00:00"
    response = await api.get(
        "/crm/v8/settings/fields",
        params={"module": "Accounts"},
        headers={"If-Modified-Since": earlier},
    )
    assert response.status_code == 200


async def test_bad_metadata_requests_get_zohos_errors(api: Api) -> None:
    missing = await api.get("/crm/v8/settings/fields")
    assert missing.status_code == 400
    assert error_code(missing) == "REQUIRED_PARAM_MISSING"
    unknown = await api.get("/crm/v8/settings/fields", params={"module": "Potions"})
    assert unknown.status_code == 400
    assert error_code(unknown) == "INVALID_MODULE"
    nowhere = await api.get("/crm/v8/settings/nothing_here")
    assert nowhere.status_code == 404
    assert error_code(nowhere) == "INVALID_URL_PATTERN"
    bad_field = await api.get("/crm/v8/settings/fields/123", params={"module": "Accounts"})
    assert bad_field.status_code == 400
    assert error_code(bad_field) == "INVALID_DATA"


async def test_metadata_needs_the_settings_scope(org: Path) -> None:
    narrow = OAuthClient(
        DEMO_CLIENT.client_id,
        DEMO_CLIENT.client_secret,
        {DEMO_REFRESH_TOKEN: ("ZohoCRM.modules.ALL",)},
    )
    sim = create_simulator(org, SimulatorConfig(clients=(narrow,)))
    async with api_for(sim) as api:
        response = await api.get("/crm/v8/settings/fields", params={"module": "Accounts"})
        assert response.status_code == 401
        assert error_code(response) == "OAUTH_SCOPE_MISMATCH"
        org_info = await api.get("/crm/v8/org")
        assert error_code(org_info) == "OAUTH_SCOPE_MISMATCH"
    sim.close()


async def test_every_listed_related_list_is_served(api: Api) -> None:
    parents = {"Accounts": HARBOR_POINT, "Deals": HARBOR_DEAL}
    for module, record_id in parents.items():
        response = await api.get("/crm/v8/settings/related_lists", params={"module": module})
        lists = response.json()["related_lists"]
        assert lists
        for item in lists:
            assert item["href"] == f"{module}/{{ENTITYID}}/{item['api_name']}"
            served = await api.get(
                f"/crm/v8/{module}/{record_id}/{item['api_name']}", params={"fields": "id"}
            )
            assert served.status_code in (200, 204), (item["api_name"], served.text)


async def test_layouts_hold_the_modules_fields(api: Api) -> None:
    response = await api.get("/crm/v8/settings/layouts", params={"module": "Contacts"})
    (layout,) = response.json()["layouts"]
    names = {f["api_name"] for s in layout["sections"] for f in s["fields"]}
    assert names == set(await fields_of(api, "Contacts"))
    one = await api.get(f"/crm/v8/settings/layouts/{layout['id']}", params={"module": "Contacts"})
    assert one.json()["layouts"][0]["id"] == layout["id"]


async def test_users_roles_and_profiles_form_one_hierarchy(api: Api) -> None:
    users = (await api.get("/crm/v8/users", params={"type": "AllUsers"})).json()["users"]
    roles = {r["id"]: r for r in (await api.get("/crm/v8/settings/roles")).json()["roles"]}
    profiles = {p["id"] for p in (await api.get("/crm/v8/settings/profiles")).json()["profiles"]}
    by_id = {u["id"]: u for u in users}
    for user in users:
        assert user["role"]["id"] in roles
        assert user["profile"]["id"] in profiles
        assert "reporting_to" not in user  # v8 spells it Reporting_To
        manager = user.get("Reporting_To")
        if manager is not None:
            boss = by_id[manager["id"]]
            # a user's manager holds the role their role reports to
            assert roles[user["role"]["id"]]["reporting_to"]["id"] == boss["role"]["id"]
    tops = [r for r in roles.values() if r["reporting_to"] is None]
    assert [r["name"] for r in tops] == ["CEO"]
    one = await api.get(f"/crm/v8/settings/roles/{tops[0]['id']}")
    assert one.json()["roles"][0]["name"] == "CEO"
