"""Deciding approvals: the only way an approval leaves ``pending`` by a person's hand.

Every decision names its actor (a non-empty string: there is no automated approval path and no
setting that adds one), is stored by compare-and-set (a concurrent change is refused, never
overwritten) and is written to the audit log in the same transaction as the new state. When a
memory store is given, the decision is remembered there too so later reviews learn from it.

The public methods are ``async``: repository calls run in a worker thread, memory calls are
awaited.

Why one module: every way an approval leaves ``pending`` by a person's hand (approve, reject,
adjust, undo, and the checks of an adjusted payload) goes through one class's compare-and-set and
its audit row in the same transaction; kept together, a reader sees that no path skips the actor,
the permission check or the audit, and a new decision cannot be added beside them without them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

from pydantic import JsonValue, ValidationError

from sergas_tui import metrics
from sergas_tui.approvals.team import PullReport, TeamRecords
from sergas_tui.approvals.write_plan import part_id, plan_write, plan_writes, write_approval
from sergas_tui.clock import Clock
from sergas_tui.crm.approval_gate import (
    ApprovalRefusedError,
    GrantStore,
    grant_for,
    publish_decision,
)
from sergas_tui.crm.writer import NoteDraft, TaskDraft
from sergas_tui.domain import (
    ACTION_MODELS,
    Approval,
    ApprovalStatus,
    AuditAction,
    AuditEvent,
    Decision,
    SuggestedAction,
    can_transition,
    new_id,
)
from sergas_tui.domain.action_checks import MULTI_LINE_MAX, SINGLE_LINE_MAX, action_problems
from sergas_tui.domain.approval import APPROVED_STATUSES, UNDOABLE
from sergas_tui.domain.grants import Grant
from sergas_tui.domain.people import Identity
from sergas_tui.errors import ApprovalError, SergasError
from sergas_tui.errors import InvalidAdjustmentError as InvalidAdjustmentError
from sergas_tui.errors import NotAllowedError as NotAllowedError
from sergas_tui.errors import UnknownApprovalError as UnknownApprovalError
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import MemoryStore
from sergas_tui.storage import Repository
from sergas_tui.storage.mutes import FEEDBACK_SIGNALS, NOT_USEFUL

log = get_logger("sergas.approvals")

T = TypeVar("T")

OWNER_AGENT = "owner"
"""``agent_name`` of audit rows for a person's decisions."""

SYSTEM_AGENT = "sergas"
"""``agent_name`` (and memory actor) for expiry, which no person decides."""

MIN_PREFIX = 4
"""The shortest id prefix :meth:`ApprovalService.get` resolves."""

_S = ApprovalStatus
_VERB = {_S.APPROVED: "approve", _S.ADJUSTED: "adjust", _S.REJECTED: "reject"}
_DONE = {_S.APPROVED: "approved", _S.ADJUSTED: "adjusted", _S.REJECTED: "rejected"}
_ORIGINAL_PAYLOAD = "original_payload"
"""Key in ``Approval.details`` keeping the proposed payload while an adjusted one replaces it."""
_FEEDBACK_KEYS = ("feedback", FEEDBACK_SIGNALS)
"""Keys in ``Approval.details`` holding a rejection's "not useful" feedback."""


def _require_actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ApprovalError(
            "A decision needs the name of the person making it; nothing was recorded."
        )
    return actor.strip()


def require_may(identity: Identity | None, owner_email: str | None, what: str) -> None:
    """Refuse (:class:`NotAllowedError`) when ``identity`` may not ``what`` the owner's items;
    no identity (local-only mode) allows everything."""
    if identity is not None and not identity.may_act_for(owner_email):
        raise NotAllowedError(identity.refusal(owner_email, what))


def _field_errors(err: ValidationError) -> list[str]:
    parts = []
    for problem in err.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "payload"
        parts.append(f"{where}: {problem['msg']}")
    return parts


