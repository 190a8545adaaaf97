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

One app, one MCP session: the first call opens it (in a background task, which owns the
transport's cancel scopes) and every later call, concurrent ones included, shares it until
:meth:`RemoteMemory.close`. A session the server no longer knows (it restarted: HTTP 404) or a
lost connection is replaced by a new one for the next call; a 404 call is retried once on the
new session, since the server never ran it. List results come in pages (about 100 KB each);
:meth:`RemoteMemory.call` follows ``next_page_token`` and returns the whole result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx2
import mcp_types as types
import structlog
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from sergas_tui import __version__
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
from sergas_tui.errors import StorageError
from sergas_tui.mcp_paging import merge_page
from sergas_tui.memory.derive import clip
from sergas_tui.memory.local import MAX_NOTE_CHARS
from sergas_tui.memory.mcp_write_tools import SERVER_TOOLS_BY_NAME
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
    decision_status,
)
from sergas_tui.memory.tool_calls import ERROR_META_KEY

log = structlog.get_logger("sergas.memory.remote")

RECALL_WINDOW_DAYS = 3650
TIMEOUT_SECONDS = 30.0
"""Seconds to connect, and to wait for one tool result."""
SSE_READ_SECONDS = 300.0
"""Read timeout of the session's HTTP streams (the server's event stream idles)."""
CLOSE_SECONDS = 5.0
"""Seconds to end a session politely before cancelling it."""
MAX_PAGES = 10_000
_UNKNOWN_TOOL = "Unknown tool"
_TERM = re.compile(r"\w+")


