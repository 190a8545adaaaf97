"""Sergas over Zoho's own hosted MCP server ("flavour zoho"): :class:`ZohoMcpGateway` and the
factories that connect to it. Zoho's servers (the console servers on ``*.zohomcp.<tld>``, the
pre-built CRM servers, the Claude directory connector) speak Zoho's ``ZohoCRM_*`` catalog, not
ours, with Zoho's REST v8 JSON in their results and a secret key in their URL (docs/zoho.md,
"Zoho's hosted MCP server"). The package is split by concern: ``redaction`` keeps the URL key
out of messages and logs, ``catalog`` maps Zoho's tool names and schemas, ``results`` decodes
results and errors, ``session`` opens a session, ``calls`` calls, retries and pages, ``owners``,
``reads``, ``sync`` and ``writes`` do the gateway's work, ``gateway`` is
:class:`ZohoMcpGateway` itself and ``connect`` holds the factories and ``sergas doctor``'s
probe. Everything other modules use is re-exported here, so callers import from
``sergas_tui.crm.zoho_mcp`` only (and agents, which never hold a writer, not at all).
"""

from __future__ import annotations

from sergas_tui.crm.zoho_mcp.calls import (
    MAX_CONCURRENT_CALLS,
    PAGE_NUMBER_REACH,
    PAGE_SIZE,
    READ_RETRIES,
)
from sergas_tui.crm.zoho_mcp.catalog import (
    SERGAS_TOOL_PREFIX,
    ZOHO_TOOL_PREFIX,
    ZohoCatalog,
    ZohoTool,
    catalog_flavour,
    normalised_operation,
)
from sergas_tui.crm.zoho_mcp.connect import (
    Flavour,
    ZohoMcpProbe,
    connect_mcp_http,
    connect_mcp_stdio,
    connect_zoho_mcp,
    probe_zoho_mcp,
)
from sergas_tui.crm.zoho_mcp.gateway import ZohoMcpGateway
from sergas_tui.crm.zoho_mcp.redaction import UrlScrubber, redact_url
from sergas_tui.crm.zoho_mcp.results import decode_tool_result, rows_of, zoho_tool_error
from sergas_tui.crm.zoho_mcp.session import keyless_http_transport

__all__ = [
    "MAX_CONCURRENT_CALLS",
    "PAGE_NUMBER_REACH",
    "PAGE_SIZE",
    "READ_RETRIES",
    "SERGAS_TOOL_PREFIX",
    "ZOHO_TOOL_PREFIX",
    "Flavour",
    "UrlScrubber",
    "ZohoCatalog",
    "ZohoMcpGateway",
    "ZohoMcpProbe",
    "ZohoTool",
    "catalog_flavour",
    "connect_mcp_http",
    "connect_mcp_stdio",
    "connect_zoho_mcp",
    "decode_tool_result",
    "keyless_http_transport",
    "normalised_operation",
    "probe_zoho_mcp",
    "redact_url",
    "rows_of",
    "zoho_tool_error",
]
