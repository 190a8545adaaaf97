"""The audit screen's view model: summaries, status markers, filters, loading and verification
wording, including a database tampered with as in tests/integration/test_audit_chain.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from sergas_tui.audit import Problem, VerifyResult, verify_database
from sergas_tui.config import Settings
from sergas_tui.domain.audit import AuditEvent
from sergas_tui.domain.names import CrmUser, RecordNames
from sergas_tui.services import Services
from sergas_tui.storage import Repository
from sergas_tui.viewmodels.audit import (
    AuditPage,
    AuditRow,
    build_row,
    detail_fields,
    event_of,
    filter_rows,
    load_audit,
    next_action,
    pretty_json,
    status_line,
    verification_message,
)
from sergas_tui.viewmodels.audit_summary import status_of, summarize

OWNER = "jordan@example.test"


def event(**values: Any) -> AuditEvent:
    base: dict[str, Any] = {"session_id": "s1", "agent_name": "orchestrator"}
    return AuditEvent.model_validate({**base, **values})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {
                "action_type": "tool_invocation",
                "tool_name": "zoho_get_accounts",
                "tool_inputs": {"owner_email": OWNER, "page": 2},
                "tool_outputs": {"count": 30, "ids": []},
                "execution_time_ms": 12,
            },
            "zoho_get_accounts page=2 → 30 records · 12 ms",
        ),
        (
            {
                "action_type": "recommendation_generated",
                "tool_outputs": {
                    "type": "create_task",
                    "priority": "high",
                    "suggested_action": {"subject": "Call the sponsor"},
                },
            },
            "recommends create_task (high): Call the sponsor",
        ),
        (
            {
                "action_type": "approval_requested",
                "tool_inputs": {"approval_id": "abcdef123456", "recommendation_id": "99887766aa"},
            },
            "approval abcdef12 requested (recommendation 99887766)",
        ),
        (
            {
                "action_type": "approval_decided",
                "tool_inputs": {"approval_id": "a1", "actor": OWNER},
                "decision": "approved",
                "decision_rationale": "Sponsor asked",
            },
            f"approved by {OWNER}: Sponsor asked",
        ),
        (
            {
                "action_type": "approval_decided",
                "tool_inputs": {"approval_id": "a1", "actor": OWNER, "before": {}, "after": {}},
                "decision": "adjusted",
            },
            f"adjusted by {OWNER} (payload edited)",
        ),
        (
            {
                "action_type": "approval_decided",
                "tool_inputs": {
                    "approval_id": "a1",
                    "actor": OWNER,
                    "undo": True,
                    "undone_status": "approved",
                },
            },
            f"undone by {OWNER} (was approved)",
        ),
        (
            {
                "action_type": "approval_decided",
                "tool_inputs": {"approval_id": "a1", "actor": OWNER, "feedback": "not_useful"},
                "decision": "rejected",
                "decision_rationale": "seen it",
            },
            f"rejected by {OWNER} (not useful): seen it",
        ),
        (
            {
                "action_type": "signal_snoozed",
                "tool_inputs": {"signal": "Gone quiet", "until": "2027-01-10", "actor": OWNER},
                "decision_rationale": "customer on holiday",
            },
            f"'Gone quiet' snoozed until 2027-01-10 by {OWNER}: customer on holiday",
        ),
        (
            {
                "action_type": "signal_dismissed",
                "tool_inputs": {"signal": "Single-threaded", "until": None, "actor": OWNER},
                "decision_rationale": "one buyer by design",
            },
            f"'Single-threaded' dismissed for good by {OWNER}: one buyer by design",
        ),
        (
            {
                "action_type": "signal_unmuted",
                "tool_inputs": {"signal": "Gone quiet", "until": "2027-01-10", "actor": OWNER},
                "decision_rationale": "customer on holiday",
            },
            f"'Gone quiet' unmuted by {OWNER}",
        ),
        (
            {"action_type": "approval_expired", "tool_inputs": {"approval_id": "c9d0e1f2aa"}},
            "approval c9d0e1f2 expired unanswered",
        ),
        (
            {
                "action_type": "action_executed",
                "tool_name": "create_task",
                "tool_outputs": {"record_id": "42", "found_existing": False},
            },
            "create_task written → Task 42",
        ),
        (
            {
                "action_type": "action_executed",
                "tool_name": "add_note",
                "error_message": "CRM rate limited",
            },
            "add_note failed: CRM rate limited",
        ),
        (
            {
                "action_type": "tool_denied",
                "tool_name": "zoho_update_record",
                "error_message": "refused (no_approval): needs approval",
            },
            "zoho_update_record refused (no_approval): needs approval",
        ),
        (
            {
                "action_type": "review_completed",
                "tool_outputs": {"accounts": 30, "recommendations": 4},
            },
            "review completed: 30 accounts, 4 recommendations",
        ),
        (
            {"action_type": "review_started", "owner_email": OWNER},
            f"review of {OWNER} started",
        ),
        (
            {"action_type": "sync_completed", "tool_outputs": {"accounts": 3}},
            "sync completed: 3 accounts",
        ),
        (
            {"action_type": "from_a_newer_sergas", "tool_name": "x", "tool_inputs": {"a": 1}},
            "x a=1",
        ),
        ({"action_type": "bare"}, "bare"),
    ],
)
def test_summarize(values: dict[str, Any], expected: str) -> None:
    assert summarize(event(**values)) == expected


def test_summary_keeps_markup_as_text() -> None:
    text = summarize(
        event(
            action_type="approval_decided",
            tool_inputs={"actor": OWNER},
            decision="rejected",
            decision_rationale="[bold]no[/bold]",
        )
    )
    assert text.endswith("[bold]no[/bold]")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"action_type": "tool_invocation"}, "ok"),
        ({"action_type": "tool_denied"}, "denied"),
        ({"action_type": "action_executed", "error_message": "boom"}, "error"),
        ({"action_type": "approval_decided", "decision": "rejected"}, "rejected"),
        ({"action_type": "approval_decided", "tool_inputs": {"undo": True}}, "undone"),
        ({"action_type": "approval_expired"}, "expired"),
        ({"action_type": "signal_snoozed"}, "snoozed"),
        ({"action_type": "signal_dismissed"}, "dismissed"),
        ({"action_type": "signal_unmuted"}, "unmuted"),
    ],
)
def test_status_of(values: dict[str, Any], expected: str) -> None:
    assert status_of(event(**values)) == expected


def _row(seq: int, action: str, account: str | None, name: str | None, **extra: Any) -> AuditRow:
    e = event(seq=seq, action_type=action, account_id=account, **extra)
    return AuditRow(
        event=e,
        time_text="2026-11-02 09:30:00",
        account_name=name,
        summary=summarize(e),
        status=status_of(e),
    )


ROWS = [
    _row(
        4,
        "approval_decided",
        "100",
        "Acme Corp",
        decision="approved",
        tool_inputs={"actor": "pat@x.test"},
    ),
    _row(3, "approval_requested", "200", "Globex", tool_inputs={"approval_id": "ffff0000"}),
    _row(2, "tool_invocation", None, None, tool_name="zoho_get_accounts"),
    _row(1, "approval_requested", "100", "Acme Corp", tool_inputs={"approval_id": "eeee1111"}),
]


@pytest.mark.parametrize(
    ("text", "action", "seqs"),
    [
        ("", None, [4, 3, 2, 1]),
        ("acme", None, [4, 1]),
        ("ACME corp", None, [4, 1]),
        ("200", None, [3]),
        ("", "approval_requested", [3, 1]),
        ("acme", "approval_requested", [1]),
        ("pat@x", None, [4]),
        ("zoho_get", None, [2]),
        ("nothing matches", None, []),
    ],
)
def test_filter_rows(text: str, action: str | None, seqs: list[int]) -> None:
    assert [r.seq for r in filter_rows(ROWS, text, action)] == seqs


@pytest.mark.parametrize(
    ("current", "types", "expected"),
    [
        (None, ["a", "b"], "a"),
        ("a", ["a", "b"], "b"),
        ("b", ["a", "b"], None),
        ("gone", ["a", "b"], None),
        (None, [], None),
    ],
)
def test_next_action(current: str | None, types: list[str], expected: str | None) -> None:
    assert next_action(current, types) == expected


@pytest.mark.parametrize(
    ("total", "shown", "text", "action", "expected"),
    [
        (4, 4, "", None, "4 events"),
        (9000, 4, "", None, "showing latest 4 of 9,000 events"),
        (4, 2, "  acme  ", None, '4 events · 2 match "acme"'),
        (4, 2, "", "approval_requested", "4 events · 2 match"),
        (0, 0, "", None, "No audit events yet: a review or a decision records them."),
    ],
)
def test_status_line(total: int, shown: int, text: str, action: str | None, expected: str) -> None:
    rows = ROWS if total else []
    page = AuditPage(rows=list(rows), total=total, limit=2000)
    assert status_line(page, shown, text, action) == expected


@pytest.mark.parametrize(
    ("result", "ok", "expected"),
    [
        (VerifyResult(ok=True, checked=0), True, "The audit log is empty: nothing to verify."),
        (VerifyResult(ok=True, checked=1), True, "Chain intact: 1 row verified"),
        (VerifyResult(ok=True, checked=2500), True, "Chain intact: 2,500 rows verified"),
        (
            VerifyResult(ok=True, checked=10, unchained=3),
            True,
            "Chain intact: 10 rows verified (3 older rows predate the chain and are not protected)",
        ),
        (
            VerifyResult(
                ok=False,
                checked=8,
                problems=[Problem(4, "id-4", "edited", "audit row seq 4 (id id-4) was edited")],
            ),
            False,
            "Chain broken at seq 4 (id id-4): edited. audit row seq 4 (id id-4) was edited. "
            "8 rows checked.",
        ),
        (
            VerifyResult(
                ok=False,
                checked=7,
                problems=[
                    Problem(4, None, "deleted", "audit rows are missing: seq 4"),
                    Problem(6, "id-6", "reordered", "moved"),
                ],
            ),
            False,
            "Chain broken at seq 4: deleted. audit rows are missing: seq 4. 1 more problem "
            "after it. 7 rows checked.",
        ),
    ],
)
def test_verification_message(result: VerifyResult, ok: bool, expected: str) -> None:
    assert verification_message(result) == (ok, expected)


# -- on a real database ---------------------------------------------------------------------------

N = 8


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "sergas.db"


@pytest.fixture
def repo(db_path: Path, fixed_now: datetime) -> Iterator[Repository]:
    with Repository.open(db_path) as repository:
        for i in range(1, N + 1):
            repository.append_audit(
                AuditEvent(
                    session_id="s1",
                    agent_name="zoho_scout",
                    action_type="tool_invocation",
                    timestamp=fixed_now + timedelta(seconds=i),
                    account_id=f"acc-{i % 2}",
                    tool_name="zoho_get_accounts",
                    tool_inputs={"page": i},
                    tool_outputs={"count": i},
                )
            )
        yield repository


def services_for(repo: Repository) -> Services:
    """Just what ``load_audit`` reads: the store, who the user is and the names' settings."""
    return cast(
        Services,
        SimpleNamespace(
            store=repo,
            current_user_email=lambda: None,
            settings=Settings(),
            is_demo=False,
            demo=None,
        ),
    )


