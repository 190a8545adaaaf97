"""The Zoho MCP server over a fake gateway, driven through an in-memory MCP client session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from sergas_tui.clock import FixedClock
from sergas_tui.crm.approval_gate import (
    ApprovalGate,
    ApprovalRefusedError,
    RefusalReason,
    grant_for,
)
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.mcp.server import build_zoho_server
from sergas_tui.crm.mcp.tools import READ_TOOL_NAMES, REGISTER_TOOL, TOOLS, WRITE_TOOL_NAMES
from sergas_tui.crm.mcp.wire import ERROR_META_KEY
from sergas_tui.crm.writer import (
    AccountUpdate,
    CrmGateway,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
)
from sergas_tui.domain import REDACTED, AuditEvent
from sergas_tui.domain.grants import approval_marker
from sergas_tui.domain.metadata import FieldMeta, ModuleFields
from sergas_tui.errors import CrmConflictError, CrmConnectionError, CrmError
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore
from tests.fakes.fake_gateway import FakeGateway
from tests.fakes.mcp_harness import connected, memory_transport

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

SEED_TOOLS = {
    "zoho_get_accounts",
    "zoho_get_account_details",
    "zoho_search_accounts",
    "zoho_get_deals",
    "zoho_list_open_deals",
    "zoho_get_activities",
    "zoho_get_notes",
    "zoho_get_user_info",
    "zoho_update_account",
    "zoho_create_task",
    "zoho_add_note",
}
EXTRA_TOOLS = {"zoho_get_stage_history", "zoho_get_timeline", "zoho_sync", "zoho_get_fields"}


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Repository.open(tmp_path / "sergas.db", clock=FixedClock(NOW)) as repository:
        yield repository


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway.seeded()


@pytest.fixture
def audit() -> list[AuditEvent]:
    return []


@pytest.fixture
def gate(repo: Repository, audit: list[AuditEvent]) -> ApprovalGate:
    return ApprovalGate(LocalGrantStore(repo), clock=FixedClock(NOW), audit=audit.append)


@pytest.fixture
def server(fake: FakeGateway, gate: ApprovalGate) -> Server[Any]:
    return build_zoho_server(fake, gate)


def approval(approval_id: str = "appr-1", action_type: str = "add_note") -> WriteApproval:
    return WriteApproval(
        approval_id=approval_id,
        token=f"token-of-{approval_id}",
        account_id="1001",
        owner_email="ana@sergas.example",
        action_type=action_type,
        decided_by="ana",
        expires_at=NOW + timedelta(hours=72),
    )


def grant(repo: Repository, request: WriteRequest, approved: WriteApproval) -> WriteApproval:
    """Record the approval of ``request`` in the server's workspace (as registration does)."""
    LocalGrantStore(repo).publish_grant(grant_for(approved, request, NOW))
    return approved


NOTE = NoteDraft(
    parent_id="1001",
    title="Call summary",
    content=f"Discussed the renewal.\n\n{approval_marker('appr-1')}",
)
NOTE_ARGS = {"parent_id": NOTE.parent_id, "title": NOTE.title, "content": NOTE.content}


async def call(session: ClientSession, name: str, **arguments: Any) -> types.CallToolResult:
    return await session.call_tool(name, arguments)


def data_of(result: types.CallToolResult) -> dict[str, Any]:
    """A result's JSON: one text block, no structured copy (sent once)."""
    assert not result.is_error, result.content
    assert result.structured_content is None
    [text] = result.content
    assert isinstance(text, types.TextContent)
    data: dict[str, Any] = json.loads(text.text)
    return data


def error_of(result: types.CallToolResult) -> dict[str, Any]:
    """An error result's typed envelope (in ``_meta``); its text says the same to any client."""
    assert result.is_error
    assert result.structured_content is None
    assert result.meta is not None
    body: dict[str, Any] = result.meta[ERROR_META_KEY]["error"]
    [text] = result.content
    assert isinstance(text, types.TextContent)
    assert text.text == f"{body['title']}: {body['message']}"
    return body


# --- listing -----------------------------------------------------------------------------------


