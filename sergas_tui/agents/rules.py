"""The rules engine: steps 1–3 of the review with no model and no network beyond Zoho.

It composes the three subagents — :class:`~sergas_tui.agents.scout.DataScout`,
:class:`~sergas_tui.agents.analyst.MemoryAnalyst` and
:class:`~sergas_tui.agents.author.core.RuleAuthor` — behind the orchestrator's ``ReviewEngine``
interface, the same one the Claude engine implements. With a
:class:`~sergas_tui.agents.rating_guard.RatingGuard`, each run first narrows the author's
policy to the Rating values the org's picklist has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from sergas_tui.agents.analyst import MemoryAnalyst
from sergas_tui.agents.author.core import RuleAuthor
from sergas_tui.agents.author.prior import PriorRec, target_of
from sergas_tui.agents.rating_guard import RatingGuard
from sergas_tui.agents.scout import DataScout
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.domain import (
    AccountFacts,
    Approval,
    HistoricalContext,
    Recommendation,
    RecordRef,
    Snapshot,
)
from sergas_tui.memory import MemoryStore
from sergas_tui.storage import Repository


class RulesEngine:
    name = "rules"

    def __init__(
        self,
        *,
        scout: DataScout,
        analyst: MemoryAnalyst,
        author: RuleAuthor,
        repository: Repository,
        stage_history_budget: int = 60,
        rating_guard: RatingGuard | None = None,
    ) -> None:
        self._stage_history_budget = stage_history_budget
        self._scout = scout
        self._analyst = analyst
        self._author = author
        self._repository = repository
        self._rating_guard = rating_guard
        self._policy = author.policy
        """The configured policy; each run narrows it to what the org's picklists have."""

    @property
    def memory(self) -> MemoryStore:
        """The memory store the analyst recalls from (outcomes are remembered there too)."""
        return self._analyst.memory

    async def scout(self, batch: SyncBatch, previous: Mapping[str, Snapshot]) -> list[AccountFacts]:
        """The run's first step: also checks the author's Rating values against the org's field
        metadata (:class:`RatingGuard`, inside the run's audit session)."""
        if self._rating_guard is not None:
            self._author.policy = await self._rating_guard.narrow(self._policy)
        return await self._scout.scout(
            batch, previous=previous, stage_history_budget=self._stage_history_budget
        )

    async def recall(
        self, facts: AccountFacts, now: datetime
    ) -> tuple[HistoricalContext, list[RecordRef]]:
        return await self._analyst.recall(facts, now=now)

    async def author(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        memory_refs: Sequence[RecordRef],
        prior: Sequence[Approval],
    ) -> list[Recommendation]:
        priors = (  # no earlier decisions (most accounts): no trip to the database
            await asyncio.to_thread(self._priors, facts.account_id, prior, facts.reviewed_at)
            if prior
            else []
        )
        return self._author.author(facts, context, memory_refs=memory_refs, prior=priors)

    def _priors(
        self, account_id: str, approvals: Sequence[Approval], now: datetime
    ) -> list[PriorRec]:
        """Past decisions, each tied to the record its recommendation was about."""
        if not approvals:
            return []
        targets = {
            rec.id: target_of(rec) for rec in self._repository.recommendations_for(account_id)
        }
        return [
            PriorRec.from_approval(a, now, target=targets.get(a.recommendation_id))
            for a in approvals
        ]

    async def remember(self, account_id: str, recommendations: Sequence[Recommendation]) -> None:
        await self._analyst.remember(account_id, recommendations)
