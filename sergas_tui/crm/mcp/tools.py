"""The Zoho MCP tool catalog: names, descriptions, annotations, argument and result models.

One pydantic model per tool's arguments is the single source of its JSON input schema (what
agents read) and of the server's argument validation; one result model per tool is the source
of its output schema, of the server's structured result and of the client's parsing. Both the
server (:mod:`.server`) and the client (:mod:`.client`) import this module, so the two
cannot drift apart.

How results and errors travel on the wire is in :mod:`.wire`.

Why one module: the catalog is the single source of the server's and the client's schemas; one
file is what keeps them from drifting, and lets a reader compare a tool's arguments, its result
and its annotations side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.writer import WriteRequest, WriteResult, request_from_fields
from sergas_tui.domain import (
    Account,
    Activity,
    ActivityKind,
    Change,
    Deal,
    Note,
    Owner,
    StageChange,
    Timestamp,
)
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.domain.picklists import TaskPriority

# --- arguments ---------------------------------------------------------------------------------

_EMAIL = "Email address of a Zoho CRM user (the account owner)."
_TOKEN = (
    "Single-use token of the human approval that allows exactly this write. Without a valid, "
    "approved, unexpired, unused token whose action matches this call, nothing is written."
)


ALL_KINDS: tuple[ActivityKind, ...] = ("task", "event", "call")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Paged(_Args):
    limit: int | None = Field(
        None, ge=1, le=2000, description="Most records to return in this call (one page)."
    )
    page_token: str | None = Field(
        None,
        description="The next_page_token of the previous call, to continue a listing. Results "
        "come in pages of about 100 KB; a page with more to follow carries next_page_token.",
    )


class WriteArgs(_Args):
    """A write tool's arguments: the approval's two, then the write's own."""

    approval_id: str = Field("", description="Id of the human approval this write executes.")
    approval_token: str = Field("", description=_TOKEN)


APPROVAL_FIELDS = frozenset({"approval_id", "approval_token"})


def write_request(op: str, args: WriteArgs) -> WriteRequest:
    """The write a call asks for, built from every argument but the approval's (so the gate
    compares all of them with the approved write)."""
    return request_from_fields({"op": op, **args.model_dump(exclude=set(APPROVAL_FIELDS))})


class GetAccountsArgs(_Paged):
    owner_email: str | None = Field(
        None, description=f"{_EMAIL} Omit to list the accounts of every owner."
    )
    modified_since: Timestamp | None = Field(
        None,
        description="ISO 8601 timestamp with time zone; only accounts modified at or after it. "
        "Omit for all accounts.",
    )


class AccountIdArgs(_Args):
    account_id: str = Field(min_length=1, description="Zoho record id of the account.")


class AccountListArgs(_Paged):
    account_id: str = Field(min_length=1, description="Zoho record id of the account.")


class SearchAccountsArgs(_Args):
    query: str = Field(
        min_length=1,
        description="A word to look for in account name, industry and other text fields, or a "
        "Zoho criteria expression such as '(Industry:equals:Energy)'.",
    )
    limit: int = Field(200, ge=1, le=2000, description="Most accounts to find in all.")
    page_token: str | None = Field(
        None, description="The next_page_token of the previous call, to continue the results."
    )


class OwnerArgs(_Paged):
    owner_email: str | None = Field(
        None, description=f"{_EMAIL} Omit for the open deals of every owner."
    )


class GetActivitiesArgs(_Paged):
    account_id: str = Field(min_length=1, description="Zoho record id of the account.")
    since: Timestamp | None = Field(
        None,
        description="ISO 8601 timestamp with time zone; only activities due, held or created "
        "at or after it. Omit for all of them.",
    )
    kinds: list[ActivityKind] = Field(
        default_factory=lambda: list(ALL_KINDS),
        min_length=1,
        description="Which kinds of activity to include: tasks, events (meetings), calls.",
    )


class GetUserInfoArgs(_Args):
    email: str | None = Field(
        None, description="Email of the CRM user. Omit for the user the server signs in as."
    )


