"""The executor: performs approved CRM writes, each exactly once, even across crashes.

Only approvals a person approved (``approved``) or approved with edits (``adjusted``) are ever
written; a ``failed`` one may be retried. The write for an approval is determined by its
``action_type`` and (possibly edited) ``payload``:

- ``create_task`` → :meth:`CrmWriter.create_task`;
- ``add_note`` → :meth:`CrmWriter.add_note`;
- ``follow_up_email`` → a task "Send email: <subject>" (Sergas never sends mail itself);
- ``escalation`` → a task "Escalation: <reason>";
- ``update_account`` → :meth:`CrmWriter.update_account` with ``if_unmodified_since`` set to
  when the values were read (``approval.created_at``), so a record changed since then is never
  overwritten: Zoho answers 412 and the approval goes to ``conflict`` with the current values.
  Before it is sent, every value is checked against the org's Accounts field metadata (the
  metadata cache, :func:`refusal_of`): a field the org lacks or keeps read-only, or a value its
  picklist does not have (an owner may have adjusted it), fails the approval with a message
  saying so, and nothing reaches Zoho. Unknown metadata (no scope, a failed read) lets the
  write go, as approved, and is logged.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

from sergas_tui.approvals.team import TeamRecords
from sergas_tui.clock import Clock
from sergas_tui.crm.approval_gate import (
    ApprovalRefusedError,
    GrantStore,
    grant_for,
    publish_decision,
)
from sergas_tui.crm.gateway import fields_or_unknown
from sergas_tui.crm.writer import (
    AccountUpdate,
    CrmGateway,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
    WriteResult,
    holds_changes,
    same_value,
    with_marker,
)
from sergas_tui.domain import (
    Approval,
    ApprovalStatus,
    AuditAction,
    AuditEvent,
    RecommendationOutcome,
    new_id,
)
from sergas_tui.domain.approval import APPROVED_STATUSES
from sergas_tui.domain.grants import approval_marker
from sergas_tui.domain.metadata import ModuleFields, check_changes
from sergas_tui.domain.outputs import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    SuggestedAction,
    UpdateAccountAction,
)
from sergas_tui.domain.picklists import task_priority
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

AGENT_NAME = "executor"
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


"""Zoho field names whose Account attribute is not simply the lower-cased name."""

ExecutionStatus = Literal["executed", "already_executed", "failed", "conflict", "skipped"]
WriteMethod = Literal["create_task", "add_note", "update_account"]


def marker(approval_id: str) -> str:
    """The tag written into every record an approval creates: ``[sergas:<approval id>]``."""
    return approval_marker(approval_id)


def write_approval(approval: Approval, part: int = 0) -> WriteApproval:
    """What the CRM writer is told about the approval a write (``part`` of its set) executes."""
    return WriteApproval(
        approval_id=part_id(approval.id, part),
        token=approval.token,
        account_id=approval.account_id,
        owner_email=approval.owner_email,
        action_type=str(approval.action_type),
        decided_by=approval.decided_by,
        expires_at=approval.expiry,
    )


def _with_marker(text: str | None, approval_id: str) -> str:
    return with_marker(text, approval_id)


@dataclass(frozen=True)
class PlannedWrite:
    """The gateway call an approval stands for."""

    method: WriteMethod
    task: TaskDraft | None = None
    note: NoteDraft | None = None
    changes: Mapping[str, JsonValue] | None = None
    marker_id: str = ""
    """The id in this write's marker: the approval's, or ``<approval id>/<n>`` for the n-th
    further write of a write set."""

    def request(self, approval: Approval) -> WriteRequest:
        """The write exactly as the CRM writer will be asked to perform it."""
        if self.task is not None:
            return self.task
        if self.note is not None:
            return self.note
        return AccountUpdate(approval.account_id, dict(self.changes or {}), approval.created_at)

    def inputs(self) -> JsonValue:
        """The call's arguments as JSON, for the audit log."""
        if self.task is not None:
            return {k: _jsonable(v) for k, v in vars(self.task).items()}
        if self.note is not None:
            return {k: _jsonable(v) for k, v in vars(self.note).items()}
        return {"changes": dict(self.changes or {})}


@dataclass(frozen=True)
class ExecutionResult:
    """What :class:`Executor` did with one approval.

    ``status``: ``executed`` (written now), ``already_executed`` (found in the CRM or already
    recorded; nothing written), ``failed``, ``conflict`` or ``skipped`` (not executable, or
    another executor holds it). ``wrote`` is True only when this call made a CRM write.
    """

    approval_id: str
    status: ExecutionStatus
    record_id: str | None = None
    wrote: bool = False
    attempts: int = 0
    error: str | None = None


def _jsonable(value: object) -> JsonValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def part_id(approval_id: str, part: int) -> str:
    """The id a write of a write set goes by: the approval's for the main write (part 0),
    ``<approval id>/<part>`` for the further ones (their markers and grants use it)."""
    return approval_id if part == 0 else f"{approval_id}/{part}"


def plan_write(approval: Approval) -> PlannedWrite:
    """The main write an approval's payload calls for, with the idempotency marker embedded."""
    return _plan(approval.payload, approval.account_id, approval.id)


SUBJECT_LIMIT = 120
"""Characters of a task subject we compose (Zoho's single-line text fields take 255); the full
text stays in the description."""


