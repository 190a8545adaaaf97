"""Reviews through the Claude engine and the fake Messages API: scripted steps, model ids."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sergas_tui.agents.claude import ClaudeEngine
from sergas_tui.agents.events import (
    AgentText,
    ReviewEvent,
    RunFinished,
)
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.domain import AccountFacts, AuditAction, AuditEvent
from sergas_tui.services import Services
from tests.fakes.anthropic_api import (
    ApiRequest,
    FakeAnthropic,
    RecordedRequest,
    Turn,
    structured,
)
from tests.fakes.sdk_env import LOOPBACK, PROXY_VARIABLES

ACCOUNT_ID = re.compile(r"^## account_id (\S+)$", re.MULTILINE)


Step = Callable[[ApiRequest], Turn]


def batch_ids(request: ApiRequest) -> list[str]:
    """The account ids of the batch this request is about."""
    return ACCOUNT_ID.findall("\n".join(request.user_texts()))


def assess(text: str = "Assessment of {id}: the stalled deal is the real risk.") -> Step:
    """A Scout/Analyst step: one assessment per account of the batch."""

    def step(request: ApiRequest) -> Turn:
        accounts = [{"account_id": i, "assessment": text.format(id=i)} for i in batch_ids(request)]
        return structured({"accounts": accounts})

    return step


def task_for(account_id: str, **changes: Any) -> dict[str, Any]:
    """A valid create_task recommendation citing the account."""
    rec: dict[str, Any] = {
        "type": "create_task",
        "priority": "high",
        "confidence": "medium",
        "rationale": f"Scripted: account {account_id} needs a call this week.",
        "suggested_action": {
            "subject": "Call the account owner's main contact",
            "due_date": "2026-11-06",
            "priority": "High",
            "description": "Check the deal's next step.",
        },
        "data_references": [f"zoho:Accounts:{account_id}"],
    }
    rec.update(changes)
    return rec


def recommend(
    make: Callable[[str], list[dict[str, Any]]] = lambda i: [task_for(i)],
) -> Step:
    """An Author step: ``make(account_id)`` recommendations for each account of the batch."""

    def step(request: ApiRequest) -> Turn:
        accounts = [{"account_id": i, "recommendations": make(i)} for i in batch_ids(request)]
        return structured({"accounts": accounts})

    return step


def many(step: Step | Turn, count: int = 60) -> list[Step | Turn]:
    """The same step ``count`` times (lanes consume one step per request)."""
    return [step] * count


RUN_TIMEOUT = 90.0


@dataclass
class Review:
    services: Services
    engine: ClaudeEngine
    events: list[ReviewEvent]
    finished: RunFinished

    def texts(self, agent: str) -> list[AgentText]:
        return [e for e in self.events if isinstance(e, AgentText) and e.agent == agent]

    def audit(self, action: AuditAction) -> list[AuditEvent]:
        return [
            e for e in self.services.store.audit_events(limit=100_000) if e.action_type == action
        ]


def cli_env_for(fake: FakeAnthropic, **extra: str) -> dict[str, str]:
    """CLI env for tests: no retries by default, the CLI's 10 s idle floor, the proxy trap."""
    env = {
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "CLAUDE_BYTE_STREAM_IDLE_TIMEOUT_MS": "10000",
        "NO_PROXY": LOOPBACK,
        "no_proxy": LOOPBACK,
        **dict.fromkeys(PROXY_VARIABLES, fake.base_url),
    }
    env.update(extra)
    return env


MAIN = "claude-sonnet-4-5"
SIMPLE = "claude-haiku-4-5"
"""Real model ids, so that the CLI prices them (its own price table): the cost per model in the
summary is the CLI's."""


OpenServices = Callable[..., Services]


def script(fake: FakeAnthropic) -> None:
    fake.script(*many(assess()), lane="scout")
    fake.script(*many(assess("History of {id}: steady.")), lane="analyst")
    fake.script(*many(recommend()), lane="author")


async def run_review(
    services: Services, fake: FakeAnthropic, tmp_path: Path
) -> tuple[Review, list[AccountFacts]]:
    """A review on the Claude engine; also the facts its Data Scout produced (what routing is
    decided on)."""
    orchestrator = await services.orchestrator()
    engine = orchestrator.engine
    assert isinstance(engine, ClaudeEngine)
    engine.config = engine.config.with_(env=cli_env_for(fake), workdir=tmp_path / "claude")
    seen: list[AccountFacts] = []
    scout = engine.rules.scout

    async def keep(batch: SyncBatch, previous: Any) -> list[AccountFacts]:
        facts = [simplify(f) if n % 2 else f for n, f in enumerate(await scout(batch, previous))]
        seen.extend(facts)
        return facts

    engine.rules.scout = keep  # type: ignore[method-assign]

    async def run() -> list[ReviewEvent]:
        owner = services.current_user_email()
        return [e async for e in orchestrator.review(owner)]

    events = await asyncio.wait_for(run(), RUN_TIMEOUT)
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    return Review(services, engine, events, finished), seen


def simplify(facts: AccountFacts) -> AccountFacts:
    """``facts`` with every deal closed: the demo's flagged accounts all have an open deal, so
    half of them are made simple this way (those with at most one info/warning signal)."""
    closed = [d.model_copy(update={"stage": "Closed Won"}) for d in facts.deals]
    return facts.model_copy(update={"deals": closed})


def model_requests(fake: FakeAnthropic) -> list[RecordedRequest]:
    return [r for r in fake.message_requests() if r.completed and r.body is not None]


def fake_tokens_by_model(fake: FakeAnthropic) -> dict[str, tuple[int, int]]:
    by: dict[str, tuple[int, int]] = {}
    for r in model_requests(fake):
        assert r.body is not None
        tokens_in, tokens_out = by.get(r.body["model"], (0, 0))
        by[r.body["model"]] = (tokens_in + r.input_tokens, tokens_out + r.output_tokens)
    return by
