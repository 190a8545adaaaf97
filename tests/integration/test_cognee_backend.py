"""The Cognee backend's own promises: quiet, the embedding hook, pinning, reindex, sharing.

Skipped (with the reason) when cognee is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.domain import Contact
from sergas_tui.errors import ConfigError
from sergas_tui.memory.cognee.embed import EmbedderSpec, resolve_spec
from sergas_tui.memory.cognee.setup import cognee_available
from tests.helpers.memory import NOW, make_facts

pytestmark = pytest.mark.skipif(
    not cognee_available(), reason="cognee is not installed (pip install 'sergas[cognee]')"
)
ROOT = Path(__file__).resolve().parents[2]
CLOCK = FixedClock(NOW)
OFFLINE = resolve_spec("offline", None, {})


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[object]:
    from sergas_tui.memory.cognee.backend import CogneeMemory

    store = CogneeMemory(tmp_path / "cognee", embedder=OFFLINE, clock=CLOCK)
    yield store
    await store.close()


QUIET_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from sergas_tui.clock import FixedClock
    from sergas_tui.memory.cognee.backend import CogneeMemory
    from sergas_tui.memory.cognee.embed import resolve_spec
    from tests.helpers.memory import NOW, make_facts

    async def main(root):
        store = CogneeMemory(root, embedder=resolve_spec("offline", None), clock=FixedClock(NOW),
                             log_file=root.parent / "sergas.log")
        await store.ingest(make_facts("a1", notes=[(3, "Budget approved for Q1.")]))
        hits = await store.search("budget approved")
        assert hits and hits[0].account_id == "a1", hits
        await store.forget("a1")
        await store.close()

    asyncio.run(main(Path(sys.argv[1])))
    """
)


def test_nothing_reaches_stdout_or_stderr(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "COGNEE_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", QUIET_SCRIPT, str(tmp_path / "cognee")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (done.stdout, done.stderr) == ("", "")
    assert not list(tmp_path.glob("*.log")) or (tmp_path / "sergas.log").exists()
    assert not (tmp_path / "cognee" / "system" / ".." / ".." / ".env").exists()


def test_a_stdio_mcp_stream_stays_clean(tmp_path: Path) -> None:
    """Our memory MCP server over a Cognee store, spoken to over stdio: every stdout line is a
    JSON-RPC message and nothing is written to stderr."""
    server = textwrap.dedent(
        """
        import anyio, sys
        from pathlib import Path
        from sergas_tui.clock import FixedClock
        from sergas_tui.logs import configure_logging
        from sergas_tui.memory.cognee.backend import CogneeMemory
        from sergas_tui.memory.cognee.embed import resolve_spec
        from sergas_tui.memory.mcp_server import run_memory_server
        from tests.helpers.memory import NOW, make_facts

        async def main():
            configure_logging(Path(sys.argv[1]).parent / "sergas.log")  # as `sergas mcp` does
            store = CogneeMemory(Path(sys.argv[1]), embedder=resolve_spec("offline", None),
                                 clock=FixedClock(NOW))
            await store.ingest(make_facts("a1", notes=[(3, "Budget approved for Q1.")]))
            await run_memory_server(store, http_port=None, token=None, read_only=True,
                                    clock=FixedClock(NOW))
            await store.close()

        anyio.run(main)
        """
    )
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "cognee_search_memory", "arguments": {"query": "budget"}},
        },
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", server, str(tmp_path / "cognee")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    lines: list[dict[str, Any]] = []
    try:
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        proc.stdin.flush()
        while len(lines) < 2:  # every line must be a JSON-RPC message
            line = proc.stdout.readline()
            assert line, "the server ended early"
            lines.append(json.loads(line))
    finally:
        _out, err = proc.communicate(timeout=120)  # closes stdin: the server ends
    assert [m.get("id") for m in lines] == [1, 2]
    assert "result" in lines[1], lines[1]
    result = lines[1]["result"]
    assert not result.get("isError"), result
    assert json.loads(result["content"][0]["text"])["hits"][0]["account_id"] == "a1"
    assert err == ""


