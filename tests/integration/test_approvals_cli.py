"""Headless approvals and the audit trail, as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from rich.cells import cell_len

from sergas_tui.demo import DemoStore
from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from tests.helpers.cli import listed_rows, pending_ids, run_cli

SMALL = ["--accounts", "90", "--owners", "3", "--seed", "7"]
SENSITIVE = ("Tax_ID", "Bank_Account", "Personal_Email", "Home_Address", "Date_of_Birth")
ZOHO_ID = re.compile(r"(?<![\d…])\d{19}(?!\d)")
PRIORITY = ("crit", "high", "med", "low", "-")


def test_review_then_approve_reject_and_audit(tmp_path: Path) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert run_cli("review").returncode == 0
    rows = pending_ids()
    assert rows, "a review of the demo proposes approvals"
    task_id = next(i for i, kind in rows if kind == "create_task")
    shown = run_cli("approvals", "show", task_id)
    assert shown.returncode == 0
    assert "Create task" in shown.stdout or "task" in shown.stdout.lower()

    approved = run_cli("approvals", "approve", task_id, "--as", "jordan", "--reason", "yes")
    assert approved.returncode == 0, approved.stderr + approved.stdout
    assert "Written to Zoho for " in approved.stdout
    # The task is in the CRM exactly once, carrying the approval's marker.
    org = Locations.from_env().demo_crm_file("demo")
    with sqlite3.connect(org) as db:
        hits = db.execute(
            "SELECT count(*) FROM records WHERE module = 'Tasks' AND data LIKE ?",
            (f"%[sergas:{task_id}%",),
        ).fetchone()[0]
    assert hits == 1
    again = run_cli("approvals", "approve", task_id, "--as", "jordan")
    assert again.returncode == 1  # already decided: refused, nothing written twice
    # The title names the refused decision; the text says why, without repeating either.
    said = " ".join(again.stderr.split())
    assert said.startswith(f"Cannot approve: Approval {task_id} is already executed"), said
    assert "Approval: Approval" not in said
    assert "cannot be approved" not in said
    late = run_cli("approvals", "reject", task_id, "--as", "jordan", "--reason", "late")
    assert " ".join(late.stderr.split()).startswith(f"Cannot reject: Approval {task_id} is"), late
    assert "rejectd" not in late.stderr
    undone = run_cli("approvals", "undo", task_id, "--as", "jordan")
    assert undone.returncode == 1
    assert " ".join(undone.stderr.split()) == (
        f"Cannot undo: Approval {task_id} is executed: its CRM write has already started, so "
        "the decision stands."
    )

    other = next(i for i, _ in rows if i != task_id)
    rejected = run_cli("approvals", "reject", other, "--as", "jordan", "--reason", "not now")
    assert rejected.returncode == 0, rejected.stderr
    assert other not in {i for i, _ in pending_ids()}

    verified = run_cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout
    assert "intact" in verified.stdout

    out = tmp_path / "audit.jsonl"
    exported = run_cli("audit", "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = {line["action_type"] for line in lines}
    assert {"recommendation_generated", "approval_requested", "approval_decided"} <= kinds
    assert "action_executed" in kinds
    # No sensitive CRM value reaches the audit payloads.
    store = DemoStore.open(org)
    secrets = {
        str(record[field])
        for record in store.records("Accounts")
        for field in SENSITIVE
        if record.get(field)
    }
    store.close()
    text = out.read_text()
    assert secrets
    assert not any(secret in text for secret in secrets)


def test_audit_verify_names_a_tampered_row() -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert run_cli("review").returncode == 0
    db = Locations.from_env().database_file("demo")
    with sqlite3.connect(db) as conn:
        triggers = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_logs'"
            )
        ]
        for name in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute("UPDATE audit_logs SET decision_rationale = 'forged' WHERE seq = 3")
    result = run_cli("audit", "verify")
    assert result.returncode == 1
    assert "row 3" in result.stdout
    assert "edited" in result.stdout


def _amount(text: str) -> float:
    return 0.0 if text == "—" else float(text.split(" ", 1)[1].replace(",", ""))


def test_list_and_show_read_well_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names, not Zoho ids; sorted by priority then value at stake; nothing wider than 80."""
    monkeypatch.setenv("COLUMNS", "80")
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert run_cli("review").returncode == 0
    listed = run_cli("approvals", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), max(lines, key=cell_len)
    assert not ZOHO_ID.search(listed.stdout), "no raw Zoho id in the list"
    rows = listed_rows()
    assert rows, listed.stdout
    assert len(rows) == sum(1 for line in lines if re.match(r"^[0-9a-f]{8}\s", line)), (
        "every row fits on one line (the expiry never wraps)"
    )
    keys = [(PRIORITY.index(r[1]), -_amount(r[4])) for r in rows]
    assert keys == sorted(keys), "priority first, then the value at stake"

    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        snapshots = repo.latest_snapshots()
        pending = {a.id[:8]: a for a in repo.pending_approvals()}
    for ident, _priority, account, *_rest in rows:
        name = str(snapshots[pending[ident].account_id].data["Account_Name"])
        shown = account.rsplit(" (…", 1)[0].removesuffix("…")
        assert name.startswith(shown), (name, account)
        assert account.endswith(f"(…{pending[ident].account_id[-4:]})"), account

    seen: set[str] = set()
    for ident, _priority, _account, kind, *_rest in rows:
        if kind in seen:
            continue
        seen.add(kind)
        approval = pending[ident]
        result = run_cli("approvals", "show", ident)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert all(cell_len(line) <= 80 for line in out.splitlines()), out
        assert not ZOHO_ID.search(out), out
        name = str(snapshots[approval.account_id].data["Account_Name"])
        assert f"Account: {name} (…{approval.account_id[-4:]})" in out
        assert "Write: " in out
        assert "zoho:" not in out
        assert "memory:" not in out
        if kind == "email":
            to = next(line for line in out.splitlines() if line.startswith("To: "))
            assert re.match(r"^To: [^<]+ <[^@\s]+@[^>\s]+>$", to), to
        if kind == "escal.":
            assert "sales_manager" not in out
        if kind == "task":
            assert "Due: " in out
            assert "Priority: " in out
    assert {"task", "email"} <= seen


