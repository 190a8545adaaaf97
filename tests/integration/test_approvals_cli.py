"""Headless approvals and the audit trail, as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from sergas_tui.demo import DemoStore
from sergas_tui.locations import Locations
from tests.integration.test_cli import run_cli

SMALL = ["--accounts", "90", "--owners", "3", "--seed", "7"]
SENSITIVE = ("Tax_ID", "Bank_Account", "Personal_Email", "Home_Address", "Date_of_Birth")


def pending_ids() -> list[tuple[str, str]]:
    """(id, type) of the pending approvals, read from `sergas approvals list`."""
    listed = run_cli("approvals", "list")
    assert listed.returncode == 0, listed.stderr
    return re.findall(r"^│ ([0-9a-f]{8}) │[^│]*│ ([a-z_]+)", listed.stdout, re.MULTILINE)


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
    assert "executed" in approved.stdout
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
