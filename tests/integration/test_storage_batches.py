"""The workspace database under a review's load (issue 17): chunked write batches, read
connections of their own, the version 9 indexes and ids without a read of OS randomness."""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from sergas_tui.audit.verify import verify_database
from sergas_tui.clock import FixedClock
from sergas_tui.domain import Approval, AuditEvent, Recommendation, new_id
from sergas_tui.errors import StorageError
from sergas_tui.storage import MIGRATIONS, SCHEMA_VERSION, Repository, backup_path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "sergas.db"


@pytest.fixture
def repo(db_path: Path, fixed_now: datetime) -> Iterator[Repository]:
    with Repository.open(db_path, clock=FixedClock(fixed_now)) as repository:
        yield repository


def _rec(account_id: str, n: int = 0) -> Recommendation:
    return Recommendation.model_validate(
        {
            "type": "create_task",
            "priority": "high",
            "confidence": "medium",
            "rationale": f"Renewal {n} in 30 days with no meeting booked.",
            "suggested_action": {"subject": "Book renewal review", "due_date": "2026-11-09"},
            "data_references": [f"zoho:Accounts:{account_id}"],
            "account_id": account_id,
            "status": "queued",
        }
    )


def _event(account_id: str, when: datetime) -> AuditEvent:
    return AuditEvent(
        session_id="run-1",
        agent_name="recommendation_author",
        action_type="recommendation_generated",
        timestamp=when,
        account_id=account_id,
        owner_email="a@x",
        tool_outputs={"account": account_id},
    )


def _account_unit(repo: Repository, account_id: str, when: datetime) -> None:
    """What a review stores for one account: recommendations, audit rows, then the snapshot."""
    recs = [_rec(account_id, 1), _rec(account_id, 2)]
    repo.save_recommendations(recs, owner_email="a@x")
    for _ in recs:
        repo.append_audit(_event(account_id, when))
    repo.save_snapshot(account_id, "a@x", {"name": account_id})


def _other_connection(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)


def _committed_snapshots(path: Path) -> int:
    conn = _other_connection(path)
    try:
        return int(conn.execute("SELECT count(*) FROM account_snapshots").fetchone()[0])
    finally:
        conn.close()


# --- write batches -------------------------------------------------------------------------------


def test_a_batch_commits_whole_units_in_chunks(
    repo: Repository, db_path: Path, fixed_now: datetime
) -> None:
    batch = repo.write_batch(chunk=3, max_delay=60)
    try:
        for i in range(7):
            batch.submit(partial(_account_unit, repo, f"acct-{i}", fixed_now)).result()
        # Two chunks of three are committed; the seventh unit waits in the open chunk.
        assert _committed_snapshots(db_path) == 6
        # The writer thread's own reads see it already (inside its unit, on its connection).
        assert batch.submit(lambda: repo.latest_snapshot("acct-6")).result() is not None
    finally:
        batch.close()
    assert _committed_snapshots(db_path) == 7
    assert batch.commits == 3
    assert verify_database(repo).ok


def test_a_failing_unit_leaves_nothing_and_the_others_go_on(
    repo: Repository, fixed_now: datetime
) -> None:
    def broken() -> None:
        _account_unit(repo, "acct-bad", fixed_now)
        raise RuntimeError("author blew up after writing")

    with repo.write_batch(chunk=10, max_delay=60) as batch:
        batch.submit(lambda: _account_unit(repo, "acct-1", fixed_now)).result()
        with pytest.raises(RuntimeError, match="blew up"):
            batch.submit(broken).result()
        batch.submit(lambda: _account_unit(repo, "acct-2", fixed_now)).result()
    assert repo.latest_snapshot("acct-bad") is None
    assert repo.recommendations_for("acct-bad") == []
    assert [e.account_id for e in repo.audit_events()] == ["acct-1"] * 2 + ["acct-2"] * 2
    assert [e.seq for e in repo.audit_events()] == [1, 2, 3, 4]
    assert verify_database(repo).ok


def test_another_write_commits_the_open_chunk_first(
    repo: Repository, db_path: Path, fixed_now: datetime
) -> None:
    with repo.write_batch(chunk=100, max_delay=60) as batch:
        batch.submit(lambda: _account_unit(repo, "acct-1", fixed_now)).result()
        assert _committed_snapshots(db_path) == 0
        # A decision made meanwhile (another thread, its own transaction) is stored when the
        # method returns, and takes the chunk's whole units with it.
        done = threading.Thread(target=lambda: repo.append_audit(_event("acct-9", fixed_now)))
        done.start()
        done.join()
        assert _committed_snapshots(db_path) == 1
        batch.submit(lambda: _account_unit(repo, "acct-2", fixed_now)).result()
    assert [e.account_id for e in repo.audit_events()] == ["acct-1"] * 2 + ["acct-9"] + [
        "acct-2"
    ] * 2
    assert verify_database(repo).ok


