"""The workspace database on real files: opening, refusing, migrating, and the repository."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sergas_tui.domain import (
    Approval,
    ApprovalStatus,
    AuditEvent,
    Recommendation,
    RecommendationOutcome,
)
from sergas_tui.errors import DatabaseCorruptError, DatabaseVersionError, StorageError
from sergas_tui.storage import MIGRATIONS, SCHEMA_VERSION, Repository, backup_path, rows
from sergas_tui.storage.migrations import statements


class StepClock:
    """A clock that starts at ``start`` and moves one second per reading."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "sergas.db"


@pytest.fixture
def repo(db_path: Path, fixed_now: datetime) -> Iterator[Repository]:
    with Repository.open(db_path, clock=StepClock(fixed_now)) as repository:
        yield repository


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dump(path: Path) -> tuple[int, list[tuple[str]], list[tuple[str]]]:
    """(user_version, table names, rows of ``notes``) of a database file."""
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'notes'"
        ).fetchall()
        return version, tables, conn.execute("SELECT body FROM notes").fetchall()
    finally:
        conn.close()


def _side_files(path: Path) -> dict[str, int]:
    """Sizes of the -wal/-shm files next to ``path`` (absent ones left out)."""
    found = {}
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            found[suffix] = side.stat().st_size
    return found


# --- opening -----------------------------------------------------------------------------------


def test_fresh_database_is_created_at_the_current_version(db_path: Path) -> None:
    assert not db_path.parent.exists()
    with Repository.open(db_path, app_version="9.9.9") as repo:
        assert db_path.is_file()
        assert repo.schema_version() == SCHEMA_VERSION
        info = repo.info()
    assert info.journal_mode == "wal"
    assert info.created_by_version == info.last_opened_by_version == "9.9.9"
    assert not list(db_path.parent.glob("*.bak-v*"))
    conn = sqlite3.connect(db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"meta", "sync_runs", "account_snapshots", "approvals", "audit_logs"} <= tables
    assert {"recommendation_outcomes", "recommendations"} <= tables


def test_connection_is_configured(repo: Repository) -> None:
    conn = repo._conn
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_is_idempotent(db_path: Path) -> None:
    with Repository.open(db_path, app_version="1.0.0") as repo:
        repo.start_sync_run()
    with Repository.open(db_path, app_version="1.1.0") as repo:
        info = repo.info()
    assert info.schema_version == SCHEMA_VERSION
    assert info.row_counts["sync_runs"] == 1
    assert (info.created_by_version, info.last_opened_by_version) == ("1.0.0", "1.1.0")
    assert not list(db_path.parent.glob("*.bak-v*"))


