"""One conformance suite for every CrmGateway implementation.

(a) ZohoRestGateway → simulator in-process (ASGI transport)
(b) ZohoRestGateway → simulator on a loopback port
(c) McpGateway → `sergas mcp zoho` as a stdio subprocess → REST gateway → simulator

Each implementation must answer the same questions about the same generated org the same way
the org file itself answers them, and perform the three writes.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from sergas_tui.config import ZohoSettings
from sergas_tui.crm.approval_gate import grant_for
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.mcp.tools import REGISTER_TOOL
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.crm.simulator.metadata_json import module_fields
from sergas_tui.crm.simulator.server import start_in_thread
from sergas_tui.crm.writer import CrmGateway, NoteDraft, TaskDraft, WriteApproval, WriteResult
from sergas_tui.demo import DemoStore, generate
from sergas_tui.domain.grants import approval_marker
from sergas_tui.domain.metadata import module_fields_from_zoho
from sergas_tui.errors import CrmConflictError, CrmError
from sergas_tui.locations import Locations
from sergas_tui.storage import Repository

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
KINDS = ["rest-asgi", "rest-loopback", "mcp-stdio"]
CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)


def approval_for(approval_id: str, account_id: str, action_type: str) -> WriteApproval:
    return WriteApproval(
        approval_id=approval_id,
        token=f"token-{approval_id}",
        account_id=account_id,
        owner_email="conformance@demo.sergas.test",
        action_type=action_type,
        decided_by="tester",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


@dataclass
class Harness:
    """A gateway over a copy of the org; every write names the approval it executes (our MCP
    server checks it: the gateway records the approval with the server first)."""

    gateway: CrmGateway
    org: Path

    async def write(
        self, method: str, approval_id: str, account_id: str, *args: Any, **kw: Any
    ) -> WriteResult:
        call: Callable[..., Awaitable[WriteResult]] = getattr(self.gateway, method)
        return await call(*args, approval=approval_for(approval_id, account_id, method), **kw)


def copy_org(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


@pytest.fixture(scope="module")
def source_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conformance") / "org.sqlite"
    generate(path, accounts=150, owners=4, seed=21, now=NOW)
    return path


@asynccontextmanager
async def open_harness(kind: str, source: Path, home: Path) -> AsyncIterator[Harness]:
    if kind.startswith("rest"):
        org = copy_org(source, home / "org.sqlite")
        sim = create_simulator(org, SimulatorConfig())
        stop: Callable[[], None] | None = None
        if kind == "rest-asgi":
            sim.config.api_domain = "http://sim.invalid"
            settings = ZohoSettings(accounts_url="http://sim.invalid")
            transport: httpx.AsyncBaseTransport | None = httpx.ASGITransport(app=sim.app)
        else:
            base_url, stop = start_in_thread(sim)
            sim.config.api_domain = base_url
            settings = ZohoSettings(accounts_url=base_url)
            transport = None
        gateway = ZohoRestGateway(settings, CREDENTIALS, transport=transport)
        try:
            yield Harness(gateway, org)
        finally:
            await gateway.aclose()
            if stop is not None:
                stop()
            sim.close()
        return
    locations = Locations(config_dir=home / "config", data_dir=home / "data", log_dir=home / "log")
    org = copy_org(source, locations.demo_crm_file("demo"))
    env = {
        "SERGAS_CONFIG_DIR": str(locations.config_dir),
        "SERGAS_DATA_DIR": str(locations.data_dir),
        "SERGAS_LOG_DIR": str(locations.log_dir),
    }
    mcp_gateway = await McpGateway.connect_stdio(
        [sys.executable, "-m", "sergas_tui", "mcp", "zoho"], env=env
    )
    try:
        yield Harness(mcp_gateway, org)
    finally:
        await mcp_gateway.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=KINDS)
async def reader(
    request: pytest.FixtureRequest, source_org: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    """A gateway for read tests, shared by the module (reads change nothing)."""
    async with open_harness(request.param, source_org, tmp_path_factory.mktemp("r")) as harness:
        yield harness


@pytest_asyncio.fixture(loop_scope="module", params=KINDS)
async def writer(
    request: pytest.FixtureRequest, source_org: Path, tmp_path: Path
) -> AsyncIterator[Harness]:
    """A gateway over a private copy of the org, for tests that write."""
    async with open_harness(request.param, source_org, tmp_path) as harness:
        yield harness


@pytest.fixture(scope="module")
def org(source_org: Path) -> Any:
    store = DemoStore.open(source_org)
    yield store
    store.close()


def scenario_account(store: DemoStore, key: str) -> str:
    return next(s.account_id for s in store.scenarios() if s.key == key)


def ids(items: Any) -> set[str]:
    return {item.id for item in items}


async def test_user_info(reader: Harness, org: DemoStore) -> None:
    info = org.meta()
    user = await reader.gateway.get_user_info(info.current_user_email)
    assert user is not None
    assert user.id == info.current_user_id
    assert await reader.gateway.get_user_info("nobody@nowhere.test") is None


async def test_accounts_of_an_owner(reader: Harness, org: DemoStore) -> None:
    info = org.meta()
    expected = {a["id"] for a in org.accounts(owner_id=info.current_user_id)}
    got = await reader.gateway.get_accounts(info.current_user_email)
    assert ids(got) == expected
    assert all(a.owner is not None and a.owner.id == info.current_user_id for a in got)


async def test_account_details_and_unknown_id(reader: Harness, org: DemoStore) -> None:
    harbor = scenario_account(org, "stalled_negotiation")
    account = await reader.gateway.get_account_details(harbor)
    assert account is not None
    assert account.name == "Harbor Point Logistics"
    assert await reader.gateway.get_account_details("1234567890123456789") is None


async def test_search(reader: Harness, org: DemoStore) -> None:
    found = await reader.gateway.search_accounts("Harbor")
    assert scenario_account(org, "stalled_negotiation") in ids(found)


async def test_deals_of_an_account(reader: Harness, org: DemoStore) -> None:
    harbor = scenario_account(org, "stalled_negotiation")
    expected = {d["id"] for d in org.related("Deals", harbor)}
    assert ids(await reader.gateway.get_deals(harbor)) == expected


async def test_open_deals(reader: Harness, org: DemoStore) -> None:
    info = org.meta()
    deals = await reader.gateway.list_open_deals(info.current_user_email)
    assert deals
    assert all(d.stage is not None and not d.stage.startswith("Closed") for d in deals)


async def test_activities_and_notes(reader: Harness, org: DemoStore) -> None:
    harbor = scenario_account(org, "stalled_negotiation")
    activities = await reader.gateway.get_activities(harbor)
    expected = {
        r["id"] for module in ("Tasks", "Events", "Calls") for r in org.related(module, harbor)
    }
    assert ids(activities) == expected
    notes = await reader.gateway.get_notes(harbor)
    own_notes = {
        n["id"]
        for n in org.related("Notes", harbor)
        if (n.get("Parent_Id") or {}).get("id") == harbor
    }
    assert own_notes <= ids(notes)


async def test_stage_history_and_timeline(reader: Harness, org: DemoStore) -> None:
    stalled = scenario_account(org, "stalled_negotiation")
    deal = next(d for d in org.related("Deals", stalled) if d["Stage"] == "Negotiation/Review")
    history = await reader.gateway.get_stage_history(deal["id"])
    assert history[-1].stage == "Negotiation/Review"
    assert history[-1].changed_at is not None
    assert (NOW - history[-1].changed_at).days == 45

    pushed = scenario_account(org, "close_date_pushed_twice")
    changes = []
    for candidate in org.related("Deals", pushed):
        timeline = await reader.gateway.get_timeline("Deals", candidate["id"])
        changes += [c for c in timeline if c.field == "Closing_Date"]
    assert len(changes) >= 2
    assert str(changes[-1].new) > str(changes[-1].old)


async def test_field_metadata(reader: Harness) -> None:
    expected = module_fields_from_zoho("Accounts", {"fields": module_fields("Accounts")})
    fields = await reader.gateway.get_fields("Accounts")
    assert fields.known
    assert fields.module == "Accounts"
    assert fields.fetched_at is not None
    assert fields.fields == expected.fields
    rating = fields.field("Rating")
    assert rating is not None
    assert rating.picklist is not None
    assert "At Risk" in rating.picklist
    assert not rating.read_only
    assert (await reader.gateway.get_fields("Accounts")).fields == expected.fields
    deals = await reader.gateway.get_fields("Deals")
    stage = deals.field("Stage")
    assert stage is not None
    assert stage.picklist is not None
    assert "Closed Won" in stage.picklist
    with pytest.raises((ValueError, CrmError)):
        await reader.gateway.get_fields("../Accounts")


async def test_sync_of_one_owner(reader: Harness, org: DemoStore) -> None:
    info = org.meta()
    batch = await reader.gateway.sync(info.current_user_email)
    mine = {a["id"] for a in org.accounts(owner_id=info.current_user_id)}
    assert ids(batch.accounts) == mine
    assert {c.account_id for c in batch.contacts} <= mine
    assert {d.account_id for d in batch.deals} <= mine
    assert batch.full
    assert batch.calls > 0


async def test_writes(writer: Harness, org: DemoStore) -> None:
    gateway = writer.gateway
    account_id = scenario_account(org, "healthy_expansion")

    task = TaskDraft(
        account_id=account_id,
        subject="Send the expansion proposal",
        priority="High",
        description=approval_marker("w-task"),
    )
    created = await writer.write("create_task", "w-task", account_id, task)
    assert created.action == "created"
    subjects = {a.subject for a in await gateway.get_activities(account_id)}
    assert "Send the expansion proposal" in subjects

    note = NoteDraft(
        parent_id=account_id, title="Recap", content=f"Agreed. {approval_marker('w-note')}"
    )
    added = await writer.write("add_note", "w-note", account_id, note)
    assert added.record_id in ids(await gateway.get_notes(account_id))

    before = await gateway.get_account_details(account_id)
    assert before is not None
    assert before.modified_time is not None
    result = await writer.write(
        "update_account",
        "w-update",
        account_id,
        account_id,
        {"Rating": "Active"},
        if_unmodified_since=before.modified_time,
    )
    assert result.action == "updated"
    after = await gateway.get_account_details(account_id)
    assert after is not None
    assert after.rating == "Active"

    with pytest.raises(CrmConflictError):
        await writer.write(
            "update_account",
            "w-update-2",
            account_id,
            account_id,
            {"Rating": "Shutdown"},
            if_unmodified_since=before.modified_time - timedelta(days=1),
        )
    final = await gateway.get_account_details(account_id)
    assert final is not None
    assert final.rating == "Active"


@pytest.mark.parametrize("token", ["", "not-a-real-token"])
async def test_mcp_writes_without_a_valid_approval_are_refused(
    source_org: Path, tmp_path: Path, token: str
) -> None:
    async with open_harness("mcp-stdio", source_org, tmp_path) as harness:
        store = DemoStore.open(harness.org)
        account_id = scenario_account(store, "healthy_expansion")
        before = store.counts()
        before_account = store.account(account_id)
        store.close()
        gateway = harness.gateway
        assert isinstance(gateway, McpGateway)
        marked = f"Sneaky {approval_marker('sneaky')}"
        sneaky: list[tuple[str, dict[str, Any]]] = [
            (
                "zoho_create_task",
                {"account_id": account_id, "subject": "Sneaky", "description": marked},
            ),
            ("zoho_add_note", {"parent_id": account_id, "content": marked}),
            ("zoho_update_account", {"account_id": account_id, "changes": {"Rating": "Shutdown"}}),
        ]
        for tool, arguments in sneaky:
            with pytest.raises(CrmError, match=r"not|approval"):
                await gateway.call(
                    tool, arguments | {"approval_id": "sneaky", "approval_token": token}
                )
        # An approval of a different write does not authorise this one either.
        approved = approval_for("real", account_id, "add_note")
        note = NoteDraft(parent_id=account_id, title="A", content=f"ok {approval_marker('real')}")
        grant = grant_for(approved, note, datetime.now(UTC))
        await gateway.call(
            REGISTER_TOOL,
            {
                "approval_id": "real",
                "token_sha256": grant.token_hash,
                "account_id": account_id,
                "owner_email": grant.owner_email,
                "action_type": "add_note",
                "expires_at": grant.expires_at.isoformat(),
                "write": json.loads(grant.write),
            },
        )
        with pytest.raises(CrmError, match="differs"):
            await gateway.call(
                "zoho_add_note",
                {
                    "parent_id": account_id,
                    "title": "A",
                    "content": "not what was approved",
                    "approval_id": "real",
                    "approval_token": approved.token,
                },
            )
        await gateway.add_note(note, approval=approved)
        written = DemoStore.open(harness.org)
        after_one = written.counts()
        written.close()
    store = DemoStore.open(harness.org)
    assert store.counts() == after_one
    assert store.account(account_id) == before_account
    assert sum(after_one.values()) == sum(before.values()) + 1
    store.close()
    # Refusals that reached the server are in the served workspace's audit log.
    repo = Repository.open(tmp_path / "data" / "workspaces" / "demo" / "sergas.db")
    denied = [e for e in repo.audit_events(limit=100) if e.action_type == "tool_denied"]
    repo.close()
    assert len(denied) == 4
    assert all(token not in (e.error_message or "") for e in denied if token)
