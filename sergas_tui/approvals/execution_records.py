"""What an execution leaves behind besides the CRM record: the result the executor returns,
its audit event, the recommendation's outcome row (``completed``) and the memory's note that it
was carried out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

from sergas_tui.approvals.write_plan import PlannedWrite, jsonable
from sergas_tui.crm.writer import WriteResult
from sergas_tui.domain import Approval, AuditAction, AuditEvent, RecommendationOutcome
from sergas_tui.errors import CrmConflictError, SergasError
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import MemoryStore
from sergas_tui.storage.repository import Repository

AGENT_NAME = "executor"
log = get_logger("sergas.executor")


ExecutionStatus = Literal["executed", "already_executed", "failed", "conflict", "skipped"]


@dataclass(frozen=True)
class ExecutionResult:
    """What :class:`~sergas_tui.approvals.executor.Executor` did with one approval.

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


def execution_event(
    approval: Approval,
    plan: PlannedWrite,
    *,
    timestamp: datetime,
    session_id: str,
    outputs: JsonValue,
    error: str | None = None,
    elapsed_ms: int | None = None,
) -> AuditEvent:
    """The audit event of one write of an approval (``outputs`` None when it did not land)."""
    return AuditEvent(
        timestamp=timestamp,
        session_id=session_id,
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


def write_outputs(result: WriteResult, wrote: bool, *, part: int = 0) -> JsonValue:
    """A landed write's result as the audit event's outputs."""
    outputs: dict[str, JsonValue] = {
        "module": result.module,
        "record_id": result.record_id,
        "action": result.action,
        "modified_time": jsonable(result.modified_time),
        "found_existing": not wrote,
    }
    if part:
        outputs["part"] = part
    return outputs


def conflict_details(err: CrmConflictError) -> dict[str, JsonValue]:
    if isinstance(err.details, dict):
        return dict(err.details)
    return {"zoho": jsonable(err.details)}


def save_outcome(repository: Repository, approval: Approval, now: datetime) -> None:
    """The recommendation's outcome row moves to ``completed`` with who approved it and when
    it was executed (its effect is judged later)."""
    existing = next(
        (
            o
            for o in repository.outcomes_for(approval.account_id)
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
    repository.save_outcome(
        base.model_copy(
            update={
                "status": "completed",
                "approved_by": base.approved_by or approval.decided_by,
                "approved_at": base.approved_at or approval.decided_at,
                "executed_at": now,
            }
        )
    )


async def remember_execution(memory: MemoryStore | None, approval: Approval, now: datetime) -> None:
    """Tell memory the recommendation was carried out (its effect is measured later)."""
    if memory is None:
        return
    try:
        await memory.record_decision(
            approval.account_id,
            approval.recommendation_id,
            "executed",
            decided_at=now,
            actor=AGENT_NAME,
        )
    except SergasError as err:  # the write is recorded; memory catches up on re-ingest
        log.warning("memory_execution_not_recorded", approval_id=approval.id, error=str(err))
