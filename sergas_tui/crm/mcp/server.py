"""Our Zoho MCP server: the seed's tool catalog over any :class:`CrmGateway`.

``build_zoho_server(gateway, gate)`` returns an MCP low-level ``Server`` offering the tools of
:mod:`.tools`: eight read tools (plus four for the Sergas gateway: stage history, timeline,
bulk sync, field metadata), three write tools and, when grants are kept in the served
workspace, the apps' ``sergas_register_approval``. Every write goes through the
:class:`ApprovalGate` first: no recorded approval of exactly that write (every argument), no call
to the CRM. Writes are exactly once, as the executor's: the claimed grant is the write-ahead,
the text sent carries the approval's marker, a write that might repeat is first looked for in
the CRM, and only a committed write spends the grant (see :mod:`sergas_tui.crm.approval_gate`).

On the wire (what official MCP clients validate): a result is its JSON as one text block, sent
once, with no structured copy; list tools answer in pages of about 100 KB
(:mod:`sergas_tui.mcp_paging`). Expected failures (CRM errors, unknown records, refused
approvals, bad arguments) are ``isError`` results whose text says what happened ("Write not
approved: …") and whose ``_meta`` carries the typed error for Sergas's own client; never
exceptions that end the session.

Transports: :func:`run_stdio` (the protocol owns stdout; anything else printed goes to stderr)
and :func:`run_http` (streamable HTTP on loopback by default, every request must carry
``Authorization: Bearer <token>`` or gets 401).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
import structlog
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ValidationError

from sergas_tui import __version__
from sergas_tui.crm.approval_gate import ApprovalGate, ApprovalRefusedError, RefusalReason
from sergas_tui.crm.http import rate_limit_patience
from sergas_tui.crm.mcp import tools as t
from sergas_tui.crm.mcp import wire
from sergas_tui.crm.writer import (
    CrmGateway,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
    WriteResult,
    canonical_write,
    find_written,
    marked,
    request_from_fields,
    write_digest,
)
from sergas_tui.domain import utc_now
from sergas_tui.domain.grants import Grant
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.errors import (
    CrmConnectionError,
    CrmError,
    CrmNotFoundError,
    CrmServerError,
    CrmTimeoutError,
    CrmValidationError,
    SergasError,
)
from sergas_tui.mcp_paging import DEFAULT_PAGE_BYTES, PageCache
from sergas_tui.mcp_transport import run_http, run_stdio

log = structlog.get_logger("sergas.mcp")


INSTRUCTIONS = (
    "Zoho CRM for Sergas account reviews. Read tools are free to call; list results come in "
    "pages (pass next_page_token back as page_token). The write tools (zoho_update_account, "
    "zoho_create_task, zoho_add_note) only work with the approval_id and approval_token of a "
    "recorded human approval of exactly that write; without one they are refused and nothing "
    "is written."
)

Handler = Callable[[Any], Awaitable[Any]]


class _ZohoTools:
    """The tool handlers: thin adapters from validated arguments to the gateway."""

    def __init__(self, gateway: CrmGateway, gate: ApprovalGate, pages: PageCache) -> None:
        self._crm = gateway
        self._gate = gate
        self._pages = pages
        self.handlers: dict[str, Handler] = {
            "zoho_get_accounts": self.get_accounts,
            "zoho_get_account_details": self.get_account_details,
            "zoho_search_accounts": self.search_accounts,
            "zoho_get_deals": self.get_deals,
            "zoho_list_open_deals": self.list_open_deals,
            "zoho_get_activities": self.get_activities,
            "zoho_get_notes": self.get_notes,
            "zoho_get_user_info": self.get_user_info,
            "zoho_update_account": self.update_account,
            "zoho_create_task": self.create_task,
            "zoho_add_note": self.add_note,
            "zoho_get_stage_history": self.get_stage_history,
            "zoho_get_timeline": self.get_timeline,
            "zoho_sync": self.sync,
            t.FIELDS_TOOL: self.get_fields,
            t.REGISTER_TOOL: self.register_approval,
        }

    # -- reads --------------------------------------------------------------------------------

    async def get_accounts(self, args: t.GetAccountsArgs) -> t.AccountsResult:
        found = await self._crm.get_accounts(args.owner_email, args.modified_since)
        return t.AccountsResult(accounts=found, count=len(found))

    async def get_account_details(self, args: t.AccountIdArgs) -> t.AccountResult:
        account = await self._crm.get_account_details(args.account_id)
        if account is None:
            raise _not_found(f"No account has id {args.account_id}.")
        return t.AccountResult(account=account)

    async def search_accounts(self, args: t.SearchAccountsArgs) -> t.AccountsResult:
        found = await self._crm.search_accounts(args.query, limit=args.limit)
        return t.AccountsResult(accounts=found, count=len(found))

    async def get_deals(self, args: t.AccountListArgs) -> t.DealsResult:
        deals = await self._crm.get_deals(args.account_id)
        return t.DealsResult(deals=deals, count=len(deals))

    async def list_open_deals(self, args: t.OwnerArgs) -> t.DealsResult:
        deals = await self._crm.list_open_deals(args.owner_email)
        return t.DealsResult(deals=deals, count=len(deals))

    async def get_activities(self, args: t.GetActivitiesArgs) -> t.ActivitiesResult:
        found = await self._crm.get_activities(args.account_id, args.since, tuple(args.kinds))
        return t.ActivitiesResult(activities=found, count=len(found))

    async def get_notes(self, args: t.AccountListArgs) -> t.NotesResult:
        notes = await self._crm.get_notes(args.account_id)
        return t.NotesResult(notes=notes, count=len(notes))

    async def get_user_info(self, args: t.GetUserInfoArgs) -> t.UserResult:
        user = await self._crm.get_user_info(args.email)
        if user is None:
            who = f"the email {args.email}" if args.email else "the server's credentials"
            raise _not_found(f"No CRM user matches {who}.")
        return t.UserResult(user=user)

    async def get_stage_history(self, args: t.DealIdArgs) -> t.StageHistoryResult:
        return t.StageHistoryResult(stage_history=await self._crm.get_stage_history(args.deal_id))

    async def get_timeline(self, args: t.GetTimelineArgs) -> t.TimelineResult:
        return t.TimelineResult(changes=await self._crm.get_timeline(args.module, args.record_id))

    async def get_fields(self, args: t.GetFieldsArgs) -> ModuleFields:
        return await self._crm.get_fields(args.module)

    async def sync(self, args: t.SyncArgs) -> Any:
        return await self._crm.sync(
            args.owner_email, args.modified_since, history_days=args.history_days
        )

    # -- writes -------------------------------------------------------------------------------

    async def register_approval(self, args: t.RegisterApprovalArgs) -> t.RegisterResult:
        try:
            request = request_from_fields(args.write)
        except (TypeError, ValueError) as err:
            raise ApprovalRefusedError(
                RefusalReason.BAD_GRANT, f"Approval not recorded: the write is not valid ({err})."
            ) from err
        grant = Grant(
            approval_id=args.approval_id,
            account_id=args.account_id,
            owner_email=args.owner_email,
            action_type=args.action_type,
            decided_by=args.decided_by,
            expires_at=args.expires_at,
            token_hash=args.token_sha256.lower(),
            digest=write_digest(request),
            write=canonical_write(request),
            issued_at=utc_now(),
        )
        await anyio.to_thread.run_sync(self._gate.register, grant)
        return t.RegisterResult(approval_id=args.approval_id, registered=True)

    async def update_account(self, args: t.UpdateAccountArgs) -> WriteResult:
        return await self._write("zoho_update_account", "update_account", args)

    async def create_task(self, args: t.CreateTaskArgs) -> WriteResult:
        return await self._write("zoho_create_task", "create_task", args)

    async def add_note(self, args: t.AddNoteArgs) -> WriteResult:
        return await self._write("zoho_add_note", "add_note", args)

    async def _write(self, tool: str, op: str, args: t.WriteArgs) -> WriteResult:
        """Claim the grant (the write-ahead), find or write the record once, settle the grant.

        The gate compares every argument of the call with the approved write; the CRM gets the
        write with the approval's marker in its text, so any later attempt (ours, the app's
        executor) finds it instead of writing again.
        """
        request = t.write_request(op, args)
        claim = partial(self._gate.claim, args.approval_id, args.approval_token, request, tool=tool)
        grant, reconcile = await anyio.to_thread.run_sync(claim)
        writing = marked(request, grant.approval_id)
        found: WriteResult | None = None
        sent = False
        try:
            if reconcile:
                found = await find_written(self._crm, writing, grant.approval_id)
            if found is None:
                sent = True
                result = await self._perform(grant, writing)
            else:
                result = found
        except BaseException as err:
            with anyio.CancelScope(shield=True):
                if sent and isinstance(err, CrmError) and not isinstance(err, _AMBIGUOUS):
                    # The CRM refused the write: the corrected call may follow.
                    await anyio.to_thread.run_sync(
                        partial(self._gate.release, grant, str(err), tool=tool)
                    )
                else:
                    await anyio.to_thread.run_sync(
                        partial(self._gate.abandon, grant, repr(err), tool=tool)
                    )
            raise
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                partial(self._gate.complete, grant, result, tool=tool, found=not sent)
            )
        return result

    async def _perform(self, grant: Grant, request: WriteRequest) -> WriteResult:
        approval = WriteApproval(
            approval_id=grant.approval_id,
            token="",
            account_id=grant.account_id,
            owner_email=grant.owner_email,
            action_type=grant.action_type,
            decided_by=grant.decided_by,
            expires_at=grant.expires_at,
        )
        if isinstance(request, TaskDraft):
            return await self._crm.create_task(request, approval=approval)
        if isinstance(request, NoteDraft):
            return await self._crm.add_note(request, approval=approval)
        return await self._crm.update_account(
            request.account_id,
            request.changes,
            approval=approval,
            if_unmodified_since=request.if_unmodified_since,
        )


_AMBIGUOUS: tuple[type[CrmError], ...] = (CrmConnectionError, CrmTimeoutError, CrmServerError)
"""Failures after which the write may or may not have landed (the grant stays claimed)."""


def _not_found(message: str) -> CrmNotFoundError:
    return CrmNotFoundError(message, status_code=404, code="NOT_FOUND")


def error_result(err: CrmError) -> types.CallToolResult:
    """An ``isError`` result: the message as text, the typed error in ``_meta`` (no structured
    content, so clients that validate results against schemas accept it)."""
    return types.CallToolResult(
        content=[types.TextContent(text=f"{err.title}: {err.message}")],
        is_error=True,
        meta={wire.ERROR_META_KEY: wire.error_envelope(err)},
    )


def _success_result(data: Any) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=wire.to_text(data))])


def _invalid_arguments(spec: t.ToolSpec, err: ValidationError) -> CrmValidationError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in err.errors()
    )
    return CrmValidationError(
        f"Invalid arguments for {spec.name}: {problems}", status_code=400, code="INVALID_ARGUMENTS"
    )


def build_zoho_server(
    gateway: CrmGateway,
    gate: ApprovalGate,
    *,
    name: str = "sergas-zoho",
    page_bytes: int = DEFAULT_PAGE_BYTES,
) -> Server[Any]:
    """An MCP server offering the Zoho tool catalog over ``gateway``, writes behind ``gate``."""
    pages = PageCache()
    tools = _ZohoTools(gateway, gate, pages)
    offered = [
        spec for spec in t.TOOLS if spec.name != t.REGISTER_TOOL or gate.accepts_registration
    ]
    listing = types.ListToolsResult(tools=[spec.tool() for spec in offered])
    offered_names = {spec.name for spec in offered}
    input_schemas = {tool.name: tool.input_schema for tool in listing.tools}

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = t.TOOLS_BY_NAME.get(params.name)
        if spec is None or spec.name not in offered_names:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        started = time.perf_counter()
        with rate_limit_patience(tool_patience(spec.name)):
            result = await _call(
                spec, tools.handlers[spec.name], params.arguments or {}, pages, page_bytes
            )
        log.info(
            "tool_called",
            tool=spec.name,
            is_error=result.is_error,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
        return result

    return Server(
        name,
        version=__version__,
        title="Sergas Zoho CRM",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=input_schemas.get,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


TOOL_RATE_LIMIT_PATIENCE_SECONDS = 60.0
"""How long one tool call waits out Zoho's transient 429s before it answers "rate limited, try
again in N s": well inside a client's call timeout (Sergas's own: 120 s), so the client hears
why rather than timing out."""
SYNC_RATE_LIMIT_PATIENCE_SECONDS = 600.0
"""The same for ``zoho_sync`` (Sergas's client gives a sync 900 s)."""


def tool_patience(name: str) -> float:
    """Seconds the tool ``name`` waits out transient 429s (see :func:`rate_limit_patience`)."""
    return (
        SYNC_RATE_LIMIT_PATIENCE_SECONDS
        if name == "zoho_sync"
        else TOOL_RATE_LIMIT_PATIENCE_SECONDS
    )


async def _call(
    spec: t.ToolSpec,
    handler: Handler,
    arguments: dict[str, Any],
    pages: PageCache,
    page_bytes: int,
) -> types.CallToolResult:
    try:
        args: BaseModel = spec.args.model_validate(arguments)
    except ValidationError as err:
        return error_result(_invalid_arguments(spec, err))
    try:
        keys = t.PAGED_KEYS.get(spec.name)
        token = getattr(args, "page_token", None)
        limit = getattr(args, "limit", None) if spec.name != "zoho_search_accounts" else None
        if keys is not None and token:
            return _success_result(pages.next_page(token, limit=limit, max_bytes=page_bytes))
        data = wire.dump_result(await handler(args))
        if keys is not None:
            data = pages.first_page(data, keys, limit=limit, max_bytes=page_bytes)
        return _success_result(data)
    except CrmError as err:
        return error_result(err)
    except SergasError as err:  # e.g. the grants database cannot be read
        log.error("tool_failed", tool=spec.name, error=err.message)
        return error_result(CrmError(err.message, title=err.title))
    except Exception:
        log.exception("tool_failed", tool=spec.name)
        return error_result(CrmError(f"{spec.name} failed inside the Zoho MCP server."))


__all__ = ["build_zoho_server", "error_result", "run_http", "run_stdio"]
