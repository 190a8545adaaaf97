"""Cognee's graph and vector stores for one data dir, as the memory backend uses them.

:class:`CogneeStores` owns the Turso graph adapter (``graph.db``) and the LanceDB vector adapter
(``vectors.lancedb``) of a Cognee memory, and knows how to read accounts from them and write
:class:`~.points.Changes` back. :class:`~.backend.CogneeMemory` holds the rules.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sergas_tui.memory.cognee import points as p
from sergas_tui.memory.cognee.embed import EmbedderSpec, engine_for
from sergas_tui.memory.cognee.setup import CogneeApi, cognee_environment, load_cognee
from sergas_tui.memory.store import MemoryHit

GRAPH_FILE = "graph.db"
VECTOR_DIR = "vectors.lancedb"
MIN_SIMILARITY = 0.05
"""Hits less similar than this (cosine) share no real feature with the query."""
TERM = re.compile(r"\w+")
Batch = list[tuple[p.Snapshot, p.Changes, set[str]]]


class CogneeStores:
    """The opened graph and vector adapters of one data dir (see the module docstring)."""

    def __init__(self, api: CogneeApi, graph: Any, vector: Any, root: Path, embedder: EmbedderSpec):
        self.api = api
        self.graph = graph
        self.vector = vector
        self.root = root
        self.embedder = embedder
        self.classes = p.node_classes(api.DataPoint)
        self.has_texts = False

    @classmethod
    async def open(cls, root: Path, embedder: EmbedderSpec, log_file: Path | None) -> CogneeStores:
        """Import Cognee (configured for ``root``) if needed and open both stores."""
        env = cognee_environment(root, embedder.provider, embedder.model, embedder.dimensions)
        api = await asyncio.to_thread(load_cognee, root, env, log_file)
        graph = api.TursoAdapter(str(root / GRAPH_FILE))
        await graph.initialize()
        stores = cls(api, graph, None, root, embedder)
        stores.vector = stores._vector_adapter()
        stores.has_texts = bool(await stores.vector.has_collection(p.TEXT_COLLECTION))
        return stores

    def _vector_adapter(self) -> Any:
        return self.api.LanceDBAdapter(
            url=str(self.root / VECTOR_DIR),
            api_key=None,
            embedding_engine=engine_for(self.embedder),
        )

    async def read(self, account_id: str) -> tuple[p.Snapshot, bool]:
        """The account's rows from the graph, and whether its account node exists.

        The account node lists its items' node ids (see :func:`.points.writes`), so
        this is two primary-key lookups however large the graph grows.
        """
        snapshot = p.Snapshot()
        nodes = await self.fetch([p.account_node_id(account_id)])
        if not nodes:
            return snapshot, False
        members = snapshot.add_account(nodes[0])
        for node in await self.fetch(members):
            snapshot.add_node(node)
        return snapshot, True

    async def fetch(self, ids: list[str]) -> list[dict[str, Any]]:
        """Graph nodes by id, as ``get_nodes`` returns them, in indexed lookups.

        Cognee 1.6.5's Turso adapter matches ids with ``IN (SELECT value FROM json_each(…))``,
        which its engine runs as a scan of every node (40 ms at 50k nodes, growing with the
        graph and the id count); a bound ``IN (:i0, :i1, …)`` on the primary key takes well
        under a millisecond. Other graph adapters keep ``get_nodes``.
        """
        engine = getattr(self.graph, "engine", None)
        if not ids or engine is None:
            return list(await self.graph.get_nodes(ids)) if ids else []
        found: list[dict[str, Any]] = []
        async with engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join(f":i{n}" for n in range(len(chunk)))
                result = await conn.execute(
                    self.api.sql_text(
                        f"SELECT id, name, type, properties FROM graph_node WHERE id IN ({marks})"
                    ),
                    {f"i{n}": value for n, value in enumerate(chunk)},
                )
                for node_id, name, type_name, properties in result.fetchall():
                    props = json.loads(properties) if isinstance(properties, str) else {}
                    found.append({**(props or {}), "id": node_id, "name": name, "type": type_name})
        return found

    async def read_all(self, tables: Iterable[str]) -> p.Snapshot:
        types = sorted({p.NODE_TYPES[t] for t in tables} | {"Account"})
        nodes, edges = await self.graph.get_filtered_graph_data([{"type": types}])
        snapshot = p.Snapshot()
        by_id: dict[str, dict[str, Any]] = {}
        for node_id, data in nodes:
            node = {"id": node_id, **data}
            by_id[str(node_id)] = node
            snapshot.add_node(node)
        for _source, target, relation, props in edges:
            if relation == "has_contact" and str(target) in by_id:
                snapshot.add_node(by_id[str(target)], contact_row=props.get("row"))
        return snapshot

    async def write(self, batch: Batch) -> None:
        nodes: list[Any] = []
        edges: list[tuple[str, str, str, dict[str, Any]]] = []
        texts: list[Any] = []
        deleted: list[str] = []
        for after, changes, new_accounts in batch:
            n, e, t = p.writes(self.classes, after, changes, new_accounts)
            nodes += n
            edges += e
            texts += t
            deleted += [p.node_id(t_, r) for t_, rows in changes.deletes.items() for r in rows]
        if deleted:
            await self.vector.delete_data_points(p.TEXT_COLLECTION, deleted)
            await self.graph.delete_nodes(deleted)
        if nodes:
            await self.graph.add_nodes(nodes)
        if edges:
            await self.graph.add_edges(edges)
        await self.index(texts)

    async def index(self, texts: list[Any]) -> None:
        if not texts:
            return
        if not self.has_texts:
            await self.vector.create_vector_index(p.TEXT_TYPE, p.TEXT_FIELD)
            self.has_texts = True
        await self.vector.index_data_points(p.TEXT_TYPE, p.TEXT_FIELD, texts)

    async def search(self, query: str, account_id: str | None, limit: int) -> list[MemoryHit]:
        """Vector search over the searchable items, optionally of one account, best first."""
        if not self.has_texts:
            return []
        found = await self.vector.search(
            p.TEXT_COLLECTION,
            query_text=" ".join(TERM.findall(query)[:32]),
            limit=limit,
            node_name=[p.account_tag(account_id)] if account_id is not None else None,
        )
        scored = {str(r.id): 1.0 - float(r.score) for r in found}
        nodes = await self.fetch(list(scored))
        found_hits = (p.hit(node, scored[str(node["id"])]) for node in nodes)
        hits = [h for h in found_hits if h is not None and h.score >= MIN_SIMILARITY]
        return sorted(hits, key=lambda h: (-h.score, str(h.date or ""), h.id))[:limit]

    async def forget(self, account_id: str, snapshot: p.Snapshot) -> None:
        """Delete the account's nodes and vectors, and its contacts nobody else has."""
        owned = [
            p.node_id(table, row)
            for table, rows in snapshot.rows.items()
            if table != "contacts"
            for row in rows.values()
        ]
        root = p.account_node_id(account_id)
        gone = {*owned, root}
        for row in snapshot.rows["contacts"].values():
            contact = p.contact_node_id(str(row["id"]))
            links = await self.graph.get_connections(contact)
            others = {str(s["id"]) for s, _e, _t in links} | {str(t["id"]) for _s, _e, t in links}
            if others <= gone | {contact}:
                owned.append(contact)  # nobody else knows this person: forget them too
        searchable = [
            p.node_id(table, row) for table in p.SEARCHABLE for row in snapshot.rows[table].values()
        ]
        if searchable and self.has_texts:
            await self.vector.delete_data_points(p.TEXT_COLLECTION, searchable)
        await self.graph.delete_nodes([*owned, root])

    async def reset_vectors(self) -> None:
        """Drop every vector (for a reindex) and reopen an empty vector store."""
        await self.vector.close()
        await asyncio.to_thread(shutil.rmtree, self.root / VECTOR_DIR, True)
        self.vector = self._vector_adapter()
        self.has_texts = False

    async def close(self) -> None:
        await self.vector.close()
        await self.graph.close()
