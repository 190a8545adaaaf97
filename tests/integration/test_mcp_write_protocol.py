"""Our Zoho MCP server's write protocol, against the Zoho simulator on loopback: the gate
compares the whole write and spends nothing on a refusal; every write carries the approval's
marker; an outcome that cannot be recorded, or is unknown, never leads to a second write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from pydantic import JsonValue

from sergas_tui.approvals.write_plan import _with_marker as executor_marker
from sergas_tui.crm.approval_gate import ApprovalGate, GrantStore, grant_for
from sergas_tui.crm.mcp import tools as t
from sergas_tui.crm.mcp.server import build_zoho_server
from sergas_tui.crm.mcp.wire import ERROR_META_KEY
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import SimulatorConfig, create_simulator
from sergas_tui.crm.simulator.server import start_in_thread
from sergas_tui.crm.writer import (
    AccountUpdate,
    NoteDraft,
    TaskDraft,
    WriteApproval,
    WriteRequest,
    WriteResult,
    find_written,
    with_marker,
    write_fields,
)
from sergas_tui.demo import generate
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.grants import Grant, approval_marker
from sergas_tui.errors import CrmRateLimitedError, CrmTimeoutError, CrmValidationError, StorageError
from sergas_tui.storage import Repository
from sergas_tui.storage.grants import LocalGrantStore
from tests.fakes.executor_crash import open_gateway
from tests.fakes.mcp_harness import connected
from tests.integration.simkit import NOW, copy_org

# --- the CRM: the simulator behind a gateway that counts writes and fails on request ---------


@dataclass
class Faults:
    """Failures to inject, each used once: ``lost_answer`` writes and then raises (the answer
    never came back); ``refuse`` raises instead of writing; ``failed_reads`` fail look-ups."""

    lost_answer: Exception | None = None
    refuse: Exception | None = None
    failed_reads: list[Exception] = field(default_factory=list)


class CountingCrm:
    """The simulator's REST gateway, counting the writes that reach it."""

    def __init__(self, inner: ZohoRestGateway) -> None:
        self.inner = inner
        self.writes: list[str] = []
        self.faults = Faults()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _read(self) -> None:
        if self.faults.failed_reads:
            raise self.faults.failed_reads.pop(0)

    async def get_activities(self, *args: Any, **kwargs: Any) -> Any:
        self._read()
        return await self.inner.get_activities(*args, **kwargs)

    async def get_notes(self, *args: Any, **kwargs: Any) -> Any:
        self._read()
        return await self.inner.get_notes(*args, **kwargs)

    async def get_account_details(self, *args: Any, **kwargs: Any) -> Any:
        self._read()
        return await self.inner.get_account_details(*args, **kwargs)

    async def _write(self, name: str, *args: Any, **kwargs: Any) -> WriteResult:
        if self.faults.refuse is not None:
            err, self.faults.refuse = self.faults.refuse, None
            raise err
        self.writes.append(name)
        result: WriteResult = await getattr(self.inner, name)(*args, **kwargs)
        if self.faults.lost_answer is not None:
            err, self.faults.lost_answer = self.faults.lost_answer, None
            raise err
        return result

    async def create_task(self, *args: Any, **kwargs: Any) -> WriteResult:
        return await self._write("create_task", *args, **kwargs)

    async def add_note(self, *args: Any, **kwargs: Any) -> WriteResult:
        return await self._write("add_note", *args, **kwargs)

    async def update_account(self, *args: Any, **kwargs: Any) -> WriteResult:
        return await self._write("update_account", *args, **kwargs)


class FlakyStore:
    """A grant store whose outcome recording fails with "database is locked" ``busy`` times
    (``-1``: always)."""

    def __init__(self, inner: GrantStore) -> None:
        self.inner = inner
        self.busy = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def settle_grant(self, approval_id: str, **kwargs: Any) -> bool:
        if self.busy:
            self.busy = max(self.busy - 1, -1)
            raise StorageError("Could not settle an approval grant: database is locked.")
        return self.inner.settle_grant(approval_id, **kwargs)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("org")
    source = directory / "source.sqlite"
    generate(source, accounts=20, owners=2, seed=3, now=NOW)
    sim = create_simulator(copy_org(source, directory), SimulatorConfig(per_minute=None))
    base_url, stop = start_in_thread(sim)
    sim.config.api_domain = base_url
    try:
        yield base_url
    finally:
        stop()
        sim.close()


