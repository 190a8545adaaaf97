"""The approval gate in front of every CRM write our Zoho MCP server performs.

When a person approves a write, the deciding app publishes a :class:`Grant`: the approval id,
account, owner, decider, the exact write's digest (:func:`~sergas_tui.crm.writer.write_digest`),
the token's SHA-256 and the expiry. Grants live in a :class:`GrantStore`:

- the central PostgreSQL when one is configured (``audit/central_grants.py``): every server and
  every client of a team sees the same grants, so a token is single-use across all of them;
- otherwise the workspace the server serves (``storage/grants.py``), registered by the client
  over MCP (``sergas_register_approval``) just before its write: one machine, one server.

A write tool call names its ``approval_id`` and carries the ``approval_token``. :func:`decide`
is the pure rule: the grant must exist, its token must match, it must not be revoked, spent or
expired, and the call must be exactly the granted write (same operation, same record, same
digest: every argument, owner/deal/contact links included). :class:`ApprovalGate` applies it
and spends the grant with compare-and-set moves (``granted → claimed → completed``), so two
calls with one token never both write. A write the CRM refused outright releases the grant
(``claimed → granted``) so the corrected call can still go through; a write whose fate is
unknown (timeout, lost server) keeps it claimed until the lease runs out, when the next claim
first looks for the record the approval's marker identifies.

The ``crm`` package knows only the :class:`GrantStore` protocol; ``storage`` and ``audit``
implement it, and the CLI wires one in.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import structlog

from sergas_tui.crm.writer import (
    WriteApproval,
    WriteRequest,
    WriteResult,
    canonical_write,
    operation_of,
    target_of,
    token_digest,
    write_digest,
)
from sergas_tui.domain import AuditAction, AuditEvent, utc_now
from sergas_tui.domain.grants import Grant, approval_marker
from sergas_tui.errors import CrmPermissionError

log = structlog.get_logger("sergas.mcp")

APPROVAL_REFUSED_CODE = "APPROVAL_REFUSED"
"""The ``code`` of every :class:`ApprovalRefusedError`."""

CLAIM_LEASE = timedelta(minutes=5)
"""How long a claimed grant whose write never reported back stays locked to its first caller."""


def grant_for(approval: WriteApproval, request: WriteRequest, now: datetime) -> Grant:
    """The grant a client publishes for ``approval`` before performing ``request``."""
    return Grant(
        approval_id=approval.approval_id,
        account_id=approval.account_id,
        owner_email=approval.owner_email,
        action_type=approval.action_type,
        decided_by=approval.decided_by,
        expires_at=approval.expires_at,
        token_hash=token_digest(approval.token),
        digest=write_digest(request),
        write=canonical_write(request),
        issued_at=now,
    )


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
    BAD_GRANT = "bad_grant"
    DECIDED_ELSEWHERE = "decided_elsewhere"


class ApprovalRefusedError(CrmPermissionError):
    """A write was refused because its approval does not allow it (nothing was sent)."""

    title = "Write not approved"

    def __init__(self, reason: RefusalReason | str, message: str) -> None:
        super().__init__(message, status_code=403, code=APPROVAL_REFUSED_CODE)
        self.reason = reason


@dataclass(frozen=True)
class GateDecision:
    """The outcome of :func:`decide`: allowed (perhaps a stale claim to reconcile first), or
    refused with a reason and a message."""

    allowed: bool
    reason: RefusalReason | None = None
    message: str = "approved"
    stale_claim: bool = False


def _refuse(reason: RefusalReason, message: str) -> GateDecision:
    return GateDecision(False, reason, message)


def write_mismatches(granted: str, request: WriteRequest) -> list[str]:
    """Names of the arguments in which ``request`` differs from the granted write."""
    want: dict[str, Any] = json.loads(granted)
    got: dict[str, Any] = json.loads(canonical_write(request))
    return sorted(
        name
        for name in want.keys() | got.keys()
        if json.dumps(want.get(name, ...), sort_keys=True, default=str)
        != json.dumps(got.get(name, ...), sort_keys=True, default=str)
    )


def decide(
    grant: Grant | None,
    token: str,
    request: WriteRequest,
    now: datetime,
    *,
    lease: timedelta = CLAIM_LEASE,
) -> GateDecision:
    """Whether ``token`` and ``grant`` allow ``request`` at ``now``. Pure."""
    if not token:
        return _refuse(RefusalReason.MISSING_TOKEN, "A write needs an approval_token.")
    if grant is None or not hmac.compare_digest(grant.token_hash, token_digest(token)):
        return _refuse(
            RefusalReason.UNKNOWN_TOKEN,
            "The approval token matches no recorded approval (it is unknown or was never "
            "published for this server).",
        )
    aid = grant.approval_id
    if grant.state == "revoked":
        return _refuse(
            RefusalReason.NOT_APPROVED, f"Approval {aid} was withdrawn; nothing was written."
        )
    if grant.state == "completed":
        return _refuse(
            RefusalReason.ALREADY_USED,
            f"Approval {aid} was already used (record {grant.record_id}); tokens are single-use.",
        )
    stale = False
    if grant.state == "claimed":
        if grant.claimed_at is not None and now - grant.claimed_at < lease:
            return _refuse(
                RefusalReason.ALREADY_USED,
                f"Approval {aid} is being written by another call; tokens are single-use.",
            )
        stale = True
    if now >= grant.expires_at:
        return _refuse(
            RefusalReason.EXPIRED, f"Approval {aid} expired at {grant.expires_at.isoformat()}."
        )
    wanted = operation_of(request)
    if grant.operation != wanted:
        return _refuse(
            RefusalReason.ACTION_MISMATCH,
            f"Approval {aid} is for {grant.operation}, not {wanted}.",
        )
    target = target_of(request)
    if target != target_of_grant(grant):
        return _refuse(
            RefusalReason.RECORD_MISMATCH,
            f"Approval {aid} is for record {target_of_grant(grant)}, not {target}.",
        )
    if not hmac.compare_digest(grant.digest, write_digest(request)):
        differing = ", ".join(write_mismatches(grant.write, request)) or "the write"
        return _refuse(
            RefusalReason.PAYLOAD_MISMATCH,
            f"The call differs from what approval {aid} approved in: {differing}.",
        )
    return GateDecision(True, stale_claim=stale)


def target_of_grant(grant: Grant) -> str:
    """The record the granted write is aimed at."""
    data: dict[str, Any] = json.loads(grant.write)
    return str(data.get("parent_id") or data.get("account_id") or grant.account_id)


def check_grant(grant: Grant) -> str | None:
    """Why a grant offered for registration is unacceptable (None when it is fine)."""
    try:
        data: dict[str, Any] = json.loads(grant.write)
    except ValueError:
        return "the granted write is not JSON"
    if data.get("op") in ("create_task", "add_note"):
        text = data.get("description") if data["op"] == "create_task" else data.get("content")
        if approval_marker(grant.approval_id) not in (text or ""):
            return (
                f"a task or note written for approval {grant.approval_id} must carry its marker "
                f"{approval_marker(grant.approval_id)} (it is how a lost write is found again)"
            )
    elif data.get("op") != "update_account":
        return f"unknown write operation {data.get('op')!r}"
    if len(grant.token_hash) != 64:
        return "the token hash is not a SHA-256"
    return None


class GrantStore(Protocol):
    """Where grants live (the workspace SQLite, or the central PostgreSQL). Blocking calls;
    async callers run them in a worker thread. Every state change is a compare-and-set."""

    def publish_grant(self, grant: Grant) -> Grant:
        """Record ``grant`` and return the grant as stored: a withdrawn grant is replaced, the
        same decision published again changes nothing, and a grant of another decision (another
        token: a second device decided too) or one already claimed or spent is left as it is."""
        ...

    def revoke_grant(self, approval_id: str) -> bool:
        """Withdraw an unused grant (the decision was undone)."""
        ...

    def get_grant(self, approval_id: str) -> Grant | None: ...

    def claim_grant(
        self, approval_id: str, *, claimer: str, now: datetime, stale_before: datetime
    ) -> bool:
        """``granted → claimed`` (or re-claim one claimed before ``stale_before``)."""
        ...

    def settle_grant(
        self, approval_id: str, *, completed: bool, record_id: str | None, error: str | None
    ) -> bool:
        """``claimed → completed`` (with the record) or ``claimed → granted`` (released)."""
        ...


def publish_decision(store: GrantStore, grant: Grant) -> Grant:
    """Publish ``grant``; :class:`ApprovalRefusedError` when the store holds another decision of
    the same approval (made on another device), which then stands."""
    stored = store.publish_grant(grant)
    if not hmac.compare_digest(stored.token_hash, grant.token_hash):
        who = f" by {stored.decided_by}" if stored.decided_by else ""
        raise ApprovalRefusedError(
            RefusalReason.DECIDED_ELSEWHERE,
            f"Approval {grant.approval_id} was already decided{who} on another device "
            f"({stored.state}); this decision was not recorded for the CRM.",
        )
    return stored


AuditSink = Callable[[AuditEvent], object]


class ApprovalGate:
    """Checks write calls against a :class:`GrantStore` and spends grants exactly once.

    The methods block on the store; async callers run them in a worker thread. ``audit``
    (the serving workspace's ``append_audit``) receives a row per claim, completion and refusal.
    """

    def __init__(
        self,
        store: GrantStore,
        clock: Callable[[], datetime] = utc_now,
        *,
        audit: AuditSink | None = None,
        server: str = "zoho_mcp_server",
        lease: timedelta = CLAIM_LEASE,
        accepts_registration: bool = True,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._server = server
        self._lease = lease
        self.accepts_registration = accepts_registration
        """False when grants come from the central database only (clients may not add any)."""

    def register(self, grant: Grant) -> None:
        """Record a grant a client published over MCP (refused when grants are central)."""
        if not self.accepts_registration:
            raise ApprovalRefusedError(
                RefusalReason.BAD_GRANT,
                "This server verifies approvals in the central database; approvals cannot be "
                "registered over MCP.",
            )
        if problem := check_grant(grant):
            raise ApprovalRefusedError(
                RefusalReason.BAD_GRANT, f"Approval not recorded: {problem}."
            )
        publish_decision(self._store, grant)
        self._record(
            AuditAction.TOOL_INVOCATION,
            "sergas_register_approval",
            grant.account_id,
            grant.owner_email,
            {"approval_id": grant.approval_id, "decided_by": grant.decided_by},
            None,
        )

    def claim(
        self, approval_id: str, token: str, request: WriteRequest, *, tool: str
    ) -> tuple[Grant, bool]:
        """Check ``request`` and move its grant to ``claimed``.

        Returns the grant and whether it was a stale claim (the caller must first look for a
        record the earlier attempt may have written). Raises :class:`ApprovalRefusedError`.
        """
        grant = self._store.get_grant(approval_id) if approval_id and token else None
        now = self._clock()
        decision = decide(grant, token, request, now, lease=self._lease)
        if not decision.allowed or grant is None:
            reason = decision.reason or RefusalReason.UNKNOWN_TOKEN
            self._refused(reason, decision.message, request, grant, tool)
            raise ApprovalRefusedError(reason, decision.message)
        if not self._store.claim_grant(
            approval_id, claimer=self._server, now=now, stale_before=now - self._lease
        ):
            message = f"Approval {approval_id} was used by another call at the same time."
            self._refused(RefusalReason.ALREADY_USED, message, request, grant, tool)
            raise ApprovalRefusedError(RefusalReason.ALREADY_USED, message)
        log.info("approval_claimed", approval_id=approval_id, tool=tool, stale=decision.stale_claim)
        claimed = replace(grant, state="claimed", claimed_at=now, claimed_by=self._server)
        return claimed, decision.stale_claim

    def complete(self, grant: Grant, result: WriteResult, *, tool: str) -> None:
        """Record a successful write: ``claimed → completed`` with the record id."""
        if not self._store.settle_grant(
            grant.approval_id, completed=True, record_id=result.record_id, error=None
        ):
            log.error("grant_state_lost", approval_id=grant.approval_id)
        self._record(
            AuditAction.ACTION_EXECUTED,
            tool,
            grant.account_id,
            grant.owner_email,
            {"approval_id": grant.approval_id, "decided_by": grant.decided_by},
            {"module": result.module, "record_id": result.record_id, "action": result.action},
        )

    def release(self, grant: Grant, error: str, *, tool: str) -> None:
        """The CRM refused the write (nothing landed): ``claimed → granted`` for a retry."""
        self._store.settle_grant(grant.approval_id, completed=False, record_id=None, error=error)
        self._record(
            AuditAction.ACTION_EXECUTED,
            tool,
            grant.account_id,
            grant.owner_email,
            {"approval_id": grant.approval_id},
            None,
            error=error[:500],
        )

    def _refused(
        self,
        reason: RefusalReason,
        message: str,
        request: WriteRequest,
        grant: Grant | None,
        tool: str,
    ) -> None:
        log.warning(
            "write_refused",
            reason=str(reason),
            message=message,
            tool=tool,
            record_id=target_of(request),
            approval_id=grant.approval_id if grant is not None else None,
        )
        self._record(
            AuditAction.TOOL_DENIED,
            tool,
            target_of(request),
            grant.owner_email if grant is not None else None,
            {"approval_id": grant.approval_id if grant is not None else None},
            None,
            error=f"refused ({reason}): {message}"[:500],
        )

    def _record(
        self,
        action: AuditAction,
        tool: str,
        account_id: str | None,
        owner_email: str | None,
        inputs: dict[str, Any],
        outputs: dict[str, Any] | None,
        *,
        error: str | None = None,
    ) -> None:
        if self._audit is None:
            return
        event = AuditEvent(
            timestamp=self._clock(),
            session_id="mcp",
            agent_name=self._server,
            action_type=action,
            account_id=account_id,
            owner_email=owner_email,
            tool_name=tool,
            tool_inputs=inputs,
            tool_outputs=outputs,
            error_message=error,
        )
        try:
            self._audit(event)
        except Exception as err:  # the decision stands even if the audit write fails
            log.error("audit_append_failed", tool=tool, error=repr(err))
