"""The local memory backend on real files: ingest, context, decisions, search, forget, safety."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.domain import (
    REDACTED_FIELDS,
    Activity,
    ApprovalStatus,
    Change,
    Contact,
    FieldChange,
    Link,
    Recommendation,
    RecordRef,
    RiskSignal,
    UpdateAccountAction,
)
from sergas_tui.errors import DatabaseCorruptError, DatabaseVersionError, StorageError
from sergas_tui.memory import LocalMemory, MemoryStore, memory_path
from tests.helpers.memory import NOW, STABLE, days_ago, make_facts, recommendation

DECLINING = [
    (150, "Great QBR: adoption up 30% and they love the new dashboards."),
    (120, "Renewal intent confirmed. Very happy customer."),
    (60, "Raised concerns about support response times after the outage."),
    (14, "Procurement is pushing for a 20% discount or they will not renew."),
    (4, "The champion has gone quiet and missed our last two calls. Renewal at risk."),
]
IMPROVING = [
    (age, text) for (age, _), (_, text) in zip(DECLINING, reversed(DECLINING), strict=True)
]


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[LocalMemory]:
    store = LocalMemory(tmp_path / "ws" / "memory.db", clock=FixedClock(NOW))
    yield store
    await store.close()


async def test_is_a_memory_store_and_lives_beside_the_workspace_db(memory: LocalMemory) -> None:
    assert isinstance(memory, MemoryStore)
    assert memory_path(Path("/x/ws/sergas.db")) == Path("/x/ws/memory.db")


async def test_ingest_is_idempotent(memory: LocalMemory) -> None:
    sponsor = Change(
        field="Contact_Role",
        old="Executive Sponsor",
        new="Influencer",
        timestamp=days_ago(20),
        module="Contacts",
        record_id="c1",
    )
    facts = make_facts(
        "a1",
        notes=DECLINING,
        changes=[sponsor],
        contacts=[Contact(id="c1", name="Dana Whitfield", role="Influencer")],
        activities=[Activity(id="t1", kind="task", subject="Follow up", when=days_ago(3))],
    )
    await memory.ingest(facts)
    first = await memory.stats()
    await memory.ingest(facts)
    second = await memory.stats()
    assert first == second
    assert first["notes"] == len(DECLINING)
    assert first["key_events"] == 1
    assert first["activities"] == first["contacts"] == first["accounts"] == 1
    assert len(await memory.search("outage")) == 1


@pytest.mark.parametrize(
    ("notes", "expected"),
    [(DECLINING, "declining"), (IMPROVING, "improving"), (STABLE, "stable"), ([], "unknown")],
)
async def test_sentiment_trend(memory: LocalMemory, notes: list[Any], expected: str) -> None:
    await memory.ingest(make_facts("a1", notes=notes))
    context = await memory.context("a1", now=NOW)
    assert context.historical_context.sentiment_trend == expected


async def test_key_events_newest_first_from_changes_and_signals(memory: LocalMemory) -> None:
    changes = [
        Change(field="Stage", old="Qualification", new="Needs Analysis", timestamp=days_ago(40),
               module="Deals", record_id="d1"),
        Change(field="Contact_Role", old="Executive Sponsor", new="Influencer",
               timestamp=days_ago(20), module="Contacts", record_id="c1"),
        Change(field="Closing_Date", old="2026-12-01", new="2027-01-15", timestamp=days_ago(10),
               module="Deals", record_id="d1"),
        Change(field="Amount", old=320000, new=210000, timestamp=days_ago(5), module="Deals",
               record_id="d1"),
        Change(field="Phone", old="555-0100", new="555-0101", timestamp=days_ago(2)),
    ]  # fmt: skip
    signals = [
        RiskSignal(key="executive_sponsor_change", severity="high", message="Sponsor changed"),
        RiskSignal(key="no_activity_critical", severity="critical", message="No activity, 35 d"),
    ]
    contacts = [Contact(id="c1", name="Dana Whitfield")]
    await memory.ingest(make_facts("a1", changes=changes, signals=signals, contacts=contacts))
    events = (await memory.context("a1", now=NOW)).historical_context.key_events
    assert [e.event for e in events] == [
        "No activity, 35 d",
        "Amount cut from 320,000 to 210,000",
        "Close date pushed from 2026-12-01 to 2027-01-15",
        "Executive sponsor changed",
        "Stage moved to Needs Analysis",
    ]
    assert events[3].impact == "Dana Whitfield moved from Executive Sponsor to Influencer"
    assert events[3].date == days_ago(20).date()
    # A signal seen again at a later review keeps the day it was first seen.
    later = make_facts("a1", signals=signals, reviewed_at=NOW + timedelta(days=7))
    await memory.ingest(later)
    again = (await memory.context("a1", now=NOW + timedelta(days=7))).historical_context
    assert [(e.event, e.date) for e in again.key_events[:2]] == [
        ("No activity, 35 d", NOW.date()),
        ("Amount cut from 320,000 to 210,000", days_ago(5).date()),
    ]  # and the sponsor signal stays told by the sponsor change


async def test_commitments_extracted_newest_first(memory: LocalMemory) -> None:
    notes = [
        (60, "Dana backed the rollout. Budget approved for Q1."),
        (30, "They committed to a pilot with 50 users; legal is next."),
        (20, "They have not committed to anything beyond the pilot."),
        (10, "Renewal intent confirmed in principle."),
        (5, "budget approved for Q1"),
    ]
    await memory.ingest(make_facts("a1", notes=notes))
    context = await memory.context("a1", now=NOW)
    assert context.historical_context.commitment_tracking == [
        "Budget approved for Q1",
        "Renewal intent confirmed",
        "Committed to a pilot with 50 users",
    ]


async def test_prior_recommendations_with_status_and_outcome(memory: LocalMemory) -> None:
    first = recommendation("a1", "r1", days_ago(30), "Exec briefing")
    second = recommendation("a1", "r2", days_ago(10), "Chase procurement")
    for rec in (first, second):
        await memory.record_recommendation("a1", rec)
    await memory.record_recommendation("a1", first)  # recording again changes nothing
    assert await memory.record_decision(
        "a1", "r1", "approved", decided_at=days_ago(29), actor="jordan", rationale="yes"
    )
    assert await memory.record_outcome("a1", "r1", "successful", 0.8, days_ago(28))
    rejected = ApprovalStatus.REJECTED
    assert await memory.record_decision("a1", "r2", rejected, decided_at=days_ago(9), actor="j")
    assert not await memory.record_decision("zz", "r2", "approved", decided_at=NOW, actor="j")
    assert not await memory.record_outcome("a1", "nope", "partial", None, NOW)
    with pytest.raises(ValueError, match="unknown decision status"):
        await memory.record_decision("a1", "r1", "maybe", decided_at=NOW, actor="j")

    prior = await memory.prior_recommendations("a1")
    assert [(p.recommendation_id, p.status, p.outcome) for p in prior] == [
        ("r2", "rejected", None),
        ("r1", "executed", "successful"),
    ]
    assert prior[1].executed_at == days_ago(28)
    assert prior[1].decided_by == "jordan"
    assert prior[1].effectiveness_score == 0.8
    assert prior[1].type == "create_task"
    context = await memory.context("a1", now=NOW)
    seeded = context.historical_context.prior_recommendations
    assert [(p.recommendation, p.status, p.outcome) for p in seeded] == [
        ("Task: Chase procurement r2", "rejected", None),
        ("Task: Exec briefing r1", "executed", "successful"),
    ]
    assert await memory.prior_recommendations("other") == []


async def test_stale_by_clock(memory: LocalMemory) -> None:
    unknown = await memory.context("never-seen", now=NOW)
    assert unknown.memory_stale
    assert unknown.historical_context.sentiment_trend == "unknown"
    await memory.ingest(make_facts("a1", notes=STABLE, reviewed_at=NOW))
    assert not (await memory.context("a1", now=NOW + timedelta(days=29))).memory_stale
    assert (await memory.context("a1", now=NOW + timedelta(days=31))).memory_stale


async def test_relationship_strength(memory: LocalMemory) -> None:
    contacts = [Contact(id=f"c{i}", name=f"Person {i}") for i in range(4)]
    busy = [
        Activity(id=f"t{i}", kind="call", subject="Sync", when=days_ago(2 + 5 * i),
                 who=Link(id=f"c{i % 4}", module="Contacts"))
        for i in range(8)
    ]  # fmt: skip
    await memory.ingest(make_facts("strong", contacts=contacts, activities=busy))
    lone = [Activity(id="x1", kind="call", subject="Sync", when=days_ago(80))]
    await memory.ingest(make_facts("weak", contacts=contacts[:1], activities=lone))
    await memory.ingest(make_facts("empty"))
    strength = {
        aid: (await memory.context(aid, now=NOW)).historical_context.relationship_strength
        for aid in ("strong", "weak", "empty")
    }
    assert strength == {"strong": "strong", "weak": "weak", "empty": "unknown"}


async def test_search_ranks_and_scopes(memory: LocalMemory) -> None:
    await memory.ingest(
        make_facts("a1", notes=[(3, "Outage follow-up: the outage hit their month-end close.")])
    )
    await memory.ingest(make_facts("a2", notes=[(5, "Mentioned an outage in passing.")]))
    await memory.ingest(make_facts("a3", notes=[(5, "Nothing to report.")]))
    hits = await memory.search("outages")  # stemming: outages ~ outage
    assert [h.account_id for h in hits] == ["a1", "a2"]
    assert hits[0].score > hits[1].score
    assert hits[0].ref == "memory:notes:a1-n0"
    assert RecordRef.parse(hits[0].ref) == hits[0].record_ref()
    assert "month-end" in hits[0].snippet
    scoped = await memory.search("outage", account_id="a2")
    assert [h.account_id for h in scoped] == ["a2"]
    assert len(await memory.search("outage", limit=1)) == 1
    # No item holds every word: fall back to items holding any of them.
    assert {h.account_id for h in await memory.search("outage nothing")} == {"a1", "a2", "a3"}


@pytest.mark.parametrize(
    "query",
    ['"', "*", "NEAR(", "[bold]", "", "   ", 'a" OR "b', "title:outage", "^outage", "-", "AND",
     "NOT outage", "[@click=app.quit]", "\x00\x1b[31m", "outage*", "(", "😀", "a" * 5000],
)  # fmt: skip
async def test_hostile_queries_never_fail(memory: LocalMemory, query: str) -> None:
    await memory.ingest(make_facts("a1", notes=[(3, '[bold]Outage[/bold] NEAR( quoted " text')]))
    hits = await memory.search(query)
    assert isinstance(hits, list)


async def test_forget_removes_only_that_account(memory: LocalMemory) -> None:
    for aid in ("a1", "a2"):
        sponsor = Change(
            field="Contact_Role",
            old="Executive Sponsor",
            new="Influencer",
            timestamp=days_ago(5),
            module="Contacts",
            record_id=f"{aid}-c",
        )
        notes = [(3.0, "Budget approved for Q1. Outage resolved.")]
        await memory.ingest(make_facts(aid, notes=notes, changes=[sponsor]))
        await memory.record_recommendation(aid, recommendation(aid, f"{aid}-r", days_ago(1)))
    before = await memory.stats()
    removed = await memory.forget("a1")
    after = await memory.stats()
    assert removed == 5  # account, note, key event, commitment, recommendation
    assert after["notes"] == before["notes"] - 1
    assert {h.account_id for h in await memory.search("outage")} == {"a2"}
    assert await memory.prior_recommendations("a1") == []
    assert (await memory.context("a1", now=NOW)).memory_stale
    assert not (await memory.context("a2", now=NOW)).memory_stale
    assert await memory.forget("a1") == 0


async def test_reopen_keeps_memory(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    store = LocalMemory(path)
    await store.ingest(make_facts("a1", notes=DECLINING))
    await store.close()
    with pytest.raises(StorageError, match="closed"):
        await store.stats()
    reopened = LocalMemory(path)
    try:
        assert (await reopened.stats())["notes"] == len(DECLINING)
    finally:
        await reopened.close()


async def test_concurrent_ingests(memory: LocalMemory) -> None:
    await asyncio.gather(*(memory.ingest(make_facts(f"a{i}", notes=STABLE)) for i in range(40)))
    assert (await memory.stats())["notes"] == 40 * len(STABLE)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    path.write_bytes(b"definitely not sqlite" * 100)
    digest = _digest(path)
    with pytest.raises(DatabaseCorruptError, match="left the file untouched"):
        LocalMemory(path)
    assert _digest(path) == digest
    assert not path.with_name("memory.db-wal").exists()


def test_newer_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    LocalMemory(path).close_now()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    digest = _digest(path)
    with pytest.raises(DatabaseVersionError, match="newer Sergas"):
        LocalMemory(path)
    assert _digest(path) == digest


def test_other_programs_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "sergas.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE recommendations (id TEXT)")
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    digest = _digest(path)
    with pytest.raises(StorageError, match="not Sergas memory"):
        LocalMemory(path)
    assert _digest(path) == digest


async def test_nothing_sensitive_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    secrets = ["12-3456789", "DE89370400440532013000", "1980-02-29", "dana@home.example"]
    changes = [
        Change(field="Tax_ID", old=None, new=secrets[0], timestamp=days_ago(3)),
        Change(field="Description", old=None, new={"Bank_Account": secrets[1], "x": "ok"}),
        Change(field="date_of_birth", old=secrets[2], new=None, module="Contacts", record_id="c"),
    ]
    signal = RiskSignal(
        key="data_quality",
        message="Contact details changed",
        evidence=[RecordRef(module="Contacts", id="c", field="Personal_Email")],
    )
    rec = Recommendation(
        account_id="a1",
        type="update_account",
        priority="low",
        confidence="low",
        rationale="Keep the record current.",
        suggested_action=UpdateAccountAction(
            field_changes=[
                FieldChange(field="Personal_Email", old=secrets[3], new=None),
                FieldChange(field="Rating", old="Warm", new="Hot"),
            ]
        ),
        data_references=["zoho:Contacts:c#Home_Address", "zoho:Accounts:a1"],
    )
    store = LocalMemory(path, clock=FixedClock(NOW))
    notes = [(3.0, "Friendly call about the rollout.")]
    facts = make_facts("a1", notes=notes, changes=changes, signals=[signal])
    await store.ingest(facts)
    await store.record_recommendation("a1", rec)
    await store.close()
    conn = sqlite3.connect(path)
    try:
        dump = "\n".join(conn.iterdump()).casefold()
    finally:
        conn.close()
    for value in secrets:
        assert value.casefold() not in dump
    for field in REDACTED_FIELDS:
        assert field.casefold() not in dump, field
    assert "rating" in dump  # the harmless part of the recommendation is kept
