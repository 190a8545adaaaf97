"""The three writes of the REST gateway: update an account, create a task, add a note.

Only the approvals executor (and our MCP server, for a granted write) calls these. They are
never resent here (``ZohoApi.write`` sends once): a write whose answer was lost may still have
reached Zoho, so the caller, which embeds a marker in the written text, looks in the CRM for
it before writing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import JsonValue, TypeAdapter, ValidationError

from sergas_tui.crm.queries import zoho_datetime
from sergas_tui.crm.rest.api import ZohoApi, rows_of
from sergas_tui.crm.writer import NoteDraft, TaskDraft, WriteResult
from sergas_tui.domain.redaction import redact
from sergas_tui.errors import CrmConflictError, CrmError

_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def segment(value: str) -> str:
    """A record id as one URL path segment (ids come from data; never let them add a path)."""
    if not value:
        raise ValueError("empty record id")
    return quote(value, safe="")


def write_result(
    details: Mapping[str, Any],
    module: str,
    record_id: str | None,
    action: Literal["created", "updated"],
) -> WriteResult:
    """A :class:`WriteResult` from the ``details`` of Zoho's success item."""
    written_id = details.get("id")
    try:
        stamp: datetime | None = _DATETIME.validate_python(
            details.get("Modified_Time") or details.get("Created_Time")
        )
    except ValidationError:
        stamp = None
    return WriteResult(
        module=module,
        record_id=str(written_id) if written_id is not None else (record_id or ""),
        action=action,
        modified_time=stamp,
    )


async def update_account(
    api: ZohoApi,
    account_id: str,
    changes: Mapping[str, JsonValue],
    *,
    if_unmodified_since: datetime | None = None,
) -> WriteResult:
    """``PUT /Accounts/{id}`` with ``{"data": [changes]}``.

    With ``if_unmodified_since`` Zoho answers 412 ALREADY_MODIFIED when the record changed
    after that moment; that becomes a :class:`CrmConflictError` whose ``details`` hold the
    record's current values of the changed fields (one extra GET), so the person approving
    can see what they would overwrite.
    """
    headers = (
        {"If-Unmodified-Since": zoho_datetime(if_unmodified_since)}
        if if_unmodified_since is not None
        else None
    )
    try:
        details = await api.write(
            "PUT",
            f"/Accounts/{segment(account_id)}",
            endpoint="PUT /Accounts/{id}",
            record=changes,
            headers=headers,
        )
    except CrmConflictError as err:
        if err.code != "ALREADY_MODIFIED":
            raise
        raise await _conflict_with_current(api, err, account_id, changes) from err
    return write_result(details, "Accounts", account_id, "updated")


async def _conflict_with_current(
    api: ZohoApi, err: CrmConflictError, account_id: str, changes: Mapping[str, JsonValue]
) -> CrmConflictError:
    try:
        body = await api.get_json(
            "GET", f"/Accounts/{segment(account_id)}", endpoint="GET /Accounts/{id}"
        )
    except CrmError:
        return err
    rows = rows_of(body)
    if not rows:
        return err
    current = rows[0]
    details = redact(
        {
            "zoho": err.details,
            "current": {name: current.get(name) for name in changes},
            "modified_time": current.get("Modified_Time"),
            "modified_by": current.get("Modified_By"),
        }
    )
    return CrmConflictError(
        f"{err.message} The record's current values are attached to this error.",
        status_code=err.status_code,
        code=err.code,
        request_id=err.request_id,
        details=details,
    )


def task_record(task: TaskDraft) -> dict[str, JsonValue]:
    """The Zoho Tasks record for a draft: ``What_Id`` is the deal when given, else the account
    (``$se_module``). Shared by the REST gateway and the gateway over Zoho's MCP server."""
    record: dict[str, JsonValue] = {
        "Subject": task.subject,
        "What_Id": {"id": task.deal_id or task.account_id},
        "$se_module": "Deals" if task.deal_id else "Accounts",
        "Status": "Not Started",
        "Priority": task.priority,
    }
    if task.due_date is not None:
        record["Due_Date"] = task.due_date.isoformat()
    if task.contact_id:
        record["Who_Id"] = {"id": task.contact_id}
    if task.owner_id:
        record["Owner"] = {"id": task.owner_id}
    if task.description:
        record["Description"] = task.description
    return record


async def create_task(api: ZohoApi, task: TaskDraft) -> WriteResult:
    """``POST /Tasks`` with :func:`task_record`."""
    record = task_record(task)
    details = await api.write("POST", "/Tasks", endpoint="POST /Tasks", record=record)
    return write_result(details, "Tasks", None, "created")


async def add_note(api: ZohoApi, note: NoteDraft) -> WriteResult:
    """``POST /Notes`` with ``Parent_Id: {"module": {"api_name": ...}, "id": ...}``."""
    record: dict[str, JsonValue] = {
        "Note_Content": note.content,
        "Parent_Id": {"module": {"api_name": note.parent_module}, "id": note.parent_id},
    }
    if note.title:
        record["Note_Title"] = note.title
    details = await api.write("POST", "/Notes", endpoint="POST /Notes", record=record)
    return write_result(details, "Notes", None, "created")