class DealIdArgs(_Paged):
    deal_id: str = Field(min_length=1, description="Zoho record id of the deal.")


class GetTimelineArgs(_Paged):
    module: str = Field(
        min_length=1, description="Zoho module API name, e.g. 'Accounts' or 'Deals'."
    )
    record_id: str = Field(min_length=1, description="Zoho record id in that module.")


class GetFieldsArgs(_Args):
    module: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Zoho module API name, e.g. 'Accounts'.",
    )


class SyncArgs(_Paged):
    owner_email: str | None = Field(None, description=f"{_EMAIL} Omit for every owner.")
    modified_since: Timestamp | None = Field(
        None,
        description="ISO 8601 timestamp with time zone for an incremental sync; omit for a "
        "full sync.",
    )
    history_days: int = Field(
        90, ge=1, le=3650, description="How far back a full sync fetches activities and notes."
    )


class UpdateAccountArgs(WriteArgs):
    account_id: str = Field(min_length=1, description="Zoho record id of the account to change.")
    changes: dict[str, JsonValue] = Field(
        min_length=1,
        description="Zoho field API names mapped to their new values, e.g. "
        '{"Rating": "Hot"}. Must be exactly the changes the approval approved.',
    )
    if_unmodified_since: Timestamp | None = Field(
        None,
        description="ISO 8601 timestamp; refuse with a conflict if the account changed in Zoho "
        "after it (optimistic locking).",
    )


class CreateTaskArgs(WriteArgs):
    account_id: str = Field(min_length=1, description="Zoho record id of the account.")
    subject: str = Field(min_length=1, description="Task subject, as approved.")
    due_date: date | None = Field(None, description="Due date (YYYY-MM-DD), as approved.")
    priority: TaskPriority = Field("Normal", description="Zoho task priority, as approved.")
    description: str | None = Field(None, description="Task description, as approved.")
    deal_id: str | None = Field(None, description="Deal of the account to attach the task to.")
    contact_id: str | None = Field(None, description="Contact the task is about.")
    owner_id: str | None = Field(
        None, description="Zoho user id to assign the task to; omit for the default owner."
    )


class AddNoteArgs(WriteArgs):
    parent_id: str = Field(
        min_length=1, description="Zoho record id of the record the note goes on (the account)."
    )
    content: str = Field(min_length=1, description="Note text, as approved.")
    title: str | None = Field(None, description="Note title, as approved.")
    parent_module: Literal["Accounts", "Deals", "Contacts"] = Field(
        "Accounts",
        description="Module of the parent record. Approved notes go on accounts.",
    )


class RegisterApprovalArgs(_Args):
    approval_id: str = Field(min_length=1, description="Id of the approval.")
    token_sha256: str = Field(
        min_length=64, max_length=64, description="SHA-256 (hex) of the approval token."
    )
    account_id: str = Field(min_length=1, description="Account the approval is about.")
    owner_email: str = Field(min_length=1, description="Owner of the account.")
    action_type: str = Field(min_length=1, description="The recommendation type approved.")
    decided_by: str | None = Field(None, description="Who approved it.")
    expires_at: Timestamp = Field(description="When the approval expires.")
    write: dict[str, JsonValue] = Field(
        description="The exact write approved: {op: update_account|create_task|add_note, ...} "
        "with the arguments of the matching write tool (no approval fields)."
    )


class RegisterResult(BaseModel):
    approval_id: str
    registered: bool


# --- results -----------------------------------------------------------------------------------


class AccountsResult(BaseModel):
    accounts: list[Account]
    count: int


class AccountResult(BaseModel):
    account: Account


class DealsResult(BaseModel):
    deals: list[Deal]
    count: int


class ActivitiesResult(BaseModel):
    activities: list[Activity]
    count: int


class NotesResult(BaseModel):
    notes: list[Note]
    count: int


class UserResult(BaseModel):
    user: Owner


