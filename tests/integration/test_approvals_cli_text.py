"""What `sergas approvals` prints after a write, and the texts an adjustment may carry, as a
user runs them (subprocesses): a sentence naming the write, the account and the CRM record
(never a Python repr); control and escape characters refused before anything is saved; text
that looks like markup stored, shown and written literally."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sergas_tui.demo import DemoStore
from sergas_tui.domain import Approval, ApprovalStatus, CreateTaskAction
from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from tests.helpers.cli import assert_one_paragraph_error, pending_ids, run_cli

SMALL = ["--accounts", "90", "--owners", "3", "--seed", "7"]
WRITTEN = re.compile(r"Written to Zoho for (.+?) \(…(\d{4})\) as record (\d+): Task '")


def _said(text: str) -> str:
    """The output with its line wrapping undone."""
    return " ".join(text.split())


def _approval(ident: str) -> Approval:
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        found = repo.get_approval(ident) or next(
            a for a in repo.approvals_with_status(tuple(ApprovalStatus)) if a.id.startswith(ident)
        )
    assert found is not None
    return found


def _account_name(account_id: str) -> str:
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        return str(repo.latest_snapshots()[account_id].data["Account_Name"])


def _crm_task(record_id: str) -> dict[str, object]:
    store = DemoStore.open(Locations.from_env().demo_crm_file("demo"))
    try:
        found = store.record("Tasks", record_id)
    finally:
        store.close()
    assert found is not None, record_id
    return dict(found)


def _tasks(count: int) -> list[str]:
    review = run_cli("review")
    assert review.returncode == 0, review.stderr
    ids = [ident for ident, kind in pending_ids() if kind == "create_task"]
    assert len(ids) >= count, "the demo's review proposes tasks"
    return ids[:count]


def test_approve_and_execute_say_what_was_written_for_which_account() -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    first, second, third = _tasks(3)

    approved = run_cli("approvals", "approve", first, "--as", "jordan")
    assert approved.returncode == 0, approved.stderr + approved.stdout
    said = _said(approved.stdout)
    assert "ExecutionResult" not in said
    assert "approval_id=" not in said
    assert "wrote=" not in said
    found = WRITTEN.search(said)
    assert found, said
    approval = _approval(first)
    assert found.group(1) == _account_name(approval.account_id)
    assert found.group(2) == approval.account_id[-4:]
    record = found.group(3)
    assert record == approval.result_record_id
    assert f"[sergas:{approval.id}" in str(_crm_task(record)["Description"])
    assert isinstance(approval.payload, CreateTaskAction)
    assert f"Task '{approval.payload.subject}" in said

    for ident in (second, third):
        decided = run_cli("approvals", "approve", ident, "--as", "jordan", "--no-execute")
        assert decided.returncode == 0, decided.stderr
        assert "Written to Zoho" not in decided.stdout
    executed = run_cli("approvals", "execute")
    assert executed.returncode == 0, executed.stderr
    said = _said(executed.stdout)
    assert "ExecutionResult" not in said
    for ident in (second, third):
        approval = _approval(ident)
        name = _account_name(approval.account_id)
        assert (
            f"Written to Zoho for {name} (…{approval.account_id[-4:]}) as record "
            f"{approval.result_record_id}: Task '"
        ) in said, said
    assert said.endswith("2 approved writes processed.")
    again = run_cli("approvals", "execute")
    assert again.returncode == 0, again.stderr
    assert _said(again.stdout) == "No approved write was waiting to be written."


def test_an_adjustment_with_escape_sequences_is_refused_and_markup_stays_literal(
    tmp_path: Path,
) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    (ident,) = _tasks(1)
    before = _approval(ident)

    nasty = tmp_path / "nasty.json"
    subject = "[bold red]Hi[/] \x1b[2J x \x1b]0;pwn\x07"
    nasty.write_text(
        json.dumps({"subject": subject, "priority": "Highest", "due_date": "2099-12-20"})
    )
    refused = run_cli("approvals", "adjust", ident, "--payload", str(nasty), "--no-execute")
    assert_one_paragraph_error(
        refused,
        "Adjustment not saved:",
        "subject: contains an escape character (U+001B) at character 17",
        "cannot be written to the CRM, remove them",
        "Nothing was saved.",
    )
    assert "\x1b" not in refused.stderr
    assert "\x07" not in refused.stderr
    after = _approval(ident)
    assert after.status == ApprovalStatus.PENDING
    assert after.payload == before.payload

    bidi = tmp_path / "bidi.json"
    bidi.write_text(json.dumps({"subject": "Call", "description": "ok\n\u202eevil"}))
    refused = run_cli("approvals", "adjust", ident, "--payload", str(bidi), "--no-execute")
    assert_one_paragraph_error(
        refused, "description: contains a bidirectional-text control (U+202E", "Nothing was saved."
    )

    fine = tmp_path / "fine.json"
    literal = "[bold red]Hi[/] [link=https://x.test]y[/link]"
    body = "First line\n\tindented [i]second[/i]"
    fine.write_text(
        json.dumps(
            {
                "subject": literal,
                "priority": "Highest",
                "due_date": "2099-12-20",
                "description": body,
            }
        )
    )
    adjusted = run_cli("approvals", "adjust", ident, "--payload", str(fine), "--no-execute")
    assert adjusted.returncode == 0, adjusted.stderr
    shown = run_cli("approvals", "show", ident)
    assert shown.returncode == 0, shown.stderr
    assert f"Subject: {literal}" in shown.stdout
    assert "    First line" in shown.stdout
    assert "[i]second[/i]" in shown.stdout
    assert "\x1b" not in shown.stdout

    executed = run_cli("approvals", "execute")
    assert executed.returncode == 0, executed.stderr
    said = _said(executed.stdout)
    assert f"Task '{literal}' (2099-12-20, priority Highest)." in said, said
    record = _approval(ident).result_record_id
    assert record is not None
    task = _crm_task(record)
    assert task["Subject"] == literal
    assert str(task["Description"]).startswith(body)
