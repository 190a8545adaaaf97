"""Approval grants and the MCP server's gate: the pure rule as a table, then one conformance
suite run against both grant stores (the workspace SQLite and the central PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.audit.central.grants import CentralGrantStore
from sergas_tui.clock import FixedClock
from sergas_tui.crm.approval_gate import (
    CLAIM_LEASE,
    ApprovalGate,
    ApprovalRefusedError,
    GrantStore,
    RefusalReason,
    check_grant,
    decide,
    grant_for,
    publish_decision,
)
from sergas_tui.crm.writer import (
    AccountUpdate,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
    WriteResult,
    token_digest,
)
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.grants import Grant, approval_marker
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore

R = RefusalReason
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
AID = "appr-1"
TOKEN = "tok-secret-1"
APPROVAL = WriteApproval(
    approval_id=AID,
    token=TOKEN,
    account_id="1001",
    owner_email="ana@sergas.example",
    action_type="create_task",
    decided_by="ana",
    expires_at=NOW + timedelta(hours=72),
)
TASK = TaskDraft(
    account_id="1001",
    subject="Call the CFO",
    due_date=date(2026, 11, 9),
    priority="High",
    description=f"Budget for Q1\n\n{approval_marker(AID)}",
)
NOTE = NoteDraft(parent_id="1001", content=f"Renewal.\n\n{approval_marker(AID)}", title="Call")
UPDATE = AccountUpdate("1001", {"Rating": "Hot"}, NOW - timedelta(hours=1))


def granted(request: WriteRequest = TASK, **changes: object) -> Grant:
    return replace(grant_for(APPROVAL, request, NOW - timedelta(minutes=1)), **changes)  # type: ignore[arg-type]


# --- the pure rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grant", "token", "request_", "reason"),
    [
        (granted(), "", TASK, R.MISSING_TOKEN),
        (None, TOKEN, TASK, R.UNKNOWN_TOKEN),
        (granted(), "another-token", TASK, R.UNKNOWN_TOKEN),
        (granted(state="revoked"), TOKEN, TASK, R.NOT_APPROVED),
        (granted(state="completed", record_id="9"), TOKEN, TASK, R.ALREADY_USED),
        (
            granted(state="claimed", claimed_at=NOW - timedelta(seconds=5)),
            TOKEN,
            TASK,
            R.ALREADY_USED,
        ),
        (granted(expires_at=NOW), TOKEN, TASK, R.EXPIRED),
        (granted(), TOKEN, NOTE, R.ACTION_MISMATCH),
        (granted(), TOKEN, replace(TASK, account_id="2002"), R.RECORD_MISMATCH),
        (granted(), TOKEN, replace(TASK, subject="Call the CEO"), R.PAYLOAD_MISMATCH),
        (granted(), TOKEN, replace(TASK, owner_id="666"), R.PAYLOAD_MISMATCH),
        (granted(), TOKEN, replace(TASK, deal_id="77"), R.PAYLOAD_MISMATCH),
        (
            granted(UPDATE),
            TOKEN,
            replace(UPDATE, changes={"Rating": "Hot", "Phone": "1"}),
            R.PAYLOAD_MISMATCH,
        ),
        (granted(UPDATE), TOKEN, replace(UPDATE, if_unmodified_since=None), R.PAYLOAD_MISMATCH),
    ],
)
def test_decide_refuses(
    grant: Grant | None, token: str, request_: WriteRequest, reason: RefusalReason
) -> None:
    decision = decide(grant, token, request_, NOW)
    assert not decision.allowed
    assert decision.reason == reason
    assert TOKEN not in decision.message


def test_decide_names_the_fields_that_differ() -> None:
    decision = decide(granted(), TOKEN, replace(TASK, owner_id="666", subject="x"), NOW)
    assert "owner_id" in decision.message
    assert "subject" in decision.message


@pytest.mark.parametrize("request_", [TASK, NOTE, UPDATE])
def test_decide_allows_exactly_the_granted_write(request_: WriteRequest) -> None:
    assert decide(granted(request_), TOKEN, request_, NOW).allowed


def test_a_claim_past_its_lease_is_stale_and_may_be_taken_again() -> None:
    grant = granted(state="claimed", claimed_at=NOW - CLAIM_LEASE - timedelta(seconds=1))
    decision = decide(grant, TOKEN, TASK, NOW)
    assert decision.allowed
    assert decision.stale_claim


def test_grants_keep_only_the_token_hash() -> None:
    grant = granted()
    assert grant.token_hash == token_digest(TOKEN)
    assert TOKEN not in repr(grant)
    assert TOKEN not in grant.write


def test_a_task_without_the_marker_cannot_be_registered() -> None:
    bare = granted(replace(TASK, description="no marker"))
    assert "marker" in (check_grant(bare) or "")
    assert check_grant(granted()) is None


# --- one suite, two stores -------------------------------------------------------------------


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[GrantStore]:
    repo = Repository.open(tmp_path / "ws.db")
    try:
        yield LocalGrantStore(repo)
    finally:
        repo.close()


@pytest.fixture
def central_store(postgres_dsn: str) -> Iterator[GrantStore]:
    schema = f"sergas_g_{uuid4().hex[:12]}"
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


def gate_on(store: GrantStore, events: list[AuditEvent] | None = None) -> ApprovalGate:
    return ApprovalGate(
        store, clock=FixedClock(NOW), audit=events.append if events is not None else None
    )


RESULT = WriteResult("Tasks", "555", "created")


def test_a_grant_round_trips(store: GrantStore) -> None:
    grant = granted()
    store.publish_grant(grant)
    assert store.get_grant(AID) == grant


def test_a_token_is_spent_once(store: GrantStore) -> None:
    events: list[AuditEvent] = []
    gate = gate_on(store, events)
    store.publish_grant(granted())
    claimed, stale = gate.claim(AID, TOKEN, TASK, tool="zoho_create_task")
    assert not stale
    assert claimed.state == "claimed"
    gate.complete(claimed, RESULT, tool="zoho_create_task")
    with pytest.raises(ApprovalRefusedError) as refused:
        gate.claim(AID, TOKEN, TASK, tool="zoho_create_task")
    assert refused.value.reason == R.ALREADY_USED
    assert "555" in refused.value.message
    stored = store.get_grant(AID)
    assert stored is not None
    assert (stored.state, stored.record_id) == ("completed", "555")
    kinds = [str(e.action_type) for e in events]
    assert kinds == ["action_executed", "tool_denied"]
    assert all(TOKEN not in e.model_dump_json() for e in events)


def test_republishing_never_resets_a_spent_grant(store: GrantStore) -> None:
    gate = gate_on(store)
    store.publish_grant(granted())
    claimed, _ = gate.claim(AID, TOKEN, TASK, tool="t")
    gate.complete(claimed, RESULT, tool="t")
    store.publish_grant(granted())
    stored = store.get_grant(AID)
    assert stored is not None
    assert stored.state == "completed"


def test_a_refused_write_releases_the_grant_for_the_corrected_call(store: GrantStore) -> None:
    gate = gate_on(store)
    store.publish_grant(granted())
    with pytest.raises(ApprovalRefusedError):
        gate.claim(AID, TOKEN, replace(TASK, owner_id="666"), tool="t")
    claimed, _ = gate.claim(AID, TOKEN, TASK, tool="t")
    gate.release(claimed, "INVALID_DATA", tool="t")
    again, _ = gate.claim(AID, TOKEN, TASK, tool="t")
    assert again.state == "claimed"


def test_a_revoked_grant_writes_nothing(store: GrantStore) -> None:
    store.publish_grant(granted())
    assert store.revoke_grant(AID)
    with pytest.raises(ApprovalRefusedError) as refused:
        gate_on(store).claim(AID, TOKEN, TASK, tool="t")
    assert refused.value.reason == R.NOT_APPROVED


class _Racing:
    """A store whose reads all return together, so every caller passes the check at once."""

    def __init__(self, inner: GrantStore, parties: int) -> None:
        self._inner = inner
        self._barrier = threading.Barrier(parties, timeout=20)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def get_grant(self, approval_id: str) -> Grant | None:
        found = self._inner.get_grant(approval_id)
        self._barrier.wait()
        return found


@pytest.mark.parametrize("callers", [2, 6])
def test_concurrent_calls_with_one_token_write_once(store: GrantStore, callers: int) -> None:
    store.publish_grant(granted())
    gate = ApprovalGate(_Racing(store, callers), clock=FixedClock(NOW))  # type: ignore[arg-type]

    def attempt() -> object:
        try:
            return gate.claim(AID, TOKEN, TASK, tool="t")
        except ApprovalRefusedError as err:
            return err

    with ThreadPoolExecutor(max_workers=callers) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(callers)))
    winners = [o for o in outcomes if not isinstance(o, ApprovalRefusedError)]
    assert len(winners) == 1
    assert {o.reason for o in outcomes if isinstance(o, ApprovalRefusedError)} == {R.ALREADY_USED}


def test_a_central_gate_refuses_registration(store: GrantStore) -> None:
    gate = ApprovalGate(store, clock=FixedClock(NOW), accepts_registration=False)
    with pytest.raises(ApprovalRefusedError) as refused:
        gate.register(granted())
    assert "central" in refused.value.message


def test_a_second_devices_decision_of_the_same_approval_is_refused(store: GrantStore) -> None:
    first = granted()
    publish_decision(store, first)
    publish_decision(store, first)  # the same decision again changes nothing
    other_device = granted(token_hash=token_digest("token-of-the-other-device"))
    with pytest.raises(ApprovalRefusedError) as refused:
        publish_decision(store, other_device)
    assert refused.value.reason == R.DECIDED_ELSEWHERE
    assert "ana" in refused.value.message
    assert store.get_grant(AID) == first
    assert store.revoke_grant(AID)  # undone: a new decision may take its place
    assert publish_decision(store, other_device).token_hash == other_device.token_hash