def test_a_batch_commits_after_its_delay_when_idle(repo: Repository, db_path: Path) -> None:
    with repo.write_batch(chunk=100, max_delay=0.05) as batch:
        batch.submit(lambda: repo.save_snapshot("a", "a@x", {"n": 1})).result()
        for _ in range(200):
            if _committed_snapshots(db_path):
                break
            threading.Event().wait(0.01)
        assert _committed_snapshots(db_path) == 1


def test_a_cancelled_unit_that_did_not_start_is_dropped(repo: Repository) -> None:
    gate = threading.Event()
    with repo.write_batch(chunk=100, max_delay=60) as batch:
        first = batch.submit(gate.wait)
        second = batch.submit(lambda: repo.save_snapshot("a", "a@x", {"n": 1}))
        assert second.cancel()
        gate.set()
        first.result()
    assert repo.latest_snapshot("a") is None


def test_closing_the_repository_commits_an_open_chunk(db_path: Path, fixed_now: datetime) -> None:
    repo = Repository.open(db_path)
    batch = repo.write_batch(chunk=100, max_delay=60)
    batch.submit(lambda: _account_unit(repo, "acct-1", fixed_now)).result()
    repo.close()
    batch.close()
    assert _committed_snapshots(db_path) == 1


# --- reads on their own connections -------------------------------------------------------------


