"""A state machine over the approval life cycle and the executor, with crashes.

Rules: propose, approve, reject, adjust, undo, expire (advance the clock, then sweep), execute,
execute everything pending, fail the next CRM writes, crash mid-execution (before or after the
CRM call) and restart (reconcile). A recording fake gateway stands in for the CRM.

Invariants: every write the CRM received belongs to an approval that a person approved (or
adjusted) before it expired and that was ``executing`` when written; no approval id is ever
written twice; and after a final restart every executed approval has exactly one write and
every other approval none.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sergas_tui.approvals.errors import ApprovalError
from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.clock import FixedClock
from sergas_tui.crm.writer import NoteDraft, TaskDraft, WriteApproval, WriteResult
from sergas_tui.domain import Activity, Approval, ApprovalStatus, Link, Note
from sergas_tui.errors import CrmServerError
from sergas_tui.storage import Repository
from tests.fakes.fake_gateway import FakeGateway

T = TypeVar("T")
pytestmark = pytest.mark.slow
MARKER = re.compile(r"\[sergas:([^\]]+)\]")
ACTOR = "ana@sergas.example"
ACCOUNT = "1001"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FAST_TMP = "/dev/shm" if Path("/dev/shm").is_dir() else None
"""A RAM-backed directory keeps 1000 databases' fsyncs cheap where there is one."""

PAYLOADS: dict[str, dict[str, Any]] = {
    "create_task": {"subject": "Call back"},
    "add_note": {"title": "Recap", "content": "Agreed."},
    "follow_up_email": {"subject": "Hello", "draft_body": "Hi."},
    "escalation": {"escalate_to": "vp@x.test", "reason": "Stalled"},
}
ADJUSTED: dict[str, dict[str, Any]] = {
    "create_task": {"subject": "Call back (edited)"},
    "add_note": {"title": "Recap", "content": "Edited."},
    "follow_up_email": {"subject": "Hello again", "draft_body": "Hi!"},
    "escalation": {"escalate_to": "ceo@x.test", "reason": "Stalled"},
}


class Crash(BaseException):
    """A simulated process death (not an Exception, so nothing on the way catches it)."""


class RecordingGateway(FakeGateway):
    """FakeGateway whose writes become readable tasks/notes, with failures and crashes."""

    repo: Repository | None = None
    fail_writes: int = 0
    crash_at: Literal["before", "after"] | None = None
    violations: list[str]

    def check(self, text: str | None) -> str:
        found = MARKER.findall(text or "")
        assert len(found) == 1, f"a write without exactly one marker: {text!r}"
        approval_id = str(found[0])
        assert self.repo is not None
        stored = self.repo.get_approval(approval_id)
        if stored is None or stored.status != ApprovalStatus.EXECUTING:
            self.violations.append(f"write for {approval_id} while {stored and stored.status}")
        elif stored.decided_by is None or stored.decided_at is None:
            self.violations.append(f"write for undecided approval {approval_id}")
        elif stored.decided_at > stored.expiry:
            self.violations.append(f"write for an approval decided after expiry {approval_id}")
        return approval_id

    def before_write(self) -> None:
        if self.crash_at == "before":
            self.crash_at = None
            raise Crash
        if self.fail_writes > 0:
            self.fail_writes -= 1
            raise CrmServerError("boom", status_code=500, code="INTERNAL_ERROR")

    def after_write(self) -> None:
        if self.crash_at == "after":
            self.crash_at = None
            raise Crash

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult:
        self.before_write()
        self.check(task.description)
        result = await super().create_task(task, approval=approval)
        self.activities.setdefault(task.account_id, []).append(
            Activity(
                id=result.record_id,
                kind="task",
                subject=task.subject,
                description=task.description,
            )
        )
        self.after_write()
        return result

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        self.before_write()
        self.check(note.content)
        result = await super().add_note(note, approval=approval)
        self.notes.setdefault(note.parent_id, []).append(
            Note(
                id=result.record_id,
                title=note.title,
                content=note.content,
                parent=Link(id=note.parent_id, module="Accounts"),
            )
        )
        self.after_write()
        return result


