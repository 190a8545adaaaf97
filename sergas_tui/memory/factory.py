"""Choosing and feeding a memory backend: ``open_memory``, backfill, import and reindex.

- :func:`open_memory` — the store ``[memory]`` asks for: a shared memory MCP server when
  ``endpoint`` is set (:class:`~.remote.RemoteMemory`), else ``backend = 'cognee'``
  (:class:`~.cognee.backend.CogneeMemory` in ``<workspace>/cognee/``) or the local SQLite file.
  Cognee is imported only when a Cognee store is first used.
- :func:`backfill` — ingest a workspace's facts (from a sync and the Data Scout) with progress.
- :func:`import_local` — copy a workspace's local ``memory.db`` (its whole history: key events,
  decisions, outcomes) into Cognee, for a workspace switching backends.
- :func:`reindex` — re-embed a Cognee data dir with the configured embedder.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterable, Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sergas_tui.clock import Clock
from sergas_tui.config import Settings
from sergas_tui.domain import AccountFacts
from sergas_tui.errors import ConfigError
from sergas_tui.locations import Locations
from sergas_tui.memory.cognee import points as p
from sergas_tui.memory.cognee.embed import resolve_spec
from sergas_tui.memory.local import LocalMemory
from sergas_tui.memory.schema import memory_path
from sergas_tui.memory.store import MemoryStore

if TYPE_CHECKING:
    from sergas_tui.memory.cognee.backend import CogneeMemory

COGNEE_DIR = "cognee"
MEMORY_TOKEN_ENV = "SERGAS_MEMORY_TOKEN"
Progress = Callable[[int], None]


def cognee_dir(locations: Locations, workspace: str) -> Path:
    """Where a workspace keeps its Cognee memory: ``<workspace>/cognee/``."""
    return locations.workspace_dir(workspace) / COGNEE_DIR


def open_cognee(
    settings: Settings,
    locations: Locations,
    workspace: str,
    clock: Clock,
    *,
    pin: bool = True,
) -> CogneeMemory:
    from sergas_tui.memory.cognee.backend import CogneeMemory
    from sergas_tui.memory.cognee.setup import cognee_available

    if not cognee_available():
        raise ConfigError(
            "[memory] backend = 'cognee' needs the Cognee extra: pip install 'sergas[cognee]'.",
            title="Cognee is not installed",
        )
    memory = settings.memory
    return CogneeMemory(
        cognee_dir(locations, workspace),
        embedder=resolve_spec(memory.embedding_provider, memory.embedding_model),
        stale_after_days=memory.stale_after_days,
        clock=clock,
        log_file=locations.log_file,
        pin=pin,
    )


def open_memory(
    settings: Settings,
    locations: Locations,
    workspace: str,
    clock: Clock,
    secrets: Any | None = None,
) -> MemoryStore:
    """The memory store the configuration asks for (see the module docstring).

    A remote endpoint's bearer token is the ``mcp_server_token`` secret (the one the server
    was started with), or ``SERGAS_MEMORY_TOKEN``.
    """
    memory = settings.memory
    if memory.endpoint:
        import os

        from sergas_tui.memory.remote import RemoteMemory

        token = secrets.get("mcp_server_token") if secrets is not None else None
        value = _secret_text(token) or os.environ.get(MEMORY_TOKEN_ENV)
        return RemoteMemory(memory.endpoint, value)
    if memory.backend == "cognee":
        return open_cognee(settings, locations, workspace, clock)
    return LocalMemory(
        memory_path(locations.database_file(workspace)),
        stale_after_days=memory.stale_after_days,
        clock=clock,
    )


def _secret_text(value: object) -> str | None:
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal()) if callable(reveal) else str(value)


@dataclass(frozen=True)
class BackfillReport:
    accounts: int
    seconds: float


async def backfill(
    store: MemoryStore,
    facts: Iterable[AccountFacts] | AsyncIterable[AccountFacts],
    *,
    progress: Progress | None = None,
) -> BackfillReport:
    """Ingest every account's facts into ``store`` (Cognee in batches); report the count."""
    from sergas_tui.memory.cognee.backend import CogneeMemory

    loop = asyncio.get_running_loop()
    started = loop.time()
    if isinstance(store, CogneeMemory):
        count = await store.ingest_many(facts, progress=progress)
        return BackfillReport(count, loop.time() - started)
    count = 0
    if isinstance(facts, AsyncIterable):
        async for item in facts:
            await store.ingest(item)
            count += 1
            if progress is not None:
                progress(1)
    else:
        for item in facts:
            await store.ingest(item)
            count += 1
            if progress is not None:
                progress(1)
    return BackfillReport(count, loop.time() - started)


async def ingest_workspace(
    store: MemoryStore,
    facts: Iterable[AccountFacts] | AsyncIterable[AccountFacts],
    *,
    local_file: Path | None = None,
    progress: Progress | None = None,
) -> BackfillReport:
    """``sergas memory ingest``: for a Cognee store, first copy the workspace's local memory
    file (its history) when there is one; then ingest the facts of a fresh sync."""
    from sergas_tui.memory.cognee.backend import CogneeMemory

    copy = isinstance(store, CogneeMemory) and local_file is not None
    if copy and local_file is not None and await asyncio.to_thread(local_file.exists):
        await import_local(store, local_file)  # type: ignore[arg-type]
    return await backfill(store, facts, progress=progress)


def read_local(path: Path) -> list[p.Snapshot]:
    """A local memory file's rows, one snapshot per account (rowids kept as ``seq``)."""
    by_account: dict[str, p.Snapshot] = {}
    uri = f"{path.absolute().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        for table in p.NODE_TYPES:
            for r in conn.execute(f"SELECT rowid AS seq, * FROM {table} ORDER BY rowid"):
                row = dict(r)
                snap = by_account.setdefault(str(row["account_id"]), p.Snapshot())
                snap.rows[table][p.row_key(table, row)] = row
        for r in conn.execute("SELECT account_id, kind, item_id, title, body, day FROM documents"):
            snap = by_account.setdefault(str(r["account_id"]), p.Snapshot())
            snap.docs[(r["kind"], r["item_id"])] = (
                r["account_id"],
                r["title"],
                r["body"],
                r["day"],
            )
    return [by_account[aid] for aid in sorted(by_account)]


async def import_local(store: CogneeMemory, path: Path, *, progress: Progress | None = None) -> int:
    """Copy the local memory file at ``path`` into ``store``; return the accounts copied."""
    snapshots = await asyncio.to_thread(read_local, path)
    return await store.import_snapshots(snapshots, progress=progress)


async def reindex(
    settings: Settings,
    locations: Locations,
    workspace: str,
    clock: Clock,
    *,
    progress: Progress | None = None,
) -> int:
    """Re-embed the workspace's Cognee memory with the configured embedder (``sergas memory
    reindex``); return the items embedded."""
    store = open_cognee(settings, locations, workspace, clock, pin=False)
    try:
        return await store.reindex(progress=progress)
    finally:
        await store.close()