@dataclass
class Rig:
    crm: CountingCrm
    store: FlakyStore
    repo: Repository
    audit: list[AuditEvent]
    sleeps: list[float]
    account_id: str
    account: Mapping[str, Any]
    aid: str = field(default_factory=lambda: f"appr-{uuid4().hex[:10]}")
    """This test's approval id (the simulator's org is shared by the module's tests)."""

    def gate(self) -> ApprovalGate:
        return ApprovalGate(
            self.store,
            audit=self.audit.append,
            sleep=self.sleeps.append,
        )

    def publish(self, request: WriteRequest) -> WriteApproval:
        approval_id = self.aid
        approval = WriteApproval(
            approval_id=approval_id,
            token=f"token-of-{approval_id}",
            account_id=self.account_id,
            owner_email="ae@demo.sergas.test",
            action_type="add_note",
            decided_by="ana",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        self.store.inner.publish_grant(grant_for(approval, request, datetime.now(UTC)))
        return approval

    def grant(self) -> Grant:
        found = self.store.inner.get_grant(self.aid)
        assert found is not None
        return found


@pytest.fixture
async def rig(simulator: str, tmp_path: Path) -> AsyncIterator[Rig]:
    crm = CountingCrm(open_gateway(simulator))
    repo = Repository.open(tmp_path / "server.db")
    try:
        [account, *_] = await crm.inner.get_accounts()
        yield Rig(
            crm,
            FlakyStore(LocalGrantStore(repo)),
            repo,
            [],
            [],
            account.id,
            account.model_dump(),
        )
    finally:
        await crm.inner.aclose()
        repo.close()


def task_of(rig: Rig, description: str | None = "Budget for Q1") -> TaskDraft:
    return TaskDraft(
        account_id=rig.account_id,
        subject="Call the CFO",
        due_date=date(2026, 11, 9),
        priority="High",
        description=description,
    )


def note_of(rig: Rig, content: str = "Renewal discussed.") -> NoteDraft:
    return NoteDraft(parent_id=rig.account_id, content=content, title="Call")


def update_of(rig: Rig) -> AccountUpdate:
    rating = "Cold" if rig.account.get("rating") == "Hot" else "Hot"
    return AccountUpdate(rig.account_id, {"Rating": rating})


TOOLS = {"create_task": "zoho_create_task", "add_note": "zoho_add_note"}


def tool_of(request: WriteRequest) -> str:
    op = write_fields(request)["op"]
    return TOOLS.get(op, "zoho_update_account")


def arguments(request: WriteRequest, approval: WriteApproval, **extra: JsonValue) -> dict[str, Any]:
    fields = {k: v for k, v in write_fields(request).items() if k != "op" and v is not None}
    return fields | {"approval_id": approval.approval_id, "approval_token": approval.token} | extra


async def call(
    session: ClientSession, request: WriteRequest, approval: WriteApproval, **extra: JsonValue
) -> types.CallToolResult:
    return await session.call_tool(tool_of(request), arguments(request, approval, **extra))


def ok(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    [text] = result.content
    assert isinstance(text, types.TextContent)
    data: dict[str, Any] = json.loads(text.text)
    return data


def refusal(result: types.CallToolResult) -> dict[str, Any]:
    assert result.is_error
    assert result.meta is not None
    body: dict[str, Any] = result.meta[ERROR_META_KEY]["error"]
    return body


# --- the gate compares the whole write ---------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field_named"),
    [
        ({"owner_id": "5725767000000999001"}, "owner_id"),
        ({"deal_id": "5725767000000999002"}, "deal_id"),
        ({"contact_id": "5725767000000999003"}, "contact_id"),
        ({"due_date": "2026-11-10"}, "due_date"),
        ({"priority": "Low"}, "priority"),
        ({"description": "Budget for Q2"}, "description"),
        ({"subject": "Call the CEO"}, "subject"),
    ],
)
async def test_a_call_that_differs_in_any_field_is_refused_and_spends_nothing(
    rig: Rig, extra: dict[str, JsonValue], field_named: str
) -> None:
    request = task_of(rig)
    approval = rig.publish(request)
    before = rig.grant()
    async with connected(build_zoho_server(rig.crm, rig.gate())) as session:
        refused = await call(session, request, approval, **extra)
        assert rig.grant() == before  # not claimed, not spent
        done = await call(session, request, approval)

    body = refusal(refused)
    assert (body["code"], body["reason"]) == ("APPROVAL_REFUSED", "payload_mismatch")
    assert field_named in body["message"]
    assert approval.token not in json.dumps(body)
    assert ok(done)["record_id"]
    assert rig.crm.writes == ["create_task"]
    assert rig.grant().state == "completed"


async def test_an_argument_the_tool_does_not_know_is_refused_and_spends_nothing(
    rig: Rig,
) -> None:
    request = note_of(rig, f"Renewal.\n\n{approval_marker(rig.aid)}")
    approval = rig.publish(request)
    before = rig.grant()
    async with connected(build_zoho_server(rig.crm, rig.gate())) as session:
        refused = await call(session, request, approval, visibility="public")
        assert rig.grant() == before
        done = await call(session, request, approval)
    body = refusal(refused)
    assert body["code"] == "INVALID_ARGUMENTS"
    assert "visibility" in body["message"]
    assert ok(done)["module"] == "Notes"
    assert rig.crm.writes == ["add_note"]


async def test_a_crm_refusal_leaves_the_approval_retryable_even_when_the_store_is_busy(
    rig: Rig,
) -> None:
    request = task_of(rig)
    approval = rig.publish(request)
    rig.crm.faults.refuse = CrmValidationError(
        "Zoho refused the task.", status_code=400, code="INVALID_DATA"
    )
    rig.store.busy = 2  # releasing the claim fails twice, then works
    async with connected(build_zoho_server(rig.crm, rig.gate())) as session:
        refused = await call(session, request, approval)
        released = rig.grant()
        retried = await call(session, request, approval)

    assert refusal(refused)["code"] == "INVALID_DATA"
    assert (released.state, released.error) == ("granted", "Zoho refused the task.")
    assert len(rig.sleeps) == 2  # backoff between the tries
    assert ok(retried)["record_id"] == rig.grant().record_id
    assert rig.crm.writes == ["create_task"]  # the refused one never reached the CRM
    assert rig.grant().state == "completed"


# --- every write carries the marker ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["task", "note"])
async def test_a_write_carries_the_marker_even_when_the_approved_text_lacks_it(
    rig: Rig, kind: str
) -> None:
    request: WriteRequest = task_of(rig) if kind == "task" else note_of(rig)
    approval = rig.publish(request)  # published elsewhere: no marker in the approved text
    async with connected(build_zoho_server(rig.crm, rig.gate())) as session:
        written = ok(await call(session, request, approval))

    text = "Budget for Q1" if kind == "task" else "Renewal discussed."
    marked = executor_marker(text, rig.aid)
    assert with_marker(text, rig.aid) == marked == f"{text}\n\n[sergas:{rig.aid}]"
    found = await find_written(rig.crm.inner, request, rig.aid)
    assert found is not None
    assert found.record_id == written["record_id"]
    if kind == "task":
        [task] = [
            t
            for t in await rig.crm.inner.get_activities(rig.account_id, kinds=("task",))
            if t.id == found.record_id
        ]
        assert task.description == marked
    else:
        notes = await rig.crm.inner.get_notes(rig.account_id)
        [note] = [n for n in notes if n.id == found.record_id]
        assert note.content == marked


# --- an outcome that cannot be recorded, or is unknown -------------------------------------------


async def test_recording_a_completed_write_is_retried(rig: Rig) -> None:
    request = note_of(rig)
    approval = rig.publish(request)
    rig.store.busy = 3
    async with connected(build_zoho_server(rig.crm, rig.gate())) as session:
        written = ok(await call(session, request, approval))
    assert len(rig.sleeps) == 3
    assert (rig.grant().state, rig.grant().record_id) == ("completed", written["record_id"])


@pytest.mark.parametrize("kind", ["task", "note", "update"])
async def test_a_completion_never_recorded_makes_the_next_call_find_the_record(
    rig: Rig, kind: str
) -> None:
    makers: dict[str, Callable[[Rig], WriteRequest]] = {
        "task": task_of,
        "note": note_of,
        "update": update_of,
    }
    request = makers[kind](rig)
    approval = rig.publish(request)
    rig.store.busy = -1  # the grants database stays locked
    async with connected(build_zoho_server(rig.crm, rig.gate())) as session:
        first = ok(await call(session, request, approval))
        assert rig.grant().state == "claimed"  # not completed, not released
        rig.store.busy = 0
        again = ok(await call(session, request, approval))
        replay = refusal(await call(session, request, approval))

    assert again["record_id"] == first["record_id"]
    assert len(rig.crm.writes) == 1
    assert (rig.grant().state, rig.grant().record_id) == ("completed", first["record_id"])
    assert replay["reason"] == "already_used"
    found = [e.tool_outputs for e in rig.audit if str(e.action_type) == "action_executed"]
    assert [o["found_existing"] for o in found if isinstance(o, dict)] == [False, True]


async def test_an_unknown_outcome_keeps_the_claim_until_a_look_up_succeeds(rig: Rig) -> None:
    request = task_of(rig)
    approval = rig.publish(request)
    rig.crm.faults.lost_answer = CrmTimeoutError("Zoho did not answer in time.")
    rig.crm.faults.failed_reads = [
        CrmRateLimitedError("Too many requests.", status_code=429, code="TOO_MANY_REQUESTS")
    ]
    async with connected(build_zoho_server(rig.crm, rig.gate())) as session:
        lost = refusal(await call(session, request, approval))
        assert rig.grant().state == "claimed"
        failed_look_up = refusal(await call(session, request, approval))
        assert rig.grant().state == "claimed"  # a failed look-up never frees the grant
        found = ok(await call(session, request, approval))

    assert lost["type"] == "CrmTimeoutError"
    assert failed_look_up["type"] == "CrmRateLimitedError"
    assert rig.crm.writes == ["create_task"]
    assert (rig.grant().state, rig.grant().record_id) == ("completed", found["record_id"])


async def test_a_claim_held_by_a_running_call_is_not_taken_over(rig: Rig) -> None:
    request = task_of(rig, f"Budget.\n\n{approval_marker(rig.aid)}")
    approval = rig.publish(request)
    gate = rig.gate()
    claimed, reconcile = gate.claim(rig.aid, approval.token, request, tool="zoho_create_task")
    assert not reconcile
    async with connected(build_zoho_server(rig.crm, gate)) as session:
        busy = refusal(await call(session, request, approval))
        gate.abandon(claimed, "test", tool="zoho_create_task")  # that call ends, unanswered
        done = ok(await call(session, request, approval))
    assert busy["reason"] == "already_used"
    assert "being written" in busy["message"]
    assert rig.crm.writes == ["create_task"]
    assert rig.grant().record_id == done["record_id"]


@pytest.mark.parametrize(
    ("op", "values"),
    [
        ("create_task", {"account_id": "1", "subject": "s"}),
        ("add_note", {"parent_id": "1", "content": "c"}),
        ("update_account", {"account_id": "1", "changes": {"Rating": "Hot"}}),
    ],
)
def test_write_tools_compare_every_argument_of_their_write(
    op: str, values: dict[str, JsonValue]
) -> None:
    """Every write tool argument but the approval's is part of the write the gate compares."""
    model = t.TOOLS_BY_NAME[TOOLS.get(op, "zoho_update_account")].args
    assert issubclass(model, t.WriteArgs)
    request = t.write_request(op, model.model_validate(values))
    assert set(write_fields(request)) - {"op"} == set(model.model_fields) - t.APPROVAL_FIELDS