def subject_line(prefix: str, text: str, limit: int = SUBJECT_LIMIT) -> str:
    """``prefix`` and the first line of ``text``, cut with an ellipsis to ``limit`` characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    whole = prefix + first
    return whole if len(whole) <= limit else whole[: limit - 1].rstrip() + "…"


def plan_writes(approval: Approval) -> list[PlannedWrite]:
    """Every write of the approval's decision: the main one, then each ``also`` write."""
    plans = [plan_write(approval)]
    for n, extra in enumerate(approval.also, start=1):
        plans.append(_plan(extra.action, approval.account_id, part_id(approval.id, n)))
    return plans


def _plan(payload: SuggestedAction, account: str, aid: str) -> PlannedWrite:
    if isinstance(payload, CreateTaskAction):
        task = TaskDraft(
            account_id=account,
            subject=payload.subject,
            due_date=payload.due_date,
            priority=task_priority(payload.priority),
            description=_with_marker(payload.description, aid),
        )
        return PlannedWrite("create_task", task=task, marker_id=aid)
    if isinstance(payload, FollowUpEmailAction):
        lines = [f"To: {payload.recipient or '(recipient to confirm)'}"]
        lines += [f"Subject: {payload.subject}", "", payload.draft_body]
        if payload.next_steps:
            lines += ["", "Next steps:", *(f"- {step}" for step in payload.next_steps)]
        task = TaskDraft(
            account_id=account,
            subject=subject_line("Send email: ", payload.subject),
            description=_with_marker("\n".join(lines), aid),
        )
        return PlannedWrite("create_task", task=task, marker_id=aid)
    if isinstance(payload, EscalationAction):
        text = f"Escalate to: {payload.escalate_to}\nReason: {payload.reason}"
        task = TaskDraft(
            account_id=account,
            subject=subject_line("Escalation: ", payload.reason),
            priority="High",
            description=_with_marker(text, aid),
        )
        return PlannedWrite("create_task", task=task, marker_id=aid)
    if isinstance(payload, AddNoteAction):
        note = NoteDraft(
            parent_id=account, title=payload.title, content=_with_marker(payload.content, aid)
        )
        return PlannedWrite("add_note", note=note, marker_id=aid)
    if isinstance(payload, UpdateAccountAction):
        changes = {change.field: change.new for change in payload.field_changes}
        return PlannedWrite("update_account", changes=changes, marker_id=aid)
    raise ValueError(f"no write is defined for {type(payload).__name__}")


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


def _outputs(result: WriteResult, wrote: bool, *, part: int = 0) -> JsonValue:
    outputs: dict[str, JsonValue] = {
        "module": result.module,
        "record_id": result.record_id,
        "action": result.action,
        "modified_time": _jsonable(result.modified_time),
        "found_existing": not wrote,
    }
    if part:
        outputs["part"] = part
    return outputs


def _conflict_details(err: CrmConflictError) -> dict[str, JsonValue]:
    if isinstance(err.details, dict):
        return dict(err.details)
    return {"zoho": _jsonable(err.details)}


def refusal_of(fields: ModuleFields, changes: Mapping[str, JsonValue]) -> CrmError | None:
    """Why the org's Accounts fields would not take ``changes`` (an error to fail the approval
    with), or None when they would."""
    problems = [check.reason for check in check_changes(fields, changes) if not check.ok]
    if not problems:
        return None
    return CrmError(
        f"Not sent to Zoho: {'; '.join(problems)}. Adjust the approval to a value the org has "
        "(or add the value in Zoho's setup), then execute it again.",
        title="Value not in the org's CRM",
    )


def _landed_already(plan: PlannedWrite, err: CrmConflictError) -> bool:
    """True when the account already holds every value the update sets (our write landed)."""
    current = _conflict_details(err).get("current")
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
                    outputs=_outputs(outcome.result, outcome.wrote, part=index),
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
        details = _conflict_details(err)
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
            outputs=_outputs(main.result, main.wrote),
            elapsed_ms=main.elapsed_ms,
        )
        # The executed status and its audit row are stored in one transaction.
        await self._store(done, event)
        await asyncio.to_thread(self._save_outcome, done, now)
        await self._remember(done, now)
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
        return AuditEvent(
            timestamp=self._now(),
            session_id=self._session_id,
            agent_name=AGENT_NAME,
            action_type=AuditAction.ACTION_EXECUTED,
            account_id=approval.account_id,
            owner_email=approval.owner_email,
            tool_name=plan.method,
            tool_inputs={"approval_id": approval.id, "write": plan.inputs()},
            tool_outputs=outputs,
            execution_time_ms=elapsed_ms,
            error_message=error,
        )

    def _save_outcome(self, approval: Approval, now: datetime) -> None:
        existing = next(
            (
                o
                for o in self._repo.outcomes_for(approval.account_id)
                if o.recommendation_id == approval.recommendation_id
            ),
            None,
        )
        base = existing or RecommendationOutcome(
            recommendation_id=approval.recommendation_id,
            account_id=approval.account_id,
            created_at=approval.created_at,
            recommendation_type=approval.action_type,
        )
        self._repo.save_outcome(
            base.model_copy(
                update={
                    "status": "completed",
                    "approved_by": base.approved_by or approval.decided_by,
                    "approved_at": base.approved_at or approval.decided_at,
                    "executed_at": now,
                }
            )
        )

    async def _remember(self, approval: Approval, now: datetime) -> None:
        """Tell memory the recommendation was carried out (its effect is measured later)."""
        if self._memory is None:
            return
        try:
            await self._memory.record_decision(
                approval.account_id,
                approval.recommendation_id,
                "executed",
                decided_at=now,
                actor=AGENT_NAME,
            )
        except SergasError as err:  # the write is recorded; memory catches up on re-ingest
            log.warning("memory_execution_not_recorded", approval_id=approval.id, error=str(err))
