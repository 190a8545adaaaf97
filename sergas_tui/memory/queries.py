"""Read queries of the local memory file: recall, prior recommendations, search, stats.

Plain functions over an open connection; :class:`~sergas_tui.memory.local.LocalMemory` calls
them under its lock. Timestamps are stored as UTC ISO strings (:func:`ts`) so they sort as text.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from sergas_tui.domain import (
    HistoricalContext,
    HistoryDetails,
    KeyEvent,
    PriorRecommendation,
    RecordRef,
    RelationshipStrength,
    SentimentTrend,
    ensure_aware,
    sentiment,
)
from sergas_tui.memory import derive
from sergas_tui.memory.schema import ITEM_TABLES, SCHEMA_VERSION
from sergas_tui.memory.store import (
    AccountHistory,
    MemoryHit,
    MemoryKind,
    NoteSummary,
    PriorRecord,
    Recollection,
    memory_ref,
)

MAX_KEY_EVENTS = 10
MAX_PRIOR = 10
MAX_COMMITMENTS = 10
SENTIMENT_WINDOW = timedelta(days=365)
"""Notes older than this (before ``now``) no longer count towards the sentiment trend."""
MAX_HISTORY_ITEMS = 25
"""Each list of a history window holds at most this many items (the newest)."""
NOTE_GIST_CHARS = 280
MAX_SEARCH_LIMIT = 200
MAX_QUERY_TERMS = 32
_TERM = re.compile(r"\w+")


def ts(value: datetime) -> str:
    """A UTC timestamp string that sorts correctly as text."""
    return ensure_aware(value).astimezone(UTC).isoformat(timespec="microseconds")


def ts_or_none(value: datetime | None) -> str | None:
    return None if value is None else ts(value)


def parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def upsert_document(
    conn: sqlite3.Connection,
    account_id: str,
    kind: MemoryKind,
    item_id: str,
    title: str,
    body: str,
    day: str | None,
) -> None:
    """Insert or update the search entry of one memory item (no write when nothing changed)."""
    conn.execute(
        "INSERT INTO documents (account_id, kind, item_id, title, body, day) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, kind, item_id) DO UPDATE SET "
        "title = excluded.title, body = excluded.body, day = excluded.day "
        "WHERE title IS NOT excluded.title OR body IS NOT excluded.body "
        "OR day IS NOT excluded.day",
        (account_id, kind, item_id, title, body, day),
    )


def known(conn: sqlite3.Connection, aid: str) -> bool:
    """Whether memory holds anything about the account (ingested facts or recommendations)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = ?) "
        "OR EXISTS (SELECT 1 FROM recommendations WHERE account_id = ?)",
        (aid, aid),
    ).fetchone()
    return bool(row[0])


def fts_query(text: str, *, any_term: bool = False) -> str | None:
    """An FTS5 MATCH expression for free text: each word quoted, so no syntax survives.

    ``NEAR(``, ``*``, ``"``, ``[bold]`` or ``AND`` are just words (or nothing) here. Returns
    None when the text holds no word at all.
    """
    terms = _TERM.findall(text)[:MAX_QUERY_TERMS]
    if not terms:
        return None
    return (" OR " if any_term else " ").join(f'"{t}"' for t in terms)


