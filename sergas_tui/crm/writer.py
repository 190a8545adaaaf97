"""The CRM writer: the three writes, each taking the approval it executes.

The CRM port is split in two. :class:`~sergas_tui.crm.gateway.CrmReader` is what the Data Scout,
the agents' tools, the view models and our MCP server's read tools get. :class:`CrmWriter` is held
only by the approvals executor (and by our Zoho MCP server, behind its approval gate): every call
takes a :class:`WriteApproval`, so "agents never write" and "every write carries its approval"
are checked by mypy and by the import contracts in ``pyproject.toml`` (the agents may not import
this module), not by a docstring. Every backend (demo simulator and REST, our MCP server, Zoho's
hosted MCP server) implements both, as :class:`CrmGateway`.

A write is described by a :data:`WriteRequest` (an :class:`AccountUpdate`, a :class:`TaskDraft`
or a :class:`NoteDraft`); :func:`write_digest` is the one spelling of "exactly this write" that
the executor, the approval grant and our MCP server's gate all compare.

Exactly once, whoever writes: every task and note written for an approval carries its marker
``[sergas:<approval id>]`` (:func:`with_marker`, :func:`marked`), and before any write that might
repeat, the writer looks for it in the CRM (:func:`find_written`; an account update is
recognised by the account already holding every target value).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import JsonValue

from sergas_tui.crm.gateway import CrmReader
from sergas_tui.domain import Account
from sergas_tui.domain.grants import approval_marker
from sergas_tui.domain.picklists import TASK_PRIORITIES, TaskPriority


@dataclass(frozen=True)
class TaskDraft:
    """A task to create, attached to an account (and optionally one of its deals/contacts)."""

    account_id: str
    subject: str
    due_date: date | None = None
    priority: TaskPriority = "Normal"
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
class AccountUpdate:
    """The ``update_account`` write: field changes on one account."""

    account_id: str
    changes: Mapping[str, JsonValue]
    if_unmodified_since: datetime | None = None


WriteRequest = AccountUpdate | TaskDraft | NoteDraft
"""One of the three writes, exactly as the CRM will receive it."""


@dataclass(frozen=True)
class WriteResult:
    """What the CRM said about one write."""

    module: str
    record_id: str
    action: Literal["created", "updated"]
    modified_time: datetime | None = None


@dataclass(frozen=True)
class WriteApproval:
    """The recorded human approval a write executes: who approved what, until when.

    ``token`` is the approval's single-use secret; it travels only to a server that checks it
    (our Zoho MCP server) and is never logged (``repr`` hides it).
    """

    approval_id: str
    token: str = field(repr=False)
    account_id: str
    owner_email: str
    action_type: str
    decided_by: str | None
    expires_at: datetime


def operation_of(request: WriteRequest) -> Literal["update_account", "create_task", "add_note"]:
    """The writer method a request goes to."""
    if isinstance(request, AccountUpdate):
        return "update_account"
    if isinstance(request, TaskDraft):
        return "create_task"
    return "add_note"


def target_of(request: WriteRequest) -> str:
    """The record a write is aimed at (the account, or the note's parent)."""
    return request.parent_id if isinstance(request, NoteDraft) else request.account_id


def _jsonable(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_fields(request: WriteRequest) -> dict[str, Any]:
    """Every argument of the write as JSON values (``op`` names the operation)."""
    values: dict[str, Any] = {"op": operation_of(request)}
    values.update({name: _jsonable(value) for name, value in vars(request).items()})
    return values


def request_from_fields(values: Mapping[str, Any]) -> WriteRequest:
    """The write :func:`write_fields` spelled (raises ``ValueError``/``TypeError`` when it is not
    one)."""
    fields = {key: value for key, value in values.items() if key != "op"}
    op = values.get("op")
    if op == "update_account":
        since = fields.get("if_unmodified_since")
        if isinstance(since, str):
            fields["if_unmodified_since"] = datetime.fromisoformat(since)
        if not isinstance(fields.get("changes"), Mapping):
            raise ValueError("an account update needs a 'changes' object")
        return AccountUpdate(**fields)
    if op == "create_task":
        due = fields.get("due_date")
        if isinstance(due, str):
            fields["due_date"] = date.fromisoformat(due)
        if fields.get("priority", "Normal") not in TASK_PRIORITIES:
            raise ValueError(f"unknown task priority {fields.get('priority')!r}")
        return TaskDraft(**fields)
    if op == "add_note":
        return NoteDraft(**fields)
    raise ValueError(f"unknown write operation {op!r}")


def canonical_write(request: WriteRequest) -> str:
    """A JSON spelling of the write that tells ``1`` from ``1.0`` and ``True`` from ``1``."""
    return json.dumps(write_fields(request), sort_keys=True, separators=(",", ":"))


def write_digest(request: WriteRequest) -> str:
    """SHA-256 of :func:`canonical_write`: the same write always has the same digest, and a
    write that differs in any argument (text, date, owner, deal, contact...) has another."""
    return hashlib.sha256(canonical_write(request).encode()).hexdigest()


def token_digest(token: str) -> str:
    """What stores keep of an approval token (SHA-256, hex): enough to check, useless to use."""
    return hashlib.sha256(token.encode()).hexdigest()


def with_marker(text: str | None, approval_id: str) -> str:
    """``text`` with the approval's marker at its end, as every task and note is written."""
    tag = approval_marker(approval_id)
    return f"{text}\n\n{tag}" if text else tag


def marked(request: WriteRequest, approval_id: str) -> WriteRequest:
    """``request`` as it must reach the CRM: a task's description or a note's content carries
    the approval's marker (added at the end when the approved text lacks it)."""
    tag = approval_marker(approval_id)
    if isinstance(request, TaskDraft) and tag not in (request.description or ""):
        return replace(request, description=with_marker(request.description, approval_id))
    if isinstance(request, NoteDraft) and tag not in request.content:
        return replace(request, content=with_marker(request.content, approval_id))
    return request


_ACCOUNT_ATTRIBUTES = {"Account_Name": "name"}
"""Zoho field names whose :class:`Account` attribute is not simply the lower-cased name."""


def same_value(current: object, target: object) -> bool:
    """Whether a value read back from the CRM is the one written (dates and numbers may come
    back typed where the write sent text)."""
    if current == target:
        return True
    if isinstance(current, datetime | float | int) and isinstance(target, str):
        return str(current) == target or (
            isinstance(current, datetime) and current.isoformat() == target
        )
    return False


def holds_changes(account: Account, changes: Mapping[str, JsonValue]) -> bool:
    """True when ``account`` already holds every value ``changes`` sets (and it sets some)."""
    current = account.model_dump()
    for name, target in changes.items():
        attribute = _ACCOUNT_ATTRIBUTES.get(name, name.lower())
        if attribute not in current or not same_value(current[attribute], target):
            return False
    return bool(changes)


async def find_written(
    reader: CrmReader, request: WriteRequest, approval_id: str
) -> WriteResult | None:
    """The record an earlier attempt of this write already made, if the CRM has it: the task or
    note carrying the approval's marker, or the account already holding every target value.

    Relies on the CRM being read-your-writes consistent for an account's tasks and notes (Zoho
    and the simulator are).
    """
    tag = approval_marker(approval_id)
    if isinstance(request, TaskDraft):
        for task in await reader.get_activities(request.account_id, kinds=("task",)):
            if tag in (task.description or ""):
                return WriteResult("Tasks", task.id, "created", task.created_time)
        return None
    if isinstance(request, NoteDraft):
        for note in await reader.get_notes(request.parent_id):
            if tag in (note.content or ""):
                return WriteResult("Notes", note.id, "created", note.created_time)
        return None
    account = await reader.get_account_details(request.account_id)
    if account is None or not holds_changes(account, request.changes):
        return None
    return WriteResult("Accounts", account.id, "updated", account.modified_time)


@runtime_checkable
class CrmWriter(Protocol):
    """The three CRM writes; each names the approval it executes."""

    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        approval: WriteApproval,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        """Change account fields; CrmConflictError when the record changed since the date."""
        ...

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult: ...

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult: ...


@runtime_checkable
class CrmGateway(CrmReader, CrmWriter, Protocol):
    """A whole CRM backend: every backend implements reads and writes. Only the composition
    root (``services.py``) and the executor see this type; everyone else gets a reader."""


__all__ = [
    "TASK_PRIORITIES",
    "AccountUpdate",
    "CrmGateway",
    "CrmWriter",
    "NoteDraft",
    "TaskDraft",
    "TaskPriority",
    "WriteApproval",
    "WriteRequest",
    "WriteResult",
    "canonical_write",
    "find_written",
    "holds_changes",
    "marked",
    "operation_of",
    "request_from_fields",
    "target_of",
    "token_digest",
    "with_marker",
    "write_digest",
    "write_fields",
]
