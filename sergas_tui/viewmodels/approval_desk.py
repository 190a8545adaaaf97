"""What the approvals queue does when a key is pressed: decide, write, reconcile.

The screen owns the keys, and :class:`~.approval_queue.ApprovalQueue` the queue's state and the
countdown; this owns the calls into the approval service and the executor, so the rules (one
actor per decision, the executor built once on the app's CRM connection, half-done writes
finished by reconciliation) live outside Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sergas_tui.approvals.executor import Executor
from sergas_tui.domain import Approval
from sergas_tui.domain.approval import Verb
from sergas_tui.services import Services


@dataclass(frozen=True)
class Decisions:
    """What one decision over several approvals stored, in order, and what stopped it early."""

    decided: list[Approval]
    """The approvals as stored by their decision (all of them, unless ``error`` stopped it)."""
    error: BaseException | None = None
    """The refusal or failure that stopped the decision half-way (None: every one decided)."""

    def raise_error(self) -> None:
        """Raise the failure that stopped the decision, if one did."""
        if self.error is not None:
            raise self.error


class ApprovalDesk:
    """The approvals service and the executor of one screen, for one actor."""

    def __init__(self, services: Services, actor: str) -> None:
        self.services = services
        self.actor = actor
        self.service = services.approval_service()
        self._executor: Executor | None = None

    async def decide(
        self,
        approval_ids: Sequence[str],
        verb: Verb,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        not_useful: bool = False,
    ) -> Decisions:
        """Apply ``verb`` to each approval in turn and return what was stored.

        A refusal (or any failure) half-way stops there: the result keeps what was decided
        before it, with the failure, so the queue can show those decisions and then report it.
        ``not_useful`` flags a rejection as the owner's "show me less of this".
        """
        decided: list[Approval] = []
        try:
            for ident in approval_ids:
                decided.append(
                    await self._decide_one(
                        ident, verb, reason=reason, payload=payload, not_useful=not_useful
                    )
                )
        except (Exception, asyncio.CancelledError) as err:
            # Cancellation too: the decisions stored before it are real and must be shown.
            return Decisions(decided, err)
        return Decisions(decided)

    async def _decide_one(
        self,
        ident: str,
        verb: Verb,
        *,
        reason: str | None,
        payload: dict[str, Any] | None,
        not_useful: bool,
    ) -> Approval:
        service, actor = self.service, self.actor
        if verb == "approve":
            return await service.approve(ident, actor=actor)
        if verb == "reject":
            return await service.reject(ident, actor=actor, reason=reason, not_useful=not_useful)
        if verb == "adjust":
            return await service.adjust(ident, payload or {}, actor=actor)
        if verb == "undo":
            return await service.undo(ident, actor=actor)
        raise ValueError(f"{verb!r} is no decision; the executor writes")

    async def executor(self) -> Executor:
        """The executor on the app's CRM gateway, built on first use."""
        if self._executor is None:
            services = self.services
            self._executor = await services.executor()
        return self._executor

    async def execute(self, approval_id: str) -> Approval | None:
        """Write one approved action (exactly once); the approval as stored afterwards."""
        await (await self.executor()).execute(approval_id)
        return await asyncio.to_thread(self.services.store.get_approval, approval_id)

    async def reconcile(self) -> list[Approval]:
        """Finish writes a crash left half-done: found in the CRM by their marker, or written."""
        finished = []
        for result in await (await self.executor()).reconcile():
            stored = await asyncio.to_thread(self.services.store.get_approval, result.approval_id)
            if stored is not None:
                finished.append(stored)
        return finished
