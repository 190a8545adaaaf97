"""Team mode in the app: the queue a worker's review published, decided from the keyboard, and
a decision another device made first refused with that person named."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sergas_tui.app import make_app
from sergas_tui.approvals.service import ApprovalService
from sergas_tui.clock import FixedClock
from sergas_tui.config import Settings
from sergas_tui.domain import ApprovalStatus
from sergas_tui.screens.approvals import ApprovalsScreen
from sergas_tui.services import Services
from tests.conftest import FIXED_NOW
from tests.fakes.notify_kit import team_device
from tests.tui.waiting import settle, until

pytestmark = pytest.mark.postgres


def _device(root: Path, name: str, dsn: str) -> tuple[Settings, Services]:
    """A team device on a demo org of 3 owners (one a manager), writes at once on approval."""
    services = team_device(
        root,
        name,
        dsn,
        now=FIXED_NOW,
        clock=FixedClock(FIXED_NOW),
        accounts=60,
        owners=3,
        overrides={"ui": {"execute_delay_seconds": 0}},
    )
    return services.settings, services


@pytest.fixture
def team(tmp_path: Path, central_dsn: str) -> Iterator[tuple[Settings, Services, Services]]:
    """The AE's laptop (nothing reviewed there) and a worker that reviewed the AE's accounts."""
    settings, laptop = _device(tmp_path / "laptop", "laptop", central_dsn)
    _, worker = _device(tmp_path / "worker", "worker-1", central_dsn)

    async def review() -> None:
        orchestrator = await worker.orchestrator()
        async for _event in orchestrator.review(worker.current_user_email()):
            pass
        await worker.aclose()

    asyncio.run(review())
    yield settings, laptop, worker
    laptop.close()
    worker.close()


async def test_the_app_shows_a_workers_queue_and_a_decision_made_elsewhere_is_refused(
    team: tuple[Settings, Services, Services],
) -> None:
    settings, laptop, worker = team
    owner = laptop.current_user_email()
    published = {a.id: a for a in worker.store.pending_approvals(owner)}
    assert published
    app = make_app(settings, laptop)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, ApprovalsScreen)
                and {i.id for i in app.screen.shown} == set(published)
            ),
            "the worker's approvals in the laptop's queue",
        )
        screen = app.screen
        assert isinstance(screen, ApprovalsScreen)
        # names, not ids: the laptop never reviewed these accounts
        first = screen.shown[0]
        assert first.account_name
        assert first.account_name != first.approval.account_id
        assert first.account_name[:12] in str(screen.table.get_row(first.id))  # may be cut

        # Another device (the AE's phone, say) approves the first item meanwhile.
        phone = ApprovalService(worker.store, clock=worker.clock, team=worker.team_records())
        await phone.pending(owner)
        await phone.approve(first.id, actor="jordan.avery@phone")

        screen.table.move_cursor(row=0)
        await pilot.press("a")
        await until(
            pilot,
            lambda: any(n.title == "Already decided" for n in app._notifications),
            "the refusal",
        )
        refusal = next(n for n in app._notifications if n.title == "Already decided")
        assert "approved by jordan.avery@phone on worker-1" in str(refusal.message)
        stored = laptop.store.get_approval(first.id)
        assert stored is not None
        assert stored.decided_by == "jordan.avery@phone"  # the phone's decision, not a second one

        # A decision the laptop makes first is its own, in the team's records too.
        second = next(i for i in screen.shown if i.id != first.id and i.decidable)
        screen.table.move_cursor(row=screen.shown.index(second))
        await pilot.press("a")
        await until(
            pilot,
            lambda: (
                (s := laptop.store.get_approval(second.id)) is not None
                and s.status == ApprovalStatus.EXECUTED
            ),
            "the laptop's approval written",
        )
    with psycopg.connect(str(settings.central.dsn)) as conn:
        row = conn.execute(
            "SELECT status, decided_on FROM team_approvals WHERE approval_id = %s", (second.id,)
        ).fetchone()
    assert row == ("executed", "laptop")


async def _import_roles(services: Services, os_user: str | None, who: str) -> str:
    """Roles from the demo CRM's users; ``os_user`` signs in as the ``who`` person ('ae': an
    AE other than the demo's local user). Returns that person's e-mail."""
    from dataclasses import replace

    from sergas_tui.crm.people import PeopleDirectory

    backend = await services.crm_gateway()
    inner = getattr(backend, "inner", backend)
    assert isinstance(inner, PeopleDirectory)
    people = await inner.org_people()
    local = services.current_user_email()
    target = next(p for p in people if p.role == who and p.email != local)
    if os_user is not None:
        people = [replace(p, os_users=(os_user,)) if p is target else p for p in people]
    store = services.people()
    assert store is not None
    store.save(people, source="crm", updated_by="test")
    return target.email


async def test_the_queue_is_the_identified_persons_and_an_unknown_account_sees_nothing(
    tmp_path: Path, central_dsn: str
) -> None:
    from sergas_tui.services import os_account

    settings, laptop = _device(tmp_path / "laptop", "laptop", central_dsn)
    _, worker = _device(tmp_path / "worker", "worker-1", central_dsn)
    try:
        orchestrator = await worker.orchestrator()
        async for _event in orchestrator.review(None):  # every owner
            pass
        someone = await _import_roles(worker, os_account(), "ae")
        local = laptop.current_user_email()
        theirs = {a.id for a in worker.store.pending_approvals(someone)}
        assert theirs
        app = make_app(settings, laptop)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("3")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, ApprovalsScreen)
                    and {i.id for i in app.screen.shown} == theirs
                ),
                "the identified person's queue",
            )
            screen = app.screen
            assert isinstance(screen, ApprovalsScreen)
            assert all(i.approval.owner_email == someone for i in screen.shown)
            assert not any(i.approval.owner_email == local for i in screen.shown)
            await pilot.press("a")
            first = screen.shown[0].id
            await until(
                pilot,
                lambda: (
                    (s := laptop.store.get_approval(first)) is not None and s.decided_by == someone
                ),
                "a decision recorded under the identified person",
            )
            await pilot.press("t")  # an AE has no team view
            await until(
                pilot,
                lambda: any(n.title == "No team view" for n in app._notifications),
                "the AE told there is no team view",
            )
        # A new import maps no OS account (the CRM knows none): this one is now nobody's, so
        # the app says whom to ask and shows nothing.
        await _import_roles(worker, None, "ae")
        settings2, fresh = _device(tmp_path / "fresh", "laptop-2", central_dsn)
        try:
            app2 = make_app(settings2, fresh)
            async with app2.run_test(size=(120, 40)) as pilot:
                await settle(pilot)
                await pilot.press("3")
                await until(
                    pilot,
                    lambda: any(n.title == "Who are you?" for n in app2._notifications),
                    "the unmapped account told",
                )
                message = next(n for n in app2._notifications if n.title == "Who are you?")
                assert f"--os-user {os_account()}" in str(message.message)
                screen2 = app2.screen
                assert isinstance(screen2, ApprovalsScreen)
                assert screen2.table.row_count == 0
        finally:
            fresh.close()
    finally:
        await laptop.aclose()
        await worker.aclose()
        laptop.close()
        worker.close()


async def test_a_manager_sees_their_teams_queues_and_decides_for_a_report(
    tmp_path: Path, central_dsn: str
) -> None:
    from sergas_tui.services import os_account

    settings, laptop = _device(tmp_path / "laptop", "laptop", central_dsn)
    _, worker = _device(tmp_path / "worker", "worker-1", central_dsn)
    try:
        orchestrator = await worker.orchestrator()
        async for _event in orchestrator.review(None):  # every owner
            pass
        manager = await _import_roles(worker, os_account(), "manager")
        people = worker.people()
        assert people is not None
        team = {p.email for p in people.all() if p.manager_email == manager}
        assert team
        theirs = {a.id for o in team for a in worker.store.pending_approvals(o)}
        own = {a.id for a in worker.store.pending_approvals(manager)}
        app = make_app(settings, laptop)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("3")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, ApprovalsScreen)
                    and {i.id for i in app.screen.shown} == own
                ),
                "the manager's own queue first",
            )
            await pilot.press("t")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, ApprovalsScreen)
                    and {i.id for i in app.screen.shown} == own | theirs
                ),
                "the team's queues",
            )
            screen = app.screen
            assert isinstance(screen, ApprovalsScreen)
            status = str(screen.query_one("#approvals-status").render())
            assert f"waiting for your team of {len(team)}" in status
            report = next(i for i in screen.shown if i.approval.owner_email in team)
            assert report.owner_label.endswith(f"<{report.approval.owner_email}>")
            screen.table.move_cursor(row=screen.shown.index(report))
            await settle(pilot)
            preview = str(screen.query_one("#write-preview-body").render())
            assert f"Owner: {report.owner_label}" in preview
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("enter")  # the reject dialog: no reason
            await until(
                pilot,
                lambda: (
                    (s := laptop.store.get_approval(report.id)) is not None
                    and s.status == ApprovalStatus.REJECTED
                ),
                "the report's item rejected",
            )
            stored = laptop.store.get_approval(report.id)
            assert stored is not None
            assert stored.decided_by == manager
    finally:
        await laptop.aclose()
        await worker.aclose()
        laptop.close()
        worker.close()
