"""Claims on approval grants: who holds one, when it may be taken over, and the marker every
write carries (pure rules, a table each)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sergas_tui.approvals.write_plan import _with_marker as executor_marker
from sergas_tui.crm import claimers
from sergas_tui.crm.approval_gate import CLAIM_LEASE, RefusalReason, decide, grant_for
from sergas_tui.crm.writer import (
    AccountUpdate,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    marked,
    with_marker,
)
from sergas_tui.domain.grants import Grant, approval_marker

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
AID = "appr-1"
TOKEN = "tok-1"
TASK = TaskDraft(account_id="1001", subject="Call the CFO", description="Budget")
APPROVAL = WriteApproval(
    approval_id=AID,
    token=TOKEN,
    account_id="1001",
    owner_email="ana@sergas.example",
    action_type="create_task",
    decided_by="ana",
    expires_at=NOW + timedelta(hours=72),
)


def granted(**changes: object) -> Grant:
    return replace(grant_for(APPROVAL, TASK, NOW - timedelta(minutes=1)), **changes)  # type: ignore[arg-type]


def dead_pid() -> int:
    """The PID of a process that has ended and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def claim_of(pid: int, run: str = "0123456789ab", where: str | None = None) -> str:
    return "|".join(("zoho_mcp_server", where or claimers.machine(), str(pid), run, "1"))


# --- who holds a claim -----------------------------------------------------------------------


def test_an_attempt_under_way_has_not_stopped_and_an_ended_one_has() -> None:
    attempt = claimers.begin("zoho_mcp_server")
    assert not claimers.stopped(attempt)
    claimers.end(attempt)
    assert claimers.stopped(attempt)


@pytest.mark.parametrize(
    ("claimed_by", "stopped"),
    [
        (None, False),
        ("zoho_mcp_server", False),  # the format before attempts were named
        ("a|b|c", False),
        (claim_of(1), False),  # PID 1 runs
        (claim_of(os.getpid(), run="an-earlier-run"), True),  # we hold that PID now
        (claim_of(os.getpid(), where="another-host"), False),
    ],
)
def test_whether_a_claims_holder_has_stopped(claimed_by: str | None, stopped: bool) -> None:
    assert claimers.stopped(claimed_by) is stopped


def test_a_process_that_ended_has_stopped_on_this_machine_only() -> None:
    pid = dead_pid()
    assert claimers.process_gone(pid)
    assert claimers.stopped(claim_of(pid))
    assert not claimers.stopped(claim_of(pid, where="another-host"))


def test_a_zombie_counts_as_ended() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped yet
        assert claimers.process_gone(child.pid)
    finally:
        child.wait()


# --- when a claim may be taken over ----------------------------------------------------------


@pytest.mark.parametrize(
    ("grant", "stopped", "allowed", "stale", "reconcile"),
    [
        (granted(), False, True, False, False),
        (granted(error="INVALID_DATA"), False, True, False, True),
        (
            granted(state="claimed", claimed_at=NOW - timedelta(seconds=5)),
            False,
            False,
            False,
            False,
        ),
        (granted(state="claimed", claimed_at=NOW - timedelta(seconds=5)), True, True, True, True),
        (
            granted(state="claimed", claimed_at=NOW - CLAIM_LEASE - timedelta(seconds=1)),
            False,
            True,
            True,
            True,
        ),
        (granted(state="claimed", claimed_at=None), False, True, True, True),
    ],
)
def test_decide_on_claims(
    grant: Grant, stopped: bool, allowed: bool, stale: bool, reconcile: bool
) -> None:
    decision = decide(grant, TOKEN, TASK, NOW, holder_stopped=stopped)
    assert decision.allowed is allowed
    if allowed:
        assert (decision.stale_claim, decision.reconcile) == (stale, reconcile)
    else:
        assert decision.reason == RefusalReason.ALREADY_USED


def test_a_stopped_holder_never_unlocks_a_refused_call() -> None:
    spent = granted(state="completed", record_id="9")
    assert decide(spent, TOKEN, TASK, NOW, holder_stopped=True).reason == RefusalReason.ALREADY_USED
    other = replace(TASK, owner_id="666")
    claimed = granted(state="claimed", claimed_at=NOW)
    refused = decide(claimed, TOKEN, other, NOW, holder_stopped=True)
    assert refused.reason == RefusalReason.PAYLOAD_MISMATCH


# --- the marker ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "Budget", "Line one\nline two"])
def test_the_marker_is_written_as_the_executor_writes_it(text: str | None) -> None:
    assert with_marker(text, AID) == executor_marker(text, AID)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (TASK, replace(TASK, description=f"Budget\n\n{approval_marker(AID)}")),
        (replace(TASK, description=None), replace(TASK, description=approval_marker(AID))),
        (
            replace(TASK, description=f"x\n\n{approval_marker(AID)}"),
            replace(TASK, description=f"x\n\n{approval_marker(AID)}"),
        ),
        (
            NoteDraft(parent_id="1001", content="Renewal"),
            NoteDraft(parent_id="1001", content=f"Renewal\n\n{approval_marker(AID)}"),
        ),
        (AccountUpdate("1001", {"Rating": "Hot"}), AccountUpdate("1001", {"Rating": "Hot"})),
    ],
)
def test_what_reaches_the_crm_carries_the_marker_once(
    request_: TaskDraft | NoteDraft | AccountUpdate, expected: object
) -> None:
    assert marked(request_, AID) == expected
    assert marked(marked(request_, AID), AID) == expected
