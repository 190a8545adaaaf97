"""The approval gate in front of every CRM write the Zoho MCP server performs.

A write tool call carries an ``approval_token``. :func:`decide` is the pure rule: the token must
belong to an approval that a person approved (``approved`` or ``adjusted``), that has not expired,
has not been used, and whose stored action is the very write being asked for (same action type,
same account, same payload). :class:`ApprovalGate` applies the rule against the approvals store
and spends the token with compare-and-set updates (``approved → executing → executed | failed``),
so two concurrent calls with one token can never both write.

The gate talks to an :class:`ApprovalStore` protocol, which the workspace ``Repository``
satisfies; the ``crm`` and ``storage`` packages stay independent of each other.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import structlog
from pydantic import JsonValue

from sergas_tui.crm.gateway import NoteDraft, TaskDraft, WriteResult
from sergas_tui.domain import (
    AddNoteAction,
    Approval,
    ApprovalStatus,
    AuditAction,
    AuditEvent,
    CreateTaskAction,
    UpdateAccountAction,
    utc_now,
)
from sergas_tui.errors import CrmPermissionError

log = structlog.get_logger("sergas.mcp")

APPROVAL_REFUSED_CODE = "APPROVAL_REFUSED"
"""The ``code`` of every :class:`ApprovalRefusedError` (and of its MCP error envelope)."""

DEFAULT_TASK_PRIORITY = "Normal"
"""What an approved task without a priority is created with (``TaskDraft``'s default)."""


@dataclass(frozen=True)
class AccountUpdate:
    """The ``update_account`` write: field changes on one account."""

    account_id: str
    changes: Mapping[str, JsonValue]
    if_unmodified_since: datetime | None = None


WriteRequest = AccountUpdate | TaskDraft | NoteDraft
"""One of the three writes, as the gateway will perform it."""


def action_type_of(request: WriteRequest) -> str:
    """The approval ``action_type`` a write needs."""
    if isinstance(request, AccountUpdate):
        return "update_account"
    if isinstance(request, TaskDraft):
        return "create_task"
    return "add_note"


def record_id_of(request: WriteRequest) -> str:
    """The record a write is aimed at (the account, or the note's parent)."""
    return request.parent_id if isinstance(request, NoteDraft) else request.account_id


class RefusalReason(StrEnum):
    """Why the gate said no; logged and returned to the caller (the token never is)."""

    MISSING_TOKEN = "missing_token"
    UNKNOWN_TOKEN = "unknown_token"
    NOT_APPROVED = "not_approved"
    ALREADY_USED = "already_used"
    EXPIRED = "expired"
    ACTION_MISMATCH = "action_mismatch"
    RECORD_MISMATCH = "record_mismatch"
    PAYLOAD_MISMATCH = "payload_mismatch"


class ApprovalRefusedError(CrmPermissionError):
    """A write was refused because its approval token does not allow it (nothing was sent)."""

    title = "Write not approved"

    def __init__(self, reason: RefusalReason | str, message: str) -> None:
        super().__init__(message, status_code=403, code=APPROVAL_REFUSED_CODE)
        self.reason = reason


@dataclass(frozen=True)
class GateDecision:
    """The outcome of :func:`decide`: allowed, or refused with a reason and a message."""

    allowed: bool
    reason: RefusalReason | None = None
    message: str = "approved"
    approval: Approval | None = field(default=None, repr=False)


def _refuse(reason: RefusalReason, message: str, approval: Approval | None = None) -> GateDecision:
    return GateDecision(False, reason, message, approval)


def _canonical(value: object) -> str:
    """A JSON spelling that tells ``1`` from ``1.0`` and ``True`` from ``1``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def payload_mismatches(approval: Approval, request: WriteRequest) -> list[str]:
    """The names of the approved payload's fields that the request does not reproduce.

    Only what a person approved is compared: for a task the subject, due date, priority and
    description (deal, contact and owner links are not part of the approval); for a note its
    title and content; for an update the exact set of fields and their new values.
    """
    payload = approval.payload
    if isinstance(request, AccountUpdate) and isinstance(payload, UpdateAccountAction):
        approved = {change.field: change.new for change in payload.field_changes}
        if _canonical(approved) == _canonical(dict(request.changes)):
            return []
        return sorted(
            name
            for name in approved.keys() | request.changes.keys()
            if _canonical(approved.get(name, ...)) != _canonical(request.changes.get(name, ...))
        )
    if isinstance(request, TaskDraft) and isinstance(payload, CreateTaskAction):
        wanted_priority = (payload.priority or DEFAULT_TASK_PRIORITY).casefold()
        pairs: dict[str, tuple[object, object]] = {
            "subject": (payload.subject, request.subject),
            "due_date": (payload.due_date, request.due_date),
            "priority": (wanted_priority, request.priority.casefold()),
            "description": (payload.description, request.description),
        }
        return [name for name, (want, got) in pairs.items() if want != got]
    if isinstance(request, NoteDraft) and isinstance(payload, AddNoteAction):
        pairs = {
            "title": (payload.title, request.title),
            "content": (payload.content, request.content),
        }
        return [name for name, (want, got) in pairs.items() if want != got]
    return ["action"]


def decide(
    approval: Approval | None, token: str, request: WriteRequest, now: datetime
) -> GateDecision:
    """Whether ``token`` (resolving to ``approval``) allows ``request`` at ``now``. Pure."""
    if not token:
        return _refuse(RefusalReason.MISSING_TOKEN, "A write needs an approval_token.")
    if approval is None or not secrets.compare_digest(approval.token.encode(), token.encode()):
        return _refuse(RefusalReason.UNKNOWN_TOKEN, "The approval token matches no approval.")
    status = approval.status
    if status in (ApprovalStatus.EXECUTING, ApprovalStatus.EXECUTED, ApprovalStatus.FAILED):
        return _refuse(
            RefusalReason.ALREADY_USED,
            f"Approval {approval.id} was already used (it is {status}); tokens are single-use.",
            approval,
        )
    if not status.is_approved:
        return _refuse(
            RefusalReason.NOT_APPROVED,
            f"Approval {approval.id} is {status}, not approved; only approved (or adjusted) "
            "actions can be written.",
            approval,
        )
    if now >= approval.expiry:
        return _refuse(
            RefusalReason.EXPIRED,
            f"Approval {approval.id} expired at {approval.expiry.isoformat()}.",
            approval,
        )
    wanted = action_type_of(request)
    if approval.action_type != wanted:
        return _refuse(
            RefusalReason.ACTION_MISMATCH,
            f"Approval {approval.id} is for {approval.action_type}, not {wanted}.",
            approval,
        )
    target = record_id_of(request)
    wrong_module = isinstance(request, NoteDraft) and request.parent_module != "Accounts"
    if wrong_module or target != approval.account_id:
        return _refuse(
            RefusalReason.RECORD_MISMATCH,
            f"Approval {approval.id} is for account {approval.account_id}, not "
            f"{getattr(request, 'parent_module', 'Accounts')} record {target}.",
            approval,
        )
    if mismatched := payload_mismatches(approval, request):
        return _refuse(
            RefusalReason.PAYLOAD_MISMATCH,
            f"The call differs from what approval {approval.id} approved in: "
            f"{', '.join(mismatched)}.",
            approval,
        )
    return GateDecision(True, approval=approval)


class ApprovalStore(Protocol):
    """The part of the workspace repository the gate needs (``Repository`` satisfies it)."""

    def get_approval_by_token(self, token: str) -> Approval | None: ...

    def update_approval(self, approval: Approval, *, expected_status: ApprovalStatus) -> bool: ...


class ApprovalGate:
    """Checks write calls against the approvals store and spends their tokens exactly once.

    The methods block on the store (SQLite); async callers run them in a worker thread.
    """

    def __init__(self, store: ApprovalStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def check(self, token: str, request: WriteRequest, *, tool: str | None = None) -> Approval:
        """The approval that allows ``request``; raises :class:`ApprovalRefusedError`.

        Changes nothing: use :meth:`claim` to spend the token before writing.
        """
        approval = self._store.get_approval_by_token(token) if token else None
        decision = decide(approval, token, request, self._clock())
        if not decision.allowed or decision.approval is None:
            reason = decision.reason or RefusalReason.UNKNOWN_TOKEN
            self._log_refusal(reason, decision.message, request, approval, tool)
            raise ApprovalRefusedError(reason, decision.message)
        return decision.approval

    def claim(self, token: str, request: WriteRequest, *, tool: str | None = None) -> Approval:
        """Check ``request`` and move its approval to ``executing`` (compare-and-set).

        Returns the executing approval; raises :class:`ApprovalRefusedError` when the check
        fails or another call claimed the token first.
        """
        approval = self.check(token, request, tool=tool)
        executing = approval.model_copy(update={"status": ApprovalStatus.EXECUTING})
        if not self._store.update_approval(executing, expected_status=approval.status):
            message = f"Approval {approval.id} was used by another call at the same time."
            self._log_refusal(RefusalReason.ALREADY_USED, message, request, approval, tool)
            raise ApprovalRefusedError(RefusalReason.ALREADY_USED, message)
        log.info(
            "approval_claimed", approval_id=approval.id, tool=tool, account_id=approval.account_id
        )
        return executing

    def complete(self, claimed: Approval, result: WriteResult) -> Approval:
        """Record a successful write: ``executing → executed`` with the record id."""
        done = claimed.model_copy(
            update={
                "status": ApprovalStatus.EXECUTED,
                "executed_at": self._clock(),
                "result_record_id": result.record_id,
                "error_message": None,
            }
        )
        self._finish(done, "approval_executed")
        return done

    def fail(self, claimed: Approval, error: str) -> Approval:
        """Record a failed write: ``executing → failed`` with the error."""
        failed = claimed.model_copy(
            update={"status": ApprovalStatus.FAILED, "error_message": error[:2000]}
        )
        self._finish(failed, "approval_failed")
        return failed

    def _finish(self, approval: Approval, event: str) -> None:
        if self._store.update_approval(approval, expected_status=ApprovalStatus.EXECUTING):
            log.info(event, approval_id=approval.id, record_id=approval.result_record_id)
        else:
            log.error(
                "approval_state_lost",
                approval_id=approval.id,
                wanted=str(approval.status),
                detail="the approval left 'executing' while its write was running",
            )

    def _log_refusal(
        self,
        reason: RefusalReason,
        message: str,
        request: WriteRequest,
        approval: Approval | None,
        tool: str | None,
    ) -> None:
        """Log the refusal and, when the store keeps an audit log, record it there too."""
        name = tool or action_type_of(request)
        log.warning(
            "write_refused",
            reason=str(reason),
            message=message,
            tool=name,
            record_id=record_id_of(request),
            approval_id=approval.id if approval is not None else None,
        )
        append = getattr(self._store, "append_audit", None)
        if not callable(append):
            return
        event = AuditEvent(
            session_id="mcp",
            agent_name="zoho_mcp_server",
            action_type=AuditAction.TOOL_DENIED,
            account_id=record_id_of(request),
            owner_email=approval.owner_email if approval is not None else None,
            tool_name=name,
            tool_inputs={"approval_id": approval.id if approval is not None else None},
            error_message=f"refused ({reason}): {message}"[:500],
        )
        try:
            append(event)
        except Exception as err:  # the refusal stands even if the audit write fails
            log.error("audit_append_failed", tool=name, error=repr(err))
