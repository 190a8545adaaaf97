"""Exactly once through our Zoho MCP server: real process kills around the CRM write, with the
Zoho simulator on loopback behind the server.

Each trial registers an approval, calls the write tool through a server process that SIGKILLs
itself at the chosen point, then sends the same call (same approval, same token) to a fresh
server. The fresh server must find the grant's claim abandoned, look for the approval's marker
in the CRM and answer with the record it finds (or write once when there is none): exactly one
record per approval, the grant ``completed`` with it. Half the trials approve a text that lacks
the marker (a grant published by some other client): the server adds it, exactly as the
executor writes it, so the app's own reconciliation finds the record too.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from sergas_tui.crm.approval_gate import grant_for
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import SimulatorConfig, create_simulator
from sergas_tui.crm.simulator.server import start_in_thread
from sergas_tui.crm.writer import (
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
    WriteResult,
    canonical_write,
    write_fields,
)
from sergas_tui.demo import generate
from sergas_tui.domain.grants import approval_marker
from sergas_tui.errors import CrmConnectionError
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore
from tests.fakes.executor_crash import CRASH_ENV, open_gateway
from tests.integration.simkit import NOW, copy_org

pytestmark = pytest.mark.slow

TRIALS = 20
PARALLEL = 8
ROOT = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "tests.fakes.mcp_server_crash"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    source = tmp_path / "source.sqlite"
    generate(source, accounts=20, owners=2, seed=9, now=NOW)
    org = copy_org(source, tmp_path)
    sim = create_simulator(org, SimulatorConfig(per_minute=None, max_concurrency=50))
    base_url, stop = start_in_thread(sim)
    sim.config.api_domain = base_url
    try:
        yield base_url
    finally:
        stop()
        sim.close()


def approval_of(trial: int, account_id: str) -> WriteApproval:
    return WriteApproval(
        approval_id=f"mcp-crash-{trial}",
        token=f"token-of-trial-{trial}",
        account_id=account_id,
        owner_email="ae@demo.sergas.test",
        action_type="add_note" if trial % 2 else "create_task",
        decided_by="ana",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def write_of(trial: int, approval: WriteApproval) -> WriteRequest:
    """Trials 0, 1 (mod 4) approve a text with the marker, as the executor plans it; trials
    2, 3 one without it."""
    tag = f"\n\n{approval_marker(approval.approval_id)}" if trial % 4 < 2 else ""
    if trial % 2:
        return NoteDraft(
            parent_id=approval.account_id, title=f"Trial {trial}", content=f"Crash test.{tag}"
        )
    return TaskDraft(
        account_id=approval.account_id,
        subject=f"MCP crash trial {trial}",
        description=f"Follow up.{tag}",
    )


@asynccontextmanager
async def zoho_server(
    server_db: Path, crm: str, crash_at: str, errlog: Path
) -> AsyncIterator[McpGateway]:
    """Our server in its own process (crashing at ``crash_at``), connected over stdio."""
    env = {"CRASH_DB": str(server_db), "CRASH_CRM": crm, CRASH_ENV: crash_at}
    with errlog.open("w", encoding="utf-8") as stderr:
        async with await McpGateway.connect_stdio(SERVER, env, cwd=ROOT, errlog=stderr) as gw:
            yield gw


async def write(gateway: McpGateway, approval: WriteApproval, request: WriteRequest) -> WriteResult:
    """Send the approved write, as the app does (registering it first), or — for a write
    published elsewhere without its marker — straight to the write tool."""
    if approval_marker(approval.approval_id) not in canonical_write(request):
        tool = "zoho_create_task" if isinstance(request, TaskDraft) else "zoho_add_note"
        arguments = {k: v for k, v in write_fields(request).items() if k != "op" and v is not None}
        arguments |= {"approval_id": approval.approval_id, "approval_token": approval.token}
        return TypeAdapter(WriteResult).validate_python(await gateway.call(tool, arguments))
    if isinstance(request, TaskDraft):
        return await gateway.create_task(request, approval=approval)
    assert isinstance(request, NoteDraft)
    return await gateway.add_note(request, approval=approval)


async def marked(crm: ZohoRestGateway, approval: WriteApproval) -> list[str]:
    tag = approval_marker(approval.approval_id)
    if approval.action_type == "add_note":
        notes = await crm.get_notes(approval.account_id)
        return [n.id for n in notes if tag in (n.content or "")]
    tasks = await crm.get_activities(approval.account_id, kinds=("task",))
    return [t.id for t in tasks if tag in (t.description or "")]


@pytest.mark.parametrize("point", ["after-crm-call", "after-claim"])
async def test_a_server_killed_around_the_write_leaves_exactly_one_record(
    served: str, tmp_path: Path, point: str
) -> None:
    server_db = tmp_path / "server.db"
    crm = open_gateway(served)
    repo = Repository.open(server_db)
    grants = LocalGrantStore(repo)
    try:
        accounts = [a.id for a in await crm.get_accounts()]
        trials = []
        for trial in range(TRIALS):
            approval = approval_of(trial, accounts[trial % len(accounts)])
            request = write_of(trial, approval)
            if trial % 4 >= 2:  # published by another client (as a central store would hold it)
                grants.publish_grant(grant_for(approval, request, datetime.now(UTC)))
            trials.append((approval, request))

        limit = asyncio.Semaphore(PARALLEL)

        async def crash(approval: WriteApproval, request: WriteRequest) -> None:
            log = tmp_path / f"{approval.approval_id}.log"
            async with limit, zoho_server(server_db, served, point, log) as gateway:
                with pytest.raises(CrmConnectionError):
                    await write(gateway, approval, request)
            before = await marked(crm, approval)
            assert len(before) == (1 if point == "after-crm-call" else 0), log.read_text()
            claimed = grants.get_grant(approval.approval_id)
            assert claimed is not None
            assert claimed.state == "claimed"  # the write-ahead, left by the killed server

        await asyncio.gather(*(crash(a, r) for a, r in trials))

        # One fresh server gets every call again, all at once.
        async with zoho_server(server_db, served, "", tmp_path / "retry.log") as gateway:
            results = await asyncio.gather(*(write(gateway, a, r) for a, r in trials))

        for (approval, _), result in zip(trials, results, strict=True):
            found = await marked(crm, approval)
            assert found == [result.record_id], approval.approval_id
            stored = grants.get_grant(approval.approval_id)
            assert stored is not None
            assert (stored.state, stored.record_id) == ("completed", result.record_id)
    finally:
        await crm.aclose()
        repo.close()