def tamper(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_delete")
        conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_update")
        conn.execute(sql, params)
        conn.commit()


def test_load_audit_is_newest_first_and_bounded(repo: Repository) -> None:
    page = load_audit(services_for(repo), limit=3)
    assert [r.seq for r in page.rows] == [8, 7, 6]
    assert page.total == N
    assert page.truncated
    assert page.action_types == ["tool_invocation"]
    assert status_line(page, 3) == "showing latest 3 of 8 events"
    assert page.rows[0].time_text == "2026-11-02 09:30:08"
    assert page.rows[0].short_time == "11-02 09:30:08"
    assert page.rows[0].row_hash is not None
    assert page.rows[0].prev_hash == page.rows[1].row_hash


def test_load_audit_after_a_deletion_still_shows_the_newest(
    repo: Repository, db_path: Path
) -> None:
    tamper(db_path, "DELETE FROM audit_logs WHERE seq = 7")
    page = load_audit(services_for(repo), limit=3)
    assert [r.seq for r in page.rows] == [8, 6, 5]


def test_a_row_with_broken_json_still_loads(repo: Repository, db_path: Path) -> None:
    tamper(
        db_path,
        "UPDATE audit_logs SET tool_inputs = ?, timestamp = ? WHERE seq = 2",
        ("{not json", "yesterday"),
    )
    rows = {r.seq: r for r in load_audit(services_for(repo)).rows}
    broken = rows[2]
    assert broken.unreadable == ("tool_inputs", "timestamp")
    assert broken.event.tool_inputs == "{not json"
    assert broken.time_text == "yesterday"
    assert broken.short_time == "yesterday"
    assert ("Unreadable", "tool_inputs, timestamp (shown as stored)") in detail_fields(broken)


SWAP_4_AND_5 = (
    "UPDATE audit_logs SET seq = -4 WHERE seq = 4",
    "UPDATE audit_logs SET seq = 4 WHERE seq = 5",
    "UPDATE audit_logs SET seq = 5 WHERE seq = -4",
)


@pytest.mark.parametrize(
    ("statements", "seq", "kind"),
    [
        (("UPDATE audit_logs SET agent_name = 'mallory' WHERE seq = 4",), 4, "edited"),
        (("DELETE FROM audit_logs WHERE seq = 4",), 4, "deleted"),
        (SWAP_4_AND_5, 4, "reordered"),
    ],
)
def test_verification_message_on_a_tampered_database(
    repo: Repository, db_path: Path, statements: tuple[str, ...], seq: int, kind: str
) -> None:
    for sql in statements:
        tamper(db_path, sql)
    ok, text = verification_message(verify_database(repo))
    assert not ok
    assert text.startswith(f"Chain broken at seq {seq}")
    assert f": {kind}." in text


def test_verification_message_on_a_clean_database(repo: Repository) -> None:
    assert verification_message(verify_database(repo)) == (
        True,
        f"Chain intact: {N} rows verified",
    )


def test_detail_fields_and_pretty_json(repo: Repository) -> None:
    stored = repo.audit_rows()[0]
    names = RecordNames()
    names.add_snapshot("acc-1", {"Account_Name": "Acme [b]Corp[/b]"})
    row = build_row(stored, names)
    fields = dict(detail_fields(row))
    assert fields["Account"] == "Acme [b]Corp[/b] (acc-1)"
    unknown = dict(detail_fields(build_row(stored)))
    assert unknown["Account"] == "acc-1 (not in this workspace's snapshots)"
    assert fields["Row hash"] == stored["row_hash"]
    assert fields["Previous hash"] == stored["prev_hash"]
    assert fields["Session"] == "s1"
    assert pretty_json({"b": 1, "a": "\x1b[31m"}) == '{\n  "a": "\\u001b[31m",\n  "b": 1\n}'
    assert pretty_json(None) == "null"
    assert pretty_json("x" * 50, limit=10).endswith("(42 more characters)")


def test_event_of_keeps_unknown_decisions_visible() -> None:
    stored = {
        "id": "e1",
        "seq": 1,
        "timestamp": "2026-11-02T09:30:00.000000+00:00",
        "session_id": "s",
        "agent_name": "a",
        "action_type": "approval_decided",
        "decision": "maybe",
        "tool_inputs": None,
        "tool_outputs": None,
    }
    built, time_text, unreadable = event_of(stored)
    assert built.decision is None
    assert unreadable == ("decision",)
    assert time_text == "2026-11-02 09:30:00"


def test_summaries_and_rows_name_records_and_owners() -> None:
    account = "5725767000001007306"
    names = RecordNames()
    names.add_snapshot(
        account,
        {
            "Account_Name": "Quarry Ridge",
            "Deals": {"5725767000001007310": {"Deal_Name": "Renewal"}},
        },
    )
    names.add_users([CrmUser("u1", OWNER, "Jordan Avery")])
    call = event(
        action_type="tool_invocation",
        tool_name="zoho_get_deals",
        tool_inputs={"account_id": account, "deal_id": "5725767000001007310"},
        account_id=account,
        owner_email=OWNER,
    )
    text = summarize(call, names)
    assert text == "zoho_get_deals account_id=Quarry Ridge (…7306) deal_id=Renewal (…7310)"
    stored = {**call.model_dump(mode="json"), "tool_inputs": json.dumps({"account_id": account})}
    row = build_row(stored, names)
    assert row.account_text == "Quarry Ridge"
    assert dict(detail_fields(row))["Owner"] == f"Jordan Avery <{OWNER}>"
    anonymous = build_row(stored)
    assert anonymous.account_text == "Account …7306"
