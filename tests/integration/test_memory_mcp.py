"""The memory MCP server through real MCP sessions: in-process, stdio subprocess, HTTP, and
RemoteMemory against it (a full server, a ``--read-only`` one, a wrong token)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from sergas_tui.clock import FixedClock
from sergas_tui.domain import (
    Account,
    AccountFacts,
    CreateTaskAction,
    Note,
    Owner,
    Recommendation,
    ScoutReport,
)
from sergas_tui.errors import ConfigError, StorageError
from sergas_tui.memory import LocalMemory
from sergas_tui.memory.mcp_server import build_memory_server, run_memory_server
from sergas_tui.memory.remote import RemoteMemory, RemoteToolMissingError
from tests.fakes.mcp_harness import connected
from tests.fakes.reviewed_memory import NOW, ReviewedMemory, build_reviewed_memory

ROOT = Path(__file__).resolve().parents[2]
CLOCK = FixedClock(NOW)
TOKEN = "memory-test-token-0123456789"
READ_TOOLS = {
    "cognee_search_memory",
    "cognee_retrieve_history",
    "cognee_aggregate_insights",
    "cognee_get_relationship_graph",
}
SERGAS_TOOLS = {
    "sergas_ingest_facts",
    "sergas_record_recommendation",
    "sergas_record_decision",
    "sergas_record_outcome",
    "sergas_forget_account",
    "sergas_stats",
}
ALL_TOOLS = READ_TOOLS | {"cognee_store_context", "cognee_deduplicate_records"} | SERGAS_TOOLS
READ_ONLY_HINTED = READ_TOOLS | {"sergas_stats"}
DESTRUCTIVE = {"cognee_deduplicate_records", "sergas_forget_account"}


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> ReviewedMemory:
    return build_reviewed_memory(tmp_path_factory.mktemp("reviewed"))


@pytest.fixture
def memory_file(reviewed: ReviewedMemory, tmp_path: Path) -> Path:
    copy = tmp_path / "memory.db"
    with closing(sqlite3.connect(reviewed.path)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    return copy


@pytest.fixture
async def memory(memory_file: Path) -> AsyncIterator[LocalMemory]:
    store = LocalMemory(memory_file, clock=CLOCK)
    yield store
    await store.close()


def payload(result: types.CallToolResult) -> dict[str, Any]:
    """The JSON of a result's text, which must equal its structured content."""
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    data: dict[str, Any] = json.loads(block.text)
    assert data == result.structured_content
    return data


# --- in-process --------------------------------------------------------------------------------


