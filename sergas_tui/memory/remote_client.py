"""A client of our memory MCP server over streamable HTTP: one shared session, tool calls, and
their results as JSON.

One app, one MCP session: the first call opens it (in a background task, which owns the
transport's cancel scopes) and every later call, concurrent ones included, shares it until
:meth:`MemoryServerClient.close`. A session the server no longer knows (it restarted: HTTP 404)
or a lost connection is replaced by a new one for the next call; a 404 call is retried once on
the new session, since the server never ran it. List results come in pages (about 100 KB each);
:meth:`MemoryServerClient.call` follows ``next_page_token`` and returns the whole result. A
wrong token, an unreachable server, a missing tool and a refused call each raise their own
error. :class:`~.remote.RemoteMemory` is the MemoryStore built on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

import anyio
import httpx2
import mcp_types as types
import structlog
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from sergas_tui import __version__
from sergas_tui.errors import RemoteToolError, RemoteToolMissingError, StorageError
from sergas_tui.mcp_paging import merge_page
from sergas_tui.memory.mcp_write_tools import SERVER_TOOLS_BY_NAME
from sergas_tui.memory.tool_calls import ERROR_META_KEY

log = structlog.get_logger("sergas.memory.remote")

TIMEOUT_SECONDS = 30.0
"""Seconds to connect, and to wait for one tool result."""
SSE_READ_SECONDS = 300.0
"""Read timeout of the session's HTTP streams (the server's event stream idles)."""
CLOSE_SECONDS = 5.0
"""Seconds to end a session politely before cancelling it."""
MAX_PAGES = 10_000
_UNKNOWN_TOOL = "Unknown tool"


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


class MemoryServerClient:
    """Tool calls on a memory MCP server, over one shared session (see the module docstring)."""

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

    async def close(self) -> None:
        """End the MCP session (the next call would open a new one)."""
        if self._current is not None:
            session, self._current = self._current, None
            await session.stop()


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
