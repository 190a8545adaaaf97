"""A fake of Zoho's hosted MCP server: the ``ZohoCRM_*`` catalog over the Zoho simulator.

Each tool call is forwarded as the REST v8 request it stands for to our simulator (through
httpx's ASGI transport, with the demo OAuth client, as Zoho's "authorization via connection"
does), so the fake always agrees with the records. What it mimics (docs/zoho.md, "Zoho's hosted
MCP server"):

- names: ``ZohoCRM_<operationId>`` (``style="camelCase"``) or the older Title_Case names
  (``style="Title_Case"``: ``ZohoCRM_Get_Records``, ``ZohoCRM_Get_Records_By_Query``…, with
  ``ZohoCRM_getRelatedRecords`` camelCase even there, as observed);
- arguments nested as ``path_variables`` / ``query_params`` / ``body`` / ``headers``, with the
  key spellings seen in the wild (``recordId`` vs ``recordID``, ``perPage`` on related lists);
- results: the raw REST JSON as one text block; REST errors as ``isError`` results carrying
  Zoho's error object (or, with ``errors_as_text``, inside an ordinary result, as some servers
  do); a REST 204 as ``no_content_text``; a wrong path-variable name answers "ok" with an
  ``INVALID_URL_PATTERN`` object inside, as reported.

:func:`serve_http` serves it over streamable HTTP on 127.0.0.1 at ``/mcp/<key>/message``; any
other key gets 401 (and, on purpose, a body echoing the path it was given).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx
import mcp_types as types
import uvicorn
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp, Receive, Scope, Send

from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    Simulator,
)

Style = Literal["camelCase", "Title_Case"]
SIM_BASE = "http://zoho-sim.invalid"


@dataclass(frozen=True)
class Operation:
    """One Zoho CRM operation as a tool: its REST request and its argument keys."""

    operation_id: str
    title: str | None
    method: str
    path: str
    """REST path under ``/crm/v8`` with ``{canonical}`` placeholders."""
    path_vars: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    body: Mapping[str, Any] | None = None
    """JSON schema of the body's properties, or None when the operation has no body."""
    headers: tuple[str, ...] = ()
    renames: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Style → canonical key → the key as that style's schema spells it."""
    description: str = ""

    def name(self, style: Style) -> str:
        if style == "Title_Case" and self.title:
            return f"ZohoCRM_{self.title}"
        return f"ZohoCRM_{self.operation_id}"

    def spelled(self, style: Style, key: str) -> str:
        return self.renames.get(style, {}).get(key, key)

    def schema(self, style: Style) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        if self.path_vars:
            names = [self.spelled(style, k) for k in self.path_vars]
            properties["path_variables"] = {
                "type": "object",
                "properties": {n: {"type": "string", "maxLength": 100} for n in names},
                "required": names,
            }
            required.append("path_variables")
        if self.query:
            properties["query_params"] = {
                "type": "object",
                "properties": {
                    self.spelled(style, k): _QUERY_TYPES.get(k, {"type": "string"})
                    for k in self.query
                },
                "required": [],
            }
        if self.body is not None:
            properties["body"] = {
                "type": "object",
                "properties": dict(self.body),
                "required": list(self.body),
            }
            required.append("body")
        if self.headers:
            properties["headers"] = {
                "type": "object",
                "properties": {h: {"type": "string", "format": "date-time"} for h in self.headers},
                "required": [],
            }
        return {"type": "object", "properties": properties, "required": required}


_QUERY_TYPES: dict[str, dict[str, Any]] = {
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 200},
    "sort_by": {"type": "string", "enum": ["id", "Created_Time", "Modified_Time", "audited_time"]},
    "sort_order": {"type": "string", "enum": ["asc", "desc"]},
}
_LIST_QUERY = ("fields", "page", "per_page", "page_token", "sort_by", "sort_order")
_RECORDS_BODY = {
    "data": {"type": "array", "items": {"type": "object"}},
    "trigger": {"type": "array", "items": {"type": "string"}},
}
_RECORD_ID = {"Title_Case": {"recordId": "recordID"}}

