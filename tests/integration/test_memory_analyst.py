"""The Memory Analyst over local memory, fed with the demo org's scenario accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sergas_tui.agents.analyst import MemoryAnalyst
from sergas_tui.clock import FixedClock
from sergas_tui.demo import DemoStore, generate
from sergas_tui.domain import (
    AccountFacts,
    Change,
    EscalationAction,
    Recommendation,
    RecordRef,
    ScoutReport,
    ZohoAccount,
    ZohoCall,
    ZohoContact,
    ZohoDeal,
    ZohoEvent,
    ZohoNote,
    ZohoStageHistory,
    ZohoTask,
    ZohoTimelineEntry,
    account_from_zoho,
    activity_from_call,
    activity_from_event,
    activity_from_task,
    changes_from_timeline,
    contact_from_zoho,
    deal_from_zoho,
    note_from_zoho,
)
from sergas_tui.memory import LocalMemory

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def facts_from_demo(store: DemoStore, aid: str) -> AccountFacts:
    """What a minimal Data Scout would gather for one demo account (no risk signals)."""
    raw = store.account(aid)
    assert raw is not None
    account = account_from_zoho(ZohoAccount.model_validate(raw))
    related = store.related
    contacts = [contact_from_zoho(ZohoContact.model_validate(c)) for c in related("Contacts", aid)]
    deals = [
        deal_from_zoho(
            ZohoDeal.model_validate(d),
            [ZohoStageHistory.model_validate(h) for h in store.stage_history(d["id"])],
        )
        for d in related("Deals", aid)
    ]
    activities = [activity_from_task(ZohoTask.model_validate(t)) for t in related("Tasks", aid)]
    activities += [activity_from_event(ZohoEvent.model_validate(e)) for e in related("Events", aid)]
    activities += [activity_from_call(ZohoCall.model_validate(c)) for c in related("Calls", aid)]
    notes = [note_from_zoho(ZohoNote.model_validate(n)) for n in store.related("Notes", aid)]
    records = [("Accounts", aid)]
    records += [("Contacts", c.id) for c in contacts] + [("Deals", d.id) for d in deals]
    changes: list[Change] = []
    for module, record_id in records:
        for entry in store.timeline(module, record_id):
            timeline = ZohoTimelineEntry.model_validate(entry)
            changes += changes_from_timeline(timeline, module, record_id)
    owner = account.owner.email if account.owner and account.owner.email else ""
    return AccountFacts(
        account=account,
        contacts=contacts,
        deals=deals,
        activities=activities,
        notes=notes,
        changes=[c for c in changes if c.timestamp and c.timestamp >= NOW - timedelta(days=30)],
        report=ScoutReport(account_id=aid, account_name=account.name, owner=owner),
        reviewed_at=NOW,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStore]:
    path = tmp_path_factory.mktemp("demo") / "zoho-demo.db"
    generate(path, accounts=200, owners=2, seed=7, now=NOW)
    with DemoStore.open(path) as store:
        yield store


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[LocalMemory]:
    store = LocalMemory(tmp_path / "memory.db", clock=FixedClock(NOW))
    yield store
    await store.close()


@pytest.fixture
def scenarios(demo: DemoStore) -> dict[str, str]:
    return {s.key: s.account_id for s in demo.scenarios()}


async def test_demo_scenarios_recall_and_search(
    demo: DemoStore, memory: LocalMemory, scenarios: dict[str, str]
) -> None:
    analyst = MemoryAnalyst(memory)
    contexts = {}
    for key in ("exec_sponsor_changed", "renewal_declining_sentiment", "healthy_expansion"):
        facts = facts_from_demo(demo, scenarios[key])
        contexts[key], _refs = await analyst.recall(facts, now=NOW)

    hits = await memory.search("executive sponsor")
    assert hits[0].account_id == scenarios["exec_sponsor_changed"]

    renewal = contexts["renewal_declining_sentiment"]
    assert renewal.historical_context.sentiment_trend == "declining"
    assert not renewal.memory_stale
    assert "Renewal intent confirmed" in renewal.historical_context.commitment_tracking

    sponsor = contexts["exec_sponsor_changed"].historical_context
    assert "Executive sponsor changed" in [e.event for e in sponsor.key_events]
    assert "Budget approved for Q1" in sponsor.commitment_tracking
    assert contexts["healthy_expansion"].historical_context.relationship_strength == "strong"


async def test_refs_back_events_commitments_and_prior_recommendations(
    demo: DemoStore, memory: LocalMemory, scenarios: dict[str, str]
) -> None:
    analyst = MemoryAnalyst(memory)
    facts = facts_from_demo(demo, scenarios["exec_sponsor_changed"])
    escalate = Recommendation(
        account_id=facts.account_id,
        type="escalation",
        priority="high",
        confidence="high",
        rationale="The executive sponsor changed 20 days before signature.",
        suggested_action=EscalationAction(escalate_to="Sales Manager", reason="Sponsor change"),
        data_references=[str(facts.account.ref())],
        created_at=NOW - timedelta(days=1),
    )
    await analyst.remember(facts.account_id, [escalate])

    context, refs = await analyst.recall(facts, now=NOW)
    details = context.historical_context
    assert len(refs) == len(set(refs))
    assert all(r.system == "memory" for r in refs)
    kinds = [r.module for r in refs]
    assert kinds.count("key_events") == len(details.key_events)
    assert kinds.count("commitments") == len(details.commitment_tracking)
    assert kinds.count("recommendations") == len(details.prior_recommendations) == 1
    assert RecordRef(system="memory", module="recommendations", id=escalate.id) in refs
    assert (
        details.prior_recommendations[0].recommendation
        == "Escalate to Sales Manager: Sponsor change"
    )
    # Every reference resolves to an item that a search for its text finds again.
    found = {h.ref for h in await memory.search("sponsor", account_id=facts.account_id)}
    assert {str(r) for r in refs if r.module == "key_events"} & found
    assert str(escalate_ref := RecordRef.parse(f"memory:recommendations:{escalate.id}")) in found
    assert escalate_ref.module == "recommendations"
