"""The Claude engine: the seed's three subagents on claude-agent-sdk, behind ``ReviewEngine``.

Deterministic pre-work first: the rules engine's Data Scout and Memory Analyst produce the
facts (sync, changes, risk signals) and the historical context, so the model reasons instead of
fetching. Accounts with no change and no signal never reach the model (the rules engine's
answer, usually nothing, stands). For each flagged account, three requests follow, each batched
with other accounts (``[orchestrator] author_batch_size``) by a :class:`MicroBatcher`:

1. **Scout** (Zoho read tools) → a short assessment per account;
2. **Analyst** (memory read tools) → a short assessment per account;
3. **Author** (no tools, JSON-schema output) → recommendations, validated
   (:mod:`.schemas`) into ``Recommendation`` models that become pending approvals.

Each role runs in pooled CLI sessions (:mod:`.sessions`) with its own prompt, tools, policy and
hooks. With ``[anthropic] model_simple`` set, each account is routed once, from its facts
(:mod:`.routing`), to the cheaper model or to ``model``: every role then has one batcher and
its own sessions per model, so a request only ever carries accounts of one model, and the run's
usage is kept per model (``RunSummary.by_model``, from the CLI's reported cost).

Robustness: a request has a timeout and the run a time limit; API errors come back as
:class:`AgentError` after the CLI's bounded retries; an invalid or missing structured output is
asked for once more; whatever still fails goes to the rules engine for those accounts, and the
run's events say so. A Scout or Analyst failure only removes that assessment; an Author
failure, the budget or the time limit hands the account to the rules engine.

Why one module: every part of :class:`ClaudeEngine` works on one run's state
(``_Run``: budget, audit trail, session pool, the batchers per role and model, the stop reason):
the ReviewEngine methods feed the role batchers, each batch ends in ``_ask``, and ``_ask``'s
failures and usage move the stop state that the ReviewEngine methods read to hand accounts to
the rules engine. What stands alone already lives beside it in this package (batching, budget,
hooks, options, policy, routing, schemas, sessions, rendering, the in-process tools); splitting
the class would pass the run's state between modules without making any part readable alone.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions

from sergas_tui.agents.author.prior import PriorRec, target_of
from sergas_tui.agents.claude import render
from sergas_tui.agents.claude.batching import Flow, MicroBatcher
from sergas_tui.agents.claude.budget import Budget, CostTracker, usage_of_result
from sergas_tui.agents.claude.hooks import AuditTrail, audit_hooks, permission_gate
from sergas_tui.agents.claude.options import MAX_TURNS, ClaudeConfig, cli_env
from sergas_tui.agents.claude.policy import MEMORY_SERVER, ZOHO_SERVER
from sergas_tui.agents.claude.routing import model_for
from sergas_tui.agents.claude.schemas import (
    ASSESSMENT_SCHEMA,
    AUTHOR_SCHEMA,
    AuthorInput,
    OutputError,
    parse_assessments,
    parse_recommendations,
)
from sergas_tui.agents.claude.sessions import Reply, Session, SessionPool
from sergas_tui.agents.claude.stream import LineStream
from sergas_tui.agents.claude.tools import memory_read_server, zoho_read_server
from sergas_tui.agents.events import AgentText, AgentUsage, ReviewEvent, Usage
from sergas_tui.agents.prompts import Role, load_prompt
from sergas_tui.agents.rules import RulesEngine
from sergas_tui.clock import Clock
from sergas_tui.crm.gateway import CrmReader, SyncBatch, fields_or_unknown
from sergas_tui.domain import (
    AccountFacts,
    Approval,
    AuditAction,
    HistoricalContext,
    Recommendation,
    RecordRef,
    Snapshot,
)
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.errors import AgentError
from sergas_tui.logs import get_logger
from sergas_tui.memory import MemoryStore
from sergas_tui.storage import Repository

log = get_logger("sergas.claude")

Emit = Callable[[ReviewEvent], None]
SCHEMAS: Mapping[Role, dict[str, Any]] = {
    "scout": ASSESSMENT_SCHEMA,
    "analyst": ASSESSMENT_SCHEMA,
    "author": AUTHOR_SCHEMA,
}
Kind = tuple[Role, str]
"""A session's kind: its role and its model."""


@dataclass(frozen=True)
class _AnalystItem:
    facts: AccountFacts
    context: HistoricalContext
    memory_refs: Sequence[RecordRef]
    scout: str | None


