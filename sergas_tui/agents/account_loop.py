"""The review's account loop: each account recalled, authored, stored and remembered.

:class:`AccountLoop` is one run's pass over its accounts, riskiest first (the brief's order),
after the sync and the Data Scout (:mod:`~sergas_tui.agents.orchestrator` holds the run's
sequence). What the accounts had stored (approvals, queued recommendations, outcomes awaiting a
verdict) is read once; each account is then recalled and authored within the run's limit of
accounts in flight (``max_parallel_subagents``, or more for an engine that batches accounts per
model request), and stored and remembered within :data:`STORING_IN_FLIGHT`: its results go to
the run's writer thread (``storage/writer.py``) in one hop, as one unit, committed with up to
:data:`PERSIST_CHUNK` − 1 others or after :data:`PERSIST_DELAY` seconds, so a crash loses at
most the open chunk, whole accounts only. Authoring does not wait for the writer: the next
accounts are authored while earlier ones are stored. An account's snapshot is saved with its
recommendations and approvals, so a failed or cancelled account is reviewed afresh next time;
a failure on one account is recorded and the others go on. The local memory groups its writes
the same way for the loop (``LocalMemory.begin_batch``; a large loop's in a memory process).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sergas_tui import metrics
from sergas_tui.agents.events import (
    AccountAuthored,
    AccountFailed,
    AccountRecalled,
    AccountScouted,
    RecommendationProposed,
)
from sergas_tui.agents.review_steps import assess_outcomes, persist_account, refresh_queued, valued
from sergas_tui.agents.run_stream import EventSink
from sergas_tui.briefs.compile import review_order
from sergas_tui.domain import (
    AccountFacts,
    AccountReview,
    HistoricalContext,
    HistoryDetails,
    Recommendation,
)
from sergas_tui.domain.queue import OwnerHistory
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import BatchingMemory
from sergas_tui.storage.approvals import ReviewInputs
from sergas_tui.storage.writer import WriteBatch

if TYPE_CHECKING:
    from sergas_tui.agents.orchestrator import Orchestrator

log = get_logger("sergas.orchestrator")

PERSIST_CHUNK = 256
"""Accounts per transaction of a review's writer (a crash loses at most one open chunk)."""
PERSIST_DELAY = 2.0
"""Seconds after which the writer commits its open chunk, however few accounts it holds."""
STORING_IN_FLIGHT = 64
"""Authored accounts waiting for the writer at most (their authoring no longer holds a place
among the accounts in flight, so the writer's waits overlap the next accounts' work)."""


@dataclass(frozen=True)
class Accounts:
    """What the review of a run's accounts returns."""

    reviews: list[AccountReview]
    """The accounts reviewed, in the order they finished."""
    failures: list[tuple[str, str]]
    """Each failed account's id and why."""
    recommendations: int
    landed: int
    """Critical recommendations that landed at once as pending approvals."""