async def test_the_embedding_factory_hook_reaches_cognee(memory: object) -> None:
    import importlib

    from sergas_tui.memory.cognee.embed import LocalEngine

    await memory.stats()  # type: ignore[attr-defined]  # opens (imports) Cognee
    module = importlib.import_module(
        "cognee.infrastructure.databases.vector.embeddings.get_embedding_engine"
    )
    assert getattr(module.create_embedding_engine, "_sergas_hook", False)
    engine = module.get_embedding_engine()  # Cognee's own resolver, from its settings
    assert isinstance(engine, LocalEngine), type(engine)
    assert engine.get_vector_size() == OFFLINE.dimensions
    vectors = await engine.embed_text(["executive sponsor"])
    assert len(vectors[0]) == OFFLINE.dimensions


async def test_another_embedder_needs_a_reindex(tmp_path: Path) -> None:
    from sergas_tui.memory.cognee.backend import CogneeMemory

    root = tmp_path / "cognee"
    store = CogneeMemory(root, embedder=OFFLINE, clock=CLOCK)
    await store.ingest(make_facts("a1", notes=[(3, "Budget approved for Q1.")]))
    await store.close()
    wider = EmbedderSpec(OFFLINE.provider, "hashing-wide", 256)
    with pytest.raises(ConfigError, match="sergas memory reindex"):
        CogneeMemory(root, embedder=wider, clock=CLOCK)
    reindexing = CogneeMemory(root, embedder=wider, clock=CLOCK, pin=False)
    assert await reindexing.reindex() == 2  # the note and its commitment
    await reindexing.close()
    reopened = CogneeMemory(root, embedder=wider, clock=CLOCK)
    hits = await reopened.search("budget approved", account_id="a1")
    assert hits
    assert hits[0].kind in ("notes", "commitments")
    await reopened.close()


async def test_forget_keeps_a_contact_another_account_uses(memory: object) -> None:
    from sergas_tui.memory.cognee import points as p
    from sergas_tui.memory.cognee.backend import CogneeMemory

    assert isinstance(memory, CogneeMemory)
    shared = Contact(id="c-shared", name="Dana Lee", title="CFO", role="Executive Sponsor")
    alone = Contact(id="c-alone", name="Sam Poe", title="IT", role="Evaluator")
    await memory.ingest(make_facts("a1", contacts=[shared, alone], notes=[(2, "Call notes.")]))
    await memory.ingest(make_facts("a2", contacts=[shared]))
    graph = await memory.relationship_graph("a2")
    assert graph is not None
    assert "contact:c-shared" in {n.id for n in graph.nodes}
    removed = await memory.forget("a1")
    assert removed == 4  # account, two contact links, one note
    nodes = await memory.stores.graph.get_nodes(  # the graph itself, not our view of it
        [p.contact_node_id("c-shared"), p.contact_node_id("c-alone")]
    )
    assert [n["row"]["name"] for n in nodes] == ["Dana Lee"]
    graph = await memory.relationship_graph("a2")
    assert graph is not None
    assert "contact:c-shared" in {n.id for n in graph.nodes}
    assert await memory.relationship_graph("a1") is None
    assert (await memory.stats())["contacts"] == 1


async def test_import_of_a_local_memory_file(tmp_path: Path) -> None:
    from sergas_tui.memory import LocalMemory
    from sergas_tui.memory.cognee.backend import CogneeMemory
    from sergas_tui.memory.factory import import_local

    local = LocalMemory(tmp_path / "memory.db", clock=CLOCK)
    await local.ingest(make_facts("a1", notes=[(3, "Budget approved for Q1."), (1, "Quiet.")]))
    await local.ingest(make_facts("a2", notes=[(5, "Renewal intent confirmed.")]))
    store = CogneeMemory(tmp_path / "cognee", embedder=OFFLINE, clock=CLOCK)
    try:
        assert await import_local(store, tmp_path / "memory.db") == 2
        for aid in ("a1", "a2"):
            assert await store.recall(aid, now=NOW) == await local.recall(aid, now=NOW)
        assert (await store.search("renewal intent"))[0].account_id == "a2"
    finally:
        await store.close()
        await local.close()