@dataclass(frozen=True)
class _AuthorItem:
    facts: AccountFacts
    context: HistoricalContext
    memory_refs: Sequence[RecordRef]
    priors: Sequence[PriorRec]
    scout: str | None
    analyst: str | None


AuthorOutcome = list[Recommendation] | str
"""The validated recommendations, or why the account goes to the rules engine."""


@dataclass
class _InFlight:
    """The one owner of the run's :class:`Flow` count: the accounts between their recall
    (admitted before their Scout request) and the end of their Author request (released; or at
    once when the recall fails). Releasing an account not admitted changes nothing."""

    flow: Flow
    accounts: set[str] = field(default_factory=set)

    def admit(self, account_id: str) -> None:
        if account_id not in self.accounts:
            self.accounts.add(account_id)
            self.flow.enter()

    def release(self, account_id: str) -> None:
        if account_id in self.accounts:
            self.accounts.remove(account_id)
            self.flow.leave()


@dataclass
class _Run:
    """Everything that lives for one review run."""

    run_id: str
    emit: Emit
    budget: Budget
    trail: AuditTrail
    pool: SessionPool[Kind]
    in_flight: _InFlight
    scouts: dict[str, MicroBatcher[AccountFacts, str | None]]
    analysts: dict[str, MicroBatcher[_AnalystItem, str | None]]
    authors: dict[str, MicroBatcher[_AuthorItem, AuthorOutcome]]
    """One batcher per model and role: a batch holds accounts of one model."""
    root: Path
    temp_root: bool
    costs: dict[int, CostTracker] = field(default_factory=dict)
    by_model: dict[str, Usage] = field(default_factory=dict)
    notes: dict[str, str | None] = field(default_factory=dict)
    failures_in_a_row: int = 0
    stopped: str | None = None
    fallbacks: int = 0