def test_empty_existing_file_is_migrated_without_backup(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.touch()
    with Repository.open(db_path) as repo:
        assert repo.schema_version() == SCHEMA_VERSION
    assert not backup_path(db_path, 0).exists()


def test_v0_database_with_data_is_backed_up_once_then_migrated(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('kept')")
    conn.commit()
    conn.close()
    original = db_path.read_bytes()

    with Repository.open(db_path) as repo:
        assert repo.schema_version() == SCHEMA_VERSION
    backup = backup_path(db_path, 0)
    assert backup.name == "sergas.db.bak-v0"
    assert _dump(backup) == (0, [("notes",)], [("kept",)])
    assert _dump(db_path)[0] == SCHEMA_VERSION
    assert _dump(db_path)[2] == [("kept",)]
    first_backup = _digest(backup)

    # Migrating again from v0 (here: the v0 file put back) keeps the first backup.
    for side in db_path.parent.glob("sergas.db-*"):
        side.unlink()
    db_path.write_bytes(original)
    Repository.open(db_path).close()
    assert _digest(backup) == first_backup


def test_failed_migration_rolls_back(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE meta (something_else INTEGER)")  # clashes with migration 1
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="meta"):
        Repository.open(db_path)
    check = sqlite3.connect(db_path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 0
    tables = [r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    check.close()
    assert tables == ["meta"]


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(64 * 1024))


def _fake_header(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + bytes(84) + b"not really a database" * 500)


def _tiny(path: Path) -> None:
    path.write_bytes(b"SQLi")


def _truncated(path: Path) -> None:
    with Repository.open(path) as repo:
        for i in range(300):
            repo.save_snapshot(f"acct-{i}", "a@x", {"blob": "x" * 400, "i": i})
    data = path.read_bytes()
    assert len(data) > 100_000
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "damage",
    [_random_bytes, _fake_header, _tiny, _truncated],
    ids=["random-bytes", "fake-header", "tiny", "truncated"],
)
def test_corrupt_file_is_refused_and_left_untouched(
    db_path: Path, damage: Callable[[Path], None]
) -> None:
    db_path.parent.mkdir(parents=True)
    damage(db_path)
    before = _digest(db_path)
    for _ in range(2):  # a second attempt must not find anything changed either
        with pytest.raises(DatabaseCorruptError) as caught:
            Repository.open(db_path)
        assert _digest(db_path) == before
    message = str(caught.value)
    assert str(db_path) in message
    assert "untouched" in message
    assert "sergas demo reset" in message
    assert caught.value.title == "Database is damaged"
    assert not list(db_path.parent.glob("*.bak-v*"))
    # Side files, if SQLite made any for its read-only look, hold nothing to replay.
    assert _side_files(db_path).get("-wal", 0) == 0


def test_newer_database_is_refused_and_left_untouched(db_path: Path) -> None:
    with Repository.open(db_path) as repo:
        repo.start_sync_run()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    assert _side_files(db_path) == {}
    before = _digest(db_path)
    for _ in range(2):
        with pytest.raises(DatabaseVersionError) as caught:
            Repository.open(db_path)
        assert _digest(db_path) == before
    message = str(caught.value)
    assert str(SCHEMA_VERSION + 5) in message
    assert f"up to {SCHEMA_VERSION}" in message
    assert "Upgrade Sergas" in message
    assert _side_files(db_path).get("-wal", 0) == 0
    assert not list(db_path.parent.glob("*.bak-v*"))


def test_unreadable_location_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError):
        Repository.open(blocker / "sergas.db")


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) == SCHEMA_VERSION
    assert [m.name for m in MIGRATIONS] == [
        "initial schema",
        "owner briefs",
        "approval conflicts",
        "approval grants",
        "CRM read cache",
        "approval write sets",
        "signal mutes",
        "audit chain head and immutable hashes",
        "indexes for a review's lookups",
        "team mode outbox",
        "audit erasure and local retention",
    ]


def test_statement_splitter_keeps_trigger_bodies_whole() -> None:
    script = (
        "CREATE TABLE a (x);\nCREATE TRIGGER t BEFORE DELETE ON a BEGIN SELECT 1; SELECT 2; END;"
        "\n-- trailing comment\n"
    )
    parts = statements(script)
    assert len(parts) == 2
    assert parts[1].startswith("CREATE TRIGGER")
    assert parts[1].endswith("END;")


# --- snapshots and sync runs ---------------------------------------------------------------------


def test_snapshots_skip_unchanged_content(repo: Repository) -> None:
    run = repo.start_sync_run("a@x")
    assert repo.save_snapshot("1", "a@x", {"name": "Acme", "rating": "Hot"}, run.id)
    assert not repo.save_snapshot("1", "a@x", {"rating": "Hot", "name": "Acme"}, run.id)
    assert repo.save_snapshot("1", "a@x", {"name": "Acme", "rating": "Cold"}, run.id)
    assert repo.info().row_counts["account_snapshots"] == 2
    latest = repo.latest_snapshot("1")
    assert latest is not None
    assert latest.data == {"name": "Acme", "rating": "Cold"}
    assert latest.run_id == run.id
    assert latest.taken_at.tzinfo is not None
    assert repo.latest_snapshot("missing") is None