OPERATIONS: dict[str, Operation] = {
    op.operation_id: op
    for op in (
        Operation(
            "getRecords",
            "Get_Records",
            "GET",
            "/{module}",
            ("module",),
            (*_LIST_QUERY, "ids", "cvid"),
            description="Fetch the records of a module.",
        ),
        Operation(
            "getRecord",
            "Get_Record",
            "GET",
            "/{module}/{recordId}",
            ("module", "recordId"),
            ("fields",),
            renames=_RECORD_ID,
            description="Fetch one record by id.",
        ),
        Operation(
            "searchRecords",
            "Search_Records",
            "GET",
            "/{module}/search",
            ("module",),
            ("criteria", "email", "phone", "word", "fields", "page", "per_page"),
            description="Search the records of a module.",
        ),
        Operation(
            "executeCOQLQuery",
            "Get_Records_By_Query",
            "POST",
            "/coql",
            body={"select_query": {"type": "string"}},
            description="Run a COQL select query.",
        ),
        Operation(
            "getRelatedRecords",
            None,  # camelCase even among Title_Case tools
            "GET",
            "/{parentRecordModule}/{parentRecord}/{relatedList}",
            ("parentRecordModule", "parentRecord", "relatedList"),
            _LIST_QUERY,
            renames={"camelCase": {"per_page": "perPage"}},
            description="Fetch the records of a related list of a record.",
        ),
        Operation(
            "getUsers",
            "Get_Users",
            "GET",
            "/users",
            query=("type", "page", "per_page"),
            description="Fetch the users of the org.",
        ),
        Operation(
            "getTimelines",
            None,
            "GET",
            "/{module}/{recordId}/__timeline",
            ("module", "recordId"),
            ("per_page", "page_token", "sort_by", "sort_order"),
            description="Fetch the timeline of a record.",
        ),
        Operation(
            "createRecords",
            "Create_Records",
            "POST",
            "/{module}",
            ("module",),
            body=_RECORDS_BODY,
            description="Create records in a module.",
        ),
        Operation(
            "updateRecord",
            "Update_Record",
            "PUT",
            "/{module}/{recordId}",
            ("module", "recordId"),
            body=_RECORDS_BODY,
            headers=("If-Unmodified-Since",),
            renames=_RECORD_ID,
            description="Update one record.",
        ),
        Operation(
            "getFields",
            "Get_Fields",
            "GET",
            "/settings/fields",
            query=("module", "include", "type"),
            description="Fetch the field metadata of a module.",
        ),
        Operation(
            "getModules",
            "Get_Modules",
            "GET",
            "/settings/modules",
            description="Fetch the modules of the org (never used by Sergas).",
        ),
    )
}

FULL_CATALOG: frozenset[str] = frozenset(OPERATIONS)
"""Every operation above: like the 'Data Operations' pre-built server."""
READ_ONLY_CATALOG: frozenset[str] = frozenset(
    {"getRecords", "getRecord", "getRelatedRecords", "getModules"}
)
"""A small read-only console server: no COQL, no search, no users, no timeline, no writes."""


def _error_text(code: str, message: str, **details: Any) -> str:
    return json.dumps({"code": code, "details": details, "message": message, "status": "error"})


