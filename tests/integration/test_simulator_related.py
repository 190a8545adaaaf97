"""Simulator: related lists, record timelines and the Users API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sergas_tui.crm.simulator import create_simulator
from sergas_tui.demo import DemoStore
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


@pytest.fixture(scope="module")
def store(org: Path) -> Iterator[DemoStore]:
    with DemoStore.open(org) as opened:
        yield opened


@pytest.fixture
async def api(org: Path) -> AsyncIterator[Api]:
    sim = create_simulator(org)
    async with api_for(sim) as client:
        yield client
    sim.close()


async def related_ids(api: Api, url: str, fields: str = "id") -> set[str]:
    response = await api.get(url, params={"fields": fields})
    if response.status_code == 204:
        return set()
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["data"]}


def busiest_account(store: DemoStore) -> str:
    """An account with deals whose deals have activities, contacts and notes."""
    for account in store.accounts():
        tasks = store.related("Tasks", account["id"])
        if store.related("Deals", account["id"]) and any(t["$se_module"] == "Deals" for t in tasks):
            return str(account["id"])
    raise AssertionError("no account with deal tasks")


@pytest.mark.parametrize("module", ["Contacts", "Deals", "Tasks", "Events", "Calls"])
async def test_account_related_lists_match_the_org(api: Api, store: DemoStore, module: str) -> None:
    account = busiest_account(store)

    got = await related_ids(api, f"/crm/v8/Accounts/{account}/{module}")

    # Activities on the account's deals roll up to the account, as in Zoho.
    assert got == {r["id"] for r in store.related(module, account)}


async def test_account_activities_include_those_on_its_deals(api: Api, store: DemoStore) -> None:
    account = busiest_account(store)
    response = await api.get(
        f"/crm/v8/Accounts/{account}/Tasks", params={"fields": "What_Id,$se_module"}
    )

    modules = {r["$se_module"] for r in response.json()["data"]}
    assert "Deals" in modules


async def test_account_notes_are_only_its_own(api: Api, store: DemoStore) -> None:
    got = await related_ids(api, f"/crm/v8/Accounts/{HARBOR_POINT}/Notes", "Note_Content")

    expected = {
        n["id"]
        for n in store.related("Notes", HARBOR_POINT)
        if n["Parent_Id"]["id"] == HARBOR_POINT
    }
    assert got == expected
    assert got


async def test_deal_related_lists(api: Api, store: DemoStore) -> None:
    deal = store.record("Deals", HARBOR_DEAL)
    assert deal is not None
    account = deal["Account_Name"]["id"]

    history = await api.get(
        f"/crm/v8/Deals/{HARBOR_DEAL}/Stage_History",
        params={"fields": "Stage,Close_Date,Modified_Time,Modified_By,$deal_id"},
    )
    rows = history.json()["data"]
    assert {r["id"] for r in rows} == {r["id"] for r in store.stage_history(HARBOR_DEAL)}
    assert all("$deal_id" not in r for r in rows)
    assert rows[0]["Stage"] == "Negotiation/Review"

    for module in ("Tasks", "Events", "Calls"):
        expected = {
            r["id"]
            for r in store.related(module, account)
            if (r.get("What_Id") or {}).get("id") == HARBOR_DEAL
        }
        assert await related_ids(api, f"/crm/v8/Deals/{HARBOR_DEAL}/{module}") == expected
    contacts = await related_ids(api, f"/crm/v8/Deals/{HARBOR_DEAL}/Contacts")
    assert contacts == {deal["Contact_Name"]["id"]}


async def test_related_list_rules(api: Api) -> None:
    base = f"/crm/v8/Accounts/{HARBOR_POINT}"
    missing = await api.get(f"{base}/Contacts")
    assert error_code(missing) == "REQUIRED_PARAM_MISSING"
    unknown_list = await api.get(f"{base}/Quotes", params={"fields": "id"})
    assert unknown_list.status_code == 400
    assert error_code(unknown_list) == "INVALID_DATA"
    unknown_parent = await api.get(
        "/crm/v8/Accounts/5725767000009999999/Contacts", params={"fields": "id"}
    )
    assert unknown_parent.status_code == 400
    assert error_code(unknown_parent) == "INVALID_DATA"
    future = await api.get(
        f"{base}/Tasks",
        params={"fields": "Subject"},
        headers={"If-Modified-Since": "2030-01-01T00:00:00Z"},
    )
    assert future.status_code == 304


async def test_related_lists_page_with_tokens(api: Api, store: DemoStore) -> None:
    account = busiest_account(store)
    url = f"/crm/v8/Accounts/{account}/Tasks"
    params = {"fields": "Subject", "per_page": 1}
    body = (await api.get(url, params=params)).json()
    seen = [r["id"] for r in body["data"]]
    while body["info"]["more_records"]:
        token = body["info"]["next_page_token"]
        body = (await api.get(url, params={**params, "page_token": token})).json()
        seen += [r["id"] for r in body["data"]]

    assert len(seen) == len(set(seen))
    assert set(seen) == {t["id"] for t in store.related("Tasks", account)}


async def test_timeline_newest_first_with_page_tokens(api: Api, store: DemoStore) -> None:
    url = f"/crm/v8/Deals/{HARBOR_DEAL}/__timeline"
    expected = store.timeline("Deals", HARBOR_DEAL)

    whole = (await api.get(url)).json()
    times = [e["audited_time"] for e in whole["__timeline"]]
    assert times == sorted(times, reverse=True)
    assert len(times) == len(expected)
    assert whole["info"]["more_records"] is False

    oldest_first = (await api.get(url, params={"sort_order": "asc"})).json()["__timeline"]
    assert oldest_first == expected

    page = (await api.get(url, params={"per_page": 2})).json()
    entries = page["__timeline"]
    assert page["info"]["count"] == 2
    while page["info"]["next_page_token"]:
        page = (await api.get(url, params={"page_token": page["info"]["next_page_token"]})).json()
        entries += page["__timeline"]
    assert entries == whole["__timeline"]
    field_history = [e["field_history"] for e in entries if e["field_history"]]
    assert {"api_name", "_value"} <= set(field_history[0][0])


async def test_timeline_rules(api: Api) -> None:
    url = f"/crm/v8/Deals/{HARBOR_DEAL}/__timeline"
    first = (await api.get(url, params={"per_page": 1})).json()
    token = first["info"]["next_page_token"]

    both = await api.get(url, params={"per_page": 1, "page_token": token})
    assert error_code(both) == "AMBIGUITY_DURING_PROCESSING"
    beyond = await api.get(url, params={"per_page": 100, "page": 3})
    assert error_code(beyond) == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    none = await api.get("/crm/v8/Deals/5725767000009999999/__timeline")
    assert none.status_code == 204


async def test_users(api: Api, store: DemoStore) -> None:
    everyone = (await api.get("/crm/v8/users", params={"type": "AllUsers"})).json()
    assert [u["id"] for u in everyone["users"]] == [u["id"] for u in store.users()]
    assert everyone["info"] == {"per_page": 200, "count": 4, "page": 1, "more_records": False}

    active = (await api.get("/crm/v8/users", params={"type": "ActiveUsers"})).json()
    assert all(u["status"] == "active" for u in active["users"])

    me = (await api.get("/crm/v8/users", params={"type": "CurrentUser"})).json()["users"]
    assert [u["id"] for u in me] == [store.meta().current_user_id]

    second = (await api.get("/crm/v8/users", params={"per_page": 3, "page": 2})).json()
    assert second["info"]["count"] == 1
    assert second["info"]["more_records"] is False

    one = (await api.get(f"/crm/v8/users/{me[0]['id']}")).json()["users"]
    assert one[0]["email"] == store.meta().current_user_email
    assert (await api.get("/crm/v8/users/5725767000009999999")).status_code == 204
    bad = await api.get("/crm/v8/users", params={"type": "Everyone"})
    assert error_code(bad) == "INVALID_DATA"
