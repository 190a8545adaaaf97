"""The orchestrator: one review run, from sync to brief, as a stream of progress events.

It never writes to the CRM. Every write it proposes is stored as a recommendation; a critical
one lands at once as a pending ``Approval``, the others are ranked by expected value at the end
of the run and the best land within the owner's daily budget (``approvals/queue.py``); the rest
wait, queued, as "more, lower priority". Only the approvals executor performs approved ones.
Accounts are processed riskiest first with bounded concurrency; a failure on one account is
recorded and the run goes on; cancelling the consumer stops the run cleanly (its sync run is
marked failed and no half-written account state is left behind: an account's snapshot is saved
only once its recommendations and approvals are).

An engine (:class:`~sergas_tui.agents.review_engine.ReviewEngine`) may also implement
:class:`~sergas_tui.agents.review_engine.RunAware`: it is then told when a run starts (with a
way to add its own events, e.g. streamed model text, to the run's stream) and ends (so it can
end its CLI processes, even when the run is cancelled), and reports the run's model usage.

This module holds the run's sequence; its account loop is in
:mod:`~sergas_tui.agents.account_loop`, the run's frame and live event stream in
:mod:`~sergas_tui.agents.run_stream`, and the steps around the engine's work (valuing, storing,
queues, briefs, outcomes, team records) in :mod:`~sergas_tui.agents.review_steps`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from datetime import timedelta
from typing import TYPE_CHECKING

from sergas_tui import metrics
from sergas_tui.agents.account_loop import AccountLoop
from sergas_tui.agents.events import (
    AgentText,
    ReviewEvent,
    RunFinished,
    RunStarted,
    RunSummary,
    Synced,
)
from sergas_tui.agents.incremental import ReviewSync
from sergas_tui.agents.review_engine import ReviewEngine, RunAware
from sergas_tui.agents.review_steps import (
    briefs_by_owner,
    crm_spelling,
    fill_queues,
    owner_histories,
    queued_count,
    save_briefs,
    team_step,
)
from sergas_tui.agents.run_stream import EventSink, live_events, metered, run_scope
from sergas_tui.clock import Clock
from sergas_tui.config import Settings
from sergas_tui.crm.call_tally import add_calls
from sergas_tui.crm.gateway import CrmReader
from sergas_tui.domain import (
    AuditAction,
    AuditEvent,
    SyncStatus,
)
from sergas_tui.domain.mutes import without_muted
from sergas_tui.logs import get_logger
from sergas_tui.memory.store import MemoryStore
from sergas_tui.storage import Repository
from sergas_tui.storage.mutes import active_mutes

if TYPE_CHECKING:
    from sergas_tui.approvals.team import TeamRecords

log = get_logger("sergas.orchestrator")


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
        if owner_email is not None:  # as the CRM spells it, whatever case a person typed
            owner_email = await asyncio.to_thread(repo.owner_spelling, owner_email) or owner_email
        run = await asyncio.to_thread(repo.start_sync_run, owner_email or "*")
        now = self.clock.now()
        yield RunStarted(run.id, owner_email, self.engine.name, now)
        await self._audit(run.id, AuditAction.REVIEW_STARTED, owner_email, None, {})
        status: SyncStatus = "failed"
        errored = False
        calls = 0
        sink = EventSink()
        aware = self.engine if isinstance(self.engine, RunAware) else None
        try:
            with run_scope(run.id, sink) as tally:
                try:
                    if self.team is not None:
                        note = await team_step(self.team.pull, owner_email, "read")
                        if note is not None:
                            yield AgentText(run.id, "orchestrator", note)
                    if aware is not None:
                        await aware.begin_run(run.id, sink.put)
                    # The sync, the Data Scout and the accounts run as tasks so that what happens
                    # meanwhile (a wait for Zoho's limits, an engine's own events) is shown as it
                    # happens.
                    fetching = asyncio.ensure_future(self.syncer.fetch(owner_email))
                    async for event in live_events(fetching, sink):
                        yield event
                    synced = fetching.result()
                    batch = synced.batch
                    if owner_email is not None:  # a first review of an owner typed in any case
                        owner_email = crm_spelling(owner_email, batch.accounts)
                    add_calls("sync", batch.calls)
                    yield Synced(run.id, len(batch.accounts), batch.calls, batch.full)
                    previous = await asyncio.to_thread(repo.latest_snapshots, owner_email)
                    scouting = asyncio.ensure_future(
                        metered("zoho_scout", self.engine.scout(batch, previous))
                    )
                    async for event in live_events(scouting, sink):
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
                    accounts = AccountLoop(
                        self, run.id, sink, unmuted={f.account_id: f for f in facts}
                    )
                    facts = [without_muted(f, mutes, now) for f in facts]
                    accounts.histories = await asyncio.to_thread(owner_histories, repo, facts, now)
                    reviewing = asyncio.ensure_future(accounts.review(facts))
                    async for event in live_events(reviewing, sink):
                        yield event
                    done = reviewing.result()
                    reviews, failures = done.reviews, done.failures
                    for event in sink.drain():
                        yield event
                    landed = done.landed
                    landed += await asyncio.to_thread(
                        fill_queues,
                        repo,
                        self.clock,
                        run.id,
                        reviews,
                        budget=self.settings.review.daily_budget,
                        ttl=self._ttl,
                    )
                    queued = await asyncio.to_thread(queued_count, repo, reviews)
                    if self.team is not None:
                        note = await team_step(self.team.publish, owner_email, "publish")
                        if note is not None:
                            yield AgentText(run.id, "orchestrator", note)
                    owners = briefs_by_owner(owner_email, reviews)
                    briefs = await asyncio.to_thread(save_briefs, repo, self.clock, run.id, owners)
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

    @property
    def _ttl(self) -> timedelta:
        return timedelta(hours=self.settings.orchestrator.approval_timeout_hours)

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
