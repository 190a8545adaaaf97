"""The CRM port: the founding design's Zoho tool catalog as one async protocol.

Three implementations serve it: ``ZohoRestGateway`` (Zoho REST v8 over httpx, also used against
our simulator), ``McpGateway`` (the same catalog over an MCP client session) and test fakes.
Everything returned is a domain model (``sergas_tui.domain``), never Zoho's wire JSON.

Reads are free to call. The three writes (``update_account``, ``create_task``, ``add_note``)
are only ever called by the approvals executor for an approved action; agents never get them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import JsonValue

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

CLOSED_STAGES: frozenset[str] = frozenset(
    {"Closed Won", "Closed Lost", "Closed Lost to Competition"}
)


@dataclass(frozen=True)
class TaskDraft:
    """A task to create, attached to an account (and optionally one of its deals/contacts)."""

    account_id: str
    subject: str
    due_date: date | None = None
    priority: Literal["Highest", "High", "Normal", "Low", "Lowest"] = "Normal"
    description: str | None = None
    deal_id: str | None = None
    contact_id: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class NoteDraft:
    """A note to add to an account (or one of its deals, ``parent_module='Deals'``)."""

    parent_id: str
    content: str
    title: str | None = None
    parent_module: Literal["Accounts", "Deals", "Contacts"] = "Accounts"


@dataclass(frozen=True)
class WriteResult:
    """What the CRM said about one write."""

    module: str
    record_id: str
    action: Literal["created", "updated"]
    modified_time: datetime | None = None


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


@runtime_checkable
class CrmGateway(Protocol):
    """The seed's Zoho tool catalog (11 operations) plus bulk sync and history reads."""

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

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        """Bulk fetch for the Data Scout with the fewest API calls."""
        ...

    # --- writes (approved actions only) -----------------------------------------------
    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        """Change account fields; CrmConflictError when the record changed since the date."""
        ...

    async def create_task(self, task: TaskDraft) -> WriteResult: ...

    async def add_note(self, note: NoteDraft) -> WriteResult: ...

    async def aclose(self) -> None:
        """Release connections and sessions."""
        ...
