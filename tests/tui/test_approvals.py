"""The approvals queue, driven like a user would: every decision lands in the database."""

from __future__ import annotations

import re
from typing import Any

import pytest
from textual.widgets import Input, Static, TextArea

from sergas_tui.app import SergasApp, make_app
from sergas_tui.config import Settings
from sergas_tui.domain import ApprovalStatus, AuditAction
from sergas_tui.errors import CrmError
from sergas_tui.screens.approval_modals import AdjustModal, BulkApproveModal, RejectModal
from sergas_tui.screens.approvals import ApprovalsScreen
from sergas_tui.services import Services
from tests.helpers.tui import open_queue
from tests.tui.waiting import settle

S = ApprovalStatus


def status_of(services: Services, approval_id: str) -> ApprovalStatus:
    stored = services.store.get_approval(approval_id)
    assert stored is not None
    return stored.status


def select_type(screen: ApprovalsScreen, action_type: str) -> str:
    """Put the cursor on the first row of ``action_type``; returns its approval id."""
    index = next(i for i, it in enumerate(screen.shown) if it.approval.action_type == action_type)
    screen.table.move_cursor(row=index)
    return screen.shown[index].id


async def test_lists_pending_by_priority(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        pending = reviewed.store.pending_approvals(reviewed.current_user_email())
        assert screen.table.row_count == len(pending) > 0
        ranks = [
            ("critical", "high", "medium", "low").index(i.priority or "") for i in screen.shown
        ]
        assert ranks == sorted(ranks)
        status = str(screen.query_one("#approvals-status", Static).render())
        assert f"{len(pending)} waiting for you" in status


async def test_approve_records_the_actor_then_writes(
    settings: Settings, reviewed: Services
) -> None:
    settings.ui.execute_delay_seconds = 0
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident = select_type(screen, "create_task")
        await pilot.press("a")
        await settle(pilot)
        stored = reviewed.store.get_approval(ident)
        assert stored is not None
        assert stored.decided_by == app.actor()
        assert stored.status == S.EXECUTED
        assert stored.result_record_id
        tasks = await (await reviewed.crm()).get_activities(stored.account_id, kinds=("task",))
        assert any(t.id == stored.result_record_id for t in tasks)
        assert "written" in str(screen.table.get_row(ident)[-1])


async def test_reject_with_a_reason(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident = screen.shown[0].id
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, RejectModal)
        await pilot.press(*"not now")
        await pilot.press("enter")
        await settle(pilot)
        stored = reviewed.store.get_approval(ident)
        assert stored is not None
        assert stored.status == S.REJECTED
        assert stored.decision_rationale == "not now"


async def test_reject_as_not_useful(settings: Settings, reviewed: Services) -> None:
    from textual.widgets import Checkbox

    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident = screen.shown[0].id
        await pilot.press("r")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RejectModal)
        box = modal.query_one("#reject-not-useful", Checkbox)
        await pilot.press("ctrl+n")
        assert box.value
        await pilot.press("ctrl+n", "ctrl+n")  # toggles
        assert box.value
        await pilot.press(*"seen it", "enter")
        await settle(pilot)
        stored = reviewed.store.get_approval(ident)
        assert stored is not None
        assert stored.status == S.REJECTED
        assert stored.details is not None
        assert stored.details["feedback"] == "not_useful"
        [event] = [
            e
            for e in reviewed.store.audit_events(limit=20)
            if e.action_type == AuditAction.APPROVAL_DECIDED
        ]
        assert isinstance(event.tool_inputs, dict)
        assert event.tool_inputs["feedback"] == "not_useful"
        assert event.decision_rationale == "seen it"


