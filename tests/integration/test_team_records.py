"""Team mode on the real PostgreSQL: one approval queue per AE across devices.

Two "laptops" (two data directories, each with its own copy of the same demo org, as two
devices of one Zoho org) share one central database in a fresh schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from sergas_tui.agents.events import AgentText, RunFinished
from sergas_tui.approvals.errors import ApprovalError
from sergas_tui.approvals.executor import Executor
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.approvals.team import DecidedElsewhereError, TeamUnavailableError
from sergas_tui.clock import FixedClock
from sergas_tui.domain import ApprovalStatus
from sergas_tui.services import Services
from tests.fakes.notify_kit import team_device

from .simkit import NOW

pytestmark = pytest.mark.postgres


def _device(root: Path, name: str, dsn: str) -> Services:
    return team_device(root, name, dsn, now=NOW, clock=FixedClock(NOW))


@pytest.fixture
async def laptops(tmp_path: Path, central_dsn: str) -> AsyncIterator[tuple[Services, Services]]:
    a = _device(tmp_path / "a", "laptop-a", central_dsn)
    b = _device(tmp_path / "b", "laptop-b", central_dsn)
    try:
        yield a, b
    finally:
        for services in (a, b):
            await services.aclose()
            services.close()


def _service(services: Services) -> ApprovalService:
    return ApprovalService(
        services.store,
        clock=services.clock,
        grants=services.grant_publisher(),
        team=services.team_records(),
    )


async def _executor(services: Services) -> Executor:
    return Executor(
        services.store,
        await services.crm_gateway(),
        clock=services.clock,
        grants=services.grant_publisher(),
        team=services.team_records(),
    )


async def _review(services: Services, owner: str) -> list[object]:
    orchestrator = await services.orchestrator()
    return [event async for event in orchestrator.review(owner)]


def _central_rows(dsn: str) -> list[tuple[str, str, str | None, str]]:
    with psycopg.connect(dsn) as conn:
        return [
            (r[0], r[1], r[2], r[3])
            for r in conn.execute(
                "SELECT approval_id, status, account_name, published_by FROM team_approvals"
            )
        ]


async def test_a_review_publishes_its_queue_and_another_device_shows_it_by_name(
    laptops: tuple[Services, Services], central_dsn: str
) -> None:
    a, b = laptops
    owner = a.current_user_email()
    assert owner
    events = await _review(a, owner)
    assert isinstance(events[-1], RunFinished)
    local = {x.id: x for x in a.store.pending_approvals(owner)}
    assert local, "the demo review lands approvals"
    rows = _central_rows(central_dsn)
    assert {r[0] for r in rows} == set(local)
    assert all(r[1] == "pending" and r[2] and r[3] == "laptop-a" for r in rows)

    seen = await _service(b).pending(owner)
    assert {x.id for x in seen} == set(local)
    for approval in seen:
        # laptop-b never reviewed: the names come with the approvals
        snapshot = b.store.latest_snapshot(approval.account_id)
        assert snapshot is not None
        assert snapshot.data["Account_Name"] == dict(rows_by_id(rows))[approval.id]
        assert b.store.get_recommendation(approval.recommendation_id) is not None
        assert approval.token != local[approval.id].token  # tokens never travel


def rows_by_id(rows: list[tuple[str, str, str | None, str]]) -> list[tuple[str, str | None]]:
    return [(r[0], r[2]) for r in rows]


async def test_a_second_device_is_refused_with_the_first_decider_named(
    laptops: tuple[Services, Services],
) -> None:
    a, b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    on_b = _service(b)
    first, second = (await on_b.pending(owner))[:2]
    await on_b.approve(first.id, actor="dana.lee@demo.sergas.test")
    await on_b.reject(second.id, actor="dana.lee@demo.sergas.test", reason="not now")

    on_a = _service(a)  # laptop-a has not refreshed: it still shows both as pending
    with pytest.raises(DecidedElsewhereError) as refused:
        await on_a.approve(first.id, actor="alex.kim@demo.sergas.test")
    message = refused.value.message
    assert "approved by dana.lee@demo.sergas.test on laptop-b" in message
    assert "nothing was recorded here" in message
    with pytest.raises(DecidedElsewhereError, match=r"rejected by dana\.lee"):
        await on_a.adjust(second.id, second.payload.model_dump(), actor="alex.kim@demo.sergas.test")

    # laptop-a now shows laptop-b's decisions, each audited as taken from the team
    mirrored = a.store.get_approval(first.id)
    assert mirrored is not None
    assert mirrored.status == "approved"
    assert mirrored.decided_by == "dana.lee@demo.sergas.test"
    rows = [e for e in a.store.audit_events(limit=500) if e.action_type == "approval_mirrored"]
    assert {e.tool_inputs["approval_id"] for e in rows} == {first.id, second.id}  # type: ignore[index,call-overload]
    assert not any(
        e.action_type == "approval_decided"
        and e.tool_inputs.get("actor") == "alex.kim@demo.sergas.test"  # type: ignore[union-attr]
        for e in a.store.audit_events(limit=500)
    )


async def test_an_approved_item_is_written_once_whichever_devices_execute_it(
    laptops: tuple[Services, Services], central_dsn: str
) -> None:
    a, b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    on_b = _service(b)
    target = (await on_b.pending(owner))[0]
    await on_b.approve(target.id, actor="dana.lee@demo.sergas.test")
    await _service(a).pending(owner)  # laptop-a refreshes: approved there too
    approved = a.store.get_approval(target.id)
    assert approved is not None
    assert approved.status == "approved"

    results = await asyncio.gather(
        (await _executor(a)).execute(target.id), (await _executor(b)).execute(target.id)
    )
    assert sorted(r.status for r in results) == ["executed", "skipped"], [r.error for r in results]
    assert sum(1 for r in results if r.wrote) == 1
    skipped = next(r for r in results if r.status == "skipped")
    assert skipped.error is not None
    # laptop-a is told laptop-b decided it (and writes it), or that laptop-b is writing it,
    # depending on which of the two got to the central row first
    assert skipped.error.endswith(("on laptop-b", "; that device writes it")), skipped.error
    assert "laptop-b" in skipped.error
    assert results[1].status == "executed"  # the deciding device holds the decision's token
    with psycopg.connect(central_dsn) as conn:
        row = conn.execute(
            "SELECT status, revision FROM team_approvals WHERE approval_id = %s", (target.id,)
        ).fetchone()
    assert row is not None
    assert row[0] == "executed"
    await _service(a).pending(owner)
    await _service(b).pending(owner)
    for services in (a, b):
        stored = services.store.get_approval(target.id)
        assert stored is not None
        assert stored.status == "executed"


async def test_undo_and_expiry_reach_the_other_device(
    laptops: tuple[Services, Services],
) -> None:
    a, b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    on_b, on_a = _service(b), _service(a)
    target = (await on_b.pending(owner))[0]
    await on_b.reject(target.id, actor="dana.lee@demo.sergas.test")
    await on_a.pending(owner)
    rejected = a.store.get_approval(target.id)
    assert rejected is not None
    assert rejected.status == "rejected"
    await on_a.undo(target.id, actor="alex.kim@demo.sergas.test")
    assert target.id in {x.id for x in await on_b.pending(owner)}

    later = target.expiry
    assert await on_a.expire_due(later) >= 1
    await on_b.pull(owner)
    expired = b.store.get_approval(target.id)
    assert expired is not None
    assert expired.status == "expired"


async def test_with_the_central_database_down_a_decision_is_refused_and_the_review_goes_on(
    tmp_path: Path,
) -> None:
    down = "postgresql://sergas@127.0.0.1:9/none?connect_timeout=2"
    a = _device(tmp_path / "a", "laptop-a", down)
    try:
        owner = a.current_user_email()
        assert owner
        events = await _review(a, owner)
        assert isinstance(events[-1], RunFinished)
        notes = [e.text for e in events if isinstance(e, AgentText)]
        assert any("could not be read" in n for n in notes), notes
        assert any("could not be published" in n for n in notes), notes
        service = _service(a)
        pending = await service.pending(owner)
        assert pending, "the local queue is shown"
        assert service.team_error is not None
        with pytest.raises(TeamUnavailableError, match="nothing was recorded") as refused:
            await service.approve(pending[0].id, actor="alex.kim@demo.sergas.test")
        assert isinstance(refused.value, ApprovalError)
        still = a.store.get_approval(pending[0].id)
        assert still is not None
        assert still.status == "pending"
    finally:
        await a.aclose()
        a.close()


TEAM_UPDATE_COLUMNS = (
    "status, approval, decided_by, decided_at, decided_on, revision, updated_by, updated_at"
)
"""The columns of ``team_approvals`` the workstations' role may update (docs/operations.md)."""


