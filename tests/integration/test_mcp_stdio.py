"""Round trips over real transports: a stdio subprocess and streamable HTTP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sergas_tui.crm.approval_gate import ApprovalGate, ApprovalRefusedError
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.mcp.server import build_zoho_server, run_http
from sergas_tui.crm.writer import NoteDraft, WriteApproval
from sergas_tui.domain import utc_now
from sergas_tui.domain.grants import approval_marker
from sergas_tui.errors import CrmAuthError, CrmConnectionError
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore
from tests.fakes.fake_gateway import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-bearer-token-0123456789-XyZqW"
NOTE = NoteDraft(
    parent_id="1001",
    title="Call summary",
    content=f"Discussed the renewal.\n\n{approval_marker('appr-1')}",
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "sergas.db"


@pytest.fixture
def repo(db_path: Path) -> Iterator[Repository]:
    with Repository.open(db_path) as repository:
        yield repository


def note_approval(token: str = "token-of-appr-1") -> WriteApproval:
    return WriteApproval(
        approval_id="appr-1",
        token=token,
        account_id="1001",
        owner_email="ana@sergas.example",
        action_type="add_note",
        decided_by="ana",
        expires_at=utc_now() + timedelta(hours=72),
    )


async def test_stdio_round_trip(tmp_path: Path, db_path: Path, repo: Repository) -> None:
    log_file = tmp_path / "server.log"
    stderr_file = tmp_path / "server.stderr"
    approval = note_approval()
    with stderr_file.open("w", encoding="utf-8") as errlog:
        gateway = await McpGateway.connect_stdio(
            [sys.executable, "-m", "tests.fakes.mcp_zoho_fake_server"],
            {"FAKE_ZOHO_DB": str(db_path), "FAKE_ZOHO_LOG": str(log_file)},
            cwd=ROOT,
            errlog=errlog,
        )
        async with gateway:
            accounts = await gateway.get_accounts("ana@sergas.example")
            notes = await gateway.get_notes("1001")  # the server prints to stdout here
            batch = await gateway.sync()
            written = await gateway.add_note(NOTE, approval=approval)
            with pytest.raises(ApprovalRefusedError, match="already used"):
                await gateway.add_note(NOTE, approval=approval)
            with pytest.raises(ApprovalRefusedError, match="matches no recorded approval"):
                await gateway.call(
                    "zoho_add_note",
                    {
                        "parent_id": "1001",
                        "content": NOTE.content,
                        "approval_id": "appr-1",
                        "approval_token": "not-a-token",
                    },
                )
        with pytest.raises(CrmConnectionError):
            await gateway.get_deals("1001")

    assert [a.id for a in accounts] == ["1001", "1002"]
    assert [n.id for n in notes] == ["4001"]
    assert (len(batch.accounts), batch.full, batch.calls) == (3, True, 4)
    assert (written.module, written.action) == ("Notes", "created")
    done = LocalGrantStore(repo).get_grant(approval.approval_id)
    assert done is not None
    assert (done.state, done.record_id) == ("completed", written.record_id)

    assert "stray print while reading the notes of 1001" in stderr_file.read_text()
    log = log_file.read_text()
    assert '"event": "write_refused"' in log
    assert '"reason": "unknown_token"' in log
    assert approval.token not in log
    assert "not-a-token" not in log


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def http_server(fake: FakeGateway, repo: Repository) -> AsyncIterator[str]:
    """Our server on a free loopback port; yields its URL."""
    server = build_zoho_server(fake, ApprovalGate(LocalGrantStore(repo)))
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_http(server, "127.0.0.1", free_port(), bearer_token=TOKEN, ready=ready.set_result)
    )
    try:
        async with asyncio.timeout(20):
            either: list[asyncio.Future[Any]] = [task, ready]
            done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises why the server did not start
        yield ready.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_streamable_http_round_trip_with_bearer_token(repo: Repository) -> None:
    fake = FakeGateway.seeded()
    approval = note_approval()
    async with http_server(fake, repo) as url:
        async with httpx.AsyncClient() as client:
            initialize: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "curl", "version": "0"},
                },
            }
            headers = {"Accept": "application/json, text/event-stream"}
            anonymous = await client.post(url, json=initialize, headers=headers)
            wrong = await client.post(
                url, json=initialize, headers=headers | {"Authorization": "Bearer nope"}
            )
        assert (anonymous.status_code, wrong.status_code) == (401, 401)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")

        with pytest.raises(CrmAuthError, match="rejected the bearer token"):
            await McpGateway.connect_http(url, "wrong-token")

        async with await McpGateway.connect_http(url, TOKEN) as gateway:
            account = await gateway.get_account_details("1001")
            open_deals = await gateway.list_open_deals()
            written = await gateway.add_note(NOTE, approval=approval)

    assert account is not None
    assert account.name == "Acme Energy"
    assert [d.id for d in open_deals] == ["2001", "2003"]
    assert written.record_id == "9001"
    assert fake.writes == [("add_note", NOTE)]


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-c", "pass"], ["/nonexistent/sergas-mcp"]],
    ids=["server exits at once", "no such command"],
)
async def test_a_server_that_cannot_start_is_a_connection_error(command: list[str]) -> None:
    with pytest.raises(CrmConnectionError):
        await McpGateway.connect_stdio(command, connect_timeout=20)


async def test_an_endpoint_nobody_listens_on_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with pytest.raises(CrmConnectionError, match="Cannot reach"):
        await McpGateway.connect_http(url, TOKEN, connect_timeout=20)
