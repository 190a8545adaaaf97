"""The audit screen, driven like a compliance reader would: list, filter, open, verify.

Tampering goes through a raw sqlite3 connection after dropping the append-only triggers, as in
tests/integration/test_audit_chain.py.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from typing import Any

from textual.widgets import DataTable, Input, Static

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.domain.audit import AuditEvent
from sergas_tui.domain.audit_chain import GENESIS, row_hash
from sergas_tui.errors import StorageError
from sergas_tui.screens.audit import AuditDetailScreen, AuditScreen
from sergas_tui.services import Services
from tests.conftest import FIXED_NOW
from tests.fakes.audit_head import reseal
from tests.helpers.tui import open_view
from tests.tui.waiting import settle

STATUS, ACCOUNT, SUMMARY, ACTION, SEQ = 1, 2, 3, 4, 6
"""Column indexes of the audit table."""


async def open_audit(pilot: Any) -> AuditScreen:
    return await open_view(pilot, "4", AuditScreen)


def table_of(screen: AuditScreen) -> DataTable[object]:
    return screen.query_one("#audit-table", DataTable)


def column(table: DataTable[object], index: int) -> list[str]:
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


def _open_raw(services: Services) -> sqlite3.Connection:
    conn = sqlite3.connect(services.store.path)
    conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_delete")
    conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_update")
    return conn


def tamper(services: Services, sql: str, params: tuple[object, ...]) -> None:
    with closing(_open_raw(services)) as conn:
        conn.execute(sql, params)
        conn.commit()


def rewrite(services: Services, sql: str, params: tuple[object, ...]) -> None:
    """:func:`tamper`, then record the rewritten log as the chain's head (a fixture, not an
    attack)."""
    with closing(_open_raw(services)) as conn:
        conn.execute(sql, params)
        reseal(conn, services.store.path)
        conn.commit()


def pin_timestamps(services: Services) -> None:
    """Give every row a fixed timestamp (and the app's CRM reads a fixed duration) and re-chain,
    so snapshots do not show the wall clock: audit rows are stamped when they are written."""
    with closing(_open_raw(services)) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM audit_logs ORDER BY seq")]
        prev = GENESIS
        for row in rows:
            stamp = FIXED_NOW + timedelta(seconds=41 * row["seq"])
            row["timestamp"] = stamp.isoformat(timespec="microseconds")
            if row["execution_time_ms"] is not None and not row["id"].startswith("evt-"):
                row["execution_time_ms"] = 25  # measured, so it varies between runs
            row["prev_hash"] = prev
            row["row_hash"] = prev = row_hash(prev, row)
            conn.execute(
                "UPDATE audit_logs SET timestamp = ?, execution_time_ms = ?, prev_hash = ?, "
                "row_hash = ? WHERE seq = ?",
                (
                    row["timestamp"],
                    row["execution_time_ms"],
                    row["prev_hash"],
                    row["row_hash"],
                    row["seq"],
                ),
            )
        reseal(conn, services.store.path)
        conn.commit()


async def test_lists_events_newest_first(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        table = table_of(screen)
        total = len(reviewed.store.audit_rows())  # the portfolio's CRM read is audited too
        assert table.row_count == total > 50
        seqs = [int(s) for s in column(table, SEQ)]
        assert seqs == sorted(seqs, reverse=True)
        assert column(table, ACTION)[-1] == "review_started"
        assert "review_completed" in column(table, ACTION)[:3]
        status = str(screen.query_one("#audit-status", Static).render())
        assert f"{total} events" in status


async def test_type_filter_cycles_and_narrows(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        table = table_of(screen)
        everything = table.row_count
        assert screen.page is not None
        types = screen.page.action_types
        await pilot.press("t")
        assert screen.action_filter == types[0]
        assert 0 < table.row_count < everything
        assert set(column(table, ACTION)) == {types[0]}
        for _ in types:
            await pilot.press("t")
        assert screen.action_filter is None
        assert table.row_count == everything


async def test_text_filter_by_account_narrows(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        table = table_of(screen)
        everything = table.row_count
        named = [n for n in column(table, ACCOUNT) if n != "—"]
        target = named[0]
        await pilot.press("slash")
        assert screen.query_one("#audit-filter", Input).has_focus
        await pilot.press(*target.split()[0])
        await pilot.pause()
        assert 0 < table.row_count < everything
        word = target.split()[0].casefold()
        rows = zip(column(table, ACCOUNT), column(table, SUMMARY), strict=True)
        # The account's name, or a tool call on it (its record ids are named in summaries).
        assert all(
            word in account.casefold() or word in summary.casefold() for account, summary in rows
        )
        assert any(word in account.casefold() for account in column(table, ACCOUNT))
        status = str(screen.query_one("#audit-status", Static).render())
        assert f"{table.row_count} match" in status
        await pilot.press("enter", "escape")  # back to the table, then clear
        assert table.row_count == everything


async def test_verify_clean_chain(settings: Settings, reviewed: Services) -> None:
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        total = len(reviewed.store.audit_rows())
        await pilot.press("v")
        await settle(pilot)
        banner = screen.query_one("#audit-verify", Static)
        assert f"Chain intact: {total} rows verified" in str(banner.render())
        assert banner.has_class("-ok")


async def test_verify_names_the_tampered_row(settings: Settings, reviewed: Services) -> None:
    tamper(reviewed, "UPDATE audit_logs SET agent_name = ? WHERE seq = ?", ("mallory", 5))
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        await pilot.press("v")
        await settle(pilot)
        banner = screen.query_one("#audit-verify", Static)
        text = str(banner.render())
        assert banner.has_class("-problem")
        assert "Chain broken at seq 5" in text
        assert "edited" in text
        table = table_of(screen)
        cursor_row = table.get_row_at(table.cursor_row)
        assert str(cursor_row[SEQ]) == "5"
        assert str(cursor_row[STATUS]) == "edited"


async def test_detail_shows_escaped_content(settings: Settings, reviewed: Services) -> None:
    hostile = "Square [bold]Bracket[/bold] \x1b[31mred\x1b[0m \u202eevil"
    tamper(
        reviewed,
        "UPDATE audit_logs SET decision_rationale = ? WHERE seq = ?",
        (hostile, 3),
    )
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        table = table_of(screen)
        table.move_cursor(row=table.row_count - 3)  # seq 3 (newest first)
        await pilot.press("enter")
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, AuditDetailScreen)
        body = str(detail.query_one("#audit-detail-body", Static).render())
        assert "Square [bold]Bracket[/bold]" in body
        assert "\x1b" not in body
        assert "\u202e" not in body
        for label in ("Row hash", "Previous hash", "Session"):
            assert label in body
        assert '"deal_id"' in body or '"module"' in body  # inputs, pretty JSON
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_load_failure_becomes_a_titled_notification(
    settings: Settings, reviewed: Services, monkeypatch: Any
) -> None:
    def broken(*_args: object, **_kwargs: object) -> list[dict[str, object]]:
        raise StorageError("The audit log cannot be read.")

    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(reviewed.store, "audit_rows", broken)
        await pilot.press("4")
        await settle(pilot)
        titles = [n.title for n in app._notifications]
        assert "Storage error" in titles
        assert app.is_running


async def test_verify_failure_is_reported_and_retryable(
    settings: Settings, reviewed: Services, monkeypatch: Any
) -> None:
    def broken(*_args: object, **_kwargs: object) -> list[dict[str, object]]:
        raise StorageError("The audit log cannot be read.")

    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        monkeypatch.setattr(reviewed.store, "audit_rows", broken)
        await pilot.press("v")
        await settle(pilot)
        assert [n.title for n in app._notifications] == ["Storage error"]
        banner = screen.query_one("#audit-verify", Static)
        assert "could not be verified" in str(banner.render())
        assert not banner.has_class("-busy")


def curate(services: Services) -> None:
    """Replace the review's audit rows (appended concurrently, so in no fixed order) with a
    fixed story over real accounts: decisions, a CRM write, a refusal, an expiry, hostile
    text. Snapshots then show every kind of row and do not change between runs."""
    brief = services.store.latest_brief(services.current_user_email() or "")
    assert brief is not None
    assert brief.accounts
    ids = {a.account_name.split()[0]: a.account_id for a in brief.accounts}
    eastgate, square, alpine, escape = ids["Eastgate"], ids["Square"], ids["Alpine"], ids["Escape"]
    owner = services.current_user_email()
    rewrite(services, "DELETE FROM audit_logs", ())
    run, ui = "run-0001", "tui-0001"
    rows: list[dict[str, object]] = [
        {"session_id": run, "agent_name": "orchestrator", "action_type": "review_started"},
        {
            "session_id": run,
            "agent_name": "zoho_scout",
            "action_type": "tool_invocation",
            "tool_name": "zoho_sync",
            "tool_inputs": {"owner_email": owner, "history_days": 90},
            "tool_outputs": {"accounts": 30, "deals": 46, "contacts": 90},
            "execution_time_ms": 57,
        },
        {
            "session_id": run,
            "agent_name": "recommendation_author",
            "action_type": "recommendation_generated",
            "account_id": eastgate,
            "tool_outputs": {
                "type": "create_task",
                "priority": "high",
                "suggested_action": {"subject": "Book an executive sponsor call"},
            },
        },
        {
            "session_id": run,
            "agent_name": "orchestrator",
            "action_type": "approval_requested",
            "account_id": eastgate,
            "tool_inputs": {"approval_id": "a1b2c3d4-0001", "recommendation_id": "r0000001"},
        },
        {
            "session_id": run,
            "agent_name": "recommendation_author",
            "action_type": "recommendation_generated",
            "account_id": square,
            "tool_outputs": {
                "type": "add_note",
                "priority": "medium",
                "suggested_action": {"title": "[bold]Renewal[/bold] risk summary"},
            },
        },
        {
            "session_id": run,
            "agent_name": "orchestrator",
            "action_type": "approval_requested",
            "account_id": square,
            "tool_inputs": {"approval_id": "e5f6a7b8-0002", "recommendation_id": "r0000002"},
        },
        {
            "session_id": run,
            "agent_name": "orchestrator",
            "action_type": "review_completed",
            "tool_outputs": {"accounts": 30, "recommendations": 2},
        },
        {
            "session_id": ui,
            "agent_name": "owner",
            "action_type": "approval_decided",
            "account_id": eastgate,
            "tool_inputs": {"approval_id": "a1b2c3d4-0001", "actor": owner},
            "decision": "approved",
            "decision_rationale": "Sponsor asked for this last week",
        },
        {
            "session_id": ui,
            "agent_name": "approval_executor",
            "action_type": "action_executed",
            "account_id": eastgate,
            "tool_name": "create_task",
            "tool_inputs": {"approval_id": "a1b2c3d4-0001", "write": {"subject": "Call"}},
            "tool_outputs": {"record_id": "5725767000009000001", "action": "insert"},
            "execution_time_ms": 412,
        },
        {
            "session_id": ui,
            "agent_name": "owner",
            "action_type": "approval_decided",
            "account_id": square,
            "tool_inputs": {"approval_id": "e5f6a7b8-0002", "actor": owner},
            "decision": "rejected",
            "decision_rationale": "Legal owns [red]this[/red] renewal",
        },
        {
            "session_id": "mcp",
            "agent_name": "zoho_mcp_server",
            "action_type": "tool_denied",
            "account_id": alpine,
            "tool_name": "zoho_update_record",
            "tool_inputs": {"approval_id": None},
            "error_message": "refused (no_approval): CRM writes need an approved approval",
        },
        {
            "session_id": "expiry",
            "agent_name": "system",
            "action_type": "approval_expired",
            "account_id": escape,
            "tool_inputs": {"approval_id": "c9d0e1f2-0003"},
        },
    ]
    for n, row in enumerate(rows, start=1):
        values = {"id": f"evt-{n:04d}", "owner_email": owner, **row}
        services.store.append_audit(AuditEvent.model_validate(values))


def test_snapshot_after_verify_120x40(
    snap_compare: Any, settings: Settings, reviewed: Services
) -> None:
    curate(reviewed)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        pin_timestamps(reviewed)  # the portfolio's CRM reads were stamped by the wall clock
        await open_audit(pilot)
        await pilot.press("v")
        await settle(pilot)

    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_80x24(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    curate(reviewed)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        pin_timestamps(reviewed)
        await open_audit(pilot)

    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_detail_120x40(snap_compare: Any, settings: Settings, reviewed: Services) -> None:
    curate(reviewed)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        pin_timestamps(reviewed)
        screen = await open_audit(pilot)
        table = table_of(screen)
        table.move_cursor(row=column(table, STATUS).index("rejected"))
        await pilot.press("enter")
        await pilot.pause()

    app = make_app(settings, reviewed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
