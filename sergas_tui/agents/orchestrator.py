"""The orchestrator: one review run, from sync to brief, as a stream of progress events.

It never writes to the CRM. Every write it proposes is stored as a recommendation; a critical
one lands at once as a pending ``Approval``, the others are ranked by expected value at the end
of the run and the best land within the owner's daily budget (``approvals/queue.py``); the rest
wait, queued, as "more, lower priority". Only the approvals executor performs approved ones.
Accounts are processed riskiest first with bounded concurrency; a failure on one account is
recorded and the run goes on; cancelling the consumer stops the run cleanly (its sync run is
marked failed and no half-written account state is left behind: an account's snapshot is saved
only once its recommendations and approvals are).

An engine may also implement :class:`RunAware`: it is then told when a run starts (with a way
to add its own events, e.g. streamed model text, to the run's stream) and ends (so it can end
its CLI processes, even when the run is cancelled), and reports the run's model usage.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from sergas_tui import metrics
from sergas_tui.agents.author_problems import problem_of
from sergas_tui.agents.events import (
    AccountAuthored,
    AccountFailed,
    AccountRecalled,
    AccountScouted,
    AgentText,
    AgentUsage,
    CrmWaiting,
    RecommendationProposed,
    ReviewEvent,
    RunFinished,
    RunStarted,
    RunSummary,
    Synced,
    Usage,
)
from sergas_tui.agents.incremental import ReviewSync
from sergas_tui.approvals.outcomes import update_outcomes
from sergas_tui.approvals.queue import fill_queue, land, supersede_queued
from sergas_tui.audit.gateway import audit_session
from sergas_tui.briefs.compile import compile_brief, review_order
from sergas_tui.clock import Clock
from sergas_tui.config import Settings
from sergas_tui.crm.call_tally import CallTally, add_calls, tally_calls
from sergas_tui.crm.gateway import CrmReader, SyncBatch
from sergas_tui.crm.http import CrmWait, watch_waits
from sergas_tui.domain import (
    AccountFacts,
    AccountReview,
    Approval,
    ApprovalStatus,
    AuditAction,
    AuditEvent,
    HistoricalContext,
    HistoryDetails,
    OwnerBrief,
    Recommendation,
    RecordRef,
    Snapshot,
    SyncStatus,
)
from sergas_tui.domain.changes import snapshot_of
from sergas_tui.domain.mutes import without_muted
from sergas_tui.domain.queue import (
    HISTORY_DAYS,
    OwnerHistory,
    expected_value,
    is_recent,
    money_at_stake,
)
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import BatchingMemory, MemoryStore
from sergas_tui.offload import run_inline
from sergas_tui.storage import Repository
from sergas_tui.storage.approvals import ReviewInputs
from sergas_tui.storage.mutes import active_mutes, not_useful_counts
from sergas_tui.storage.writer import WriteBatch

if TYPE_CHECKING:
    from sergas_tui.approvals.team import TeamRecords

log = get_logger("sergas.orchestrator")
T = TypeVar("T")

PERSIST_CHUNK = 256
"""Accounts per transaction of a review's writer (a crash loses at most one open chunk)."""
PERSIST_DELAY = 2.0
"""Seconds after which the writer commits its open chunk, however few accounts it holds."""


_RARE_FULL_PASSES = 1000
"""Younger-generation passes between two full ones of the cyclic collector during a review."""
_reviews_running = 0


@contextmanager
def _rare_full_collections() -> Iterator[None]:
    """Fewer full passes of the cyclic garbage collector while reviews run.

    A review keeps the whole synced portfolio alive (tens of thousands of records), and every
    full pass walks all of it: about 3 s of a 5,000-account review spent re-finding live
    objects. Records are freed by reference counting as before; only cyclic garbage waits a
    little longer. Restored when the last running review ends.
    """
    global _reviews_running
    first, second, third = gc.get_threshold()
    if _reviews_running == 0:
        gc.set_threshold(first, second, max(third, _RARE_FULL_PASSES))
    _reviews_running += 1
    try:
        yield
    finally:
        _reviews_running -= 1
        if _reviews_running == 0:
            gc.set_threshold(first, second, third)


