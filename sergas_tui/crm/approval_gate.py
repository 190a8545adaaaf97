"""The approval gate in front of every CRM write our Zoho MCP server performs.

When a person approves a write, the deciding app publishes a :class:`Grant`: the approval id,
account, owner, decider, the exact write's digest (:func:`~sergas_tui.crm.writer.write_digest`),
the token's SHA-256 and the expiry. Grants live in a :class:`GrantStore`:

- the central PostgreSQL when one is configured (``audit/central/grants.py``): every server and
  every client of a team sees the same grants, so a token is single-use across all of them;
- otherwise the workspace the server serves (``storage/grants.py``), registered by the client
  over MCP (``sergas_register_approval``) just before its write: one machine, one server.

A write tool call names its ``approval_id`` and carries the ``approval_token``. :func:`decide`
is the pure rule: the grant must exist, its token must match, it must not be revoked, spent or
expired, and the call must be exactly the granted write (same operation, same record, same
digest: every argument, owner/deal/contact links included). A refused call changes nothing.

Exactly once (the executor's protocol, with the grant as the write-ahead record):

1. *Write-ahead.* :meth:`ApprovalGate.claim` moves the grant ``granted → claimed`` with a
   compare-and-set, naming this attempt in ``claimed_by`` (server, machine, process, attempt), so
   two calls with one token never both write.
2. *Reconcile before any write that might repeat.* The claim tells the caller to look for the
   approval's marker in the CRM first (:func:`~sergas_tui.crm.writer.find_written`) when an
   earlier attempt may have written: it takes over an earlier claim, or the grant was released
   after an error (``error`` is set). An earlier claim may be taken over once its holder is
   known to have stopped (an attempt of this process that has ended, or a process on this
   machine that no longer runs: :mod:`.claimers`), or otherwise once the lease has run out.
3. *Settle.* Only a write the CRM committed (or one found there) completes the grant
   (``claimed → completed`` with the record id); a refusal releases it (``claimed → granted``,
   with the error) so the corrected call can go through; an unknown outcome leaves it claimed.
   Recording is retried with backoff; if it still fails, the grant stays claimed, so the next
   attempt reconciles instead of writing.

The ``crm`` package knows only the :class:`GrantStore` protocol; ``storage`` and ``audit``
implement it, and the CLI wires one in.

Why one module: the gate is one protocol — the grant, the pure rule :func:`decide`, and the
claim, reconcile and settle steps of exactly-once — and its safety argument is read across all
of them at once; the stores are already apart (``storage/grants.py``, ``audit/central/grants.py``)
and the claimers' liveness is :mod:`.claimers`.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import structlog

from sergas_tui.clock import Clock, SystemClock
from sergas_tui.crm import claimers
from sergas_tui.crm.http import backoff
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
from sergas_tui.domain import AuditAction, AuditEvent
from sergas_tui.domain.grants import Grant, approval_marker
from sergas_tui.errors import APPROVAL_REFUSED_CODE as APPROVAL_REFUSED_CODE
from sergas_tui.errors import ApprovalRefusedError as ApprovalRefusedError
from sergas_tui.errors import SergasError

log = structlog.get_logger("sergas.mcp")


CLAIM_LEASE = timedelta(minutes=5)
"""How long a claimed grant whose write never reported back stays locked to its first caller
(unless that caller is known to have stopped: see :mod:`.claimers`)."""

SETTLE_ATTEMPTS = 5
"""Tries at recording a write's outcome (the grants database may be busy or unreachable)."""
SETTLE_BACKOFF_SECONDS = 0.2
SETTLE_BACKOFF_CAP_SECONDS = 2.0


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