async def test_tools_listing_annotations_and_calls(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    async with connected(build_memory_server(memory, clock=CLOCK)) as session:
        listing = await session.list_tools()
        tools = {tool.name: tool for tool in listing.tools}
        assert set(tools) == ALL_TOOLS
        read_only = {n for n, t in tools.items() if t.annotations and t.annotations.read_only_hint}
        assert read_only == READ_ONLY_HINTED
        destructive = {
            n for n, t in tools.items() if t.annotations and t.annotations.destructive_hint
        }
        assert destructive == DESTRUCTIVE
        for name in READ_TOOLS:
            hints = tools[name].annotations
            assert hints is not None
            assert (hints.idempotent_hint, hints.destructive_hint) == (True, False)

        found = await session.call_tool("cognee_search_memory", {"query": "executive sponsor"})
        assert not found.is_error
        hits = payload(found)["hits"]
        assert hits[0]["account_id"] == reviewed.scenarios["exec_sponsor_changed"]

        aid = hits[0]["account_id"]
        graph = await session.call_tool("cognee_get_relationship_graph", {"account_id": aid})
        assert {n["type"] for n in payload(graph)["nodes"]} >= {"account", "contact", "deal"}

        missing = await session.call_tool("cognee_retrieve_history", {"account_id": "404"})
        assert missing.is_error
        assert "knows no account" in payload(missing)["error"]["message"]
        bad = await session.call_tool("cognee_retrieve_history", {"account_id": aid, "days": -1})
        assert bad.is_error

        stored = await session.call_tool(
            "cognee_store_context", {"account_id": aid, "kind": "note", "text": "Met the CFO."}
        )
        assert not stored.is_error
        assert payload(stored)["ref"].startswith("memory:notes:")


async def test_read_only_server_offers_and_runs_only_read_tools(memory: LocalMemory) -> None:
    before = await memory.stats()
    server = build_memory_server(memory, read_only=True, clock=CLOCK)
    async with connected(server) as session:
        listing = await session.list_tools()
        assert {tool.name for tool in listing.tools} == READ_TOOLS
        assert all(t.annotations and t.annotations.read_only_hint for t in listing.tools)
        for name, arguments in (
            ("cognee_deduplicate_records", {"dry_run": False}),
            ("cognee_store_context", {"account_id": "1", "kind": "note", "text": "x"}),
            ("sergas_forget_account", {"account_id": "1"}),
            ("sergas_ingest_facts", {"facts": {}}),
            ("sergas_stats", {}),
        ):
            with pytest.raises(MCPError, match="Unknown tool"):
                await session.call_tool(name, arguments)
        insights = await session.call_tool("cognee_aggregate_insights", {})
        assert payload(insights)["accounts"] == 40
    assert await memory.stats() == before


# --- stdio subprocess --------------------------------------------------------------------------


def _request(rid: int, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        message["params"] = params
    return (json.dumps(message) + "\n").encode()


async def test_stdio_stdout_carries_only_json_rpc(
    memory_file: Path, reviewed: ReviewedMemory, tmp_path: Path
) -> None:
    stderr_file = tmp_path / "server.stderr"
    aid = reviewed.scenarios["exec_sponsor_changed"]
    with stderr_file.open("wb") as errlog:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakes.memory_mcp_server",
            cwd=ROOT,
            env={"MEMORY_DB": str(memory_file), "PATH": "/usr/bin:/bin"},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errlog,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        init = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "0"},
        }
        proc.stdin.write(_request(1, "initialize", init))
        proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        proc.stdin.write(_request(2, "tools/list"))
        search = {"name": "cognee_search_memory", "arguments": {"query": "executive sponsor"}}
        proc.stdin.write(_request(3, "tools/call", search))
        history = {"name": "cognee_retrieve_history", "arguments": {"account_id": aid}}
        proc.stdin.write(_request(4, "tools/call", history))
        await proc.stdin.drain()
        responses: dict[int, dict[str, Any]] = {}
        lines: list[bytes] = []
        async with asyncio.timeout(30):
            while len(responses) < 4:
                line = await proc.stdout.readline()
                assert line, "the server closed stdout early"
                lines.append(line)
                message = json.loads(line)  # every line must be JSON-RPC
                assert message["jsonrpc"] == "2.0"
                if "id" in message:
                    responses[message["id"]] = message
            proc.stdin.close()
            rest = await proc.stdout.read()
            await proc.wait()
    for line in rest.splitlines():
        assert json.loads(line)["jsonrpc"] == "2.0"
    assert proc.returncode == 0

    tools = responses[2]["result"]["tools"]
    assert {t["name"] for t in tools} == ALL_TOOLS
    read_only = {t["name"] for t in tools if t.get("annotations", {}).get("readOnlyHint")}
    assert read_only == READ_ONLY_HINTED
    found = responses[3]["result"]
    assert not found.get("isError")
    assert found["structuredContent"]["hits"][0]["account_id"] == aid
    timeline = responses[4]["result"]["structuredContent"]
    assert "Executive sponsor changed" in [
        e["event"] for e in timeline["historical_context"]["key_events"]
    ]
    errors = stderr_file.read_text()
    assert "stray print while searching" in errors
    assert "a library logs while searching" in errors