def test_reverting_to_an_older_state_is_a_new_snapshot(repo: Repository) -> None:
    assert repo.save_snapshot("1", "a@x", {"v": 1})
    assert repo.save_snapshot("1", "a@x", {"v": 2})
    assert repo.save_snapshot("1", "a@x", {"v": 1})


def test_latest_snapshots_by_owner(repo: Repository) -> None:
    repo.save_snapshot("1", "a@x", {"v": 1})
    repo.save_snapshot("2", "b@x", {"v": 1})
    repo.save_snapshot("1", "a@x", {"v": 2})
    repo.save_snapshot("3", "a@x", {"v": 1})
    repo.save_snapshot("3", "b@x", {"v": 2})  # account 3 moved to b@x
    everything = repo.latest_snapshots()
    assert {k: v.data for k, v in everything.items()} == {"1": {"v": 2}, "2": {"v": 1},
                                                         "3": {"v": 2}}  # fmt: skip
    assert set(repo.latest_snapshots("a@x")) == {"1"}
    assert set(repo.latest_snapshots("b@x")) == {"2", "3"}


def test_snapshot_run_id_must_exist(repo: Repository) -> None:
    with pytest.raises(StorageError, match="FOREIGN KEY"):
        repo.save_snapshot("1", "a@x", {"v": 1}, run_id="no-such-run")


def test_sync_runs(repo: Repository, fixed_now: datetime) -> None:
    assert repo.last_sync("a@x") is None
    first = repo.start_sync_run("*")
    assert first.status == "running"
    repo.finish_sync_run(first.id, calls=12)
    failed = repo.start_sync_run("a@x", modified_since=fixed_now)
    repo.finish_sync_run(failed.id, status="failed", calls=3)
    assert repo.last_sync("a@x") == repo.last_sync("*")
    last = repo.last_sync("a@x")
    assert last is not None
    assert (last.id, last.calls, last.status) == (first.id, 12, "ok")
    assert last.finished_at is not None
    assert last.finished_at > last.started_at
    own = repo.start_sync_run("a@x", modified_since=first.started_at)
    done = repo.finish_sync_run(own.id, calls=2)
    assert done.modified_since == first.started_at
    assert repo.last_sync("a@x") == done
    assert repo.last_sync("*") == last
    assert repo.last_sync("b@x") == last
    with pytest.raises(ValueError, match="no sync run"):
        repo.finish_sync_run("nope")


# --- recommendations, approvals, outcomes --------------------------------------------------------


def _recommendation(account_id: str | None = "123", **overrides: object) -> Recommendation:
    data: dict[str, object] = {
        "type": "create_task",
        "priority": "high",
        "confidence": "medium",
        "rationale": "Renewal in 30 days with no meeting booked.",
        "suggested_action": {"subject": "Book renewal review", "due_date": "2026-11-09"},
        "data_references": ["zoho:Accounts:123", "zoho:Deals:555"],
        "account_id": account_id,
    }
    return Recommendation.model_validate(data | overrides)


def test_recommendations_round_trip(repo: Repository) -> None:
    run = repo.start_sync_run("a@x")
    first, second = _recommendation(), _recommendation(priority="low")
    repo.save_recommendations([first, second], run_id=run.id, owner_email="a@x")
    assert repo.recommendations_for("123") == [first, second]
    changed = first.model_copy(update={"status": "approved"})
    repo.save_recommendations([changed])
    assert repo.recommendations_for("123")[0].status == "approved"
    assert repo.info().row_counts["recommendations"] == 2
    assert repo.recommendations_for("other") == []


def test_recommendation_without_account_is_refused(repo: Repository) -> None:
    with pytest.raises(ValueError, match="account_id"):
        repo.save_recommendations([_recommendation(account_id=None)])