def test_reads_do_not_wait_for_a_write_under_way(repo: Repository, fixed_now: datetime) -> None:
    _account_unit(repo, "acct-1", fixed_now)
    entered, release = threading.Event(), threading.Event()

    def slow_write() -> None:
        with repo.writing("hold the writer"):
            entered.set()
            release.wait(5)

    writer = threading.Thread(target=slow_write)
    writer.start()
    try:
        assert entered.wait(5)
        # The writer holds its lock and SQLite's write lock; reads go on, on their own
        # connections, from this thread and from others.
        assert repo.latest_snapshot("acct-1") is not None
        found: list[int] = []
        readers = [
            threading.Thread(target=lambda: found.append(len(repo.recommendations_for("acct-1"))))
            for _ in range(4)
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(5)
        assert found == [2, 2, 2, 2]
    finally:
        release.set()
        writer.join()


def test_a_read_inside_a_write_sees_that_write(repo: Repository) -> None:
    with repo.writing("test"):
        repo.save_snapshot("a", "a@x", {"n": 1})  # a savepoint of the outer write
        assert repo.latest_snapshot("a") is not None
        with repo.reading("test") as conn:
            assert conn.execute("SELECT count(*) FROM account_snapshots").fetchone()[0] == 1


def test_a_failing_write_inside_a_write_is_undone_alone(repo: Repository) -> None:
    with repo.writing("test"):
        repo.save_snapshot("a", "a@x", {"n": 1})
        with pytest.raises(StorageError):
            repo.save_snapshot("b", "a@x", {"n": 1}, run_id="no-such-run")
    assert repo.latest_snapshot("a") is not None
    assert repo.latest_snapshot("b") is None


def test_read_connections_cannot_write(repo: Repository) -> None:
    with repo.reading("test") as conn, pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM meta")


def test_a_closed_repository_refuses_reads_and_writes(db_path: Path) -> None:
    repo = Repository.open(db_path)
    repo.latest_snapshot("a")  # a read connection in the pool
    repo.close()
    with pytest.raises(StorageError):
        repo.latest_snapshot("a")
    with pytest.raises(StorageError):
        repo.save_snapshot("a", "a@x", {})
    repo.close()  # twice is fine


# --- version 9: an index for every lookup of a review -------------------------------------------


REVIEW_LOOKUPS = [
    "SELECT * FROM approvals WHERE account_id IN ('a', 'b') ORDER BY created_at, rowid",
    "SELECT * FROM approvals WHERE account_id = 'a' ORDER BY created_at, rowid",
    "SELECT count(*) FROM approvals WHERE owner_email = 'a@x' AND created_at >= '2026-11-02'",
    "SELECT count(*) FROM approvals WHERE status = 'pending' AND owner_email = 'a@x'",
    "SELECT account_id, payload FROM recommendations WHERE status = 'queued' "
    "AND account_id IN ('a', 'b') ORDER BY created_at, rowid",
    "SELECT payload FROM recommendations WHERE status = 'queued' AND account_id = 'a' "
    "ORDER BY created_at, rowid",
    "SELECT payload FROM recommendations WHERE status = 'queued' AND owner_email = 'a@x' "
    "ORDER BY created_at, rowid",
    "SELECT count(*) FROM recommendations WHERE status = 'queued' AND owner_email = 'a@x'",
    "SELECT DISTINCT account_id FROM recommendation_outcomes WHERE status = 'completed' "
    "AND outcome IS NULL AND account_id IN ('a', 'b')",
    "SELECT * FROM recommendation_outcomes WHERE account_id = 'a' ORDER BY created_at, rowid",
    "SELECT content_hash FROM account_snapshots WHERE account_id = 'a' ORDER BY id DESC LIMIT 1",
]


@pytest.mark.parametrize("sql", REVIEW_LOOKUPS)
def test_review_lookups_use_an_index(repo: Repository, sql: str) -> None:
    with repo.reading("test") as conn:
        plan = [str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert not [step for step in plan if step.startswith("SCAN")], plan


def test_a_version_8_workspace_is_upgraded_and_its_chain_still_verifies(
    db_path: Path, fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Build a version 8 database with this code's repository, minus migration 9.
    import sergas_tui.storage.database as database
    import sergas_tui.storage.migrations as migrations

    eight = MIGRATIONS[:8]
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", eight)
        patch.setattr(migrations, "SCHEMA_VERSION", 8)
        patch.setattr(database, "SCHEMA_VERSION", 8)
        with Repository.open(db_path, clock=FixedClock(fixed_now)) as old:
            assert old.schema_version() == 8
            for i in range(3):
                _account_unit(old, f"acct-{i}", fixed_now)
            old.add_approval(_approval(fixed_now, "acct-1"))
    with Repository.open(db_path, clock=FixedClock(fixed_now)) as repo:
        assert repo.schema_version() == SCHEMA_VERSION >= 9
        with repo.reading("test") as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"approvals_account", "recommendations_queued_account"} <= names
        assert [a.account_id for a in repo.approvals_for("acct-1")] == ["acct-1"]
        assert len(repo.queued_recommendations(account_id="acct-2")) == 2
        assert verify_database(repo).ok
        _account_unit(repo, "acct-3", fixed_now)
        assert verify_database(repo).ok
    assert backup_path(db_path, 8).exists()


def _approval(fixed_now: datetime, account_id: str) -> Approval:
    return Approval.model_validate(
        {
            "recommendation_id": "rec-1",
            "account_id": account_id,
            "owner_email": "a@x",
            "action_type": "create_task",
            "payload": {"subject": "Call", "due_date": "2026-11-09"},
            "created_at": fixed_now,
        }
    )


def test_review_inputs_read_many_accounts_at_once(repo: Repository, fixed_now: datetime) -> None:
    for i in range(3):
        _account_unit(repo, f"acct-{i}", fixed_now)
    repo.add_approval(_approval(fixed_now, "acct-1"))
    ids = [f"acct-{i}" for i in range(3)] + ["nobody"]
    inputs = repo.review_inputs(ids * 300)  # more ids than one IN list holds, repeated
    assert set(inputs.queued) == {"acct-0", "acct-1", "acct-2"}
    for account_id, queued in inputs.queued.items():
        assert queued == repo.queued_recommendations(account_id=account_id)
    assert inputs.approvals == {"acct-1": repo.approvals_for("acct-1")}
    assert inputs.outcomes_due == set()
    assert repo.queued_recommendation_count("a@x") == 6


# --- ids -----------------------------------------------------------------------------------------


def test_ids_are_version_4_uuids_and_unique() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:100]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_other_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != new_id()
    assert uuid.UUID(child).version == 4


def test_audit_rows_written_in_a_batch_keep_their_times(
    repo: Repository, fixed_now: datetime
) -> None:
    with repo.write_batch(chunk=2, max_delay=60) as batch:
        for i in range(5):
            when = fixed_now + timedelta(seconds=i)
            batch.submit(partial(repo.append_audit, _event(f"a{i}", when)))
    events = repo.audit_events()
    assert [e.timestamp for e in events] == [fixed_now + timedelta(seconds=i) for i in range(5)]
    assert verify_database(repo).ok
