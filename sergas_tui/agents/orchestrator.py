"""The orchestrator: one review run, from sync to brief, as a stream of progress events.

It never writes to the CRM. Every write it proposes becomes a pending ``Approval`` in the
workspace; only the approvals executor performs approved ones. Accounts are processed
riskiest first with bounded concurrency; a failure on one account is recorded and the run
goes on; cancelling the consumer stops the run cleanly (its sync run is marked failed and no
half-written account state is left behind: an account's snapshot is saved only once its
recommendations and approvals are).

An engine may also implement :class:`RunAware`: it is then told when a run starts (with a way
to add its own events, e.g. streamed model text, to the run's stream) and ends (so it can end
its CLI processes, even when the run is cancelled), and reports the run's model usage.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from sergas_tui.agents.events import (
    AccountAuthored,
    AccountFailed,
    AccountRecalled,
    AccountScouted,
    RecommendationProposed,
    ReviewEvent,
    RunFinished,
    RunStarted,
    RunSummary,
    Synced,
    Usage,
)
from sergas_tui.approvals.outcomes import update_outcomes
from sergas_tui.audit.gateway import audit_session
from sergas_tui.briefs.compile import compile_brief, review_order
from sergas_tui.clock import Clock
from sergas_tui.config import Settings
from sergas_tui.crm.gateway import CrmReader, SyncBatch
from sergas_tui.domain import (
    AccountFacts,
    AccountReview,
    Approval,
    AuditAction,
    AuditEvent,
    HistoricalContext,
    OwnerBrief,
    Recommendation,
    RecordRef,
    Snapshot,
    SyncStatus,
)
from sergas_tui.domain.changes import snapshot_of
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import MemoryStore
from sergas_tui.storage import Repository

log = get_logger("sergas.orchestrator")


class ReviewEngine(Protocol):
    """Steps 1–3 of the pipeline; the rules engine and the Claude engine both implement it."""

    name: str

    async def scout(
        self, batch: SyncBatch, previous: Mapping[str, Snapshot]
    ) -> list[AccountFacts]: ...

    async def recall(
        self, facts: AccountFacts, now: datetime
    ) -> tuple[HistoricalContext, list[RecordRef]]: ...

    async def author(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        memory_refs: Sequence[RecordRef],
        prior: Sequence[Approval],
    ) -> list[Recommendation]: ...

    async def remember(self, account_id: str, recommendations: Sequence[Recommendation]) -> None:
        """Store what was proposed so the next review knows it."""
        ...


@runtime_checkable
class RunAware(Protocol):
    """Optional engine hooks around one run (the Claude engine implements them)."""

    async def begin_run(self, run_id: str, emit: Callable[[ReviewEvent], None]) -> None: ...

    def usage(self) -> Usage | None: ...

    def fallbacks(self) -> int: ...

    async def end_run(self) -> None: ...


@dataclass
class _Sink:
    """Where an engine's own events go: buffered until the run's event queue exists."""

    pending: list[ReviewEvent] = field(default_factory=list)
    queue: asyncio.Queue[ReviewEvent | None] | None = None

    def put(self, event: ReviewEvent) -> None:
        if self.queue is None:
            self.pending.append(event)
        else:
            self.queue.put_nowait(event)

    def drain(self) -> list[ReviewEvent]:
        events, self.pending = self.pending, []
        return events


@dataclass
class _Counts:
    done: int = 0
    recommendations: int = 0
    failed: int = 0


class Orchestrator:
    def __init__(
        self,
        *,
        gateway: CrmReader,
        repository: Repository,
        engine: ReviewEngine,
        settings: Settings,
        clock: Clock,
        memory: MemoryStore | None = None,
    ) -> None:
        self.gateway = gateway
        self.repository = repository
        self.engine = engine
        self.settings = settings
        self.clock = clock
        engine_memory = getattr(engine, "memory", None)
        self.memory = memory or (engine_memory if isinstance(engine_memory, MemoryStore) else None)
        """Where assessed outcomes are remembered: given, or the engine's ``memory`` if any."""

    async def review(
        self, owner_email: str | None, *, account_ids: Collection[str] | None = None
    ) -> AsyncIterator[ReviewEvent]:
        """Review one owner's accounts (or everyone's, or just ``account_ids``)."""
        repo = self.repository
        started = time.perf_counter()
        run = await asyncio.to_thread(repo.start_sync_run, owner_email or "*")
        now = self.clock.now()
        yield RunStarted(run.id, owner_email, self.engine.name, now)
        await self._audit(run.id, AuditAction.REVIEW_STARTED, owner_email, None, {})
        status: SyncStatus = "failed"
        calls = 0
        session = audit_session(run.id, "zoho_scout")
        session.__enter__()
        sink = _Sink()
        aware = self.engine if isinstance(self.engine, RunAware) else None
        try:
            if aware is not None:
                await aware.begin_run(run.id, sink.put)
            batch = await self.gateway.sync(owner_email)
            calls = batch.calls
            yield Synced(run.id, len(batch.accounts), batch.calls, batch.full)
            previous = await asyncio.to_thread(repo.latest_snapshots, owner_email)
            facts = await self.engine.scout(batch, previous)
            for event in sink.drain():
                yield event
            if account_ids is not None:
                wanted = set(account_ids)
                facts = [f for f in facts if f.account_id in wanted]
            reviews: list[AccountReview] = []
            failures: list[tuple[str, str]] = []
            counts = _Counts()
            async for event in self._review_accounts(
                run.id, facts, reviews, counts, failures, sink
            ):
                yield event
            for event in sink.drain():
                yield event
            briefs = await self._briefs(run.id, owner_email, reviews)
            status = "partial" if failures else "ok"
            summary = RunSummary(
                accounts=len(facts),
                with_changes=sum(1 for f in facts if f.changes),
                at_risk=sum(1 for f in facts if f.signals),
                recommendations=counts.recommendations,
                failed=counts.failed,
                calls=calls,
                seconds=time.perf_counter() - started,
                failures=tuple(failures),
                usage=None if aware is None else aware.usage(),
                fallbacks=0 if aware is None else aware.fallbacks(),
            )
            await self._audit(
                run.id,
                AuditAction.REVIEW_COMPLETED,
                owner_email,
                None,
                {"accounts": summary.accounts, "recommendations": summary.recommendations},
            )
            yield RunFinished(run.id, summary, briefs)
        except (asyncio.CancelledError, GeneratorExit):
            # The person stopped the run: say so in the audit (the sync run stays 'failed',
            # i.e. not completed; every account finished before the cancel is fully stored).
            await asyncio.shield(
                self._audit(run.id, AuditAction.REVIEW_CANCELLED, owner_email, None, {})
            )
            raise
        finally:
            session.__exit__(None, None, None)
            if aware is not None:  # end the engine's processes, even on cancel
                await asyncio.shield(aware.end_run())
            await asyncio.shield(
                asyncio.to_thread(repo.finish_sync_run, run.id, status=status, calls=calls)
            )

    async def _briefs(
        self, run_id: str, owner_email: str | None, reviews: list[AccountReview]
    ) -> tuple[OwnerBrief, ...]:
        """One brief per owner (an empty one for a requested owner with no accounts)."""
        by_owner: dict[str, list[AccountReview]] = {}
        if owner_email:
            by_owner[owner_email] = []
        for review in reviews:
            owner = review.facts.account.owner
            email = owner.email if owner and owner.email else (owner_email or "*")
            by_owner.setdefault(email, []).append(review)
        briefs = []
        for email, owned in sorted(by_owner.items()):
            pending = await asyncio.to_thread(self.repository.pending_approval_count, email)
            brief = compile_brief(
                email, owned, generated_at=self.clock.now(), pending_approvals=pending
            )
            await asyncio.to_thread(self.repository.save_brief, brief, run_id=run_id)
            briefs.append(brief)
        return tuple(briefs)

    async def _review_accounts(
        self,
        run_id: str,
        facts: list[AccountFacts],
        reviews: list[AccountReview],
        counts: _Counts,
        failures: list[tuple[str, str]],
        sink: _Sink | None = None,
    ) -> AsyncIterator[ReviewEvent]:
        ordered = sorted(
            facts,
            key=lambda f: review_order(
                AccountReview(facts=f, context=HistoricalContext(account_id=f.account_id))
            ),
        )
        total = len(ordered)
        queue: asyncio.Queue[ReviewEvent | None] = asyncio.Queue()
        if sink is not None:
            for early in sink.drain():
                queue.put_nowait(early)
            sink.queue = queue
        # An engine that batches accounts per model request (the Claude engine) asks for
        # more accounts in flight than it has subagent sessions; the rules engine does not.
        wanted = getattr(self.engine, "accounts_in_flight", None)
        parallel = self.settings.orchestrator.max_parallel_subagents
        limit = asyncio.Semaphore(max(parallel, wanted) if isinstance(wanted, int) else parallel)

        async def one(f: AccountFacts) -> None:
            async with limit:
                try:
                    review = await self._review_account(run_id, f, queue, total)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # one account never stops the run
                    message = err.message if isinstance(err, SergasError) else repr(err)
                    log.warning("account_failed", account_id=f.account_id, error=repr(err))
                    counts.failed += 1
                    counts.done += 1
                    failures.append((f.account_id, message))
                    await queue.put(
                        AccountFailed(
                            run_id, f.account_id, f.account.name, message, counts.done, total
                        )
                    )
                    return
                reviews.append(review)
                counts.done += 1
                counts.recommendations += len(review.recommendations)
                await queue.put(
                    AccountAuthored(
                        run_id, f.account_id, len(review.recommendations), counts.done, total
                    )
                )

        async def all_accounts() -> None:
            try:
                await asyncio.gather(*(one(f) for f in ordered))
            finally:
                if sink is not None:
                    sink.queue = None  # later engine events wait in the sink
                await queue.put(None)

        worker = asyncio.create_task(all_accounts())
        try:
            while (event := await queue.get()) is not None:
                yield event
            await worker
        finally:
            if not worker.done():
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)

    async def _review_account(
        self,
        run_id: str,
        facts: AccountFacts,
        queue: asyncio.Queue[ReviewEvent | None],
        total: int,
    ) -> AccountReview:
        repo = self.repository
        account = facts.account
        owner = account.owner.email if account.owner and account.owner.email else "*"
        await queue.put(
            AccountScouted(
                run_id, account.id, account.name, tuple(facts.signals), len(facts.changes), total
            )
        )
        now = self.clock.now()
        await self._assess_outcomes(facts, now)
        context, memory_refs = await self.engine.recall(facts, now)
        await queue.put(
            AccountRecalled(
                run_id,
                account.id,
                context.historical_context.sentiment_trend,
                context.memory_stale,
            )
        )
        prior = await asyncio.to_thread(repo.approvals_for, account.id)
        recommendations = await self.engine.author(facts, context, memory_refs, prior)
        recommendations = [
            r if r.account_id else r.model_copy(update={"account_id": account.id})
            for r in recommendations
        ]
        approvals = [self._approval_for(r, owner, now) for r in recommendations]
        await asyncio.to_thread(self._persist, run_id, facts, owner, recommendations, approvals)
        await self.engine.remember(account.id, recommendations)
        for rec, approval in zip(recommendations, approvals, strict=True):
            await queue.put(RecommendationProposed(run_id, account.id, rec, approval.id))
        return AccountReview(
            facts=facts,
            context=context,
            recommendations=recommendations,
            memory_refs=list(memory_refs),
        )

    async def _assess_outcomes(self, facts: AccountFacts, now: datetime) -> None:
        """Judge earlier executed recommendations from this sync (see ``approvals.outcomes``)."""
        assessed = await asyncio.to_thread(update_outcomes, self.repository, facts, now)
        if self.memory is None:
            return
        for row in assessed:
            if row.outcome is None or row.executed_at is None:
                continue
            try:
                await self.memory.record_outcome(
                    row.account_id,
                    row.recommendation_id,
                    row.outcome,
                    row.effectiveness_score,
                    row.executed_at,
                )
            except SergasError as err:  # the row is stored; memory is a convenience copy
                log.warning("outcome_not_remembered", account_id=row.account_id, error=repr(err))

    def _approval_for(self, rec: Recommendation, owner: str, now: datetime) -> Approval:
        ttl = timedelta(hours=self.settings.orchestrator.approval_timeout_hours)
        return Approval(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sergas:approval:{rec.id}")),
            recommendation_id=rec.id,
            account_id=rec.account_id or "",
            owner_email=owner,
            action_type=rec.type,
            payload=rec.suggested_action,
            also=list(rec.also),
            created_at=now,
            expires_at=now + ttl,
        )

    def _persist(
        self,
        run_id: str,
        facts: AccountFacts,
        owner: str,
        recommendations: list[Recommendation],
        approvals: list[Approval],
    ) -> None:
        """One account's results; the snapshot goes last so a failure re-detects changes."""
        repo = self.repository
        if recommendations:
            repo.save_recommendations(recommendations, run_id=run_id, owner_email=owner)
        for rec, approval in zip(recommendations, approvals, strict=True):
            if repo.get_approval(approval.id) is None:
                repo.add_approval(approval)
            repo.append_audit(
                AuditEvent(
                    timestamp=self.clock.now(),
                    session_id=run_id,
                    agent_name="recommendation_author",
                    action_type=AuditAction.RECOMMENDATION_GENERATED,
                    account_id=facts.account_id,
                    owner_email=owner,
                    tool_outputs=rec.model_dump(mode="json"),
                )
            )
            repo.append_audit(
                AuditEvent(
                    timestamp=self.clock.now(),
                    session_id=run_id,
                    agent_name="orchestrator",
                    action_type=AuditAction.APPROVAL_REQUESTED,
                    account_id=facts.account_id,
                    owner_email=owner,
                    tool_inputs={"approval_id": approval.id, "recommendation_id": rec.id},
                )
            )
        snapshot = snapshot_of(facts.account, facts.deals, facts.contacts)
        repo.save_snapshot(facts.account_id, owner, snapshot, run_id=run_id)

    async def _audit(
        self,
        run_id: str,
        action: AuditAction,
        owner_email: str | None,
        account_id: str | None,
        outputs: dict[str, object],
    ) -> None:
        event = AuditEvent(
            timestamp=self.clock.now(),
            session_id=run_id,
            agent_name="orchestrator",
            action_type=action,
            account_id=account_id,
            owner_email=owner_email,
            tool_outputs=outputs,
        )
        await asyncio.to_thread(self.repository.append_audit, event)
