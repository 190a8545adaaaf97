"""The Zoho MCP server over a fake gateway, driven through an in-memory MCP client session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from sergas_tui.crm.approval_gate import ApprovalGate, ApprovalRefusedError, RefusalReason
from sergas_tui.crm.gateway import CrmGateway, NoteDraft, TaskDraft
from sergas_tui.crm.mcp_client import McpGateway, approval_token_scope
from sergas_tui.crm.mcp_server import build_zoho_server
from sergas_tui.crm.mcp_tools import READ_TOOL_NAMES, TOOLS, WRITE_TOOL_NAMES
from sergas_tui.domain import REDACTED, Approval, ApprovalStatus
from sergas_tui.errors import CrmConflictError, CrmConnectionError, CrmError
from sergas_tui.storage import Repository
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
EXTRA_TOOLS = {"zoho_get_stage_history", "zoho_get_timeline", "zoho_sync"}


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Repository.open(tmp_path / "sergas.db", clock=lambda: NOW) as repository:
        yield repository


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway.seeded()


@pytest.fixture
def server(fake: FakeGateway, repo: Repository) -> Server[Any]:
    return build_zoho_server(fake, ApprovalGate(repo, clock=lambda: NOW))


def approve(repo: Repository, kind: str, payload: dict[str, Any], **extra: Any) -> Approval:
    approval = Approval.model_validate(
        {
            "recommendation_id": "rec-1",
            "account_id": "1001",
            "owner_email": "ana@sergas.example",
            "action_type": kind,
            "payload": payload,
            "status": "approved",
            "created_at": NOW - timedelta(hours=1),
        }
        | extra
    )
    repo.add_approval(approval)
    return approval


NOTE_PAYLOAD = {"title": "Call summary", "content": "Discussed the renewal."}
NOTE_ARGS = {"parent_id": "1001", "title": "Call summary", "content": "Discussed the renewal."}


async def call(session: ClientSession, name: str, **arguments: Any) -> types.CallToolResult:
    return await session.call_tool(name, arguments)


def error_of(result: types.CallToolResult) -> dict[str, Any]:
    assert result.is_error
    assert isinstance(result.structured_content, dict)
    body: dict[str, Any] = result.structured_content["error"]
    return body


# --- listing -----------------------------------------------------------------------------------


async def test_tool_list_annotations_and_schemas(server: Server[Any]) -> None:
    async with connected(server) as session:
        listing = await session.list_tools()
        info = session.server_info
    assert info is not None
    assert info.name == "sergas-zoho"
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == SEED_TOOLS | EXTRA_TOOLS
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
        assert "approval_token" in tools[name].input_schema["required"]

    for tool in listing.tools:
        schema = tool.input_schema
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert len(tool.description or "") > 40
        for prop, spec in schema["properties"].items():
            assert spec.get("description"), f"{tool.name}.{prop} has no description"
        assert (tool.output_schema or {}).get("type") == "object"

    assert tools["zoho_get_account_details"].input_schema["required"] == ["account_id"]
    assert tools["zoho_get_accounts"].input_schema.get("required", []) == []
    kinds = tools["zoho_get_activities"].input_schema["properties"]["kinds"]
    assert kinds["items"]["enum"] == ["task", "event", "call"]


# --- reads -------------------------------------------------------------------------------------


async def test_reads_return_structured_json_and_the_same_text(server: Server[Any]) -> None:
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

    for result in (accounts, details, search, deals, open_deals, calls, notes, me, timeline):
        assert not result.is_error
        [text] = result.content
        assert isinstance(text, types.TextContent)
        assert json.loads(text.text) == result.structured_content

    def data(result: types.CallToolResult) -> dict[str, Any]:
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    assert [a["name"] for a in data(accounts)["accounts"]] == ["Acme Energy", "Globex Logistics"]
    assert data(accounts)["count"] == 2
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
        extra = await call(session, "zoho_get_notes", account_id="1001", limit=3)
        bad_date = await call(session, "zoho_get_accounts", modified_since="last tuesday")
        with pytest.raises(MCPError, match="Unknown tool"):
            await call(session, "zoho_delete_everything")
        still_fine = await call(session, "zoho_get_notes", account_id="1001")

    assert error_of(missing)["type"] == "CrmNotFoundError"
    assert error_of(missing)["status_code"] == 404
    assert "nope" in error_of(missing)["message"]
    assert error_of(nobody)["type"] == "CrmNotFoundError"
    for result, word in [(no_args, "account_id"), (extra, "limit"), (bad_date, "modified_since")]:
        body = error_of(result)
        assert body["type"] == "CrmValidationError"
        assert word in body["message"]
        [text] = result.content
        assert isinstance(text, types.TextContent)
        assert word in text.text
    assert not still_fine.is_error


# --- writes ------------------------------------------------------------------------------------


async def test_writes_without_a_valid_token_are_refused_and_nothing_is_written(
    server: Server[Any], fake: FakeGateway, repo: Repository
) -> None:
    pending = approve(repo, "add_note", NOTE_PAYLOAD, status="pending")
    other_note = approve(repo, "add_note", {"title": "Other", "content": "Something else."})
    task = approve(repo, "create_task", {"subject": "Call"})
    async with connected(server) as session:
        no_token = await call(session, "zoho_add_note", **NOTE_ARGS)
        bogus = await call(session, "zoho_add_note", **NOTE_ARGS, approval_token="bogus")
        not_yet = await call(session, "zoho_add_note", **NOTE_ARGS, approval_token=pending.token)
        mismatch = await call(
            session, "zoho_add_note", **NOTE_ARGS, approval_token=other_note.token
        )
        wrong_tool = await call(
            session,
            "zoho_update_account",
            account_id="1001",
            changes={"Rating": "Hot"},
            approval_token=task.token,
        )

    assert error_of(no_token)["type"] == "CrmValidationError"
    assert "approval_token" in error_of(no_token)["message"]
    for result, reason in [
        (bogus, "unknown_token"),
        (not_yet, "not_approved"),
        (mismatch, "payload_mismatch"),
        (wrong_tool, "action_mismatch"),
    ]:
        body = error_of(result)
        assert (body["type"], body["code"], body["reason"]) == (
            "ApprovalRefusedError",
            "APPROVAL_REFUSED",
            reason,
        )
    assert fake.writes == []
    for approval in (pending, other_note, task):
        assert repo.get_approval(approval.id) == approval


async def test_an_approved_write_happens_once(
    server: Server[Any], fake: FakeGateway, repo: Repository
) -> None:
    approval = approve(repo, "add_note", NOTE_PAYLOAD)
    async with connected(server) as session:
        first = await call(session, "zoho_add_note", **NOTE_ARGS, approval_token=approval.token)
        second = await call(session, "zoho_add_note", **NOTE_ARGS, approval_token=approval.token)

    assert not first.is_error
    assert first.structured_content == {
        "module": "Notes",
        "record_id": "9001",
        "action": "created",
        "modified_time": None,
    }
    assert error_of(second)["reason"] == "already_used"
    note = NoteDraft(parent_id="1001", title="Call summary", content="Discussed the renewal.")
    assert fake.writes == [("add_note", note)]
    done = repo.get_approval(approval.id)
    assert done is not None
    assert (done.status, done.result_record_id, done.executed_at) == (
        ApprovalStatus.EXECUTED,
        "9001",
        NOW,
    )


async def test_two_concurrent_calls_with_one_token_write_once(
    server: Server[Any], fake: FakeGateway, repo: Repository
) -> None:
    approval = approve(
        repo, "update_account", {"field_changes": [{"field": "Rating", "new": "Hot"}]}
    )
    arguments = {"account_id": "1001", "changes": {"Rating": "Hot"}}
    async with connected(server) as session:
        results = await asyncio.gather(
            *(
                call(session, "zoho_update_account", **arguments, approval_token=approval.token)
                for _ in range(2)
            )
        )
    assert sorted(r.is_error for r in results) == [False, True]
    assert fake.writes == [("update_account", ("1001", {"Rating": "Hot"}))]


async def test_a_failing_write_reports_the_crm_error_and_marks_the_approval_failed(
    server: Server[Any], fake: FakeGateway, repo: Repository
) -> None:
    approval = approve(
        repo, "update_account", {"field_changes": [{"field": "Rating", "new": "Hot"}]}
    )
    fake.fail_next_write = CrmConflictError(
        "The account changed in Zoho.", status_code=412, code="ALREADY_MODIFIED"
    )
    async with connected(server) as session:
        result = await call(
            session,
            "zoho_update_account",
            account_id="1001",
            changes={"Rating": "Hot"},
            if_unmodified_since="2026-10-01T09:00:00Z",
            approval_token=approval.token,
        )
    body = error_of(result)
    assert (body["type"], body["status_code"], body["code"]) == (
        "CrmConflictError",
        412,
        "ALREADY_MODIFIED",
    )
    failed = repo.get_approval(approval.id)
    assert failed is not None
    assert (failed.status, failed.error_message) == (
        ApprovalStatus.FAILED,
        "The account changed in Zoho.",
    )


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

        task = TaskDraft(account_id="1001", subject="Call the CFO", priority="High")
        with pytest.raises(ApprovalRefusedError) as no_token:
            await gateway.create_task(task)
        assert no_token.value.reason == RefusalReason.MISSING_TOKEN
        with pytest.raises(ApprovalRefusedError) as refused:
            await gateway.create_task(task, approval_token="bogus")
        assert refused.value.reason == "unknown_token"
        assert fake.writes == []

        approval = approve(repo, "create_task", {"subject": "Call the CFO", "priority": "High"})
        with approval_token_scope(approval.token):
            result = await gateway.create_task(task)
        assert (result.module, result.record_id, result.action) == ("Tasks", "9001", "created")
        assert fake.writes == [("create_task", task)]
    finally:
        await gateway.aclose()
    with pytest.raises(CrmConnectionError):
        await gateway.get_notes("1001")
    await gateway.aclose()  # twice is fine


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
