"""One conformance suite for every MemoryStore: local SQLite (in this process, and in the
memory process a large review's batch runs in), Cognee, and a remote MCP server.

A rules review of a small demo org fills a local memory while recording every write it makes;
the same writes are replayed into a Cognee store (through ``CogneeMemory.ingest`` and friends,
not by copying rows) and, through a ``RemoteMemory`` talking streamable HTTP to our memory MCP
server on a loopback port, into an empty local memory behind that server: the remote backend
is fed only by the ``sergas_*`` tools, as a shared team server is. Each test then holds every
backend to the local answers: the same HistoricalContext for the scenario accounts, search
finds the executive-sponsor change, ingest then recall, decisions and outcomes in history,
forget removes one account and nothing else, stats, relationship graph, insights.

The Cognee and remote variants skip (with the reason) when their dependency is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.config import load_settings
from sergas_tui.demo import generate
from sergas_tui.domain import AccountFacts, Recommendation
from sergas_tui.locations import Locations
from sergas_tui.memory import LocalMemory, MemoryStore, memory_path
from sergas_tui.memory.cognee.setup import cognee_available
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from tests.fakes.reviewed_memory import FAST, NOW

CLOCK = FixedClock(NOW)
TOKEN = "conformance-token-0123456789-XyZqW"
BACKENDS = ["local", "local-process", "cognee", "remote"]
needs_cognee = pytest.mark.skipif(
    not cognee_available(), reason="cognee is not installed (pip install 'sergas[cognee]')"
)


class RecordingMemory(LocalMemory):
    """A local memory that also keeps every fact and recommendation it was given."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, clock=CLOCK)
        self.writes: list[tuple[str, Any]] = []

    async def ingest(self, facts: AccountFacts) -> None:
        self.writes.append(("ingest", facts))
        await super().ingest(facts)

    async def record_recommendation(self, account_id: str, recommendation: Recommendation) -> None:
        self.writes.append(("recommendation", (account_id, recommendation)))
        await super().record_recommendation(account_id, recommendation)


@dataclass
class Reviewed:
    path: Path
    scenarios: dict[str, str]
    owner_email: str
    writes: list[tuple[str, Any]] = field(default_factory=list)
    cognee: Path | None = None
    remote: Path | None = None
    """A local memory filled only through the memory MCP server's tools."""


def _review(root: Path) -> Reviewed:
    locations = Locations(config_dir=root / "config", data_dir=root / "data", log_dir=root / "log")
    crm = locations.demo_crm_file("demo")
    crm.parent.mkdir(parents=True)
    generate(crm, accounts=30, owners=1, seed=7, now=NOW)
    services = open_services(
        load_settings(locations, overrides=FAST),
        locations,
        secrets=SecretStore(environ={}),
        clock=CLOCK,
    )
    path = memory_path(locations.database_file("demo"))
    recording = RecordingMemory(path)
    services._memory = recording  # the review writes through the recording store

    async def review() -> None:
        orchestrator = await services.orchestrator()
        async for _event in orchestrator.review(None):
            pass

    try:
        asyncio.run(review())
        assert services.demo is not None
        scenarios = {s.key: s.account_id for s in services.demo.scenarios()}
        owner = services.demo.meta().current_user_email
    finally:
        asyncio.run(services.aclose())
        services.close()
    return Reviewed(path, scenarios, owner, recording.writes)


async def _replay(store: MemoryStore, writes: list[tuple[str, Any]]) -> None:
    for kind, item in writes:
        if kind == "ingest":
            await store.ingest(item)
        else:
            await store.record_recommendation(*item)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Reviewed:
    root = tmp_path_factory.mktemp("conformance")
    result = _review(root)
    if cognee_available():
        from sergas_tui.memory.cognee.backend import CogneeMemory
        from sergas_tui.memory.cognee.embed import resolve_spec

        result.cognee = root / "cognee"

        async def fill() -> None:
            store = CogneeMemory(
                result.cognee,  # type: ignore[arg-type]
                embedder=resolve_spec("offline", None),
                clock=CLOCK,
                log_file=root / "cognee.log",
            )
            try:
                await _replay(store, result.writes)
            finally:
                await store.close()

        asyncio.run(fill())
    result.remote = root / "remote.db"
    asyncio.run(_fill_through_server(result.remote, result.writes))
    return result


