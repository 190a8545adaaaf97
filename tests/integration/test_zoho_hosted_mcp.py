"""ZohoMcpGateway ("flavour zoho") against a fake of Zoho's hosted MCP server over the simulator.

The fake (tests/fakes/zoho_hosted_mcp.py) forwards every ``ZohoCRM_*`` call as the REST request
it stands for to the same simulator a ZohoRestGateway reads, so the two gateways must agree.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
import pytest_asyncio
from pydantic import SecretStr

from sergas_tui.agents.events import RunFinished
from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.write_plan import marker
from sergas_tui.audit.gateway import AuditedGateway
from sergas_tui.clock import FixedClock
from sergas_tui.config import ZohoSettings, load_settings
from sergas_tui.crm.gateway import CrmReader, ReadOnlyCrm
from sergas_tui.crm.http import CrmWait, watch_waits
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FaultPlan,
    Simulator,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.crm.writer import CrmGateway, TaskDraft, WriteApproval
from sergas_tui.crm.zoho_mcp import (
    ZohoCatalog,
    ZohoMcpGateway,
    catalog_flavour,
    connect_mcp_http,
    connect_zoho_mcp,
    decode_tool_result,
    redact_url,
)
from sergas_tui.demo import DemoInfo, DemoStore, generate
from sergas_tui.domain import Approval, ApprovalStatus
from sergas_tui.errors import (
    CrmAuthError,
    CrmConflictError,
    CrmPermissionError,
    CrmServerError,
    CrmValidationError,
    SecretError,
)
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretName, SecretStore
from sergas_tui.services import open_services
from sergas_tui.storage import Repository
from tests.conftest import FIXED_NOW
from tests.fakes.mcp_harness import memory_transport
from tests.fakes.zoho_hosted_mcp import (
    FULL_CATALOG,
    READ_ONLY_CATALOG,
    Style,
    ZohoHostedFake,
    serve_http,
)
from tests.fakes.zoho_http import FakeTime
from tests.integration.simkit import copy_org

CREDENTIALS = ZohoCredentials(
    DEMO_CLIENT_ID, SecretStr(DEMO_CLIENT_SECRET), SecretStr(DEMO_REFRESH_TOKEN)
)
NO_LIMITS = SimulatorConfig(clock=FixedClock(FIXED_NOW), per_minute=None)
MISSING_ACCOUNT = "5725767000009999999"


@pytest.fixture(scope="module")
def shared_org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoInfo]:
    path = tmp_path_factory.mktemp("zoho-mcp") / "org.db"
    generate(path, accounts=60, owners=3, seed=5, now=FIXED_NOW)
    with DemoStore.open(path) as store:
        return path, store.meta()


@pytest.fixture
def sim(shared_org: tuple[Path, DemoInfo]) -> Iterator[Simulator]:
    simulator = create_simulator(shared_org[0], NO_LIMITS)
    yield simulator
    simulator.close()


@asynccontextmanager
async def hosted(
    sim: Simulator, **options: Any
) -> AsyncIterator[tuple[ZohoMcpGateway, ZohoHostedFake]]:
    """The gateway over the fake, in memory."""
    fake = ZohoHostedFake(sim, **options)
    try:
        gateway = await ZohoMcpGateway.connect(
            memory_transport(fake.server), target="the fake", clock=FixedClock(FIXED_NOW)
        )
        async with gateway:
            yield gateway, fake
    finally:
        await fake.aclose()


@asynccontextmanager
async def rest_gateway(sim: Simulator) -> AsyncIterator[ZohoRestGateway]:
    time = FakeTime(FixedClock(FIXED_NOW))
    gateway = ZohoRestGateway(
        ZohoSettings(client_id=DEMO_CLIENT_ID, requests_per_minute=10_000),
        CREDENTIALS,
        transport=httpx.ASGITransport(app=sim.app),
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(3),
        monotonic=time.monotonic,
    )
    async with gateway:
        yield gateway


async def assert_reads_agree(
    mcp: CrmReader, rest: CrmReader, owner: str, *, sample: int = 4, search: bool = True
) -> None:
    """Every read of a few of ``owner``'s accounts gives the same domain models (without a
    search tool, a name search finds the account, though not exactly what Zoho's word search
    finds)."""
    mine = await rest.get_accounts(owner)
    assert mine
    assert await mcp.get_accounts(owner) == mine
    for account in mine[:sample]:
        assert await mcp.get_account_details(account.id) == await rest.get_account_details(
            account.id
        )
        deals = await rest.get_deals(account.id)
        assert await mcp.get_deals(account.id) == deals
        assert await mcp.get_activities(account.id) == await rest.get_activities(account.id)
        since = FIXED_NOW - timedelta(days=30)
        assert await mcp.get_activities(account.id, since, ("task",)) == (
            await rest.get_activities(account.id, since, ("task",))
        )
        assert await mcp.get_notes(account.id) == await rest.get_notes(account.id)
        for deal in deals[:2]:
            assert await mcp.get_stage_history(deal.id) == await rest.get_stage_history(deal.id)
    assert await mcp.list_open_deals(owner) == await rest.list_open_deals(owner)
    named = next(a for a in mine if a.name)
    word = named.name.split()[0]
    if search:
        assert await mcp.search_accounts(word) == await rest.search_accounts(word)
    else:
        assert named in await mcp.search_accounts(word)
    assert await mcp.get_user_info(owner) == await rest.get_user_info(owner)
    assert await mcp.get_account_details(MISSING_ACCOUNT) is None


# --- (a) reads map to the same domain models as REST -------------------------------------------


@pytest.mark.parametrize("style", ["camelCase", "Title_Case"])
async def test_reads_agree_with_the_rest_gateway(
    sim: Simulator, shared_org: tuple[Path, DemoInfo], style: Style
) -> None:
    me = shared_org[1].current_user_email
    async with hosted(sim, style=style) as (gateway, fake), rest_gateway(sim) as rest:
        assert gateway.catalog.naming == style
        assert gateway.degraded == []
        await assert_reads_agree(gateway, rest, me)
        assert await gateway.get_user_info() == await rest.get_user_info()
        deal = (await rest.list_open_deals(me))[0]
        assert await gateway.get_timeline("Deals", deal.id) == await rest.get_timeline(
            "Deals", deal.id
        )

        batch = await gateway.sync(me)
        expected = await rest.sync(me)
        for part in ("users", "accounts", "contacts", "deals", "activities", "notes"):
            assert getattr(batch, part) == getattr(expected, part), part
        assert batch.full
        assert batch.calls == expected.calls
        later = await gateway.sync(me, modified_since=FIXED_NOW)
        assert later.accounts == []
        assert later.notes == []

    coql = fake.name_of("executeCOQLQuery")
    assert coql == ("ZohoCRM_Get_Records_By_Query" if style == "Title_Case" else coql)
    assert fake.calls[coql] >= 6
    assert all(name.startswith("ZohoCRM_") for name in fake.calls)


async def test_rest_errors_inside_ordinary_results_become_typed_errors(
    sim: Simulator, shared_org: tuple[Path, DemoInfo]
) -> None:
    async with hosted(sim, errors_as_text=True, no_content_text="No content") as (gateway, _):
        assert await gateway.get_account_details(MISSING_ACCOUNT) is None  # INVALID_DATA
        with pytest.raises(CrmValidationError) as raised:
            await gateway.get_deals(MISSING_ACCOUNT)
        assert raised.value.code == "INVALID_DATA"
        assert "ZohoCRM_getRelatedRecords" in raised.value.message
        assert await gateway.search_accounts("zzzzqqqq") == []  # a REST 204


def _result(text: str, *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=is_error)


def test_tool_results_decode_to_zoho_json_or_typed_errors() -> None:
    body = decode_tool_result("T", _result('{"data":[{"id":"1"}],"info":{"more_records":false}}'))
    assert body == {"data": [{"id": "1"}], "info": {"more_records": False}}
    assert decode_tool_result("T", _result("")) is None
    error = '{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}'
    with pytest.raises(CrmAuthError):
        decode_tool_result("T", _result(error))
    with pytest.raises(CrmAuthError):
        decode_tool_result("T", _result(error, is_error=True))
    with pytest.raises(CrmAuthError):
        decode_tool_result("T", _result("HTTP 401 Unauthorized: invalid_token"))
    with pytest.raises(CrmPermissionError):
        decode_tool_result("T", _result('{"code":"NO_PERMISSION","message":"no","status":"error"}'))
    with pytest.raises(CrmConflictError):
        decode_tool_result(
            "T", _result('{"code":"ALREADY_MODIFIED","status":"error"}', is_error=True)
        )


def test_both_naming_families_map_to_the_same_operations() -> None:
    def tool(name: str) -> types.Tool:
        return types.Tool(name=name, input_schema={"type": "object"})

    title = ZohoCatalog([tool(n) for n in ("ZohoCRM_Get_Records", "ZohoCRM_Get_Records_By_Query")])
    camel = ZohoCatalog([tool(n) for n in ("ZohoCRM_getRecords", "ZohoCRM_executeCOQLQuery")])
    assert title.tool_name("coql") == "ZohoCRM_Get_Records_By_Query"
    assert camel.tool_name("get_records") == "ZohoCRM_getRecords"
    assert (title.naming, camel.naming) == ("Title_Case", "camelCase")
    assert catalog_flavour(["ZohoCRM_getRecords", "ZohoDesk_getTickets"]) == "zoho"
    assert catalog_flavour(["zoho_get_accounts", "zoho_sync"]) == "sergas"
    assert catalog_flavour(["something_else"]) is None


def test_redact_url_keeps_scheme_and_host_only() -> None:
    key = "3f1c0a9e5d7b4c2e8f6a1b0c9d8e7f6a"
    assert (
        redact_url(f"https://crm-data-operations-933559385.zohomcp.com/mcp/{key}/message")
        == "https://crm-data-operations-933559385.zohomcp.com/…"
    )
    assert redact_url(f"https://x.zohomcp.eu/mcp/message?key={key}") == "https://x.zohomcp.eu/…"
    assert redact_url(f"http://127.0.0.1:8123/mcp/{key}/message") == "http://127.0.0.1:8123/…"


# --- (b) a full review through Zoho's hosted server ---------------------------------------------


async def test_a_review_through_the_hosted_server_yields_recommendations(tmp_path: Path) -> None:
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=120, owners=3, seed=7, now=FIXED_NOW)
    services = open_services(
        load_settings(locations, overrides={"zoho": {"requests_per_minute": 10_000}}),
        locations,
        secrets=SecretStore(environ={}),
        clock=FixedClock(FIXED_NOW),
    )
    sim = create_simulator(path, SimulatorConfig(per_minute=None))
    fake = ZohoHostedFake(sim)
    try:
        gateway = await ZohoMcpGateway.connect(
            memory_transport(fake.server), target="the fake", clock=services.clock
        )
        # Services.crm() hands readers a ReadOnlyCrm over the audited gateway, as in the app.
        services._crm = AuditedGateway(
            gateway, services.store, default_agent="sergas", clock=services.clock
        )
        reader = await services.crm()
        assert isinstance(reader, ReadOnlyCrm)
        assert not hasattr(reader, "create_task")
        assert services.demo is not None
        me = services.demo.meta().current_user_email
        orchestrator = await services.orchestrator()
        events = [event async for event in orchestrator.review(me)]
        finished = events[-1]
        assert isinstance(finished, RunFinished)
        assert finished.summary.failed == 0, finished.summary.failures
        assert finished.summary.recommendations > 0
        assert services.store.pending_approval_count(me) > 0
        scenarios = {s.key: s.account_id for s in services.demo.scenarios()}
        signals = {
            a.account_id: {s.key for s in a.signals}
            for brief in finished.briefs
            for a in brief.accounts or []
        }
        assert "stalled_in_stage" in signals[scenarios["stalled_negotiation"]]
        assert signals[scenarios["healthy_expansion"]] == set()
        assert fake.calls[fake.name_of("executeCOQLQuery")] >= 6  # the sync went through COQL
        assert not any("create" in name or "update" in name for name in fake.calls)
    finally:
        await services.aclose()
        services.close()
        await fake.aclose()
        sim.close()


# --- (c) an approved write, exactly once ------------------------------------------------------


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class World:
    sim: Simulator
    fake: ZohoHostedFake
    gateway: ZohoMcpGateway
    rest: ZohoRestGateway
    repo: Repository
    account_id: str
    owner: str

    def approve(self, action_type: str, payload: dict[str, Any]) -> Approval:
        approval = Approval.model_validate(
            {
                "recommendation_id": f"rec-{action_type}",
                "account_id": self.account_id,
                "owner_email": self.owner,
                "action_type": action_type,
                "payload": payload,
                "status": "approved",
                "created_at": datetime.now(UTC) - timedelta(minutes=5),
                "decided_by": self.owner,
                "decided_at": datetime.now(UTC),
            }
        )
        self.repo.add_approval(approval)
        return approval

    async def tasks_with(self, approval_id: str) -> list[str]:
        """Read straight from the simulator over REST, not through the gateway under test."""
        tasks = await self.rest.get_activities(self.account_id, kinds=("task",))
        return [t.id for t in tasks if marker(approval_id) in (t.description or "")]


@pytest_asyncio.fixture
async def world(shared_org: tuple[Path, DemoInfo], tmp_path: Path) -> AsyncIterator[World]:
    sim = create_simulator(copy_org(shared_org[0], tmp_path), SimulatorConfig(per_minute=None))
    fake = ZohoHostedFake(sim)
    gateway = await ZohoMcpGateway.connect(memory_transport(fake.server), target="the fake")
    repo = Repository.open(tmp_path / "workspace.sqlite")
    owner = shared_org[1].current_user_email
    try:
        async with rest_gateway(sim) as rest:
            account_id = (await rest.get_accounts(owner))[0].id
            yield World(sim, fake, gateway, rest, repo, account_id, owner)
    finally:
        await gateway.aclose()
        await fake.aclose()
        repo.close()
        sim.close()


async def test_an_approved_task_is_written_once(world: World) -> None:
    executor = Executor(world.repo, world.gateway, clock=WallClock())
    approval = world.approve("create_task", {"subject": "Call the CFO", "priority": "High"})
    result = await executor.execute(approval.id)
    assert result.status == "executed"
    assert result.wrote
    assert await world.tasks_with(approval.id) == [result.record_id]
    create = world.fake.name_of("createRecords")
    assert world.fake.calls[create] == 1

    again = await executor.execute(approval.id)
    assert again.status == "already_executed"
    assert not again.wrote
    assert await world.tasks_with(approval.id) == [result.record_id]
    assert world.fake.calls[create] == 1
    stored = world.repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.EXECUTED


async def test_approved_note_and_account_update_are_written(world: World) -> None:
    executor = Executor(world.repo, world.gateway, clock=WallClock())
    note = world.approve("add_note", {"title": "Recap", "content": "Agreed next steps."})
    assert (await executor.execute(note.id)).status == "executed"
    notes = await world.rest.get_notes(world.account_id)
    assert [n.title for n in notes if marker(note.id) in (n.content or "")] == ["Recap"]

    before = await world.rest.get_account_details(world.account_id)
    assert before is not None
    target = "Shut Down" if before.rating != "Shut Down" else "Active"
    update = world.approve(
        "update_account",
        {"field_changes": [{"field": "Rating", "old": before.rating, "new": target}]},
    )
    assert (await executor.execute(update.id)).status == "executed"
    after = await world.rest.get_account_details(world.account_id)
    assert after is not None
    assert after.rating == target


async def test_an_update_of_a_record_changed_since_is_a_conflict(world: World) -> None:
    approval = WriteApproval(
        approval_id="a1",
        token="never-sent",
        account_id=world.account_id,
        owner_email=world.owner,
        action_type="update_account",
        decided_by=world.owner,
        expires_at=FIXED_NOW + timedelta(days=1),
    )
    with pytest.raises(CrmConflictError) as raised:
        await world.gateway.update_account(
            world.account_id,
            {"Rating": "Active"},
            approval=approval,
            if_unmodified_since=datetime(2001, 1, 1, tzinfo=UTC),
        )
    assert raised.value.code == "ALREADY_MODIFIED"
    assert isinstance(raised.value.details, dict)
    assert "current" in raised.value.details


# --- (d) over real HTTP, with the key in the URL ------------------------------------------------


async def test_http_with_a_key_in_the_url(
    sim: Simulator, shared_org: tuple[Path, DemoInfo], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = secrets.token_hex(16)
    wrong = secrets.token_hex(16)
    fake = ZohoHostedFake(sim)
    try:
        async with serve_http(fake.server, key=key) as url:
            assert url.startswith("http://127.0.0.1:")
            assert key in url
            gateway = await connect_zoho_mcp(url)
            async with gateway:
                assert gateway.target == redact_url(url)
                me = await gateway.get_user_info()
                assert me is not None
                assert me.email == shared_org[1].current_user_email
                assert await gateway.get_accounts(me.email)

            with pytest.raises(CrmAuthError) as raised:
                await connect_zoho_mcp(url.replace(key, wrong))
            message = str(raised.value)
            assert raised.value.status_code == 401
            assert wrong not in message
            assert key not in message
            assert "/mcp/" not in message
            assert "zoho_mcp_url" in message

            detected = await connect_mcp_http(url, "any-token")  # 'auto' flavour
            try:
                assert isinstance(detected, ZohoMcpGateway)
            finally:
                await detected.aclose()
    finally:
        await fake.aclose()
    logged = caplog.text
    assert "HTTP Request" in logged  # the HTTP client did log its requests, redacted
    assert key not in logged
    assert wrong not in logged


async def test_http_with_a_bearer_token_required(
    sim: Simulator, shared_org: tuple[Path, DemoInfo]
) -> None:
    key = secrets.token_hex(16)
    fake = ZohoHostedFake(sim)
    try:
        async with serve_http(fake.server, key=key, bearer_token="oauth-access") as url:
            with pytest.raises(CrmAuthError) as raised:
                await connect_zoho_mcp(url)
            assert key not in str(raised.value)
            async with await connect_zoho_mcp(url, bearer_token="oauth-access") as gateway:
                assert await gateway.get_user_info() is not None
    finally:
        await fake.aclose()


# --- (e) what a small catalog lacks ---------------------------------------------------------------


async def test_a_read_only_catalog_degrades_and_says_so(
    sim: Simulator, shared_org: tuple[Path, DemoInfo]
) -> None:
    me = shared_org[1].current_user_email
    async with (
        hosted(sim, operations=READ_ONLY_CATALOG) as (gateway, fake),
        rest_gateway(sim) as rest,
    ):
        degraded = " ".join(gateway.degraded)
        for lacking in (
            "ZohoCRM_executeCOQLQuery",
            "ZohoCRM_getTimelines",
            "ZohoCRM_getUsers",
            "ZohoCRM_searchRecords",
            "ZohoCRM_createRecords",
            "ZohoCRM_updateRecord",
            "ZohoCRM_getFields",
        ):
            assert lacking in degraded, lacking
        assert len(gateway.degraded) == 7
        # No getFields tool: the field metadata is unknown, and says why.
        unknown = await gateway.get_fields("Accounts")
        assert not unknown.known
        assert "ZohoCRM_getFields" in (unknown.unknown or "")

        # The fallbacks still answer what REST answers.
        await assert_reads_agree(gateway, rest, me, sample=2, search=False)
        assert await gateway.get_timeline("Accounts", (await rest.get_accounts(me))[0].id) == []
        assert await gateway.get_user_info() is None  # who am I: no users tool to ask
        batch = await gateway.sync(me)
        expected = await rest.sync(me)
        assert {a.id for a in batch.accounts} == {a.id for a in expected.accounts}
        assert {d.id for d in batch.deals} == {d.id for d in expected.deals}
        assert {c.id for c in batch.contacts} == {c.id for c in expected.contacts}
        assert {n.id for n in batch.notes} == {n.id for n in expected.notes}
        assert {a.id for a in batch.activities} == {a.id for a in expected.activities}

        approval = WriteApproval(
            approval_id="a1",
            token="t",
            account_id=batch.accounts[0].id,
            owner_email=me,
            action_type="create_task",
            decided_by=me,
            expires_at=FIXED_NOW + timedelta(days=1),
        )
        with pytest.raises(CrmPermissionError):
            await gateway.create_task(
                TaskDraft(account_id=batch.accounts[0].id, subject="x"), approval=approval
            )
    assert not any("COQL" in name or "Query" in name for name in fake.calls)


async def test_the_full_catalog_degrades_nothing_and_the_flavours_are_told_apart(
    sim: Simulator,
) -> None:
    async with hosted(sim, operations=FULL_CATALOG) as (gateway, _):
        assert gateway.degraded == []
        assert isinstance(gateway, CrmGateway)
        assert not isinstance(gateway, McpGateway)


@pytest.mark.parametrize("style", ["camelCase", "Title_Case"])
async def test_field_metadata_comes_from_get_fields_once_a_day(
    sim: Simulator, style: Style
) -> None:
    async with hosted(sim, style=style) as (gateway, fake), rest_gateway(sim) as rest:
        fields = await gateway.get_fields("Accounts")
        expected = await rest.get_fields("Accounts")
        assert fields.known
        assert fields.fields == expected.fields  # one conversion of Zoho's JSON for both
        rating = fields.field("Rating")
        assert rating is not None
        assert rating.picklist is not None
        assert "At Risk" in rating.picklist
        assert await gateway.get_fields("Accounts") == fields
        assert fake.calls[fake.name_of("getFields")] == 1


# --- configuration: [zoho] mcp_flavour and the zoho_mcp_url secret ------------------------------


async def test_services_reach_the_hosted_server_from_the_keyring_url(
    sim: Simulator, shared_org: tuple[Path, DemoInfo]
) -> None:
    locations = Locations.from_env()
    settings = load_settings(locations, overrides={"zoho": {"mcp_flavour": "zoho"}})
    assert settings.zoho.resolved_mode() == "mcp"
    store = SecretStore(environ={})
    with pytest.raises(SecretError) as missing:
        open_services(settings, locations, secrets=store)
    assert "zoho_mcp_url" in missing.value.message

    key = secrets.token_hex(16)
    fake = ZohoHostedFake(sim)
    try:
        async with serve_http(fake.server, key=key) as url:
            store.set(SecretName.ZOHO_MCP_URL, url)
            services = open_services(settings, locations, secrets=store)
            try:
                crm = await services.crm()
                me = await crm.get_user_info()
                assert me is not None
                assert me.email == shared_org[1].current_user_email
                assert fake.calls[fake.name_of("getUsers")] == 1
            finally:
                await services.aclose()
                services.close()
    finally:
        await fake.aclose()


async def _recording_sleeps(world: World) -> tuple[ZohoMcpGateway, list[float]]:
    """A gateway to the fake whose sleeps are recorded (and return at once)."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    gateway = await ZohoMcpGateway.connect(
        memory_transport(world.fake.server), target="the fake", sleep=sleep
    )
    return gateway, slept