async def test_tool_list_annotations_and_schemas(server: Server[Any]) -> None:
    async with connected(server) as session:
        listing = await session.list_tools()
        info = session.server_info
    assert info is not None
    assert info.name == "sergas-zoho"
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == SEED_TOOLS | EXTRA_TOOLS | {REGISTER_TOOL}
    assert set(WRITE_TOOL_NAMES) == {"zoho_update_account", "zoho_create_task", "zoho_add_note"}

    for name in READ_TOOL_NAMES:
        hints = tools[name].annotations
        assert hints is not None
        assert (hints.read_only_hint, hints.destructive_hint) == (True, False)
        assert (hints.idempotent_hint, hints.open_world_hint) == (True, True)
    for name, destructive in [
        ("zoho_update_account", True),
        ("zoho_create_task", False),
        ("zoho_add_note", False),
    ]:
        hints = tools[name].annotations
        assert hints is not None
        assert (hints.read_only_hint, hints.destructive_hint) == (False, destructive)
        assert hints.idempotent_hint is False
        assert {"approval_id", "approval_token"} <= set(tools[name].input_schema["properties"])

    for tool in listing.tools:
        schema = tool.input_schema
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert len(tool.description or "") > 40
        for prop, spec in schema["properties"].items():
            assert spec.get("description"), f"{tool.name}.{prop} has no description"
        assert tool.output_schema is None  # results are JSON text, sent once

    assert tools["zoho_get_account_details"].input_schema["required"] == ["account_id"]
    assert tools["zoho_get_accounts"].input_schema.get("required", []) == []
    kinds = tools["zoho_get_activities"].input_schema["properties"]["kinds"]
    assert kinds["items"]["enum"] == ["task", "event", "call"]


# --- reads -------------------------------------------------------------------------------------


async def test_reads_return_json_once(server: Server[Any]) -> None:
    async with connected(server) as session:
        accounts = await call(session, "zoho_get_accounts", owner_email="ana@sergas.example")
        details = await call(session, "zoho_get_account_details", account_id="1001")
        search = await call(session, "zoho_search_accounts", query="software")
        deals = await call(session, "zoho_get_deals", account_id="1001")
        open_deals = await call(session, "zoho_list_open_deals")
        calls = await call(session, "zoho_get_activities", account_id="1001", kinds=["call"])
        notes = await call(session, "zoho_get_notes", account_id="1001")
        me = await call(session, "zoho_get_user_info")
        history = await call(session, "zoho_get_stage_history", deal_id="2001")
        timeline = await call(session, "zoho_get_timeline", module="Accounts", record_id="1001")

    data = data_of

    assert [a["name"] for a in data(accounts)["accounts"]] == ["Acme Energy", "Globex Logistics"]
    assert (data(accounts)["count"], data(accounts)["total"]) == (2, 2)
    assert "next_page_token" not in data(accounts)
    assert data(details)["account"]["modified_time"] == "2026-10-01T09:00:00Z"
    assert [a["id"] for a in data(search)["accounts"]] == ["1003"]
    assert [d["id"] for d in data(deals)["deals"]] == ["2001", "2002"]
    assert [d["id"] for d in data(open_deals)["deals"]] == ["2001", "2003"]
    assert [a["subject"] for a in data(calls)["activities"]] == ["Kick-off call"]
    assert data(notes)["notes"][0]["content"].endswith("[bold]not markup[/bold]")
    assert data(me)["user"]["email"] == "ana@sergas.example"
    assert data(history)["stage_history"][0]["stage"] == "Qualification"
    rating, tax_id = data(timeline)["changes"]
    assert (rating["old"], rating["new"]) == ("Hot", "Warm")
    assert (tax_id["field"], tax_id["old"], tax_id["new"]) == ("Tax_ID", REDACTED, REDACTED)


async def test_expected_failures_are_tool_errors_and_the_session_survives(
    server: Server[Any],
) -> None:
    async with connected(server) as session:
        missing = await call(session, "zoho_get_account_details", account_id="nope")
        nobody = await call(session, "zoho_get_user_info", email="who@nowhere.example")
        no_args = await call(session, "zoho_get_deals")
        extra = await call(session, "zoho_get_notes", account_id="1001", colour="red")
        bad_date = await call(session, "zoho_get_accounts", modified_since="last tuesday")
        with pytest.raises(MCPError, match="Unknown tool"):
            await call(session, "zoho_delete_everything")
        still_fine = await call(session, "zoho_get_notes", account_id="1001")

    assert error_of(missing)["type"] == "CrmNotFoundError"
    assert error_of(missing)["status_code"] == 404
    assert "nope" in error_of(missing)["message"]
    assert error_of(nobody)["type"] == "CrmNotFoundError"
    for result, word in [(no_args, "account_id"), (extra, "colour"), (bad_date, "modified_since")]:
        body = error_of(result)
        assert body["type"] == "CrmValidationError"
        assert word in body["message"]
    assert not still_fine.is_error


