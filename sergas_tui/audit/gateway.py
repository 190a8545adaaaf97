"""Every CRM call, audited at the gateway: a ``tool_invocation`` row per call.

``AuditedGateway`` wraps any :class:`CrmGateway` and appends one audit event per operation —
the tool name (``zoho_<operation>``), its inputs, a summary of its output (counts and ids,
never whole records), the time it took and the error if it failed — in the session the
orchestrator or command set with :func:`audit_session`. Inputs and outputs are redacted by the
audit model. The agents' own tool calls are audited again from their hooks; the gateway side
catches everything else (sync, executor, MCP server). The API calls each operation cost also go
to the open call tallies (:mod:`sergas_tui.crm.call_tally`, a review's calls by kind); a sync's
own count (``SyncBatch.calls``) is added by whoever asked for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, JsonValue

from sergas_tui import metrics
from sergas_tui.clock import Clock
from sergas_tui.crm.call_tally import add_calls
from sergas_tui.crm.gateway import SyncBatch
from sergas_tui.crm.http import count_calls
from sergas_tui.crm.writer import CrmGateway, NoteDraft, TaskDraft, WriteApproval, WriteResult
from sergas_tui.domain import (
    Account,
    Activity,
    ActivityKind,
    AuditAction,
    AuditEvent,
    Change,
    Deal,
    Note,
    Owner,
    StageChange,
)
from sergas_tui.domain.common import utc_now
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.logs import get_logger
from sergas_tui.storage import Repository

log = get_logger("sergas.audit")
T = TypeVar("T")

_SESSION: contextvars.ContextVar[str] = contextvars.ContextVar("sergas_audit_session")
_AGENT: contextvars.ContextVar[str] = contextvars.ContextVar("sergas_audit_agent")


@contextmanager
def audit_session(session_id: str, agent_name: str | None = None) -> Iterator[None]:
    """Attribute the CRM calls made inside this block to ``session_id`` (and an agent)."""
    session = _SESSION.set(session_id)
    agent = _AGENT.set(agent_name) if agent_name else None
    try:
        yield
    finally:
        # An async generator may be closed from another context; the values then simply
        # stay with the context that set them.
        with suppress(ValueError):
            _SESSION.reset(session)
            if agent is not None:
                _AGENT.reset(agent)


def _summary(value: object) -> JsonValue:
    """What an operation returned, small enough for an audit row."""
    if value is None:
        return None
    if isinstance(value, SyncBatch):
        return {
            "full": value.full,
            "calls": value.calls,
            "accounts": len(value.accounts),
            "contacts": len(value.contacts),
            "deals": len(value.deals),
            "activities": len(value.activities),
            "notes": len(value.notes),
            "users": len(value.users),
        }
    if isinstance(value, WriteResult):
        return {"module": value.module, "record_id": value.record_id, "action": value.action}
    if isinstance(value, ModuleFields):
        return {
            "module": value.module,
            "fields": len(value.fields),
            "fetched_at": value.fetched_at.isoformat() if value.fetched_at else None,
            "unknown": value.unknown,
        }
    if isinstance(value, list):
        ids = [getattr(item, "id", None) for item in value[:50]]
        return {"count": len(value), "ids": [i for i in ids if isinstance(i, str)]}
    if isinstance(value, BaseModel):
        return {"id": getattr(value, "id", None)}
    return str(value)[:200]


def _inputs(arguments: Mapping[str, object]) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = {}
    for key, value in arguments.items():
        if isinstance(value, datetime):
            result[key] = value.isoformat()
        elif isinstance(value, TaskDraft | NoteDraft):
            result[key] = {k: str(v) if v is not None else None for k, v in vars(value).items()}
        elif isinstance(value, str | int | float | bool) or value is None:
            result[key] = value
        elif isinstance(value, Mapping):
            result[key] = {str(k): str(v) for k, v in value.items()}
        else:
            result[key] = str(value)
    return result


class GroupAppender:
    """Appends audit events in groups, each caller returning once its own event is committed.

    Concurrent CRM calls (a review's scout reads eight deals' histories at a time) would each
    cost a thread hop and a transaction. Here the first event starts a write; events that
    arrive while it runs wait and are written together next, in arrival order, in one
    transaction (``Repository.append_audit_batch``: the same rows, chain and head as one by
    one). Nothing is acknowledged before it is committed.
    """

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._waiting: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, event: AuditEvent) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((event, done))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            # (a writer of an earlier event loop, ended with it, left its events here)
            self._writer = loop.create_task(self._write())
        await asyncio.shield(done)  # a cancelled caller's event is still written

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(
                    self._repository.append_audit_batch, [event for event, _ in group]
                )
            except Exception as err:
                _settle(group, err)
            else:
                _settle(group, None)


def _settle(group: list[tuple[AuditEvent, asyncio.Future[None]]], error: Exception | None) -> None:
    """Tell a group's callers how their write went (not those of an event loop now closed)."""
    for _, done in group:
        if done.done() or done.get_loop().is_closed():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


