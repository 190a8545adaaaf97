"""A chain that cannot be reset silently: immutable hashes, legacy rows only where schema 8
recorded them, and the chain's head kept twice more (``meta.audit_head``, the checkpoint file)
so that a log cut short is found locally too. On real database files.

Tampering goes through a raw sqlite3 connection after dropping every trigger of
``audit_logs``, as someone with write access to the file could.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from sergas_tui.audit import check_anchor, verify_database
from sergas_tui.audit.anchor import checkpoint_path, read_checkpoint
from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.audit.central.sync import sync_once
from sergas_tui.cli.main import main
from sergas_tui.doctor import run_checks
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import (
    GENESIS,
    HEAD_META_KEY,
    LEGACY_META_KEY,
    AuditHead,
    row_hash,
)
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.storage import MIGRATIONS, Repository, backup_path, rows
from sergas_tui.storage.migrations import statements
from tests.fakes.audit_head import reseal

N = 8


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "sergas.db"


@pytest.fixture
def repo(db_path: Path) -> Iterator[Repository]:
    with Repository.open(db_path) as repository:
        yield repository


def _event(i: int, when: datetime, **extra: object) -> AuditEvent:
    return AuditEvent.model_validate(
        {
            "session_id": "s1",
            "agent_name": "zoho_scout",
            "action_type": "tool_invocation",
            "timestamp": when + timedelta(seconds=i),
            "tool_name": "zoho_get_accounts",
            "tool_inputs": {"page": i},
            "execution_time_ms": 12,
            **extra,
        }
    )


@pytest.fixture
def filled(repo: Repository, fixed_now: datetime) -> Repository:
    for i in range(1, N + 1):
        repo.append_audit(_event(i, fixed_now))
    return repo


def _raw(db_path: Path) -> sqlite3.Connection:
    """A connection to the file with every trigger of audit_logs dropped (commit yourself)."""
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_logs'"
    ).fetchall()
    for (name,) in names:
        conn.execute(f'DROP TRIGGER "{name}"')
    return conn


def _tamper(db_path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    with closing(_raw(db_path)) as conn:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()


def _ids(repo: Repository) -> dict[int, str]:
    return {int(r["seq"]): str(r["id"]) for r in repo.audit_rows()}


def _forged_row(seq: int, prev_hash: str, when: datetime) -> dict[str, Any]:
    """A row as an attacker who knows the hash scheme would write it: correctly hashed."""
    event = _event(seq, when, id=f"forged-{seq}", agent_name="mallory").model_copy(
        update={"seq": seq}
    )
    values = rows.audit_values(event)
    values["prev_hash"] = prev_hash
    values["row_hash"] = row_hash(prev_hash, values)
    return values


def _insert(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    rows.insert(conn, "audit_logs", values)


def _head(repo: Repository) -> AuditHead:
    text = repo.meta_value(HEAD_META_KEY)
    assert text is not None
    return AuditHead.loads(text)


# --- (a) the hash columns are immutable ---------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL",
        "UPDATE audit_logs SET row_hash = NULL WHERE seq = 8",
        "UPDATE audit_logs SET prev_hash = '" + GENESIS + "' WHERE seq = 2",
        "UPDATE audit_logs SET row_hash = 'abc' WHERE seq = 1",
        "DELETE FROM audit_logs WHERE seq = 8",
    ],
)
def test_the_triggers_refuse_to_change_hashes(filled: Repository, db_path: Path, sql: str) -> None:
    with (
        closing(sqlite3.connect(db_path)) as conn,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        conn.execute(sql)
    assert verify_database(filled).ok


def test_a_row_without_hashes_cannot_be_inserted(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    with (
        closing(sqlite3.connect(db_path)) as conn,
        pytest.raises(sqlite3.IntegrityError, match="hash-chained"),
    ):
        conn.execute(
            "INSERT INTO audit_logs (id, seq, timestamp, session_id, agent_name, action_type) "
            "VALUES ('forged', 9, ?, 's1', 'mallory', 'action_executed')",
            (fixed_now.isoformat(),),
        )


def test_synced_at_stays_updatable(filled: Repository, fixed_now: datetime) -> None:
    assert filled.mark_audit_synced(1, N, fixed_now) == N
    assert all(r["synced_at"] for r in filled.audit_rows())
    assert verify_database(filled).ok


# --- (b) removing hashes and starting a new chain -----------------------------------------------


def test_removed_hashes_and_a_forged_chain_start_are_named(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    ids = _ids(filled)
    with closing(_raw(db_path)) as conn:
        conn.execute("UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL")
        _insert(conn, _forged_row(N + 1, GENESIS, fixed_now))
        conn.commit()

    result = verify_database(filled)

    assert not result.ok
    assert result.unchained == 0
    found = {(p.seq, p.id, p.kind) for p in result.problems}
    assert (1, ids[1], "unchained") in found
    assert (N + 1, f"forged-{N + 1}", "restarted") in found
    unchained = next(p for p in result.problems if p.kind == "unchained")
    assert f"seq 1 to {N}" in unchained.message
    assert ids[1] in unchained.message
    assert ids[N] in unchained.message
    # The forged row also lies beyond the head recorded with the last real append.
    assert (N + 1, f"forged-{N + 1}", "inserted") in found


def test_removed_hashes_then_a_normal_append_still_fail(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    ids = _ids(filled)
    _tamper(db_path, ("UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL", ()))
    filled.append_audit(_event(N + 1, fixed_now))
    result = verify_database(filled)
    assert [(p.seq, p.id, p.kind) for p in result.problems] == [(1, ids[1], "unchained")]


def test_hashes_removed_in_the_middle_are_named(filled: Repository, db_path: Path) -> None:
    ids = _ids(filled)
    _tamper(db_path, ("UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL WHERE seq = 4", ()))
    problems = verify_database(filled).problems
    assert [(p.seq, p.id, p.kind) for p in problems] == [(4, ids[4], "unchained")]
    assert "after the chain began" in problems[0].message


def test_a_second_chain_start_in_the_middle_is_named(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    # Rows 5..8 replaced by a fresh, self-consistent chain, and the head re-recorded.
    with closing(_raw(db_path)) as conn:
        conn.execute("DELETE FROM audit_logs WHERE seq > 4")
        prev = GENESIS
        for seq in range(5, N + 1):
            values = _forged_row(seq, prev, fixed_now)
            _insert(conn, values)
            prev = values["row_hash"]
        reseal(conn, db_path)
        conn.commit()
    problems = verify_database(filled).problems
    assert [(p.seq, p.id, p.kind) for p in problems] == [(5, "forged-5", "restarted")]
    assert "after the chained row seq 4" in problems[0].message


# --- (c) a truncated tail is found locally ------------------------------------------------------


def test_deleting_the_last_rows_is_found_by_the_recorded_head(
    filled: Repository, db_path: Path
) -> None:
    _tamper(db_path, ("DELETE FROM audit_logs WHERE seq > 5", ()))
    result = verify_database(filled)
    assert not result.ok
    assert [(p.seq, p.id, p.kind) for p in result.problems] == [(6, None, "deleted")]
    assert "missing at the end: seq 6 to 8 (3 rows)" in result.problems[0].message
    assert not check_anchor(filled).ok


def test_a_truncated_tail_stays_visible_after_the_next_append(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    _tamper(db_path, ("DELETE FROM audit_logs WHERE seq > 5", ()))
    stored = filled.append_audit(_event(N + 1, fixed_now))
    # The chain continues from its recorded head: the missing rows become a gap.
    assert stored.seq == N + 1
    problems = verify_database(filled).problems
    assert [(p.seq, p.kind) for p in problems] == [(6, "deleted")]
    assert "seq 6 to 8" in problems[0].message


def test_deleting_the_tail_and_forging_the_recorded_head_is_found_by_the_checkpoint(
    filled: Repository, db_path: Path
) -> None:
    assert verify_database(filled).ok  # an intact verification checkpoints the head
    checkpoint = checkpoint_path(db_path)
    assert read_checkpoint(checkpoint)[0] == _head(filled)
    saved = checkpoint.read_text()
    with closing(_raw(db_path)) as conn:
        conn.execute("DELETE FROM audit_logs WHERE seq > 5")
        reseal(conn, db_path)  # the head in meta now says seq 5
        conn.commit()
    checkpoint.write_text(saved)  # (reseal drops it; this attacker left it alone)
    problems = verify_database(filled).problems
    assert [(p.seq, p.kind) for p in problems] == [(6, "deleted")]
    assert "seq 6 to 8 (3 rows)" in problems[0].message
    assert checkpoint.name in problems[0].message
    assert checkpoint.read_text() == saved


def test_a_rewritten_history_is_found_by_the_checkpoint(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    assert verify_database(filled).ok
    # Row 3 rewritten, every later hash recomputed, the recorded head forged to match.
    with closing(_raw(db_path)) as conn:
        found = [dict(r) for r in conn.execute("SELECT * FROM audit_logs ORDER BY seq")]
        prev = found[1]["row_hash"]
        for row in found[2:]:
            if row["seq"] == 3:
                row["decision_rationale"] = "looked fine to me"
            row["prev_hash"] = prev
            row["row_hash"] = prev = row_hash(prev, row)
            conn.execute(
                "UPDATE audit_logs SET decision_rationale = ?, prev_hash = ?, row_hash = ? "
                "WHERE seq = ?",
                (row["decision_rationale"], row["prev_hash"], row["row_hash"], row["seq"]),
            )
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = ?",
            (AuditHead(N, N, prev).dumps(), HEAD_META_KEY),
        )
        conn.commit()
    problems = verify_database(filled).problems
    assert [(p.seq, p.kind) for p in problems] == [(N, "edited")]
    assert "rewritten at or before it" in problems[0].message
    # The checkpoint was not moved forward over the rewrite.
    assert not verify_database(filled).ok


def test_a_rehashed_last_row_is_found_by_the_recorded_head(
    filled: Repository, db_path: Path
) -> None:
    last = filled.audit_rows(N - 1)[0]
    last["decision_rationale"] = "nothing to see"
    _tamper(
        db_path,
        (
            "UPDATE audit_logs SET decision_rationale = ?, row_hash = ? WHERE seq = ?",
            (last["decision_rationale"], row_hash(last["prev_hash"], last), N),
        ),
    )
    problems = verify_database(filled).problems
    assert [(p.seq, p.id, p.kind) for p in problems] == [(N, last["id"], "edited")]
    assert "not the recorded head" in problems[0].message


def test_a_correctly_chained_row_appended_behind_sergas_back_is_found(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    head = filled.audit_rows(N - 1)[0]["row_hash"]
    with closing(_raw(db_path)) as conn:
        _insert(conn, _forged_row(N + 1, head, fixed_now))
        conn.commit()
    problems = verify_database(filled).problems
    assert [(p.seq, p.id, p.kind) for p in problems] == [(N + 1, f"forged-{N + 1}", "inserted")]
    assert "not appended by Sergas" in problems[0].message


@pytest.mark.parametrize("value", [None, "{not json", '{"seq": -1, "count": 0, "row_hash": null}'])
def test_a_missing_or_unreadable_head_is_a_failure(
    filled: Repository, db_path: Path, value: str | None
) -> None:
    if value is None:
        _tamper(db_path, ("DELETE FROM meta WHERE key = ?", (HEAD_META_KEY,)))
    else:
        _tamper(db_path, ("UPDATE meta SET value = ? WHERE key = ?", (value, HEAD_META_KEY)))
    problems = verify_database(filled).problems
    assert [p.kind for p in problems] == ["anchor"]
    assert HEAD_META_KEY in problems[0].message


def test_an_unreadable_checkpoint_is_a_failure(filled: Repository, db_path: Path) -> None:
    checkpoint_path(db_path).write_text("garbage")
    problems = verify_database(filled).problems
    assert [p.kind for p in problems] == ["anchor"]
    assert checkpoint_path(db_path).name in problems[0].message
    assert checkpoint_path(db_path).read_text() == "garbage"  # evidence is left alone


# --- (d) legacy rows recorded by migration 8 -----------------------------------------------------


def _v7_database(path: Path, fixed_now: datetime, *, legacy: int, chained: int) -> list[str]:
    """A schema-7 database as an old Sergas left it: ``legacy`` rows without hashes (written
    before the chain existed), then ``chained`` rows chained from the genesis hash. Returns
    the ids by seq."""
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:7]:
        for statement in statements(migration.script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 7")
    prev = GENESIS
    ids = []
    for seq in range(1, legacy + chained + 1):
        values = rows.audit_values(_event(seq, fixed_now).model_copy(update={"seq": seq}))
        if seq > legacy:
            values["prev_hash"] = prev
            values["row_hash"] = prev = row_hash(prev, values)
        rows.insert(conn, "audit_logs", values)
        ids.append(values["id"])
    conn.commit()
    conn.close()
    return ids


def test_a_v7_database_is_upgraded_and_its_head_recorded(
    db_path: Path, fixed_now: datetime
) -> None:
    _v7_database(db_path, fixed_now, legacy=0, chained=5)
    with Repository.open(db_path) as repo:
        found = repo.audit_rows()
        assert _head(repo) == AuditHead(5, 5, found[-1]["row_hash"])
        assert repo.meta_value(LEGACY_META_KEY) == "0"
        assert verify_database(repo).ok
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            repo._conn.execute("UPDATE audit_logs SET row_hash = NULL")
        repo.append_audit(_event(6, fixed_now))
        repo.append_audit_batch(_event(i, fixed_now) for i in range(7, 10))
        assert _head(repo).seq == _head(repo).count == 9
        assert verify_database(repo).ok
    assert backup_path(db_path, 7).exists()


def test_legacy_rows_recorded_by_the_migration_still_verify(
    db_path: Path, fixed_now: datetime
) -> None:
    ids = _v7_database(db_path, fixed_now, legacy=3, chained=4)
    with Repository.open(db_path) as repo:
        assert repo.meta_value(LEGACY_META_KEY) == "3"
        result = verify_database(repo)
        assert result.ok, result.problems
        assert (result.checked, result.unchained) == (7, 3)
        repo.append_audit(_event(8, fixed_now))
        assert verify_database(repo).ok
    # Rows that lose their hashes after the legacy prefix are not legacy rows.
    _tamper(db_path, ("UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL WHERE seq = 4", ()))
    with Repository.open(db_path) as repo:
        problems = verify_database(repo).problems
    assert [(p.seq, p.id, p.kind) for p in problems] == [(4, ids[3], "unchained")]


def test_a_database_of_legacy_rows_only_starts_its_chain_after_them(
    db_path: Path, fixed_now: datetime
) -> None:
    _v7_database(db_path, fixed_now, legacy=2, chained=0)
    with Repository.open(db_path) as repo:
        assert _head(repo) == AuditHead(2, 2, None)
        repo.append_audit(_event(3, fixed_now))
        third = repo.audit_rows(2)[0]
        assert (third["seq"], third["prev_hash"]) == (3, GENESIS)
        result = verify_database(repo)
        assert result.ok, result.problems
        assert result.unchained == 2


def test_raising_the_recorded_legacy_count_does_not_hide_a_reset(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    # An attacker who also edits meta: rows 1..8 "legacy", a new chain from seq 9. Only a
    # complete forgery passes locally (docs/security.md); this one leaves the head behind.
    with closing(_raw(db_path)) as conn:
        conn.execute("UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL")
        conn.execute("UPDATE meta SET value = '8' WHERE key = ?", (LEGACY_META_KEY,))
        _insert(conn, _forged_row(N + 1, GENESIS, fixed_now))
        conn.commit()
    assert not verify_database(filled).ok


# --- (e) normal operation keeps everything green ------------------------------------------------


def test_appends_batches_and_sync_marks_keep_verify_green(
    repo: Repository, db_path: Path, fixed_now: datetime
) -> None:
    assert verify_database(repo).ok  # empty
    assert _head(repo) == AuditHead(0, 0, None)
    for i in range(1, 4):
        repo.append_audit(_event(i, fixed_now))
    assert repo.append_audit_batch(_event(i, fixed_now) for i in range(4, 54)) == 50
    assert repo.append_audit_batch([]) == 0
    repo.mark_audit_synced(1, 20, fixed_now)
    result = verify_database(repo)
    assert result.ok, result.problems
    assert result.checked == 53
    head = _head(repo)
    assert head == AuditHead(53, 53, repo.audit_rows(52)[0]["row_hash"])
    assert result.head == head
    assert read_checkpoint(checkpoint_path(db_path)) == (head, None)
    repo.append_audit(_event(54, fixed_now))
    check = check_anchor(repo)
    assert check.ok, check.problems
    assert check.checkpoint is not None
    assert check.checkpoint.seq == 54
    assert "seq 54" in check.summary()


def test_checks_while_another_process_appends_see_no_problem(
    repo: Repository, db_path: Path, fixed_now: datetime
) -> None:
    done = threading.Event()

    def append() -> None:
        try:
            for i in range(300):
                repo.append_audit(_event(i, fixed_now))
        finally:
            done.set()

    writer = threading.Thread(target=append)
    with Repository.open(db_path) as other:  # its own connection, as another process has
        writer.start()
        checks = 0
        while not done.is_set() or checks < 3:
            check = check_anchor(other)
            assert check.ok, check.problems
            result = verify_database(other)
            assert result.ok, result.problems
            checks += 1
        writer.join()
        final = read_checkpoint(checkpoint_path(db_path))[0]
        assert final is not None
        assert final.seq <= 300
        assert verify_database(other).ok


def test_the_head_is_json_a_person_can_read(filled: Repository) -> None:
    data = json.loads(filled.meta_value(HEAD_META_KEY) or "")
    assert data == {"count": N, "row_hash": filled.audit_rows(N - 1)[0]["row_hash"], "seq": N}


# --- what the commands show ---------------------------------------------------------------------


def _workspace(fixed_now: datetime) -> Path:
    """A demo workspace 'ws' whose audit log holds N rows."""
    assert main(["--workspace", "ws", "demo", "generate", "--accounts", "18", "--owners", "1"]) == 0
    path = Locations.from_env().database_file("ws")
    with Repository.open(path) as repo:
        assert not repo.audit_rows()
        for i in range(1, N + 1):
            repo.append_audit(_event(i, fixed_now))
    return path


def test_audit_verify_prints_one_line_per_problem(
    fixed_now: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _workspace(fixed_now)
    capsys.readouterr()
    assert main(["--workspace", "ws", "audit", "verify"]) == 0
    assert f"Audit chain intact: {N} rows verified." in capsys.readouterr().out
    with closing(_raw(path)) as conn:
        conn.execute("UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL WHERE seq <= 3")
        conn.execute("DELETE FROM audit_logs WHERE seq > 6")
        conn.commit()
    assert main(["--workspace", "ws", "audit", "verify"]) == 1
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(lines) == 2, out
    assert lines[0].startswith("row 1 (")
    assert ": unchained: audit rows seq 1 to 3" in lines[0]
    assert lines[1].startswith("row 7: deleted: audit rows are missing at the end: seq 7 to 8")


def test_doctor_shows_the_anchor_check(fixed_now: datetime) -> None:
    path = _workspace(fixed_now)
    locations = Locations.from_env()

    def anchor() -> Any:
        checks = run_checks(locations, SecretStore(), workspace="ws")
        return next(c for c in checks if c.name == "audit anchor")

    ok = anchor()
    assert ok.status == "ok"
    assert f"seq {N}" in ok.detail
    assert read_checkpoint(checkpoint_path(path))[0] == AuditHead(N, N, ok_hash(path))
    _tamper(path, ("DELETE FROM audit_logs WHERE seq = ?", (N,)))
    broken = anchor()
    assert broken.status == "fail"
    assert "missing at the end: seq 8" in broken.detail


def ok_hash(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return str(
            conn.execute("SELECT row_hash FROM audit_logs WHERE seq = ?", (N,)).fetchone()[0]
        )


# --- the central sync compares too --------------------------------------------------------------


@pytest.fixture
def central(postgres_dsn: str) -> Iterator[CentralTarget]:
    """A fresh schema on the test PostgreSQL server, first on the search_path."""
    schema = f"sergas_t_{uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield CentralTarget(make_conninfo(postgres_dsn, options=f"-c search_path={schema}"))
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.postgres
def test_each_sync_compares_the_head_and_checkpoints_it(
    central: CentralTarget, filled: Repository, db_path: Path
) -> None:
    report = sync_once(filled, central, workspace="ws")
    assert report.anchor_problem is None
    head = _head(filled)
    assert read_checkpoint(checkpoint_path(db_path))[0] == head

    _tamper(db_path, ("DELETE FROM audit_logs WHERE seq > 6", ()))
    report = sync_once(filled, central, workspace="ws")

    assert report.anchor_problem is not None
    assert "missing at the end: seq 7 to 8" in report.anchor_problem
    assert "LOCAL AUDIT CHECK FAILED" in report.summary()
    assert read_checkpoint(checkpoint_path(db_path))[0] == head  # not moved over the cut
