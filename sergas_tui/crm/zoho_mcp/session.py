"""Opening a session with an MCP server: transports, listing the tools, refusals as auth errors.

Both the gateway (:meth:`ZohoMcpGateway.connect`) and the flavour-detecting factories in
``connect.py`` start a session the same way: over streamable HTTP that records each response's
status (with a bearer token, or keyless when the URL's key is the credential, as in Zoho's
"authorization via connection" mode) or over any transport, then page through ``tools/list``.
:func:`open_session` does that and turns a refused endpoint (HTTP 401/403/404 seen while
connecting) into a :class:`~sergas_tui.errors.CrmAuthError` with advice, scrubbing the URL's key
out of every other failure. It lives apart so the gateway and the factories can share it without
importing each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from sergas_tui.crm.mcp.session import (
    HTTP_TIMEOUT,
    MAX_SSE_EVENT_BYTES,
    SessionRunner,
    TransportStreams,
    http_transport,
    to_crm_error,
)
from sergas_tui.crm.zoho_mcp.redaction import UrlScrubber
from sergas_tui.errors import CrmAuthError


async def _list_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(100):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        listing = await session.list_tools(params=params)
        tools.extend(listing.tools)
        cursor = listing.next_cursor
        if not cursor:
            break
    return tools


AUTH_REFUSED = (
    "Check the URL (a regenerated key disconnects old URLs: store the new one with `sergas auth "
    "set zoho_mcp_url`) and, if the server uses authorization on demand, store an OAuth access "
    "token for it with `sergas auth set zoho_mcp_token`."
)
AUTH_REFUSED_ANY = (
    "Check the bearer token (`sergas auth set zoho_mcp_token`) and the endpoint URL; for Zoho's "
    "hosted server, a regenerated key disconnects old URLs."
)


async def open_session(
    transport: AbstractAsyncContextManager[TransportStreams],
    target: str,
    scrubber: UrlScrubber | None,
    statuses: list[int] | None,
    connect_timeout: float,
    call_timeout: float,
    advice: str = AUTH_REFUSED,
) -> tuple[SessionRunner, ClientSession, list[types.Tool]]:
    """Start the session and list the tools; refused endpoints become CrmAuthError."""
    runner = SessionRunner(transport, call_timeout)
    try:
        session = await runner.start(connect_timeout)
        tools = await _list_tools(session)
    except BaseException as err:
        with anyio.CancelScope(shield=True):
            await runner.stop()
        if not isinstance(err, Exception):
            raise
        refused = [s for s in statuses or [] if s in (401, 403, 404)]
        if refused:
            raise CrmAuthError(
                f"The MCP server at {target} refused the connection (HTTP {refused[0]}). {advice}",
                status_code=refused[0],
            ) from None
        crm_error = to_crm_error(err, target)
        if scrubber is not None:
            raise scrubber.scrub_error(crm_error) from None
        raise crm_error from err
    return runner, session, tools


@asynccontextmanager
async def keyless_http_transport(
    url: str, on_response: Callable[[httpx2.Response], Awaitable[None]]
) -> AsyncIterator[TransportStreams]:
    """Streamable HTTP without an Authorization header (the URL's key is the credential, as in
    Zoho's "authorization via connection" mode); otherwise as ``mcp.session.http_transport``."""
    client = httpx2.AsyncClient(timeout=HTTP_TIMEOUT, event_hooks={"response": [on_response]})
    async with (
        client,
        streamable_http_client(
            url, http_client=client, max_sse_event_size=MAX_SSE_EVENT_BYTES
        ) as streams,
    ):
        yield streams


def recording_http_transport(
    url: str, bearer_token: str | None, statuses: list[int]
) -> AbstractAsyncContextManager[TransportStreams]:
    async def remember_status(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    if bearer_token:
        return http_transport(url, bearer_token, remember_status)
    return keyless_http_transport(url, remember_status)


__all__ = [
    "AUTH_REFUSED",
    "AUTH_REFUSED_ANY",
    "keyless_http_transport",
    "open_session",
    "recording_http_transport",
]
