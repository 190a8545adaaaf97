"""The central audit sync against the real PostgreSQL server, each test in its own schema."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from sergas_tui.audit.central.conn import (
    CentralAuthError,
    CentralConnectionError,
    CentralPermissionError,
    CentralSchemaError,
    CentralTarget,
)
from sergas_tui.audit.central.schema import CENTRAL_SCHEMA_VERSION
from sergas_tui.audit.central.sync import (
    SyncProgress,
    outbox_status,
    purge_central,
    sync_once,
)
from sergas_tui.audit.central.verify import verify_remote
from sergas_tui.domain import AuditEvent
from sergas_tui.storage import Repository
from tests.helpers.central_audit import (
    Central,
    assert_central_equals_local,
    event,
    fill,
    outcome,
    terminate_sync_backends,
)
from tests.helpers.cli import assert_one_paragraph_error, run_cli


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    repository = Repository.open(tmp_path / "workspace.sqlite")
    try:
        yield repository
    finally:
        repository.close()


def test_sync_sends_every_row_once_and_marks_it(central: Central, repo: Repository) -> None:
    fill(repo, 95)
    repo.append_audit(event(95))
    for i in range(3):
        repo.save_outcome(outcome(i))
    batches: list[SyncProgress] = []

    report = sync_once(
        repo, central.target(), workspace="ws", batch_size=10, on_batch=batches.append
    )

    assert (report.audit_sent, report.audit_inserted) == (96, 96)
    assert (report.outcomes_sent, report.outcomes_inserted) == (3, 3)
    assert report.batches == len(batches) == 11
    assert report.schema is not None
    assert report.schema.to_version == CENTRAL_SCHEMA_VERSION
    assert central.count("audit_logs") == 96
    assert central.count("recommendation_outcomes") == 3
    status = outbox_status(repo)
    assert status.pending_rows == 0
    assert status.last_synced_at is not None
    assert status.last_error is None

    again = sync_once(repo, central.target(), workspace="ws", batch_size=10)
    assert (again.rows_sent, again.batches, again.schema) == (0, 0, None)
    assert central.count("audit_logs") == 96


def test_central_rows_equal_local_rows_content_and_hashes(
    central: Central, repo: Repository
) -> None:
    fill(repo, 40)
    sync_once(repo, central.target(), workspace="ws", batch_size=16)
    assert_central_equals_local(central, repo)
    rows = central.audit_rows()
    assert {r["workspace"] for r in rows} == {"ws"}
    assert {str(r["chain_id"]) for r in rows} == {repo.audit_chain_id()}
    assert all(r["workstation"] and r["user_name"] for r in rows)
    assert verify_remote(repo, central.target()).ok


def test_a_batch_committed_but_not_marked_is_sent_again_without_duplicates(
    central: Central, repo: Repository
) -> None:
    fill(repo, 30)
    sync_once(repo, central.target(), workspace="ws", batch_size=8)
    # As if the process died after the central commit and before the local mark.
    with sqlite3.connect(repo.path) as raw:
        raw.execute("UPDATE audit_logs SET synced_at = NULL WHERE seq > 12")
    fill(repo, 5, start=30)

    report = sync_once(repo, central.target(), workspace="ws", batch_size=8)

    assert (report.audit_sent, report.audit_inserted, report.audit_already_present) == (23, 5, 18)
    assert_central_equals_local(central, repo)


def test_an_updated_outcome_becomes_a_new_central_version(
    central: Central, repo: Repository
) -> None:
    first = outcome(1)
    repo.save_outcome(first)
    sync_once(repo, central.target(), workspace="ws")
    done = first.model_copy(
        update={"status": "completed", "executed_at": datetime(2026, 10, 2, tzinfo=UTC)}
    )
    repo.save_outcome(done)
    assert outbox_status(repo).pending_outcomes == 1

    report = sync_once(repo, central.target(), workspace="ws")

    assert report.outcomes_inserted == 1
    assert central.count("recommendation_outcome_versions") == 2
    with central.admin() as conn:
        latest = conn.execute("SELECT status, executed_at FROM recommendation_outcomes").fetchall()
    assert latest == [{"status": "completed", "executed_at": datetime(2026, 10, 2, tzinfo=UTC)}]
    assert verify_remote(repo, central.target()).ok


def test_the_least_privilege_role_syncs_but_cannot_alter_or_create(
    central: Central, repo: Repository
) -> None:
    sync_once(repo, central.target(), workspace="ws", migrate="only")  # the owner migrates
    role = central.sync_role()
    fill(repo, 25)
    repo.save_outcome(outcome(2))

    report = sync_once(repo, role, workspace="ws", batch_size=10)

    assert (report.audit_inserted, report.outcomes_inserted) == (25, 1)
    assert_central_equals_local(central, repo)
    assert verify_remote(repo, role).ok
    with psycopg.connect(role.dsn) as conn:
        for statement in (
            "UPDATE audit_logs SET decision_rationale = 'x'",
            "DELETE FROM audit_logs",
            "CREATE TABLE sneaky (id int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
    with pytest.raises(CentralPermissionError, match="DELETE"):
        purge_central(repo, role, retention_days=1)


def test_a_missing_schema_and_a_role_that_cannot_create_it(
    central: Central, repo: Repository
) -> None:
    role = central.sync_role()
    fill(repo, 3)
    with pytest.raises(CentralSchemaError, match="--migrate-only") as caught:
        sync_once(repo, role, workspace="ws")
    assert caught.value.exit_code == 2
    assert outbox_status(repo).pending_audit == 3
    assert "--migrate-only" in (outbox_status(repo).last_error or "")
    with pytest.raises(CentralSchemaError, match="no Sergas schema"):
        sync_once(repo, central.target(), workspace="ws", migrate="never")


def test_server_down_is_retried_with_backoff_then_reported(repo: Repository) -> None:
    fill(repo, 3)
    sleeps: list[float] = []
    target = CentralTarget("postgresql://sergas@127.0.0.1:1/none", connect_timeout=1)
    with pytest.raises(CentralConnectionError, match="outbox"):
        sync_once(repo, target, workspace="ws", max_attempts=4, sleep=sleeps.append)
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)
    assert sleeps[0] >= 0.5
    status = outbox_status(repo)
    assert status.pending_audit == 3
    assert status.last_error is not None


def test_a_refused_login_is_not_retried(central: Central, repo: Repository) -> None:
    sleeps: list[float] = []
    target = central.target(user=f"nobody_{uuid4().hex[:8]}")
    with pytest.raises(CentralAuthError, match="refused the login"):
        sync_once(repo, target, workspace="ws", sleep=sleeps.append)
    assert sleeps == []


def test_the_server_dropping_the_connection_mid_sync_is_survived(
    central: Central, repo: Repository
) -> None:
    fill(repo, 200)
    killed: list[int] = []

    def kill_some(progress: SyncProgress) -> None:
        if progress.batch in (2, 5, 9):
            killed.append(terminate_sync_backends(central))

    report = sync_once(
        repo,
        central.target(),
        workspace="ws",
        batch_size=15,
        sleep=lambda _: None,
        on_batch=kill_some,
    )

    assert killed == [1, 1, 1]
    assert report.retries == 3
    assert report.audit_sent == 200
    assert_central_equals_local(central, repo)


def test_verify_remote_names_an_edited_a_missing_and_an_extra_row(
    central: Central, repo: Repository
) -> None:
    fill(repo, 12)
    repo.save_outcome(outcome(3))
    sync_once(repo, central.target(), workspace="ws")
    fill(repo, 2, start=12)  # not synced yet: pending, not a difference
    rows = repo.audit_rows()
    edited, missing = rows[4], rows[7]
    with central.admin() as conn:
        conn.execute(
            "UPDATE audit_logs SET decision_rationale = 'rewritten', execution_time_ms = 1 "
            "WHERE id = %s",
            (edited["id"],),
        )
        conn.execute("DELETE FROM audit_logs WHERE id = %s", (missing["id"],))
        conn.execute(
            "INSERT INTO audit_logs (id, timestamp, session_id, agent_name, action_type, "
            "chain_id, seq, workstation, user_name, workspace) "
            "VALUES (%s, now(), 's', 'a', 'x', %s, 99, 'w', 'u', 'ws')",
            (str(uuid4()), repo.audit_chain_id()),
        )
        conn.execute("DELETE FROM recommendation_outcome_versions")

    result = verify_remote(repo, central.target())

    assert not result.ok
    assert (result.local_rows, result.central_rows, result.pending) == (14, 12, 2)
    by_kind = {d.kind: d for d in result.differences}
    assert set(by_kind) == {"differs", "missing", "extra", "outcome_missing"}
    assert by_kind["differs"].id == edited["id"]
    assert by_kind["differs"].seq == 5
    assert "decision_rationale, execution_time_ms" in by_kind["differs"].message
    assert "no longer matches its own row_hash" in by_kind["differs"].message
    assert by_kind["missing"].id == missing["id"]
    assert by_kind["missing"].seq == 8
    assert by_kind["extra"].seq == 99


def test_retention_purge_removes_old_rows_and_is_audited(
    central: Central, repo: Repository, fixed_now: datetime
) -> None:
    old = fixed_now - timedelta(days=800)
    repo.append_audit_batch(event(i, when=old + timedelta(minutes=i)) for i in range(5))
    repo.append_audit_batch(event(i, when=fixed_now - timedelta(days=3)) for i in range(5, 9))
    repo.save_outcome(outcome(4, created_at=old))
    sync_once(repo, central.target(), workspace="ws")

    report = purge_central(repo, central.target(), retention_days=730, now=fixed_now)

    assert (report.audit_rows_deleted, report.outcome_versions_deleted) == (5, 1)
    assert central.count("audit_logs") == 4
    purge_event = repo.audit_events(limit=1)[-1]
    assert purge_event.action_type == "audit_purged"
    assert purge_event.tool_outputs == {
        "audit_rows_deleted": 5,
        "outcome_versions_deleted": 1,
        "database": central.target().describe(),
    }
    sync_once(repo, central.target(), workspace="ws")
    with central.admin() as conn:
        actions = [r["action_type"] for r in conn.execute("SELECT action_type FROM audit_logs")]
    assert actions.count("audit_purged") == 1
    result = verify_remote(repo, central.target(), retention_days=730, now=fixed_now)
    assert result.ok
    assert result.expired == 6


# -- the command line -----------------------------------------------------------------------


SMALL_DEMO = ("--accounts", "90", "--owners", "3", "--seed", "7")


@pytest.fixture
def configured(central: Central, monkeypatch: pytest.MonkeyPatch) -> Central:
    monkeypatch.setenv("SERGAS_CENTRAL__DSN", central.dsn)
    monkeypatch.setenv("SERGAS_ZOHO__MODE", "demo")
    return central


def test_cli_sync_migrate_only_and_verify_remote(configured: Central) -> None:
    assert run_cli("demo", "generate", *SMALL_DEMO).returncode == 0
    migrated = run_cli("audit", "sync", "--migrate-only")
    assert migrated.returncode == 0, migrated.stderr
    assert f"v{CENTRAL_SCHEMA_VERSION}" in migrated.stdout
    from sergas_tui.locations import Locations

    path = Locations.from_env().database_file("demo")
    with Repository.open(path) as local:
        fill(local, 7)
    synced = run_cli("audit", "sync", "--batch-size", "3")
    assert synced.returncode == 0, synced.stderr
    assert "audit rows sent" in synced.stdout
    verified = run_cli("audit", "verify", "--remote")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Central audit matches the local chain" in verified.stdout
    with configured.admin() as conn:
        conn.execute("UPDATE audit_logs SET session_id = 'forged' WHERE seq = 2")
    tampered = run_cli("audit", "verify", "--remote")
    assert tampered.returncode == 1
    assert "seq 2" in tampered.stdout
    assert "session_id" in tampered.stdout
    doctor = run_cli("doctor")
    assert f"schema v{CENTRAL_SCHEMA_VERSION}" in doctor.stdout
    assert "0 audit rows and 0 outcomes pending" in doctor.stdout


def test_cli_without_a_dsn_is_a_config_error() -> None:
    result = run_cli("audit", "sync")
    assert result.returncode == 2
    assert "[central] dsn" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_headless_review_syncs_and_a_failed_sync_only_warns(
    configured: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("demo", "generate", *SMALL_DEMO).returncode == 0
    reviewed = run_cli("review")
    assert reviewed.returncode == 0, reviewed.stderr
    assert "Central audit:" in reviewed.stderr
    assert configured.count("audit_logs") > 0

    monkeypatch.setenv("SERGAS_CENTRAL__DSN", "postgresql://x@127.0.0.1:1/none")
    again = run_cli("review")
    assert again.returncode == 0
    assert "Warning: the central audit sync failed" in " ".join(again.stderr.split())


def test_purge_from_the_cli_needs_confirmation(configured: Central) -> None:
    assert run_cli("audit", "sync", "--migrate-only").returncode == 0
    declined = run_cli("audit", "purge", stdin="n\n")  # no terminal: not an answer
    assert_one_paragraph_error(declined, "Purging the central audit", "pass --yes")
    local = run_cli("audit", "purge", "--local")
    assert_one_paragraph_error(local, "Purging the local audit log", "Nothing was changed")
    purged = run_cli("audit", "purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert "recorded as audit event" in purged.stdout
    assert configured.count("audit_logs") == 1  # the purge event itself, synced


def test_crm_text_postgres_jsonb_cannot_hold_still_syncs_and_verifies(
    central: Central, repo: Repository
) -> None:
    """A NUL character (legal in CRM text, refused by jsonb) must not jam the outbox."""
    hostile = AuditEvent(
        session_id="s",
        agent_name="zoho_scout",
        action_type="tool_invocation",
        account_id="acc-nul",
        tool_name="zoho_get_notes",
        tool_inputs={"account_id": "acc-nul", "q": "a\x00b", "path": "C:\\u0000dir"},
        tool_outputs={"title": "\x00 leading", "big": 10**16},
    )
    repo.append_audit(hostile)
    fill(repo, 5)
    report = sync_once(repo, central.target(), workspace="ws", batch_size=3)
    assert report.audit_sent == 6
    assert repo.outbox_counts()[0] == 0
    assert verify_remote(repo, central.target()).ok
    with central.admin() as conn:
        row = conn.execute(
            "SELECT tool_inputs, tool_outputs FROM audit_logs WHERE account_id = 'acc-nul'"
        ).fetchone()
    assert row is not None
    assert row["tool_inputs"]["q"] == "a\ufffdb"
    assert row["tool_inputs"]["path"] == "C:\\u0000dir"  # an escaped backslash, not a NUL
    assert row["tool_outputs"]["title"] == "\ufffd leading"
    # The local row keeps the original text and its chain still verifies.
    assert json.loads(repo.audit_rows()[0]["tool_inputs"])["q"] == "a\x00b"