@contextmanager
def _run_scope(run_id: str, sink: _Sink) -> Iterator[CallTally]:
    """The context of one run: rare full garbage collections, short SQLite work without
    thread hand-offs, the run's audit session, the tally of every Zoho call of the run by
    kind (yielded), and Zoho's waits shown as events."""

    def waiting(wait: CrmWait) -> None:
        sink.put(CrmWaiting(run_id, wait.seconds, wait.reason, wait.kind))

    with (
        _rare_full_collections(),
        run_inline(),
        audit_session(run_id, "zoho_scout"),
        tally_calls() as tally,
        watch_waits(waiting),
    ):
        yield tally


async def _metered(agent_name: str, work: Awaitable[T]) -> T:
    """``work`` as one invocation of the subagent ``agent_name`` in the metrics."""
    with metrics.subagent(agent_name):
        return await work


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

    def usage_by_model(self) -> Mapping[str, Usage]: ...

    def fallbacks(self) -> int: ...

    async def end_run(self) -> None: ...


@dataclass
class _Sink:
    """Where an engine's own events go: buffered until the run's event queue exists."""

    pending: list[ReviewEvent] = field(default_factory=list)
    queue: asyncio.Queue[ReviewEvent | None] | None = None

    def put(self, event: ReviewEvent) -> None:
        if isinstance(event, AgentUsage):  # each model request's tokens and cost, as it ends
            usage = event.usage
            metrics.model_usage(
                event.model,
                tokens=usage.input_tokens + usage.output_tokens,
                cost_usd=usage.cost_usd,
            )
        if self.queue is None:
            self.pending.append(event)
        else:
            self.queue.put_nowait(event)

    def drain(self) -> list[ReviewEvent]:
        events, self.pending = self.pending, []
        return events


async def _live(work: asyncio.Future[Any], sink: _Sink) -> AsyncIterator[ReviewEvent]:
    """The events put in ``sink`` while ``work`` runs, as they come (``work`` is cancelled
    when the caller stops early); the caller then takes ``work.result()``."""
    live: asyncio.Queue[ReviewEvent | None] = asyncio.Queue()
    for early in sink.drain():
        live.put_nowait(early)
    sink.queue = live

    def done(_: object) -> None:
        sink.queue = None  # later engine events wait in the sink
        live.put_nowait(None)

    work.add_done_callback(done)
    try:
        while (event := await live.get()) is not None:
            yield event
    finally:
        sink.queue = None
        if not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)


