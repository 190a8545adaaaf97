"""``ZohoMcpGateway``: the :class:`~sergas_tui.crm.writer.CrmGateway` over Zoho's hosted MCP server.

The gateway is the one object the rest of Sergas holds for "flavour zoho": it checks at connect
time that the server offers Zoho's ``ZohoCRM_*`` catalog with the tools a review needs, reports
what the catalog lacks in :attr:`ZohoMcpGateway.degraded`, and owns the session's lifetime
(closing it also stops scrubbing the URL's key from the logs). The work itself is composed from
smaller parts over one :class:`~sergas_tui.crm.zoho_mcp.calls.ToolCaller`: the reads
(``reads.py``), the bulk sync (``sync.py``) and the writes (``writes.py``), sharing one owner
directory (``owners.py``). The protocol methods here only delegate to them, so the gateway's
surface stays in one short place and each concern stays readable on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType

import anyio
import mcp_types as types
import structlog
from mcp.client.session import ClientSession
from pydantic import JsonValue

from sergas_tui.clock import Clock, SystemClock
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.mcp.session import (
    CALL_TIMEOUT,
    CONNECT_TIMEOUT,
    SessionRunner,
    TransportStreams,
)
from sergas_tui.crm.metadata_cache import FieldsCache, check_module
from sergas_tui.crm.writer import NoteDraft, TaskDraft, WriteApproval, WriteResult
from sergas_tui.crm.zoho_mcp.calls import MAX_CONCURRENT_CALLS, ToolCaller
from sergas_tui.crm.zoho_mcp.catalog import ZohoCatalog, catalog_flavour
from sergas_tui.crm.zoho_mcp.owners import Owners
from sergas_tui.crm.zoho_mcp.reads import ZohoReads
from sergas_tui.crm.zoho_mcp.redaction import UrlScrubber, unguard_logs
from sergas_tui.crm.zoho_mcp.session import open_session
from sergas_tui.crm.zoho_mcp.sync import ZohoSync
from sergas_tui.crm.zoho_mcp.writes import ZohoWrites
from sergas_tui.domain import (
    Account,
    Activity,
    ActivityKind,
    Change,
    Deal,
    Note,
    Owner,
    StageChange,
)
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.errors import CrmError

log = structlog.get_logger("sergas.zoho_mcp")


class ZohoMcpGateway:
    """:class:`CrmGateway` over Zoho's hosted MCP server (see the package docstring).

    Build it with :func:`connect_zoho_mcp` (streamable HTTP) or :meth:`connect` (any MCP client
    transport); close it with :meth:`aclose` or use it as an async context manager.
    """

    def __init__(
        self,
        runner: SessionRunner,
        session: ClientSession,
        catalog: ZohoCatalog,
        *,
        target: str,
        scrubber: UrlScrubber | None = None,
        statuses: list[int] | None = None,
        clock: Clock | None = None,
        extra_fields: Mapping[str, Sequence[str]] | None = None,
        call_timeout: float = CALL_TIMEOUT,
        max_concurrent_calls: int = MAX_CONCURRENT_CALLS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._runner = runner
        self.catalog = catalog
        self.target = target
        """Where the server is, safe to show (the URL redacted)."""
        self._scrubber = scrubber
        self._caller = ToolCaller(
            runner,
            session,
            catalog,
            target=target,
            scrubber=scrubber,
            statuses=statuses,
            call_timeout=call_timeout,
            max_concurrent_calls=max_concurrent_calls,
            sleep=sleep,
        )
        owners = Owners(self._caller)
        self._clock = clock or SystemClock()
        self._reads = ZohoReads(self._caller, owners)
        self._sync = ZohoSync(self._caller, owners, clock=self._clock, extra_fields=extra_fields)
        self._writes = ZohoWrites(self._caller)
        self._fields_cache = FieldsCache()

    def use_fields_cache(self, cache: FieldsCache) -> None:
        """Keep field metadata in ``cache`` (services give it the workspace's, on disk)."""
        self._fields_cache = cache

    # -- connecting ------------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        transport: AbstractAsyncContextManager[TransportStreams],
        *,
        target: str = "Zoho's MCP server",
        scrubber: UrlScrubber | None = None,
        statuses: list[int] | None = None,
        clock: Clock | None = None,
        extra_fields: Mapping[str, Sequence[str]] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        call_timeout: float = CALL_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> ZohoMcpGateway:
        """Open a session over any MCP client transport (tests pass an in-memory one) and read
        the catalog; a CrmError when the server is not Zoho's or lacks what Sergas needs."""
        runner, session, tools = await open_session(
            transport, target, scrubber, statuses, connect_timeout, call_timeout
        )
        try:
            return cls.from_session(
                runner,
                session,
                tools,
                target=target,
                scrubber=scrubber,
                statuses=statuses,
                clock=clock,
                extra_fields=extra_fields,
                call_timeout=call_timeout,
                sleep=sleep,
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await runner.stop()
            raise

    @classmethod
    def from_session(
        cls,
        runner: SessionRunner,
        session: ClientSession,
        tools: Sequence[types.Tool],
        *,
        target: str,
        scrubber: UrlScrubber | None,
        statuses: list[int] | None,
        clock: Clock | None,
        extra_fields: Mapping[str, Sequence[str]] | None,
        call_timeout: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> ZohoMcpGateway:
        """The gateway over an open session whose tools were listed; a CrmError when they are
        not Zoho's catalog or lack what Sergas needs (the caller then stops the session)."""
        catalog = ZohoCatalog(tools)
        if catalog_flavour(catalog.names) != "zoho":
            raise CrmError(
                f"The MCP server at {target} does not offer Zoho's ZohoCRM_* tools. For Sergas's "
                "own server (`sergas mcp zoho`) set [zoho] mcp_flavour = 'sergas' (or 'auto').",
                title="Not Zoho's MCP server",
            )
        if missing := catalog.missing():
            raise CrmError(
                f"Zoho's MCP server at {target} lacks tools Sergas needs: {', '.join(missing)}. "
                "Add them to the server in Zoho's MCP console (the 'Data Operations' pre-built "
                "server has them).",
                title="Zoho MCP server lacks tools",
            )
        gateway = cls(
            runner,
            session,
            catalog,
            target=target,
            scrubber=scrubber,
            statuses=statuses,
            clock=clock,
            extra_fields=extra_fields,
            call_timeout=call_timeout,
            sleep=sleep,
        )
        log.info(
            "zoho_mcp_connected",
            target=target,
            tools=len(catalog.names),
            naming=catalog.naming,
            degraded=len(gateway.degraded),
        )
        return gateway

    @property
    def tools(self) -> frozenset[str]:
        """Names of every tool the server offers."""
        return self.catalog.names

    @property
    def degraded(self) -> list[str]:
        """What this server's catalog lacks and how Sergas copes, one sentence each."""
        return [*self.catalog.degraded(), *self._reads.runtime_degraded]

    async def aclose(self) -> None:
        """End the session; safe to call twice."""
        if self._caller.closed:
            return
        self._caller.closed = True
        try:
            await self._runner.stop()
        finally:
            if self._scrubber is not None:
                unguard_logs(self._scrubber)
        log.info("zoho_mcp_closed", target=self.target)

    async def __aenter__(self) -> ZohoMcpGateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- reads (ZohoReads) -----------------------------------------------------------------

    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        return await self._reads.get_accounts(owner_email, modified_since)

    async def get_account_details(self, account_id: str) -> Account | None:
        return await self._reads.get_account_details(account_id)

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        return await self._reads.search_accounts(query, limit=limit)

    async def get_deals(self, account_id: str) -> list[Deal]:
        return await self._reads.get_deals(account_id)

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        return await self._reads.list_open_deals(owner_email)

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        return await self._reads.get_activities(account_id, since, kinds)

    async def get_notes(self, account_id: str) -> list[Note]:
        return await self._reads.get_notes(account_id)

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        return await self._reads.get_user_info(email)

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        return await self._reads.get_stage_history(deal_id)

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        return await self._reads.get_timeline(module, record_id)

    async def get_fields(self, module: str) -> ModuleFields:
        """``ZohoCRM_getFields`` at most once a day; unknown when the catalog lacks it."""
        check_module(module)

        async def fetch(stale: ModuleFields | None) -> ModuleFields:
            return await self._reads.get_fields(module, self._clock.now())

        return await self._fields_cache.read_through(module, self._clock.now(), fetch)

    # -- bulk sync (ZohoSync) --------------------------------------------------------------

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        return await self._sync.sync(owner_email, modified_since, history_days=history_days)

    # -- writes (ZohoWrites; approved actions only, the approval is not sent) --------------

    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        approval: WriteApproval,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        return await self._writes.update_account(
            account_id, changes, approval=approval, if_unmodified_since=if_unmodified_since
        )

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult:
        return await self._writes.create_task(task, approval=approval)

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        return await self._writes.add_note(note, approval=approval)


__all__ = ["ZohoMcpGateway"]
