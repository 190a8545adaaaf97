"""Taking over and settling claims, against both grant stores (the workspace SQLite and the
central PostgreSQL): only the claim seen is taken over, only this attempt's claim is settled,
and publishing again keeps the sign that an earlier attempt may have written."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.audit.central.grants import CentralGrantStore
from sergas_tui.clock import FixedClock
from sergas_tui.crm import claimers
from sergas_tui.crm.approval_gate import (
    ApprovalGate,
    ApprovalRefusedError,
    GrantStore,
    RefusalReason,
    grant_for,
)
from sergas_tui.crm.writer import TaskDraft, WriteApproval, WriteResult
from sergas_tui.domain.grants import Grant, approval_marker
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
AID = "appr-9"
TOKEN = "tok-9"
TASK = TaskDraft(account_id="1001", subject="Call", description=f"x\n\n{approval_marker(AID)}")
APPROVAL = WriteApproval(
    approval_id=AID,
    token=TOKEN,
    account_id="1001",
    owner_email="ana@sergas.example",
    action_type="create_task",
    decided_by="ana",
    expires_at=NOW + timedelta(hours=72),
)
RESULT = WriteResult("Tasks", "555", "created")


def granted() -> Grant:
    return grant_for(APPROVAL, TASK, NOW - timedelta(minutes=1))


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[GrantStore]:
    repo = Repository.open(tmp_path / "ws.db")
    try:
        yield LocalGrantStore(repo)
    finally:
        repo.close()


@pytest.fixture
def central_store(postgres_dsn: str) -> Iterator[GrantStore]:
    schema = f"sergas_gc_{uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        dsn = make_conninfo(postgres_dsn, options=f"-c search_path={schema}")
        yield CentralGrantStore(CentralTarget(dsn=dsn))
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["local", pytest.param("central", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> GrantStore:
    name = "local_store" if request.param == "local" else "central_store"
    found: GrantStore = request.getfixturevalue(name)
    return found


def dead_claim() -> str:
    """The ``claimed_by`` of an attempt whose process has ended on this machine."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return "|".join(("zoho_mcp_server", claimers.machine(), str(child.pid), "0" * 12, "1"))


def test_only_the_claim_seen_is_taken_over(store: GrantStore) -> None:
    store.publish_grant(granted())
    stale = NOW - timedelta(minutes=5)
    assert store.claim_grant(AID, claimer="first", now=NOW, stale_before=stale)
    assert not store.claim_grant(AID, claimer="second", now=NOW, stale_before=stale)
    assert not store.claim_grant(
        AID, claimer="second", now=NOW, stale_before=stale, replacing="someone-else"
    )
    assert store.claim_grant(AID, claimer="second", now=NOW, stale_before=stale, replacing="first")
    assert not store.claim_grant(
        AID, claimer="third", now=NOW, stale_before=stale, replacing="first"
    )
    stored = store.get_grant(AID)
    assert stored is not None
    assert (stored.state, stored.claimed_by) == ("claimed", "second")


def test_an_attempt_settles_only_its_own_claim(store: GrantStore) -> None:
    store.publish_grant(granted())
    stale = NOW - timedelta(minutes=5)
    store.claim_grant(AID, claimer="first", now=NOW, stale_before=stale)
    store.claim_grant(AID, claimer="second", now=NOW, stale_before=stale, replacing="first")
    assert not store.settle_grant(
        AID, completed=False, record_id=None, error="late refusal", claimer="first"
    )
    assert store.settle_grant(AID, completed=True, record_id="555", error=None, claimer="second")
    stored = store.get_grant(AID)
    assert stored is not None
    assert (stored.state, stored.record_id, stored.error) == ("completed", "555", None)


def test_publishing_again_keeps_the_error_of_a_released_grant(store: GrantStore) -> None:
    store.publish_grant(granted())
    store.claim_grant(AID, claimer="first", now=NOW, stale_before=NOW)
    store.settle_grant(AID, completed=False, record_id=None, error="INVALID_DATA", claimer="first")
    again = store.publish_grant(granted())
    assert (again.state, again.error) == ("granted", "INVALID_DATA")
    assert store.get_grant(AID) == replace(granted(), error="INVALID_DATA")


@pytest.mark.parametrize("callers", [2, 6])
def test_a_stopped_holders_claim_is_taken_over_once(store: GrantStore, callers: int) -> None:
    store.publish_grant(granted())
    holder = dead_claim()
    store.claim_grant(AID, claimer=holder, now=NOW, stale_before=NOW)
    barrier = threading.Barrier(callers, timeout=20)

    class Racing:
        """Every caller reads the dead holder's claim before any of them claims."""

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def get_grant(self, approval_id: str) -> Grant | None:
            found = store.get_grant(approval_id)
            barrier.wait()
            return found

    gate = ApprovalGate(Racing(), clock=FixedClock(NOW))  # type: ignore[arg-type]

    def attempt() -> object:
        try:
            return gate.claim(AID, TOKEN, TASK, tool="t")
        except ApprovalRefusedError as err:
            return err

    with ThreadPoolExecutor(max_workers=callers) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(callers)))
    winners = [o for o in outcomes if isinstance(o, tuple)]
    assert len(winners) == 1
    [(claimed, reconcile)] = winners
    assert reconcile  # taken over: look for the record first
    assert claimed.claimed_by != holder
    assert {o.reason for o in outcomes if isinstance(o, ApprovalRefusedError)} == {
        RefusalReason.ALREADY_USED
    }
    assert gate.complete(claimed, RESULT, tool="t")