def _approval(fixed_now: datetime, owner: str = "a@x", **overrides: object) -> Approval:
    data: dict[str, object] = {
        "recommendation_id": "rec-1",
        "account_id": "123",
        "owner_email": owner,
        "action_type": "update_account",
        "payload": {"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]},
        "created_at": fixed_now,
    }
    return Approval.model_validate(data | overrides)


def test_approvals_round_trip(repo: Repository, fixed_now: datetime) -> None:
    approval = _approval(fixed_now)
    repo.add_approval(approval)
    assert repo.get_approval(approval.id) == approval
    assert repo.get_approval("missing") is None
    other = _approval(fixed_now + timedelta(minutes=1), owner="b@x")
    repo.add_approval(other)
    assert repo.pending_approvals() == [approval, other]
    assert repo.pending_approvals("b@x") == [other]
    assert (repo.pending_approval_count(), repo.pending_approval_count("a@x")) == (2, 1)


def test_approval_tokens_are_unique(repo: Repository, fixed_now: datetime) -> None:
    approval = _approval(fixed_now)
    repo.add_approval(approval)
    with pytest.raises(StorageError, match="UNIQUE"):
        repo.add_approval(_approval(fixed_now, token=approval.token))


def test_approval_updates_are_compare_and_set(repo: Repository, fixed_now: datetime) -> None:
    approval = _approval(fixed_now)
    repo.add_approval(approval)
    decided = approval.model_copy(
        update={"status": ApprovalStatus.ADJUSTED, "decided_by": "a@x", "decided_at": fixed_now}
    )
    assert repo.update_approval(decided, expected_status=ApprovalStatus.PENDING)
    # A second decision from a stale view loses: the token was already spent.
    rejected = approval.model_copy(update={"status": ApprovalStatus.REJECTED})
    assert not repo.update_approval(rejected, expected_status=ApprovalStatus.PENDING)
    stored = repo.get_approval(approval.id)
    assert stored == decided
    assert repo.pending_approval_count() == 0
    with pytest.raises(ValueError, match="cannot go from"):
        repo.update_approval(decided, expected_status=ApprovalStatus.EXECUTED)


def test_outcomes_round_trip(repo: Repository, fixed_now: datetime) -> None:
    outcome = RecommendationOutcome(
        recommendation_id="rec-1",
        account_id="123",
        created_at=fixed_now,
        recommendation_type="create_task",
        status="completed",
        approved_by="a@x",
        approved_at=fixed_now,
        outcome="successful",
        effectiveness_score=0.8,
        data_sources=["zoho:Accounts:123"],
    )
    repo.save_outcome(outcome)
    repo.save_outcome(outcome.model_copy(update={"effectiveness_score": 0.9}))
    assert repo.outcomes_for("123") == [outcome.model_copy(update={"effectiveness_score": 0.9})]


# --- audit ---------------------------------------------------------------------------------------


def _event(i: int, when: datetime) -> AuditEvent:
    return AuditEvent(
        session_id="s1",
        agent_name="zoho_scout",
        action_type="tool_invocation",
        timestamp=when,
        tool_name="zoho_get_accounts",
        tool_inputs={"page": i},
        tool_outputs={"data": [{"id": str(i), "SSN": "123-45-6789"}]},
        execution_time_ms=12,
    )


def test_audit_sequence_increments(repo: Repository, fixed_now: datetime) -> None:
    stored = [repo.append_audit(_event(i, fixed_now + timedelta(seconds=i))) for i in range(5)]
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    events = repo.audit_events()
    assert events == stored
    assert events[0].tool_outputs == {"data": [{"id": "0", "SSN": "[REDACTED]"}]}
    assert [e.seq for e in repo.audit_events(limit=2)] == [4, 5]
    since = repo.audit_events(since=fixed_now + timedelta(seconds=3))
    assert [e.seq for e in since] == [4, 5]


def test_audit_log_is_append_only(repo: Repository, fixed_now: datetime) -> None:
    repo.append_audit(_event(1, fixed_now))
    conn = repo._conn
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_logs")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_logs SET tool_name = 'other'")
    conn.execute("UPDATE audit_logs SET synced_at = '2026-11-02T10:00:00+00:00'")


