"""A review killed mid-way (SIGKILL) leaves a consistent workspace: whole accounts only.

The review's writer commits chunks of whole accounts (storage/writer.py). The fake review
process commits every 40 accounts and kills itself after 130 were stored in its open chunk
or before: exactly three chunks survive, each account with all of its rows (recommendations,
their audit rows, approvals, the snapshot) and the others with none, the audit chain verifies,
and the next review completes and stores every account.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sergas_tui.agents.events import RunFinished
from sergas_tui.audit.verify import verify_database
from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from sergas_tui.storage import Repository
from tests.integration.simkit import NOW

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 300
CHUNK = 40
KILL_AFTER = 130


def _of_run(repo: Repository, sql: str, run_id: str) -> set[str]:
    with repo.reading("test") as conn:
        return {str(row[0]) for row in conn.execute(sql, (run_id,))}


async def test_a_review_killed_mid_way_leaves_whole_accounts() -> None:
    locations = Locations.from_env()
    org = locations.demo_crm_file("demo")
    org.parent.mkdir(parents=True)
    generate(org, accounts=ACCOUNTS, owners=3, seed=7, now=NOW)

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.review_crash",
        str(KILL_AFTER),
        str(CHUNK),
        env=dict(os.environ),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    run_id = out.decode().split()[0]

    with Repository.open(locations.database_file("demo")) as repo:
        assert verify_database(repo).ok
        stored = _of_run(repo, "SELECT account_id FROM account_snapshots WHERE run_id = ?", run_id)
        with_recs = _of_run(repo, "SELECT account_id FROM recommendations WHERE run_id = ?", run_id)
        audited = _of_run(
            repo,
            "SELECT account_id FROM audit_logs WHERE session_id = ? "
            "AND action_type = 'recommendation_generated'",
            run_id,
        )
        landed = _of_run(
            repo,
            "SELECT a.account_id FROM approvals a JOIN recommendations r "
            "ON r.id = a.recommendation_id WHERE r.run_id = ?",
            run_id,
        )
        # Three chunks committed; the open one vanished whole.
        assert len(stored) == 3 * CHUNK
        assert with_recs, "the committed accounts proposed something"
        assert with_recs <= stored
        assert audited == with_recs
        assert landed <= stored
        last = repo.last_sync("*")
        assert last is None or last.id != run_id  # the killed run never finished

    settings = load_settings(locations, overrides={"zoho": {"requests_per_minute": 10_000}})
    services = open_services(
        settings, locations, secrets=SecretStore(environ={}), clock=FixedClock(NOW)
    )
    try:
        orchestrator = await services.orchestrator()
        events = [event async for event in orchestrator.review(None)]
        finished = events[-1]
        assert isinstance(finished, RunFinished)
        assert finished.summary.failed == 0
        assert len(services.store.latest_snapshots()) == ACCOUNTS
        assert verify_database(services.store).ok
    finally:
        await services.aclose()
        services.close()