def _parse(
    approval: Approval, payload: Mapping[str, Any] | SuggestedAction
) -> tuple[SuggestedAction | None, list[str]]:
    """The edited payload as its action model, or why it is not one."""
    kind = approval.action_type
    model = ACTION_MODELS[kind]
    if isinstance(payload, model):
        payload = payload.model_dump()
    elif not isinstance(payload, Mapping):
        return None, [f"it must be a {kind} ({model.__name__}), not {type(payload).__name__}"]
    unknown = sorted(str(k) for k in payload if k not in model.model_fields)
    if unknown:
        return None, [
            f"unknown field(s) {', '.join(unknown)}; allowed fields: "
            f"{', '.join(model.model_fields)}"
        ]
    try:
        return model.model_validate(dict(payload)), []
    except ValidationError as err:
        return None, _field_errors(err)


def _written_problems(approval: Approval, edited: SuggestedAction) -> list[str]:
    """The sizes of the write the edited action becomes (an e-mail's parts share one task
    description, with the marker), against Zoho's limits."""
    plan = plan_write(approval.model_copy(update={"payload": edited}))
    request = plan.task or plan.note
    what = "task" if plan.task is not None else "note"
    texts: list[tuple[str, str | None, int]] = []
    if isinstance(request, TaskDraft):
        texts = [("subject", request.subject, SINGLE_LINE_MAX)]
        texts.append(("description", request.description, MULTI_LINE_MAX))
    elif isinstance(request, NoteDraft):
        texts = [("title", request.title, SINGLE_LINE_MAX)]
        texts.append(("content", request.content, MULTI_LINE_MAX))
    problems = []
    for name, text, limit in texts:
        if text is not None and len(text) > limit:
            problems.append(
                f"the {what} this becomes has a {name} of {len(text):,} characters; Zoho takes "
                f"at most {limit:,} (shorten the text)"
            )
    return problems


def payload_problems(
    approval: Approval,
    payload: Mapping[str, Any] | SuggestedAction,
    *,
    today: date | None = None,
) -> list[str]:
    """Every reason the edited payload cannot be stored, each naming its field (empty when it
    can): the action type's shape, then what Zoho would refuse (blank required texts, a
    priority off the picklist, texts over the field's size, a date before ``today``)."""
    edited, problems = _parse(approval, payload)
    if edited is None:
        return problems
    problems = action_problems(edited, today=today)
    return problems or _written_problems(approval, edited)


def validate_payload(
    approval: Approval,
    payload: Mapping[str, Any] | SuggestedAction,
    *,
    today: date | None = None,
) -> SuggestedAction:
    """The edited payload as the action model ``approval.action_type`` calls for.

    Raises :class:`InvalidAdjustmentError` listing every problem :func:`payload_problems`
    finds, in one paragraph.
    """
    problems = payload_problems(approval, payload, today=today)
    if problems:
        raise InvalidAdjustmentError(
            f"The edited {approval.action_type} cannot be saved: {'; '.join(problems)}. "
            "Nothing was saved."
        )
    edited, _ = _parse(approval, payload)
    assert edited is not None
    return edited


def _publish(store: GrantStore, *, grant: Grant) -> object:
    return publish_decision(store, grant)


def _revoke(store: GrantStore, *, ident: str) -> object:
    return store.revoke_grant(ident)


