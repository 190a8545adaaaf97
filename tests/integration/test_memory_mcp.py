"""The memory MCP server through real MCP sessions: in-process, stdio subprocess, HTTP, and
RemoteMemory against it (a full server, a ``--read-only`` one, a wrong token, paged results,
two apps sharing one server with one session each)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from datetime import timedelta
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sergas_tui import mcp_transport
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
from sergas_tui.mcp_paging import DEFAULT_PAGE_BYTES, merge_page
from sergas_tui.memory import LocalMemory, mcp_tools, tool_calls
from sergas_tui.memory.mcp_server import ERROR_META_KEY, build_memory_server, run_memory_server
from sergas_tui.memory.remote import RemoteMemory, RemoteToolMissingError
from tests.fakes.mcp_harness import connected
from tests.fakes.reviewed_memory import NOW, ReviewedMemory, build_reviewed_memory

ROOT = Path(__file__).resolve().parents[2]
CLOCK = FixedClock(NOW)
TOKEN = "memory-test-token-0123456789-XyZqW"
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
    """The JSON of a successful result: one text block, sent once (no structured copy)."""
    assert not result.is_error, result
    assert result.structured_content is None
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    data: dict[str, Any] = json.loads(block.text)
    return data


def failure(result: types.CallToolResult) -> tuple[str, dict[str, Any]]:
    """An error result's text ("<title>: <message>") and the error in its ``_meta``."""
    assert result.is_error
    assert result.structured_content is None
    [block] = result.content
    assert isinstance(block, types.TextContent)
    assert result.meta is not None
    error: dict[str, Any] = result.meta[ERROR_META_KEY]["error"]
    assert block.text == f"{error['title']}: {error['message']}"
    return block.text, error


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
        text, error = failure(missing)
        assert text.startswith("Memory tool error: Memory knows no account with id '404'")
        assert error["code"] == "unknown_account"
        bad = await session.call_tool("cognee_retrieve_history", {"account_id": aid, "days": -1})
        text, error = failure(bad)
        assert "Invalid arguments for cognee_retrieve_history: days" in text
        assert error["code"] == "invalid_arguments"

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
            with pytest.raises(MCPError, match=r"Unknown tool.*read-only"):
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
    for rid in (3, 4):  # the JSON once, as text; no outputSchema, no structured copy
        assert set(responses[rid]["result"]) <= {"content", "isError"}
        assert not responses[rid]["result"].get("isError")
    assert all("outputSchema" not in tool for tool in tools)
    found = json.loads(responses[3]["result"]["content"][0]["text"])
    assert found["hits"][0]["account_id"] == aid
    timeline = json.loads(responses[4]["result"]["content"][0]["text"])
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
async def http_server(
    memory: LocalMemory, *, read_only: bool = True, page_bytes: int = DEFAULT_PAGE_BYTES
) -> AsyncIterator[str]:
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
            page_bytes=page_bytes,
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
        assert remote.sessions_opened == 1
        await remote.close()
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
        await remote.close()
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
                remote = RemoteMemory(url, token)
                with pytest.raises(StorageError) as caught:
                    await call(remote)
                assert caught.value.title == "Memory server refused the token"
                assert "SERGAS_MEMORY_TOKEN" in caught.value.message
                await remote.close()
    assert await memory.stats() == before


# --- bounded, paged results --------------------------------------------------------------------


async def _all_pages(
    session: ClientSession, tool: str, arguments: dict[str, Any], keys: tuple[str, ...]
) -> tuple[dict[str, Any], int]:
    """A paged tool's whole result, following next_page_token; and how many pages it took."""
    data = payload(await session.call_tool(tool, arguments))
    pages = 1
    while token := data.get("next_page_token"):
        page = payload(await session.call_tool(tool, {**arguments, "page_token": token}))
        merge_page(data, page, keys)
        pages += 1
    for key in ("next_page_token", "total", "count"):
        data.pop(key, None)
    return data, pages


