"""The executor against the real REST gateway and the in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio
from pydantic import JsonValue, SecretStr

from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.write_plan import marker, plan_writes
from sergas_tui.config import ZohoSettings
from sergas_tui.crm.oauth import ZohoCredentials
from sergas_tui.crm.rest.gateway import ZohoRestGateway
from sergas_tui.crm.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FaultPlan,
    Simulator,
    SimulatorConfig,
    create_simulator,
)
from sergas_tui.crm.writer import NoteDraft, TaskDraft
from sergas_tui.demo import generate
from sergas_tui.domain import Approval, ApprovalStatus, AuditAction
from sergas_tui.storage import Repository
from tests.fakes.write_approval import TEST_APPROVAL
from tests.integration.simkit import NOW, copy_org

CREDENTIALS = ZohoCredentials(
    client_id=DEMO_CLIENT_ID,
    client_secret=SecretStr(DEMO_CLIENT_SECRET),
    refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
)
OWNER = "ae@demo.sergas.test"


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class World:
    sim: Simulator
    gateway: ZohoRestGateway
    repo: Repository
    executor: Executor
    account_id: str

    def approve(
        self, action_type: str, payload: dict[str, Any], *, status: str = "approved"
    ) -> Approval:
        approval = Approval.model_validate(
            {
                "recommendation_id": f"rec-{action_type}",
                "account_id": self.account_id,
                "owner_email": OWNER,
                "action_type": action_type,
                "payload": payload,
                "status": status,
                "created_at": datetime.now(UTC) - timedelta(minutes=5),
                "decided_by": OWNER,
                "decided_at": datetime.now(UTC),
            }
        )
        self.repo.add_approval(approval)
        return approval

    async def tasks_with(self, approval_id: str) -> list[str]:
        tasks = await self.gateway.get_activities(self.account_id, kinds=("task",))
        return [t.id for t in tasks if marker(approval_id) in (t.description or "")]

    async def notes_with(self, approval_id: str) -> list[str]:
        notes = await self.gateway.get_notes(self.account_id)
        return [n.id for n in notes if marker(approval_id) in (n.content or "")]

    def status(self, approval_id: str) -> ApprovalStatus:
        stored = self.repo.get_approval(approval_id)
        assert stored is not None
        return stored.status

    def force_executing(self, approval: Approval) -> None:
        """What a crash leaves behind: the write-ahead stored, nothing after it."""
        executing = approval.model_copy(update={"status": ApprovalStatus.EXECUTING})
        assert self.repo.update_approval(executing, expected_status=approval.status)


@pytest.fixture(scope="module")
def source_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("executor") / "org.sqlite"
    generate(path, accounts=20, owners=2, seed=5, now=NOW)
    return path


@pytest_asyncio.fixture
async def world(source_org: Path, tmp_path: Path) -> AsyncIterator[World]:
    org = copy_org(source_org, tmp_path)
    sim = create_simulator(org, SimulatorConfig(api_domain="http://sim.invalid"))
    settings = ZohoSettings(
        accounts_url="http://sim.invalid", retry_max_attempts=1, retry_initial_delay_ms=0
    )
    gateway = ZohoRestGateway(settings, CREDENTIALS, transport=httpx.ASGITransport(app=sim.app))
    repo = Repository.open(tmp_path / "workspace.sqlite")
    account_id = (await gateway.get_accounts())[0].id
    executor = Executor(repo, gateway, clock=WallClock())
    try:
        yield World(sim, gateway, repo, executor, account_id)
    finally:
        await gateway.aclose()
        repo.close()
        sim.close()


TASK_PAYLOADS: list[tuple[str, dict[str, Any], str]] = [
    ("create_task", {"subject": "Call the CFO", "priority": "High"}, "Call the CFO"),
    (
        "follow_up_email",
        {"subject": "Renewal", "draft_body": "Hi Ann,\nshall we talk?", "recipient": "a@x.test"},
        "Send email: Renewal",
    ),
    (
        "escalation",
        {"escalate_to": "vp@sergas.test", "reason": "Churn risk"},
        "Escalation: Churn risk",
    ),
    (  # the rules author's reasons run to paragraphs: the subject takes the first line, cut
        "escalation",
        {"escalate_to": "vp@sergas.test", "reason": "Renewal at risk: " + "detail " * 80},
        ("Escalation: Renewal at risk: " + "detail " * 80)[:119].rstrip() + "…",
    ),
]


@pytest.mark.parametrize(("kind", "payload", "subject"), TASK_PAYLOADS)
async def test_task_like_actions_write_one_marked_task(
    world: World, kind: str, payload: dict[str, Any], subject: str
) -> None:
    approval = world.approve(kind, payload)
    result = await world.executor.execute(approval.id)
    assert result.status == "executed"
    assert result.wrote
    found = await world.tasks_with(approval.id)
    assert found == [result.record_id]
    tasks = await world.gateway.get_activities(world.account_id, kinds=("task",))
    task = next(t for t in tasks if t.id == result.record_id)
    assert task.subject == subject
    stored = world.repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.EXECUTED
    assert stored.result_record_id == result.record_id
    assert stored.executed_at is not None
    events = [e for e in world.repo.audit_events() if e.action_type == AuditAction.ACTION_EXECUTED]
    assert [e.tool_name for e in events] == ["create_task"]
    outcomes = world.repo.outcomes_for(world.account_id)
    assert [(o.status, o.executed_at is not None) for o in outcomes] == [("completed", True)]

    again = await world.executor.execute(approval.id)
    assert again.status == "already_executed"
    assert not again.wrote
    assert await world.tasks_with(approval.id) == found


async def test_follow_up_email_description_carries_the_mail(world: World) -> None:
    approval = world.approve("follow_up_email", TASK_PAYLOADS[1][1])
    result = await world.executor.execute(approval.id)
    tasks = await world.gateway.get_activities(world.account_id, kinds=("task",))
    description = next(t.description for t in tasks if t.id == result.record_id) or ""
    assert "a@x.test" in description
    assert "Renewal" in description
    assert "shall we talk?" in description
    assert description.endswith(marker(approval.id))


async def test_add_note_writes_one_marked_note(world: World) -> None:
    approval = world.approve("add_note", {"title": "Recap", "content": "Agreed next steps."})
    result = await world.executor.execute(approval.id)
    assert result.status == "executed"
    assert await world.notes_with(approval.id) == [result.record_id]
    assert (await world.executor.execute(approval.id)).status == "already_executed"
    assert len(await world.notes_with(approval.id)) == 1


async def test_update_account_and_second_run_is_a_no_op(world: World) -> None:
    before = await world.gateway.get_account_details(world.account_id)
    assert before is not None
    target = "Shut Down" if before.rating != "Shut Down" else "Active"
    approval = world.approve(
        "update_account",
        {"field_changes": [{"field": "Rating", "old": before.rating, "new": target}]},
    )
    result = await world.executor.execute(approval.id)
    assert result.status == "executed"
    after = await world.gateway.get_account_details(world.account_id)
    assert after is not None
    assert after.rating == target
    assert (await world.executor.execute(approval.id)).status == "already_executed"
    assert world.status(approval.id) == ApprovalStatus.EXECUTED


async def test_a_value_the_orgs_picklist_lacks_is_refused_before_zoho(world: World) -> None:
    before = await world.gateway.get_account_details(world.account_id)
    assert before is not None
    # An owner adjusted the approved value to one the org's Rating picklist does not have.
    approval = world.approve(
        "update_account",
        {"field_changes": [{"field": "Rating", "old": before.rating, "new": "Hot"}]},
        status="adjusted",
    )
    world.sim.reset_counters()
    result = await world.executor.execute(approval.id)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(
        "Value not in the org's CRM: Not sent to Zoho: 'Hot' is not a value of the org's "
        "Accounts Rating picklist (Acquired, Active, "
    )
    writes = [kind for kind in world.sim.counters.calls if kind.startswith(("PUT", "POST"))]
    assert writes == []  # nothing reached Zoho
    stored = world.repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.FAILED
    assert stored.error_message == result.error
    after = await world.gateway.get_account_details(world.account_id)
    assert after is not None
    assert after.rating == before.rating
    # Retried as it stands, it is refused again (the metadata comes from the cache now).
    calls = world.sim.counters.calls["GET settings/fields"]
    assert (await world.executor.execute(approval.id)).status == "failed"
    assert world.sim.counters.calls["GET settings/fields"] == calls


async def test_conflict_412_leaves_the_account_unchanged(world: World) -> None:
    before = await world.gateway.get_account_details(world.account_id)
    assert before is not None
    approval = world.approve(
        "update_account",
        {"field_changes": [{"field": "Rating", "old": before.rating, "new": "Shut Down"}]},
    )
    # Someone changes the record after the values were read.
    await world.gateway.update_account(world.account_id, {"Rating": "Hot"}, approval=TEST_APPROVAL)
    result = await world.executor.execute(approval.id)
    assert result.status == "conflict"
    stored = world.repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.CONFLICT
    assert stored.details is not None
    assert stored.details["current"] == {"Rating": "Hot"}
    after = await world.gateway.get_account_details(world.account_id)
    assert after is not None
    assert after.rating == "Hot"


async def test_transient_500s_are_retried_and_written_once(world: World) -> None:
    approval = world.approve("create_task", {"subject": "Retry me"})
    world.sim.faults = FaultPlan(schedule={1: "server_error", 2: "server_error"})
    result = await world.executor.execute(approval.id)
    assert result.status == "executed"
    assert result.attempts == 2
    assert world.sim.counters.faults["server_error"] == 2
    assert await world.tasks_with(approval.id) == [result.record_id]


async def test_used_up_credits_fail_at_once_and_say_so(world: World) -> None:
    approval = world.approve("add_note", {"title": "T", "content": "When credits are back."})
    world.sim.config.daily_credits = 1  # already spent: every call now answers 429 (credits)
    result = await world.executor.execute(approval.id)
    assert result.status == "failed"
    assert result.attempts == 1  # no attempt again at once: the answer would be the same
    stored = world.repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.FAILED
    assert stored.error_message is not None
    assert "credits for the last 24 hours are used up" in stored.error_message
    world.sim.config.daily_credits = None
    retried = await world.executor.execute(approval.id)
    assert retried.status == "executed"
    assert len(await world.notes_with(approval.id)) == 1


async def test_persistent_errors_fail_then_a_retry_writes_once(world: World) -> None:
    approval = world.approve("add_note", {"title": "T", "content": "Later."})
    world.sim.faults = FaultPlan(schedule=dict.fromkeys(range(1, 60), "server_error"))
    result = await world.executor.execute(approval.id)
    assert result.status == "failed"
    assert result.attempts == 3
    stored = world.repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.FAILED
    assert stored.error_message
    world.sim.faults = FaultPlan()
    assert await world.notes_with(approval.id) == []
    retried = await world.executor.execute(approval.id)
    assert retried.status == "executed"
    assert len(await world.notes_with(approval.id)) == 1


async def test_reconcile_after_the_write_landed_does_not_write_again(world: World) -> None:
    task = world.approve("create_task", {"subject": "Landed task"})
    note = world.approve("add_note", {"title": "Landed", "content": "Already there."})
    landed_task = await world.gateway.create_task(
        TaskDraft(
            account_id=world.account_id,
            subject="Landed task",
            description=f"x\n\n{marker(task.id)}",
        ),
        approval=TEST_APPROVAL,
    )
    landed_note = await world.gateway.add_note(
        NoteDraft(parent_id=world.account_id, content=f"Already there.\n\n{marker(note.id)}"),
        approval=TEST_APPROVAL,
    )
    world.force_executing(task)
    world.force_executing(note)
    results = {r.approval_id: r for r in await world.executor.reconcile()}
    assert results[task.id].status == "already_executed"
    assert results[task.id].record_id == landed_task.record_id
    assert results[note.id].record_id == landed_note.record_id
    assert not any(r.wrote for r in results.values())
    assert await world.tasks_with(task.id) == [landed_task.record_id]
    assert await world.notes_with(note.id) == [landed_note.record_id]
    assert world.status(task.id) == ApprovalStatus.EXECUTED


async def test_reconcile_before_the_write_writes_exactly_once(world: World) -> None:
    task = world.approve("escalation", {"escalate_to": "vp@x.test", "reason": "Stalled"})
    note = world.approve("add_note", {"title": "N", "content": "Not yet written."})
    world.force_executing(task)
    world.force_executing(note)
    results = await world.executor.reconcile()
    assert sorted(r.status for r in results) == ["executed", "executed"]
    assert len(await world.tasks_with(task.id)) == 1
    assert len(await world.notes_with(note.id)) == 1
    assert await world.executor.reconcile() == []
    assert len(await world.tasks_with(task.id)) == 1


async def test_reconcile_of_a_landed_account_update(world: World) -> None:
    approval = world.approve(
        "update_account", {"field_changes": [{"field": "Rating", "new": "Project Cancelled"}]}
    )
    await world.gateway.update_account(
        world.account_id, {"Rating": "Project Cancelled"}, approval=TEST_APPROVAL
    )
    world.force_executing(approval)
    [result] = await world.executor.reconcile()
    assert result.status == "already_executed"
    assert world.status(approval.id) == ApprovalStatus.EXECUTED


async def test_execute_pending_and_skips(world: World) -> None:
    first = world.approve("create_task", {"subject": "One"})
    second = world.approve("add_note", {"title": "Two", "content": "Two."}, status="adjusted")
    pending = world.approve("create_task", {"subject": "Not approved"}, status="pending")
    results = await world.executor.execute_pending()
    assert {r.approval_id: r.status for r in results} == {
        first.id: "executed",
        second.id: "executed",
    }
    assert (await world.executor.execute(pending.id)).status == "skipped"
    assert await world.tasks_with(pending.id) == []
    assert await world.executor.execute_pending() == []


# --- write sets ------------------------------------------------------------------------------


def write_set(world: World) -> Approval:
    """A call task with the risk note of the same problem: one decision, two writes."""
    approval = Approval.model_validate(
        {
            "recommendation_id": "rec-set",
            "account_id": world.account_id,
            "owner_email": OWNER,
            "action_type": "create_task",
            "payload": {"subject": "Call the sponsor", "priority": "High"},
            "also": [{"type": "add_note", "action": {"title": "Risk", "content": "Gone quiet."}}],
            "status": "approved",
            "created_at": datetime.now(UTC) - timedelta(minutes=5),
            "decided_by": OWNER,
            "decided_at": datetime.now(UTC),
        }
    )
    world.repo.add_approval(approval)
    return approval


async def test_a_write_set_writes_each_record_once_and_audits_each(world: World) -> None:
    approval = write_set(world)
    assert world.repo.get_approval(approval.id) == approval  # the set round-trips

    result = await world.executor.execute(approval.id)

    assert result.status == "executed"
    assert len(await world.tasks_with(approval.id)) == 1
    assert len(await world.notes_with(f"{approval.id}/1")) == 1
    stored = world.repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.EXECUTED
    assert stored.details is not None
    writes = cast(list[dict[str, JsonValue]], stored.details["writes"])
    assert [w["module"] for w in writes] == ["Tasks", "Notes"]
    executed = [e for e in world.repo.audit_events(limit=50) if e.action_type == "action_executed"]
    assert sorted(e.tool_name or "" for e in executed) == ["add_note", "create_task"]
    again = await world.executor.execute(approval.id)
    assert again.status == "already_executed"
    assert len(await world.notes_with(f"{approval.id}/1")) == 1


async def test_a_write_set_cut_short_finishes_without_repeating_what_landed(world: World) -> None:
    approval = write_set(world)
    # A crash after the task landed and before the note: the task is in the CRM, marked.
    plans = plan_writes(approval)
    assert plans[0].task is not None
    await world.gateway.create_task(plans[0].task, approval=TEST_APPROVAL)
    world.force_executing(approval)

    [result] = await world.executor.reconcile()

    assert result.status == "executed"
    assert len(await world.tasks_with(approval.id)) == 1
    assert len(await world.notes_with(f"{approval.id}/1")) == 1