async def _fill_through_server(path: Path, writes: list[tuple[str, Any]]) -> None:
    from sergas_tui.memory.remote import RemoteMemory

    backing = LocalMemory(path, clock=CLOCK)
    try:
        async with served(backing) as url:
            remote = RemoteMemory(url, TOKEN)
            try:
                await _replay(remote, writes)
            finally:
                await remote.close()
            assert remote.sessions_opened == 1  # one session for the whole replay
    finally:
        await backing.close()


def _copy_local(reviewed: Reviewed, target: Path) -> Path:
    with closing(sqlite3.connect(reviewed.path)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return target


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def served(store: MemoryStore) -> AsyncIterator[str]:
    from sergas_tui.memory.mcp_server import build_memory_server, run_http

    loop = asyncio.get_running_loop()
    ready: asyncio.Future[str] = loop.create_future()
    server = build_memory_server(store, clock=CLOCK)
    task = asyncio.create_task(
        run_http(server, "127.0.0.1", free_port(), bearer_token=TOKEN, ready=ready.set_result)
    )
    try:
        yield await asyncio.wait_for(ready, 20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def expected(reviewed: Reviewed, tmp_path: Path) -> Iterator[LocalMemory]:
    """A pristine local memory: the answers every backend must give."""
    store = LocalMemory(_copy_local(reviewed, tmp_path / "expected.db"), clock=CLOCK)
    yield store
    store.close_now()


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, reviewed: Reviewed, tmp_path: Path
) -> AsyncIterator[MemoryStore]:
    kind = request.param
    if kind == "local":
        local = LocalMemory(_copy_local(reviewed, tmp_path / "memory.db"), clock=CLOCK)
        yield local
        await local.close()
        return
    if kind == "local-process":
        # The review's writes replayed through a batch in a memory process (a large review's
        # path); each test's operations then run there too, the batch still open.
        local = LocalMemory(tmp_path / "memory.db", clock=CLOCK, process_from=1)
        await local.begin_batch(len(reviewed.writes))
        assert local.in_process
        await _replay(local, reviewed.writes)
        yield local
        await local.close()
        return
    if kind == "cognee":
        if reviewed.cognee is None:
            pytest.skip("cognee is not installed (pip install 'sergas[cognee]')")
        from sergas_tui.memory.cognee.backend import CogneeMemory
        from sergas_tui.memory.cognee.embed import resolve_spec

        copy = tmp_path / "cognee"
        shutil.copytree(reviewed.cognee, copy)
        cognee = CogneeMemory(
            copy, embedder=resolve_spec("offline", None), clock=CLOCK, log_file=tmp_path / "log"
        )
        yield cognee
        await cognee.close()
        return
    from sergas_tui.memory.remote import RemoteMemory

    assert reviewed.remote is not None
    copy = tmp_path / "served.db"
    with closing(sqlite3.connect(reviewed.remote)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    backing = LocalMemory(copy, clock=CLOCK)
    async with served(backing) as url:
        remote = RemoteMemory(url, TOKEN)
        yield remote
        await remote.close()
    await backing.close()


def _kind(store: MemoryStore) -> str:
    return type(store).__name__


# --- the same answers --------------------------------------------------------------------------


async def test_same_context_for_the_scenario_accounts(
    store: MemoryStore, expected: LocalMemory, reviewed: Reviewed
) -> None:
    assert reviewed.scenarios, "the demo org has scenario accounts"
    for key, aid in sorted(reviewed.scenarios.items()):
        want = await expected.recall(aid, now=NOW)
        got = await store.recall(aid, now=NOW)
        assert got.context == want.context, key
        assert got.refs == want.refs, key
        assert await store.context(aid, now=NOW) == want.context


async def test_search_finds_the_executive_sponsor_change(
    store: MemoryStore, reviewed: Reviewed
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    for scope in (None, aid):
        hits = await store.search("executive sponsor", account_id=scope, limit=10)
        assert hits, scope
        assert hits[0].kind == "key_events"
        assert hits[0].account_id == aid
        assert "Executive sponsor" in hits[0].title
        assert all(h.account_id == aid for h in hits) or scope is None
    assert await store.search("", limit=5) == []
    assert await store.search('NEAR( "* [bold]', limit=5) is not None


async def test_history_and_relationship_graph(
    store: MemoryStore, expected: LocalMemory, reviewed: Reviewed
) -> None:
    since, until = NOW - timedelta(days=120), NOW
    for aid in sorted(reviewed.scenarios.values()):
        want = await expected.history(aid, since=since, until=until)
        got = await store.history(aid, since=since, until=until)
        assert want is not None
        assert got is not None
        if _kind(store) == "RemoteMemory":  # the tool works in whole days
            assert got.model_dump(exclude={"since", "until"}) == want.model_dump(
                exclude={"since", "until"}
            )
        else:
            assert got == want
        assert await store.relationship_graph(aid) == await expected.relationship_graph(aid)
    assert await store.history("no-such-account", since=since, until=until) is None
    assert await store.relationship_graph("no-such-account") is None


async def test_insights_and_prior_recommendations(
    store: MemoryStore, expected: LocalMemory, reviewed: Reviewed
) -> None:
    since, until = NOW - timedelta(days=90), NOW
    if _kind(store) != "RemoteMemory":  # the remote window ends at the server's clock
        for scope in ({}, {"owner_email": reviewed.owner_email}):
            got = await store.insights(since=since, until=until, **scope)
            assert got == await expected.insights(since=since, until=until, **scope)
    aid = reviewed.scenarios["exec_sponsor_changed"]
    want = await expected.insights(account_id=aid, since=since, until=until)
    got = await store.insights(account_id=aid, since=since, until=until)
    assert got.model_dump(exclude={"since"}) == want.model_dump(exclude={"since"})
    assert await store.prior_recommendations(aid) == await expected.prior_recommendations(aid)


async def test_ingest_then_recall_equal(
    store: MemoryStore, expected: LocalMemory, reviewed: Reviewed
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    facts: AccountFacts = [f for k, f in reviewed.writes if k == "ingest" and f.account_id == aid][
        -1
    ]
    assert facts.notes, "the sponsor account has notes to imitate"
    note = facts.notes[0].model_copy(
        update={
            "id": "conformance-note-1",
            "title": "Budget call",
            "content": "The new sponsor wants a renewal discount before the budget freeze.",
            "created_time": NOW - timedelta(days=1),
            "modified_time": NOW - timedelta(days=1),
        }
    )
    later = facts.model_copy(update={"notes": [*facts.notes, note], "reviewed_at": NOW})
    rec: Recommendation = next(
        r for k, (a, r) in ((k, i) for k, i in reviewed.writes if k == "recommendation") if a == aid
    )
    again = rec.model_copy(update={"id": "conformance-rec-1", "created_at": NOW})
    for target in (store, expected):
        await target.ingest(later)
        await target.ingest(later)  # idempotent
        await target.record_recommendation(aid, again)
        await target.record_recommendation(aid, again)
    want = await expected.recall(aid, now=NOW)
    got = await store.recall(aid, now=NOW)
    assert (got.context, got.refs) == (want.context, want.refs)
    assert await store.prior_recommendations(aid) == await expected.prior_recommendations(aid)
    assert "conformance-rec-1" in {
        p.recommendation_id for p in await store.prior_recommendations(aid)
    }
    hits = await store.search("budget freeze discount", account_id=aid, limit=5)
    assert ("notes", "conformance-note-1") in {(h.kind, h.id) for h in hits}
    kinds = ("accounts", "notes", "activities", "contacts", "deals", "recommendations")
    got_stats, want_stats = await store.stats(), await expected.stats()
    assert {k: got_stats[k] for k in kinds} == {k: want_stats[k] for k in kinds}


async def test_decisions_and_outcomes_update_in_place(
    store: MemoryStore, expected: LocalMemory, reviewed: Reviewed
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    prior = await expected.prior_recommendations(aid)
    assert prior, "the review recommended something for the sponsor change"
    rid = prior[0].recommendation_id
    for target in (store, expected):
        assert await target.record_decision(aid, rid, "approved", decided_at=NOW, actor="ae")
        assert await target.record_outcome(aid, rid, "successful", 0.8, NOW)
        assert not await target.record_decision(aid, "nope", "approved", decided_at=NOW, actor="x")
    got = await store.prior_recommendations(aid)
    assert got == await expected.prior_recommendations(aid)
    assert (got[0].status, got[0].outcome) == ("executed", "successful")
    assert (got[0].decided_at, got[0].decided_by, got[0].executed_at) == (NOW, "ae", NOW)
    since = NOW - timedelta(days=400)
    seen = await store.history(aid, since=since, until=NOW)
    want = await expected.history(aid, since=since, until=NOW)
    assert seen is not None
    assert want is not None
    assert seen.prior_recommendations == want.prior_recommendations
    assert seen.context == want.context
    mine = [p for p in seen.prior_recommendations if p.recommendation_id == rid]
    assert [(p.status, p.outcome, p.effectiveness_score) for p in mine] == [
        ("executed", "successful", 0.8)
    ]


async def test_store_context_and_deduplicate(
    store: MemoryStore, expected: LocalMemory, reviewed: Reviewed
) -> None:
    from sergas_tui.memory.store import ContextItem

    aid = reviewed.scenarios["exec_sponsor_changed"]
    item = ContextItem(kind="commitment", text="Agreed to a pilot in March")
    for target in (store, expected):
        ref = await target.store_context(aid, item, now=NOW)
        assert ref is not None
        assert ref.module == "commitments"
        assert await target.store_context("no-such-account", item, now=NOW) is None
    assert await store.context(aid, now=NOW) == await expected.context(aid, now=NOW)
    want = await expected.deduplicate(dry_run=True)
    assert await store.deduplicate(dry_run=True) == want
    event = (await expected.context(aid, now=NOW)).historical_context.key_events[0]
    again = ContextItem(kind="key_event", text=event.event, impact="Told twice", date=event.date)
    for target in (store, expected):
        assert await target.store_context(aid, again, now=NOW) is not None
    want = await expected.deduplicate(dry_run=False)
    assert want.removed >= 1
    assert await store.deduplicate(dry_run=False) == want
    assert await store.context(aid, now=NOW) == await expected.context(aid, now=NOW)
    assert await store.relationship_graph(aid) == await expected.relationship_graph(aid)


# --- forget and stats --------------------------------------------------------------------------


async def test_forget_removes_the_account_and_nothing_else(
    store: MemoryStore, expected: LocalMemory, reviewed: Reviewed
) -> None:
    aid = reviewed.scenarios["exec_sponsor_changed"]
    others = sorted(a for a in reviewed.scenarios.values() if a != aid)
    before = await store.stats()
    removed = await store.forget(aid)
    assert removed == await expected.forget(aid)
    assert removed > 0
    assert await store.search("executive sponsor", account_id=aid) == []
    assert await store.history(aid, since=NOW - timedelta(days=400), until=NOW) is None
    for other in others:
        assert await store.context(other, now=NOW) == await expected.context(other, now=NOW)
    after = await store.stats()
    counted = ("accounts", "notes", "activities", "contacts", "deals", "signals", "key_events")
    assert sum(before[k] - after[k] for k in (*counted, "commitments", "recommendations")) == (
        removed
    )
    assert {k: after[k] for k in counted} == {k: (await expected.stats())[k] for k in counted}
    assert await store.forget(aid) == 0  # forgetting twice removes nothing more
    assert await store.stats() == after


async def test_stats_count_the_same_items(store: MemoryStore, expected: LocalMemory) -> None:
    got, want = await store.stats(), await expected.stats()
    if _kind(store) == "RemoteMemory":
        assert (got["backend"], got["server_backend"]) == ("remote", "local")
        assert got["endpoint"].startswith("http://127.0.0.1:")
        assert "path" not in got  # the server's file system stays on the server
    kinds = ("accounts", "notes", "activities", "contacts", "deals", "signals", "key_events")
    assert {k: got[k] for k in (*kinds, "commitments", "recommendations", "newest_ingest")} == {
        k: want[k] for k in (*kinds, "commitments", "recommendations", "newest_ingest")
    }


@needs_cognee
async def test_cognee_ingest_again_changes_nothing(reviewed: Reviewed, tmp_path: Path) -> None:
    from sergas_tui.memory.cognee.backend import CogneeMemory
    from sergas_tui.memory.cognee.embed import resolve_spec

    assert reviewed.cognee is not None
    copy = tmp_path / "cognee"
    shutil.copytree(reviewed.cognee, copy)
    store = CogneeMemory(copy, embedder=resolve_spec("offline", None), clock=CLOCK)
    try:
        aid = reviewed.scenarios["exec_sponsor_changed"]
        before = (await store.stats(), await store.recall(aid, now=NOW))
        await _replay(store, reviewed.writes)
        assert (await store.stats(), await store.recall(aid, now=NOW)) == before
    finally:
        await store.close()
