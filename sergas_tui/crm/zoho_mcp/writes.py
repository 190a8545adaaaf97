"""The gateway's writes: approved tasks, notes and account updates through Zoho's tools.

Tasks and notes go through ``createRecords`` (notes through ``createNotes`` when that is all the
server has), account updates through ``updateRecord`` (or ``updateRecords`` with the id). Every
write takes the :class:`~sergas_tui.crm.writer.WriteApproval` it executes, as the protocol
demands, but nothing of it is sent: Zoho's server does not know our approvals, so the approvals
executor is the gate (and agents never hold a writer). Writes are never retried, and a change
made in Zoho since the approval was read becomes a :class:`~sergas_tui.errors.CrmConflictError`
carrying the record's current values, whether or not the tool takes ``If-Unmodified-Since``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from sergas_tui.crm.errors_map import ZohoErrorBody, parse_error_body
from sergas_tui.crm.queries import zoho_datetime
from sergas_tui.crm.rest import writes as rest_writes
from sergas_tui.crm.writer import NoteDraft, TaskDraft, WriteApproval, WriteResult
from sergas_tui.crm.zoho_mcp.calls import ToolCaller
from sergas_tui.crm.zoho_mcp.results import Row, modified_of, rows_of, zoho_tool_error
from sergas_tui.domain import ensure_aware
from sergas_tui.domain.redaction import redact
from sergas_tui.errors import (
    CrmConflictError,
    CrmError,
    CrmPermissionError,
    CrmServerError,
)


class ZohoWrites:
    """The :class:`~sergas_tui.crm.writer.CrmWriter` writes over Zoho's tools."""

    def __init__(self, caller: ToolCaller) -> None:
        self._caller = caller
        self.catalog = caller.catalog
        self.target = caller.target

    async def _write(self, operation: str, **call: Any) -> dict[str, Any]:
        """One single-record write; the ``details`` of its success item, or a typed error."""
        body = await self._caller.call(operation, write=True, **call)
        tool = self.catalog.tool_name(operation)
        items = rows_of(body)
        if not items:
            raise CrmServerError(
                f"Zoho's MCP tool {tool} answered without a result for the record. Check in "
                "Zoho whether the change was made before trying again.",
                status_code=502,
            )
        item = items[0]
        if item.get("status") != "success" and item.get("code") != "SUCCESS":
            parsed = parse_error_body(item) or ZohoErrorBody(None, None, item.get("details"))
            raise self._caller.scrub(zoho_tool_error(tool, parsed))
        details = item.get("details")
        return dict(details) if isinstance(details, Mapping) else {}

    async def _create(self, module: str, record: Mapping[str, JsonValue]) -> dict[str, Any]:
        if not self.catalog.has("create_records"):
            raise CrmPermissionError(
                f"Zoho's MCP server at {self.target} offers no ZohoCRM_createRecords tool, so "
                f"Sergas cannot create {module}. Add the tool to the server in Zoho's MCP console.",
                status_code=403,
                code="NO_CREATE_TOOL",
            )
        return await self._write(
            "create_records", path={"module": module}, body={"data": [dict(record)]}
        )

    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        approval: WriteApproval,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        """``updateRecord`` on the account (``updateRecords`` with the id when that is all the
        server has). ``If-Unmodified-Since`` travels as a header when the tool takes one;
        otherwise the record's ``Modified_Time`` is checked first. A change since then is a
        :class:`CrmConflictError` carrying the record's current values."""
        operation = "update_record" if self.catalog.has("update_record") else "update_records"
        tool = self.catalog.get(operation)
        if tool is None:
            raise CrmPermissionError(
                f"Zoho's MCP server at {self.target} offers no ZohoCRM_updateRecord tool, so "
                "Sergas cannot update accounts. Add the tool to the server in Zoho's MCP console.",
                status_code=403,
                code="NO_UPDATE_TOOL",
            )
        headers: dict[str, str] = {}
        if if_unmodified_since is not None:
            if tool.spelling("If-Unmodified-Since", "headers") is not None:
                headers["If-Unmodified-Since"] = zoho_datetime(if_unmodified_since)
            else:
                await self._check_unmodified(account_id, changes, if_unmodified_since)
        record = dict(changes)
        try:
            if operation == "update_record":
                details = await self._write(
                    operation,
                    path={"module": "Accounts", "record_id": account_id},
                    body={"data": [record]},
                    headers=headers or None,
                )
            else:
                details = await self._write(
                    operation,
                    path={"module": "Accounts"},
                    body={"data": [{**record, "id": account_id}]},
                    headers=headers or None,
                )
        except CrmConflictError as err:
            if err.code != "ALREADY_MODIFIED":
                raise
            raise await self._conflict(err, account_id, changes) from err
        return rest_writes.write_result(details, "Accounts", account_id, "updated")

    async def _current(self, account_id: str) -> Row | None:
        try:
            if self.catalog.has("get_record"):
                body = await self._caller.call(
                    "get_record", path={"module": "Accounts", "record_id": account_id}
                )
            else:
                body = await self._caller.call(
                    "get_records",
                    path={"module": "Accounts"},
                    query={"ids": account_id, "fields": "Modified_Time,Modified_By"},
                )
        except CrmError:
            return None
        rows = rows_of(body)
        return rows[0] if rows else None

    async def _check_unmodified(
        self, account_id: str, changes: Mapping[str, JsonValue], since: datetime
    ) -> None:
        current = await self._current(account_id)
        modified = modified_of(current) if current is not None else None
        if modified is not None and modified > ensure_aware(since):
            err = CrmConflictError(
                f"The account changed in Zoho at {modified.isoformat()}, after Sergas read it. "
                "Review the current values and approve the change again.",
                status_code=412,
                code="ALREADY_MODIFIED",
            )
            raise self._with_current(err, current or {}, changes)

    async def _conflict(
        self, err: CrmConflictError, account_id: str, changes: Mapping[str, JsonValue]
    ) -> CrmConflictError:
        current = await self._current(account_id)
        return err if current is None else self._with_current(err, current, changes)

    @staticmethod
    def _with_current(
        err: CrmConflictError, current: Mapping[str, Any], changes: Mapping[str, JsonValue]
    ) -> CrmConflictError:
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
            details=details,
        )

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult:
        """``createRecords`` on Tasks: ``What_Id`` is the deal when given, else the account."""
        record = rest_writes.task_record(task)
        details = await self._create("Tasks", record)
        return rest_writes.write_result(details, "Tasks", None, "created")

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        """``createRecords`` on Notes with ``Parent_Id: {module: {api_name}, id}`` (or the
        parent-scoped ``createNotes`` when that is all the server has)."""
        record: dict[str, JsonValue] = {"Note_Content": note.content}
        if note.title:
            record["Note_Title"] = note.title
        if not self.catalog.has("create_records") and self.catalog.has("create_notes"):
            details = await self._write(
                "create_notes",
                path={"parent_module": note.parent_module, "parent_id": note.parent_id},
                body={"data": [record]},
            )
            return rest_writes.write_result(details, "Notes", None, "created")
        record["Parent_Id"] = {"module": {"api_name": note.parent_module}, "id": note.parent_id}
        details = await self._create("Notes", record)
        return rest_writes.write_result(details, "Notes", None, "created")


__all__ = ["ZohoWrites"]