@dataclass(frozen=True)
class _Accounts:
    """What the review of a run's accounts returns."""

    reviews: list[AccountReview]
    """The accounts reviewed, in the order they finished."""
    failures: list[tuple[str, str]]
    """Each failed account's id and why."""
    recommendations: int
    landed: int
    """Critical recommendations that landed at once as pending approvals."""


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
        team: TeamRecords | None = None,
    ) -> None:
        self.gateway = gateway
        self.team = team
        """Team mode: the run pulls the team's approvals first and publishes its own at the
        end (``approvals/team.py``); None in local-only mode."""
        self.repository = repository
        self.engine = engine
        self.settings = settings
        self.clock = clock
        engine_memory = getattr(engine, "memory", None)
        self.memory = memory or (engine_memory if isinstance(engine_memory, MemoryStore) else None)
        """Where assessed outcomes are remembered: given, or the engine's ``memory`` if any."""
        self._histories: dict[str, OwnerHistory] = {}
        """Each owner's recent decisions, read once per run (ranking)."""
        self._unmuted: dict[str, AccountFacts] = {}
        """This run's facts before snoozed and dismissed signals were taken out."""
        self._inputs = ReviewInputs()
        """What the run's accounts had stored (approvals, queued recommendations), read once."""
        self._writer: WriteBatch | None = None
        """The run's writer thread while its accounts are reviewed."""
        self.syncer = ReviewSync(
            gateway,
            repository,
            clock,
            full_sync_days=settings.orchestrator.full_sync_days,
        )
        """The sync step: what changed since the last review of the same scope, or in full."""

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
        errored = False
        calls = 0
        sink = _Sink()
        aware = self.engine if isinstance(self.engine, RunAware) else None
        try:
            with _run_scope(run.id, sink) as tally:
                try:
                    if self.team is not None:
                        note = await self._team_step(self.team.pull, owner_email, "read")
                        if note is not None:
                            yield AgentText(run.id, "orchestrator", note)
                    if aware is not None:
                        await aware.begin_run(run.id, sink.put)
                    # The sync, the Data Scout and the accounts run as tasks so that what happens
                    # meanwhile (a wait for Zoho's limits, an engine's own events) is shown as it
                    # happens.
                    fetching = asyncio.ensure_future(self.syncer.fetch(owner_email))
                    async for event in _live(fetching, sink):
                        yield event
                    synced = fetching.result()
                    batch = synced.batch
                    add_calls("sync", batch.calls)
                    yield Synced(run.id, len(batch.accounts), batch.calls, batch.full)
                    previous = await asyncio.to_thread(repo.latest_snapshots, owner_email)
                    scouting = asyncio.ensure_future(
                        _metered("zoho_scout", self.engine.scout(batch, previous))
                    )
                    async for event in _live(scouting, sink):
                        yield event
                    facts = scouting.result()
                    for event in sink.drain():
                        yield event
                    if account_ids is not None:
                        wanted = set(account_ids)
                        facts = [f for f in facts if f.account_id in wanted]
                    # Snoozed and dismissed signals leave the review here, for every engine;
                    # outcomes are still judged on everything the CRM shows.
                    mutes = await asyncio.to_thread(active_mutes, repo, now)
                    self._unmuted = {f.account_id: f for f in facts}
                    facts = [without_muted(f, mutes, now) for f in facts]
                    self._histories = await asyncio.to_thread(self._owner_histories, facts, now)
                    reviewing = asyncio.ensure_future(self._review_accounts(run.id, facts, sink))
                    async for event in _live(reviewing, sink):
                        yield event
                    done = reviewing.result()
                    reviews, failures = done.reviews, done.failures
                    for event in sink.drain():
                        yield event
                    landed = done.landed
                    landed += await asyncio.to_thread(self._fill_queues, run.id, reviews)
                    queued = await asyncio.to_thread(self._queued_count, reviews)
                    if self.team is not None:
                        note = await self._team_step(self.team.publish, owner_email, "publish")
                        if note is not None:
                            yield AgentText(run.id, "orchestrator", note)
                    briefs = await self._briefs(run.id, owner_email, reviews)
                    status = "partial" if failures else "ok"
                    # The next review asks from here (a failed or cancelled run never gets
                    # this far).
                    await self.syncer.commit(synced)
                    zoho_calls = tally.counts()
                    summary = RunSummary(
                        accounts=len(facts),
                        with_changes=sum(1 for f in facts if f.changes),
                        at_risk=sum(1 for f in facts if f.signals),
                        recommendations=done.recommendations,
                        landed=landed,
                        queued=queued,
                        failed=len(failures),
                        calls=zoho_calls.total,
                        seconds=time.perf_counter() - started,
                        failures=tuple(failures),
                        usage=None if aware is None else aware.usage(),
                        by_model={} if aware is None else dict(aware.usage_by_model()),
                        fallbacks=0 if aware is None else aware.fallbacks(),
                        zoho_calls=zoho_calls,
                        sync=synced.reason,
                    )
                    await self._audit(
                        run.id,
                        AuditAction.REVIEW_COMPLETED,
                        owner_email,
                        None,
                        {"accounts": summary.accounts, "recommendations": summary.recommendations},
                    )
                    pending = await asyncio.to_thread(repo.pending_approval_count)
                    metrics.pending_approvals(pending)
                    yield RunFinished(run.id, summary, briefs)
                except (asyncio.CancelledError, GeneratorExit):
                    # The person stopped the run: say so in the audit (the sync run stays 'failed',
                    # i.e. not completed; every account finished before the cancel is fully stored).
                    await asyncio.shield(
                        self._audit(run.id, AuditAction.REVIEW_CANCELLED, owner_email, None, {})
                    )
                    raise
                except Exception:
                    errored = True
                    raise
                finally:
                    metrics.run_ended(time.perf_counter() - started, failed=errored)
                    calls = tally.counts().total
        finally:
            if aware is not None:  # end the engine's processes, even on cancel
                await asyncio.shield(aware.end_run())
            await asyncio.shield(
                asyncio.to_thread(repo.finish_sync_run, run.id, status=status, calls=calls)
            )

    async def _team_step(
        self, step: Callable[[str | None], object], owner_email: str | None, verb: str
    ) -> str | None:
        """Pull from or publish to the team's records; a failure is a note, never the end of
        the review (the local queue is complete; the next run or refresh catches up)."""
        try:
            await asyncio.to_thread(step, owner_email)
        except SergasError as err:
            log.warning("team_step_failed", step=verb, error=err.message)
            if verb == "read":
                return (
                    f"The team's records could not be read ({err.message}); this review works "
                    "from this device's approvals."
                )
            return (
                f"This review's approvals could not be published to the team's records "
                f"({err.message}); the next review publishes them."
            )
        return None

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
        return await asyncio.to_thread(self._save_briefs, run_id, sorted(by_owner.items()))

    def _save_briefs(
        self, run_id: str, owners: Sequence[tuple[str, list[AccountReview]]]
    ) -> tuple[OwnerBrief, ...]:
        """Compile and store every owner's brief in one transaction."""
        repo = self.repository
        briefs = []
        with repo.writing("save the run's briefs"):
            for email, owned in owners:
                pending = repo.pending_approval_count(email)
                brief = compile_brief(
                    email, owned, generated_at=self.clock.now(), pending_approvals=pending
                )
                repo.save_brief(brief, run_id=run_id)
                briefs.append(brief)
        return tuple(briefs)

    async def _review_accounts(
        self, run_id: str, facts: list[AccountFacts], sink: _Sink
    ) -> _Accounts:
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
            await memory.begin_batch()
        # An engine that batches accounts per model request (the Claude engine) asks for
        # more accounts in flight than it has subagent sessions; the rules engine does not.
        wanted = getattr(self.engine, "accounts_in_flight", None)
        parallel = self.settings.orchestrator.max_parallel_subagents
        limit = asyncio.Semaphore(max(parallel, wanted) if isinstance(wanted, int) else parallel)
        reviews: list[AccountReview] = []
        failures: list[tuple[str, str]] = []
        finished = 0

        async def one(f: AccountFacts) -> None:
            nonlocal finished
            async with limit:
                try:
                    review = await self._review_account(run_id, f, sink, total)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # one account never stops the run
                    message = err.message if isinstance(err, SergasError) else repr(err)
                    log.warning("account_failed", account_id=f.account_id, error=repr(err))
                    finished += 1
                    failures.append((f.account_id, message))
                    sink.put(
                        AccountFailed(
                            run_id, f.account_id, f.account.name, message, finished, total
                        )
                    )
                    return
                reviews.append(review)
                metrics.account_processed()
                finished += 1
                sink.put(
                    AccountAuthored(
                        run_id, f.account_id, len(review.recommendations), finished, total
                    )
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
        return _Accounts(
            reviews=reviews,
            failures=failures,
            recommendations=len(recommendations),
            landed=sum(1 for r in recommendations if r.status == "pending"),
        )

    async def _review_account(
        self, run_id: str, facts: AccountFacts, sink: _Sink, total: int
    ) -> AccountReview:
        account = facts.account
        owner = account.owner.email if account.owner and account.owner.email else "*"
        sink.put(
            AccountScouted(
                run_id, account.id, account.name, tuple(facts.signals), len(facts.changes), total
            )
        )
        now = self.clock.now()
        await self._assess_outcomes(self._unmuted.get(facts.account_id, facts), now)
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
        recommendations = [self._valued(r, facts, owner, now) for r in recommendations]
        waiting = self._inputs.queued.get(account.id, [])
        recommendations, new = refresh_queued(recommendations, waiting)
        landed = await self._store(
            functools.partial(self._persist, run_id, facts, owner, recommendations, now)
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

    async def _assess_outcomes(self, facts: AccountFacts, now: datetime) -> None:
        """Judge earlier executed recommendations from this sync (see ``approvals.outcomes``)."""
        if facts.account_id not in self._inputs.outcomes_due:
            return  # nothing executed waits for a verdict (read once for the run)
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

    @property
    def _ttl(self) -> timedelta:
        return timedelta(hours=self.settings.orchestrator.approval_timeout_hours)

    def _owner_histories(
        self, facts: Sequence[AccountFacts], now: datetime
    ) -> dict[str, OwnerHistory]:
        """Each reviewed owner's recent decisions, for ranking (see ``domain/queue.py``)."""
        owners = {_owner_email(f) for f in facts}
        statuses = [s for s in ApprovalStatus if s != ApprovalStatus.PENDING]
        histories = {}
        since = now - timedelta(days=HISTORY_DAYS)
        for owner in owners:
            decided = self.repository.approvals_with_status(statuses, owner)
            marks = not_useful_counts(self.repository, owner, since)
            histories[owner] = OwnerHistory.from_approvals(decided, now, not_useful=marks)
        return histories

    def _valued(
        self, rec: Recommendation, facts: AccountFacts, owner: str, now: datetime
    ) -> Recommendation:
        """The recommendation with its account, expected value and where it goes: a
        critical one lands now, the others wait for the end-of-run ranking."""
        history = self._histories.get(owner) or OwnerHistory()
        value = expected_value(
            rec,
            at_stake=money_at_stake(rec, facts.deals, now.date()),
            recent=is_recent(rec, facts.changes, facts.account_id),
            history=history,
        )
        status = "pending" if rec.priority == "critical" else "queued"
        return rec.model_copy(
            update={
                "account_id": rec.account_id or facts.account_id,
                "value": value,
                "status": status,
            }
        )

    def _fill_queues(self, run_id: str, reviews: Sequence[AccountReview]) -> int:
        """Land each reviewed owner's best queued recommendations within the daily budget."""
        owners = sorted({_owner_email(r.facts) for r in reviews})
        landed = 0
        for owner in owners:
            with self.repository.writing("land an owner's queue"):  # one transaction each
                landed += len(
                    fill_queue(
                        self.repository,
                        owner,
                        self.clock.now(),
                        budget=self.settings.review.daily_budget,
                        ttl=self._ttl,
                        session_id=run_id,
                    )
                )
        return landed

    def _queued_count(self, reviews: Sequence[AccountReview]) -> int:
        owners = {_owner_email(r.facts) for r in reviews}
        return sum(self.repository.queued_recommendation_count(o) for o in owners)

    async def _store(self, unit: Callable[[], dict[str, str]]) -> dict[str, str]:
        """One account's results (``unit``, a :meth:`_persist` call), in one hop to the run's
        writer: one unit of its transaction, all or nothing."""
        if self._writer is None:  # outside a run's account loop
            return await asyncio.to_thread(unit)
        return await self._writer.run(unit)

    def _persist(
        self,
        run_id: str,
        facts: AccountFacts,
        owner: str,
        recommendations: list[Recommendation],
        now: datetime,
    ) -> dict[str, str]:
        """One account's results; the snapshot goes last so a failure re-detects changes.
        Returns the approval id of each recommendation that landed at once (critical)."""
        repo = self.repository
        if recommendations:
            repo.save_recommendations(recommendations, run_id=run_id, owner_email=owner)
        supersede_queued(repo, facts.account_id, [r.id for r in recommendations])
        landed: dict[str, str] = {}
        for rec in recommendations:
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
            if rec.status == "pending":
                approval = land(
                    repo, rec, owner, now, self._ttl, session_id=run_id, reason="critical"
                )
                landed[rec.id] = approval.id
        snapshot = snapshot_of(facts.account, facts.deals, facts.contacts)
        repo.save_snapshot(facts.account_id, owner, snapshot, run_id=run_id)
        return landed

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


def _owner_email(facts: AccountFacts) -> str:
    owner = facts.account.owner
    return owner.email if owner and owner.email else "*"


def refresh_queued(
    recs: Sequence[Recommendation], waiting: Sequence[Recommendation]
) -> tuple[list[Recommendation], set[str]]:
    """Match a review's recommendations with those the account already has queued: one about
    the same problem (type and record) keeps its id and age but takes the fresh text and
    figures; it is not new. Returns the recommendations to store and the ids of the new ones."""
    old = {(r.type, problem_of(r)): r for r in waiting}
    out: list[Recommendation] = []
    new: set[str] = set()
    for rec in recs:
        match = old.get((rec.type, problem_of(rec)))
        if match is None or rec.status != "queued":
            out.append(rec)
            new.add(rec.id)
            continue
        out.append(rec.model_copy(update={"id": match.id, "created_at": match.created_at}))
    return out, new