async def test_reject_cancelled_with_escape(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident = screen.shown[0].id
        await pilot.press("r", "escape")
        await settle(pilot)
        assert status_of(reviewed, ident) == S.PENDING


async def open_editor(pilot: Any, screen: ApprovalsScreen) -> tuple[str, AdjustModal]:
    ident = select_type(screen, "create_task")
    await pilot.press("e")
    await pilot.pause()
    modal = pilot.app.screen
    assert isinstance(modal, AdjustModal)
    return ident, modal


async def test_adjust_saves_the_edited_payload(settings: Settings, reviewed: Services) -> None:
    settings.ui.execute_delay_seconds = 300
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident, modal = await open_editor(pilot, screen)
        subject = modal.query_one("#field-0", Input)
        subject.value = ""
        await pilot.press(*"Call the CFO")
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = reviewed.store.get_approval(ident)
        assert stored is not None
        assert stored.status == S.ADJUSTED
        assert stored.payload.subject == "Call the CFO"  # type: ignore[union-attr]
        assert "Call the CFO" in str(screen.table.get_row(ident)[4])


async def test_invalid_edit_shows_the_error_and_saves_nothing(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident, modal = await open_editor(pilot, screen)
        due = modal.query_one("#field-1", Input)
        due.value = "next tuesday"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is modal, "the editor stays open"
        errors = modal.query_one("#adjust-errors", Static)
        assert errors.has_class("-shown")
        assert "due_date" in str(errors.render())
        await pilot.press("escape")
        await settle(pilot)
        assert status_of(reviewed, ident) == S.PENDING


async def test_typing_in_the_editor_never_fires_queue_keys(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        _ident, modal = await open_editor(pilot, screen)
        await pilot.press(*"a r e u A R 1 2 x")
        modal.query_one("#field-3", TextArea).focus()
        await pilot.press(*"a r e u A R")
        assert app.screen is modal
        assert app.current_mode == "approvals"
        assert modal.query_one("#field-0", Input).value.endswith("a r e u A R 1 2 x")
        await pilot.press("escape")
        await settle(pilot)
        statuses = {a.status for a in reviewed.store.approvals_with_status(list(S))}
        assert statuses == {S.PENDING}


async def test_approve_marked_counts_rows_hidden_by_the_filter(
    settings: Settings, reviewed: Services
) -> None:
    settings.ui.execute_delay_seconds = 300
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        kinds = [i.approval.action_type for i in screen.shown]
        rows = [kinds.index("escalation")]
        rows += [i for i, kind in enumerate(kinds) if kind == "create_task"][:2]
        marked = [screen.shown[row].id for row in rows]
        for row in rows:
            screen.table.move_cursor(row=row)
            await pilot.press("space")
        assert screen.marked == set(marked)
        await pilot.press("slash", *"create_task", "enter")
        await pilot.pause()
        assert {i.approval.action_type for i in screen.shown} == {"create_task"}
        assert "3 marked" in str(screen.query_one("#approvals-status", Static).render())
        await pilot.press("A")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, BulkApproveModal)
        question = str(modal.query_one("#bulk-question", Static).render())
        assert "Approve 3 marked writes" in question
        assert "1 of them hidden by the filter" in question
        await pilot.press("enter")
        await settle(pilot)
        assert [status_of(reviewed, i) for i in marked] == [S.APPROVED] * 3
        assert not screen.marked


async def test_bulk_confirmation_cancelled(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident = screen.shown[0].id
        await pilot.press("space", "A", "escape")
        await settle(pilot)
        assert status_of(reviewed, ident) == S.PENDING
        assert screen.marked == {ident}


async def test_undo_within_the_delay_writes_nothing(settings: Settings, reviewed: Services) -> None:
    settings.ui.execute_delay_seconds = 300
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident = select_type(screen, "create_task")
        await pilot.press("a")
        await settle(pilot)
        assert status_of(reviewed, ident) == S.APPROVED
        assert "u undoes" in str(screen.table.get_row(ident)[-1])
        await pilot.press("u")
        await settle(pilot)
        stored = reviewed.store.get_approval(ident)
        assert stored is not None
        assert stored.status == S.PENDING
        assert stored.decided_by is None
        assert not screen.countdowns
        executed = [
            e
            for e in reviewed.store.audit_events(limit=1000)
            if e.action_type == AuditAction.ACTION_EXECUTED
        ]
        assert executed == []


async def test_failed_write_shows_and_retries(
    settings: Settings, reviewed: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.ui.execute_delay_seconds = 0
    crm = await reviewed.crm_gateway()

    async def refused(_draft: object, **_approval: object) -> object:
        raise CrmError("Zoho refused the task.", title="CRM write refused")

    monkeypatch.setattr(crm, "create_task", refused)
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        ident = select_type(screen, "create_task")
        await pilot.press("a")
        await settle(pilot)
        assert status_of(reviewed, ident) == S.FAILED
        assert "failed" in str(screen.table.get_row(ident)[-1])
        monkeypatch.undo()
        await pilot.press("R")
        await settle(pilot)
        stored = reviewed.store.get_approval(ident)
        assert stored is not None
        assert stored.status == S.EXECUTED
        assert stored.result_record_id
        assert "written" in str(screen.table.get_row(ident)[-1])


async def test_approved_writes_left_over_are_written_on_open(
    settings: Settings, reviewed: Services
) -> None:
    settings.ui.execute_delay_seconds = 0
    approval = reviewed.store.pending_approvals(reviewed.current_user_email())[0]
    from sergas_tui.approvals.service import ApprovalService

    await ApprovalService(reviewed.store, clock=reviewed.clock).approve(approval.id, actor="jo")
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot)
        await settle(pilot)
        assert status_of(reviewed, approval.id) == S.EXECUTED
        assert any(n.title == "Approved writes waiting" for n in app._notifications)


async def test_a_write_left_half_done_is_finished_on_open(
    settings: Settings, reviewed: Services
) -> None:
    """A crash between the write-ahead and the CRM answer leaves 'executing': reconciled."""
    approval = reviewed.store.pending_approvals(reviewed.current_user_email())[0]
    from sergas_tui.approvals.service import ApprovalService

    approved = await ApprovalService(reviewed.store, clock=reviewed.clock).approve(
        approval.id, actor="jo"
    )
    executing = approved.model_copy(update={"status": S.EXECUTING})
    assert reviewed.store.update_approval(executing, expected_status=S.APPROVED)
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot)
        await settle(pilot)
        assert status_of(reviewed, approval.id) == S.EXECUTED


async def test_hostile_text_is_literal(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        for row in range(screen.table.row_count):
            assert not any("\x1b" in str(cell) for cell in screen.table.get_row_at(row))


async def queue_with_email(pilot: Any) -> None:
    """The queue with a write set selected: a task whose description carries the email draft
    and further writes (the risk note, the Rating), as the preview shows them."""
    app: SergasApp = pilot.app
    await settle(pilot)
    await app.switch_mode("approvals")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, ApprovalsScreen)
    row = max(range(len(screen.shown)), key=lambda i: len(screen.shown[i].approval.also))
    assert screen.shown[row].approval.also
    screen.table.move_cursor(row=row)
    await pilot.pause()


async def adjust_modal(pilot: Any) -> None:
    await queue_with_email(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ApprovalsScreen)
    select_type(screen, "create_task")
    await pilot.press("e")
    await pilot.pause()


def test_snapshot_queue(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=queue_with_email)


def test_snapshot_queue_80x24(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(80, 24), run_before=queue_with_email)


def test_snapshot_adjust(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=adjust_modal)


LONG_ID = re.compile(r"(?<![\d…])\d{19}(?!\d)")


async def test_queue_names_records_and_never_shows_a_bare_zoho_id(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        for row in range(screen.table.row_count):
            cells = " ".join(str(cell) for cell in screen.table.get_row_at(row))
            assert not LONG_ID.search(cells), cells
        for index, item in enumerate(screen.shown):
            snapshot = reviewed.store.latest_snapshot(item.approval.account_id)
            assert snapshot is not None
            assert item.account_name == snapshot.data["Account_Name"]
            screen.table.move_cursor(row=index)
            await pilot.pause()
            body = str(screen.query_one("#write-preview-body", Static).render())
            assert not LONG_ID.search(body), body
            assert "zoho:" not in body, body
            assert "memory:" not in body, body
        escalation = select_type(screen, "escalation")
        assert "sales_manager" not in screen.items[escalation].summary


async def test_queue_is_sorted_by_priority_then_value_at_stake(
    settings: Settings, reviewed: Services
) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        keys = [
            (("critical", "high", "medium", "low").index(i.priority or ""), -i.value)
            for i in screen.shown
        ]
        assert keys == sorted(keys)


async def test_open_key_on_the_demo_says_there_is_no_zoho_page(
    settings: Settings, reviewed: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    app = make_app(settings, reviewed)
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot)
        await pilot.press("o")
        await pilot.pause()
        assert opened == []
        assert any("demo CRM" in str(n.message) for n in app._notifications)


async def test_open_key_opens_the_account_in_zoho(
    settings: Settings, reviewed: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sergas_tui.viewmodels.names as names_module
    from sergas_tui.domain.record_links import zoho_web

    monkeypatch.setattr(names_module, "web_of", lambda _services: zoho_web("eu", org_id="42"))
    opened: list[str] = []
    app = make_app(settings, reviewed)
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        account = screen.shown[0].approval.account_id
        await pilot.press("o")
        await pilot.pause()
        assert opened == [f"https://crm.zoho.eu/crm/org42/tab/Accounts/{account}"]


async def queue_evidence(pilot: Any) -> None:
    """The queue with an escalation selected and its preview scrolled to the evidence."""
    await queue_with_email(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ApprovalsScreen)
    select_type(screen, "escalation")
    await pilot.pause()
    screen.query_one("#approvals-preview").scroll_end(animate=False)
    await pilot.pause()


def test_snapshot_queue_evidence(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=queue_evidence)
