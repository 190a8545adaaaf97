"""Zoho's transient limits through our MCP server: the server stops waiting well inside its
client's call timeout and says when to try again; Sergas's client then waits and asks again
(reads only), each wait told as progress."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.crm.approval_gate import ApprovalGate, grant_for
from sergas_tui.crm.http import CrmWait, current_patience, rate_limit_patience, watch_waits
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.mcp.server import (
    SYNC_RATE_LIMIT_PATIENCE_SECONDS,
    TOOL_RATE_LIMIT_PATIENCE_SECONDS,
    build_zoho_server,
)
from sergas_tui.crm.mcp.session import CALL_TIMEOUT, SYNC_TIMEOUT
from sergas_tui.crm.mcp.wire import ERROR_META_KEY
from sergas_tui.crm.writer import NoteDraft, WriteApproval, WriteResult
from sergas_tui.domain import Account
from sergas_tui.domain.grants import approval_marker
from sergas_tui.errors import CrmRateLimitedError
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore
from tests.fakes.fake_gateway import FakeGateway
from tests.fakes.mcp_harness import connected, memory_transport
from tests.fakes.write_approval import TEST_APPROVAL

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def limited(seconds: float) -> CrmRateLimitedError:
    return CrmRateLimitedError(
        "Zoho answered GET /Accounts with HTTP 429 TOO_MANY_REQUESTS.",
        status_code=429,
        code="TOO_MANY_REQUESTS",
        retry_after=seconds,
    )


@dataclass
class Throttled(FakeGateway):
    """Reads answer "rate limited" ``times`` times, noting the patience each call ran under."""

    times: int = 0
    patience: list[float] = field(default_factory=list)
    note_calls: int = 0

    @classmethod
    def limited(cls, times: int) -> Throttled:
        return cls(**vars(FakeGateway.seeded()), times=times)

    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        self.patience.append(current_patience())
        if self.times > 0:
            self.times -= 1
            raise limited(7.0)
        return await super().get_accounts(owner_email, modified_since)

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        self.note_calls += 1
        return await super().add_note(note, approval=approval)


@pytest.fixture
def repo(tmp_path: Path) -> Any:
    with Repository.open(tmp_path / "sergas.db", clock=FixedClock(NOW)) as repository:
        yield repository


def server_for(gateway: FakeGateway, repo: Repository) -> Any:
    gate = ApprovalGate(LocalGrantStore(repo), clock=FixedClock(NOW), audit=lambda _e: None)
    return build_zoho_server(gateway, gate)


def test_the_servers_patience_stays_inside_sergas_client_timeouts() -> None:
    assert TOOL_RATE_LIMIT_PATIENCE_SECONDS + 30 <= CALL_TIMEOUT
    assert SYNC_RATE_LIMIT_PATIENCE_SECONDS + 120 <= SYNC_TIMEOUT


async def test_any_client_reads_when_to_try_again(repo: Repository) -> None:
    gateway = Throttled.limited(times=1)
    async with connected(server_for(gateway, repo)) as session:
        result = await session.call_tool("zoho_get_accounts", {})
    assert gateway.patience == [TOOL_RATE_LIMIT_PATIENCE_SECONDS]
    assert result.is_error
    assert result.meta is not None
    body = result.meta[ERROR_META_KEY]["error"]
    assert body["type"] == "CrmRateLimitedError"
    assert body["retry_after"] == 7.0
    [text] = result.content
    assert isinstance(text, types.TextContent)
    assert text.text.startswith("CRM rate limit reached: Zoho answered GET /Accounts")


async def test_sergas_client_waits_and_asks_again_telling_each_wait(repo: Repository) -> None:
    gateway = Throttled.limited(times=2)
    client = await McpGateway.connect(memory_transport(server_for(gateway, repo)), target="memory")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client._sleep = sleep
    told: list[CrmWait] = []
    try:
        with watch_waits(told.append):
            accounts = await client.get_accounts()
    finally:
        await client.aclose()
    assert [a.id for a in accounts] == [a.id for a in await FakeGateway.seeded().get_accounts()]
    assert slept == [7.0, 7.0]
    assert len(gateway.patience) == 3
    assert [w.kind for w in told] == ["rate_limited", "rate_limited"]
    assert told[0].reason == (
        "Zoho's rate limit (zoho_get_accounts on memory); trying again in 7 s"
    )


async def test_sergas_client_gives_up_when_its_own_patience_is_spent(repo: Repository) -> None:
    gateway = Throttled.limited(times=100)
    client = await McpGateway.connect(memory_transport(server_for(gateway, repo)), target="memory")

    async def sleep(seconds: float) -> None:
        return None

    client._sleep = sleep
    try:
        with rate_limit_patience(20.0), pytest.raises(CrmRateLimitedError) as raised:
            await client.get_accounts()
    finally:
        await client.aclose()
    assert len(gateway.patience) == 3  # asked, waited 7 s twice, then 21 s would pass 20 s
    assert raised.value.retry_after == 7.0


async def test_a_write_is_never_sent_twice(repo: Repository) -> None:
    gateway = Throttled.limited(times=0)
    gateway.fail_next_write = limited(7.0)
    client = await McpGateway.connect(memory_transport(server_for(gateway, repo)), target="memory")
    approval = replace(TEST_APPROVAL, account_id="1001", action_type="add_note")
    note = NoteDraft(
        parent_id="1001",
        title="Call",
        content=f"Renewal.\n\n{approval_marker(approval.approval_id)}",
    )
    LocalGrantStore(repo).publish_grant(grant_for(approval, note, NOW))
    try:
        with pytest.raises(CrmRateLimitedError):
            await client.add_note(note, approval=approval)
    finally:
        await client.aclose()
    assert gateway.note_calls == 1
