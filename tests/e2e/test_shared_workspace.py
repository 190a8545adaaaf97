"""One workspace, many processes at once: the app (this process, like the TUI: reading the CRM
all the time, reviewing, approving and writing), CLI commands in other processes (a review of
another owner, approvals that execute, `approvals execute`, `audit verify`) and our Zoho MCP
server (`sergas mcp zoho --http`) on the same workspace, taking reads and approved writes.

Bounded to about a minute. Afterwards: no error anywhere, the audit chain intact, and every
executed approval's marker in exactly one CRM record.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.config import load_settings
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.domain import ApprovalStatus
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from tests.helpers.zoho_mcp import SERVER_TOKEN, Home, records_with_markers, zoho_server

EXECUTION_SAID = re.compile(r"Written to Zoho|Already in Zoho|Not written")
"""What `sergas approvals approve` prints once it has tried the write."""

pytestmark = pytest.mark.slow

FAST = {"zoho": {"requests_per_minute": 10_000}}
ROUNDS = 3
"""CLI rounds (each: a review, approvals that execute, `approvals execute`, `audit verify`)."""


async def read_forever(services: Services, ids: list[str], stop: asyncio.Event) -> list[str]:
    """The app's screens: account details and activities, over and over."""
    crm = await services.crm()
    errors: list[str] = []
    turn = 0
    while not stop.is_set():
        account = ids[turn % len(ids)]
        try:
            await crm.get_account_details(account)
            await crm.get_activities(account)
        except Exception as err:  # every failure is a finding
            errors.append(f"app read: {err!r}")
        turn += 1
        await asyncio.sleep(0)
    return errors


async def read_over_mcp(url: str, ids: list[str], stop: asyncio.Event) -> list[str]:
    errors: list[str] = []
    async with await McpGateway.connect_http(url, SERVER_TOKEN) as gateway:
        turn = 0
        while not stop.is_set():
            try:
                await gateway.get_deals(ids[turn % len(ids)])
            except Exception as err:
                errors.append(f"mcp read: {err!r}")
            turn += 1
    return errors


def cli_rounds(home: Home, owners: list[str]) -> list[str]:
    """Other terminals: per round a review of another owner, three approvals that execute, the
    executor's catch-up and the audit check."""
    errors: list[str] = []
    for n in range(ROUNDS):
        owner = owners[n % len(owners)]
        reviewed = home.run("review", "--owner", owner)
        if reviewed.returncode != 0:
            errors.append(f"review {owner}: {reviewed.stderr or reviewed.stdout}")
            continue
        listed = home.run("approvals", "list", "--owner", owner)
        ids = re.findall(r"^([0-9a-f]{8})\s", listed.stdout, re.MULTILINE)
        for ident in ids[n * 3 : n * 3 + 3]:
            approved = home.run("approvals", "approve", ident, "--as", f"cli{n}")
            if approved.returncode != 0 or not EXECUTION_SAID.search(approved.stdout):
                errors.append(f"approve {ident}: {approved.stderr or approved.stdout}")
        for args in (("approvals", "execute"), ("audit", "verify")):
            done = home.run(*args)
            if done.returncode != 0:
                errors.append(f"{' '.join(args)}: {done.stderr or done.stdout}")
    return errors


async def app_writes(services: Services, url: str, owner: str) -> list[str]:
    """The app approves and writes its own items: three through the CRM directly, two through
    the MCP server (another process on the same workspace, checking the approval grants)."""
    errors: list[str] = []
    service = ApprovalService(services.store, clock=services.clock)
    pending = [a for a in services.store.pending_approvals(owner) if a.action_type != "escalation"]
    direct = Executor(services.store, await services.crm_gateway(), clock=services.clock)
    async with await McpGateway.connect_http(url, SERVER_TOKEN) as gateway:
        over_mcp = Executor(services.store, gateway, clock=services.clock)
        for index, approval in enumerate(pending[:5]):
            await service.approve(approval.id, actor="app")
            executor = direct if index < 3 else over_mcp
            result = await executor.execute(approval.id)
            if result.status != "executed":
                errors.append(f"app write {approval.id}: {result.status} {result.error}")
            await asyncio.sleep(0)
    return errors


async def test_one_workspace_served_to_the_app_the_cli_and_an_mcp_server(tmp_path: Path) -> None:
    home = Home(tmp_path / "machine")
    made = home.run("demo", "generate", "--accounts", "300", "--owners", "3", "--seed", "4")
    assert made.returncode == 0, made.stderr
    # Every process of the machine takes its Zoho calls from one budget, at the strictest
    # member's per-minute limit: the CLI and the MCP server are as fast as the app here.
    home.configure("[zoho]\nrequests_per_minute = 10000\n")
    locations = home.locations
    services = open_services(
        load_settings(locations, overrides=FAST), locations, secrets=SecretStore(environ={})
    )
    try:
        assert services.demo is not None
        me = services.current_user_email()
        assert me is not None
        owners = sorted({a["Owner"]["email"] for a in services.demo.records("Accounts")} - {me})
        orchestrator = await services.orchestrator()
        async for _event in orchestrator.review(me):
            pass
        mine = sorted(services.store.latest_snapshots(me))[:40]
        with zoho_server(home) as url:
            stop = asyncio.Event()
            readers = [
                asyncio.create_task(read_forever(services, mine, stop)),
                asyncio.create_task(read_over_mcp(url, mine, stop)),
            ]
            cli = asyncio.create_task(asyncio.to_thread(cli_rounds, home, owners))
            written = await app_writes(services, url, me)
            cli_errors = await cli
            stop.set()
            read_errors = [e for task in readers for e in await task]
        assert written == []
        assert cli_errors == []
        assert read_errors == []
        verified = home.run("audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        executed = services.store.approvals_with_status([ApprovalStatus.EXECUTED])
        assert len(executed) >= 5 + 3 * ROUNDS - 3  # a round may find fewer than three
        counts = records_with_markers(locations.demo_crm_file("demo"), executed)
        assert set(counts.values()) == {1}, counts
    finally:
        await services.aclose()
        services.close()
