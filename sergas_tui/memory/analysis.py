"""Local-memory queries behind the memory MCP server's graph, insight, context and dedup tools.

Plain functions over an open connection, called by :class:`~sergas_tui.memory.local.LocalMemory`
under its lock (writes inside its transaction). Everything here is deterministic: the same file
and arguments give the same answer, ordered the same way.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import JsonValue

from sergas_tui.domain import RecordRef, sentiment
from sergas_tui.memory import derive
from sergas_tui.memory.queries import known, ts, upsert_document
from sergas_tui.memory.store import (
    ContextItem,
    DedupReport,
    DuplicateItem,
    GraphEdge,
    GraphNode,
    MemoryInsights,
    MemoryKind,
    OutcomeRate,
    RelationshipGraph,
    SignalCount,
    memory_ref,
)

MAX_GRAPH_NODES = {"contact": 100, "deal": 100, "key_event": 20, "recommendation": 20}
"""How many nodes of each type a graph keeps (contacts by activity, the rest newest first)."""

SEVERITY_RANK = {"info": 0, "warning": 1, "high": 2, "critical": 3}
ACCEPTED = frozenset({"approved", "adjusted", "executing", "executed", "completed", "failed"})
"""Statuses meaning the owner said yes (``failed``: yes, but the write then failed)."""


# --- relationship graph ------------------------------------------------------------------------


def relationship_graph(conn: sqlite3.Connection, aid: str) -> RelationshipGraph | None:
    """Account ↔ contacts, deals, key events and recommendations; each node exactly once."""
    if not known(conn, aid):
        return None
    graph = _Graph(aid)
    account = conn.execute(
        "SELECT name, owner_email FROM accounts WHERE account_id = ?", (aid,)
    ).fetchone()
    root = graph.node(
        "account",
        aid,
        account["name"] if account else aid,
        str(RecordRef(module="Accounts", id=aid)),
        {"owner_email": account["owner_email"]} if account else {},
    )
    engaged = dict(
        conn.execute(
            "SELECT contact_id, count(*) FROM activities WHERE account_id = ? "
            "AND contact_id IS NOT NULL GROUP BY contact_id",
            (aid,),
        ).fetchall()
    )
    contacts = conn.execute(
        "SELECT id, name, title, role FROM contacts WHERE account_id = ? ORDER BY name, id",
        (aid,),
    ).fetchall()
    contacts = sorted(contacts, key=lambda r: -int(engaged.get(r["id"], 0)))
    for row in graph.capped("contact", contacts):
        data: dict[str, JsonValue] = {
            "title": row["title"],
            "role": row["role"],
            "activities": int(engaged.get(row["id"], 0)),
        }
        node = graph.node("contact", row["id"], row["name"], _zoho("Contacts", row["id"]), data)
        graph.edge(root, node, "has_contact", {"role": row["role"]})
    deals = conn.execute(
        "SELECT * FROM deals WHERE account_id = ? ORDER BY closing_date DESC, id", (aid,)
    ).fetchall()
    for row in graph.capped("deal", deals):
        data = {"stage": row["stage"], "amount": row["amount"], "closing_date": row["closing_date"]}
        node = graph.node("deal", row["id"], row["name"], _zoho("Deals", row["id"]), data)
        graph.edge(root, node, "has_deal")
        if row["contact_id"]:
            label = row["contact_name"] or row["contact_id"]
            contact = graph.node(
                "contact", row["contact_id"], label, _zoho("Contacts", row["contact_id"])
            )
            graph.edge(node, contact, "deal_contact")
    events = conn.execute(
        "SELECT id, day, event, impact FROM key_events WHERE account_id = ? "
        "ORDER BY day DESC, rowid DESC",
        (aid,),
    ).fetchall()
    for row in graph.capped("key_event", events):
        ref = str(memory_ref("key_events", row["id"]))
        data = {"date": row["day"], "impact": row["impact"]}
        graph.edge(root, graph.node("key_event", row["id"], row["event"], ref, data), "key_event")
    recs = conn.execute(
        "SELECT id, type, summary, status, outcome, created_at FROM recommendations "
        "WHERE account_id = ? ORDER BY created_at DESC, rowid DESC",
        (aid,),
    ).fetchall()
    for row in graph.capped("recommendation", recs):
        ref = str(memory_ref("recommendations", row["id"]))
        data = {
            "type": row["type"],
            "status": row["status"],
            "outcome": row["outcome"],
            "date": row["created_at"][:10],
        }
        node = graph.node("recommendation", row["id"], row["summary"], ref, data)
        graph.edge(root, node, "recommendation")
    return graph.result()


def _zoho(module: str, record_id: str) -> str:
    return str(RecordRef(module=module, id=record_id))


class _Graph:
    """Collects nodes by id (a node seen twice is kept once, its data merged) and edges."""

    def __init__(self, aid: str) -> None:
        self.aid = aid
        self.nodes: dict[str, GraphNode] = {}
        self.edges: dict[tuple[str, str, str], GraphEdge] = {}
        self.truncated: dict[str, int] = {}

    def capped(self, kind: str, rows: list[Any]) -> list[Any]:
        cap = MAX_GRAPH_NODES[kind]
        if len(rows) > cap:
            self.truncated[kind] = len(rows) - cap
        return rows[:cap]

    def node(
        self,
        kind: Any,
        record_id: str,
        label: str,
        ref: str,
        data: dict[str, JsonValue] | None = None,
    ) -> str:
        node_id = f"{kind}:{record_id}"
        existing = self.nodes.get(node_id)
        if existing is None:
            self.nodes[node_id] = GraphNode(
                id=node_id, type=kind, label=derive.clip(label, 200), ref=ref, data=data or {}
            )
        elif data:
            merged = {k: v for k, v in data.items() if v is not None or k not in existing.data}
            existing.data = {**existing.data, **merged}
        return node_id

    def edge(
        self, source: str, target: str, relation: str, data: dict[str, JsonValue] | None = None
    ) -> None:
        self.edges.setdefault(
            (source, target, relation),
            GraphEdge(source=source, target=target, relation=relation, data=data or {}),
        )

    def result(self) -> RelationshipGraph:
        return RelationshipGraph(
            account_id=self.aid,
            nodes=list(self.nodes.values()),
            edges=list(self.edges.values()),
            truncated=self.truncated,
        )


# --- aggregate insights ------------------------------------------------------------------------


def _scope(
    account_id: str | None, owner_email: str | None, column: str = "account_id"
) -> tuple[str, list[Any]]:
    """A WHERE fragment on ``column`` (an account id) for the scope, and its parameters."""
    clauses, params = ["1"], []
    if account_id is not None:
        clauses.append(f"{column} = ?")
        params.append(account_id)
    if owner_email is not None:
        clauses.append(
            f"{column} IN (SELECT account_id FROM accounts WHERE owner_email = ? COLLATE NOCASE)"
        )
        params.append(owner_email)
    return " AND ".join(clauses), params


def insights(
    conn: sqlite3.Connection,
    account_id: str | None,
    owner_email: str | None,
    since: datetime,
    until: datetime,
) -> MemoryInsights:
    """Signal counts, sentiment trends and outcome rates in ``[since, until]`` for the scope."""
    where, params = _scope(account_id, owner_email)
    accounts = {
        r[0] for r in conn.execute(f"SELECT account_id FROM accounts WHERE {where}", params)
    }
    accounts |= {
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT account_id FROM recommendations WHERE {where}", params
        )
    }
    first, last = since.date().isoformat(), until.date().isoformat()
    signals = [
        SignalCount(key=r[0], accounts=r[1], occurrences=r[2], severity=_severity(r[3]))
        for r in conn.execute(
            "SELECT key, count(DISTINCT account_id), count(*), max(CASE severity "
            "WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) "
            f"FROM signals WHERE {where} AND day BETWEEN ? AND ? GROUP BY key "
            "ORDER BY 2 DESC, 3 DESC, key",
            [*params, first, last],
        )
    ]
    points: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for r in conn.execute(
        f"SELECT account_id, written_at, sentiment FROM notes WHERE {where} "
        "AND written_at BETWEEN ? AND ? ORDER BY account_id, written_at, rowid",
        [*params, ts(since), ts(until)],
    ):
        points[r[0]].append((datetime.fromisoformat(r[1]), float(r[2])))
    trends = {aid: sentiment.trend(points.get(aid, [])) for aid in sorted(accounts)}
    distribution: dict[str, int] = {}
    for trend in ("declining", "stable", "improving", "unknown"):
        if count := sum(1 for t in trends.values() if t == trend):
            distribution[trend] = count
    rows = conn.execute(
        "SELECT type, status, outcome, effectiveness_score FROM recommendations "
        f"WHERE {where} AND created_at BETWEEN ? AND ? ORDER BY type",
        [*params, ts(since), ts(until)],
    ).fetchall()
    return MemoryInsights(
        account_id=account_id,
        owner_email=owner_email,
        since=since.date(),
        until=until.date(),
        accounts=len(accounts),
        signal_counts=signals,
        sentiment_trend=trends.get(account_id) if account_id is not None else None,
        sentiment_trends=distribution,
        outcome_rates=_outcome_rates(rows),
    )


def _severity(rank: int) -> str:
    return next(name for name, value in SEVERITY_RANK.items() if value == rank)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 3)


def _outcome_rates(rows: Iterable[sqlite3.Row]) -> list[OutcomeRate]:
    by_type: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for row in rows:
        by_type[row["type"]].append(row)
    rates = []
    for kind, group in sorted(by_type.items()):
        statuses = [r["status"] for r in group]
        outcomes = [r["outcome"] for r in group if r["outcome"]]
        scores = [
            float(r["effectiveness_score"]) for r in group if r["effectiveness_score"] is not None
        ]
        accepted = sum(1 for s in statuses if s in ACCEPTED)
        rejected, expired = statuses.count("rejected"), statuses.count("expired")
        successful = outcomes.count("successful")
        rates.append(
            OutcomeRate(
                type=kind,
                total=len(group),
                pending=statuses.count("pending"),
                accepted=accepted,
                rejected=rejected,
                expired=expired,
                failed=statuses.count("failed"),
                successful=successful,
                partial=outcomes.count("partial"),
                unsuccessful=outcomes.count("unsuccessful"),
                acceptance_rate=_rate(accepted, accepted + rejected + expired),
                success_rate=_rate(successful, len(outcomes)),
                mean_effectiveness=round(sum(scores) / len(scores), 3) if scores else None,
            )
        )
    return rates


# --- context and deduplication -----------------------------------------------------------------


def store_context(
    conn: sqlite3.Connection, aid: str, item: ContextItem, key: str, day: date, text: str
) -> RecordRef:
    """Insert a context note, key event or commitment (inside the caller's transaction)."""
    iso = day.isoformat()
    if item.kind == "note":
        title = derive.clip(item.title or "Context", 500)
        conn.execute(
            "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "title = excluded.title",
            (aid, key, title, text, f"{iso}T12:00:00.000000+00:00", sentiment.score(text)),
        )
        upsert_document(conn, aid, "notes", key, title, text, iso)
        return memory_ref("notes", key)
    if item.kind == "key_event":
        event, impact = derive.clip(text, 300), derive.clip(item.impact, 500) or None
        conn.execute(
            "INSERT INTO key_events VALUES (?, ?, ?, ?, ?, 'context', 'context') "
            "ON CONFLICT DO UPDATE SET impact = excluded.impact",
            (key, aid, iso, event, impact),
        )
        upsert_document(conn, aid, "key_events", key, event, impact or "", iso)
        return memory_ref("key_events", key)
    commitment = derive.clip(text, 300)
    conn.execute(
        "INSERT INTO commitments VALUES (?, ?, ?, ?, 'context') ON CONFLICT DO NOTHING",
        (key, aid, iso, commitment),
    )
    upsert_document(conn, aid, "commitments", key, commitment, "", iso)
    return memory_ref("commitments", key)


_ITEM_KEYS: dict[MemoryKind, str] = {
    "notes": "SELECT 1 FROM notes AS i WHERE i.account_id = d.account_id AND i.id = d.item_id",
    "key_events": "SELECT 1 FROM key_events AS i WHERE i.id = d.item_id",
    "commitments": "SELECT 1 FROM commitments AS i WHERE i.id = d.item_id",
    "recommendations": "SELECT 1 FROM recommendations AS i WHERE i.id = d.item_id",
}


def find_duplicates(
    conn: sqlite3.Connection, account_id: str | None, *, dry_run: bool
) -> DedupReport:
    """Key events repeating another of the same account, day and wording; commitments repeating
    another of the same account and wording (the earliest is kept); orphaned search entries."""
    where, params = _scope(account_id, None)
    in_scope, _ = _scope(account_id, None, "d.account_id")
    duplicates: list[DuplicateItem] = []
    kept: dict[tuple[str, ...], str] = {}
    for r in conn.execute(
        f"SELECT id, account_id, day, event FROM key_events WHERE {where} "
        "ORDER BY account_id, day, rowid",
        params,
    ):
        key = (r["account_id"], r["day"], " ".join(r["event"].casefold().split()))
        if (first := kept.setdefault(key, r["id"])) != r["id"]:
            duplicates.append(
                DuplicateItem(
                    kind="key_events",
                    id=r["id"],
                    account_id=r["account_id"],
                    duplicate_of=first,
                    text=r["event"],
                )
            )
    for r in conn.execute(
        f"SELECT id, account_id, text FROM commitments WHERE {where} "
        "ORDER BY account_id, day IS NULL, day, rowid",
        params,
    ):
        key = ("c", r["account_id"], " ".join(r["text"].casefold().split()))
        if (first := kept.setdefault(key, r["id"])) != r["id"]:
            duplicates.append(
                DuplicateItem(
                    kind="commitments",
                    id=r["id"],
                    account_id=r["account_id"],
                    duplicate_of=first,
                    text=r["text"],
                )
            )
    orphans = sum(
        int(
            conn.execute(
                f"SELECT count(*) FROM documents AS d WHERE {in_scope} "
                f"AND d.kind = ? AND NOT EXISTS ({exists})",
                [*params, kind],
            ).fetchone()[0]
        )
        for kind, exists in _ITEM_KEYS.items()
    )
    return DedupReport(dry_run=dry_run, duplicates=duplicates, orphan_documents=orphans)


def remove_duplicates(
    conn: sqlite3.Connection, report: DedupReport, account_id: str | None
) -> None:
    """Delete what :func:`find_duplicates` found (inside the caller's transaction)."""
    for item in report.duplicates:
        conn.execute(f"DELETE FROM {item.kind} WHERE id = ?", (item.id,))
        conn.execute(
            "DELETE FROM documents WHERE account_id = ? AND kind = ? AND item_id = ?",
            (item.account_id, item.kind, item.id),
        )
    where, params = _scope(account_id, None, "d.account_id")
    for kind, exists in _ITEM_KEYS.items():
        conn.execute(
            f"DELETE FROM documents WHERE rowid IN (SELECT d.rowid FROM documents AS d WHERE "
            f"{where} AND d.kind = ? "
            f"AND NOT EXISTS ({exists}))",
            [*params, kind],
        )
