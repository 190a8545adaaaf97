"""What the review screen shows, folded from the orchestrator's progress events.

``ReviewProgress`` is a plain state machine (idle → running → finished | cancelled | failed):
``apply(event, now)`` updates the counts and returns the lines to append to the Scout, Analyst
and Author lanes. Time comes in as ``now`` (from the services' clock), so a fixed clock gives a
fixed elapsed time. Text is returned raw; the widgets escape it before Rich renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sergas_tui.agents.events import (
    AccountAuthored,
    AccountFailed,
    AccountRecalled,
    AccountScouted,
    AgentText,
    CrmWaiting,
    RecommendationProposed,
    ReviewEvent,
    RunFinished,
    RunStarted,
    RunSummary,
    Synced,
)
from sergas_tui.domain import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    Recommendation,
    UpdateAccountAction,
)

Lane = Literal["scout", "analyst", "author"]
LANES: tuple[tuple[Lane, str], ...] = (
    ("scout", "Scout"),
    ("analyst", "Analyst"),
    ("author", "Author"),
)
Tone = Literal["normal", "risk", "muted", "error", "reasoning"]
RunState = Literal["idle", "running", "finished", "cancelled", "failed"]

NAME_LIMIT = 48
DETAIL_LIMIT = 90


@dataclass(frozen=True)
class LaneLine:
    """One line for one agent's lane."""

    lane: Lane
    text: str
    tone: Tone = "normal"


@dataclass(frozen=True)
class Failure:
    """An account the run could not review, and why."""

    account_id: str
    account_name: str
    error: str

    @property
    def text(self) -> str:
        return f"{short(self.account_name, NAME_LIMIT)} — {self.error}"


