"""The MCP client session behind :class:`~sergas_tui.crm.mcp.client.McpGateway`.

:class:`SessionRunner` keeps a transport and a ``ClientSession`` open in one background task;
:func:`stdio_transport` and :func:`http_transport` are the two transports; :func:`to_crm_error`
turns transport and protocol failures into the CrmError a caller can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TextIO

import anyio
import httpx2
import mcp_types as types
import structlog
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from sergas_tui import __version__
from sergas_tui.errors import CrmConnectionError, CrmError, CrmTimeoutError

log = structlog.get_logger("sergas.mcp")

TransportStreams = tuple[Any, Any]
"""The (read, write) stream pair an MCP client transport yields."""

# Defaults, in one place.
CONNECT_TIMEOUT = 30.0
"""Seconds to start the transport and finish the initialize handshake."""
CALL_TIMEOUT = 120.0
"""Seconds to wait for one tool result."""
SYNC_TIMEOUT = 900.0
"""Seconds to wait for a bulk sync (thousands of records)."""
CLOSE_TIMEOUT = 15.0
"""Seconds to wind the session and the server process down before cancelling."""
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)
"""HTTP timeouts: 30 s to connect and send, 5 minutes to read (results stream as SSE)."""
MAX_SSE_EVENT_BYTES = 256 * 1024 * 1024
"""Largest single HTTP result accepted (a bulk sync of a big org is tens of megabytes)."""


class SessionRunner:
    """Owns the transport and the ClientSession inside one background task.

    AnyIO cancel scopes must be left by the task that entered them, while the gateway is used
    (and closed) from many tasks such as Textual workers; so one task enters, waits for
    :meth:`stop`, and exits.
    """

    def __init__(
        self, transport: AbstractAsyncContextManager[TransportStreams], read_timeout: float
    ) -> None:
        self._transport = transport
        self._read_timeout = read_timeout
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.session: ClientSession | None = None
        self.error: BaseException | None = None

    async def start(self, within: float) -> ClientSession:
        self._task = asyncio.create_task(self._run(), name="sergas-mcp-session")
        try:
            async with asyncio.timeout(within):
                await self._ready.wait()
        except TimeoutError:
            await self.stop(0)
            raise CrmTimeoutError(
                f"The MCP server did not finish connecting within {within:g} s."
            ) from None
        if self.session is None:
            await self.stop(0)
            raise self.error or CrmConnectionError("The MCP session ended while connecting.")
        return self.session

    async def _run(self) -> None:
        try:
            async with (
                self._transport as (read_stream, write_stream),
                ClientSession(
                    read_stream,
                    write_stream,
                    read_timeout_seconds=self._read_timeout,
                    client_info=types.Implementation(name="sergas", version=__version__),
                ) as session,
            ):
                await session.initialize()
                self.session = session
                self._ready.set()
                await self._stop.wait()
        except Exception as err:
            self.error = err
            if self._ready.is_set():
                log.warning("mcp_session_ended", error=repr(err))
        finally:
            self._ready.set()

    @property
    def ended(self) -> bool:
        """True once the session is over (closed, or lost with its transport)."""
        return self._task is not None and self._task.done()

    async def stop(self, grace: float = CLOSE_TIMEOUT) -> None:
        """End the session (closing the transport and any server process); idempotent."""
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), grace)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _leaf(err: BaseException) -> BaseException:
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return err


def to_crm_error(err: BaseException, target: str) -> CrmError:
    """A transport-level failure as the CrmError a caller can act on."""
    err = _leaf(err)
    if isinstance(err, CrmError):
        return err
    if isinstance(err, MCPError):
        if err.code == types.CONNECTION_CLOSED:
            return CrmConnectionError(f"The connection to the MCP server at {target} closed.")
        if err.code == types.REQUEST_TIMEOUT:
            return CrmTimeoutError(f"The MCP server at {target} did not answer in time.")
        return CrmError(f"The MCP server at {target} failed: {err.message} (code {err.code}).")
    if isinstance(err, TimeoutError | httpx2.TimeoutException):
        return CrmTimeoutError(f"The MCP server at {target} did not answer in time.")
    if isinstance(
        err,
        OSError
        | httpx2.TransportError
        | anyio.ClosedResourceError
        | anyio.BrokenResourceError
        | anyio.EndOfStream,
    ):
        return CrmConnectionError(f"Cannot reach the MCP server at {target}: {err}")
    if isinstance(err, ValidationError):
        return CrmError(f"The MCP server at {target} returned data Sergas cannot read: {err}")
    return CrmError(f"Talking to the MCP server at {target} failed: {err}")


@asynccontextmanager
async def stdio_transport(
    params: StdioServerParameters, errlog: TextIO | None
) -> AsyncIterator[TransportStreams]:
    with contextlib.ExitStack() as files:
        sink = errlog or files.enter_context(_devnull())
        async with stdio_client(params, errlog=sink) as streams:
            yield streams


def _devnull() -> TextIO:
    return open(os.devnull, "w", encoding="utf-8")


@asynccontextmanager
async def http_transport(
    url: str, bearer_token: str, on_response: Callable[[httpx2.Response], Awaitable[None]]
) -> AsyncIterator[TransportStreams]:
    client = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {bearer_token}"},
        timeout=HTTP_TIMEOUT,
        event_hooks={"response": [on_response]},
    )
    async with (
        client,
        streamable_http_client(
            url, http_client=client, max_sse_event_size=MAX_SSE_EVENT_BYTES
        ) as streams,
    ):
        yield streams