async def test_the_least_privilege_role_runs_team_mode_but_cannot_rewrite_history(
    tmp_path: Path, postgres_dsn: str, central_dsn: str
) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from sergas_tui.audit.central.conn import CentralTarget, connect
    from sergas_tui.audit.central.schema import migrate_central

    with connect(CentralTarget(central_dsn), autocommit=False) as conn:  # the owner migrates
        migrate_central(conn)
    schema = str(conninfo_to_dict(central_dsn)["options"]).split("=")[-1]
    role = f"sergas_sync_{uuid4().hex[:10]}"
    database = conninfo_to_dict(postgres_dsn).get("dbname", "test")
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}")
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        conn.execute(f"GRANT UPDATE ({TEAM_UPDATE_COLUMNS}) ON team_approvals TO {role}")
        conn.execute(f"GRANT UPDATE ON approval_grants TO {role}")
    try:
        dsn = make_conninfo(central_dsn, user=role)
        a = _device(tmp_path / "a", "laptop-a", dsn)
        b = _device(tmp_path / "b", "laptop-b", dsn)
        try:
            owner = a.current_user_email()
            assert owner
            await _review(a, owner)
            on_b = _service(b)
            target = (await on_b.pending(owner))[0]
            await on_b.approve(target.id, actor="dana.lee@demo.sergas.test")
            result = await (await _executor(b)).execute(target.id)
            assert result.status == "executed"
        finally:
            for services in (a, b):
                await services.aclose()
                services.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM team_approvals")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("UPDATE team_approvals SET published_by = 'forged'")
    finally:
        with psycopg.connect(central_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


async def test_a_pull_in_the_middle_of_a_decision_leaves_it_to_the_deciding_step(
    laptops: tuple[Services, Services],
) -> None:
    a, _b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    team = a.team_records()
    assert team is not None
    before = a.store.pending_approvals(owner)[0]
    after = before.model_copy(
        update={"status": ApprovalStatus.APPROVED, "decided_by": "alex@x.test"}
    )
    await asyncio.to_thread(team.decide, before, after)  # the central step of a decision
    report = await asyncio.to_thread(team.pull, owner)  # another request of this device
    assert report.moved == 0
    still = a.store.get_approval(before.id)
    assert still is not None
    assert still.status == "pending"  # the decision's own local step stores it, with its row


async def test_a_decision_this_device_could_not_store_is_withdrawn_from_the_team(
    laptops: tuple[Services, Services], central_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    target = a.store.pending_approvals(owner)[0]

    def broken(*_args: object, **_kwargs: object) -> bool:
        raise OSError("disk full")

    monkeypatch.setattr(a.store, "update_approval", broken)
    with pytest.raises(OSError, match="disk full"):
        await _service(a).approve(target.id, actor="alex@x.test")
    with psycopg.connect(central_dsn) as conn:
        row = conn.execute(
            "SELECT status, decided_by FROM team_approvals WHERE approval_id = %s", (target.id,)
        ).fetchone()
    assert row == ("pending", None)


async def test_a_write_another_device_claimed_is_not_reconciled_here(
    laptops: tuple[Services, Services],
) -> None:
    a, b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    target = (await _service(b).pending(owner))[0]
    await _service(b).approve(target.id, actor="dana.lee@demo.sergas.test")
    team_b = b.team_records()
    assert team_b is not None
    approved = b.store.get_approval(target.id)
    assert approved is not None
    executing = approved.model_copy(update={"status": ApprovalStatus.EXECUTING})
    assert await asyncio.to_thread(team_b.claim, approved, executing) is None  # b is writing
    await _service(a).pending(owner)  # laptop-a sees b's write in flight
    seen = a.store.get_approval(target.id)
    assert seen is not None
    assert seen.status == "executing"
    assert await (await _executor(a)).reconcile() == []  # not a's to finish


async def test_a_row_committed_late_is_still_pulled(
    laptops: tuple[Services, Services], central_dsn: str
) -> None:
    """A row's updated_at is taken before its transaction commits: a move committed after
    another device's pull may carry an older time than that pull's mark."""
    a, b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    await _service(b).pending(owner)  # b's mark: the newest row it saw
    late = a.store.pending_approvals(owner)[0]
    with psycopg.connect(central_dsn) as conn:
        conn.execute(
            "UPDATE team_approvals SET status = 'rejected', decided_by = 'x@y.test', "
            "approval = jsonb_set(jsonb_set(approval, '{status}', '\"rejected\"'), "
            "'{decided_by}', '\"x@y.test\"'), updated_by = 'laptop-a', "
            "updated_at = (SELECT max(updated_at) FROM team_approvals) - interval '2 minutes' "
            "WHERE approval_id = %s",
            (late.id,),
        )
    await _service(b).pending(owner)
    taken = b.store.get_approval(late.id)
    assert taken is not None
    assert taken.status == "rejected"
    assert taken.decided_by == "x@y.test"


async def test_an_owners_items_are_found_whatever_the_case_of_the_email(
    laptops: tuple[Services, Services],
) -> None:
    """Team roles keep e-mails in lower case; the CRM keeps them as typed."""
    a, b = laptops
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    mine = {x.id for x in a.store.pending_approvals(owner)}
    assert {x.id for x in a.store.pending_approvals(owner.upper())} == mine
    assert {x.id for x in await _service(b).pending(owner.upper())} == mine


async def test_an_item_landed_on_another_device_leaves_the_more_queue_here(
    laptops: tuple[Services, Services],
) -> None:
    """Both devices reviewed the owner; laptop-b pulls one of its "more" items into the queue:
    on laptop-a the same recommendation is no longer queued, so a's queue filling cannot land
    it a second time."""
    a, b = laptops
    for services in laptops:
        services.settings.review.daily_budget = 2  # so that some wait as "more"
    owner = a.current_user_email()
    assert owner
    await _review(a, owner)
    await _review(b, owner)
    queued_a = {r.id for r in a.store.queued_recommendations(owner)}
    queued_b = b.store.queued_recommendations(owner)
    assert queued_a, "a queued none"
    assert queued_b, "b queued none"
    shared = next(r for r in queued_b if r.id in queued_a)
    from sergas_tui.viewmodels.more import pull

    landed = await asyncio.to_thread(pull, b, shared.id, "dana.lee@demo.sergas.test")
    await _service(a).pending(owner)
    assert a.store.get_approval(landed.id) is not None
    assert shared.id not in {r.id for r in a.store.queued_recommendations(owner)}