class ClaudeEngine:
    """Steps 1–3 of the review on Claude, with the rules engine as pre-work and fallback."""

    name = "claude"

    def __init__(
        self,
        *,
        rules: RulesEngine,
        gateway: CrmReader,
        repository: Repository,
        clock: Clock,
        config: ClaudeConfig,
    ) -> None:
        self.rules = rules
        self.gateway = gateway
        self.repository = repository
        self.clock = clock
        self.config = config
        self.prompts = {role: load_prompt(role, config.prompts_dir) for role in SCHEMAS}
        self._flagged: set[str] = set()
        self._models: dict[str, str] = {}
        """The model each account of the current scout batch is routed to."""
        self._account_fields: ModuleFields | None = None
        """The org's Accounts field metadata for this run (None: not read yet)."""
        self._run: _Run | None = None
        self.processes_started = 0
        """CLI processes started over the engine's life (for benchmarks and tests)."""
        kinds = len(SCHEMAS) * len(config.models)
        lanes = max(1, config.pool_size // kinds)
        self.accounts_in_flight = kinds * lanes * config.batch_size
        """Accounts the orchestrator should keep in flight so every role can fill a batch of
        each model (coroutines waiting on a batch are cheap; processes stay bounded by the
        pool)."""

    @property
    def memory(self) -> MemoryStore:
        return self.rules.memory

    # -- run life cycle ----------------------------------------------------------------------

    async def begin_run(self, run_id: str, emit: Emit) -> None:
        """Start a run: its budget, audit trail, session pool and batchers (no process yet)."""
        await self.end_run()
        config = self.config
        temp = config.workdir is None
        root = Path(tempfile.mkdtemp(prefix="sergas-claude-")) if temp else config.workdir
        assert root is not None
        loop = asyncio.get_running_loop()
        deadline = None if config.run_timeout is None else loop.time() + config.run_timeout
        flow = Flow()
        size, idle = config.batch_size, config.flush_idle
        kinds = len(SCHEMAS) * len(config.models)
        lanes = max(1, config.pool_size // kinds)

        def batchers(role: Role, run_batch: Callable[..., Any]) -> dict[str, Any]:
            return {
                model: MicroBatcher(
                    functools.partial(run_batch, model),
                    size=size,
                    idle=idle,
                    flow=flow,
                    name=f"{role} ({model})",
                    concurrency=lanes,
                )
                for model in config.models
            }

        self._run = _Run(
            run_id=run_id,
            emit=emit,
            budget=Budget(config.max_cost_usd, deadline, clock=loop.time),
            trail=AuditTrail(self.repository, self.clock, run_id),
            pool=SessionPool(self._open_session, config.pool_size, kinds=kinds),
            in_flight=_InFlight(flow),
            scouts=batchers("scout", self._scout_batch),
            analysts=batchers("analyst", self._analyst_batch),
            authors=batchers("author", self._author_batch),
            root=root,
            temp_root=temp,
        )

    def usage(self) -> Usage | None:
        """Tokens and cost of the current (or last) run."""
        return None if self._run is None else self._run.budget.spent

    def usage_by_model(self) -> dict[str, Usage]:
        """The run's usage split by the model the requests went to (adds up to :meth:`usage`)."""
        return {} if self._run is None else dict(self._run.by_model)

    def fallbacks(self) -> int:
        return 0 if self._run is None else self._run.fallbacks

    async def end_run(self) -> None:
        """End the run: stop batches, end every CLI process, remove the temp dir."""
        run = self._run
        if run is None or run.pool.closed:
            return
        for batchers in (run.scouts, run.analysts, run.authors):
            for batcher in batchers.values():
                await batcher.aclose()
        await run.pool.aclose()
        if run.temp_root:
            await asyncio.to_thread(shutil.rmtree, run.root, True)

    async def aclose(self) -> None:
        await self.end_run()

    def _state(self) -> _Run:
        if self._run is None or self._run.pool.closed:
            raise AgentError("The Claude engine has no run in progress.")
        return self._run

    async def _ensure_run(self) -> _Run:
        if self._run is None or self._run.pool.closed:
            await self.begin_run(f"claude-{uuid.uuid4()}", lambda _event: None)
        return self._state()

    # -- ReviewEngine --------------------------------------------------------------------------

    async def scout(self, batch: SyncBatch, previous: Mapping[str, Snapshot]) -> list[AccountFacts]:
        facts = await self.rules.scout(batch, previous)
        self._flagged = {f.account_id for f in facts if f.changes or f.signals}
        config = self.config
        self._models = {
            f.account_id: model_for(f, config.model, config.model_simple)
            for f in facts
            if f.account_id in self._flagged
        }
        # What the org's Accounts fields take (the metadata cache: at most one call a day), so
        # that an update_account the model writes never proposes a value the org lacks.
        self._account_fields = await fields_or_unknown(self.gateway, "Accounts")
        return facts

    async def recall(
        self, facts: AccountFacts, now: datetime
    ) -> tuple[HistoricalContext, list[RecordRef]]:
        context, refs = await self.rules.recall(facts, now)
        if facts.account_id not in self._flagged:
            return context, refs
        run = await self._ensure_run()
        model = self._model_of(facts.account_id)
        run.in_flight.admit(facts.account_id)
        try:
            scout = await run.scouts[model].submit(facts)
            analyst = await run.analysts[model].submit(_AnalystItem(facts, context, refs, scout))
        except BaseException:
            run.in_flight.release(facts.account_id)
            raise
        run.notes[facts.account_id] = scout
        run.notes[f"analyst:{facts.account_id}"] = analyst
        return context, refs

    async def author(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        memory_refs: Sequence[RecordRef],
        prior: Sequence[Approval],
    ) -> list[Recommendation]:
        account_id = facts.account_id
        if account_id not in self._flagged or self._run is None:
            return await self.rules.author(facts, context, memory_refs, prior)
        run = self._run
        try:
            priors = await asyncio.to_thread(self._priors, account_id, prior)
            item = _AuthorItem(
                facts,
                context,
                memory_refs,
                priors,
                run.notes.pop(account_id, None),
                run.notes.pop(f"analyst:{account_id}", None),
            )
            try:
                batcher = run.authors[self._model_of(account_id)]
                outcome: AuthorOutcome = await batcher.submit(item)
            except AgentError as err:
                outcome = err.message
        finally:
            run.in_flight.release(account_id)
        if isinstance(outcome, list):
            return outcome
        run.fallbacks += 1
        run.emit(AgentText(run.run_id, "author", f"fell back to rules: {outcome}", account_id))
        return await self.rules.author(facts, context, memory_refs, prior)

    async def remember(self, account_id: str, recommendations: Sequence[Recommendation]) -> None:
        await self.rules.remember(account_id, recommendations)

    def _model_of(self, account_id: str) -> str:
        """The model an account was routed to (``model`` for one not routed in this run)."""
        model = self._models.get(account_id, self.config.model)
        return model if model in self.config.models else self.config.model

    def _priors(self, account_id: str, approvals: Sequence[Approval]) -> list[PriorRec]:
        if not approvals:
            return []
        now = self.clock.now()
        targets = {r.id: target_of(r) for r in self.repository.recommendations_for(account_id)}
        return [
            PriorRec.from_approval(a, now, target=targets.get(a.recommendation_id))
            for a in approvals
        ]

    # -- the three roles ----------------------------------------------------------------------

    async def _scout_batch(self, model: str, items: list[AccountFacts]) -> list[str | None]:
        blocks = [render.AccountBlock(f) for f in items]
        prompt = render.batch_prompt(render.SCOUT_TASK, blocks)
        return await self._assessments("scout", model, prompt, [f.account_id for f in items])

    async def _analyst_batch(self, model: str, items: list[_AnalystItem]) -> list[str | None]:
        blocks = [
            render.AccountBlock(
                i.facts,
                extra=[
                    "history:",
                    *render.history_lines(i.context, i.memory_refs),
                    f"scout: {i.scout or '(no assessment)'}",
                ],
                notes=False,
                brief=True,
            )
            for i in items
        ]
        prompt = render.batch_prompt(render.ANALYST_TASK, blocks)
        ids = [i.facts.account_id for i in items]
        return await self._assessments("analyst", model, prompt, ids)

    async def _assessments(
        self, role: Role, model: str, prompt: str, ids: list[str]
    ) -> list[str | None]:
        run = self._state()
        try:
            reply = await self._ask(role, model, prompt, ids)
            try:
                found = parse_assessments(reply.structured, ids)
            except OutputError as err:
                run.emit(AgentText(run.run_id, role, f"{err.message} Asking once more."))
                again = await self._ask(role, model, prompt, ids)
                found = parse_assessments(again.structured, ids)
        except AgentError as err:
            if run.stopped is None:
                run.emit(AgentText(run.run_id, role, f"no assessment for this batch: {err}"))
            return [None] * len(ids)
        for account_id, text in found.items():
            run.emit(AgentText(run.run_id, role, text, account_id))
        return [found.get(i) for i in ids]

    async def _author_batch(self, model: str, items: list[_AuthorItem]) -> list[AuthorOutcome]:
        run = self._state()
        blocks = [
            render.AccountBlock(
                i.facts,
                extra=[
                    f"scout: {i.scout or '(no assessment)'}",
                    f"analyst: {i.analyst or '(no assessment)'}",
                    "history:",
                    *render.history_lines(i.context, i.memory_refs),
                    *render.prior_lines(i.priors),
                ],
            )
            for i in items
        ]
        prompt = render.batch_prompt(render.AUTHOR_TASK, blocks)
        ids = [i.facts.account_id for i in items]
        inputs = [AuthorInput(i.facts, i.memory_refs, i.priors) for i in items]
        try:
            reply = await self._ask("author", model, prompt, ids)
            try:
                parsed = parse_recommendations(
                    reply.structured, inputs, self.clock.now(), account_fields=self._account_fields
                )
            except OutputError as err:
                run.emit(AgentText(run.run_id, "author", f"{err.message} Asking once more."))
                reply = await self._ask("author", model, prompt, ids)
                parsed = parse_recommendations(
                    reply.structured, inputs, self.clock.now(), account_fields=self._account_fields
                )
        except AgentError as err:
            await self._fallback_audit(ids, err.message)
            return [err.message] * len(ids)
        for account_id, problem in parsed.problems:
            log.warning("recommendation_dropped", account_id=account_id, problem=problem)
            run.emit(AgentText(run.run_id, "author", f"dropped: {problem}", account_id))
        if parsed.problems:
            await run.trail.append(
                run.trail.event(
                    "author",
                    AuditAction.ENGINE_FALLBACK,
                    tool_outputs={"dropped": [list(p) for p in parsed.problems]},
                )
            )
        missing = "the Author's answer left this account out"
        if parsed.missing:
            await self._fallback_audit(parsed.missing, missing)
        return [parsed.recommendations.get(i, missing) for i in ids]

    async def _fallback_audit(self, account_ids: Sequence[str], reason: str) -> None:
        run = self._state()
        await run.trail.append(
            run.trail.event(
                None,
                AuditAction.ENGINE_FALLBACK,
                tool_outputs={"account_ids": list(account_ids), "reason": reason[:500]},
            )
        )

    # -- one request ----------------------------------------------------------------------------

    async def _ask(self, role: Role, model: str, prompt: str, account_ids: Sequence[str]) -> Reply:
        """One request on a pooled session of ``model``; usage (per model), audit and stop
        conditions handled here."""
        run = self._state()
        reason = run.stopped or run.budget.stop_reason()
        if reason is not None:
            self._stop(run, reason)
            raise AgentError(reason, title="Model use stopped")
        remaining = run.budget.remaining_seconds()
        timeout = self.config.request_timeout
        if remaining is not None:
            timeout = max(1.0, min(timeout, remaining))
        session = await run.pool.acquire((role, model))
        reason = run.stopped or run.budget.stop_reason()  # again: we may have waited
        if reason is not None:
            await run.pool.release(session)
            self._stop(run, reason)
            raise AgentError(reason, title="Model use stopped")
        lines = LineStream(
            lambda text: run.emit(AgentText(run.run_id, role, text)),
        )
        try:
            reply = await session.ask(prompt, within=timeout, on_event=lines)
        except AgentError:
            self._failed(run)
            raise
        finally:
            lines.flush()
            await run.pool.release(session)
        result = reply.result
        await run.trail.unseen_calls(role, reply.tool_uses)
        if result is None:
            self._failed(run)
            raise AgentError(f"The {role}'s request ended without a result.")
        tracker = run.costs.setdefault(id(session), CostTracker())
        usage = usage_of_result(
            result.usage, tracker.delta(result.session_id, result.total_cost_usd)
        )
        run.budget.add(usage)
        run.by_model[model] = run.by_model.get(model, Usage()) + usage
        others = sorted(set(result.model_usage or {}) - {model})
        if others:  # not seen with our options (no subagents, no built-in tools)
            log.warning("claude_other_models_reported", model=model, others=others)
        run.emit(AgentUsage(run.run_id, role, usage, tuple(account_ids), model=model))
        await run.trail.append(
            run.trail.event(
                role,
                AuditAction.MODEL_USAGE,
                tool_name=model,
                tool_inputs={"account_ids": list(account_ids), "prompt_chars": len(prompt)},
                tool_outputs={
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cost_usd": usage.cost_usd,
                    "num_turns": result.num_turns,
                    "is_error": result.is_error,
                    "api_error_status": result.api_error_status,
                    "permission_denials": [
                        {"tool_name": d.get("tool_name"), "tool_use_id": d.get("tool_use_id")}
                        for d in result.permission_denials or []
                        if isinstance(d, Mapping)
                    ],
                },
                execution_time_ms=result.duration_ms,
                error_message=(result.result or "")[:500] if result.is_error else None,
            )
        )
        if result.is_error:
            self._failed(run)
            status = f" (HTTP {result.api_error_status})" if result.api_error_status else ""
            detail = (result.result or ", ".join(result.errors or []) or result.subtype)[:300]
            raise AgentError(f"The model API failed{status}: {detail}", title="Model API error")
        run.failures_in_a_row = 0
        return reply

    def _failed(self, run: _Run) -> None:
        run.failures_in_a_row += 1
        if run.failures_in_a_row >= self.config.max_failed_requests:
            self._stop(run, f"{run.failures_in_a_row} model requests failed in a row")

    def _stop(self, run: _Run, reason: str) -> None:
        if run.stopped is None:
            run.stopped = reason
            log.warning("claude_engine_stopped", reason=reason)
            run.emit(
                AgentText(
                    run.run_id,
                    "orchestrator",
                    f"Stopped using the model: {reason}. The remaining accounts are reviewed "
                    "by the rules engine.",
                )
            )

    # -- sessions ----------------------------------------------------------------------------------

    def _options(self, role: Role, model: str) -> ClaudeAgentOptions:
        run = self._state()
        config = self.config
        servers: dict[str, Any] = {}
        if role == "scout":
            servers[ZOHO_SERVER] = zoho_read_server(self.gateway, lambda: self._state().run_id)
        elif role == "analyst":
            servers[MEMORY_SERVER] = memory_read_server(self.memory, self.clock)
        return ClaudeAgentOptions(
            model=model,
            system_prompt=self.prompts[role],
            tools=[],
            setting_sources=[],
            strict_mcp_config=True,
            mcp_servers=servers,
            can_use_tool=permission_gate(role),
            hooks=audit_hooks(role, run.trail),
            output_format={"type": "json_schema", "schema": SCHEMAS[role]},
            include_partial_messages=True,
            max_turns=MAX_TURNS[role],
            env=cli_env(config, run.root),
            cwd=run.root / "work",
        )

    async def _open_session(self, kind: Kind) -> Session:
        role, model = kind
        session = Session(role, self._options(role, model))
        self.processes_started += 1
        await session.start()
        return session