def recall(
    conn: sqlite3.Connection, aid: str, now: datetime, stale_after: timedelta
) -> Recollection:
    """The account's history as of ``now`` and the memory refs behind it.

    Memory is stale when no facts were ingested for the account, or the newest ingested facts
    were observed (their ``reviewed_at``) more than ``stale_after`` before ``now``.
    """
    today = now.date().isoformat()
    account = conn.execute(
        "SELECT observed_at FROM accounts WHERE account_id = ?", (aid,)
    ).fetchone()
    observed = parse_ts(account["observed_at"]) if account else None
    stale = observed is None or now - observed > stale_after
    refs: list[RecordRef] = []
    events = conn.execute(
        "SELECT id, day, event, impact FROM key_events WHERE account_id = ? AND day <= ? "
        "ORDER BY day DESC, rowid DESC LIMIT ?",
        (aid, today, MAX_KEY_EVENTS),
    ).fetchall()
    refs += [memory_ref("key_events", r["id"]) for r in events]
    commitments: list[str] = []
    seen: set[str] = set()
    for row in conn.execute(
        "SELECT id, text FROM commitments WHERE account_id = ? AND coalesce(day, '') <= ? "
        "ORDER BY day DESC, rowid DESC",
        (aid, today),
    ):
        if len(commitments) < MAX_COMMITMENTS and row["text"].casefold() not in seen:
            seen.add(row["text"].casefold())
            commitments.append(row["text"])
            refs.append(memory_ref("commitments", row["id"]))
    earlier = prior(conn, aid, limit=MAX_PRIOR)
    refs += [p.ref for p in earlier]
    details = HistoryDetails(
        key_events=[KeyEvent(date=r["day"], event=r["event"], impact=r["impact"]) for r in events],
        sentiment_trend=sentiment_trend(conn, aid, now),
        prior_recommendations=[
            PriorRecommendation(
                date=p.created_at.date(),
                recommendation=p.summary,
                status=p.status,
                outcome=p.outcome,
            )
            for p in earlier
        ],
        relationship_strength=relationship(conn, aid, now),
        commitment_tracking=commitments,
    )
    context = HistoricalContext(account_id=aid, historical_context=details, memory_stale=stale)
    return Recollection(context=context, refs=refs)


def sentiment_trend(conn: sqlite3.Connection, aid: str, now: datetime) -> SentimentTrend:
    """The trend of the scores of the account's notes written in the window before ``now``."""
    rows = conn.execute(
        "SELECT written_at, sentiment FROM notes WHERE account_id = ? AND written_at "
        "BETWEEN ? AND ? ORDER BY written_at",
        (aid, ts(now - SENTIMENT_WINDOW), ts(now)),
    ).fetchall()
    return sentiment.trend([(datetime.fromisoformat(r[0]), float(r[1])) for r in rows])


def relationship(conn: sqlite3.Connection, aid: str, now: datetime) -> RelationshipStrength:
    (contacts,) = conn.execute(
        "SELECT count(*) FROM contacts WHERE account_id = ?", (aid,)
    ).fetchone()
    activities = [
        (parse_ts(r["occurred_at"]), r["contact_id"])
        for r in conn.execute(
            "SELECT occurred_at, contact_id FROM activities WHERE account_id = ?", (aid,)
        )
    ]
    return derive.relationship_strength(activities, int(contacts), now)