async def test_stdio_read_only_through_a_client_session(memory_file: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "tests.fakes.memory_mcp_server"],
        env={"MEMORY_DB": str(memory_file), "MEMORY_READ_ONLY": "1", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
    )
    with (tmp_path / "server.stderr").open("w", encoding="utf-8") as sink:
        async with (
            asyncio.timeout(30),
            stdio_client(params, errlog=sink) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listing = await session.list_tools()
            graph = await session.call_tool("cognee_get_relationship_graph", {"account_id": "x"})
    assert {tool.name for tool in listing.tools} == READ_TOOLS
    assert graph.is_error


# --- streamable HTTP ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def http_server(memory: LocalMemory, *, read_only: bool = True) -> AsyncIterator[str]:
    """``sergas mcp memory --http PORT [--read-only]`` over ``memory`` (what the CLI runs)."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_memory_server(
            memory,
            http_port=free_port(),
            token=TOKEN,
            read_only=read_only,
            clock=CLOCK,
            ready=ready.set_result,
        )
    )
    try:
        async with asyncio.timeout(20):
            either: list[asyncio.Future[Any]] = [task, ready]
            done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        yield ready.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_streamable_http_needs_the_bearer_token(memory: LocalMemory) -> None:
    async with http_server(memory) as url:
        async with httpx.AsyncClient() as client:
            headers = {"Accept": "application/json, text/event-stream"}
            body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            anonymous = await client.post(url, json=body, headers=headers)
            wrong = await client.post(
                url, json=body, headers=headers | {"Authorization": "Bearer nope"}
            )
        assert (anonymous.status_code, wrong.status_code) == (401, 401)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")

        client2 = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
        async with (
            client2,
            streamable_http_client(url, http_client=client2) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listing = await session.list_tools()
            insights = await session.call_tool("cognee_aggregate_insights", {"days": 30})
    assert {tool.name for tool in listing.tools} == READ_TOOLS
    assert payload(insights)["method"] == "deterministic"


async def test_http_without_a_token_is_refused(memory: LocalMemory) -> None:
    with pytest.raises(ConfigError, match="bearer token"):
        await run_memory_server(memory, http_port=free_port(), token=None, read_only=True)


# --- RemoteMemory against the HTTP server ------------------------------------------------------


def _facts(account_id: str = "acme-1") -> AccountFacts:
    owner = Owner(id="u1", name="Jordan", email="jordan@demo.sergas.test")
    return AccountFacts(
        account=Account(id=account_id, name="Acme", owner=owner),
        notes=[Note(id=f"{account_id}-n1", title="QBR", content="The CFO signed off.")],
        report=ScoutReport(account_id=account_id, account_name="Acme", owner=owner.email or ""),
        reviewed_at=NOW,
    )


def _recommendation(account_id: str = "acme-1") -> Recommendation:
    return Recommendation(
        id=f"{account_id}-rec",
        account_id=account_id,
        type="create_task",
        priority="high",
        confidence="medium",
        rationale="Meet a second stakeholder.",
        suggested_action=CreateTaskAction(subject="Meet the CFO", priority="High"),
        created_at=NOW,
    )


async def test_remote_memory_uses_a_full_server_as_its_memory(memory: LocalMemory) -> None:
    before = await memory.stats()
    async with http_server(memory, read_only=False) as url:
        remote = RemoteMemory(url, TOKEN)
        await remote.ingest(_facts())
        await remote.record_recommendation("acme-1", _recommendation())
        assert await remote.record_decision(
            "acme-1", "acme-1-rec", "approved", decided_at=NOW, actor="ae"
        )
        assert not await remote.record_outcome("acme-1", "nope", "successful", 1.0, NOW)
        stats = await remote.stats()
        assert (stats["accounts"], stats["recommendations"]) == (
            before["accounts"] + 1,
            before["recommendations"] + 1,
        )
        assert (stats["backend"], stats["server_backend"], stats["endpoint"]) == (
            "remote",
            "local",
            url,
        )
        assert await remote.forget("acme-1") == 3  # account, note, recommendation
    assert await memory.stats() == before | {"newest_ingest": stats["newest_ingest"]}


async def test_a_read_only_server_refuses_the_write_tools(memory: LocalMemory) -> None:
    """`sergas mcp memory --http PORT --read-only`: reads work, every write names its tool."""
    before = await memory.stats()
    async with http_server(memory, read_only=True) as url:
        remote = RemoteMemory(url, TOKEN)
        assert await remote.search("executive sponsor", limit=3)
        writes: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("sergas_ingest_facts", lambda: remote.ingest(_facts())),
            (
                "sergas_record_recommendation",
                lambda: remote.record_recommendation("acme-1", _recommendation()),
            ),
            (
                "sergas_record_decision",
                lambda: remote.record_decision("a", "r", "approved", decided_at=NOW, actor="x"),
            ),
            ("sergas_record_outcome", lambda: remote.record_outcome("a", "r", "partial", 0.5, NOW)),
            ("sergas_forget_account", lambda: remote.forget("acme-1")),
            ("sergas_stats", remote.stats),
        ]
        for tool, write in writes:
            with pytest.raises(RemoteToolMissingError) as caught:
                await write()
            assert caught.value.tool == tool
            assert tool in caught.value.message
            assert "Upgrade Sergas" in caught.value.message
            assert "--read-only" in caught.value.message
    assert await memory.stats() == before


@pytest.mark.parametrize("read_only", [True, False])
async def test_remote_memory_with_a_wrong_token_is_refused(
    memory: LocalMemory, read_only: bool
) -> None:
    before = await memory.stats()
    async with http_server(memory, read_only=read_only) as url:
        calls: list[Callable[[RemoteMemory], Awaitable[object]]] = [
            lambda remote: remote.search("sponsor"),
            lambda remote: remote.ingest(_facts()),
            lambda remote: remote.stats(),
        ]
        for token in ("wrong-token", None):
            for call in calls:
                with pytest.raises(StorageError) as caught:
                    await call(RemoteMemory(url, token))
                assert caught.value.title == "Memory server refused the token"
                assert "SERGAS_MEMORY_TOKEN" in caught.value.message
    assert await memory.stats() == before
