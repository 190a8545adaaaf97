"""Calling Zoho's tools: one call with retries and scrubbed errors, paging, COQL, fan-out.

:class:`ToolCaller` is the gateway's one way to the server. It builds a call's arguments from
the catalog, keeps at most a few calls in flight (they spend the org's API credits), tries reads
again after Zoho throttled or failed them (never writes), turns refusals and transport failures
into typed errors with the URL key scrubbed out, counts calls for ``SyncBatch.calls`` and walks
Zoho's paging (``page``, then ``page_token``; COQL by ``id > 'last id'``). The reads, the bulk
sync and the writes are built on it, each in its own module, so none of them deals with the
session, the limits or the paging rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import structlog
from mcp.client.session import ClientSession
from pydantic import JsonValue

from sergas_tui import metrics
from sergas_tui.crm.fields import fields_param
from sergas_tui.crm.http import (
    MAX_RATE_LIMIT_WAIT_SECONDS,
    CrmWait,
    current_patience,
    message_says_credits,
    note_api_call,
    tell_wait,
    wait_text,
)
from sergas_tui.crm.mcp.session import SessionRunner, to_crm_error
from sergas_tui.crm.queries import CoqlQuery
from sergas_tui.crm.zoho_mcp.catalog import TOOL_LABEL, ZohoCatalog
from sergas_tui.crm.zoho_mcp.redaction import UrlScrubber
from sergas_tui.crm.zoho_mcp.results import (
    AUTH_ADVICE,
    Row,
    decode_tool_result,
    info_of,
    modified_of,
    rows_of,
)
from sergas_tui.errors import (
    CrmAuthError,
    CrmConnectionError,
    CrmError,
    CrmRateLimitedError,
    CrmServerError,
)

log = structlog.get_logger("sergas.zoho_mcp")

PAGE_SIZE = 200
"""Records per list call (Zoho's ``per_page`` maximum)."""
PAGE_NUMBER_REACH = 2_000
"""Records reachable with ``page``; beyond them only ``page_token`` works."""
MAX_CONCURRENT_CALLS = 5
"""Tool calls in flight at once: MCP calls spend the org's API credits and concurrency slots."""
READ_RETRIES = 2
"""Further attempts of a read after Zoho throttled it or failed (writes are never resent)."""

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


# --- call counting (SyncBatch.calls) --------------------------------------------------------------


@dataclass
class CallCounter:
    """The tool calls made while one sync ran."""

    calls: int = 0


COUNTERS: ContextVar[tuple[CallCounter, ...]] = ContextVar("sergas_zoho_mcp_calls", default=())
"""The counters of the syncs under way in this context; every tool call adds one to each."""


# --- running calls side by side ---------------------------------------------------------------


async def gather(jobs: Mapping[K, Awaitable[T]]) -> dict[K, T]:
    """Run the jobs concurrently; on a failure cancel the rest and raise the first error."""

    async def run(job: Awaitable[T]) -> T:
        return await job

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {name: group.create_task(run(job)) for name, job in jobs.items()}
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from first.__cause__
    return {name: task.result() for name, task in tasks.items()}


class ToolCaller:
    """Tool calls over one open session with Zoho's MCP server (see the module docstring)."""

    def __init__(
        self,
        runner: SessionRunner,
        session: ClientSession,
        catalog: ZohoCatalog,
        *,
        target: str,
        scrubber: UrlScrubber | None,
        statuses: list[int] | None,
        call_timeout: float,
        max_concurrent_calls: int,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._runner = runner
        self._session = session
        self.catalog = catalog
        self.target = target
        """Where the server is, safe to show (the URL redacted)."""
        self._scrubber = scrubber
        self._statuses = statuses if statuses is not None else []
        self._call_timeout = call_timeout
        self._limit = asyncio.Semaphore(max_concurrent_calls)
        self._sleep = sleep
        self.closed = False
        """Set by the gateway when it closes; later calls fail with CrmConnectionError."""

    def scrub(self, err: CrmError) -> CrmError:
        return self._scrubber.scrub_error(err) if self._scrubber is not None else err

    def _refused(self, since: int) -> int | None:
        return next((s for s in self._statuses[since:] if s in (401, 403)), None)

    async def call(
        self,
        operation: str,
        *,
        path: Mapping[str, JsonValue] | None = None,
        query: Mapping[str, JsonValue] | None = None,
        body: Mapping[str, JsonValue] | None = None,
        headers: Mapping[str, str] | None = None,
        write: bool = False,
        read_timeout: float | None = None,
    ) -> dict[str, Any] | None:
        """One Zoho tool call; Zoho's JSON (None for "nothing"), or the typed CrmError.

        Reads that Zoho throttled or failed are tried again with backoff; writes never are
        (a write whose answer was lost may have landed: the executor reconciles instead)."""
        tool = self.catalog.get(operation)
        if tool is None:
            raise CrmError(
                f"Zoho's MCP server at {self.target} offers no {TOOL_LABEL[operation]} tool.",
                title="Zoho MCP server lacks a tool",
            )
        arguments, _ = tool.arguments(path=path, query=query, body=body, headers=headers)
        failures = waits = 0
        waited = 0.0
        while True:
            try:
                return await self._call_once(tool.name, arguments, read_timeout)
            except CrmRateLimitedError as err:
                # Zoho's throttling of a read is waited out, as over REST (crm/http.py), unless
                # it says the day's credits are gone; a write is never sent twice.
                if write or err.code is None or message_says_credits(err.message):
                    raise
                delay = min(float(2 ** (waits + failures)), MAX_RATE_LIMIT_WAIT_SECONDS)
                if waited + delay > current_patience():
                    raise
                tell_wait(
                    CrmWait(
                        delay,
                        f"Zoho's rate limit ({TOOL_LABEL[operation]} on {self.target}); "
                        f"trying again in {wait_text(delay)}",
                        "rate_limited",
                    )
                )
                waits += 1
                waited += delay
                await self._sleep(delay)
            except CrmServerError as err:
                # Zoho's own failure (it has a code); not an unreadable answer.
                failures += 1
                if write or err.code is None or failures > READ_RETRIES:
                    raise
                await self._sleep(float(2 ** (waits + failures - 1)))

    async def _call_once(
        self, name: str, arguments: dict[str, Any], read_timeout: float | None
    ) -> dict[str, Any] | None:
        if self.closed:
            raise CrmConnectionError(
                f"The session with Zoho's MCP server at {self.target} is closed."
            )
        if self._runner.ended:
            cause = self._runner.error
            reason = f": {self.scrub(to_crm_error(cause, self.target))}" if cause else "."
            raise CrmConnectionError(
                f"The session with Zoho's MCP server at {self.target} ended{reason}"
            )
        for counter in COUNTERS.get():
            counter.calls += 1
        note_api_call()
        mark = len(self._statuses)
        with metrics.zoho_timed():  # an error answer counts as a failed call
            async with self._limit:
                try:
                    result = await self._session.call_tool(
                        name, arguments, read_timeout_seconds=read_timeout or self._call_timeout
                    )
                except Exception as err:
                    refused = self._refused(mark)
                    if refused is not None:
                        raise CrmAuthError(
                            f"Zoho's MCP server at {self.target} refused {name} "
                            f"(HTTP {refused}). {AUTH_ADVICE}",
                            status_code=refused,
                        ) from None
                    cleaned = self.scrub(to_crm_error(err, self.target))
                    if self._scrubber is not None:
                        raise cleaned from None
                    raise cleaned from err
            try:
                return decode_tool_result(name, result)
            except CrmError as err:
                raise self.scrub(err) from None

    async def pages(
        self,
        operation: str,
        *,
        path: Mapping[str, JsonValue] | None = None,
        query: Mapping[str, JsonValue],
        key: str = "data",
        per_page: int = PAGE_SIZE,
        token_only: bool = False,
    ) -> AsyncIterator[list[Row]]:
        """The pages of a list tool: ``page`` through 2,000 records, then ``page_token``; stops
        at nothing, an empty page, ``more_records: false`` or a page with nothing new."""
        page = 1
        page_token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, JsonValue] = dict(query)
            if page_token is not None:
                params["page_token"] = page_token
                if not token_only:
                    params["per_page"] = per_page
            else:
                params["per_page"] = per_page
                if not token_only:
                    params["page"] = page
            body = await self.call(operation, path=path, query=params)
            if body is None:
                return
            rows = rows_of(body, key)
            ids = {str(row.get("id")) for row in rows if row.get("id") is not None}
            if ids and ids <= seen:  # the server ignored the paging arguments
                log.warning("zoho_mcp.paging_ignored", tool=self.catalog.tool_name(operation))
                return
            seen |= ids
            yield rows
            info = info_of(body)
            if not rows or not info.get("more_records"):
                return
            if token_only or page_token is not None or page * per_page >= PAGE_NUMBER_REACH:
                next_token = info.get("next_page_token")
                if not isinstance(next_token, str) or not next_token:
                    log.warning("zoho_mcp.paging_stopped", page=page)
                    return
                page_token = next_token
            page += 1

    async def all_rows(
        self,
        operation: str,
        *,
        path: Mapping[str, JsonValue] | None = None,
        query: Mapping[str, JsonValue],
        key: str = "data",
        limit: int | None = None,
        per_page: int = PAGE_SIZE,
        token_only: bool = False,
        stop_before: datetime | None = None,
    ) -> list[Row]:
        """Every row of a list (at most ``limit``); with ``stop_before`` (rows sorted newest
        modified first) stop after the page that reaches back past it."""
        found: list[Row] = []
        pages = self.pages(
            operation, path=path, query=query, key=key, per_page=per_page, token_only=token_only
        )
        async for rows in pages:
            found.extend(rows)
            if limit is not None and len(found) >= limit:
                return found[:limit]
            if stop_before is not None:
                stamps = [m for m in (modified_of(row) for row in rows) if m is not None]
                if stamps and min(stamps) < stop_before:
                    return found
        return found

    async def coql(self, query: CoqlQuery) -> list[Row]:
        """All rows of a COQL query, 2,000 per call, paged by ``id > 'last id'``."""
        found: list[Row] = []
        cursor: str | None = None
        while True:
            body = await self.call("coql", body={"select_query": query.render(cursor)})
            rows = rows_of(body)
            found.extend(rows)
            if body is None or not rows or not info_of(body).get("more_records"):
                return found
            last = rows[-1].get("id")
            if last is None or str(last) == cursor:
                return found
            cursor = str(last)

    async def related(
        self,
        parent_module: str,
        parent_id: str,
        related_list: str,
        fields: Sequence[str],
        *,
        newest_first: bool = False,
        stop_before: datetime | None = None,
    ) -> list[Row]:
        query: dict[str, JsonValue] = {"fields": fields_param(fields)}
        if newest_first:
            query |= {"sort_by": "Modified_Time", "sort_order": "desc"}
        return await self.all_rows(
            "related_records",
            path={
                "parent_module": parent_module,
                "parent_id": parent_id,
                "related_list": related_list,
            },
            query=query,
            stop_before=stop_before if newest_first and self.sorts("related_records") else None,
        )

    def sorts(self, operation: str) -> bool:
        tool = self.catalog.get(operation)
        return tool is not None and tool.accepts("sort_by") and tool.accepts("sort_order")

    async def list_module(
        self,
        module: str,
        fields: Sequence[str],
        *,
        newest_first: bool = False,
        stop_before: datetime | None = None,
    ) -> list[Row]:
        """A whole module through ``getRecords`` (newest modified first when asked, stopping
        once past ``stop_before`` when the tool can sort)."""
        query: dict[str, JsonValue] = {"fields": fields_param(fields)}
        if newest_first:
            query |= {"sort_by": "Modified_Time", "sort_order": "desc"}
        else:
            query |= {"sort_by": "id", "sort_order": "asc"}
        sorted_ok = newest_first and self.sorts("get_records")
        return await self.all_rows(
            "get_records",
            path={"module": module},
            query=query,
            stop_before=stop_before if sorted_ok else None,
        )


__all__ = [
    "COUNTERS",
    "MAX_CONCURRENT_CALLS",
    "PAGE_NUMBER_REACH",
    "PAGE_SIZE",
    "READ_RETRIES",
    "CallCounter",
    "ToolCaller",
    "gather",
]