@dataclass(frozen=True)
class Usage:
    """Tokens and cost an engine reports; the rules engine reports none."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens, cost
        )


def usage_of(event: object) -> Usage | None:
    """The usage an event carries, if any.

    Duck-typed on purpose: an engine that bills attaches ``usage`` (``input_tokens``,
    ``output_tokens``, ``cost_usd``) to its events or to the run summary, and it shows up here
    without the events module having to change first.
    """
    raw = getattr(event, "usage", None)
    if raw is None and isinstance(event, RunFinished):
        raw = getattr(event.summary, "usage", None)
    return usage_of_raw(raw)


def usage_of_raw(raw: object) -> Usage | None:
    """A :class:`Usage` from anything with ``input_tokens``, ``output_tokens``, ``cost_usd``."""
    if raw is None:
        return None
    cost = getattr(raw, "cost_usd", None)
    return Usage(
        input_tokens=int(getattr(raw, "input_tokens", 0) or 0),
        output_tokens=int(getattr(raw, "output_tokens", 0) or 0),
        cost_usd=None if cost is None else float(cost),
    )


def short(text: object, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def elapsed_text(seconds: float) -> str:
    """'0:07', '12:30', '1:02:03'."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def tokens_text(count: int) -> str:
    """'950', '12.3k', '1.2M'."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1_000:
        return f"{count / 1_000:.1f}k"
    return str(count)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def action_headline(rec: Recommendation) -> str:
    """The gist of a proposed write: a task's subject, an email's subject, the fields changed…"""
    action = rec.suggested_action
    if isinstance(action, FollowUpEmailAction):
        to = f" to {action.recipient}" if action.recipient else ""
        return f"email{to}: {action.subject}"
    if isinstance(action, CreateTaskAction):
        return action.subject
    if isinstance(action, AddNoteAction):
        return action.title
    if isinstance(action, UpdateAccountAction):
        return ", ".join(f"{c.field} → {c.new}" for c in action.field_changes)
    if isinstance(action, EscalationAction):
        return f"to {action.escalate_to}: {action.reason}"
    return rec.rationale


def idle_text(accounts: int | None, owner: str | None) -> str:
    """What the screen says before the first run."""
    if owner is None:
        return (
            "Sergas does not know which Zoho user you are, so there is nothing to review. "
            "Set [zoho] user_email in the configuration (`sergas config path`)."
        )
    mine = "your accounts" if accounts is None else f"your {plural(accounts, 'account')}"
    return (
        f"r reviews {mine} ({owner}): Scout reads the CRM, Analyst recalls history, Author "
        "proposes writes for you to approve. Nothing is written to the CRM. From the "
        "portfolio (1), mark accounts with space, then r to review just those."
    )


@dataclass
class ReviewProgress:
    """The state of one review run as the screen shows it."""

    engine: str = "rules"
    state: RunState = "idle"
    owner: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    done: int = 0
    total: int | None = None
    failed: int = 0
    recommendations: int = 0
    at_risk: int = 0
    note: str = ""
    """The latest run-level activity (syncing, synced, orchestrator text)."""
    error: str | None = None
    usage: Usage | None = None
    by_model: dict[str, Usage] = field(default_factory=dict)
    """``usage`` split by the model the requests went to (``[anthropic] model_simple``)."""
    summary: RunSummary | None = None
    failures: list[Failure] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def begin(self, owner: str | None, now: datetime) -> None:
        """The run was asked for; events follow."""
        self.state = "running"
        self.owner = owner
        self.started_at = now
        self.note = "Connecting to the CRM…"

    def apply(self, event: ReviewEvent, now: datetime) -> list[LaneLine]:
        """Fold one event into the counts; return the lane lines it produces."""
        self._add_usage(event)
        if isinstance(event, RunStarted):
            self.state = "running"
            self.engine = event.engine
            self.owner = event.owner_email
            self.started_at = event.started_at
            self.note = "Syncing with the CRM…"
            return []
        if isinstance(event, Synced):
            kind = "full sync" if event.full else "changes since the last review"
            self.note = (
                f"Synced {plural(event.accounts, 'account')} "
                f"({kind}, {plural(event.calls, 'API call')})"
            )
            return []
        if isinstance(event, CrmWaiting):
            # The note says what the run waits for; the Scout's lane keeps a trace of it.
            self.note = f"Waiting for Zoho — {event.reason}"
            return [LaneLine("scout", f"waiting: {event.reason}", "muted")]
        if isinstance(event, AccountScouted):
            return [self._scouted(event)]
        if isinstance(event, AccountRecalled):
            return [self._recalled(event)]
        if isinstance(event, RecommendationProposed):
            rec = event.recommendation
            text = (
                f"{self._name(event.account_id)} — {rec.type} {rec.priority}: "
                f"{short(action_headline(rec), DETAIL_LIMIT)}"
            )
            tone: Tone = "risk" if rec.priority in ("high", "critical") else "normal"
            return [LaneLine("author", text, tone)]
        if isinstance(event, AccountAuthored):
            self.done, self.total = event.done, event.total
            self.recommendations += event.recommendations
            if event.recommendations:
                return []
            nothing = f"{self._name(event.account_id)} — nothing to propose"
            return [LaneLine("author", nothing, "muted")]
        if isinstance(event, AccountFailed):
            self.done, self.total = event.done, event.total
            self.failed += 1
            self.names.setdefault(event.account_id, event.account_name)
            self.failures.append(Failure(event.account_id, event.account_name, event.error))
            text = f"{short(event.account_name, NAME_LIMIT)} — failed: {event.error}"
            return [LaneLine("author", text, "error")]
        if isinstance(event, AgentText):
            return self._agent_text(event)
        if isinstance(event, RunFinished):
            return self._finished(event, now)
        return []

    def cancel(self, now: datetime) -> list[LaneLine]:
        """The user stopped the run; what was reviewed so far is kept."""
        if self.state != "running":
            return []
        self.state = "cancelled"
        self.ended_at = now
        self.note = "Cancelled."
        return [LaneLine(lane, "— cancelled —", "muted") for lane, _ in LANES]

    def fail(self, message: str, now: datetime) -> list[LaneLine]:
        """The run stopped on an error (the notification carries the details)."""
        if self.state != "running":
            return []
        self.state = "failed"
        self.ended_at = now
        self.error = message
        self.note = "The review stopped on an error."
        stopped = f"— stopped: {short(message, DETAIL_LIMIT)} —"
        return [LaneLine(lane, stopped, "error") for lane, _ in LANES]

    def end(self, now: datetime) -> None:
        """The worker returned; a run that never said it finished counts as finished."""
        if self.state == "running":
            self.state = "finished"
            self.ended_at = now

    # -- what the screen shows ---------------------------------------------------------------

    def elapsed(self, now: datetime) -> float:
        if self.started_at is None:
            return 0.0
        end = self.ended_at or now
        return max((end - self.started_at).total_seconds(), 0.0)

    def status_text(self, now: datetime) -> str:
        """'12/48 accounts · 0:07 elapsed · 3 failed · 9 proposed writes'."""
        if self.state == "idle":
            return "No review yet."
        done = "…" if self.total is None else f"{self.done}/{plural(self.total, 'account')}"
        parts = [done, f"{elapsed_text(self.elapsed(now))} elapsed"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(plural(self.recommendations, "proposed write"))
        if self.at_risk:
            parts.append(f"{self.at_risk} at risk")
        return " · ".join(parts)

    def cost_text(self) -> str:
        """'engine: rules · no token cost', or tokens and cost when the engine reports them."""
        if self.usage is None:
            if self.engine == "rules":
                return "engine: rules · no token cost"
            return f"engine: {self.engine} · tokens not reported"
        usage = self.usage
        text = (
            f"engine: {self.engine} · {tokens_text(usage.input_tokens)} in / "
            f"{tokens_text(usage.output_tokens)} out tokens"
        )
        if usage.cost_usd is not None:
            text += f" · ${usage.cost_usd:.2f}"
        if len(self.by_model) > 1:
            text += " (" + "; ".join(self._model_texts()) + ")"
        return text

    def _model_texts(self) -> list[str]:
        """'claude-haiku-4-5: 1.2k in / 300 out · $0.01' per model, main spenders first."""
        texts = []
        ranked = sorted(self.by_model.items(), key=lambda kv: (-(kv[1].cost_usd or 0.0), kv[0]))
        for model, usage in ranked:
            text = (
                f"{model}: {tokens_text(usage.input_tokens)} in / "
                f"{tokens_text(usage.output_tokens)} out"
            )
            if usage.cost_usd is not None:
                text += f" · ${usage.cost_usd:.2f}"
            texts.append(text)
        return texts

    def summary_text(self, now: datetime) -> str:
        """One sentence once the run has ended (empty while it runs)."""
        took = elapsed_text(self.elapsed(now))
        if self.state == "finished":
            s = self.summary
            accounts = self.done if s is None else s.accounts
            at_risk = self.at_risk if s is None else s.at_risk
            failed = self.failed if s is None else s.failed
            text = (
                f"Reviewed {plural(accounts, 'account')} in {took} · {at_risk} at risk · "
                f"{plural(self.recommendations, 'proposed write')}"
            )
            if s is not None and s.queued:
                text += f" · {s.landed} in your queue · {s.queued} more, lower priority"
            return text + (f" · {failed} failed" if failed else "")
        if self.state == "cancelled":
            total = "?" if self.total is None else str(self.total)
            return (
                f"Cancelled after {self.done}/{total} accounts ({took}); "
                f"{plural(self.recommendations, 'proposed write')} kept."
            )
        if self.state == "failed":
            return f"The review stopped after {self.done} accounts: {self.error}"
        return ""

    def next_step_text(self) -> str:
        """What to do now that the run has ended."""
        if self.state in ("idle", "running"):
            return ""
        s = self.summary
        if s is not None and s.landed:
            more = f"; {s.queued} more wait beyond today's budget (m there)" if s.queued else ""
            return f"Press 3 to decide on the {plural(s.landed, 'new item')} in your queue{more}."
        if s is not None and s.queued:
            return (
                f"Your queue is full for today; {s.queued} more wait (press 3, then m, to pull "
                "one in)."
            )
        if self.recommendations:
            return f"Press 3 to decide on {plural(self.recommendations, 'proposed write')}."
        return "Nothing to decide. Press r to review again."

    # -- helpers ------------------------------------------------------------------------------

    def _name(self, account_id: str) -> str:
        return short(self.names.get(account_id, account_id), NAME_LIMIT)

    def _add_usage(self, event: ReviewEvent) -> None:
        usage = usage_of(event)
        if usage is None:
            return
        if isinstance(event, RunFinished) or self.usage is None:
            self.usage = usage  # the run's own figure is the total
        else:
            self.usage = self.usage + usage
        if isinstance(event, RunFinished):
            split = getattr(event.summary, "by_model", None) or {}
            self.by_model = {m: u for m, raw in split.items() if (u := usage_of_raw(raw))}
        elif isinstance(model := getattr(event, "model", None), str):
            self.by_model[model] = self.by_model.get(model, Usage()) + usage

    def _scouted(self, event: AccountScouted) -> LaneLine:
        self.names[event.account_id] = event.account_name or "(no name)"
        self.total = event.total
        changes = plural(event.changes, "change")
        name = self._name(event.account_id)
        if not event.signals:
            return LaneLine("scout", f"{name} — no risk signals, {changes}", "muted")
        self.at_risk += 1
        first = short(event.signals[0].message, DETAIL_LIMIT * 2 // 3)
        more = "…" if len(event.signals) > 1 else ""
        text = f"{name} — {plural(len(event.signals), 'signal')}: {first}{more}, {changes}"
        serious = any(s.severity in ("high", "critical") for s in event.signals)
        return LaneLine("scout", text, "risk" if serious else "normal")

    def _recalled(self, event: AccountRecalled) -> LaneLine:
        memory = "memory stale" if event.memory_stale else "memory fresh"
        text = f"{self._name(event.account_id)} — sentiment {event.sentiment}, {memory}"
        tone: Tone = "risk" if event.sentiment == "declining" else "normal"
        return LaneLine("analyst", text, tone)

    def _agent_text(self, event: AgentText) -> list[LaneLine]:
        text = event.text.strip()
        if not text:
            return []
        if event.account_id is not None:
            text = f"{self._name(event.account_id)}: {text}"
        if event.agent == "orchestrator":
            self.note = short(text, 2 * DETAIL_LIMIT)
            return []
        return [LaneLine(event.agent, text, "reasoning")]

    def _finished(self, event: RunFinished, now: datetime) -> list[LaneLine]:
        s = event.summary
        self.summary = s
        self.state = "cancelled" if s.cancelled else "finished"
        self.ended_at = now
        self.recommendations = s.recommendations
        self.failed = s.failed
        self.at_risk = s.at_risk
        if self.total is None:
            self.total = s.accounts
        self.done = max(self.done, s.accounts if not s.cancelled else self.done)
        self.note = f"Review finished · Zoho API calls: {s.zoho_calls.text()}"
        return []
