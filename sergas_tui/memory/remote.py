"""A MemoryStore on a shared memory MCP server (``[memory] endpoint = URL``).

:class:`RemoteMemory` speaks to our memory MCP server (``sergas mcp memory --http PORT``, see
:mod:`.mcp_server`) over streamable HTTP with ``Authorization: Bearer <token>``, using only the
seed's six ``cognee_*`` tools:

=======================================  ==============================================
MemoryStore                              tool
=======================================  ==============================================
search                                   cognee_search_memory (at most 50 hits)
history / recall / context / prior_...   cognee_retrieve_history (recall: a 10-year window
                                         up to the end of ``now``'s day, cut to recall's caps)
relationship_graph                       cognee_get_relationship_graph
insights                                 cognee_aggregate_insights (window in whole days,
                                         ending at the server's clock)
store_context, record_decision/_outcome  cognee_store_context
deduplicate                              cognee_deduplicate_records
=======================================  ==============================================

The team endpoint is fed by the scheduled review that runs beside it, so the tools offer no
way to ingest facts, store recommendations, forget or count: :meth:`ingest` and
:meth:`record_recommendation` do nothing here (logged once), and :meth:`forget` raises a
:class:`StorageError` that says where to run it. Each call opens its own MCP session: a few
milliseconds on a LAN, and no session outlives the task that opened it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx2
import mcp_types as types
import structlog
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from sergas_tui.domain import (
    AccountFacts,
    HistoricalContext,
    HistoryDetails,
    Outcome,
    Recommendation,
    RecordRef,
    ensure_aware,
)
from sergas_tui.errors import StorageError
from sergas_tui.memory.queries import MAX_COMMITMENTS, MAX_KEY_EVENTS, MAX_PRIOR
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
)

log = structlog.get_logger("sergas.memory.remote")

RECALL_WINDOW_DAYS = 3650
TIMEOUT_SECONDS = 30.0
_UNKNOWN = "knows no account"
_TERM = re.compile(r"\w+")


class RemoteToolError(StorageError):
    """The memory server answered a tool call with an error."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(f"The memory server refused {tool}: {message}", title="Memory error")
        self.tool = tool
        self.detail = message


class RemoteMemory:
    """Memory on a memory MCP server reached over streamable HTTP (see the module docstring)."""

    def __init__(self, url: str, token: str | None, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._warned = False

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[ClientSession]:
        client = httpx2.AsyncClient(headers=self._headers, timeout=self._timeout)
        try:
            async with (
                client,
                streamable_http_client(self.url, http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                yield session
        except RemoteToolError:
            raise
        except Exception as err:  # connection, HTTP status and protocol failures
            raise StorageError(
                f"Cannot reach the memory server {self.url}: {type(err).__name__}: {err}",
                title="Memory server unreachable",
            ) from err

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call one tool and return its JSON result; an ``is_error`` result raises."""
        args = {k: v for k, v in arguments.items() if v is not None}
        async with self._session() as session:
            result = await session.call_tool(tool, args)
        data = _payload(result)
        if result.is_error:
            error = data.get("error") or {}
            raise RemoteToolError(tool, str(error.get("message") or data))
        return data

    # -- writing ------------------------------------------------------------------------------

    def _read_mostly(self, what: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("remote_memory_skips_writes", what=what, endpoint=self.url)

    async def ingest(self, facts: AccountFacts) -> None:
        self._read_mostly("ingest")

    async def record_recommendation(self, account_id: str, recommendation: Recommendation) -> None:
        self._read_mostly("record_recommendation")

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
        return await self._result(
            account_id,
            recommendation_id,
            kind="decision",
            status=str(status),
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
        return await self._result(
            account_id,
            recommendation_id,
            kind="outcome",
            outcome=outcome,
            effectiveness_score=effectiveness_score,
        )

    async def _result(self, account_id: str, recommendation_id: str, **fields: Any) -> bool:
        try:
            await self.call(
                "cognee_store_context",
                {"account_id": account_id, "recommendation_id": recommendation_id, **fields},
            )
        except RemoteToolError as err:
            if "knows no recommendation" in err.detail:
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
            if _UNKNOWN in err.detail:
                return None
            raise
        return RecordRef.parse(data["ref"])

    async def deduplicate(self, account_id: str | None = None, *, dry_run: bool) -> DedupReport:
        data = await self.call(
            "cognee_deduplicate_records", {"account_id": account_id, "dry_run": dry_run}
        )
        return DedupReport.model_validate(data)

    async def forget(self, account_id: str) -> int:
        raise StorageError(
            f"Memory lives on the shared server {self.url}: run `sergas memory forget "
            f"{account_id}` where that server runs.",
            title="Forget on the memory server",
        )

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
            if _UNKNOWN in err.detail:
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
            if _UNKNOWN in err.detail:
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
            if account_id is None or _UNKNOWN not in err.detail:
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
        return {"backend": "remote", "endpoint": self.url}

    async def close(self) -> None:
        return None


def _payload(result: types.CallToolResult) -> dict[str, Any]:
    if isinstance(result.structured_content, dict):
        return dict(result.structured_content)
    for block in result.content:
        if isinstance(block, types.TextContent):
            try:
                data = json.loads(block.text)
            except ValueError:
                return {"error": {"message": block.text}}
            return dict(data) if isinstance(data, dict) else {"value": data}
    return {}


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
