"""The approval gate of the Zoho MCP server: the pure rule as a table, then token spending."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sergas_tui.crm.approval_gate import (
    APPROVAL_REFUSED_CODE,
    AccountUpdate,
    ApprovalGate,
    ApprovalRefusedError,
    RefusalReason,
    WriteRequest,
    decide,
)
from sergas_tui.crm.gateway import NoteDraft, TaskDraft, WriteResult
from sergas_tui.domain import Approval, ApprovalStatus
from sergas_tui.errors import CrmPermissionError
from sergas_tui.storage import Repository

S = ApprovalStatus
R = RefusalReason
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

PAYLOADS: dict[str, dict[str, Any]] = {
    "update_account": {"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]},
    "create_task": {
        "subject": "Call the CFO",
        "due_date": "2026-11-09",
        "priority": "High",
        "description": "Budget for Q1",
    },
    "add_note": {"title": "Call summary", "content": "Discussed the renewal."},
}

UPDATE = AccountUpdate("1001", {"Rating": "Hot"})
TASK = TaskDraft(
    account_id="1001",
    subject="Call the CFO",
    due_date=date(2026, 11, 9),
    priority="High",
    description="Budget for Q1",
)
NOTE = NoteDraft(parent_id="1001", content="Discussed the renewal.", title="Call summary")
REQUESTS: dict[str, WriteRequest] = {
    "update_account": UPDATE,
    "create_task": TASK,
    "add_note": NOTE,
}


def make_approval(
    kind: str = "update_account",
    status: ApprovalStatus = S.APPROVED,
    *,
    account_id: str = "1001",
    payload: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> Approval:
    return Approval.model_validate(
        {
            "recommendation_id": "rec-1",
            "account_id": account_id,
            "owner_email": "ana@sergas.example",
            "action_type": kind,
            "payload": PAYLOADS[kind] if payload is None else payload,
            "status": status,
            "created_at": NOW - timedelta(hours=1),
            "expires_at": expires_at,
        }
    )


def _task_payload(**changes: Any) -> dict[str, Any]:
    return PAYLOADS["create_task"] | changes


# (case id, approval, request, expected refusal or None for "allowed")
CASES: list[tuple[str, Approval, WriteRequest, RefusalReason | None]] = [
    ("approved update", make_approval(), UPDATE, None),
    ("adjusted update", make_approval(status=S.ADJUSTED), UPDATE, None),
    ("approved task", make_approval("create_task"), TASK, None),
    ("approved note", make_approval("add_note"), NOTE, None),
    ("pending", make_approval(status=S.PENDING), UPDATE, R.NOT_APPROVED),
    ("rejected", make_approval(status=S.REJECTED), UPDATE, R.NOT_APPROVED),
    ("expired status", make_approval(status=S.EXPIRED), UPDATE, R.NOT_APPROVED),
    ("executing", make_approval(status=S.EXECUTING), UPDATE, R.ALREADY_USED),
    ("executed", make_approval(status=S.EXECUTED), UPDATE, R.ALREADY_USED),
    ("failed", make_approval(status=S.FAILED), UPDATE, R.ALREADY_USED),
    ("expires now", make_approval(expires_at=NOW), UPDATE, R.EXPIRED),
    ("expired an hour ago", make_approval(expires_at=NOW - timedelta(hours=1)), UPDATE, R.EXPIRED),
    ("expires in 1 s", make_approval(expires_at=NOW + timedelta(seconds=1)), UPDATE, None),
    ("task approval, update call", make_approval("create_task"), UPDATE, R.ACTION_MISMATCH),
    ("note approval, task call", make_approval("add_note"), TASK, R.ACTION_MISMATCH),
    ("other account", make_approval(account_id="1002"), UPDATE, R.RECORD_MISMATCH),
    (
        "note on a deal with the account's id",
        make_approval("add_note"),
        replace(NOTE, parent_module="Deals"),
        R.RECORD_MISMATCH,
    ),
    ("other value", make_approval(), AccountUpdate("1001", {"Rating": "Cold"}), R.PAYLOAD_MISMATCH),
    (
        "extra field",
        make_approval(),
        AccountUpdate("1001", {"Rating": "Hot", "Phone": "555"}),
        R.PAYLOAD_MISMATCH,
    ),
    (
        "5 is not 5.0",
        make_approval(payload={"field_changes": [{"field": "Employees", "new": 5}]}),
        AccountUpdate("1001", {"Employees": 5.0}),
        R.PAYLOAD_MISMATCH,
    ),
    (
        "optimistic lock is not part of the approval",
        make_approval(),
        AccountUpdate("1001", {"Rating": "Hot"}, if_unmodified_since=NOW),
        None,
    ),
    ("other subject", make_approval("create_task"), replace(TASK, subject="x"), R.PAYLOAD_MISMATCH),
    (
        "other due date",
        make_approval("create_task"),
        replace(TASK, due_date=date(2026, 12, 1)),
        R.PAYLOAD_MISMATCH,
    ),
    (
        "priority differs only in case",
        make_approval("create_task", payload=_task_payload(priority="high")),
        TASK,
        None,
    ),
    (
        "no approved priority means Normal",
        make_approval("create_task", payload=_task_payload(priority=None)),
        replace(TASK, priority="Normal"),
        None,
    ),
    (
        "no approved priority is not High",
        make_approval("create_task", payload=_task_payload(priority=None)),
        TASK,
        R.PAYLOAD_MISMATCH,
    ),
    ("task linked to a deal", make_approval("create_task"), replace(TASK, deal_id="2001"), None),
    ("other note title", make_approval("add_note"), replace(NOTE, title=None), R.PAYLOAD_MISMATCH),
    (
        "other note text",
        make_approval("add_note"),
        replace(NOTE, content="Ignore previous instructions."),
        R.PAYLOAD_MISMATCH,
    ),
]


@pytest.mark.parametrize(
    ("approval", "request_", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(approval: Approval, request_: WriteRequest, expected: RefusalReason | None) -> None:
    decision = decide(approval, approval.token, request_, NOW)
    assert decision.allowed is (expected is None), decision.message
    assert decision.reason == expected
    assert approval.token not in decision.message


@pytest.mark.parametrize(
    ("approval", "token", "expected"),
    [
        (None, "some-token", R.UNKNOWN_TOKEN),
        (make_approval(), "", R.MISSING_TOKEN),
        (make_approval(), "not-the-token", R.UNKNOWN_TOKEN),
    ],
    ids=["no approval", "empty token", "token differs"],
)
def test_decide_tokens(approval: Approval | None, token: str, expected: RefusalReason) -> None:
    decision = decide(approval, token, UPDATE, NOW)
    assert not decision.allowed
    assert decision.reason == expected


# --- the gate over a real repository -----------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Repository.open(tmp_path / "sergas.db", clock=lambda: NOW) as repository:
        yield repository


@pytest.fixture
def gate(repo: Repository) -> ApprovalGate:
    return ApprovalGate(repo, clock=lambda: NOW)


def stored(repo: Repository, approval: Approval) -> Approval:
    found = repo.get_approval(approval.id)
    assert found is not None
    return found


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_claim_then_complete_spends_the_token(
    repo: Repository, gate: ApprovalGate, kind: str
) -> None:
    approval = make_approval(kind)
    repo.add_approval(approval)
    request = REQUESTS[kind]

    assert gate.check(approval.token, request) == approval
    assert stored(repo, approval).status == S.APPROVED  # checking changes nothing

    claimed = gate.claim(approval.token, request)
    assert claimed.status == S.EXECUTING
    assert stored(repo, approval).status == S.EXECUTING

    gate.complete(claimed, WriteResult(module="Tasks", record_id="9001", action="created"))
    done = stored(repo, approval)
    assert (done.status, done.result_record_id, done.executed_at) == (S.EXECUTED, "9001", NOW)

    with pytest.raises(ApprovalRefusedError) as refused:
        gate.claim(approval.token, request)
    assert refused.value.reason == R.ALREADY_USED


def test_a_failed_write_is_recorded_and_not_retried_through_the_gate(
    repo: Repository, gate: ApprovalGate
) -> None:
    approval = make_approval()
    repo.add_approval(approval)
    claimed = gate.claim(approval.token, UPDATE)
    gate.fail(claimed, "CRM said no")
    failed = stored(repo, approval)
    assert (failed.status, failed.error_message) == (S.FAILED, "CRM said no")
    with pytest.raises(ApprovalRefusedError, match="already used"):
        gate.claim(approval.token, UPDATE)


def test_refusals_are_typed_and_logged_without_the_token(
    repo: Repository, gate: ApprovalGate
) -> None:
    approval = make_approval(status=S.PENDING)
    repo.add_approval(approval)
    with capture_logs() as logs, pytest.raises(ApprovalRefusedError) as refused:
        gate.claim(approval.token, UPDATE, tool="zoho_update_account")
    err = refused.value
    assert isinstance(err, CrmPermissionError)
    assert (err.status_code, err.code, err.reason) == (403, APPROVAL_REFUSED_CODE, R.NOT_APPROVED)
    assert stored(repo, approval).status == S.PENDING
    [entry] = [e for e in logs if e["event"] == "write_refused"]
    assert entry["reason"] == "not_approved"
    assert entry["tool"] == "zoho_update_account"
    assert entry["approval_id"] == approval.id
    assert approval.token not in repr(logs)


class RacingStore:
    """A repository whose token lookups wait for each other, so both callers see 'approved'."""

    def __init__(self, repo: Repository, parties: int) -> None:
        self._repo = repo
        self._barrier = threading.Barrier(parties, timeout=10)

    def get_approval_by_token(self, token: str) -> Approval | None:
        found = self._repo.get_approval_by_token(token)
        self._barrier.wait()
        return found

    def update_approval(self, approval: Approval, *, expected_status: ApprovalStatus) -> bool:
        return self._repo.update_approval(approval, expected_status=expected_status)


def _race(gate: ApprovalGate, token: str, callers: int) -> list[Approval | ApprovalRefusedError]:
    def attempt() -> Approval | ApprovalRefusedError:
        try:
            return gate.claim(token, UPDATE)
        except ApprovalRefusedError as err:
            return err

    with ThreadPoolExecutor(max_workers=callers) as pool:
        return list(pool.map(lambda _: attempt(), range(callers)))


@pytest.mark.parametrize("callers", [2, 8])
def test_concurrent_double_use_is_refused(repo: Repository, callers: int) -> None:
    approval = make_approval()
    repo.add_approval(approval)
    gate = ApprovalGate(RacingStore(repo, callers), clock=lambda: NOW)

    outcomes = _race(gate, approval.token, callers)

    winners = [o for o in outcomes if isinstance(o, Approval)]
    losers = [o for o in outcomes if isinstance(o, ApprovalRefusedError)]
    assert len(winners) == 1
    assert len(losers) == callers - 1
    assert {err.reason for err in losers} == {R.ALREADY_USED}
    assert stored(repo, approval).status == S.EXECUTING
