"""Real process kills around a CRM write; reconciliation must leave exactly one record."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.write_plan import marker
from sergas_tui.clock import SystemClock
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.crm.simulator.server import start_in_thread
from sergas_tui.demo import generate
from sergas_tui.domain import Approval, ApprovalStatus
from sergas_tui.storage import Repository
from tests.fakes.executor_crash import CRASH_ENV
from tests.integration.simkit import NOW, copy_org

pytestmark = pytest.mark.slow

TRIALS = 20
PARALLEL = 8
ROOT = Path(__file__).resolve().parents[2]


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


def gateway_for(base_url: str) -> ZohoRestGateway:
    credentials = ZohoCredentials(
        client_id=DEMO_CLIENT_ID,
        client_secret=SecretStr(DEMO_CLIENT_SECRET),
        refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
    )
    settings = ZohoSettings(accounts_url=base_url, retry_initial_delay_ms=0)
    return ZohoRestGateway(settings, credentials)


def new_approval(account_id: str, trial: int) -> Approval:
    kind, payload = (
        ("add_note", {"title": f"Trial {trial}", "content": "Crash test."})
        if trial % 2
        else ("create_task", {"subject": f"Crash trial {trial}"})
    )
    return Approval.model_validate(
        {
            "recommendation_id": f"rec-{trial}",
            "account_id": account_id,
            "owner_email": "ae@demo.sergas.test",
            "action_type": kind,
            "payload": payload,
            "status": "approved",
            "created_at": datetime.now(UTC) - timedelta(minutes=1),
        }
    )


async def run_killed(workspace: Path, base_url: str, approval_id: str, point: str) -> int:
    env = {**os.environ, CRASH_ENV: point}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.executor_crash",
        str(workspace),
        base_url,
        approval_id,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    return proc.returncode


async def marked(gateway: ZohoRestGateway, approval: Approval) -> list[str]:
    tag = marker(approval.id)
    if approval.action_type == "add_note":
        return [
            n.id for n in await gateway.get_notes(approval.account_id) if tag in (n.content or "")
        ]
    tasks = await gateway.get_activities(approval.account_id, kinds=("task",))
    return [t.id for t in tasks if tag in (t.description or "")]


@pytest.mark.parametrize("point", ["after-write-ahead", "after-crm-call"])
async def test_a_kill_then_reconcile_writes_exactly_once(
    served: str, tmp_path: Path, point: str
) -> None:
    workspace = tmp_path / "workspace.sqlite"
    gateway = gateway_for(served)
    repo = Repository.open(workspace)
    try:
        accounts = [a.id for a in await gateway.get_accounts()]
        approvals = [new_approval(accounts[i % len(accounts)], i) for i in range(TRIALS)]
        for approval in approvals:
            repo.add_approval(approval)

        limit = asyncio.Semaphore(PARALLEL)

        async def kill(approval: Approval) -> Any:
            async with limit:
                return await run_killed(workspace, served, approval.id, point)

        await asyncio.gather(*(kill(a) for a in approvals))

        for approval in approvals:
            stored = repo.get_approval(approval.id)
            assert stored is not None
            assert stored.status == ApprovalStatus.EXECUTING
            expected_before = 1 if point == "after-crm-call" else 0
            assert len(await marked(gateway, approval)) == expected_before

        # A fresh executor at start-up.
        results = await Executor(repo, gateway, clock=SystemClock()).reconcile()
        assert len(results) == TRIALS
        wrote = sum(r.wrote for r in results)
        assert wrote == (TRIALS if point == "after-write-ahead" else 0)
        for approval in approvals:
            found = await marked(gateway, approval)
            assert len(found) == 1, approval.id
            stored = repo.get_approval(approval.id)
            assert stored is not None
            assert stored.status == ApprovalStatus.EXECUTED
            assert stored.result_record_id == found[0]
        assert await Executor(repo, gateway, clock=SystemClock()).reconcile() == []
    finally:
        await gateway.aclose()
        repo.close()