# --- writes ------------------------------------------------------------------------------------


async def test_writes_without_a_recorded_approval_are_refused_and_nothing_is_written(
    server: Server[Any], fake: FakeGateway, repo: Repository, audit: list[AuditEvent]
) -> None:
    other = grant(repo, replace(NOTE, content="Something else."), approval("appr-2"))
    task = grant(repo, TaskDraft(account_id="1001", subject="Call"), approval("appr-3"))
    async with connected(server) as session:
        no_token = await call(session, "zoho_add_note", **NOTE_ARGS)
        bogus = await call(
            session, "zoho_add_note", **NOTE_ARGS, approval_id="appr-2", approval_token="bogus"
        )
        unknown = await call(
            session, "zoho_add_note", **NOTE_ARGS, approval_id="appr-9", approval_token="x"
        )
        mismatch = await call(
            session,
            "zoho_add_note",
            **NOTE_ARGS,
            approval_id=other.approval_id,
            approval_token=other.token,
        )
        wrong_tool = await call(
            session,
            "zoho_update_account",
            account_id="1001",
            changes={"Rating": "Hot"},
            approval_id=task.approval_id,
            approval_token=task.token,
        )

    for result, reason in [
        (no_token, "missing_token"),
        (bogus, "unknown_token"),
        (unknown, "unknown_token"),
        (mismatch, "payload_mismatch"),
        (wrong_tool, "action_mismatch"),
    ]:
        body = error_of(result)
        assert (body["type"], body["code"], body["reason"], body["title"]) == (
            "ApprovalRefusedError",
            "APPROVAL_REFUSED",
            reason,
            "Write not approved",
        )
    assert "approval_token" in error_of(no_token)["message"]
    assert "content" in error_of(mismatch)["message"]
    assert fake.writes == []
    assert [str(e.action_type) for e in audit] == ["tool_denied"] * 5


async def test_an_approved_write_happens_once(
    server: Server[Any], fake: FakeGateway, repo: Repository, audit: list[AuditEvent]
) -> None:
    approved = grant(repo, NOTE, approval())
    args = NOTE_ARGS | {"approval_id": approved.approval_id, "approval_token": approved.token}
    async with connected(server) as session:
        first = await call(session, "zoho_add_note", **args)
        second = await call(session, "zoho_add_note", **args)

    assert data_of(first) == {
        "module": "Notes",
        "record_id": "9001",
        "action": "created",
        "modified_time": None,
    }
    assert error_of(second)["reason"] == "already_used"
    assert fake.writes == [("add_note", NOTE)]
    assert [a.approval_id for a in fake.approvals] == ["appr-1"]
    stored = LocalGrantStore(repo).get_grant("appr-1")
    assert stored is not None
    assert (stored.state, stored.record_id) == ("completed", "9001")
    assert [str(e.action_type) for e in audit] == ["action_executed", "tool_denied"]
    assert all(approved.token not in e.model_dump_json() for e in audit)


async def test_two_concurrent_calls_with_one_token_write_once(
    server: Server[Any], fake: FakeGateway, repo: Repository
) -> None:
    update = AccountUpdate("1001", {"Rating": "Hot"})
    approved = grant(repo, update, approval(action_type="update_account"))
    arguments = {
        "account_id": "1001",
        "changes": {"Rating": "Hot"},
        "approval_id": approved.approval_id,
        "approval_token": approved.token,
    }
    async with connected(server) as session:
        results = await asyncio.gather(
            *(call(session, "zoho_update_account", **arguments) for _ in range(2))
        )
    assert sorted(r.is_error for r in results) == [False, True]
    assert fake.writes == [("update_account", ("1001", {"Rating": "Hot"}))]


