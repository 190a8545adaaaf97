"""Our Zoho MCP server: the seed's tool catalog over any :class:`CrmGateway`.

``build_zoho_server(gateway, gate)`` returns an MCP low-level ``Server`` offering the tools of
:mod:`.mcp_tools`: eight read tools (plus three for the Sergas gateway: stage history, timeline,
bulk sync) and three write tools. Every write goes through the :class:`ApprovalGate` first: no
valid approval token, no call to the gateway. Expected failures (CRM errors, unknown records,
refused approvals, bad arguments) come back as ``isError`` tool results, never as exceptions
that end the session.

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
from sergas_tui.crm import mcp_tools as t
from sergas_tui.crm import mcp_wire as wire
from sergas_tui.crm.approval_gate import AccountUpdate, ApprovalGate, WriteRequest
from sergas_tui.crm.gateway import CrmGateway, NoteDraft, TaskDraft, WriteResult
from sergas_tui.errors import CrmError, CrmNotFoundError, CrmValidationError, SergasError
from sergas_tui.mcp_transport import run_http, run_stdio

log = structlog.get_logger("sergas.mcp")


INSTRUCTIONS = (
    "Zoho CRM for Sergas account reviews. Read tools are free to call. The write tools "
    "(zoho_update_account, zoho_create_task, zoho_add_note) only work with the approval_token "
    "of a human approval for exactly that write; without one they are refused and nothing is "
    "written."
)

Handler = Callable[[Any], Awaitable[Any]]


class _ZohoTools:
    """The tool handlers: thin adapters from validated arguments to the gateway."""

    def __init__(self, gateway: CrmGateway, gate: ApprovalGate) -> None:
        self._crm = gateway
        self._gate = gate
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

    async def get_deals(self, args: t.AccountIdArgs) -> t.DealsResult:
        deals = await self._crm.get_deals(args.account_id)
        return t.DealsResult(deals=deals, count=len(deals))

    async def list_open_deals(self, args: t.OwnerArgs) -> t.DealsResult:
        deals = await self._crm.list_open_deals(args.owner_email)
        return t.DealsResult(deals=deals, count=len(deals))

    async def get_activities(self, args: t.GetActivitiesArgs) -> t.ActivitiesResult:
        found = await self._crm.get_activities(args.account_id, args.since, tuple(args.kinds))
        return t.ActivitiesResult(activities=found, count=len(found))

    async def get_notes(self, args: t.AccountIdArgs) -> t.NotesResult:
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

    async def sync(self, args: t.SyncArgs) -> Any:
        return await self._crm.sync(
            args.owner_email, args.modified_since, history_days=args.history_days
        )

    # -- writes -------------------------------------------------------------------------------

    async def update_account(self, args: t.UpdateAccountArgs) -> WriteResult:
        request = AccountUpdate(args.account_id, args.changes, args.if_unmodified_since)
        return await self._write(
            "zoho_update_account",
            args.approval_token,
            request,
            lambda: self._crm.update_account(
                request.account_id,
                request.changes,
                if_unmodified_since=request.if_unmodified_since,
            ),
        )

    async def create_task(self, args: t.CreateTaskArgs) -> WriteResult:
        task = TaskDraft(
            account_id=args.account_id,
            subject=args.subject,
            due_date=args.due_date,
            priority=args.priority,
            description=args.description,
            deal_id=args.deal_id,
            contact_id=args.contact_id,
            owner_id=args.owner_id,
        )
        return await self._write(
            "zoho_create_task", args.approval_token, task, lambda: self._crm.create_task(task)
        )

    async def add_note(self, args: t.AddNoteArgs) -> WriteResult:
        note = NoteDraft(
            parent_id=args.parent_id,
            content=args.content,
            title=args.title,
            parent_module=args.parent_module,
        )
        return await self._write(
            "zoho_add_note", args.approval_token, note, lambda: self._crm.add_note(note)
        )

    async def _write(
        self,
        tool: str,
        token: str,
        request: WriteRequest,
        perform: Callable[[], Awaitable[WriteResult]],
    ) -> WriteResult:
        """Claim the approval, write once, record the outcome on the approval."""
        claim = partial(self._gate.claim, token, request, tool=tool)
        claimed = await anyio.to_thread.run_sync(claim)
        try:
            result = await perform()
        except BaseException as err:
            reason = str(err) if isinstance(err, Exception) else "the write was interrupted"
            with anyio.CancelScope(shield=True):
                await _record(self._gate.fail, claimed, reason or type(err).__name__)
            raise
        await _record(self._gate.complete, claimed, result)
        return result


async def _record(step: Callable[..., object], *args: object) -> None:
    """Run a gate bookkeeping step; the write already happened (or failed), so never raise."""
    try:
        await anyio.to_thread.run_sync(partial(step, *args))
    except SergasError:
        log.exception("approval_bookkeeping_failed")


def _not_found(message: str) -> CrmNotFoundError:
    return CrmNotFoundError(message, status_code=404, code="NOT_FOUND")


def _error_result(err: CrmError) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=f"{err.title}: {err.message}")],
        structured_content=wire.error_envelope(err),
        is_error=True,
    )


def _success_result(spec: t.ToolSpec, value: Any) -> types.CallToolResult:
    data = wire.dump_result(value)
    text = wire.to_text(data) if spec.name != "zoho_sync" else _sync_summary(data)
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=data)


def _sync_summary(data: dict[str, Any]) -> str:
    counts = ", ".join(
        f"{len(data.get(key) or [])} {key}"
        for key in ("users", "accounts", "contacts", "deals", "activities", "notes")
    )
    return f"Sync batch (full={data.get('full')}, {data.get('calls')} CRM calls): {counts}."


def _invalid_arguments(spec: t.ToolSpec, err: ValidationError) -> CrmValidationError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in err.errors()
    )
    return CrmValidationError(
        f"Invalid arguments for {spec.name}: {problems}", status_code=400, code="INVALID_ARGUMENTS"
    )


def build_zoho_server(
    gateway: CrmGateway, gate: ApprovalGate, *, name: str = "sergas-zoho"
) -> Server[Any]:
    """An MCP server offering the Zoho tool catalog over ``gateway``, writes behind ``gate``."""
    tools = _ZohoTools(gateway, gate)
    listing = types.ListToolsResult(tools=[spec.tool() for spec in t.TOOLS])
    input_schemas = {tool.name: tool.input_schema for tool in listing.tools}

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = t.TOOLS_BY_NAME.get(params.name)
        if spec is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        started = time.perf_counter()
        result = await _call(spec, tools.handlers[spec.name], params.arguments or {})
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


async def _call(
    spec: t.ToolSpec, handler: Handler, arguments: dict[str, Any]
) -> types.CallToolResult:
    try:
        args: BaseModel = spec.args.model_validate(arguments)
    except ValidationError as err:
        return _error_result(_invalid_arguments(spec, err))
    try:
        return _success_result(spec, await handler(args))
    except CrmError as err:
        return _error_result(err)
    except SergasError as err:  # e.g. the approvals database cannot be read
        log.error("tool_failed", tool=spec.name, error=err.message)
        return _error_result(CrmError(err.message, title=err.title))
    except Exception:
        log.exception("tool_failed", tool=spec.name)
        return _error_result(CrmError(f"{spec.name} failed inside the Zoho MCP server."))


__all__ = ["build_zoho_server", "run_http", "run_stdio"]
