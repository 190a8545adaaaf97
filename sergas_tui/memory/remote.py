"""A MemoryStore on a shared memory MCP server (``[memory] endpoint = URL``).

:class:`RemoteMemory` speaks to our memory MCP server (``sergas mcp memory --http PORT``, see
:mod:`.mcp_server`) over streamable HTTP with ``Authorization: Bearer <token>``. Every method is
real: reads use the seed's ``cognee_*`` tools, writes and counts our ``sergas_*`` tools
(:mod:`.mcp_write_tools`):

=======================================  ==============================================
MemoryStore                              tool
=======================================  ==============================================
ingest                                   sergas_ingest_facts
record_recommendation                    sergas_record_recommendation
record_decision / record_outcome         sergas_record_decision / sergas_record_outcome
forget                                   sergas_forget_account
stats                                    sergas_stats (plus ``backend``: remote, endpoint)
search                                   cognee_search_memory (at most 50 hits)
history / recall / context / prior_...   cognee_retrieve_history (recall: a 10-year window
                                         up to the end of ``now``'s day, cut to recall's caps)
relationship_graph                       cognee_get_relationship_graph
insights                                 cognee_aggregate_insights (window in whole days,
                                         ending at the server's clock)
store_context                            cognee_store_context
deduplicate                              cognee_deduplicate_records
=======================================  ==============================================

A server without one of these tools (an older Sergas, or one started ``--read-only``) makes
the method raise :class:`RemoteToolMissingError`, naming the tool and what to upgrade; a wrong
token raises a :class:`StorageError` that says so.

The session, the calls and their errors are :class:`~.remote_client.MemoryServerClient`'s (one
app, one MCP session, replaced when lost; list results followed page by page): this class maps
each MemoryStore method to its tool and the tool's JSON back to the store's models.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sergas_tui.domain import (
    AccountFacts,
    HistoricalContext,
    HistoryDetails,
    Outcome,
    Recommendation,
    RecordRef,
    ensure_aware,
)
from sergas_tui.errors import RemoteToolError as RemoteToolError
from sergas_tui.errors import RemoteToolMissingError as RemoteToolMissingError
from sergas_tui.memory.derive import clip
from sergas_tui.memory.local import MAX_NOTE_CHARS
from sergas_tui.memory.queries import MAX_COMMITMENTS, MAX_KEY_EVENTS, MAX_PRIOR
from sergas_tui.memory.remote_client import MemoryServerClient
from sergas_tui.memory.store import (
    AccountHistory,
    ContextItem,
    DedupReport,
    MemoryHit,
    MemoryInsights,
    NoteSummary,
    PriorRecord,
    Recollection,
    RelationshipGraph,
    decision_status,
)

RECALL_WINDOW_DAYS = 3650
_TERM = re.compile(r"\w+")


class RemoteMemory(MemoryServerClient):
    """Memory on a memory MCP server reached over streamable HTTP (see the module docstring)."""

    # -- writing ------------------------------------------------------------------------------

    async def ingest(self, facts: AccountFacts) -> None:
        await self.call("sergas_ingest_facts", {"facts": _gist(facts).model_dump(mode="json")})

    async def record_recommendation(self, account_id: str, recommendation: Recommendation) -> None:
        await self.call(
            "sergas_record_recommendation",
            {"account_id": account_id, "recommendation": recommendation.model_dump(mode="json")},
        )

    async def record_decision(
        self,
        account_id: str,
        recommendation_id: str,
        status: str,
        *,
        decided_at: datetime,
        actor: str,
        rationale: str | None = None,
    ) -> bool:
        status = decision_status(status)
        return await self._recorded(
            "sergas_record_decision",
            account_id=account_id,
            recommendation_id=recommendation_id,
            status=status,
            decided_at=ensure_aware(decided_at).isoformat(),
            actor=actor,
            rationale=rationale,
        )

    async def record_outcome(
        self,
        account_id: str,
        recommendation_id: str,
        outcome: Outcome,
        effectiveness_score: float | None,
        executed_at: datetime,
    ) -> bool:
        if effectiveness_score is not None and not 0.0 <= effectiveness_score <= 1.0:
            raise ValueError("effectiveness_score must be between 0 and 1")
        return await self._recorded(
            "sergas_record_outcome",
            account_id=account_id,
            recommendation_id=recommendation_id,
            outcome=outcome,
            effectiveness_score=effectiveness_score,
            executed_at=ensure_aware(executed_at).isoformat(),
        )

    async def _recorded(self, tool: str, **arguments: Any) -> bool:
        try:
            await self.call(tool, arguments)
        except RemoteToolError as err:
            if err.unknown_recommendation:
                return False
            raise
        return True

    async def store_context(
        self, account_id: str, item: ContextItem, *, now: datetime
    ) -> RecordRef | None:
        try:
            data = await self.call(
                "cognee_store_context",
                {"account_id": account_id, **item.model_dump(mode="json")},
            )
        except RemoteToolError as err:
            if err.unknown_account:
                return None
            raise
        return RecordRef.parse(data["ref"])

    async def deduplicate(self, account_id: str | None = None, *, dry_run: bool) -> DedupReport:
        data = await self.call(
            "cognee_deduplicate_records", {"account_id": account_id, "dry_run": dry_run}
        )
        return DedupReport.model_validate(data)

    async def forget(self, account_id: str) -> int:
        data = await self.call("sergas_forget_account", {"account_id": account_id})
        return int(data["removed"])

    # -- reading ------------------------------------------------------------------------------

    async def search(
        self, query: str, *, account_id: str | None = None, limit: int = 20
    ) -> list[MemoryHit]:
        if not _TERM.search(query):
            return []  # what every backend answers to text without a word
        data = await self.call(
            "cognee_search_memory",
            {"query": query[:500], "account_id": account_id, "limit": max(1, min(limit, 50))},
        )
        return [
            MemoryHit.model_validate({**hit, "id": RecordRef.parse(hit["ref"]).id})
            for hit in data.get("hits", [])
        ]

    async def history(
        self, account_id: str, *, since: datetime, until: datetime
    ) -> AccountHistory | None:
        start, end = ensure_aware(since).date(), ensure_aware(until).date()
        try:
            data = await self.call(
                "cognee_retrieve_history",
                {"account_id": account_id, "since": start.isoformat(), "until": end.isoformat()},
            )
        except RemoteToolError as err:
            if err.unknown_account:
                return None
            raise
        return _history(data, account_id)

    async def recall(self, account_id: str, *, now: datetime) -> Recollection:
        until = ensure_aware(now)
        found = await self.history(
            account_id, since=until - timedelta(days=RECALL_WINDOW_DAYS), until=until
        )
        if found is None:
            empty = HistoricalContext(account_id=account_id, memory_stale=True)
            return Recollection(context=empty)
        details = found.context.historical_context
        events = details.key_events[:MAX_KEY_EVENTS]
        commitments: list[str] = []
        for text in details.commitment_tracking:
            if len(commitments) < MAX_COMMITMENTS and text.casefold() not in {
                c.casefold() for c in commitments
            }:
                commitments.append(text)
        prior = details.prior_recommendations[:MAX_PRIOR]
        trimmed = details.model_copy(
            update={
                "key_events": events,
                "commitment_tracking": commitments,
                "prior_recommendations": prior,
            }
        )
        refs = [r for r in found.refs if r.module != "notes"]
        context = found.context.model_copy(update={"historical_context": trimmed})
        return Recollection(context=context, refs=refs)

    async def context(self, account_id: str, *, now: datetime) -> HistoricalContext:
        return (await self.recall(account_id, now=now)).context

    async def prior_recommendations(self, account_id: str) -> list[PriorRecord]:
        until = datetime.now().astimezone()
        found = await self.history(
            account_id, since=until - timedelta(days=RECALL_WINDOW_DAYS), until=until
        )
        return [] if found is None else list(found.prior_recommendations)

    async def relationship_graph(self, account_id: str) -> RelationshipGraph | None:
        try:
            data = await self.call("cognee_get_relationship_graph", {"account_id": account_id})
        except RemoteToolError as err:
            if err.unknown_account:
                return None
            raise
        return RelationshipGraph.model_validate(data)

    async def insights(
        self,
        *,
        account_id: str | None = None,
        owner_email: str | None = None,
        since: datetime,
        until: datetime,
    ) -> MemoryInsights:
        days = max(1, min(3650, (ensure_aware(until) - ensure_aware(since)).days))
        try:
            data = await self.call(
                "cognee_aggregate_insights",
                {"account_id": account_id, "owner_email": owner_email, "days": days},
            )
        except RemoteToolError as err:
            if account_id is None or not err.unknown_account:
                raise
            return MemoryInsights(
                account_id=account_id,
                owner_email=owner_email,
                since=ensure_aware(since).date(),
                until=ensure_aware(until).date(),
                accounts=0,
            )
        return MemoryInsights.model_validate(data)

    async def stats(self) -> dict[str, Any]:
        data = await self.call("sergas_stats", {})
        server_backend = data.pop("backend", None)
        return {**data, "backend": "remote", "server_backend": server_backend, "endpoint": self.url}


def _gist(facts: AccountFacts) -> AccountFacts:
    """``facts`` with each note cut to what memory keeps of it (:data:`MAX_NOTE_CHARS`).

    Every backend stores the same cut, so the answers do not change; the request stays small
    when a note holds a megabyte of pasted logs.
    """
    if all(len(note.content or "") <= MAX_NOTE_CHARS for note in facts.notes):
        return facts
    notes = [
        note
        if len(note.content or "") <= MAX_NOTE_CHARS
        else note.model_copy(update={"content": clip(note.content, MAX_NOTE_CHARS)})
        for note in facts.notes
    ]
    return facts.model_copy(update={"notes": notes})


def _history(data: dict[str, Any], account_id: str) -> AccountHistory:
    details = HistoryDetails.model_validate(data.get("historical_context") or {})
    context = HistoricalContext(
        account_id=str(data.get("account_id") or account_id),
        historical_context=details,
        memory_stale=bool(data.get("memory_stale")),
    )
    prior = [
        PriorRecord.model_validate(
            {**{k: v for k, v in item.items() if k != "ref"}, "account_id": account_id}
        )
        for item in data.get("prior_recommendations", [])
    ]
    window = data.get("window") or {}
    return AccountHistory(
        account_id=context.account_id,
        account_name=data.get("account_name"),
        since=window["since"],
        until=window["until"],
        context=context,
        notes=[
            NoteSummary.model_validate({k: v for k, v in note.items() if k != "ref"})
            for note in data.get("notes", [])
        ],
        prior_recommendations=prior,
        refs=[RecordRef.parse(ref) for ref in data.get("refs", [])],
        truncated=dict(data.get("truncated") or {}),
    )
