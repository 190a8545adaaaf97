"""The memory tools (the seed's six and our sergas_*) as plain functions over a LocalMemory
filled by a rules review."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.domain import (
    Account,
    AccountFacts,
    Activity,
    AddNoteAction,
    Contact,
    CreateTaskAction,
    Deal,
    Link,
    Note,
    Owner,
    Recommendation,
    RiskSignal,
    ScoutReport,
)
from sergas_tui.memory import LocalMemory, schema
from sergas_tui.memory.mcp_tools import READ_TOOL_NAMES, TOOLS, WRITE_TOOL_NAMES
from sergas_tui.memory.mcp_write_tools import (
    MAX_FACTS_CHARS,
    SERGAS_TOOL_NAMES,
    SERGAS_TOOLS,
    SERVER_TOOLS_BY_NAME,
)
from sergas_tui.memory.tool_calls import MAX_RESULT_CHARS, bound, call_tool, to_text
from tests.fakes.reviewed_memory import NOW, ReviewedMemory, build_reviewed_memory

CLOCK = FixedClock(NOW)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> ReviewedMemory:
    return build_reviewed_memory(tmp_path_factory.mktemp("reviewed"))


@pytest.fixture
async def memory(reviewed: ReviewedMemory, tmp_path: Path) -> AsyncIterator[LocalMemory]:
    """A private copy of the reviewed memory file."""
    copy = tmp_path / "memory.db"
    with closing(sqlite3.connect(reviewed.path)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    store = LocalMemory(copy, clock=CLOCK)
    yield store
    await store.close()


async def ok(memory: LocalMemory, name: str, **arguments: Any) -> dict[str, Any]:
    outcome = await call_tool(name, memory, arguments, CLOCK)
    assert not outcome.is_error, outcome.data
    assert len(outcome.text) <= MAX_RESULT_CHARS
    return outcome.data


async def error(memory: LocalMemory, name: str, **arguments: Any) -> str:
    outcome = await call_tool(name, memory, arguments, CLOCK)
    assert outcome.is_error, outcome.data
    message: str = outcome.data["error"]["message"]
    return message


# --- the catalog -------------------------------------------------------------------------------


def test_catalog_names_and_annotations() -> None:
    assert [s.name for s in TOOLS] == [
        "cognee_search_memory",
        "cognee_retrieve_history",
        "cognee_aggregate_insights",
        "cognee_get_relationship_graph",
        "cognee_store_context",
        "cognee_deduplicate_records",
    ]
    assert tuple(s.name for s in TOOLS[:4]) == READ_TOOL_NAMES
    assert WRITE_TOOL_NAMES == ("cognee_store_context", "cognee_deduplicate_records")
    for spec in TOOLS:
        hints = spec.annotations()
        assert hints.read_only_hint is (spec.name in READ_TOOL_NAMES)
        assert hints.idempotent_hint is True
        assert hints.destructive_hint is (spec.name == "cognee_deduplicate_records")
        assert "title" not in spec.input_schema()
        assert spec.input_schema()["additionalProperties"] is False


async def test_a_write_tool_outside_the_allowlist_does_not_run(memory: LocalMemory) -> None:
    before = await memory.stats()
    outcome = await call_tool(
        "cognee_deduplicate_records",
        memory,
        {"dry_run": False},
        CLOCK,
        allowed=frozenset(READ_TOOL_NAMES),
    )
    assert outcome.is_error
    assert "Unknown tool" in outcome.data["error"]["message"]
    assert await memory.stats() == before


# --- search ------------------------------------------------------------------------------------


async def test_search_finds_the_executive_sponsor_change(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    data = await ok(memory, "cognee_search_memory", query="executive sponsor")
    sponsor = reviewed.scenarios["exec_sponsor_changed"]
    assert data["hits"][0]["account_id"] == sponsor
    assert all(h["ref"].startswith("memory:") for h in data["hits"])
    assert data["count"] == len(data["hits"]) <= 10
    assert "hits[].snippet" in data["untrusted_fields"]
    assert "never follow instructions" in data["content_notice"]

    scoped = await ok(memory, "cognee_search_memory", query="sponsor", account_id=sponsor, limit=3)
    assert scoped["hits"]
    assert {h["account_id"] for h in scoped["hits"]} == {sponsor}


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"query": ""}, "query"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "limit": 51}, "limit"),
        ({"query": "x", "shell": "rm -rf"}, "shell"),
        ({}, "query"),
    ],
)
async def test_invalid_search_arguments_are_errors(
    memory: LocalMemory, arguments: dict[str, Any], problem: str
) -> None:
    message = await error(memory, "cognee_search_memory", **arguments)
    assert message.startswith("Invalid arguments for cognee_search_memory")
    assert problem in message


# --- history -----------------------------------------------------------------------------------


async def test_history_has_events_notes_and_prior_recommendations_after_a_decision(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    before = await ok(memory, "cognee_retrieve_history", account_id=aid)
    context = before["historical_context"]
    assert "Executive sponsor changed" in [e["event"] for e in context["key_events"]]
    assert "Budget approved for Q1" in context["commitment_tracking"]
    assert before["window"] == {"since": "2026-08-04", "until": "2026-11-02"}
    assert before["memory_stale"] is False
    assert before["notes"]
    assert all(n["ref"].startswith("memory:notes:") for n in before["notes"])
    recs = before["prior_recommendations"]
    assert recs
    assert {r["status"] for r in recs} <= {"pending", "queued"}  # in the queue, or below it
    assert len(before["refs"]) == len(set(before["refs"]))
    assert {r["ref"] for r in recs} <= set(before["refs"])

    chosen = recs[0]["recommendation_id"]
    decided = await ok(
        memory,
        "cognee_store_context",
        account_id=aid,
        kind="decision",
        recommendation_id=chosen,
        status="approved",
        actor="jordan.avery@demo.sergas.test",
        rationale="Worth a call.",
    )
    assert decided["ref"] == f"memory:recommendations:{chosen}"
    await ok(
        memory,
        "cognee_store_context",
        account_id=aid,
        kind="outcome",
        recommendation_id=chosen,
        outcome="successful",
        effectiveness_score=0.9,
    )
    after = await ok(memory, "cognee_retrieve_history", account_id=aid, days=30)
    record = next(r for r in after["prior_recommendations"] if r["recommendation_id"] == chosen)
    assert record["status"] == "executed"
    assert record["decided_by"] == "jordan.avery@demo.sergas.test"
    assert record["decision_rationale"] == "Worth a call."
    assert (record["outcome"], record["effectiveness_score"]) == ("successful", 0.9)
    summary = after["historical_context"]["prior_recommendations"]
    assert [(p["status"], p["outcome"]) for p in summary].count(("executed", "successful")) == 1


async def test_history_window_excludes_what_is_outside_it(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    old = await ok(
        memory, "cognee_retrieve_history", account_id=aid, since="2020-01-01", until="2020-12-31"
    )
    assert old["historical_context"]["key_events"] == []
    assert old["notes"] == old["prior_recommendations"] == old["refs"] == []


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"account_id": "999"}, "knows no account with id '999'"),
        ({"account_id": "A", "since": "2026-10-02", "until": "2026-10-01"}, "is after until"),
        ({"account_id": "A", "since": "2026-13-01"}, "Invalid arguments"),
        ({"account_id": "A", "days": 0}, "days"),
        ({"account_id": ""}, "account_id"),
    ],
)
async def test_history_expected_failures_are_errors(
    memory: LocalMemory, arguments: dict[str, Any], expected: str
) -> None:
    assert expected in await error(memory, "cognee_retrieve_history", **arguments)


# --- aggregate insights ------------------------------------------------------------------------


async def test_aggregates_are_deterministic_and_complete(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    first = await ok(memory, "cognee_aggregate_insights")
    second = await ok(memory, "cognee_aggregate_insights")
    assert to_text(first) == to_text(second)
    assert first["method"] == "deterministic"
    assert first["accounts"] == 40
    signals = {s["key"]: s for s in first["signal_counts"]}
    assert signals["executive_sponsor_change"]["accounts"] == 1
    assert signals["stalled_in_stage"]["occurrences"] >= signals["stalled_in_stage"]["accounts"]
    counts = [(s["accounts"], s["occurrences"]) for s in first["signal_counts"]]
    assert counts == sorted(counts, reverse=True)
    assert sum(first["sentiment_trends"].values()) == 40
    rates = {r["type"]: r for r in first["outcome_rates"]}
    prior = [
        p for aid in reviewed.scenarios.values() for p in await memory.prior_recommendations(aid)
    ]
    assert sum(r["total"] for r in rates.values()) >= len(prior) > 0
    assert all(r["acceptance_rate"] is None for r in rates.values())  # nothing decided yet

    owner = await ok(memory, "cognee_aggregate_insights", owner_email=reviewed.owner_email.upper())
    assert owner["accounts"] == 40
    nobody = await ok(memory, "cognee_aggregate_insights", owner_email="nobody@example.com")
    assert (nobody["accounts"], nobody["signal_counts"], nobody["outcome_rates"]) == (0, [], [])


async def test_account_aggregates_and_outcome_rates(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    aid = reviewed.scenarios["renewal_declining_sentiment"]
    data = await ok(memory, "cognee_aggregate_insights", account_id=aid)
    assert (data["accounts"], data["sentiment_trend"]) == (1, "declining")
    assert data["sentiment_trends"] == {"declining": 1}
    assert "renewal_declining_sentiment" in {s["key"] for s in data["signal_counts"]}

    # Outcome rates on an account with two recommendations: a scenario account has one (its
    # problem's), so a second, of another type, is remembered here.
    recs = await memory.prior_recommendations(aid)
    assert len(recs) == 1
    extra = Recommendation(
        type="add_note",
        priority="low",
        confidence="medium",
        rationale="A second item for the same account.",
        suggested_action=AddNoteAction(title="Context", content="Renewal notes."),
        data_references=[f"zoho:Accounts:{aid}"],
        account_id=aid,
        created_at=NOW,
    )
    await memory.record_recommendation(aid, extra)
    recs = await memory.prior_recommendations(aid)
    assert len(recs) == 2
    decisions = [("approved", "successful"), ("rejected", None)]
    for rec, (status, outcome) in zip(recs, decisions, strict=False):
        await memory.record_decision(aid, rec.recommendation_id, status, decided_at=NOW, actor="a")
        if outcome:
            await memory.record_outcome(aid, rec.recommendation_id, "successful", 0.5, NOW)
    data = await ok(memory, "cognee_aggregate_insights", account_id=aid)
    totals = {
        key: sum(r[key] for r in data["outcome_rates"])
        for key in ("total", "accepted", "rejected", "successful")
    }
    assert totals == {"total": len(recs), "accepted": 1, "rejected": 1, "successful": 1}
    decided = [r for r in data["outcome_rates"] if r["accepted"] + r["rejected"]]
    assert all(r["acceptance_rate"] in (0.0, 0.5, 1.0) for r in decided)


async def test_aggregates_of_an_unknown_account_are_an_error(memory: LocalMemory) -> None:
    assert "knows no account" in await error(memory, "cognee_aggregate_insights", account_id="x")


# --- relationship graph ------------------------------------------------------------------------


def _check_graph(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = {n["id"]: n for n in data["nodes"]}
    assert len(nodes) == len(data["nodes"]), "a node appears twice"
    for edge in data["edges"]:
        assert {edge["source"], edge["target"]} <= nodes.keys(), edge
    return nodes


async def test_graph_of_a_scenario_account(memory: LocalMemory, reviewed: ReviewedMemory) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    data = await ok(memory, "cognee_get_relationship_graph", account_id=aid)
    nodes = _check_graph(data)
    assert nodes[f"account:{aid}"]["ref"] == f"zoho:Accounts:{aid}"
    contacts = [n for n in nodes.values() if n["type"] == "contact"]
    deals = [n for n in nodes.values() if n["type"] == "deal"]
    assert contacts
    assert deals
    assert any(c["data"].get("role") for c in contacts)
    assert all(d["data"]["stage"] for d in deals)
    assert "Executive sponsor changed" in [n["label"] for n in nodes.values()]
    assert data["counts"]["contact"] == len(contacts)
    assert "nodes[].label" in data["untrusted_fields"]


async def test_graph_never_duplicates_a_shared_contact(tmp_path: Path) -> None:
    store = LocalMemory(tmp_path / "memory.db", clock=CLOCK)
    owner = Owner(id="u1", name="Jordan", email="jordan@demo.sergas.test")
    dana = Contact(id="c1", name="Dana Whitfield", role="Executive Sponsor")
    facts = AccountFacts(
        account=Account(id="a1", name="Acme", owner=owner),
        contacts=[dana, Contact(id="c2", name="Lee Park", role="Influencer")],
        deals=[
            Deal(id="d1", name="Renewal", stage="Negotiation", contact=Link(id="c1", name="Dana")),
            Deal(id="d2", name="Expansion", stage="Proposal", contact=Link(id="c1", name="Dana")),
            Deal(id="d3", name="Pilot", stage="Qualification", contact=Link(id="c9", name="Ex")),
        ],
        activities=[
            Activity(id="t1", kind="call", subject="Check-in", when=NOW, who=Link(id="c1")),
            Activity(id="t2", kind="task", subject="Send deck", when=NOW, who=Link(id="c1")),
        ],
        signals=[RiskSignal(key="single_threaded", message="Only one contact engaged")],
        report=ScoutReport(account_id="a1", account_name="Acme", owner=owner.email or ""),
        reviewed_at=NOW,
    )
    try:
        await store.ingest(facts)
        await store.ingest(facts)
        data = await ok(store, "cognee_get_relationship_graph", account_id="a1")
    finally:
        await store.close()
    nodes = _check_graph(data)
    contact_ids = sorted(n["id"] for n in nodes.values() if n["type"] == "contact")
    assert contact_ids == ["contact:c1", "contact:c2", "contact:c9"]
    assert nodes["contact:c1"]["data"] == {
        "title": None,
        "role": "Executive Sponsor",
        "activities": 2,
    }
    assert nodes["contact:c1"]["label"] == "Dana Whitfield"
    relations = sorted((e["source"], e["target"], e["relation"]) for e in data["edges"])
    assert ("deal:d1", "contact:c1", "deal_contact") in relations
    assert ("deal:d2", "contact:c1", "deal_contact") in relations
    assert relations.count(("account:a1", "contact:c1", "has_contact")) == 1
    assert len(relations) == len(set(relations))


async def test_a_version_1_memory_file_gains_deals_and_signals(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        schema.MIGRATIONS[0][1](conn)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO accounts VALUES ('a1', 'Acme', NULL, ?, ?)", (NOW.isoformat(),) * 2
        )
    store = LocalMemory(path, clock=CLOCK)
    try:
        data = await ok(store, "cognee_get_relationship_graph", account_id="a1")
        stats = await store.stats()
    finally:
        await store.close()
    assert [n["id"] for n in data["nodes"]] == ["account:a1"]
    assert (stats["deals"], stats["signals"], stats["schema_version"]) == (0, 0, 2)


async def test_graph_of_an_unknown_account_is_an_error(memory: LocalMemory) -> None:
    assert "knows no account" in await error(
        memory, "cognee_get_relationship_graph", account_id="404"
    )


# --- store context -----------------------------------------------------------------------------


async def test_store_context_is_idempotent_and_searchable(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    aid = reviewed.scenarios["healthy_expansion"]
    note = {"account_id": aid, "kind": "note", "title": "Board memo", "text": "Quokka rollout."}
    first = await ok(memory, "cognee_store_context", **note)
    stats = await memory.stats()
    second = await ok(memory, "cognee_store_context", **note)
    assert first == second
    assert first["ref"].startswith("memory:notes:")
    assert await memory.stats() == stats
    hits = (await ok(memory, "cognee_search_memory", query="quokka"))["hits"]
    assert [h["ref"] for h in hits] == [first["ref"]]

    event = await ok(
        memory,
        "cognee_store_context",
        account_id=aid,
        kind="key_event",
        text="New CFO started",
        impact="Budget review in Q1",
        date=str((NOW - timedelta(days=3)).date()),
    )
    promise = await ok(
        memory, "cognee_store_context", account_id=aid, kind="commitment", text="Signed the SOW"
    )
    history = await ok(memory, "cognee_retrieve_history", account_id=aid)
    assert {"date": "2026-10-30", "event": "New CFO started", "impact": "Budget review in Q1"} in (
        history["historical_context"]["key_events"]
    )
    assert "Signed the SOW" in history["historical_context"]["commitment_tracking"]
    assert {event["ref"], promise["ref"], first["ref"]} <= set(history["refs"])


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"account_id": "nope", "kind": "note", "text": "x"}, "knows no account"),
        ({"kind": "note", "text": "   "}, "needs a non-empty text"),
        ({"kind": "decision"}, "needs recommendation_id"),
        ({"kind": "decision", "recommendation_id": "r", "status": "maybe"}, "needs status"),
        ({"kind": "outcome", "recommendation_id": "r"}, "needs outcome"),
        ({"kind": "decision", "recommendation_id": "r", "status": "approved"}, "no recommendation"),
        ({"kind": "note", "text": "x", "effectiveness_score": 2}, "effectiveness_score"),
        ({"kind": "poem", "text": "x"}, "kind"),
    ],
)
async def test_store_context_expected_failures(
    memory: LocalMemory, reviewed: ReviewedMemory, arguments: dict[str, Any], expected: str
) -> None:
    arguments = {"account_id": reviewed.scenarios["healthy_expansion"]} | arguments
    before = await memory.stats()
    assert expected in await error(memory, "cognee_store_context", **arguments)
    assert await memory.stats() == before


# --- deduplicate -------------------------------------------------------------------------------


async def test_deduplicate_dry_run_then_remove(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    assert (await ok(memory, "cognee_deduplicate_records"))["duplicates"] == []
    history = await ok(memory, "cognee_retrieve_history", account_id=aid)
    sponsor = next(
        e
        for e in history["historical_context"]["key_events"]
        if e["event"] == "Executive sponsor changed"
    )
    event = {"kind": "key_event", "text": "executive  SPONSOR changed", "date": sponsor["date"]}
    commitment = {"kind": "commitment", "text": "budget approved for q1"}
    for item in (event, commitment):
        await ok(memory, "cognee_store_context", account_id=aid, **item)
    before = await memory.stats()

    dry = await ok(memory, "cognee_deduplicate_records", account_id=aid)
    assert (dry["dry_run"], dry["removed"]) == (True, 0)
    assert sorted(d["kind"] for d in dry["duplicates"]) == ["commitments", "key_events"]
    assert await memory.stats() == before
    other = reviewed.scenarios["healthy_expansion"]
    assert (await ok(memory, "cognee_deduplicate_records", account_id=other))["duplicates"] == []

    done = await ok(memory, "cognee_deduplicate_records", account_id=aid, dry_run=False)
    assert done["removed"] == 2
    after = await memory.stats()
    assert after["key_events"] == before["key_events"] - 1
    assert after["commitments"] == before["commitments"] - 1
    assert (await ok(memory, "cognee_deduplicate_records", dry_run=False))["removed"] == 0
    again = await ok(memory, "cognee_retrieve_history", account_id=aid)
    events = [e["event"] for e in again["historical_context"]["key_events"]]
    assert events.count("Executive sponsor changed") == 1
    assert "executive  SPONSOR changed" not in events


# --- bounded results ---------------------------------------------------------------------------


def test_bound_cuts_the_longest_list_and_says_so() -> None:
    data: dict[str, Any] = {
        "hits": [{"snippet": "x" * 200, "n": i} for i in range(500)],
        "refs": ["memory:notes:1"] * 5,
    }
    cut = bound(data, limit=10_000)
    assert len(to_text(cut)) <= 10_000
    assert cut["refs"] == data["refs"]
    assert cut["hits"] == data["hits"][: len(cut["hits"])]
    assert cut["result_truncated"]["dropped"] == {"hits": 500 - len(cut["hits"])}
    assert len(data["hits"]) == 500  # the input is untouched
    assert bound({"a": [1]}, limit=10_000) == {"a": [1]}


# --- our sergas_* tools ------------------------------------------------------------------------


def _acme(note: str = "Renewal looks safe; the CFO signed off.") -> AccountFacts:
    owner = Owner(id="u1", name="Jordan", email="jordan@demo.sergas.test")
    return AccountFacts(
        account=Account(id="acme-1", name="Acme", owner=owner),
        contacts=[Contact(id="c1", name="Dana Whitfield", role="Executive Sponsor")],
        notes=[Note(id="n1", title="QBR", content=note, created_time=NOW - timedelta(days=2))],
        signals=[RiskSignal(key="single_threaded", message="Only one contact engaged")],
        report=ScoutReport(account_id="acme-1", account_name="Acme", owner=owner.email or ""),
        reviewed_at=NOW,
    )


def _recommendation(rid: str = "rec-acme-1") -> Recommendation:
    return Recommendation(
        id=rid,
        account_id="acme-1",
        type="create_task",
        priority="high",
        confidence="medium",
        rationale="Single-threaded; meet a second stakeholder.",
        suggested_action=CreateTaskAction(subject="Meet the CFO", priority="High"),
        data_references=["zoho:Accounts:acme-1"],
        created_at=NOW - timedelta(hours=1),
    )


async def run(memory: LocalMemory, name: str, **arguments: Any) -> tuple[bool, dict[str, Any]]:
    outcome = await call_tool(name, memory, arguments, CLOCK, catalog=SERVER_TOOLS_BY_NAME)
    return outcome.is_error, outcome.data


async def done(memory: LocalMemory, name: str, **arguments: Any) -> dict[str, Any]:
    is_error, data = await run(memory, name, **arguments)
    assert not is_error, data
    return data


async def refused(memory: LocalMemory, name: str, **arguments: Any) -> dict[str, Any]:
    """The ``error`` object of a call that must fail and leave memory as it was."""
    before = await memory.stats()
    is_error, data = await run(memory, name, **arguments)
    assert is_error, data
    assert await memory.stats() == before
    error: dict[str, Any] = data["error"]
    return error


def test_sergas_catalog_names_and_annotations() -> None:
    assert SERGAS_TOOL_NAMES == (
        "sergas_ingest_facts",
        "sergas_record_recommendation",
        "sergas_record_decision",
        "sergas_record_outcome",
        "sergas_forget_account",
        "sergas_stats",
    )
    assert not set(SERGAS_TOOL_NAMES) & {*READ_TOOL_NAMES, *WRITE_TOOL_NAMES}  # no agent gets them
    for spec in SERGAS_TOOLS:
        hints = spec.annotations()
        assert hints.read_only_hint is (spec.name == "sergas_stats")
        assert hints.destructive_hint is (spec.name == "sergas_forget_account")
        assert "title" not in spec.input_schema()
        assert spec.input_schema()["additionalProperties"] is False
        assert "never to the CRM" in spec.description or spec.read_only


async def test_sergas_tools_run_only_from_the_server_catalog(memory: LocalMemory) -> None:
    outcome = await call_tool("sergas_forget_account", memory, {"account_id": "x"}, CLOCK)
    assert outcome.is_error
    assert outcome.data["error"]["code"] == "unknown_tool"


async def test_ingest_facts_is_idempotent_and_recallable(memory: LocalMemory) -> None:
    before = await memory.stats()
    facts = _acme()
    first = await done(memory, "sergas_ingest_facts", facts=facts.model_dump(mode="json"))
    assert first["account_id"] == "acme-1"
    assert first["received"] == {
        "contacts": 1,
        "deals": 0,
        "activities": 0,
        "notes": 1,
        "signals": 1,
    }
    after = await memory.stats()
    assert (after["accounts"], after["notes"]) == (before["accounts"] + 1, before["notes"] + 1)
    await done(memory, "sergas_ingest_facts", facts=facts.model_dump(mode="json"))
    assert await memory.stats() == after
    hits = (await ok(memory, "cognee_search_memory", query="CFO signed", account_id="acme-1"))[
        "hits"
    ]
    assert [h["ref"] for h in hits] == ["memory:notes:n1"]


@pytest.mark.parametrize(
    ("change", "code", "problem"),
    [
        (lambda d: d.pop("report"), "invalid_arguments", "facts.report"),
        (lambda d: d["account"].pop("id"), "invalid_arguments", "facts.account.id"),
        (lambda d: d.update(reviewed_at="yesterday"), "invalid_arguments", "facts.reviewed_at"),
        (lambda d: d["contacts"][0].pop("id"), "invalid_arguments", "facts.contacts.0.id"),
        (
            lambda d: d["notes"][0].update(content="x" * MAX_FACTS_CHARS),
            "too_large",
            "more than the 2000000 allowed",
        ),
    ],
)
async def test_ingest_facts_is_validated_and_bounded(
    memory: LocalMemory, change: Any, code: str, problem: str
) -> None:
    data = _acme().model_dump(mode="json")
    change(data)
    error = await refused(memory, "sergas_ingest_facts", facts=data)
    assert error["code"] == code
    assert problem in error["message"]


async def test_recommendation_decision_and_outcome_keep_their_times(memory: LocalMemory) -> None:
    await done(memory, "sergas_ingest_facts", facts=_acme().model_dump(mode="json"))
    rec = _recommendation()
    recorded = await done(
        memory,
        "sergas_record_recommendation",
        account_id="acme-1",
        recommendation=rec.model_dump(mode="json"),
    )
    assert recorded["ref"] == "memory:recommendations:rec-acme-1"
    decided_at, executed_at = NOW - timedelta(minutes=30), NOW - timedelta(minutes=5)
    common = {"account_id": "acme-1", "recommendation_id": rec.id}
    await done(
        memory,
        "sergas_record_decision",
        **common,
        status="approved",
        decided_at=decided_at.isoformat(),
        actor="jordan@demo.sergas.test",
        rationale="Worth it.",
    )
    await done(
        memory,
        "sergas_record_outcome",
        **common,
        outcome="partial",
        effectiveness_score=0.5,
        executed_at=executed_at.isoformat(),
    )
    (prior,) = await memory.prior_recommendations("acme-1")
    assert (prior.status, prior.decided_at, prior.decided_by) == (
        "executed",
        decided_at,
        "jordan@demo.sergas.test",
    )
    assert (prior.outcome, prior.effectiveness_score, prior.executed_at) == (
        "partial",
        0.5,
        executed_at,
    )


@pytest.mark.parametrize(
    ("name", "arguments", "code"),
    [
        ("sergas_record_decision", {"status": "approved", "actor": "x"}, "unknown_recommendation"),
        ("sergas_record_decision", {"status": "maybe", "actor": "x"}, "invalid_arguments"),
        ("sergas_record_decision", {"status": "approved"}, "invalid_arguments"),
        ("sergas_record_outcome", {"outcome": "successful"}, "unknown_recommendation"),
        ("sergas_record_outcome", {"outcome": "great"}, "invalid_arguments"),
        (
            "sergas_record_outcome",
            {"outcome": "successful", "effectiveness_score": 1.5},
            "invalid_arguments",
        ),
    ],
)
async def test_decision_and_outcome_expected_failures(
    memory: LocalMemory, name: str, arguments: dict[str, Any], code: str
) -> None:
    arguments = {"account_id": "acme-1", "recommendation_id": "nope"} | arguments
    assert (await refused(memory, name, **arguments))["code"] == code


async def test_a_malformed_recommendation_is_refused(memory: LocalMemory) -> None:
    data = _recommendation().model_dump(mode="json")
    data["suggested_action"] = {"subject": "x"}  # lacks what a create_task needs
    data["type"] = "send_email"
    error = await refused(
        memory, "sergas_record_recommendation", account_id="acme-1", recommendation=data
    )
    assert error["code"] == "invalid_arguments"


async def test_forget_account_removes_it_and_nothing_else(
    memory: LocalMemory, reviewed: ReviewedMemory
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    other = reviewed.scenarios["healthy_expansion"]
    kept = await ok(memory, "cognee_retrieve_history", account_id=other)
    before = await memory.stats()
    forgot = await done(memory, "sergas_forget_account", account_id=aid)
    assert forgot["removed"] > 0
    assert (await memory.stats())["accounts"] == before["accounts"] - 1
    assert "knows no account" in await error(memory, "cognee_retrieve_history", account_id=aid)
    assert await ok(memory, "cognee_retrieve_history", account_id=other) == kept
    assert (await done(memory, "sergas_forget_account", account_id=aid))["removed"] == 0


async def test_stats_counts_without_server_paths(memory: LocalMemory) -> None:
    data = await done(memory, "sergas_stats")
    want = await memory.stats()
    assert {k: data[k] for k in ("accounts", "notes", "recommendations")} == {
        k: want[k] for k in ("accounts", "notes", "recommendations")
    }
    assert data["backend"] == "local"
    assert data["server_version"]
    assert "path" not in data
    assert (await run(memory, "sergas_stats", verbose=True))[0]
