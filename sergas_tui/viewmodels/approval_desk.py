"""What the approvals queue does when a key is pressed: decide, write, reconcile.

The screen owns the keys and the countdown; this owns the calls into the approval service and
the executor, so the rules (one actor per decision, the executor built once on the app's CRM
connection, half-done writes finished by reconciliation) live outside Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sergas_tui.approvals.executor import Executor
from sergas_tui.domain import Approval
from sergas_tui.domain.approval import Verb
from sergas_tui.services import Services


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
        done: list[Approval] | None = None,
        not_useful: bool = False,
    ) -> list[Approval]:
        """Apply ``verb`` to each approval in turn; ``done`` collects them as they are stored,
        so a refusal half-way keeps what was decided before it. ``not_useful`` flags a
        rejection as the owner's "show me less of this"."""
        decided = done if done is not None else []
        service, actor = self.service, self.actor
        for ident in approval_ids:
            if verb == "approve":
                decided.append(await service.approve(ident, actor=actor))
            elif verb == "reject":
                decided.append(
                    await service.reject(ident, actor=actor, reason=reason, not_useful=not_useful)
                )
            elif verb == "adjust":
                decided.append(await service.adjust(ident, payload or {}, actor=actor))
            elif verb == "undo":
                decided.append(await service.undo(ident, actor=actor))
            else:
                raise ValueError(f"{verb!r} is no decision; the executor writes")
        return decided

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