class _Session:
    """One MCP session over streamable HTTP, held open by a background task.

    AnyIO cancel scopes must be left by the task that entered them, while calls come from many
    tasks; so one task enters the transport and the ClientSession, waits for :meth:`stop`, and
    exits. ``statuses`` are the HTTP statuses seen (the MCP client reports a 401 or a 404 only
    as "an error response").
    """

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        self.url = url
        self.loop = asyncio.get_running_loop()
        self.statuses: list[int] = []
        self.session: ClientSession | None = None
        self.error: BaseException | None = None
        self._headers = headers
        self._timeout = timeout
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="sergas-memory-session")

    async def _run(self) -> None:
        async def note_status(response: httpx2.Response) -> None:
            self.statuses.append(response.status_code)

        client = httpx2.AsyncClient(
            headers=self._headers,
            timeout=httpx2.Timeout(self._timeout, read=max(self._timeout, SSE_READ_SECONDS)),
            event_hooks={"response": [note_status]},
        )
        try:
            async with (
                client,
                streamable_http_client(self.url, http_client=client) as (read, write),
                ClientSession(
                    read,
                    write,
                    read_timeout_seconds=self._timeout,
                    client_info=types.Implementation(name="sergas", version=__version__),
                ) as session,
            ):
                await session.initialize()
                self.session = session
                self._ready.set()
                await self._stop.wait()
        except Exception as err:  # connection, HTTP status and protocol failures
            self.error = err
            if self._ready.is_set():
                log.warning("memory_session_ended", url=self.url, error=repr(_leaf(err)))
        finally:
            self.session = None
            self._ready.set()

    async def ready(self) -> ClientSession:
        """The initialized session; the StorageError saying why there is none."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._ready.wait()
        except TimeoutError:
            await self.stop(0)
            raise StorageError(
                f"The memory server {self.url} did not finish connecting within "
                f"{self._timeout:g} s.",
                title="Memory server unreachable",
            ) from None
        if self.session is None:
            raise self.failure(self.error or ConnectionError("the session ended"))
        return self.session

    @property
    def usable(self) -> bool:
        """Still open, and on the running event loop."""
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return current is self.loop and not self._task.done() and not self._stop.is_set()

    def failure(self, err: BaseException) -> StorageError:
        """What a connection or protocol failure means for the app."""
        if 401 in self.statuses:
            return StorageError(
                f"The memory server {self.url} refused the bearer token: set the token it "
                "was started with (the mcp_server_token secret or SERGAS_MEMORY_TOKEN).",
                title="Memory server refused the token",
            )
        cause = _leaf(err)
        return StorageError(
            f"Cannot reach the memory server {self.url}: {type(cause).__name__}: {cause}",
            title="Memory server unreachable",
        )

    async def stop(self, grace: float = CLOSE_SECONDS) -> None:
        """End the session (politely within ``grace`` seconds, else cancel it); idempotent."""
        self._stop.set()
        task = self._task
        if task.done() or task.get_loop() is not asyncio.get_running_loop():
            return  # a session of a finished event loop ended with it
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), grace)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class RemoteMemory:
    """Memory on a memory MCP server reached over streamable HTTP (see the module docstring)."""

    def __init__(self, url: str, token: str | None, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._current: _Session | None = None
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.sessions_opened = 0
        """How many MCP sessions this client opened (one, unless one was lost)."""

    async def _open(self) -> tuple[_Session, ClientSession]:
        """The open session, opening one when there is none (one at a time)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        async with self._lock[1]:
            current = self._current
            if current is None or not current.usable:
                if current is not None:
                    await current.stop(0)
                current = self._current = _Session(self.url, self._headers, self._timeout)
                self.sessions_opened += 1
        try:
            return current, await current.ready()
        except StorageError:
            await self._drop(current)
            raise

    async def _drop(self, session: _Session) -> None:
        if self._current is session:
            self._current = None
        await session.stop(0)

    async def _call_once(self, tool: str, args: dict[str, Any]) -> types.CallToolResult:
        """One tools/call on the shared session (retried once on a new session after a 404)."""
        for attempt in (1, 2):
            session, client = await self._open()
            seen = len(session.statuses)
            try:
                return await client.call_tool(tool, args)
            except MCPError as err:
                fresh = session.statuses[seen:]
                if 404 in fresh:  # the server forgot the session (it restarted)
                    await self._drop(session)
                    if attempt == 1:
                        continue
                if 401 in fresh or err.code == types.CONNECTION_CLOSED:
                    await self._drop(session)
                    raise session.failure(session.error or err) from err
                if err.code == types.REQUEST_TIMEOUT:
                    raise StorageError(
                        f"The memory server {self.url} did not answer {tool} within "
                        f"{self._timeout:g} s.",
                        title="Memory server too slow",
                    ) from err
                if _UNKNOWN_TOOL in err.message:
                    raise RemoteToolMissingError(self.url, tool) from err
                raise RemoteToolError(tool, err.message) from err
            except (
                OSError,
                httpx2.HTTPError,
                anyio.ClosedResourceError,
                anyio.BrokenResourceError,
            ) as err:
                await self._drop(session)
                raise session.failure(err) from err
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call one tool and return its JSON result (every page of it); an ``is_error``
        result raises.

        Raises :class:`RemoteToolMissingError` when the server does not offer ``tool``,
        :class:`RemoteToolError` when it refuses the call, and :class:`StorageError` when it
        cannot be reached.
        """
        args = {k: v for k, v in arguments.items() if v is not None}
        data = self._data(tool, await self._call_once(tool, args))
        spec = SERVER_TOOLS_BY_NAME.get(tool)
        keys = spec.paged if spec is not None else ()
        for _ in range(MAX_PAGES):
            token = data.get("next_page_token")
            if not token or not keys:
                break
            page = self._data(tool, await self._call_once(tool, {**args, "page_token": token}))
            merge_page(data, page, keys)
        for key in ("next_page_token", "total"):
            data.pop(key, None)
        if keys and "count" in data:
            data.pop("count")
        return data

    def _data(self, tool: str, result: types.CallToolResult) -> dict[str, Any]:
        if not result.is_error:
            return _payload(result)
        envelope: Any = (result.meta or {}).get(ERROR_META_KEY)
        if not isinstance(envelope, Mapping):  # older servers sent it as the content
            envelope = _payload(result)
        found = envelope.get("error")
        error: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        message = str(error.get("message") or _text_of(result) or "no message")
        code = error.get("code")
        if code == "unknown_tool" or message.startswith(_UNKNOWN_TOOL):
            raise RemoteToolMissingError(self.url, tool)
        raise RemoteToolError(tool, message, str(code) if code else None)

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

    async def close(self) -> None:
        """End the MCP session (the next call would open a new one)."""
        if self._current is not None:
            session, self._current = self._current, None
            await session.stop()


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


def _leaf(err: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups: the one worth reporting."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return err


def _text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def _payload(result: types.CallToolResult) -> dict[str, Any]:
    """A result's JSON: its text (our servers), else its structured content (older ones)."""
    for block in result.content:
        if isinstance(block, types.TextContent):
            try:
                data = json.loads(block.text)
            except ValueError:
                return {"error": {"message": block.text}}
            return dict(data) if isinstance(data, dict) else {"value": data}
    if isinstance(result.structured_content, dict):
        return dict(result.structured_content)
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