def history(
    conn: sqlite3.Connection, aid: str, since: datetime, until: datetime, stale_after: timedelta
) -> AccountHistory | None:
    """The account's key events, commitments, notes and recommendations dated in the window.

    Lists are newest first and capped (:data:`MAX_HISTORY_ITEMS` each); ``truncated`` counts
    what the cap left out. Sentiment trend and relationship strength are as of ``until``.
    """
    if not known(conn, aid):
        return None
    first, last = since.date().isoformat(), until.date().isoformat()
    cap = MAX_HISTORY_ITEMS
    account = conn.execute("SELECT name FROM accounts WHERE account_id = ?", (aid,)).fetchone()
    context = recall(conn, aid, until, stale_after).context
    events = conn.execute(
        "SELECT id, day, event, impact FROM key_events WHERE account_id = ? "
        "AND day BETWEEN ? AND ? ORDER BY day DESC, rowid DESC",
        (aid, first, last),
    ).fetchall()
    commitments = conn.execute(
        "SELECT id, day, text FROM commitments WHERE account_id = ? "
        "AND day BETWEEN ? AND ? ORDER BY day DESC, rowid DESC",
        (aid, first, last),
    ).fetchall()
    notes = conn.execute(
        "SELECT id, title, content, written_at, sentiment FROM notes WHERE account_id = ? "
        "AND written_at BETWEEN ? AND ? ORDER BY written_at DESC, rowid DESC",
        (aid, ts(since), ts(until)),
    ).fetchall()
    recs = [p for p in prior(conn, aid) if since <= p.created_at <= until]
    truncated = {
        name: len(items) - cap
        for name, items in (
            ("key_events", events),
            ("commitments", commitments),
            ("notes", notes),
            ("prior_recommendations", recs),
        )
        if len(items) > cap
    }
    events, commitments, notes, recs = events[:cap], commitments[:cap], notes[:cap], recs[:cap]
    details = context.historical_context.model_copy(
        update={
            "key_events": [
                KeyEvent(date=r["day"], event=r["event"], impact=r["impact"]) for r in events
            ],
            "commitment_tracking": [r["text"] for r in commitments],
            "prior_recommendations": [
                PriorRecommendation(
                    date=p.created_at.date(),
                    recommendation=p.summary,
                    status=p.status,
                    outcome=p.outcome,
                )
                for p in recs
            ],
        }
    )
    summaries = [
        NoteSummary(
            id=r["id"],
            date=r["written_at"][:10],
            title=derive.clip(r["title"], 200),
            summary=derive.clip(r["content"], NOTE_GIST_CHARS),
            sentiment=round(float(r["sentiment"]), 3),
        )
        for r in notes
    ]
    refs = [memory_ref("key_events", r["id"]) for r in events]
    refs += [memory_ref("commitments", r["id"]) for r in commitments]
    refs += [n.ref for n in summaries] + [p.ref for p in recs]
    return AccountHistory(
        account_id=aid,
        account_name=account["name"] if account else None,
        since=since.date(),
        until=until.date(),
        context=context.model_copy(update={"historical_context": details}),
        notes=summaries,
        prior_recommendations=recs,
        refs=refs,
        truncated=truncated,
    )


def prior(conn: sqlite3.Connection, aid: str, limit: int = -1) -> list[PriorRecord]:
    """The account's remembered recommendations, newest first (all of them by default)."""
    rows = conn.execute(
        "SELECT * FROM recommendations WHERE account_id = ? "
        "ORDER BY created_at DESC, rowid DESC LIMIT ?",
        (aid, limit),
    )
    return [
        PriorRecord(
            recommendation_id=r["id"],
            account_id=r["account_id"],
            type=r["type"],
            priority=r["priority"],
            summary=r["summary"],
            created_at=r["created_at"],
            status=r["status"],
            decided_at=r["decided_at"],
            decided_by=r["decided_by"],
            decision_rationale=r["decision_rationale"],
            executed_at=r["executed_at"],
            outcome=r["outcome"],
            effectiveness_score=r["effectiveness_score"],
        )
        for r in rows
    ]


def search(
    conn: sqlite3.Connection, match: str, account_id: str | None, limit: int
) -> list[MemoryHit]:
    """Documents matching an FTS5 expression (from :func:`fts_query`), best bm25 first.

    Titles weigh twice as much as bodies; ties go to the newer item.
    """
    sql = (
        "SELECT d.kind, d.item_id, d.account_id, d.title, d.day, "
        "snippet(documents_fts, -1, '', '', '…', 16) AS snip, "
        "bm25(documents_fts, 2.0, 1.0) AS rank "
        "FROM documents_fts JOIN documents AS d ON d.rowid = documents_fts.rowid "
        "WHERE documents_fts MATCH ?"
    )
    params: list[Any] = [match]
    if account_id is not None:
        sql += " AND d.account_id = ?"
        params.append(account_id)
    sql += " ORDER BY rank, d.day DESC, d.rowid LIMIT ?"
    params.append(limit)
    return [
        MemoryHit(
            kind=r["kind"],
            id=r["item_id"],
            account_id=r["account_id"],
            title=derive.clip(r["title"], 200),
            snippet=r["snip"] or "",
            score=-float(r["rank"]),
            date=r["day"],
        )
        for r in conn.execute(sql, params)
    ]


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """Rows per item table, the newest ingest time and the schema version."""
    result: dict[str, Any] = {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table in ITEM_TABLES
    }
    (newest,) = conn.execute("SELECT max(ingested_at) FROM accounts").fetchone()
    result["newest_ingest"] = newest
    result["schema_version"] = SCHEMA_VERSION
    return result
