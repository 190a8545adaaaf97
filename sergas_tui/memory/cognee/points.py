"""How memory rows become Cognee DataPoints and edges, and back.

The graph (one Cognee graph store per workspace) holds:

- ``Account`` — one per account; every other item hangs off it by an edge named after what it
  is: ``has_note``, ``has_activity``, ``has_deal``, ``has_signal``, ``key_event``,
  ``commitment``, ``recommendation``, and ``has_contact`` to a ``Contact``;
- ``Contact`` — one per CRM contact, **shared** by every account that has it (its id comes from
  the contact's record id alone); the per-account part (role, title) lives on the
  ``has_contact`` edge;
- ``Note``, ``Activity``, ``Deal``, ``Signal``, ``KeyEvent``, ``Commitment``,
  ``Recommendation`` — one per item, with ids derived from the item's identity, so writing the
  item again (a recommendation's decision or outcome, a re-ingested note) updates it in place;
- ``deal_contact`` / ``with_contact`` edges from deals and activities to the contact they
  name, and ``from_note`` from a commitment to the note that stated it.

Each node stores its memory row (``row``, the columns of the local schema), its ``seq``
(insertion order, the local store's rowid) and, for searchable items, ``doc`` (the title, body
and day that search shows). Searchable items are also embedded, as ``MemoryText`` points in one
vector collection whose ids are the item nodes' ids, tagged ``account:<id>`` in
``belongs_to_set`` so search can be scoped to one account.

This module is pure except :func:`node_classes`, which subclasses Cognee's ``DataPoint``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import create_model

from sergas_tui.memory.derive import clip
from sergas_tui.memory.store import MemoryHit, MemoryKind

NAMESPACE = uuid.UUID("6f1c9b56-3c1e-4d55-9a55-5e7267a5c0de")

NODE_TYPES: dict[str, str] = {
    "accounts": "Account",
    "notes": "Note",
    "activities": "Activity",
    "contacts": "Contact",
    "deals": "Deal",
    "signals": "Signal",
    "key_events": "KeyEvent",
    "commitments": "Commitment",
    "recommendations": "Recommendation",
}
"""Memory table → DataPoint type."""

TABLES_BY_TYPE = {v: k for k, v in NODE_TYPES.items()}

RELATIONS: dict[str, str] = {
    "notes": "has_note",
    "activities": "has_activity",
    "contacts": "has_contact",
    "deals": "has_deal",
    "signals": "has_signal",
    "key_events": "key_event",
    "commitments": "commitment",
    "recommendations": "recommendation",
}
"""Edge from the account node to each kind of item."""

KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "notes": ("account_id", "id"),
    "activities": ("account_id", "id"),
    "contacts": ("account_id", "id"),
    "deals": ("account_id", "id"),
    "signals": ("account_id", "key", "day"),
    "key_events": ("id",),
    "commitments": ("id",),
    "recommendations": ("id",),
}
"""The primary key of each memory table (what makes an item the same item)."""

SEARCHABLE: dict[str, MemoryKind] = {
    "notes": "notes",
    "key_events": "key_events",
    "commitments": "commitments",
    "recommendations": "recommendations",
}
TEXT_TYPE = "MemoryText"
TEXT_FIELD = "text"
TEXT_COLLECTION = f"{TEXT_TYPE}_{TEXT_FIELD}"

Row = dict[str, Any]
Key = tuple[Any, ...]
Edge = tuple[str, str, str, dict[str, Any]]


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def account_node_id(account_id: str) -> str:
    return _uuid("accounts", account_id)


def contact_node_id(contact_id: str) -> str:
    return _uuid("contacts", contact_id)


def row_key(table: str, row: Row) -> Key:
    return tuple(row[c] for c in KEYS[table])


def node_id(table: str, row: Row) -> str:
    """The node id of a row: derived from its key (a contact's from its record id alone)."""
    if table == "contacts":
        return contact_node_id(str(row["id"]))
    return _uuid(table, *row_key(table, row))


def account_tag(account_id: str) -> str:
    return f"account:{account_id}"


@dataclass
class Snapshot:
    """The memory rows of some accounts as read from the graph (or written by the mirror).

    ``rows[table][key]`` is a row with its ``seq``; ``docs[(kind, item_id)]`` is the
    searchable text of an item as ``(account_id, title, body, day)``.
    """

    rows: dict[str, dict[Key, Row]] = field(
        default_factory=lambda: {table: {} for table in NODE_TYPES}
    )
    docs: dict[tuple[str, str], tuple[str, str, str, str | None]] = field(default_factory=dict)
    placeholders: set[str] = field(default_factory=set)
    """Accounts whose node exists only to hold recommendations (no facts ingested)."""

    def add_node(self, node: dict[str, Any], contact_row: Row | None = None) -> None:
        """Add a graph node (as Cognee returns it: properties merged into the dict)."""
        table = TABLES_BY_TYPE.get(str(node.get("type")))
        if table is None:
            return
        if table == "contacts":
            if contact_row is None:
                return
            row = dict(contact_row)
        else:
            row = dict(node.get("row") or {})
            if not row:
                return
        if table == "accounts" and node.get("placeholder"):
            self.placeholders.add(str(row["account_id"]))
            return
        row["seq"] = int(node.get("seq") or 0) if table != "contacts" else int(row.get("seq", 0))
        self.rows[table][row_key(table, row)] = row
        doc = node.get("doc")
        if table in SEARCHABLE and doc:
            self.docs[(SEARCHABLE[table], str(row["id"]))] = (
                str(row["account_id"]),
                str(doc.get("title") or ""),
                str(doc.get("body") or ""),
                doc.get("day"),
            )

    def add_account(self, node: dict[str, Any]) -> list[str]:
        """Add an account node and its contact rows; return the ids of its item nodes."""
        self.add_node(node)
        for row in node.get("contacts") or []:
            contact = dict(row)
            self.rows["contacts"][row_key("contacts", contact)] = contact
        return [str(m) for m in node.get("members") or []]

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


@dataclass
class Changes:
    """What a mirror operation changed, to write back to the graph and the vector store."""

    upserts: dict[str, list[Row]] = field(default_factory=dict)
    deletes: dict[str, list[Row]] = field(default_factory=dict)
    docs: dict[tuple[str, str], tuple[str, str, str, str | None]] = field(default_factory=dict)
    """Items whose searchable text is new or changed (to embed)."""

    @property
    def empty(self) -> bool:
        return not (any(self.upserts.values()) or any(self.deletes.values()) or self.docs)


def diff(before: Snapshot, after: Snapshot) -> Changes:
    """Rows added or changed, rows removed, and searchable texts added or changed."""
    changes = Changes()
    for table in NODE_TYPES:
        old, new = before.rows[table], after.rows[table]
        changes.upserts[table] = [r for k, r in new.items() if old.get(k) != r]
        changes.deletes[table] = [r for k, r in old.items() if k not in new]
    changes.docs = {k: d for k, d in after.docs.items() if before.docs.get(k) != d}
    # A changed document re-writes its item node (the node carries the doc) too.
    for (kind, item_id), _doc in changes.docs.items():
        table = next(t for t, k in SEARCHABLE.items() if k == kind)
        for key, row in after.rows[table].items():
            if str(row["id"]) == item_id and row not in changes.upserts[table]:
                changes.upserts[table].append(after.rows[table][key])
    return changes


@functools.cache
def _classes(base: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": (str, ""),
        "account_id": (str, ""),
        "seq": (int, 0),
        "row": (dict[str, Any], {}),
        "doc": (dict[str, Any] | None, None),
        "placeholder": (bool, False),
    }
    classes = {
        name: create_model(name, __base__=base, **fields)
        for name in NODE_TYPES.values()
        if name != "Account"
    }
    classes["Account"] = create_model(
        "Account",
        __base__=base,
        members=(list[str], []),
        contacts=(list[dict[str, Any]], []),
        **fields,
    )
    classes[TEXT_TYPE] = create_model(
        TEXT_TYPE,
        __base__=base,
        text=(str, ""),
        account_id=(str, ""),
        kind=(str, ""),
        metadata=(dict[str, Any], {"index_fields": [TEXT_FIELD]}),
    )
    return classes


def node_classes(data_point: Any) -> dict[str, Any]:
    """DataPoint subclasses, by type name, built on Cognee's ``DataPoint``."""
    return _classes(data_point)


def label(table: str, row: Row) -> str:
    for column in ("name", "title", "event", "text", "summary", "subject", "key"):
        if row.get(column):
            return str(row[column])[:200]
    return str(row.get("id") or row.get("account_id") or "")


def doc_of(table: str, row: Row, docs: Snapshot | Changes) -> dict[str, Any] | None:
    kind = SEARCHABLE.get(table)
    if kind is None:
        return None
    found = docs.docs.get((kind, str(row["id"])))
    if found is None:
        return None
    _aid, title, body, day = found
    return {"title": title, "body": body, "day": day}


def writes(
    cls: dict[str, Any], after: Snapshot, changes: Changes, new_accounts: set[str]
) -> tuple[list[Any], list[Edge], list[Any]]:
    """Nodes (DataPoints of ``cls``), edges and vector points for what ``changes`` holds.

    The node of every account touched is rewritten with its membership: the ids of its item
    nodes and its contact rows, so reading an account is two primary-key lookups.
    """
    nodes: list[Any] = []
    edges: list[Edge] = []
    touched = set(new_accounts)
    for changed in (*changes.upserts.values(), *changes.deletes.values()):
        touched |= {str(r["account_id"]) for r in changed}
    touched |= {doc[0] for doc in changes.docs.values()}
    members: dict[str, list[str]] = {aid: [] for aid in touched}
    contacts: dict[str, list[Row]] = {aid: [] for aid in touched}
    for table, rows in after.rows.items():
        if table == "accounts":
            continue
        for row in rows.values():
            aid = str(row["account_id"])
            if aid in touched:
                if table == "contacts":
                    contacts[aid].append(row)
                else:
                    members[aid].append(node_id(table, row))
    for aid in sorted(touched):
        account = after.rows["accounts"].get((aid,))
        nodes.append(
            cls["Account"](
                id=account_node_id(aid),
                name=str(account["name"]) if account else aid,
                account_id=aid,
                seq=int(account["seq"]) if account else 0,
                row={k: v for k, v in (account or {"account_id": aid}).items() if k != "seq"},
                placeholder=account is None,
                members=members[aid],
                contacts=contacts[aid],
            )
        )
    for table, upserts in changes.upserts.items():
        if table == "accounts":
            continue
        type_name = NODE_TYPES[table]
        for row in upserts:
            aid = str(row["account_id"])
            nid = node_id(table, row)
            if table == "contacts":
                shared = {"id": row["id"], "name": row["name"], "title": row["title"]}
                nodes.append(cls[type_name](id=nid, name=label(table, row), row=shared))
                edges.append((account_node_id(aid), nid, "has_contact", {"row": row}))
                continue
            nodes.append(
                cls[type_name](
                    id=nid,
                    name=label(table, row),
                    account_id=aid,
                    seq=int(row["seq"]),
                    row={k: v for k, v in row.items() if k != "seq"},
                    doc=doc_of(table, row, after),
                )
            )
            edges.append((account_node_id(aid), nid, RELATIONS[table], {}))
            edges += item_edges(table, row, nid, after)
    return nodes, edges, texts(cls, after, changes.docs)


def texts(
    cls: dict[str, Any],
    snapshot: Snapshot,
    docs: dict[tuple[str, str], tuple[str, str, str, str | None]],
) -> list[Any]:
    """The vector points (``MemoryText``) of searchable items, ids shared with their nodes."""
    return [
        cls[TEXT_TYPE](
            id=item_node(snapshot, kind, item_id),
            text=f"{title}\n{body}".strip(),
            account_id=aid,
            kind=kind,
            belongs_to_set=[account_tag(aid)],
        )
        for (kind, item_id), (aid, title, body, _day) in sorted(docs.items())
    ]


def item_node(snapshot: Snapshot, kind: str, item_id: str) -> str:
    table = next(t for t, k in SEARCHABLE.items() if k == kind)
    for row in snapshot.rows[table].values():
        if str(row["id"]) == item_id:
            return node_id(table, row)
    raise KeyError(item_id)


def item_edges(table: str, row: Row, nid: str, after: Snapshot) -> list[Edge]:
    aid = row["account_id"]
    contact = row.get("contact_id")
    if table in ("activities", "deals") and contact and (aid, contact) in after.rows["contacts"]:
        relation = "with_contact" if table == "activities" else "deal_contact"
        return [(nid, contact_node_id(str(contact)), relation, {})]
    note = row.get("note_id")
    if table == "commitments" and note and (aid, note) in after.rows["notes"]:
        return [(nid, node_id("notes", after.rows["notes"][(aid, note)]), "from_note", {})]
    return []


def hit(node: dict[str, Any], score: float) -> MemoryHit | None:
    table = TABLES_BY_TYPE.get(str(node.get("type")))
    row, doc = node.get("row") or {}, node.get("doc") or {}
    if table not in SEARCHABLE or not row:
        return None
    kind: MemoryKind = SEARCHABLE[table]
    title, body = str(doc.get("title") or ""), str(doc.get("body") or "")
    return MemoryHit(
        kind=kind,
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        title=clip(title, 200),
        snippet=clip(body or title, 160),
        score=round(score, 6),
        date=doc.get("day") or None,
    )