def written_ids(gateway: FakeGateway) -> Counter[str]:
    ids: Counter[str] = Counter()
    for _method, draft in gateway.writes:
        text = draft.description if isinstance(draft, TaskDraft) else draft.content
        ids.update(MARKER.findall(text or ""))
    return ids


class ApprovalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="sergas-machine-", dir=FAST_TMP))
        self.clock = FixedClock(START)
        self.repo = Repository.open(self.dir / "ws.sqlite", quick_check=False)
        self.gateway = cast(RecordingGateway, RecordingGateway.seeded())
        self.gateway.repo = self.repo
        self.gateway.violations = []
        self.service = ApprovalService(self.repo, clock=self.clock)
        self.executor = self.new_executor()
        self.ids: list[str] = []

    def new_executor(self) -> Executor:
        return Executor(self.repo, self.gateway, clock=self.clock, max_attempts=2)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def pick(self, index: int) -> str:
        return self.ids[index % len(self.ids)]

    def decide(self, coro: Coroutine[Any, Any, Approval]) -> None:
        # Not allowed from the current status: refused, and nothing is stored.
        with contextlib.suppress(ApprovalError):
            self.run(coro)

    # -- rules --------------------------------------------------------------------------------

    @rule(kind=st.sampled_from(sorted(PAYLOADS)), ttl=st.integers(1, 72))
    def propose(self, kind: str, ttl: int) -> None:
        approval = Approval.model_validate(
            {
                "recommendation_id": f"rec-{len(self.ids)}",
                "account_id": ACCOUNT,
                "owner_email": ACTOR,
                "action_type": kind,
                "payload": PAYLOADS[kind],
                "created_at": self.clock.now(),
                "expires_at": self.clock.now() + timedelta(hours=ttl),
            }
        )
        self.repo.add_approval(approval)
        self.ids.append(approval.id)

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1000))
    def approve(self, i: int) -> None:
        self.decide(self.service.approve(self.pick(i), actor=ACTOR))

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1000))
    def reject(self, i: int) -> None:
        self.decide(self.service.reject(self.pick(i), actor=ACTOR, reason="no"))

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1000))
    def adjust(self, i: int) -> None:
        approval_id = self.pick(i)
        stored = self.repo.get_approval(approval_id)
        assert stored is not None
        edited = ADJUSTED[stored.action_type]
        self.decide(self.service.adjust(approval_id, edited, actor=ACTOR))

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1000))
    def undo(self, i: int) -> None:
        self.decide(self.service.undo(self.pick(i), actor=ACTOR))

    @rule(hours=st.integers(1, 80))
    def expire(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        self.run(self.service.expire_due())

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1000))
    def execute(self, i: int) -> None:
        self.run(self.executor.execute(self.pick(i)))

    @rule()
    def execute_pending(self) -> None:
        self.run(self.executor.execute_pending())

    @rule(n=st.integers(1, 3))
    def fail_next_writes(self, n: int) -> None:
        self.gateway.fail_writes = n

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1000), point=st.sampled_from(["before", "after"]))
    def crash_while_executing(self, i: int, point: Literal["before", "after"]) -> None:
        self.gateway.crash_at = point
        with contextlib.suppress(Crash):
            self.run(self.new_executor().execute(self.pick(i)))
        self.gateway.crash_at = None

    @rule()
    def restart(self) -> None:
        self.executor = self.new_executor()
        self.run(self.executor.reconcile())

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def writes_are_approved_and_unique(self) -> None:
        assert self.gateway.violations == []
        counts = written_ids(self.gateway)
        assert all(n == 1 for n in counts.values()), counts
        assert set(counts) <= set(self.ids)

    def teardown(self) -> None:
        try:
            self.gateway.fail_writes = 0
            self.run(self.new_executor().reconcile())
            counts = written_ids(self.gateway)
            for approval_id in self.ids:
                stored = self.repo.get_approval(approval_id)
                assert stored is not None
                assert stored.status != ApprovalStatus.EXECUTING
                expected = 1 if stored.status == ApprovalStatus.EXECUTED else 0
                assert counts[approval_id] == expected, (stored.status, counts[approval_id])
        finally:
            self.repo.close()
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)


ApprovalMachine.TestCase.settings = settings(
    max_examples=1000, stateful_step_count=30, deadline=None
)
TestApprovalMachine = ApprovalMachine.TestCase