@dataclass(frozen=True)
class GateDecision:
    """The outcome of :func:`decide`: allowed (perhaps taking over an earlier claim, perhaps
    to reconcile first), or refused with a reason and a message."""

    allowed: bool
    reason: RefusalReason | None = None
    message: str = "approved"
    stale_claim: bool = False
    """The call takes over an earlier attempt's claim."""
    reconcile: bool = False
    """An earlier attempt may have written: look for its record before writing."""


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
    holder_stopped: bool = False,
) -> GateDecision:
    """Whether ``token`` and ``grant`` allow ``request`` at ``now``. Pure.

    ``holder_stopped``: the holder of the grant's claim (if it is claimed) is known to write no
    more, so the claim may be taken over before its lease runs out.
    """
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
        live = grant.claimed_at is not None and now - grant.claimed_at < lease
        if live and not holder_stopped:
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
    return GateDecision(True, stale_claim=stale, reconcile=stale or grant.error is not None)


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
        token: a second device decided too) or one already claimed or spent is left as it is.
        A stored ``error`` (an earlier attempt ended without a known outcome) is kept."""
        ...

    def revoke_grant(self, approval_id: str) -> bool:
        """Withdraw an unused grant (the decision was undone)."""
        ...

    def get_grant(self, approval_id: str) -> Grant | None: ...

    def claim_grant(
        self,
        approval_id: str,
        *,
        claimer: str,
        now: datetime,
        stale_before: datetime,
        replacing: str | None = None,
    ) -> bool:
        """``granted → claimed`` by ``claimer``; or take over a claim made before
        ``stale_before``, or the claim of ``replacing`` (a holder known to have stopped)."""
        ...

    def settle_grant(
        self,
        approval_id: str,
        *,
        completed: bool,
        record_id: str | None,
        error: str | None,
        claimer: str | None = None,
    ) -> bool:
        """``claimed → completed`` (with the record; ``error`` cleared) or ``claimed → granted``
        (released, with the error); only the claim of ``claimer`` when one is named."""
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


def _message(err: Exception) -> str:
    return err.message if isinstance(err, SergasError) else repr(err)


class ApprovalGate:
    """Checks write calls against a :class:`GrantStore` and spends grants exactly once.

    The methods block on the store (and on the backoff between tries at recording an outcome);
    async callers run them in a worker thread. ``audit`` (the serving workspace's
    ``append_audit``) receives a row per completion, release, unknown outcome and refusal.
    ``clock`` (the serving process's, as everywhere else) says when a call arrives: grant
    expiry, claim leases and audit stamps.
    """

    def __init__(
        self,
        store: GrantStore,
        clock: Clock | None = None,
        *,
        audit: AuditSink | None = None,
        server: str = "zoho_mcp_server",
        lease: timedelta = CLAIM_LEASE,
        accepts_registration: bool = True,
        settle_attempts: int = SETTLE_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._clock = clock or SystemClock()
        self._audit = audit
        self._server = server
        self._lease = lease
        self._settle_attempts = max(1, settle_attempts)
        self._sleep = sleep
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
        """Check ``request`` and move its grant to ``claimed`` (the write-ahead).

        Returns the claimed grant (``claimed_by`` names this attempt) and whether the caller
        must first look in the CRM for a record an earlier attempt may have written. Every
        claim must end with :meth:`complete`, :meth:`release` or :meth:`abandon`. Raises
        :class:`ApprovalRefusedError` (the grant is left as it was).
        """
        grant = self._store.get_grant(approval_id) if approval_id and token else None
        now = self._clock.now()
        stopped = (
            grant is not None and grant.state == "claimed" and claimers.stopped(grant.claimed_by)
        )
        decision = decide(grant, token, request, now, lease=self._lease, holder_stopped=stopped)
        if not decision.allowed or grant is None:
            reason = decision.reason or RefusalReason.UNKNOWN_TOKEN
            self._refused(reason, decision.message, request, grant, tool)
            raise ApprovalRefusedError(reason, decision.message)
        # Registered as under way before the claim lands, so no call of this process can take
        # it for an ended attempt of ours.
        attempt = claimers.begin(self._server)
        try:
            won = self._store.claim_grant(
                approval_id,
                claimer=attempt,
                now=now,
                stale_before=now - self._lease,
                replacing=grant.claimed_by if stopped else None,
            )
        except BaseException:
            claimers.end(attempt)
            raise
        if not won:
            claimers.end(attempt)
            message = f"Approval {approval_id} was used by another call at the same time."
            self._refused(RefusalReason.ALREADY_USED, message, request, grant, tool)
            raise ApprovalRefusedError(RefusalReason.ALREADY_USED, message)
        log.info(
            "approval_claimed",
            approval_id=approval_id,
            tool=tool,
            taken_over=grant.claimed_by if decision.stale_claim else None,
            reconcile=decision.reconcile,
        )
        claimed = replace(grant, state="claimed", claimed_at=now, claimed_by=attempt)
        return claimed, decision.reconcile

    def complete(
        self, grant: Grant, result: WriteResult, *, tool: str, found: bool = False
    ) -> bool:
        """The write is in the CRM (written now, or ``found`` there by reconciliation):
        ``claimed → completed`` with the record id. False when that could not be recorded (the
        grant stays claimed: the next call looks for the record before writing)."""
        recorded = self._settle(grant, completed=True, record_id=result.record_id, error=None)
        self._record(
            AuditAction.ACTION_EXECUTED,
            tool,
            grant.account_id,
            grant.owner_email,
            {"approval_id": grant.approval_id, "decided_by": grant.decided_by},
            {
                "module": result.module,
                "record_id": result.record_id,
                "action": result.action,
                "found_existing": found,
            },
            error=None if recorded else "the completed write could not be recorded",
        )
        return recorded

    def release(self, grant: Grant, error: str, *, tool: str) -> bool:
        """The CRM refused the write: ``claimed → granted`` with the error, so the corrected
        call can go through (and looks for a record first, since an earlier try of the same
        request may have landed). False when that could not be recorded."""
        released = self._settle(grant, completed=False, record_id=None, error=error[:500])
        self._record(
            AuditAction.ACTION_EXECUTED,
            tool,
            grant.account_id,
            grant.owner_email,
            {"approval_id": grant.approval_id},
            None,
            error=error[:500],
        )
        return released

    def abandon(self, grant: Grant, error: str, *, tool: str) -> None:
        """The write's outcome is unknown (timeout, lost connection, failed look-up): the grant
        stays claimed, and the next call looks for the record before writing."""
        claimers.end(grant.claimed_by or "")
        log.warning("write_outcome_unknown", approval_id=grant.approval_id, tool=tool)
        self._record(
            AuditAction.ACTION_EXECUTED,
            tool,
            grant.account_id,
            grant.owner_email,
            {"approval_id": grant.approval_id},
            None,
            error=f"outcome unknown, the next call looks for the record first: {error}"[:500],
        )

    def _settle(
        self, grant: Grant, *, completed: bool, record_id: str | None, error: str | None
    ) -> bool:
        """Record the outcome of this attempt's claim, retried with backoff; ends the attempt."""
        try:
            for attempt in range(1, self._settle_attempts + 1):
                try:
                    settled = self._store.settle_grant(
                        grant.approval_id,
                        completed=completed,
                        record_id=record_id,
                        error=error,
                        claimer=grant.claimed_by,
                    )
                except Exception as err:  # busy or unreachable: try again, then give up
                    if attempt == self._settle_attempts:
                        log.error(
                            "grant_settle_failed",
                            approval_id=grant.approval_id,
                            attempts=attempt,
                            error=_message(err),
                        )
                        return False
                    log.warning(
                        "grant_settle_retry", approval_id=grant.approval_id, error=_message(err)
                    )
                    self._sleep(
                        backoff(
                            attempt,
                            initial=SETTLE_BACKOFF_SECONDS,
                            cap=SETTLE_BACKOFF_CAP_SECONDS,
                        )
                    )
                    continue
                if not settled:  # another attempt took the claim over (after the lease)
                    log.error("grant_state_lost", approval_id=grant.approval_id)
                return settled
            return False
        finally:
            claimers.end(grant.claimed_by or "")

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
            timestamp=self._clock.now(),
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