class AccountLoop:
    """One run's pass over its accounts (see the module)."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        run_id: str,
        sink: EventSink,
        *,
        unmuted: dict[str, AccountFacts],
    ) -> None:
        self.repository = orchestrator.repository
        self.engine = orchestrator.engine
        self.memory = orchestrator.memory
        self.settings = orchestrator.settings
        self.clock = orchestrator.clock
        self.run_id = run_id
        self.sink = sink
        self._unmuted = unmuted
        """This run's facts before snoozed and dismissed signals were taken out."""
        self.histories: dict[str, OwnerHistory] = {}
        """Each owner's recent decisions, read once per run (ranking)."""
        self._inputs = ReviewInputs()
        """What the run's accounts had stored (approvals, queued recommendations), read once."""
        self._writer: WriteBatch | None = None
        """The run's writer thread while its accounts are reviewed."""

    async def review(self, facts: list[AccountFacts]) -> Accounts:
        """Review every account; their events go to the run's sink as they happen."""
        return await self._review_accounts(self.run_id, facts, self.sink)

    async def _review_accounts(
        self, run_id: str, facts: list[AccountFacts], sink: EventSink
    ) -> Accounts:
        """Review every account, riskiest first, with bounded concurrency; their events go to
        ``sink`` as they happen. A failed account is recorded and the others go on."""
        ordered = sorted(
            facts,
            key=lambda f: review_order(
                AccountReview(facts=f, context=HistoricalContext(account_id=f.account_id))
            ),
        )
        total = len(ordered)
        # One read for every account's approvals, queued recommendations and due outcomes,
        # and one writer thread storing each account's results in one hop, committed in
        # chunks of whole accounts (storage/writer.py).
        self._inputs = await asyncio.to_thread(
            self.repository.review_inputs, [f.account_id for f in ordered]
        )
        memory = self.memory if isinstance(self.memory, BatchingMemory) else None
        if memory is not None:  # the memory's writes too, in shared transactions
            await memory.begin_batch(len(ordered))
        # An engine that batches accounts per model request (the Claude engine) asks for
        # more accounts in flight than it has subagent sessions; the rules engine does not.
        wanted = getattr(self.engine, "accounts_in_flight", None)
        parallel = self.settings.orchestrator.max_parallel_subagents
        limit = asyncio.Semaphore(max(parallel, wanted) if isinstance(wanted, int) else parallel)
        gates = (limit, asyncio.Semaphore(STORING_IN_FLIGHT))
        reviews: list[AccountReview] = []
        failures: list[tuple[str, str]] = []
        finished = 0

        async def one(f: AccountFacts) -> None:
            nonlocal finished
            try:
                review = await self._review_account(run_id, f, sink, total, gates)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # one account never stops the run
                message = err.message if isinstance(err, SergasError) else repr(err)
                log.warning("account_failed", account_id=f.account_id, error=repr(err))
                finished += 1
                failures.append((f.account_id, message))
                sink.put(
                    AccountFailed(run_id, f.account_id, f.account.name, message, finished, total)
                )
                return
            reviews.append(review)
            metrics.account_processed()
            finished += 1
            sink.put(
                AccountAuthored(run_id, f.account_id, len(review.recommendations), finished, total)
            )

        # No await from here to the try below, which always closes the writer.
        writer = self.repository.write_batch(chunk=PERSIST_CHUNK, max_delay=PERSIST_DELAY)
        self._writer = writer
        try:
            await asyncio.gather(*(one(f) for f in ordered))
        finally:
            # Whatever happened, what was handed over is stored whole and committed.
            self._writer = None
            try:
                await asyncio.shield(asyncio.to_thread(writer.close))
            finally:
                if memory is not None:
                    await asyncio.shield(memory.end_batch())
        recommendations = [r for review in reviews for r in review.recommendations]
        return Accounts(
            reviews=reviews,
            failures=failures,
            recommendations=len(recommendations),
            landed=sum(1 for r in recommendations if r.status == "pending"),
        )

    async def _review_account(
        self,
        run_id: str,
        facts: AccountFacts,
        sink: EventSink,
        total: int,
        gates: tuple[asyncio.Semaphore, asyncio.Semaphore],
    ) -> AccountReview:
        """Recall and author (within the run's limit of accounts in flight), then store and
        remember (within :data:`STORING_IN_FLIGHT`), so the next accounts are authored while
        this one waits for the writer."""
        async with gates[0]:
            context, recommendations, new, now = await self._author_account(
                run_id, facts, sink, total
            )
        async with gates[1]:
            return await self._store_account(
                run_id, sink, facts, context, recommendations, new, now
            )

    async def _author_account(
        self, run_id: str, facts: AccountFacts, sink: EventSink, total: int
    ) -> tuple[HistoricalContext, list[Recommendation], set[str], datetime]:
        account = facts.account
        owner = account.owner.email if account.owner and account.owner.email else "*"
        sink.put(
            AccountScouted(
                run_id, account.id, account.name, tuple(facts.signals), len(facts.changes), total
            )
        )
        now = self.clock.now()
        if facts.account_id in self._inputs.outcomes_due:  # read once for the run
            unmuted = self._unmuted.get(facts.account_id, facts)
            await assess_outcomes(self.repository, self.memory, unmuted, now)
        with metrics.subagent("memory_analyst"):
            context, memory_refs = await self.engine.recall(facts, now)
        sink.put(
            AccountRecalled(
                run_id,
                account.id,
                context.historical_context.sentiment_trend,
                context.memory_stale,
            )
        )
        prior = self._inputs.approvals.get(account.id, [])
        with metrics.subagent("recommendation_author"):
            recommendations = await self.engine.author(facts, context, memory_refs, prior)
        history = self.histories.get(owner) or OwnerHistory()
        recommendations = [valued(r, facts, history, now) for r in recommendations]
        waiting = self._inputs.queued.get(account.id, [])
        recommendations, new = refresh_queued(recommendations, waiting)
        return context, recommendations, new, now

    async def _store_account(
        self,
        run_id: str,
        sink: EventSink,
        facts: AccountFacts,
        context: HistoricalContext,
        recommendations: list[Recommendation],
        new: set[str],
        now: datetime,
    ) -> AccountReview:
        account = facts.account
        owner = account.owner.email if account.owner and account.owner.email else "*"
        landed = await self._store(
            functools.partial(
                persist_account,
                self.repository,
                self.clock,
                self._ttl,
                run_id,
                facts,
                owner,
                recommendations,
                now,
            )
        )
        fresh = [r for r in recommendations if r.id in new]
        await self.engine.remember(account.id, fresh)
        for rec in fresh:
            metrics.recommendation_generated(rec.type)
            approval_id = landed.get(rec.id)
            sink.put(RecommendationProposed(run_id, account.id, rec, approval_id))
        # The run keeps every account's review until its briefs are compiled: only what they
        # read of the memory's answer (its history's lists stay with the memory).
        kept = HistoricalContext(
            account_id=context.account_id,
            historical_context=HistoryDetails(
                sentiment_trend=context.historical_context.sentiment_trend,
                relationship_strength=context.historical_context.relationship_strength,
            ),
            memory_stale=context.memory_stale,
        )
        return AccountReview(facts=facts, context=kept, recommendations=fresh)

    @property
    def _ttl(self) -> timedelta:
        return timedelta(hours=self.settings.orchestrator.approval_timeout_hours)

    async def _store(self, unit: Callable[[], dict[str, str]]) -> dict[str, str]:
        """One account's results (``unit``, a ``persist_account`` call), in one hop to the run's
        writer: one unit of its transaction, all or nothing."""
        if self._writer is None:  # outside a run's account loop
            return await asyncio.to_thread(unit)
        return await self._writer.run(unit)
