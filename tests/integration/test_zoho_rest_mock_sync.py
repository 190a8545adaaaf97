"""ZohoRestGateway reads and the bulk sync call plan, against a scripted in-memory Zoho."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.errors import CrmError
from tests.conftest import FIXED_NOW
from tests.fakes.zoho_http import FakeTime, FakeZoho, body_of, iso, make_gateway, page, zoho_error

Row = dict[str, Any]
ANN, BOB, CAROL = "4000000000000000001", "4000000000000000002", "4000000000000000003"
USERS = [
    {"id": ANN, "full_name": "Ann Lee", "email": "Ann@Example.com", "status": "active"},
    {"id": BOB, "full_name": "Bob Roy", "email": "bob@example.com", "status": "active"},
    {"id": CAROL, "first_name": "Carol", "last_name": "Ng", "email": "carol@example.com"},
]
CUTOFF = FIXED_NOW - timedelta(days=90)


def rid(n: int) -> str:
    return f"{n:019d}"


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(FixedClock(FIXED_NOW))


class Org:
    """Tables served by COQL (conditions other than the id cursor are not evaluated: the
    tests check the query text instead), plus users and the Notes module list."""

    def __init__(self, zoho: FakeZoho) -> None:
        self.tables: dict[str, list[Row]] = {}
        self.notes: list[Row] = []
        self.users = list(USERS)
        zoho.route("POST", "/coql", self.coql)
        zoho.route("GET", "/users", self.list_users)
        zoho.route("GET", "/Notes", self.list_notes)

    def coql(self, request: httpx.Request) -> httpx.Response:
        query = body_of(request)["select_query"]
        module = re.search(r"from (\w+)", query)
        limit = re.search(r"limit (\d+)", query)
        assert module is not None
        assert limit is not None
        rows = sorted(self.tables.get(module[1], []), key=lambda r: int(r["id"]))
        if cursor := re.search(r"id > '(\d+)'", query):
            rows = [r for r in rows if int(r["id"]) > int(cursor[1])]
        if not rows:
            return httpx.Response(204)
        size = int(limit[1])
        return page(rows[:size], more=len(rows) > size)

    def list_users(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("type") == "CurrentUser":
            return page(self.users[:1], key="users")
        return page(self.users, key="users")

    def list_notes(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        notes = sorted(self.notes, key=lambda n: n["Modified_Time"], reverse=True)
        if since := request.headers.get("if-modified-since"):
            notes = [
                n
                for n in notes
                if datetime.fromisoformat(n["Modified_Time"]) > datetime.fromisoformat(since)
            ]
            if not notes:
                return httpx.Response(304)
        size = int(params["per_page"])
        number = int(params.get("page", "1"))
        chunk = notes[(number - 1) * size : number * size]
        return page(chunk, more=number * size < len(notes))


def note(n: int, parent: str, modified: datetime, module: str = "Accounts") -> Row:
    return {
        "id": rid(50_000 + n),
        "Note_Content": f"note {n}",
        "Parent_Id": {"module": {"api_name": module}, "id": parent, "name": "x"},
        "Owner": {"id": BOB},
        "Created_Time": iso(modified),
        "Modified_Time": iso(modified),
    }


def recent(days: float) -> str:
    return iso(FIXED_NOW - timedelta(days=days))


def _full_org(zoho: FakeZoho) -> Org:
    org = Org(zoho)
    org.tables["Accounts"] = [
        {"id": rid(n), "Account_Name": f"Acc {n}", "Owner": {"id": ANN}} for n in range(1, 2_501)
    ]
    org.tables["Contacts"] = [
        {"id": rid(7_001), "Last_Name": "Kim", "Account_Name": {"id": rid(1)}},
        {"id": rid(7_002), "Last_Name": "Ode", "Account_Name": {"id": rid(2)}},
    ]
    org.tables["Deals"] = [
        {
            "id": rid(9_001),
            "Deal_Name": "Big",
            "Account_Name": {"id": rid(1)},
            "Stage": "Qualification",
        },
        {"id": rid(9_002), "Deal_Name": "Small", "Account_Name": {"id": rid(2)}},
    ]
    org.tables["Tasks"] = [
        {
            "id": rid(8_001),
            "Subject": "on account",
            "What_Id": {"id": rid(1)},
            "Owner": {"id": ANN},
        },
        {"id": rid(8_002), "Subject": "on deal", "What_Id": {"id": rid(9_001)}},
        {"id": rid(8_003), "Subject": "elsewhere", "What_Id": {"id": rid(99_999)}},
        {"id": rid(8_004), "Subject": "contact only", "Who_Id": {"id": rid(7_002)}},
    ]
    org.tables["Events"] = [
        {
            "id": rid(8_101),
            "Event_Title": "QBR",
            "What_Id": {"id": rid(2)},
            "$se_module": "Accounts",
        }
    ]
    org.notes = [note(n, rid(1), FIXED_NOW - timedelta(hours=n * 9)) for n in range(230)]
    org.notes += [note(300 + n, rid(1), CUTOFF - timedelta(days=n + 1)) for n in range(20)]
    org.notes += [note(400, rid(99_999), FIXED_NOW - timedelta(days=1))]
    org.notes += [note(401, rid(9_002), FIXED_NOW - timedelta(days=2), module="Deals")]
    return org


async def test_full_sync_call_plan(time: FakeTime) -> None:
    zoho = FakeZoho()
    _full_org(zoho)
    async with make_gateway(zoho, time) as gateway:
        batch = await gateway.sync("ann@example.com")
        assert gateway.stats.token_requests == 1
    # users 1 + Accounts 2 (2,500 rows) + Contacts, Deals, Tasks, Events, Calls 1 each
    # + Notes 2 (251 recent notes; the second page reaches past the cutoff) = 10
    assert batch.calls == 10
    assert gateway.stats.by_endpoint["POST /coql Accounts"] == 2
    assert gateway.stats.by_endpoint["GET /Notes"] == 2
    assert batch.full
    assert batch.fetched_at == FIXED_NOW
    assert len(batch.users) == 3
    assert len(batch.accounts) == 2_500
    assert batch.accounts[0].owner is not None
    assert batch.accounts[0].owner.email == "Ann@Example.com"  # completed from the users list
    assert {d.id for d in batch.deals} == {rid(9_001), rid(9_002)}
    by_id = {a.id: a for a in batch.activities}
    assert set(by_id) == {rid(8_001), rid(8_002), rid(8_004), rid(8_101)}
    modules = {key: a.what.module if a.what else None for key, a in by_id.items()}
    assert modules[rid(8_001)] == "Accounts"
    assert modules[rid(8_002)] == "Deals"  # a deal's activity belongs to that deal's account
    assert len(batch.notes) == 231  # 230 on account 1 + 1 on deal 9002; old and foreign dropped
    times = [n.modified_time for n in batch.notes]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]

    queries = zoho.coql_queries()
    accounts_q = [q for q in queries if "from Accounts" in q]
    assert accounts_q[0].endswith(f"where Owner = '{ANN}' order by id asc limit 2000")
    assert f"(Owner = '{ANN}' and id > '{rid(2_000)}')" in accounts_q[1]
    assert any(f"from Contacts where Account_Name.Owner = '{ANN}'" in q for q in queries)
    assert any(f"from Deals where Account_Name.Owner = '{ANN}'" in q for q in queries)
    window = f"(Owner = '{ANN}' and Modified_Time >= '2026-08-04T09:30:00+00:00')"
    assert sum(window in q for q in queries) == 3
    users_call = zoho.api_requests("GET", "/users")[0]
    assert users_call.url.params["type"] == "AllUsers"
    notes_call = zoho.api_requests("GET", "/Notes")[0]
    assert notes_call.url.params["sort_by"] == "Modified_Time"
    assert notes_call.url.params["sort_order"] == "desc"
    assert "If-Modified-Since" not in notes_call.headers


async def test_full_sync_for_everyone_is_not_scoped(time: FakeTime) -> None:
    zoho = FakeZoho()
    org = Org(zoho)
    org.tables["Accounts"] = [{"id": rid(1), "Account_Name": "A"}]
    async with make_gateway(zoho, time) as gateway:
        batch = await gateway.sync(history_days=30)
    assert batch.calls == 8  # users + 6 COQL + Notes
    queries = zoho.coql_queries()
    assert any(
        q.endswith("from Accounts where id is not null order by id asc limit 2000") for q in queries
    )
    assert sum("where Modified_Time >= '2026-10-03T09:30:00+00:00'" in q for q in queries) == 3


async def test_incremental_sync_call_plan(time: FakeTime) -> None:
    zoho = FakeZoho()
    org = _full_org(zoho)
    async with make_gateway(zoho, time) as gateway:
        await gateway.sync("ann@example.com")
        first = len(zoho.requests)
        since = FIXED_NOW
        time.clock.advance(timedelta(hours=1))
        org.tables = {"Accounts": [{"id": rid(3), "Account_Name": "Changed", "Owner": {"id": ANN}}]}
        batch = await gateway.sync("ann@example.com", modified_since=since)
        assert batch.calls == 7  # six COQL queries + Notes (304): users are known
        assert not batch.full
        assert batch.users == []
        assert [a.name for a in batch.accounts] == ["Changed"]
        assert batch.notes == []
        later = zoho.requests[first:]
        assert all(
            "Modified_Time > '2026-11-02T09:30:00+00:00'" in body_of(r)["select_query"]
            for r in later
            if r.method == "POST"
        )
        notes_call = next(r for r in later if r.url.path.endswith("/Notes"))
        assert notes_call.headers["if-modified-since"] == "2026-11-02T09:30:00+00:00"

        # A record owned by someone the directory does not know: the users list is re-read.
        org.tables = {
            "Deals": [
                {"id": rid(9_003), "Deal_Name": "New", "Owner": {"id": "4000000000000000009"}}
            ]
        }
        org.users.append(
            {"id": "4000000000000000009", "full_name": "Dan", "email": "dan@example.com"}
        )
        org.notes.append(note(500, rid(1), FIXED_NOW + timedelta(minutes=30)))
        batch = await gateway.sync("ann@example.com", modified_since=since + timedelta(minutes=1))
        assert batch.calls == 8
        assert len(batch.users) == 4
        assert batch.deals[0].owner is not None
        assert batch.deals[0].owner.name == "Dan"
        assert [n.content for n in batch.notes] == ["note 500"]


async def test_sync_falls_back_to_account_notes_when_notes_module_is_refused(
    time: FakeTime,
) -> None:
    zoho = FakeZoho()
    org = Org(zoho)
    zoho.routes = [r for r in zoho.routes if r[1].pattern != "^/Notes$"]
    zoho.route("GET", "/Notes", zoho_error(403, "NOT_SUPPORTED", "only admins"))
    org.tables["Accounts"] = [
        {"id": rid(1), "Account_Name": "A"},
        {"id": rid(2), "Account_Name": "B"},
    ]
    zoho.route("GET", rf"/Accounts/{rid(1)}/Notes", page([note(1, rid(1), FIXED_NOW)]))
    zoho.route("GET", rf"/Accounts/{rid(2)}/Notes", httpx.Response(204))
    async with make_gateway(zoho, time) as gateway:
        batch = await gateway.sync()
    assert [n.content for n in batch.notes] == ["note 1"]
    assert batch.calls == 1 + 6 + 1 + 2


async def test_unknown_owner_email_is_a_clear_error(time: FakeTime) -> None:
    zoho = FakeZoho()
    Org(zoho)
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmError, match=r"No Zoho user has the email 'nobody@example\.com'"):
            await gateway.sync("nobody@example.com")


# --- reads --------------------------------------------------------------------------------------


async def test_get_accounts_resolves_the_owner_once(time: FakeTime) -> None:
    zoho = FakeZoho()
    org = Org(zoho)
    org.tables["Accounts"] = [{"id": rid(1), "Account_Name": "A", "Owner": {"id": BOB}}]
    async with make_gateway(zoho, time) as gateway:
        found = await gateway.get_accounts("BOB@example.com", modified_since=CUTOFF)
        await gateway.get_accounts("bob@example.com")
        assert gateway.stats.by_endpoint["GET /users"] == 1
    assert found[0].owner is not None
    assert found[0].owner.name == "Bob Roy"
    assert zoho.coql_queries()[0] == (
        "select id, Account_Name, Account_Number, Account_Type, Industry, Annual_Revenue, "
        "Rating, Employees, Phone, Website, Description, Billing_City, Billing_Country, "
        "Parent_Account, Last_Activity_Time, Owner, Created_Time, Modified_Time from Accounts "
        f"where (Owner = '{BOB}' and Modified_Time > '2026-08-04T09:30:00+00:00') "
        "order by id asc limit 2000"
    )


async def test_list_open_deals_excludes_closed_stages(time: FakeTime) -> None:
    zoho = FakeZoho()
    org = Org(zoho)
    org.tables["Deals"] = [{"id": rid(1), "Deal_Name": "Open", "Stage": "Negotiation/Review"}]
    async with make_gateway(zoho, time) as gateway:
        deals = await gateway.list_open_deals("carol@example.com")
    assert [d.name for d in deals] == ["Open"]
    assert (
        "where (Stage not in ('Closed Lost', 'Closed Lost to Competition', 'Closed Won') "
        f"and Owner = '{CAROL}')"
    ) in zoho.coql_queries()[0]


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("Acme  Corp", {"word": "Acme Corp"}),
        ("(Industry:equals:Retail)", {"criteria": "(Industry:equals:Retail)"}),
        ("O'Brien (UK), Ltd", {"criteria": r"(Account_Name:equals:O'Brien \(UK\)\, Ltd)"}),
        ("Z", {"criteria": "(Account_Name:starts_with:Z)"}),
    ],
)
async def test_search_accounts_word_or_criteria(
    time: FakeTime, query: str, params: dict[str, str]
) -> None:
    zoho = FakeZoho()
    zoho.route("GET", "/Accounts/search", page([{"id": rid(1), "Account_Name": "Hit"}]))
    async with make_gateway(zoho, time) as gateway:
        found = await gateway.search_accounts(query)
    assert [a.name for a in found] == ["Hit"]
    sent = dict(zoho.requests[0].url.params)
    for key, value in params.items():
        assert sent[key] == value
    assert {"word", "criteria"} & set(sent) == set(params)


async def test_search_accounts_limit_and_empty_query(time: FakeTime) -> None:
    zoho = FakeZoho()
    rows = [{"id": rid(n), "Account_Name": f"A{n}"} for n in range(400)]

    def search(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        return page(rows[(number - 1) * 200 : number * 200], more=number < 2)

    zoho.route("GET", "/Accounts/search", search)
    async with make_gateway(zoho, time) as gateway:
        assert await gateway.search_accounts("   ") == []
        assert zoho.requests == []
        found = await gateway.search_accounts("acme", limit=250)
    assert len(found) == 250
    assert len(zoho.requests) == 2


async def test_get_activities_since_and_kinds(time: FakeTime) -> None:
    zoho = FakeZoho()
    account = rid(1)
    zoho.route(
        "GET",
        rf"/Accounts/{account}/Tasks",
        page(
            [
                {
                    "id": "t1",
                    "Subject": "old",
                    "Due_Date": "2026-01-05",
                    "What_Id": {"id": account},
                },
                {
                    "id": "t2",
                    "Subject": "new",
                    "Due_Date": "2026-10-30",
                    "What_Id": {"id": account},
                },
            ]
        ),
    )
    zoho.route(
        "GET",
        rf"/Accounts/{account}/Calls",
        page([{"id": "c1", "Subject": "call", "Call_Start_Time": recent(3)}]),
    )
    async with make_gateway(zoho, time) as gateway:
        found = await gateway.get_activities(account, since=CUTOFF, kinds=("call", "task"))
    assert [(a.kind, a.id) for a in found] == [("task", "t2"), ("call", "c1")]
    assert found[0].what is not None
    assert found[0].what.module == "Accounts"
    assert {r.url.path.rsplit("/", 1)[1] for r in zoho.requests} == {"Tasks", "Calls"}


async def test_get_notes_newest_first(time: FakeTime) -> None:
    zoho = FakeZoho()
    zoho.route(
        "GET",
        r"/Accounts/1/Notes",
        page([note(1, "1", FIXED_NOW - timedelta(days=5)), note(2, "1", FIXED_NOW)]),
    )
    async with make_gateway(zoho, time) as gateway:
        notes = await gateway.get_notes("1")
    assert [n.content for n in notes] == ["note 2", "note 1"]


async def test_get_user_info(time: FakeTime) -> None:
    zoho = FakeZoho()
    Org(zoho)
    async with make_gateway(zoho, time) as gateway:
        me = await gateway.get_user_info()
        bob = await gateway.get_user_info("BOB@example.com")
        nobody = await gateway.get_user_info("nobody@example.com")
    assert me is not None
    assert me.id == ANN
    assert bob is not None
    assert bob.name == "Bob Roy"
    assert nobody is None
    assert [r.url.params["type"] for r in zoho.requests] == ["CurrentUser", "AllUsers", "AllUsers"]


async def test_get_stage_history_oldest_first(time: FakeTime) -> None:
    zoho = FakeZoho()
    zoho.route(
        "GET",
        r"/Deals/5/Stage_History",
        page(
            [
                {
                    "id": "h2",
                    "Stage": "Negotiation/Review",
                    "Amount": 900,
                    "Modified_Time": recent(1),
                },
                {
                    "id": "h1",
                    "Stage": "Qualification",
                    "Close_Date": "2026-12-01",
                    "Modified_Time": recent(40),
                },
                {"id": "h0", "Stage": None},
            ]
        ),
    )
    async with make_gateway(zoho, time) as gateway:
        history = await gateway.get_stage_history("5")
    assert [h.stage for h in history] == ["Qualification", "Negotiation/Review"]
    assert history[1].amount == 900
    fields = zoho.requests[0].url.params["fields"].split(",")
    assert {"Stage", "Close_Date", "Amount", "Probability", "Modified_Time"} <= set(fields)