async def test_a_write_the_crm_refuses_reports_its_error_and_frees_the_approval(
    server: Server[Any], fake: FakeGateway, repo: Repository
) -> None:
    since = datetime(2026, 10, 1, 9, tzinfo=UTC)
    update = AccountUpdate("1001", {"Rating": "Hot"}, since)
    approved = grant(repo, update, approval(action_type="update_account"))
    fake.fail_next_write = CrmConflictError(
        "The account changed in Zoho.", status_code=412, code="ALREADY_MODIFIED"
    )
    arguments = {
        "account_id": "1001",
        "changes": {"Rating": "Hot"},
        "if_unmodified_since": "2026-10-01T09:00:00Z",
        "approval_id": approved.approval_id,
        "approval_token": approved.token,
    }
    async with connected(server) as session:
        result = await call(session, "zoho_update_account", **arguments)
        body = error_of(result)
        assert (body["type"], body["status_code"], body["code"]) == (
            "CrmConflictError",
            412,
            "ALREADY_MODIFIED",
        )
        retried = await call(session, "zoho_update_account", **arguments)
    assert not retried.is_error
    assert len(fake.writes) == 1


async def test_registration_checks_the_marker_and_is_refused_when_grants_are_central(
    fake: FakeGateway, repo: Repository
) -> None:
    register = {
        "approval_id": "appr-1",
        "token_sha256": "0" * 64,
        "account_id": "1001",
        "owner_email": "ana@sergas.example",
        "action_type": "add_note",
        "expires_at": "2026-11-05T09:30:00Z",
        "write": {"op": "add_note", "parent_id": "1001", "content": "no marker"},
    }
    local = build_zoho_server(fake, ApprovalGate(LocalGrantStore(repo), clock=FixedClock(NOW)))
    async with connected(local) as session:
        refused = await call(session, REGISTER_TOOL, **register)
    assert "marker" in error_of(refused)["message"]
    central = ApprovalGate(LocalGrantStore(repo), clock=FixedClock(NOW), accepts_registration=False)
    async with connected(build_zoho_server(fake, central)) as session:
        names = {tool.name for tool in (await session.list_tools()).tools}
        with pytest.raises(MCPError, match="Unknown tool"):
            await call(session, REGISTER_TOOL, **register)
    assert REGISTER_TOOL not in names


async def test_list_results_come_in_bounded_pages(fake: FakeGateway, gate: ApprovalGate) -> None:
    for n in range(60):
        clone = fake.accounts["1001"].model_copy(
            update={"id": f"x{n:03}", "description": "long text " * 200}
        )
        fake.accounts[clone.id] = clone
    server = build_zoho_server(fake, gate, page_bytes=20_000)
    async with connected(server) as session:
        pages = [data_of(await call(session, "zoho_get_accounts"))]
        while token := pages[-1].get("next_page_token"):
            pages.append(data_of(await call(session, "zoho_get_accounts", page_token=token)))
        limited = data_of(await call(session, "zoho_get_accounts", limit=3))
        stale = await call(session, "zoho_get_accounts", page_token="nope.3")
    sizes = [len(json.dumps(page)) for page in pages]
    assert len(pages) > 3
    assert max(sizes) <= 20_000
    ids = [a["id"] for page in pages for a in page["accounts"]]
    assert len(ids) == len(set(ids)) == len(fake.accounts)
    assert {page["total"] for page in pages} == {len(fake.accounts)}
    assert limited["count"] == 3
    assert "next_page_token" in limited
    assert error_of(stale)["code"] == "INVALID_PAGE_TOKEN"


# --- McpGateway over the same server --------------------------------------------------------------


