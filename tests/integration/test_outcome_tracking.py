"""Outcome tracking through the orchestrator: a later review judges an executed recommendation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sergas_tui.agents.orchestrator import Orchestrator
from sergas_tui.clock import FixedClock
from sergas_tui.config import Settings
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.domain import (
    AccountFacts,
    Activity,
    Approval,
    ApprovalStatus,
    HistoricalContext,
    Recommendation,
    RecommendationOutcome,
    RecordRef,
    Snapshot,
)
from sergas_tui.domain.outputs import CreateTaskAction
from sergas_tui.memory.local import LocalMemory
from sergas_tui.storage import Repository
from tests.unit.author_kit import ACCOUNT_ID, NOW, make_facts, signal

EXECUTED = NOW - timedelta(days=5)


class Gateway:
    async def sync(self, owner_email: str | None) -> SyncBatch:
        return SyncBatch(owner_email=owner_email, modified_since=None, fetched_at=NOW, full=True)


class Engine:
    name = "stub"

    def __init__(self, facts: AccountFacts, memory: LocalMemory) -> None:
        self.facts = facts
        self.memory = memory

    async def scout(self, batch: SyncBatch, previous: Mapping[str, Snapshot]) -> list[AccountFacts]:
        return [self.facts]

    async def recall(
        self, facts: AccountFacts, now: datetime
    ) -> tuple[HistoricalContext, list[RecordRef]]:
        return HistoricalContext(account_id=facts.account_id), []

    async def author(self, *args: Any) -> list[Recommendation]:
        return []

    async def remember(self, account_id: str, recommendations: Sequence[Recommendation]) -> None:
        return None


async def test_a_review_assesses_an_executed_task_and_remembers_it(tmp_path: Path) -> None:
    rec = Recommendation(
        type="create_task",
        priority="high",
        confidence="high",
        rationale="No activity for 35 days",
        suggested_action=CreateTaskAction(subject="Call the sponsor"),
        account_id=ACCOUNT_ID,
        created_at=EXECUTED - timedelta(days=1),
    )
    memory = LocalMemory(tmp_path / "memory.db", clock=FixedClock(NOW))
    await memory.record_recommendation(ACCOUNT_ID, rec)
    with Repository.open(tmp_path / "sergas.db") as repo:
        repo.save_recommendations([rec], owner_email="jordan@demo.test")
        repo.add_approval(
            Approval(
                recommendation_id=rec.id,
                account_id=ACCOUNT_ID,
                owner_email="jordan@demo.test",
                action_type="create_task",
                payload=rec.suggested_action,
                status=ApprovalStatus.EXECUTED,
                created_at=rec.created_at,
                executed_at=EXECUTED,
                result_record_id="T-ours",
            )
        )
        row = RecommendationOutcome(
            recommendation_id=rec.id,
            account_id=ACCOUNT_ID,
            created_at=rec.created_at,
            recommendation_type="create_task",
            status="completed",
            executed_at=EXECUTED,
        )
        repo.save_outcome(row)
        done = Activity(
            id="T-ours",
            kind="task",
            subject="Call the sponsor",
            when=EXECUTED + timedelta(days=1),
            status="Completed",
        )
        facts = make_facts([signal("no_activity_critical", "critical")]).model_copy(
            update={"activities": [done]}
        )
        orchestrator = Orchestrator(
            gateway=Gateway(),  # type: ignore[arg-type]
            repository=repo,
            engine=Engine(facts, memory),
            settings=Settings(),
            clock=FixedClock(NOW),
        )
        assert orchestrator.memory is memory
        events = [event async for event in orchestrator.review(None)]
        assert events
        (stored,) = repo.outcomes_for(ACCOUNT_ID)
        assert (stored.outcome, stored.effectiveness_score) == ("successful", 1.0)
        assert stored.executed_at == EXECUTED
    (prior,) = await memory.prior_recommendations(ACCOUNT_ID)
    assert (prior.outcome, prior.effectiveness_score) == ("successful", 1.0)
    await memory.close()