def test_audit_appends_from_many_threads_get_distinct_seqs(
    repo: Repository, fixed_now: datetime
) -> None:
    def work(offset: int) -> None:
        for i in range(20):
            repo.append_audit(_event(offset + i, fixed_now))

    threads = [threading.Thread(target=work, args=(n * 100,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = [e.seq for e in repo.audit_events(limit=1000)]
    assert seqs == list(range(1, 101))


# --- info ----------------------------------------------------------------------------------------


def test_info_counts_rows(repo: Repository, fixed_now: datetime, db_path: Path) -> None:
    run = repo.start_sync_run()
    repo.save_snapshot("1", "a@x", {"v": 1}, run.id)
    repo.save_snapshot("2", "a@x", {"v": 1}, run.id)
    repo.save_recommendations([_recommendation()])
    repo.add_approval(_approval(fixed_now))
    repo.append_audit(_event(1, fixed_now))
    info = repo.info()
    assert info.path == db_path
    assert info.size_bytes == os.path.getsize(db_path) > 0
    assert info.schema_version == SCHEMA_VERSION
    assert info.row_counts == {
        "sync_runs": 1,
        "account_snapshots": 2,
        "recommendations": 1,
        "approvals": 1,
        "audit_logs": 1,
        "recommendation_outcomes": 0,
        "briefs": 0,
    }


def test_closed_repository_raises_storage_error(db_path: Path) -> None:
    repo = Repository.open(db_path)
    repo.close()
    with pytest.raises(StorageError):
        repo.pending_approval_count()


# --- migration 3: approvals may be in conflict, and carry details ------------------------------


def _v2_database(path: Path, fixed_now: datetime) -> Approval:
    """A database at schema version 2 holding one decided approval; returns that approval."""
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        for statement in statements(migration.script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    approval = _approval(
        fixed_now,
        status=ApprovalStatus.APPROVED,
        decided_by="a@x",
        decided_at=fixed_now,
        decision_rationale="fine",
    )
    values = rows.approval_values(approval)
    del values["details"], values["also"]  # not v2 columns
    rows.insert(conn, "approvals", values)
    conn.commit()
    conn.close()
    return approval


def test_v2_approvals_survive_migration_3(db_path: Path, fixed_now: datetime) -> None:
    approval = _v2_database(db_path, fixed_now)
    with Repository.open(db_path) as repo:
        assert repo.schema_version() == SCHEMA_VERSION >= 3
        assert repo.get_approval(approval.id) == approval
        # The new CHECK allows conflict, and the details column round-trips.
        executing = approval.model_copy(update={"status": ApprovalStatus.EXECUTING})
        assert repo.update_approval(executing, expected_status=ApprovalStatus.APPROVED)
        conflict = executing.model_copy(
            update={"status": ApprovalStatus.CONFLICT, "details": {"current": {"Rating": "Cold"}}}
        )
        assert repo.update_approval(conflict, expected_status=ApprovalStatus.EXECUTING)
        assert repo.get_approval(approval.id) == conflict
    assert backup_path(db_path, 2).exists()
    conn = sqlite3.connect(db_path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(approvals)")]
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(approvals)")}
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert columns[-2:] == ["details", "also"]  # v3 appended details, v6 the write set
    assert columns[:3] == ["id", "recommendation_id", "account_id"]
    assert {"approvals_status", "approvals_recommendation"} <= indexes
    assert "approvals_v3" not in tables


def test_unknown_status_is_still_refused_by_the_database(repo: Repository, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(
                "INSERT INTO approvals (id, recommendation_id, account_id, owner_email, "
                "action_type, payload, status, token, created_at, expires_at) "
                "VALUES ('x', 'r', 'a', 'o', 'add_note', '{}', 'bogus', 't', 'c', 'e')"
            )
    finally:
        conn.close()