async def test_a_throttled_read_is_waited_out_beyond_the_retries_and_told(world: World) -> None:
    gateway, slept = await _recording_sleeps(world)
    told: list[CrmWait] = []
    async with gateway:
        world.sim.faults = FaultPlan(schedule=dict.fromkeys(range(1, 6), "rate_limit"))
        with watch_waits(told.append):
            assert await gateway.get_user_info() is not None  # five 429s, then the answer
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert [w.seconds for w in told] == slept
    assert all("Zoho's rate limit" in w.reason and "the fake" in w.reason for w in told)


async def test_throttled_reads_are_retried_and_writes_are_not(world: World) -> None:
    gateway, slept = await _recording_sleeps(world)
    async with gateway:
        world.sim.faults = FaultPlan(schedule={1: "rate_limit", 2: "server_error"})
        assert await gateway.get_user_info() is not None  # 429, 500, then the answer
        assert slept == [1.0, 2.0]

        world.sim.faults = FaultPlan(schedule={1: "server_error"})
        approval = WriteApproval(
            approval_id="a1",
            token="t",
            account_id=world.account_id,
            owner_email=world.owner,
            action_type="create_task",
            decided_by=world.owner,
            expires_at=FIXED_NOW + timedelta(days=1),
        )
        create = world.fake.name_of("createRecords")
        with pytest.raises(CrmServerError):
            await gateway.create_task(
                TaskDraft(account_id=world.account_id, subject="Once"), approval=approval
            )
        assert world.fake.calls[create] == 1
        assert slept == [1.0, 2.0]
