"""Connecting: the factories that build a CRM gateway from an MCP endpoint, and the doctor's probe.

:func:`connect_zoho_mcp` opens Zoho's hosted server at a keyed URL; :func:`connect_mcp_http`
and :func:`connect_mcp_stdio` open any MCP endpoint and return whichever gateway its catalog
calls for (our ``zoho_*`` tools: ``McpGateway``; Zoho's ``ZohoCRM_*`` tools:
:class:`ZohoMcpGateway`), detected from ``tools/list`` unless ``[zoho] mcp_flavour`` says which.
While a keyed URL's gateway is open the loggers are guarded so no line shows its key.
:func:`probe_zoho_mcp` is ``sergas doctor``'s look at a server: connect, read the catalog,
disconnect. These are the entry points the composition root and the doctor use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

import anyio
import structlog
from mcp.client.stdio import StdioServerParameters

from sergas_tui.clock import Clock
from sergas_tui.crm.mcp.session import (
    CALL_TIMEOUT,
    CONNECT_TIMEOUT,
    TransportStreams,
    stdio_transport,
)
from sergas_tui.crm.writer import CrmGateway
from sergas_tui.crm.zoho_mcp.catalog import catalog_flavour
from sergas_tui.crm.zoho_mcp.gateway import ZohoMcpGateway
from sergas_tui.crm.zoho_mcp.redaction import UrlScrubber, guard_logs, unguard_logs
from sergas_tui.crm.zoho_mcp.session import (
    AUTH_REFUSED,
    AUTH_REFUSED_ANY,
    open_session,
    recording_http_transport,
)
from sergas_tui.errors import CrmError

log = structlog.get_logger("sergas.zoho_mcp")

Flavour = Literal["auto", "sergas", "zoho"]


async def connect_zoho_mcp(
    url: str,
    *,
    bearer_token: str | None = None,
    clock: Clock | None = None,
    extra_fields: Mapping[str, Sequence[str]] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    call_timeout: float = CALL_TIMEOUT,
) -> ZohoMcpGateway:
    """Connect to Zoho's hosted MCP server over streamable HTTP.

    ``url`` is the server's URL with its key (``https://<server>.zohomcp.com/mcp/<key>/message``);
    ``bearer_token`` an OAuth access token when the server uses authorization on demand (None
    for key-only servers). A refused endpoint is a :class:`CrmAuthError`; no message or log line
    shows more of the URL than :func:`redact_url`.
    """
    scrubber = UrlScrubber(url)
    guard_logs(scrubber)
    statuses: list[int] = []
    try:
        return await ZohoMcpGateway.connect(
            recording_http_transport(url, bearer_token, statuses),
            target=scrubber.redacted,
            scrubber=scrubber,
            statuses=statuses,
            clock=clock,
            extra_fields=extra_fields,
            connect_timeout=connect_timeout,
            call_timeout=call_timeout,
        )
    except BaseException:
        unguard_logs(scrubber)
        raise


async def _connect_detected(
    transport: AbstractAsyncContextManager[TransportStreams],
    *,
    target: str,
    flavour: Flavour,
    scrubber: UrlScrubber | None,
    statuses: list[int] | None,
    clock: Clock | None,
    extra_fields: Mapping[str, Sequence[str]] | None,
) -> CrmGateway:
    from sergas_tui.crm.mcp import tools as mcp_tools
    from sergas_tui.crm.mcp.client import McpGateway

    runner, session, tools = await open_session(
        transport,
        target,
        scrubber,
        statuses,
        CONNECT_TIMEOUT,
        CALL_TIMEOUT,
        advice=AUTH_REFUSED if flavour == "zoho" else AUTH_REFUSED_ANY,
    )
    try:
        names = frozenset(tool.name for tool in tools)
        found = catalog_flavour(names)
        chosen = found if flavour == "auto" else flavour
        if chosen == "zoho":
            return ZohoMcpGateway.from_session(
                runner,
                session,
                tools,
                target=target,
                scrubber=scrubber,
                statuses=statuses,
                clock=clock,
                extra_fields=extra_fields,
                call_timeout=CALL_TIMEOUT,
            )
        if missing := mcp_tools.SEED_TOOL_NAMES - names:
            raise CrmError(
                f"The MCP server at {target} offers neither Sergas's Zoho tools (it lacks "
                f"{', '.join(sorted(missing))}) nor Zoho's ZohoCRM_* tools.",
                title="Not a Zoho MCP server",
            )
        log.info("mcp_connected", target=target, tools=len(names), flavour="sergas")
        return McpGateway(runner, session, names, target=target)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await runner.stop()
        raise


async def connect_mcp_http(
    url: str,
    bearer_token: str | None,
    *,
    flavour: Flavour = "auto",
    clock: Clock | None = None,
    extra_fields: Mapping[str, Sequence[str]] | None = None,
) -> CrmGateway:
    """An MCP endpoint over streamable HTTP, as the catalog it offers: our ``zoho_*`` tools
    (``McpGateway``) or Zoho's ``ZohoCRM_*`` tools (``ZohoMcpGateway``), detected from
    ``tools/list`` unless ``flavour`` says which."""
    scrubber = UrlScrubber(url)
    guard_logs(scrubber)
    statuses: list[int] = []
    try:
        gateway = await _connect_detected(
            recording_http_transport(url, bearer_token, statuses),
            target=scrubber.redacted,
            flavour=flavour,
            scrubber=scrubber,
            statuses=statuses,
            clock=clock,
            extra_fields=extra_fields,
        )
    except BaseException:
        unguard_logs(scrubber)
        raise
    if not isinstance(gateway, ZohoMcpGateway):
        unguard_logs(scrubber)  # our own server's URL holds no key
    return gateway


async def connect_mcp_stdio(
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    flavour: Flavour = "auto",
    clock: Clock | None = None,
    extra_fields: Mapping[str, Sequence[str]] | None = None,
) -> CrmGateway:
    """A stdio MCP server started from ``command``, as the catalog it offers (see
    :func:`connect_mcp_http`)."""
    if not command:
        raise CrmError("The MCP server command is empty.", title="Cannot start MCP server")
    params = StdioServerParameters(command=command[0], args=list(command[1:]), env=dict(env or {}))
    return await _connect_detected(
        stdio_transport(params, None),
        target=f"'{command[0]}'",
        flavour=flavour,
        scrubber=None,
        statuses=None,
        clock=clock,
        extra_fields=extra_fields,
    )


@dataclass(frozen=True)
class ZohoMcpProbe:
    """What ``sergas doctor`` learns from Zoho's hosted server: its tools and what degrades."""

    tools: int
    naming: str
    degraded: list[str]


async def probe_zoho_mcp(
    url: str, bearer_token: str | None, *, within: float = 10.0
) -> ZohoMcpProbe:
    """Connect, read the catalog and disconnect (no CRM call is made)."""
    gateway = await connect_zoho_mcp(
        url, bearer_token=bearer_token, connect_timeout=within, call_timeout=within
    )
    try:
        return ZohoMcpProbe(len(gateway.tools), gateway.catalog.naming, gateway.degraded)
    finally:
        await gateway.aclose()


__all__ = [
    "Flavour",
    "ZohoMcpProbe",
    "connect_mcp_http",
    "connect_mcp_stdio",
    "connect_zoho_mcp",
    "probe_zoho_mcp",
]