async def test_list_results_come_in_bounded_pages(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    args = {"account_id": aid}
    whole = await tool_calls.call_tool("cognee_get_relationship_graph", memory, args, CLOCK)
    history = await tool_calls.call_tool("cognee_retrieve_history", memory, args, CLOCK)
    assert "result_truncated" not in whole.data
    assert "result_truncated" not in history.data
    async with connected(build_memory_server(memory, clock=CLOCK, page_bytes=2_000)) as session:
        listing = {tool.name: tool for tool in (await session.list_tools()).tools}
        for name in ("cognee_retrieve_history", "cognee_get_relationship_graph"):
            assert {"page_token", "limit"} <= set(listing[name].input_schema["properties"])
        search_args = set(listing["cognee_search_memory"].input_schema["properties"])
        assert "page_token" in search_args
        assert all(tool.output_schema is None for tool in listing.values())

        first = await session.call_tool("cognee_get_relationship_graph", {"account_id": aid})
        assert len(first.content[0].text.encode()) <= 2_000  # type: ignore[union-attr]
        graph, pages = await _all_pages(
            session, "cognee_get_relationship_graph", {"account_id": aid}, ("nodes", "edges")
        )
        assert pages > 1
        assert graph == whole.data

        two = payload(
            await session.call_tool(
                "cognee_get_relationship_graph", {"account_id": aid, "limit": 2}
            )
        )
        assert two["count"] == 2
        assert two["total"] == len(whole.data["nodes"]) + len(whole.data["edges"])

        timeline, pages = await _all_pages(
            session, "cognee_retrieve_history", {"account_id": aid}, mcp_tools.HISTORY_LISTS
        )
        assert pages > 1
        assert timeline == history.data

        stale = await session.call_tool(
            "cognee_get_relationship_graph", {"account_id": aid, "page_token": "nope.3"}
        )
        text, error = failure(stale)
        assert "page_token is unknown or expired" in text
        assert error["code"] == "invalid_arguments"


async def test_remote_memory_follows_pages(memory: LocalMemory, reviewed: ReviewedMemory) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    since, until = NOW - timedelta(days=3650), NOW
    async with http_server(memory, page_bytes=1_500) as url:
        remote = RemoteMemory(url, TOKEN)
        try:
            assert await remote.relationship_graph(aid) == await memory.relationship_graph(aid)
            got = await remote.history(aid, since=since, until=until)
            want = await memory.history(aid, since=since, until=until)
            assert got == want
            hits = await remote.search("renewal", limit=50)
            assert [h.ref for h in hits] == [
                h.ref for h in await memory.search("renewal", limit=50)
            ]
            assert len(hits) > 5
            assert remote.sessions_opened == 1
        finally:
            await remote.close()


# --- one session per app -----------------------------------------------------------------------


class SessionCounter:
    """ASGI middleware counting MCP sessions: those the server opened, and requests per session."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.requests: collections.Counter[str] = collections.Counter()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            presented = dict(scope["headers"]).get(b"mcp-session-id")
            if presented:
                self.requests[presented.decode()] += 1

            async def spy(message: Message) -> None:
                if message["type"] == "http.response.start" and not presented:
                    for key, value in message.get("headers", []):
                        if key.lower() == b"mcp-session-id":
                            self.opened.append(value.decode())
                await send(message)

            await app(scope, receive, spy)

        return counted


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> SessionCounter:
    """Count the sessions of every HTTP memory server this test starts."""
    counter = SessionCounter()
    original = mcp_transport.http_app

    def counted_app(*args: Any, **kwargs: Any) -> ASGIApp:
        return counter.wrap(original(*args, **kwargs))

    monkeypatch.setattr(mcp_transport, "http_app", counted_app)
    return counter


async def test_two_apps_share_a_server_with_one_session_each(
    memory: LocalMemory, reviewed: ReviewedMemory, sessions: SessionCounter
) -> None:
    accounts = sorted(reviewed.scenarios.values())
    since, until = NOW - timedelta(days=400), NOW
    want_graphs = {aid: await memory.relationship_graph(aid) for aid in accounts}
    want_histories = {aid: await memory.history(aid, since=since, until=until) for aid in accounts}
    want_hits = [h.ref for h in await memory.search("executive sponsor", limit=10)]

    async def app_work(remote: RemoteMemory, name: str) -> None:
        async def one(aid: str) -> None:
            assert await remote.relationship_graph(aid) == want_graphs[aid]
            assert await remote.history(aid, since=since, until=until) == want_histories[aid]
            hits = await remote.search("executive sponsor", limit=10)
            assert [h.ref for h in hits] == want_hits

        await asyncio.gather(*(one(aid) for aid in accounts))
        await remote.ingest(_facts(f"{name}-acct"))  # each app writes its own account
        await remote.record_recommendation(f"{name}-acct", _recommendation(f"{name}-acct"))

    async with http_server(memory, read_only=False, page_bytes=4_000) as url:
        first, second = RemoteMemory(url, TOKEN), RemoteMemory(url, TOKEN)
        try:
            async with asyncio.timeout(120):
                await asyncio.gather(app_work(first, "one"), app_work(second, "two"))
                # and each sees what the other wrote, on the same session as before
                assert (await second.prior_recommendations("one-acct"))[0].recommendation_id == (
                    "one-acct-rec"
                )
                assert (await first.prior_recommendations("two-acct"))[0].recommendation_id == (
                    "two-acct-rec"
                )
            assert (first.sessions_opened, second.sessions_opened) == (1, 1)
            assert len(sessions.opened) == 2
            assert set(sessions.requests) == set(sessions.opened)
            calls_per_app = 3 * len(accounts) + 3
            assert all(n > calls_per_app for n in sessions.requests.values())
        finally:
            await first.close()
            await second.close()


async def test_a_session_the_server_forgot_is_replaced(
    memory: LocalMemory, sessions: SessionCounter
) -> None:
    async with http_server(memory) as url:
        remote = RemoteMemory(url, TOKEN)
        try:
            assert await remote.search("executive sponsor")
            [session_id] = sessions.opened
            async with httpx.AsyncClient() as client:  # the server ends the session
                ended = await client.delete(
                    url,
                    headers={"Authorization": f"Bearer {TOKEN}", "mcp-session-id": session_id},
                )
            assert ended.status_code == 200
            assert await remote.search("executive sponsor")  # retried on a new session
            assert remote.sessions_opened == 2
            assert len(sessions.opened) == 2
        finally:
            await remote.close()
