"""The executor: performs approved CRM writes, each exactly once, even across crashes.

Only approvals a person approved (``approved``) or approved with edits (``adjusted``) are ever
written; a ``failed`` one may be retried. The writes for an approval are determined by its
``action_type`` and (possibly edited) ``payload``: a task, a note or an account update
(:mod:`~sergas_tui.approvals.write_plan`). An account update is sent with
``if_unmodified_since`` set to when the values were read (``approval.created_at``), so a record
changed since then is never overwritten: Zoho answers 412 and the approval goes to ``conflict``
with the current values. Before it is sent, every value is checked against the org's Accounts
field metadata (the metadata cache, :func:`~sergas_tui.approvals.write_plan.refusal_of`): a
field the org lacks or keeps read-only, or a value its picklist does not have (an owner may
have adjusted it), fails the approval with a message saying so, and nothing reaches Zoho.
Unknown metadata (no scope, a failed read) lets the write go, as approved, and is logged. What
an execution records besides the CRM record (audit event, outcome row, memory) is in
:mod:`~sergas_tui.approvals.execution_records`.

Every writer call names the approval it executes (:class:`WriteApproval`); a writer that
checks approvals itself (our Zoho MCP server) verifies it against the published grant. With a
``grants`` publisher (the central database), the grant is (re)published before each write.

Exactly once
------------
The approval id is the idempotency key. Every task and note written carries the marker
``[sergas:<approval id>]`` at the end of its description/content, so the CRM itself records
which approval a record came from; an account update is recognised by the account already
holding every target value.

1. *Write-ahead.* Before any CRM call the approval is moved to ``executing`` with a
   compare-and-set on its previous status (``Repository.update_approval(expected_status=)``).
   Only one executor (process, thread or task) can win that move; the others skip. So at
   most one executor is ever writing a given approval, and an approval in ``executing`` may
   or may not have reached the CRM — nothing else is unknown.
2. *Reconcile before any write that might repeat.* Whenever the CRM might already hold the
   write — at start-up for approvals found in ``executing`` (a crash between the write-ahead
   and recording the result), before every executor-level retry after a transient error
   (the request may have landed even if the answer was lost), and when retrying a ``failed``
   approval — the executor first looks for the marker (tasks via ``get_activities``, notes
   via ``get_notes``; for an update, compares the account's current values). Found: the
   approval is marked ``executed`` with that record's id and nothing is written. Not found:
   the write is performed.
3. *Recording.* After the CRM answers, the result moves ``executing`` → ``executed`` (again a
   compare-and-set), then the audit event, the outcome row and the memory are written.

Hence a write never happens twice: a second write would need a search that missed a write
which had already landed, and searches only run while no other executor can be writing (1)
after the previous attempt has ended. And an approved write never silently does not happen:
it stays ``executing`` until it is found or performed, ``failed`` (with the error, retryable)
or ``conflict`` (with the CRM's current values, for the owner to decide again), and
:meth:`Executor.reconcile` picks up every ``executing`` approval at start-up.

Caveat: the search relies on the CRM being read-your-writes consistent for the account's
tasks and notes (Zoho and the simulator are), and reconciliation must only run when no other
executor is alive (at start-up), since ``executing`` doubles as the lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import JsonValue

from sergas_tui.approvals.execution_records import (
    ExecutionResult,
    ExecutionStatus,
    conflict_details,
    execution_event,
    remember_execution,
    save_outcome,
    write_outputs,
)
from sergas_tui.approvals.team import TeamRecords
from sergas_tui.approvals.write_plan import (
    PlannedWrite,
    marker,
    plan_writes,
    refusal_of,
    write_approval,
)
from sergas_tui.clock import Clock
from sergas_tui.crm.approval_gate import (
    ApprovalRefusedError,
    GrantStore,
    grant_for,
    publish_decision,
)
from sergas_tui.crm.gateway import fields_or_unknown
from sergas_tui.crm.writer import CrmGateway, WriteResult, holds_changes, same_value
from sergas_tui.domain import Approval, ApprovalStatus, AuditEvent, new_id
from sergas_tui.domain.approval import APPROVED_STATUSES
from sergas_tui.errors import (
    CrmConflictError,
    CrmConnectionError,
    CrmError,
    CrmRateLimitedError,
    CrmServerError,
    CrmTimeoutError,
    SergasError,
)
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import MemoryStore
from sergas_tui.storage.repository import Repository

log = get_logger("sergas.executor")
TRANSIENT_ERRORS: tuple[type[CrmError], ...] = (
    CrmConnectionError,
    CrmTimeoutError,
    CrmServerError,
    CrmRateLimitedError,
)
"""Errors worth another attempt (the gateway already retried each call a few times)."""


def _worth_another_attempt(err: CrmError) -> bool:
    """A transient error; but not a 429 without ``retry_after``: the org's API credits for the
    last 24 hours are used up (or the gateway already waited out its patience), and attempting
    again at once would only spend more calls on the same answer."""
    if isinstance(err, CrmRateLimitedError):
        return err.retry_after is not None
    return isinstance(err, TRANSIENT_ERRORS)


@dataclass(frozen=True)
class _Landed:
    """One write of the set is in the CRM: written now (``wrote``) or found there."""

    result: WriteResult
    wrote: bool
    attempts: int
    elapsed_ms: int | None = None


@dataclass(frozen=True)
class _Failed:
    error: CrmError
    attempts: int


def _landed_already(plan: PlannedWrite, err: CrmConflictError) -> bool:
    """True when the account already holds every value the update sets (our write landed)."""
    current = conflict_details(err).get("current")
    changes = plan.changes or {}
    return (
        isinstance(current, dict)
        and bool(changes)
        and current.keys() >= changes.keys()
        and all(same_value(current[k], v) for k, v in changes.items())
    )


class Executor:
    """Performs approved writes through ``gateway``, recording everything in ``repository``."""

    def __init__(
        self,
        repository: Repository,
        gateway: CrmGateway,
        *,
        clock: Clock | Callable[[], datetime],
        memory: MemoryStore | None = None,
        max_attempts: int = 3,
        session_id: str | None = None,
        grants: GrantStore | None = None,
        team: TeamRecords | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._repo = repository
        self._gateway = gateway
        self._clock = clock
        self._memory = memory
        self._max_attempts = max_attempts
        self._session_id = session_id or f"executor-{new_id()}"
        self._grants = grants
        self._team = team
        """Team mode: a write is claimed in the central records first, its outcome reported."""

    def _now(self) -> datetime:
        clock = self._clock
        return clock() if callable(clock) else clock.now()

    # -- public -------------------------------------------------------------------------------

    async def execute(self, approval_id: str) -> ExecutionResult:
        """Execute one approved/adjusted (or retry one failed) approval, at most once."""
        approval = await asyncio.to_thread(self._repo.get_approval, approval_id)
        if approval is None:
            raise ValueError(f"no approval with id {approval_id!r}")
        if approval.status == ApprovalStatus.EXECUTED:
            return ExecutionResult(
                approval.id, "already_executed", record_id=approval.result_record_id
            )
        previous = approval.status
        if not (previous.is_approved or previous == ApprovalStatus.FAILED):
            return ExecutionResult(approval.id, "skipped", error=f"approval is {previous}")
        claimed = approval.model_copy(
            update={"status": ApprovalStatus.EXECUTING, "error_message": None}
        )
        if self._team is not None:  # no device writes what another one has claimed
            why = await asyncio.to_thread(self._team.claim, approval, claimed)
            if why is not None:
                return ExecutionResult(approval.id, "skipped", error=why)
        if not await asyncio.to_thread(
            self._repo.update_approval, claimed, expected_status=previous
        ):
            return ExecutionResult(approval.id, "skipped", error="another executor has it")
        return await self._run(claimed, check_first=previous == ApprovalStatus.FAILED)

    async def execute_pending(self) -> list[ExecutionResult]:
        """Execute every approved/adjusted approval that has not been executed yet."""
        ids = await asyncio.to_thread(self._ids_with, APPROVED_STATUSES)
        return [await self.execute(aid) for aid in ids]

    async def reconcile(self) -> list[ExecutionResult]:
        """At start-up: finish every approval left ``executing`` (found in the CRM or written)."""
        results = []
        for aid in await asyncio.to_thread(self._ids_with, (ApprovalStatus.EXECUTING,)):
            if self._team is not None and not await asyncio.to_thread(self._team.claimed_here, aid):
                continue  # another device's write in flight: theirs to finish
            approval = await asyncio.to_thread(self._repo.get_approval, aid)
            if approval is not None and approval.status == ApprovalStatus.EXECUTING:
                results.append(await self._run(approval, check_first=True))
        return results

    # -- internals ----------------------------------------------------------------------------

    def _ids_with(self, statuses: tuple[ApprovalStatus, ...]) -> list[str]:
        return [a.id for a in self._repo.approvals_with_status(statuses)]

    async def _run(self, approval: Approval, *, check_first: bool) -> ExecutionResult:
        """Perform every write of the approval's set in order, each exactly once."""
        plans = plan_writes(approval)
        landed: list[_Landed] = []
        for index, plan in enumerate(plans):
            try:
                outcome = await self._perform(approval, index, plan, check_first=check_first)
            except CrmConflictError as err:
                return await self._conflict(approval, plan, err, len(landed) + 1)
            if isinstance(outcome, _Failed):
                return await self._fail(approval, plan, outcome.error, outcome.attempts)
            landed.append(outcome)
            if index > 0:  # the main write's row goes with the executed status, below
                event = self._event(
                    approval,
                    plan,
                    outputs=write_outputs(outcome.result, outcome.wrote, part=index),
                    elapsed_ms=outcome.elapsed_ms,
                )
                await asyncio.to_thread(self._repo.append_audit, event)
        return await self._finish(approval, plans[0], landed)

    async def _perform(
        self, approval: Approval, index: int, plan: PlannedWrite, *, check_first: bool
    ) -> _Landed | _Failed:
        """One write of the set: found in the CRM (by its marker or values) or written, with
        retries of transient errors. Raises CrmConflictError for a real conflict."""
        error: CrmError | None = None
        attempts = 0
        for attempt in range(1, self._max_attempts + 1):
            attempts = attempt
            try:
                if check_first or attempt > 1 or plan.method == "update_account":
                    found = await self._find(approval, plan)
                    if found is not None:
                        return _Landed(found, wrote=False, attempts=attempt)
                if plan.method == "update_account":
                    await self._check_values(approval, plan)
                started = time.monotonic()
                result = await self._write(approval, plan, index)
            except CrmConflictError as err:
                if _landed_already(plan, err):
                    # The record changed because our own earlier write landed (answer lost).
                    landed = WriteResult("Accounts", approval.account_id, "updated")
                    return _Landed(landed, wrote=False, attempts=attempt)
                raise
            except CrmError as err:
                error = err
                if _worth_another_attempt(err):
                    continue
                break
            elapsed = int((time.monotonic() - started) * 1000)
            return _Landed(result, wrote=True, attempts=attempt, elapsed_ms=elapsed)
        assert error is not None
        return _Failed(error, attempts)

    async def _check_values(self, approval: Approval, plan: PlannedWrite) -> None:
        """Raise (a CrmError, not retried) when the org's Accounts fields would not take the
        update's values; nothing is sent then."""
        fields = await fields_or_unknown(self._gateway, "Accounts")
        if not fields.known:
            log.warning("update_sent_unchecked", approval_id=approval.id, reason=fields.unknown)
            return
        refusal = refusal_of(fields, plan.changes or {})
        if refusal is not None:
            raise refusal

    async def _write(self, approval: Approval, plan: PlannedWrite, index: int) -> WriteResult:
        grant = write_approval(approval, index)
        if self._grants is not None:  # idempotent: the decision may have published it already
            published = grant_for(grant, plan.request(approval), self._now())
            try:
                await asyncio.to_thread(publish_decision, self._grants, published)
            except ApprovalRefusedError:
                raise  # another device's decision stands: fail with its message
            except SergasError as err:
                raise CrmConnectionError(
                    f"Could not record approval {approval.id} centrally: {err.message}"
                ) from err
        if plan.task is not None:
            return await self._gateway.create_task(plan.task, approval=grant)
        if plan.note is not None:
            return await self._gateway.add_note(plan.note, approval=grant)
        return await self._gateway.update_account(
            approval.account_id,
            dict(plan.changes or {}),
            approval=grant,
            if_unmodified_since=approval.created_at,
        )

    async def _find(self, approval: Approval, plan: PlannedWrite) -> WriteResult | None:
        """The record this write of the approval already made, if the CRM has it."""
        tag = marker(plan.marker_id or approval.id)
        if plan.task is not None:
            for activity in await self._gateway.get_activities(
                approval.account_id, kinds=("task",)
            ):
                if tag in (activity.description or ""):
                    return WriteResult("Tasks", activity.id, "created", activity.created_time)
            return None
        if plan.note is not None:
            for note in await self._gateway.get_notes(approval.account_id):
                if tag in (note.content or ""):
                    return WriteResult("Notes", note.id, "created", note.created_time)
            return None
        account = await self._gateway.get_account_details(approval.account_id)
        if account is None:
            return None
        if not holds_changes(account, plan.changes or {}):
            return None
        return WriteResult("Accounts", account.id, "updated", account.modified_time)

    async def _conflict(
        self, approval: Approval, plan: PlannedWrite, err: CrmConflictError, attempts: int
    ) -> ExecutionResult:
        details = conflict_details(err)
        stored = approval.model_copy(
            update={
                "status": ApprovalStatus.CONFLICT,
                "error_message": err.message,
                "details": details,
            }
        )
        event = self._event(approval, plan, outputs=None, error=f"conflict: {err.message}")
        await self._store(stored, event)
        return ExecutionResult(approval.id, "conflict", attempts=attempts, error=err.message)

    async def _fail(
        self, approval: Approval, plan: PlannedWrite, err: CrmError, attempts: int
    ) -> ExecutionResult:
        message = f"{err.title}: {err.message}"
        stored = approval.model_copy(
            update={"status": ApprovalStatus.FAILED, "error_message": message}
        )
        event = self._event(approval, plan, outputs=None, error=message)
        await self._store(stored, event)
        return ExecutionResult(approval.id, "failed", attempts=attempts, error=message)

    async def _finish(
        self, approval: Approval, plan: PlannedWrite, landed: list[_Landed]
    ) -> ExecutionResult:
        """Every write of the set is in the CRM: store ``executed`` with the main write's row."""
        now = self._now()
        main = landed[0]
        update: dict[str, object] = {
            "status": ApprovalStatus.EXECUTED,
            "executed_at": now,
            "result_record_id": main.result.record_id,
            "error_message": None,
        }
        if len(landed) > 1:
            details = dict(approval.details or {})
            details["writes"] = [
                {"module": part.result.module, "record_id": part.result.record_id}
                for part in landed
            ]
            update["details"] = details
        done = approval.model_copy(update=update)
        event = self._event(
            approval,
            plan,
            outputs=write_outputs(main.result, main.wrote),
            elapsed_ms=main.elapsed_ms,
        )
        # The executed status and its audit row are stored in one transaction.
        await self._store(done, event)
        await asyncio.to_thread(save_outcome, self._repo, done, now)
        await remember_execution(self._memory, done, now)
        wrote = any(part.wrote for part in landed)
        status: ExecutionStatus = "executed" if wrote else "already_executed"
        return ExecutionResult(
            approval.id,
            status,
            record_id=main.result.record_id,
            wrote=wrote,
            attempts=max(part.attempts for part in landed),
        )

    async def _store(self, approval: Approval, event: AuditEvent) -> None:
        """Leave ``executing`` for ``approval``'s status, with its audit row (a thread: SQLite
        must not stall the event loop the app draws with)."""
        await asyncio.to_thread(
            self._repo.update_approval,
            approval,
            expected_status=ApprovalStatus.EXECUTING,
            audit=event,
        )
        if self._team is not None:
            await asyncio.to_thread(self._team.report, approval)

    def _event(
        self,
        approval: Approval,
        plan: PlannedWrite,
        *,
        outputs: JsonValue,
        error: str | None = None,
        elapsed_ms: int | None = None,
    ) -> AuditEvent:
        return execution_event(
            approval,
            plan,
            timestamp=self._now(),
            session_id=self._session_id,
            outputs=outputs,
            error=error,
            elapsed_ms=elapsed_ms,
        )
