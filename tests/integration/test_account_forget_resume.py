"""A `sergas account forget` that stops after the database step is finished by running it again.

The first run is made in-process with the compaction failing (as a full disk or another reader
would make it fail) after the workspace database committed the erasure; the second run is the
CLI in a subprocess, given the account's name, which the database no longer knows.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sergas_tui import account_forget
from sergas_tui.account_forget import PENDING_FILE_NAME, PendingForget, forget_account
from sergas_tui.clock import SystemClock
from sergas_tui.config import load_settings
from sergas_tui.domain.audit_chain import ERASURE_ACTION
from sergas_tui.errors import StorageError, WorkspaceError
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import Services, open_services
from sergas_tui.storage import Repository
from tests.helpers.account_export import SMALL, _account
from tests.helpers.cli import run_cli


def _pending_path() -> Path:
    return Locations.from_env().workspace_dir("demo") / PENDING_FILE_NAME


def _open() -> Services:
    locations = Locations.from_env()
    return open_services(
        load_settings(locations), locations, secrets=SecretStore(environ={}), clock=SystemClock()
    )


def _erasure_events() -> int:
    database = Locations.from_env().database_file("demo")
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_logs WHERE action_type = ?", (ERASURE_ACTION,)
        ).fetchone()
    return int(row[0])


@pytest.fixture
def reviewed() -> tuple[str, str]:
    """A reviewed demo workspace (local memory) and the account to forget, named in a log."""
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    review = run_cli("review")
    assert review.returncode == 0, review.stderr
    account_id, name = _account()
    locations = Locations.from_env()
    with locations.log_file.open("a", encoding="utf-8") as log:
        log.write(json.dumps({"event": f"slow read of {name} ({account_id})"}) + "\n")
    return account_id, name


async def _forget_failing_compaction(account_id: str, name: str) -> WorkspaceError:
    """Forget in-process with the compaction failing after the database step committed."""

    def full_disk(services: Services) -> None:
        raise StorageError("Could not compact sergas.db: database or disk is full.")

    services = _open()
    try:
        # A patch of its own (undoing the test's monkeypatch would also undo the autouse
        # fixtures' data and config dirs).
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(account_forget, "_compact_all", full_disk)
            with pytest.raises(WorkspaceError) as failed:
                await forget_account(services, account_id, name)
    finally:
        await services.aclose()
        services.close()
    return failed.value


async def test_a_forget_stopped_after_the_database_is_finished_by_running_it_again(
    reviewed: tuple[str, str],
) -> None:
    account_id, name = reviewed
    error = await _forget_failing_compaction(account_id, name)
    message = " ".join(error.message.split())
    assert "database or disk is full" in message
    assert f"Run `sergas account forget {account_id}` again to finish" in message

    # The database step committed: its records are gone and the erasure is recorded once.
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        assert account_id not in repo.latest_snapshots()
        assert repo.approvals_for(account_id) == []
    assert _erasure_events() == 1
    pending = json.loads(_pending_path().read_text(encoding="utf-8"))
    assert (pending["account_id"], pending["database_done"]) == (account_id, True)
    log = Locations.from_env().log_file
    assert name in log.read_text(encoding="utf-8")  # not scrubbed yet

    # The same command again, by the name the database no longer knows, finishes the work.
    finished = run_cli("account", "forget", name, "--yes")
    assert finished.returncode == 0, finished.stderr
    said = " ".join(finished.stderr.split())
    assert f"Finishing the forgetting of {name} ({account_id})" in said
    assert f"Forgot {name} ({account_id})" in said
    assert "erased by the earlier run" in said
    assert not _pending_path().exists()
    assert name not in log.read_text(encoding="utf-8")
    assert account_id not in log.read_text(encoding="utf-8")
    assert _erasure_events() == 1  # no second erasure event for the same account
    verified = run_cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Finished: the account is now unknown, like any forgotten one.
    gone = run_cli("account", "forget", name, "--yes")
    assert gone.returncode == 2
    assert "No account in this workspace" in " ".join(gone.stderr.split())


async def test_another_accounts_forget_waits_until_the_unfinished_one_is_done(
    reviewed: tuple[str, str],
) -> None:
    account_id, name = reviewed
    await _forget_failing_compaction(account_id, name)
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        other_id = next(i for i in sorted(repo.latest_snapshots()) if i != account_id)
        other_name = str(repo.latest_snapshots()[other_id].data["Account_Name"])
        other_approvals = len(repo.approvals_for(other_id))

    refused = run_cli("account", "forget", other_id, "--yes")
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert f"An earlier `sergas account forget` of {name} ({account_id}) did not finish" in said
    assert f"Run `sergas account forget {account_id}` to finish it first" in said
    assert f"nothing was changed for {other_name}" in said
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        assert len(repo.approvals_for(other_id)) == other_approvals

    assert run_cli("account", "forget", account_id, "--yes").returncode == 0
    assert run_cli("account", "forget", other_id, "--yes").returncode == 0
    assert _erasure_events() == 2


def test_a_damaged_pending_record_is_one_clear_error(reviewed: tuple[str, str]) -> None:
    account_id, name = reviewed
    _pending_path().write_text("{not json", encoding="utf-8")
    refused = run_cli("account", "forget", name, "--yes")
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert "the record of an unfinished `sergas account forget`, is damaged" in said
    assert "Traceback" not in refused.stderr
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        assert account_id in repo.latest_snapshots()  # nothing was changed


def test_the_record_round_trips_and_matches_by_id_or_name_in_any_case() -> None:
    record = PendingForget(
        account_id="4876876000000123",
        name="Acme Corp",
        owner="ae@example.com",
        names=("Acme Corp", "ACME Corporation"),
        shadows=("Acme Corp Logistics",),
        erasure_id="e1",
    )
    assert record.matches("acme corp")
    assert record.matches(" 4876876000000123 ")
    assert record.matches("acme corporation")
    assert not record.matches("Acme")
    assert not record.matches("")
    assert record.mentions.replace("Acme Corp and Acme Corp Logistics") == (
        "[erased] and Acme Corp Logistics"
    )


async def test_a_run_stopped_before_its_record_said_the_database_committed_is_finished(
    reviewed: tuple[str, str],
) -> None:
    """Killed between the database commit and the record's update: the erasure event in the
    log tells the next run that the database step is done (no second erasure)."""
    account_id, name = reviewed
    await _forget_failing_compaction(account_id, name)
    record = json.loads(_pending_path().read_text(encoding="utf-8"))
    _pending_path().write_text(json.dumps({**record, "database_done": False}), encoding="utf-8")

    finished = run_cli("account", "forget", account_id, "--yes")
    assert finished.returncode == 0, finished.stderr
    assert "erased by the earlier run" in " ".join(finished.stderr.split())
    assert not _pending_path().exists()
    assert _erasure_events() == 1
    assert name not in Locations.from_env().log_file.read_text(encoding="utf-8")


async def test_a_partial_name_that_finds_no_account_points_at_the_unfinished_forget(
    reviewed: tuple[str, str],
) -> None:
    account_id, name = reviewed
    await _forget_failing_compaction(account_id, name)
    partial = name.split()[0]
    refused = run_cli("account", "forget", partial, "--yes")
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2
    assert f"Run `sergas account forget {account_id}` to finish it" in said.replace(
        "run `", "Run `"
    )