class ApprovalService:
    """Approve, adjust, reject, undo and expire approvals, each recorded and audited."""

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Clock,
        memory: MemoryStore | None = None,
        session_id: str | None = None,
        grants: GrantStore | None = None,
        team: TeamRecords | None = None,
        identity: Identity | None = None,
        audit_context: Mapping[str, JsonValue] | None = None,
    ) -> None:
        self._repo = repository
        self.identity = identity
        """Who acts (team mode): only owners this person may act for are shown and decided,
        and every decision is recorded under them. None: no check (local-only mode)."""
        self._context = dict(audit_context or {})
        """More facts for the audit rows of decisions (an approval link's IP and agent)."""
        self._team = team
        """Team mode: the central records every decision is checked against first."""
        self.team_error: SergasError | None = None
        """Why the last pull from the team's records failed (None: it worked, or local mode)."""
        self._clock = clock
        self._memory = memory
        self._grants = grants
        self.session_id = session_id or f"approvals-{new_id()}"

    # -- reading ------------------------------------------------------------------------------

    async def pending(self, owner_email: str | None = None) -> list[Approval]:
        """Approvals waiting for a decision, oldest first (overdue ones are expired first).

        In team mode the owner's items are first pulled from the team's records (decided on
        another device, or landed by a worker's review); when they cannot be reached the local
        queue is shown and ``team_error`` says why."""
        self._may(owner_email, "see")
        await self.pull(owner_email)
        await self.expire_due()
        found = await self._io(self._repo.pending_approvals, owner_email)
        return [a for a in found if self._allowed(a.owner_email)]

    async def pull(self, owner_email: str | None = None) -> PullReport | None:
        """Take what the team's records changed for the owner (every owner: None); None in
        local mode or when they cannot be reached (``team_error`` then says why)."""
        if self._team is None:
            return None
        mine = self.identity.owners() if self.identity is not None else None
        try:
            if owner_email is None and mine is not None:
                # Only the owners this person may see are copied to this device.
                reports = [await self._io(self._team.pull, owner) for owner in sorted(mine)]
                report = PullReport(
                    new=sum(r.new for r in reports),
                    moved=sum(r.moved for r in reports),
                    sent=sum(r.sent for r in reports),
                )
            else:
                report = await self._io(self._team.pull, owner_email)
        except SergasError as err:
            self.team_error = err
            log.warning("team_pull_failed", error=err.message)
            return None
        self.team_error = None
        return report

    async def decided_not_executed(self, owner_email: str | None = None) -> list[Approval]:
        """Approved or adjusted approvals waiting to be written to the CRM, oldest first."""
        self._may(owner_email, "see")
        found = await self._io(self._repo.approvals_with_status, APPROVED_STATUSES, owner_email)
        return [a for a in found if self._allowed(a.owner_email)]

    def _allowed(self, owner_email: str | None) -> bool:
        return self.identity is None or self.identity.may_act_for(owner_email)

    def _may(self, owner_email: str | None, what: str) -> None:
        """Refuse a named owner this person may not act for (None: filtered instead)."""
        if owner_email is not None:
            require_may(self.identity, owner_email, what)

    async def get(self, approval_id: str) -> Approval:
        """The approval with this id, or with this unique id prefix (``MIN_PREFIX``+ chars)."""
        ident = approval_id.strip()
        found = await self._io(self._repo.get_approval, ident) if ident else None
        if found is not None:
            self._may(found.owner_email, "see")
            return found
        if len(ident) >= MIN_PREFIX:
            ids = await self._io(self._repo.approval_ids_with_prefix, ident)
            if len(ids) > 1:
                raise ApprovalError(
                    f"More than one approval starts with {ident!r}; give more of the id."
                )
            if ids:
                again = await self._io(self._repo.get_approval, ids[0])
                if again is not None:
                    self._may(again.owner_email, "see")
                    return again
        raise UnknownApprovalError(
            f"There is no approval {approval_id!r}. `sergas approvals list` shows their ids."
        )

    # -- deciding -----------------------------------------------------------------------------

    async def approve(
        self, approval_id: str, *, actor: str, rationale: str | None = None
    ) -> Approval:
        """Approve the proposed write as it stands."""
        return await self._decide(approval_id, _S.APPROVED, actor=actor, rationale=rationale)

    async def reject(
        self,
        approval_id: str,
        *,
        actor: str,
        reason: str | None = None,
        not_useful: bool = False,
    ) -> Approval:
        """Reject: nothing will be written.

        ``not_useful`` is the owner's feedback that the item was not worth their time: it is
        kept on the approval (``details["feedback"] = "not_useful"`` and, in
        ``details["signals"]``, the keys of the risk signals the recommendation answered) and in
        the decision's audit row, so later reviews can show that owner less of it
        (:func:`sergas_tui.storage.mutes.not_useful_counts`).
        """
        return await self._decide(
            approval_id, _S.REJECTED, actor=actor, rationale=reason, not_useful=not_useful
        )

    async def adjust(
        self,
        approval_id: str,
        payload: Mapping[str, Any] | SuggestedAction,
        *,
        actor: str,
        rationale: str | None = None,
    ) -> Approval:
        """Approve with edits: ``payload`` replaces the proposed action once validated."""
        return await self._decide(
            approval_id, _S.ADJUSTED, actor=actor, rationale=rationale, payload=payload
        )

    async def undo(self, approval_id: str, *, actor: str) -> Approval:
        """Take back a decision whose write has not started: the approval is pending again.

        An adjusted approval gets its proposed payload back, and a fresh single-use token.
        """
        who = self._who(actor)
        approval = await self.get(approval_id)
        self._may(approval.owner_email, "decide")
        old = approval.status
        if old not in UNDOABLE or not can_transition(old, _S.PENDING):
            raise ApprovalError(self._undo_refusal(approval), title="Cannot undo")
        details = dict(approval.details or {})
        for key in _FEEDBACK_KEYS:  # the feedback went with the decision
            details.pop(key, None)
        payload: Any = approval.payload
        original = details.pop(_ORIGINAL_PAYLOAD, None)
        if original is not None:
            payload = ACTION_MODELS[approval.action_type].model_validate(original)
        updated = approval.model_copy(
            update={
                "status": _S.PENDING,
                "payload": payload,
                "details": details or None,
                "decided_by": None,
                "decided_at": None,
                "decision_rationale": None,
                "token": secrets.token_urlsafe(24),
            }
        )
        now = self._clock.now()
        inputs: dict[str, JsonValue] = {
            "approval_id": approval.id,
            "undo": True,
            "actor": who,
            "undone_status": str(old),
            **self._how(),
        }
        if original is not None:
            inputs["before"] = approval.payload.model_dump(mode="json")
            inputs["after"] = updated.payload.model_dump(mode="json")
        event = self._event(approval, AuditAction.APPROVAL_DECIDED, now, None, None, inputs)
        if self._team is not None:  # the team's records first: another device may have moved it
            await self._io(self._team.decide, approval, updated)
        await self._stored_or_withdrawn(approval, updated, old, event)
        await self._remember(updated, _S.PENDING, now, who, None)
        if self._grants is not None:
            for n in range(1 + len(approval.also)):
                ident = part_id(approval.id, n)
                await self._publish(partial(_revoke, ident=ident), ident)
        return updated

    async def expire_due(self, now: datetime | None = None) -> int:
        """Mark every pending approval whose time is up as expired; returns how many."""
        at = now or self._clock.now()
        count = 0
        for approval in await self._io(self._repo.pending_approvals, None):
            if approval.is_expired(at) and await self._expire(approval, at):
                count += 1
        return count

    # -- internals ----------------------------------------------------------------------------

    async def _decide(
        self,
        approval_id: str,
        new: ApprovalStatus,
        *,
        actor: str,
        rationale: str | None,
        payload: Mapping[str, Any] | SuggestedAction | None = None,
        not_useful: bool = False,
    ) -> Approval:
        who = self._who(actor)
        approval = await self.get(approval_id)
        self._may(approval.owner_email, "decide")
        now = self._clock.now()
        if approval.is_expired(now):
            await self._expire(approval, now)
            approval = approval.model_copy(update={"status": _S.EXPIRED})
        old = approval.status
        if not can_transition(old, new):
            verb = _VERB.get(new, str(new))
            raise ApprovalError(self._refusal(approval, new), title=f"Cannot {verb}")
        update: dict[str, Any] = {
            "status": new,
            "decided_by": who,
            "decided_at": now,
            "decision_rationale": rationale,
        }
        inputs: dict[str, JsonValue] = {"approval_id": approval.id, "actor": who, **self._how()}
        if old == _S.CONFLICT:
            inputs["previous_status"] = str(old)
        if payload is not None:
            edited = validate_payload(approval, payload, today=self._today())
            details = dict(approval.details or {})
            details.setdefault(_ORIGINAL_PAYLOAD, approval.payload.model_dump(mode="json"))
            update["payload"] = edited
            update["details"] = details
            inputs["before"] = approval.payload.model_dump(mode="json")
            inputs["after"] = edited.model_dump(mode="json")
        if not_useful and new == _S.REJECTED:
            keys = await self._signal_keys(approval)
            details = dict(update.get("details") or approval.details or {})
            details["feedback"] = NOT_USEFUL
            details[FEEDBACK_SIGNALS] = list(keys)
            update["details"] = details
            inputs["feedback"] = NOT_USEFUL
            inputs[FEEDBACK_SIGNALS] = list(keys)
        updated = approval.model_copy(update=update)
        decision: Decision = (
            "adjusted" if new == _S.ADJUSTED else ("approved" if new == _S.APPROVED else "rejected")
        )
        event = self._event(
            approval, AuditAction.APPROVAL_DECIDED, now, decision, rationale, inputs
        )
        if self._team is not None:
            # Team mode: the central row first (compare-and-set), so that a second device
            # deciding the same approval is refused with the first decider named.
            await self._io(self._team.decide, approval, updated)
        if self._grants is not None and new.is_approved:
            # Team mode: the decision goes to the central database first, so a second device
            # deciding the same approval is told, and nothing is recorded here.
            grants = [
                grant_for(write_approval(updated, n), plan.request(updated), now)
                for n, plan in enumerate(plan_writes(updated))
            ]
            try:
                for grant in grants:
                    await self._publish(partial(_publish, grant=grant), grant.approval_id)
            except ApprovalRefusedError as err:
                if self._team is not None:
                    await self._io(self._team.withdraw, approval, updated)
                raise ApprovalError(err.message) from err
        await self._stored_or_withdrawn(approval, updated, old, event)
        metrics.decided(approved=new.is_approved)
        if metrics.served():  # a query per decision only when someone can scrape it
            metrics.pending_approvals(await self._io(self._repo.pending_approval_count))
        await self._remember(updated, new, now, who, rationale)
        return updated

    async def _stored_or_withdrawn(
        self, before: Approval, updated: Approval, old: ApprovalStatus, event: AuditEvent
    ) -> None:
        """Store the decision here; in team mode, when that fails after the central row took
        it, the central move is put back so that the team never holds a decision this device
        did not record (with its audit row)."""
        try:
            await self._store(updated, old, event)
        except BaseException:
            if self._team is not None:
                await asyncio.shield(self._io(self._team.withdraw, before, updated))
            raise

    def _who(self, actor: str) -> str:
        """The decider: the identified person when there is one (an ``actor`` naming someone
        else is refused), else ``actor``."""
        who = _require_actor(actor)
        identity = self.identity
        if identity is not None and who.lower() != identity.email.lower():
            raise NotAllowedError(
                f"Decisions are recorded under the person Sergas identified, {identity.label()}, "
                f"not {who!r}; nothing was recorded."
            )
        return identity.email if identity is not None else who

    def _how(self) -> dict[str, JsonValue]:
        """How the decider was identified, with the request's facts, for the audit row."""
        facts: dict[str, JsonValue] = {}
        if self.identity is not None:
            facts["identified_by"] = self.identity.how
            facts["role"] = self.identity.role
        return facts | self._context

    def _today(self) -> date:
        """The person's today: the clock's moment in this machine's time zone."""
        return self._clock.now().astimezone().date()

    async def _signal_keys(self, approval: Approval) -> list[str]:
        """The signal keys the approval's recommendation answers (none when it is unknown)."""
        recommendation = await self._io(self._repo.get_recommendation, approval.recommendation_id)
        if recommendation is None:
            return []
        return list(dict.fromkeys(recommendation.signals))

    async def _publish(self, step: Callable[[GrantStore], object], approval_id: str) -> None:
        """Publish (or withdraw) a decision centrally, for servers that verify tokens there.

        Best effort: the executor publishes again before it writes, so a database that is down
        now delays nothing but the team's view of the decision."""
        assert self._grants is not None
        grants = self._grants
        try:
            await self._io(step, grants)
        except ApprovalRefusedError:
            raise
        except SergasError as err:
            log.warning("central_publish_failed", approval_id=approval_id, error=str(err))

    async def _expire(self, approval: Approval, now: datetime) -> bool:
        """Expire one pending approval; False when someone decided it meanwhile."""
        updated = approval.model_copy(update={"status": _S.EXPIRED})
        inputs: dict[str, JsonValue] = {
            "approval_id": approval.id,
            "expires_at": approval.expiry.isoformat(),
        }
        event = self._event(approval, AuditAction.APPROVAL_EXPIRED, now, None, None, inputs)
        event = event.model_copy(update={"agent_name": SYSTEM_AGENT})
        stored = await self._io(
            self._repo.update_approval, updated, expected_status=_S.PENDING, audit=event
        )
        if stored:
            await self._remember(updated, _S.EXPIRED, now, SYSTEM_AGENT, None)
            if self._team is not None:
                await self._io(self._team.report, updated)
        return bool(stored)

    async def _store(self, updated: Approval, old: ApprovalStatus, event: AuditEvent) -> None:
        stored = await self._io(
            self._repo.update_approval, updated, expected_status=old, audit=event
        )
        if not stored:
            raise ApprovalError(
                f"Approval {updated.id[:8]} changed meanwhile, reload it and decide again "
                "(someone else decided it, or its CRM write started). Nothing was recorded."
            )

    def _event(
        self,
        approval: Approval,
        action: AuditAction,
        now: datetime,
        decision: Decision | None,
        rationale: str | None,
        inputs: dict[str, JsonValue],
    ) -> AuditEvent:
        return AuditEvent(
            timestamp=now,
            session_id=self.session_id,
            agent_name=OWNER_AGENT,
            action_type=str(action),
            account_id=approval.account_id,
            owner_email=approval.owner_email,
            tool_inputs=inputs,
            decision=decision,
            decision_rationale=rationale,
        )

    async def _remember(
        self,
        approval: Approval,
        status: ApprovalStatus,
        now: datetime,
        actor: str,
        rationale: str | None,
    ) -> None:
        """Tell memory about the decision; the decision stands even if memory cannot take it."""
        if self._memory is None:
            return
        try:
            await self._memory.record_decision(
                approval.account_id,
                approval.recommendation_id,
                str(status),
                decided_at=now,
                actor=actor,
                rationale=rationale,
            )
        except (SergasError, ValueError) as err:
            log.warning("memory_decision_not_recorded", approval_id=approval.id, error=str(err))

    @staticmethod
    def _refusal(approval: Approval, new: ApprovalStatus) -> str:
        """Why ``approval`` cannot take the decision ``new`` (the title names the decision)."""
        short = approval.id[:8]
        status = approval.status
        if status == _S.EXPIRED:
            return (
                f"Approval {short} expired on {approval.expiry:%Y-%m-%d %H:%M} UTC; the next "
                "review will propose it again if it still applies."
            )
        by = f" (decided by {approval.decided_by})" if approval.decided_by else ""
        if status in (_S.EXECUTING, _S.EXECUTED):
            return (
                f"Approval {short} is already {status}{by}: its CRM write has started, so no "
                "decision can change it now."
            )
        if status == _S.FAILED:
            return (
                f"Approval {short} was approved but its write failed; retry the execution "
                f"instead of deciding again."
            )
        return f"Approval {short} is already {status}{by}; undo that decision first."

    @staticmethod
    def _undo_refusal(approval: Approval) -> str:
        """Why ``approval``'s decision cannot be taken back (the title says "Cannot undo")."""
        short = approval.id[:8]
        status = approval.status
        if status == _S.PENDING:
            return f"Approval {short} is pending: nothing has been decided on it yet."
        if status == _S.EXPIRED:
            return f"Approval {short} expired before anyone decided it."
        return (
            f"Approval {short} is {status}: its CRM write has already started, so the decision "
            "stands."
        )

    @staticmethod
    async def _io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)
