"""The CRM port, read side: the founding design's Zoho read catalog as one async protocol.

:class:`CrmReader` is what the Data Scout, the agents' tools, the view models and the MCP read
tools get. The writes live in :mod:`sergas_tui.crm.writer` (``CrmWriter``, held only by the
approvals executor; ``CrmGateway`` = reader + writer, what every backend implements):
``ZohoRestGateway`` (Zoho REST v8 over httpx, also used against our simulator), ``McpGateway``
(our catalog over an MCP client session), ``ZohoMcpGateway`` (Zoho's hosted MCP server) and
test fakes. Everything returned is a domain model (``sergas_tui.domain``), never wire JSON.

:class:`ReadOnlyCrm` hands a backend out as a reader only: the object itself has no write
methods, so nothing given a reader can reach a write even by duck typing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import structlog

from sergas_tui.domain import (
    Account,
    Activity,
    ActivityKind,
    Change,
    Contact,
    Deal,
    Note,
    Owner,
    StageChange,
)
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.domain.picklists import CLOSED_STAGES as CLOSED_STAGES
from sergas_tui.errors import CrmError

log = structlog.get_logger("sergas.zoho")

READ_OPERATIONS: tuple[str, ...] = (
    "get_accounts",
    "get_account_details",
    "search_accounts",
    "get_deals",
    "list_open_deals",
    "get_activities",
    "get_notes",
    "get_user_info",
)
WRITE_OPERATIONS: tuple[str, ...] = ("update_account", "create_task", "add_note")
"""The writer's operations (:mod:`sergas_tui.crm.writer`); listed here for audit and policy."""


@dataclass
class SyncBatch:
    """Everything one bulk sync fetched; ``calls`` is how many API calls it cost.

    ``full`` is True for a first sync (no ``modified_since``). Activities and notes of a full
    sync reach back ``history_days``; an incremental sync returns what changed since
    ``modified_since`` in every module.
    """

    owner_email: str | None
    modified_since: datetime | None
    fetched_at: datetime
    full: bool
    users: list[Owner] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    calls: int = 0
    changed: frozenset[str] | None = None
    """Set on a batch merged with the records stored from earlier syncs (an incremental review,
    :mod:`sergas_tui.agents.incremental`): the ids of the records this sync fetched, i.e. those
    changed since the last one. None when every record of the batch was just fetched."""


@runtime_checkable
class CrmReader(Protocol):
    """The seed's eight Zoho read operations plus bulk sync, history and field-metadata reads.
    No writes."""

    # --- reads --------------------------------------------------------------------------
    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        """Accounts of one owner (or everyone), optionally only those modified since."""
        ...

    async def get_account_details(self, account_id: str) -> Account | None:
        """One account with all its fields; None when it does not exist."""
        ...

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        """Accounts matching a word (name, industry, ...) or a Zoho criteria expression."""
        ...

    async def get_deals(self, account_id: str) -> list[Deal]:
        """Every deal of an account (open and closed)."""
        ...

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        """Deals not yet Closed Won/Lost, of one owner or everyone."""
        ...

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        """Tasks, events and calls of an account (directly or through its deals)."""
        ...

    async def get_notes(self, account_id: str) -> list[Note]:
        """Notes of an account, newest first."""
        ...

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        """A CRM user by email; with no email, the user the credentials belong to."""
        ...

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        """A deal's stage history, oldest first."""
        ...

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        """Field changes of a record from Zoho's timeline, oldest first."""
        ...

    async def get_fields(self, module: str) -> ModuleFields:
        """The field metadata of a module (names, types, read-only, picklist values): read at
        most once a day, kept in the workspace. ``ModuleFields.unknown`` says why it is not
        known when the backend cannot offer it; a failed call raises a CrmError (see
        :func:`fields_or_unknown`)."""
        ...

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        """Bulk fetch for the Data Scout with the fewest API calls."""
        ...

    async def aclose(self) -> None:
        """Release connections and sessions."""
        ...


class ReadOnlyCrm:
    """A :class:`CrmReader` over any backend, exposing its reads and nothing else."""

    def __init__(self, inner: CrmReader) -> None:
        self._inner = inner

    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        return await self._inner.get_accounts(owner_email, modified_since)

    async def get_account_details(self, account_id: str) -> Account | None:
        return await self._inner.get_account_details(account_id)

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        return await self._inner.search_accounts(query, limit=limit)

    async def get_deals(self, account_id: str) -> list[Deal]:
        return await self._inner.get_deals(account_id)

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        return await self._inner.list_open_deals(owner_email)

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        return await self._inner.get_activities(account_id, since, kinds)

    async def get_notes(self, account_id: str) -> list[Note]:
        return await self._inner.get_notes(account_id)

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        return await self._inner.get_user_info(email)

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        return await self._inner.get_stage_history(deal_id)

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        return await self._inner.get_timeline(module, record_id)

    async def get_fields(self, module: str) -> ModuleFields:
        return await self._inner.get_fields(module)

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        return await self._inner.sync(owner_email, modified_since, history_days=history_days)

    async def aclose(self) -> None:
        """Does nothing: the backend belongs to whoever built it (``Services``)."""


async def fields_or_unknown(reader: CrmReader, module: str) -> ModuleFields:
    """:meth:`CrmReader.get_fields`, with a failed call (a missing
    ``ZohoCRM.settings.fields.READ`` scope, a network error) turned into unknown metadata that
    says why: callers then act without it, carefully, instead of failing a review or a write."""
    try:
        fields = await reader.get_fields(module)
    except CrmError as err:
        log.warning("zoho.fields_unknown", module=module, error=err.message)
        return ModuleFields.unknown_for(module, f"{err.title}: {err.message}")
    if not fields.known:
        log.warning("zoho.fields_unknown", module=module, error=fields.unknown)
    return fields
