"""``McpGateway``: the :class:`CrmGateway` over an MCP client session.

Connect with :meth:`McpGateway.connect_stdio` (start a server such as ``sergas mcp zoho`` as a
subprocess) or :meth:`McpGateway.connect_http` (a streamable-HTTP endpoint with a bearer token);
both initialize the session and check that the server offers the seed's 11 tools. Each gateway
method is one tool call whose structured result is parsed back into domain models.
``sync``, ``get_stage_history``, ``get_timeline`` and ``get_fields`` use our server's extra read
tools (``zoho_sync``, ``zoho_get_stage_history``, ``zoho_get_timeline``, ``zoho_get_fields``;
without the last, an older server, field metadata is unknown).

Writes take the :class:`~sergas_tui.crm.writer.WriteApproval` they execute and send its id and
token; the server checks them against the recorded approval (a grant) and spends the token.
When the server keeps grants itself (no central database), the gateway first records the grant
with ``sergas_register_approval``; when grants are central, the deciding app published it there.

List tools answer in pages of about 100 KB; the gateway follows ``next_page_token`` and returns
whole lists.

Errors: ``isError`` results become the typed :class:`CrmError` the server reported in the
result's ``_meta`` (a refused approval is an :class:`ApprovalRefusedError`, a
``CrmPermissionError``); a dead or unreachable server is a :class:`CrmConnectionError`, a slow
one a :class:`CrmTimeoutError`.

Why one module: :class:`McpGateway` is one class with a method per
:class:`~sergas_tui.crm.gateway.CrmGateway` operation, each one tool call and the parsing of its
result; the session, the wire format and the tool catalog already live in :mod:`.session`,
:mod:`.wire` and :mod:`.tools`, so what remains is the protocol read top to bottom.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO, TypeVar

import anyio
import httpx2
import mcp_types as types
import structlog
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters
from pydantic import BaseModel, JsonValue, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from sergas_tui import metrics
from sergas_tui.crm.approval_gate import ApprovalRefusedError, RefusalReason, grant_for
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.http import (
    CrmWait,
    Sleep,
    current_patience,
    note_api_call,
    tell_wait,
    wait_text,
)
from sergas_tui.crm.mcp import tools as t
from sergas_tui.crm.mcp import wire
from sergas_tui.crm.mcp.session import (
    CALL_TIMEOUT,
    CONNECT_TIMEOUT,
    SYNC_TIMEOUT,
    SessionRunner,
    TransportStreams,
    http_transport,
    stdio_transport,
    to_crm_error,
)
from sergas_tui.crm.metadata_cache import FieldsCache, check_module
from sergas_tui.crm.writer import (
    AccountUpdate,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
    WriteResult,
    operation_of,
    write_fields,
)
from sergas_tui.domain import (
    Account,
    Activity,
    ActivityKind,
    Change,
    Deal,
    Note,
    Owner,
    StageChange,
    utc_now,
)
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.errors import (
    CrmAuthError,
    CrmConnectionError,
    CrmError,
    CrmNotFoundError,
    CrmRateLimitedError,
)

log = structlog.get_logger("sergas.mcp")

M = TypeVar("M", bound=BaseModel)


def _arguments(**values: Any) -> dict[str, Any]:
    """Tool arguments as JSON values, leaving out the ones not given."""
    jsonable: dict[str, Any] = to_jsonable_python(
        {key: value for key, value in values.items() if value is not None}
    )
    return jsonable


def _text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


class McpGateway:
    """:class:`CrmGateway` over an MCP session. Build it with ``connect_*``; close with
    :meth:`aclose` (or use it as an async context manager)."""

    def __init__(
        self,
        runner: SessionRunner,
        session: ClientSession,
        tools: frozenset[str],
        *,
        target: str,
        call_timeout: float = CALL_TIMEOUT,
        sync_timeout: float = SYNC_TIMEOUT,
    ) -> None:
        self._runner = runner
        self._session = session
        self.tools = tools
        """Names of the tools the server offers."""
        self.target = target
        self._call_timeout = call_timeout
        self._sync_timeout = sync_timeout
        self._closed = False
        self._fields_cache = FieldsCache()
        self._sleep: Sleep = anyio.sleep
        """How the client waits before asking again after "rate limited" (tests replace it)."""

    def use_fields_cache(self, cache: FieldsCache) -> None:
        """Keep field metadata in ``cache`` (services give it the workspace's, on disk)."""
        self._fields_cache = cache

    # -- connecting ---------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        transport: AbstractAsyncContextManager[TransportStreams],
        *,
        target: str = "the MCP server",
        connect_timeout: float = CONNECT_TIMEOUT,
        call_timeout: float = CALL_TIMEOUT,
        sync_timeout: float = SYNC_TIMEOUT,
    ) -> McpGateway:
        """Open a session over any MCP client transport (a context manager of streams)."""
        runner = SessionRunner(transport, call_timeout)
        try:
            session = await runner.start(connect_timeout)
            tools = await cls._list_tools(session)
        except BaseException as err:
            with anyio.CancelScope(shield=True):
                await runner.stop()
            if isinstance(err, Exception):
                raise to_crm_error(err, target) from err
            raise
        if missing := t.SEED_TOOL_NAMES - tools:
            await runner.stop()
            raise CrmError(
                f"The MCP server at {target} lacks Zoho tools: {', '.join(sorted(missing))}.",
                title="Not a Zoho MCP server",
            )
        log.info("mcp_connected", target=target, tools=len(tools))
        return cls(
            runner,
            session,
            tools,
            target=target,
            call_timeout=call_timeout,
            sync_timeout=sync_timeout,
        )

    @classmethod
    async def connect_stdio(
        cls,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        cwd: str | Path | None = None,
        errlog: TextIO | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        call_timeout: float = CALL_TIMEOUT,
        sync_timeout: float = SYNC_TIMEOUT,
    ) -> McpGateway:
        """Start ``command`` (e.g. ``["sergas", "mcp", "zoho"]``) and talk MCP over its stdio.

        The child gets a minimal environment (PATH, HOME, ...) plus ``env``. Its stderr goes to
        ``errlog`` (default: discarded, since the TUI owns the terminal).
        """
        if not command:
            raise CrmError("The MCP server command is empty.", title="Cannot start MCP server")
        params = StdioServerParameters(
            command=command[0], args=list(command[1:]), env=dict(env or {}), cwd=cwd
        )
        return await cls.connect(
            stdio_transport(params, errlog),
            target=f"'{command[0]}'",
            connect_timeout=connect_timeout,
            call_timeout=call_timeout,
            sync_timeout=sync_timeout,
        )

    @classmethod
    async def connect_http(
        cls,
        url: str,
        bearer_token: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        call_timeout: float = CALL_TIMEOUT,
        sync_timeout: float = SYNC_TIMEOUT,
    ) -> McpGateway:
        """Connect to a streamable-HTTP MCP endpoint, authenticating with a bearer token."""
        statuses: list[int] = []

        async def remember_status(response: httpx2.Response) -> None:
            statuses.append(response.status_code)

        try:
            return await cls.connect(
                http_transport(url, bearer_token, remember_status),
                target=url,
                connect_timeout=connect_timeout,
                call_timeout=call_timeout,
                sync_timeout=sync_timeout,
            )
        except CrmError as err:
            if rejected := [code for code in statuses if code in (401, 403)]:
                raise CrmAuthError(
                    f"The MCP server at {url} rejected the bearer token (HTTP {rejected[0]}).",
                    status_code=rejected[0],
                ) from err
            raise

    @staticmethod
    async def _list_tools(session: ClientSession) -> frozenset[str]:
        names: set[str] = set()
        cursor: str | None = None
        for _ in range(100):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            listing = await session.list_tools(params=params)
            names.update(tool.name for tool in listing.tools)
            cursor = listing.next_cursor
            if not cursor:
                break
        return frozenset(names)

    async def aclose(self) -> None:
        """End the session and stop the server process (stdio); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self._runner.stop()
        log.info("mcp_closed", target=self.target)

    async def __aenter__(self) -> McpGateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- calling ------------------------------------------------------------------------------

    async def call(
        self, name: str, arguments: dict[str, Any], *, read_timeout: float | None = None
    ) -> Any:
        """Call a tool; its structured result, or the typed CrmError it reported.

        A read the server answered "rate limited, try again in N s" (Zoho's transient limit
        outlasted the server's own patience, which stays inside this client's call timeout) is
        asked again after N s, each wait told to the :func:`watch_waits` observers, for up to
        this context's patience in all; writes are never sent twice."""
        spec = t.TOOLS_BY_NAME.get(name)
        read = spec is not None and spec.kind == "read"
        waited = 0.0
        while True:
            try:
                return await self._call_once(name, arguments, read_timeout)
            except CrmRateLimitedError as err:
                delay = err.retry_after
                if not read or delay is None or waited + delay > current_patience():
                    raise
                tell_wait(
                    CrmWait(
                        delay,
                        f"Zoho's rate limit ({name} on {self.target}); "
                        f"trying again in {wait_text(delay)}",
                        "rate_limited",
                    )
                )
                waited += delay
                await self._sleep(delay)

    async def _call_once(
        self, name: str, arguments: dict[str, Any], read_timeout: float | None
    ) -> Any:
        if self._closed:
            raise CrmConnectionError(f"The MCP session with {self.target} is closed.")
        if self._runner.ended:
            cause = self._runner.error
            raise CrmConnectionError(
                f"The MCP session with {self.target} ended"
                + (f": {to_crm_error(cause, self.target)}" if cause else ".")
            )
        if name not in self.tools:
            raise CrmError(f"The MCP server at {self.target} does not offer {name}.")
        note_api_call()  # one tool call: the review's tally counts it (crm.call_tally)
        with metrics.zoho_timed():
            try:
                result = await self._session.call_tool(
                    name, arguments, read_timeout_seconds=read_timeout or self._call_timeout
                )
            except Exception as err:
                raise to_crm_error(err, self.target) from err
            if result.is_error:
                envelope = (result.meta or {}).get(wire.ERROR_META_KEY) or result.structured_content
                raise wire.error_from_envelope(envelope, _text_of(result))
        if result.structured_content is not None:
            return result.structured_content
        try:  # a server that only answers in text
            return json.loads(_text_of(result))
        except ValueError as err:
            raise CrmError(f"{name} returned no structured result.") from err

    async def _collect(
        self, name: str, arguments: dict[str, Any], *, read_timeout: float | None = None
    ) -> Any:
        """A tool's whole result, following ``next_page_token`` through every page."""
        data = await self.call(name, arguments, read_timeout=read_timeout)
        keys = t.PAGED_KEYS.get(name)
        if keys is None or not isinstance(data, dict):
            return data
        for _ in range(100_000):
            token = data.pop("next_page_token", None)
            if not token:
                break
            page = await self.call(
                name, {**arguments, "page_token": token}, read_timeout=read_timeout
            )
            for key in keys:
                data[key] = [*(data.get(key) or []), *(page.get(key) or [])]
            data["next_page_token"] = page.get("next_page_token")
        for key in ("total", "next_page_token"):
            data.pop(key, None)
        if "count" in data and len(keys) == 1:
            data["count"] = len(data.get(keys[0]) or [])
        return data

    async def _parse(self, model: type[M], name: str, **arguments: Any) -> M:
        data = await self._collect(name, _arguments(**arguments))
        try:
            return model.model_validate(data)
        except ValidationError as err:
            raise to_crm_error(err, self.target) from err

    # -- reads --------------------------------------------------------------------------------

    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        found = await self._parse(
            t.AccountsResult,
            "zoho_get_accounts",
            owner_email=owner_email,
            modified_since=modified_since,
        )
        return found.accounts

    async def get_account_details(self, account_id: str) -> Account | None:
        try:
            found = await self._parse(
                t.AccountResult, "zoho_get_account_details", account_id=account_id
            )
        except CrmNotFoundError:
            return None
        return found.account

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        found = await self._parse(
            t.AccountsResult, "zoho_search_accounts", query=query, limit=limit
        )
        return found.accounts

    async def get_deals(self, account_id: str) -> list[Deal]:
        return (await self._parse(t.DealsResult, "zoho_get_deals", account_id=account_id)).deals

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        found = await self._parse(t.DealsResult, "zoho_list_open_deals", owner_email=owner_email)
        return found.deals

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        found = await self._parse(
            t.ActivitiesResult,
            "zoho_get_activities",
            account_id=account_id,
            since=since,
            kinds=list(kinds),
        )
        return found.activities

    async def get_notes(self, account_id: str) -> list[Note]:
        return (await self._parse(t.NotesResult, "zoho_get_notes", account_id=account_id)).notes

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        try:
            found = await self._parse(t.UserResult, "zoho_get_user_info", email=email)
        except CrmNotFoundError:
            return None
        return found.user

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        found = await self._parse(t.StageHistoryResult, "zoho_get_stage_history", deal_id=deal_id)
        return found.stage_history

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        found = await self._parse(
            t.TimelineResult, "zoho_get_timeline", module=module, record_id=record_id
        )
        return found.changes

    async def get_fields(self, module: str) -> ModuleFields:
        """``zoho_get_fields`` (the server reads Zoho at most once a day, and so does this
        side); unknown metadata when the server does not offer the tool."""
        check_module(module)

        async def fetch(stale: ModuleFields | None) -> ModuleFields:
            if t.FIELDS_TOOL not in self.tools:
                return ModuleFields.unknown_for(
                    module, f"the MCP server at {self.target} offers no {t.FIELDS_TOOL} tool"
                )
            return await self._parse(ModuleFields, t.FIELDS_TOOL, module=module)

        return await self._fields_cache.read_through(module, utc_now(), fetch)

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        arguments = _arguments(
            owner_email=owner_email, modified_since=modified_since, history_days=history_days
        )
        data = await self._collect("zoho_sync", arguments, read_timeout=self._sync_timeout)
        data.pop("count", None)
        try:
            return TypeAdapter(SyncBatch).validate_python(data)
        except ValidationError as err:
            raise to_crm_error(err, self.target) from err

    # -- writes (approved actions only) ---------------------------------------------------------

    async def _write(
        self, name: str, approval: WriteApproval, request: WriteRequest
    ) -> WriteResult:
        if not approval.token:
            raise ApprovalRefusedError(
                RefusalReason.MISSING_TOKEN,
                f"Approval {approval.approval_id} has no token; nothing was sent.",
            )
        if t.REGISTER_TOOL in self.tools:
            grant = grant_for(approval, request, utc_now())
            await self.call(
                t.REGISTER_TOOL,
                _arguments(
                    approval_id=grant.approval_id,
                    token_sha256=grant.token_hash,
                    account_id=grant.account_id,
                    owner_email=grant.owner_email,
                    action_type=grant.action_type,
                    decided_by=grant.decided_by,
                    expires_at=grant.expires_at,
                    write=json.loads(grant.write) | {"op": operation_of(request)},
                ),
            )
        arguments = {k: v for k, v in write_fields(request).items() if k != "op"}
        arguments |= {"approval_id": approval.approval_id, "approval_token": approval.token}
        data = await self.call(name, _arguments(**arguments))
        try:
            return TypeAdapter(WriteResult).validate_python(data)
        except ValidationError as err:
            raise to_crm_error(err, self.target) from err

    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        approval: WriteApproval,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        request = AccountUpdate(account_id, dict(changes), if_unmodified_since)
        return await self._write("zoho_update_account", approval, request)

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult:
        return await self._write("zoho_create_task", approval, task)

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        return await self._write("zoho_add_note", approval, note)