class StageHistoryResult(BaseModel):
    stage_history: list[StageChange]


class TimelineResult(BaseModel):
    changes: list[Change]


PAGED_KEYS: Mapping[str, tuple[str, ...]] = {
    "zoho_get_accounts": ("accounts",),
    "zoho_search_accounts": ("accounts",),
    "zoho_get_deals": ("deals",),
    "zoho_list_open_deals": ("deals",),
    "zoho_get_activities": ("activities",),
    "zoho_get_notes": ("notes",),
    "zoho_get_stage_history": ("stage_history",),
    "zoho_get_timeline": ("changes",),
    "zoho_sync": ("users", "accounts", "contacts", "deals", "activities", "notes"),
}
"""The list tools, and the keys of their results that pages split."""


# --- the catalog -------------------------------------------------------------------------------

FIELDS_TOOL = "zoho_get_fields"
"""The metadata read (our addition); a server without it (an older Sergas) leaves the field
metadata unknown."""

ToolKind = Literal["read", "write"]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what agents see (name, title, description, schemas, hints) and its kind."""

    name: str
    title: str
    description: str
    args: type[_Args]
    result: Any
    kind: ToolKind = "read"
    destructive: bool = False
    internal: bool = False
    """Offered to Sergas apps, never to agents (approval registration)."""

    def annotations(self) -> types.ToolAnnotations:
        if self.kind == "read":
            return types.ToolAnnotations(
                title=self.title,
                read_only_hint=True,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=True,
            )
        return types.ToolAnnotations(
            title=self.title,
            read_only_hint=False,
            destructive_hint=self.destructive,
            idempotent_hint=False,
            open_world_hint=True,
        )

    def tool(self) -> types.Tool:
        """The MCP ``Tool`` definition."""
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=clean_schema(self.args.model_json_schema()),
            annotations=self.annotations(),
        )


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without pydantic's generated ``title`` strings (noise for agents)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: walk(value)
                for key, value in node.items()
                if not (key == "title" and isinstance(value, str))
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    cleaned: dict[str, Any] = walk(schema)
    return cleaned


_NO_WRITE = " Read-only."
_PAGED = (
    " Results come in pages of about 100 KB: pass next_page_token back as page_token for more."
    + _NO_WRITE
)
_WRITE = (
    " Requires approval_id and approval_token: a recorded human approval (unexpired, unused) of "
    "exactly this write; the token is spent by the call. Refused otherwise, and nothing is "
    "written."
)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "zoho_get_accounts",
        "List accounts",
        "List the accounts of one owner (or of every owner), optionally only those modified "
        "since a time. Returns {accounts: [...], count, total}." + _PAGED,
        GetAccountsArgs,
        AccountsResult,
    ),
    ToolSpec(
        "zoho_get_account_details",
        "Get account details",
        "Fetch one account with all its fields (owner, industry, revenue, rating, last "
        "activity...). Returns {account}; an error when no account has that id." + _NO_WRITE,
        AccountIdArgs,
        AccountResult,
    ),
    ToolSpec(
        "zoho_search_accounts",
        "Search accounts",
        "Find accounts by a word (name, industry, ...) or a Zoho criteria expression. Returns "
        "{accounts: [...], count, total}." + _PAGED,
        SearchAccountsArgs,
        AccountsResult,
    ),
    ToolSpec(
        "zoho_get_deals",
        "Get deals of an account",
        "List every deal of an account, open and closed, with stage, amount, closing date and "
        "probability. Returns {deals: [...], count, total}." + _PAGED,
        AccountListArgs,
        DealsResult,
    ),
    ToolSpec(
        "zoho_list_open_deals",
        "List open deals",
        "List deals not yet Closed Won or Closed Lost, of one owner or of everyone. Returns "
        "{deals: [...], count, total}." + _PAGED,
        OwnerArgs,
        DealsResult,
    ),
    ToolSpec(
        "zoho_get_activities",
        "Get activities of an account",
        "List the tasks, events (meetings) and calls of an account, directly or through its "
        "deals, optionally only since a time. Returns {activities: [...], count, total}." + _PAGED,
        GetActivitiesArgs,
        ActivitiesResult,
    ),
    ToolSpec(
        "zoho_get_notes",
        "Get notes of an account",
        "List the notes on an account, newest first. Returns {notes: [...], count, total}."
        + _PAGED,
        AccountListArgs,
        NotesResult,
    ),
    ToolSpec(
        "zoho_get_user_info",
        "Get CRM user",
        "Look up a CRM user (id, name, email) by email; without an email, the user the server "
        "signs in as. Returns {user}; an error when no user has that email." + _NO_WRITE,
        GetUserInfoArgs,
        UserResult,
    ),
    ToolSpec(
        "zoho_update_account",
        "Update account fields",
        "Change fields of an account to the values a person approved. Returns {module, "
        "record_id, action, modified_time}." + _WRITE,
        UpdateAccountArgs,
        WriteResult,
        kind="write",
        destructive=True,
    ),
    ToolSpec(
        "zoho_create_task",
        "Create follow-up task",
        "Create a task on an account (optionally linked to one of its deals or contacts) as a "
        "person approved it. Returns {module, record_id, action, modified_time}." + _WRITE,
        CreateTaskArgs,
        WriteResult,
        kind="write",
    ),
    ToolSpec(
        "zoho_add_note",
        "Add note to account",
        "Add a note to an account as a person approved it. Returns {module, record_id, action, "
        "modified_time}." + _WRITE,
        AddNoteArgs,
        WriteResult,
        kind="write",
    ),
    # Our additions for the Sergas gateway; agents' allowlists do not include them.
    ToolSpec(
        "zoho_get_stage_history",
        "Get deal stage history",
        "A deal's stage history, oldest first. Returns {stage_history: [...]}." + _PAGED,
        DealIdArgs,
        StageHistoryResult,
    ),
    ToolSpec(
        "zoho_get_timeline",
        "Get record timeline",
        "Field changes of a record from Zoho's timeline, oldest first. Returns {changes: "
        "[...]}." + _PAGED,
        GetTimelineArgs,
        TimelineResult,
    ),
    ToolSpec(
        "zoho_sync",
        "Bulk sync",
        "Bulk fetch of users, accounts, contacts, deals, activities and notes for the Sergas "
        "data sync, with the fewest CRM calls." + _PAGED,
        SyncArgs,
        SyncBatch,
    ),
    ToolSpec(
        FIELDS_TOOL,
        "Get module fields",
        "The field metadata of a module: each field's API name, label, data type, whether it "
        "is read-only, mandatory or custom, and a picklist's values (without -None-). Read "
        "from Zoho at most once a day. Returns {module, fields: [...], fetched_at, unknown}."
        + _NO_WRITE,
        GetFieldsArgs,
        ModuleFields,
    ),
    ToolSpec(
        "sergas_register_approval",
        "Record an approval (Sergas apps)",
        "Record a person's approval of one write so that this server can check the write's "
        "approval_token. Used by the Sergas app just before it executes an approved write; "
        "offered only when approvals are not kept in a central database. Not for agents.",
        RegisterApprovalArgs,
        RegisterResult,
        kind="write",
        internal=True,
    ),
)
"""Every tool the server offers, in listing order."""

TOOLS_BY_NAME: Mapping[str, ToolSpec] = {spec.name: spec for spec in TOOLS}

SEED_TOOL_NAMES: frozenset[str] = frozenset(spec.name for spec in TOOLS[:11])
"""The seed's 11 tools; a server offering fewer cannot back a gateway."""

READ_TOOL_NAMES: tuple[str, ...] = tuple(spec.name for spec in TOOLS if spec.kind == "read")
WRITE_TOOL_NAMES: tuple[str, ...] = tuple(
    spec.name for spec in TOOLS if spec.kind == "write" and not spec.internal
)
REGISTER_TOOL = "sergas_register_approval"