MORE_ROW = re.compile(
    r"^([0-9a-f]{8})\s+(crit|high|med|low|-)\s+(.+?)\s+(task|email|note|escal\.|update)\s+(.+)$",
    re.MULTILINE,
)


def test_more_lists_what_waits_beyond_the_budget_and_pull_takes_one_in() -> None:
    assert (
        run_cli("demo", "generate", "--accounts", "240", "--owners", "2", "--seed", "4").returncode
        == 0
    )
    reviewed = run_cli("review")
    assert reviewed.returncode == 0, reviewed.stderr
    assert "more, lower priority" in reviewed.stdout
    listed = run_cli("approvals", "list")
    assert listed.returncode == 0
    assert len(listed_rows()) == 18  # the default daily budget
    assert "more, lower priority, wait beyond today's budget" in listed.stdout

    more = run_cli("approvals", "more")
    assert more.returncode == 0, more.stderr
    rows = MORE_ROW.findall(more.stdout)
    assert rows
    assert all(cell_len(line) <= 80 for line in more.stdout.splitlines())
    assert not ZOHO_ID.search(more.stdout)  # names, not raw ids
    assert all(re.search(r"\(…\d{4}\)", row[2]) for row in rows)  # the name, its short id

    chosen = rows[-1][0]
    pulled = run_cli("approvals", "pull", chosen, "--as", "jordan")
    assert pulled.returncode == 0, pulled.stderr + pulled.stdout
    assert "In the queue now as approval" in pulled.stdout
    assert len(listed_rows()) == 19
    again = run_cli("approvals", "pull", chosen, "--as", "jordan")
    assert again.returncode == 1
    assert "not waiting" in again.stdout
    missing = run_cli("approvals", "pull", "ffffffff")
    assert missing.returncode == 1
    assert "`sergas approvals more` lists what waits" in " ".join(missing.stdout.split())