class ZohoHostedFake:
    """The fake server over one simulator; ``server`` is the MCP ``Server`` to run."""

    def __init__(
        self,
        sim: Simulator,
        *,
        style: Style = "camelCase",
        operations: Iterable[str] = FULL_CATALOG,
        errors_as_text: bool = False,
        no_content_text: str = "",
        extra_tools: Iterable[str] = ("ZohoDesk_getTickets",),
    ) -> None:
        self.style = style
        self.errors_as_text = errors_as_text
        self.no_content_text = no_content_text
        self.calls: Counter[str] = Counter()
        """Tool calls received, by tool name."""
        self._ops = {OPERATIONS[key].name(style): OPERATIONS[key] for key in operations}
        self._extra = tuple(extra_tools)
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sim.app), base_url=SIM_BASE
        )
        self._token: str | None = None
        self._token_lock = asyncio.Lock()
        self.server: Server[Any] = self._build()

    async def aclose(self) -> None:
        await self._http.aclose()

    def name_of(self, operation_id: str) -> str:
        return OPERATIONS[operation_id].name(self.style)

    # -- REST ----------------------------------------------------------------------------------

    async def _access_token(self, *, renew: bool = False) -> str:
        async with self._token_lock:
            if self._token is None or renew:
                response = await self._http.post(
                    "/oauth/v2/token",
                    data={
                        "grant_type": "refresh_token",
                        "client_id": DEMO_CLIENT_ID,
                        "client_secret": DEMO_CLIENT_SECRET,
                        "refresh_token": DEMO_REFRESH_TOKEN,
                    },
                )
                self._token = str(response.json()["access_token"])
            return self._token

    async def _rest(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        body: Any,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        for attempt in range(2):
            token = await self._access_token(renew=attempt > 0)
            response = await self._http.request(
                method,
                f"/crm/v8{path}",
                params={k: str(v) for k, v in params.items()},
                json=body,
                headers={**headers, "Authorization": f"Zoho-oauthtoken {token}"},
            )
            if response.status_code != 401 or attempt > 0:
                return response
        raise AssertionError("unreachable")

    # -- MCP -----------------------------------------------------------------------------------

    def _build(self) -> Server[Any]:
        tools = [
            types.Tool(
                name=name,
                description=op.description,
                input_schema=op.schema(self.style),
            )
            for name, op in self._ops.items()
        ]
        tools += [
            types.Tool(name=name, description="Not CRM.", input_schema={"type": "object"})
            for name in self._extra
        ]
        listing = types.ListToolsResult(tools=tools)

        async def list_tools(
            ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            return listing

        async def call_tool(
            ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
        ) -> types.CallToolResult:
            op = self._ops.get(params.name)
            if op is None:
                raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
            self.calls[params.name] += 1
            return await self._forward(op, params.arguments or {})

        return Server(
            "zoho-crm-data-operations",
            version="fake",
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )

    async def _forward(self, op: Operation, arguments: Mapping[str, Any]) -> types.CallToolResult:
        def group(name: str) -> dict[str, Any]:
            value = arguments.get(name)
            return dict(value) if isinstance(value, Mapping) else {}

        spelled_path = group("path_variables")
        canonical: dict[str, str] = {}
        for key in op.path_vars:
            value = spelled_path.get(op.spelled(self.style, key))
            if value is None or str(value) == "":
                # As reported of Zoho's server: "ok", with the REST error inside.
                return _text(
                    _error_text(
                        "INVALID_URL_PATTERN",
                        "Please check if the URL trying to access is a correct one",
                    )
                )
            canonical[key] = quote(str(value), safe="")
        path = op.path.format(**canonical)
        query_names = {op.spelled(self.style, k): k for k in op.query}
        params = {query_names[k]: v for k, v in group("query_params").items() if k in query_names}
        headers = {k: str(v) for k, v in group("headers").items() if k in op.headers}
        body = arguments.get("body") if op.body is not None else None
        response = await self._rest(op.method, path, params, body, headers)
        if response.status_code in (204, 304) or not response.content:
            return _text(self.no_content_text)
        failed = response.status_code >= 400
        return types.CallToolResult(
            content=[types.TextContent(text=response.text)],
            is_error=failed and not self.errors_as_text,
        )


def _text(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)])


# --- over HTTP, with the key in the URL -------------------------------------------------------


class KeyedEndpoint:
    """ASGI middleware: only ``/mcp/<key>/message`` is served; another key gets 401 with a
    body that (like a careless server) echoes the path; with ``bearer_token``, requests must
    also carry it."""

    def __init__(self, app: ASGIApp, *, key: str, bearer_token: str | None) -> None:
        self._app = app
        self._path = f"/mcp/{key}/message"
        self._bearer = f"Bearer {bearer_token}".encode() if bearer_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if scope["path"] != self._path:
            body = _error_text("INVALID_KEY", f"APIKey parsing Exception for {scope['path']}")
            await _reply(send, 401, body.encode())
            return
        if self._bearer is not None:
            presented = dict(scope.get("headers", [])).get(b"authorization", b"")
            if not secrets.compare_digest(presented, self._bearer):
                await _reply(
                    send,
                    401,
                    b'{"error":"unauthorized"}',
                    [(b"www-authenticate", b'Bearer resource_metadata="/.well-known/oauth"')],
                )
                return
        await self._app(scope, receive, send)


async def _reply(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Uvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()


@asynccontextmanager
async def serve_http(
    server: Server[Any], *, key: str, bearer_token: str | None = None
) -> AsyncIterator[str]:
    """Serve ``server`` over streamable HTTP on 127.0.0.1 (a free port) in this event loop;
    yields the endpoint URL ``http://127.0.0.1:<port>/mcp/<key>/message``."""
    path = f"/mcp/{key}/message"
    app = KeyedEndpoint(
        server.streamable_http_app(streamable_http_path=path, host="127.0.0.1"),
        key=key,
        bearer_token=bearer_token,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    uv = _Uvicorn(config)
    serving = asyncio.create_task(uv.serve(sockets=[sock]))
    listening = asyncio.create_task(uv.listening.wait())
    try:
        await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
        if not uv.listening.is_set():
            raise RuntimeError("the fake Zoho MCP server did not start")
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        listening.cancel()
        uv.should_exit = True
        await serving
        sock.close()


__all__ = [
    "FULL_CATALOG",
    "OPERATIONS",
    "READ_ONLY_CATALOG",
    "KeyedEndpoint",
    "Operation",
    "ZohoHostedFake",
    "serve_http",
]