async def test_mcp_gateway_reads_and_writes_domain_models(
    server: Server[Any], fake: FakeGateway, repo: Repository
) -> None:
    gateway: CrmGateway = await McpGateway.connect(memory_transport(server), target="memory")
    crm: CrmGateway = fake
    assert isinstance(gateway, CrmGateway)
    assert isinstance(crm, CrmGateway)
    assert isinstance(gateway, McpGateway)
    try:
        assert await gateway.get_accounts("ana@sergas.example") == await fake.get_accounts(
            "ana@sergas.example"
        )
        assert await gateway.get_account_details("1001") == fake.accounts["1001"]
        assert await gateway.get_account_details("nope") is None
        assert await gateway.get_user_info("who@nowhere.example") is None
        assert await gateway.get_deals("1001") == await fake.get_deals("1001")
        assert await gateway.list_open_deals("ben@sergas.example") == [fake.deals[2]]
        assert await gateway.get_activities("1001", kinds=["task"]) == [fake.activities["1001"][0]]
        assert await gateway.get_notes("1001") == fake.notes["1001"]
        assert await gateway.search_accounts("acme", limit=1) == [fake.accounts["1001"]]
        assert await gateway.get_stage_history("2001") == fake.deals[0].stage_history
        assert [c.field for c in await gateway.get_timeline("Accounts", "1001")] == [
            "Rating",
            "Tax_ID",
        ]
        batch = await gateway.sync("ana@sergas.example", history_days=30)
        assert batch == await fake.sync("ana@sergas.example")

        marked = f"Budget\n\n{approval_marker('appr-5')}"
        task = TaskDraft(
            account_id="1001", subject="Call the CFO", priority="High", description=marked
        )
        forged = replace(approval("appr-5", "create_task"), token="")
        with pytest.raises(ApprovalRefusedError) as no_token:
            await gateway.create_task(task, approval=forged)
        assert no_token.value.reason == RefusalReason.MISSING_TOKEN
        assert fake.writes == []

        # The gateway records the approval with the server, then writes with its token.
        result = await gateway.create_task(task, approval=approval("appr-5", "create_task"))
        assert (result.module, result.record_id, result.action) == ("Tasks", "9001", "created")
        assert fake.writes == [("create_task", task)]
        with pytest.raises(ApprovalRefusedError) as replay:
            await gateway.create_task(task, approval=approval("appr-5", "create_task"))
        assert replay.value.reason == RefusalReason.ALREADY_USED
        assert len(fake.writes) == 1
    finally:
        await gateway.aclose()
    with pytest.raises(CrmConnectionError):
        await gateway.get_notes("1001")
    await gateway.aclose()  # twice is fine


RATING = FieldMeta(
    api_name="Rating", label="Rating", data_type="picklist", picklist=("Active", "At Risk")
)
ACCOUNT_FIELDS = ModuleFields(
    module="Accounts",
    fields=(FieldMeta(api_name="Account_Name", label="Account Name", mandatory=True), RATING),
    fetched_at=NOW,
)


async def test_the_fields_tool_serves_the_metadata_read_only(
    server: Server[Any], fake: FakeGateway
) -> None:
    fake.fields["Accounts"] = ACCOUNT_FIELDS
    async with connected(server) as session:
        listing = await session.list_tools()
        tool = next(t for t in listing.tools if t.name == "zoho_get_fields")
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.input_schema["required"] == ["module"]
        data = data_of(await call(session, "zoho_get_fields", module="Accounts"))
        assert ModuleFields.model_validate(data) == ACCOUNT_FIELDS
        assert data["fields"][1]["picklist"] == ["Active", "At Risk"]
        # A module name that is no Zoho API name never reaches the CRM.
        bad = await call(session, "zoho_get_fields", module="../etc")
        assert error_of(bad)["code"] == "INVALID_ARGUMENTS"
        unknown = data_of(await call(session, "zoho_get_fields", module="Deals"))
        assert unknown["unknown"] == "the fake has no field metadata"
    assert fake.fields_calls == 2
    assert fake.writes == []


async def test_mcp_gateway_reads_fields_once_a_day(server: Server[Any], fake: FakeGateway) -> None:
    fake.fields["Accounts"] = ACCOUNT_FIELDS
    gateway = await McpGateway.connect(memory_transport(server), target="memory")
    try:
        first = await gateway.get_fields("Accounts")
        assert first.fields == ACCOUNT_FIELDS.fields
        assert first.known
        assert await gateway.get_fields("Accounts") == first
        assert fake.fields_calls == 1  # the second read came from the gateway's cache
        fake.fields_error = CrmError("the token lacks ZohoCRM.settings.fields.READ")
        with pytest.raises(CrmError, match=r"settings\.fields\.READ"):
            await gateway.get_fields("Deals")
    finally:
        await gateway.aclose()


async def test_mcp_gateway_refuses_a_server_without_the_zoho_tools() -> None:
    async def no_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[])

    empty = Server("not-zoho", on_list_tools=no_tools)
    with pytest.raises(CrmError, match="lacks Zoho tools: zoho_add_note, "):
        await McpGateway.connect(memory_transport(empty), target="not-zoho")


def test_catalog_matches_the_seed() -> None:
    assert {spec.name for spec in TOOLS[:11]} == SEED_TOOLS