class AuditedGateway:
    """A :class:`CrmGateway` that records every call in the workspace's audit log."""

    def __init__(
        self,
        inner: CrmGateway,
        repository: Repository,
        *,
        default_agent: str,
        clock: Clock | None = None,
    ) -> None:
        self.inner = inner
        self._repository = repository
        self._default_agent = default_agent
        self._clock = clock
        self._appender = GroupAppender(repository)

    async def _call(
        self, tool: str, arguments: Mapping[str, object], call: Callable[[], Awaitable[T]]
    ) -> T:
        started = time.perf_counter()
        error: BaseException | None = None
        result: Any = None
        try:
            with count_calls() as counter, metrics.zoho_tool(f"zoho_{tool}"):
                try:
                    result = await call()
                finally:
                    # A sync counts its own calls (SyncBatch.calls): its caller adds them.
                    if tool != "sync":
                        add_calls(tool, counter.api)
            return result  # type: ignore[no-any-return]
        except BaseException as err:
            error = err
            raise
        finally:
            event = AuditEvent(
                timestamp=self._clock.now() if self._clock else utc_now(),
                session_id=_SESSION.get("interactive"),
                agent_name=_AGENT.get(self._default_agent),
                action_type=AuditAction.TOOL_INVOCATION,
                account_id=_account_of(arguments),
                tool_name=f"zoho_{tool}",
                tool_inputs=_inputs(arguments),
                tool_outputs=None if error else _summary(result),
                execution_time_ms=int((time.perf_counter() - started) * 1000),
                error_message=None if error is None else f"{type(error).__name__}: {error}"[:500],
            )
            try:
                await self._appender.append(event)
            except Exception as err:  # auditing must never hide the call's own outcome
                log.error("audit_append_failed", tool=tool, error=repr(err))

    # --- reads ------------------------------------------------------------------------------
    async def get_accounts(
        self, owner_email: str | None = None, modified_since: datetime | None = None
    ) -> list[Account]:
        args = {"owner_email": owner_email, "modified_since": modified_since}
        return await self._call(
            "get_accounts", args, lambda: self.inner.get_accounts(owner_email, modified_since)
        )

    async def get_account_details(self, account_id: str) -> Account | None:
        return await self._call(
            "get_account_details",
            {"account_id": account_id},
            lambda: self.inner.get_account_details(account_id),
        )

    async def search_accounts(self, query: str, *, limit: int = 200) -> list[Account]:
        return await self._call(
            "search_accounts",
            {"query": query, "limit": limit},
            lambda: self.inner.search_accounts(query, limit=limit),
        )

    async def get_deals(self, account_id: str) -> list[Deal]:
        return await self._call(
            "get_deals", {"account_id": account_id}, lambda: self.inner.get_deals(account_id)
        )

    async def list_open_deals(self, owner_email: str | None = None) -> list[Deal]:
        return await self._call(
            "list_open_deals",
            {"owner_email": owner_email},
            lambda: self.inner.list_open_deals(owner_email),
        )

    async def get_activities(
        self,
        account_id: str,
        since: datetime | None = None,
        kinds: Sequence[ActivityKind] = ("task", "event", "call"),
    ) -> list[Activity]:
        return await self._call(
            "get_activities",
            {"account_id": account_id, "since": since, "kinds": ",".join(kinds)},
            lambda: self.inner.get_activities(account_id, since, kinds),
        )

    async def get_notes(self, account_id: str) -> list[Note]:
        return await self._call(
            "get_notes", {"account_id": account_id}, lambda: self.inner.get_notes(account_id)
        )

    async def get_user_info(self, email: str | None = None) -> Owner | None:
        return await self._call(
            "get_user_info", {"email": email}, lambda: self.inner.get_user_info(email)
        )

    async def get_stage_history(self, deal_id: str) -> list[StageChange]:
        return await self._call(
            "get_stage_history",
            {"deal_id": deal_id},
            lambda: self.inner.get_stage_history(deal_id),
        )

    async def get_timeline(self, module: str, record_id: str) -> list[Change]:
        return await self._call(
            "get_timeline",
            {"module": module, "record_id": record_id},
            lambda: self.inner.get_timeline(module, record_id),
        )

    async def get_fields(self, module: str) -> ModuleFields:
        return await self._call(
            "get_fields", {"module": module}, lambda: self.inner.get_fields(module)
        )

    async def sync(
        self,
        owner_email: str | None = None,
        modified_since: datetime | None = None,
        *,
        history_days: int = 90,
    ) -> SyncBatch:
        args = {
            "owner_email": owner_email,
            "modified_since": modified_since,
            "history_days": history_days,
        }
        return await self._call(
            "sync",
            args,
            lambda: self.inner.sync(owner_email, modified_since, history_days=history_days),
        )

    # --- writes (the executor's, each naming its approval) ------------------------------------
    async def update_account(
        self,
        account_id: str,
        changes: Mapping[str, JsonValue],
        *,
        approval: WriteApproval,
        if_unmodified_since: datetime | None = None,
    ) -> WriteResult:
        args = {
            "account_id": account_id,
            "changes": changes,
            "since": if_unmodified_since,
            "approval_id": approval.approval_id,
        }
        return await self._call(
            "update_account",
            args,
            lambda: self.inner.update_account(
                account_id, changes, approval=approval, if_unmodified_since=if_unmodified_since
            ),
        )

    async def create_task(self, task: TaskDraft, *, approval: WriteApproval) -> WriteResult:
        return await self._call(
            "create_task",
            {"task": task, "approval_id": approval.approval_id},
            lambda: self.inner.create_task(task, approval=approval),
        )

    async def add_note(self, note: NoteDraft, *, approval: WriteApproval) -> WriteResult:
        return await self._call(
            "add_note",
            {"note": note, "approval_id": approval.approval_id},
            lambda: self.inner.add_note(note, approval=approval),
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _account_of(arguments: Mapping[str, object]) -> str | None:
    for key in ("account_id",):
        value = arguments.get(key)
        if isinstance(value, str):
            return value
    task = arguments.get("task")
    if isinstance(task, TaskDraft):
        return task.account_id
    note = arguments.get("note")
    if isinstance(note, NoteDraft) and note.parent_module == "Accounts":
        return note.parent_id
    return None
