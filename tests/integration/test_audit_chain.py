"""The audit log's hash chain on a real database: appending, tampering, verifying, exporting.

Tampering goes through a raw sqlite3 connection after dropping the append-only triggers, as
someone with write access to the file could. Where a problem is reported:

- a content edit of row k, a deletion of row k: at seq k (a deletion with ``id=None``);
- rows k and k+1 swapped: both, as ``reordered``, the first at seq k;
- row k edited and its own row_hash recomputed: the chain breaks between k and k+1 (row k+1's
  prev_hash); reported as ``edited`` at seq k, the message naming seq k+1 too.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sergas_tui.audit import (
    EXPORT_COLUMNS,
    Problem,
    export_jsonl,
    verify_chain,
    verify_database,
)
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import GENESIS, canonical, row_hash
from sergas_tui.storage import Repository

N = 8
K = 4


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
            "timestamp": when,
            "tool_name": "zoho_get_accounts",
            "tool_inputs": {"page": i, "note": "Grüße"},
            "tool_outputs": {"data": [{"id": str(i)}]},
            "execution_time_ms": 12,
            **extra,
        }
    )


@pytest.fixture
def filled(repo: Repository, fixed_now: datetime) -> Repository:
    for i in range(1, N + 1):
        repo.append_audit(_event(i, fixed_now + timedelta(seconds=i)))
    return repo


def _tamper(db_path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_delete")
        conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_logs_chained_insert")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()


def _id(repo: Repository, seq: int) -> str:
    return str(repo.audit_rows(seq - 1, 1)[0]["id"])


# --- appending ------------------------------------------------------------------------------


def test_rows_are_chained(filled: Repository) -> None:
    found = filled.audit_rows()
    assert [r["seq"] for r in found] == list(range(1, N + 1))
    assert found[0]["prev_hash"] == GENESIS
    for before, after in itertools.pairwise(found):
        assert after["prev_hash"] == before["row_hash"]
    for r in found:
        assert r["row_hash"] == row_hash(r["prev_hash"], r)
    result = verify_database(filled)
    assert result.ok
    assert result.checked == N
    assert result.problems == []


def test_canonical_is_the_same_for_the_event_and_its_row(filled: Repository) -> None:
    events = filled.audit_events()
    stored = filled.audit_rows()
    assert [canonical(e) for e in events] == [canonical(r) for r in stored]
    data = json.loads(canonical(events[0]))
    assert data["seq"] == 1
    assert data["timestamp"].endswith("+00:00")
    assert b" " not in canonical(events[0])


def test_canonical_needs_a_seq(fixed_now: datetime) -> None:
    with pytest.raises(ValueError, match="seq"):
        canonical(_event(1, fixed_now))


def test_concurrent_appends_form_one_chain(repo: Repository, fixed_now: datetime) -> None:
    def work(offset: int) -> None:
        for i in range(20):
            repo.append_audit(_event(offset + i, fixed_now))

    threads = [threading.Thread(target=work, args=(n * 100,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = verify_database(repo)
    assert result.ok, result.problems
    assert result.checked == 100


def test_append_redacts_even_unvalidated_events(repo: Repository, fixed_now: datetime) -> None:
    event = AuditEvent.model_construct(
        session_id="s1",
        agent_name="zoho_scout",
        action_type="tool_invocation",
        timestamp=fixed_now,
        tool_inputs={"Tax_ID": "12-3456789", "rows": [{"personal_email": "a@home.example"}]},
    )
    stored = repo.append_audit(event)
    assert stored.tool_inputs == {
        "Tax_ID": "[REDACTED]",
        "rows": [{"personal_email": "[REDACTED]"}],
    }
    raw = repo.audit_rows()[0]["tool_inputs"]
    assert "12-3456789" not in raw
    assert "a@home.example" not in raw
    assert verify_database(repo).ok


def test_hashes_removed_and_a_new_chain_started_are_found(
    repo: Repository, db_path: Path, fixed_now: datetime
) -> None:
    # Rows without hashes before the chain are tolerated only when schema 8 recorded them as
    # legacy rows (tests/integration/test_audit_anchor.py); here none were.
    repo.append_audit(_event(1, fixed_now))
    repo.append_audit(_event(2, fixed_now))
    _tamper(db_path, ("UPDATE audit_logs SET prev_hash = NULL, row_hash = NULL", ()))
    repo.append_audit(_event(3, fixed_now))
    result = verify_database(repo)
    assert not result.ok
    assert (result.checked, result.unchained) == (3, 0)
    problem = result.problems[0]
    assert (problem.seq, problem.id, problem.kind) == (1, _id(repo, 1), "unchained")
    assert "seq 1 to 2" in problem.message


# --- tampering ------------------------------------------------------------------------------


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_edited_row_is_found(filled: Repository, db_path: Path) -> None:
    _tamper(db_path, ("UPDATE audit_logs SET tool_name = 'zoho_delete' WHERE seq = ?", (K,)))
    result = verify_database(filled)
    assert not result.ok
    problem = _only(result.problems)
    assert (problem.seq, problem.id, problem.kind) == (K, _id(filled, K), "edited")
    assert f"seq {K} " in problem.message


def test_edited_json_text_is_found(filled: Repository, db_path: Path) -> None:
    # Same JSON value, different bytes: still a change to the stored row.
    _tamper(
        db_path,
        ("UPDATE audit_logs SET tool_outputs = ? WHERE seq = ?", ('{"data": [{"id": "4"}]}', K)),
    )
    problem = _only(verify_database(filled).problems)
    assert (problem.seq, problem.kind) == (K, "edited")


def test_deleted_row_is_found(filled: Repository, db_path: Path) -> None:
    following = _id(filled, K + 1)
    _tamper(db_path, ("DELETE FROM audit_logs WHERE seq = ?", (K,)))
    result = verify_database(filled)
    problem = _only(result.problems)
    assert (problem.seq, problem.id, problem.kind) == (K, None, "deleted")
    assert f"seq {K} " in problem.message
    assert following in problem.message
    assert result.checked == N - 1


def test_deleted_first_rows_are_found(filled: Repository, db_path: Path) -> None:
    _tamper(db_path, ("DELETE FROM audit_logs WHERE seq <= 2", ()))
    problem = _only(verify_database(filled).problems)
    assert (problem.seq, problem.kind) == (1, "deleted")
    assert "seq 1 to 2" in problem.message


def test_swapped_rows_are_found(filled: Repository, db_path: Path) -> None:
    first, second = _id(filled, K), _id(filled, K + 1)
    # Move whole rows: row K takes the place of K + 1 and the other way round.
    _tamper(
        db_path,
        ("UPDATE audit_logs SET seq = -1 WHERE seq = ?", (K,)),
        ("UPDATE audit_logs SET seq = ? WHERE seq = ?", (K, K + 1)),
        ("UPDATE audit_logs SET seq = ? WHERE seq = -1", (K + 1,)),
    )
    problems = verify_database(filled).problems
    assert [(p.seq, p.id, p.kind) for p in problems] == [
        (K, second, "reordered"),
        (K + 1, first, "reordered"),
    ]
    assert f"seq {K} " in problems[0].message
    assert f"appended as seq {K + 1}" in problems[0].message


def test_edited_and_rehashed_row_is_found(filled: Repository, db_path: Path) -> None:
    row = dict(filled.audit_rows(K - 1, 1)[0])
    row["decision_rationale"] = "looked fine to me"
    forged = row_hash(row["prev_hash"], row)
    _tamper(
        db_path,
        (
            "UPDATE audit_logs SET decision_rationale = ?, row_hash = ? WHERE seq = ?",
            (row["decision_rationale"], forged, K),
        ),
    )
    problem = _only(verify_database(filled).problems)
    # Row K is self-consistent now; the break shows at row K + 1, whose prev_hash still holds
    # row K's old hash. The problem is reported at K, the row whose hash changed.
    assert (problem.seq, problem.id, problem.kind) == (K, row["id"], "edited")
    assert f"seq {K} " in problem.message
    assert f"seq {K + 1} " in problem.message
    assert "re-hashed" in problem.message


def test_row_written_outside_the_chain_is_found(
    filled: Repository, db_path: Path, fixed_now: datetime
) -> None:
    _tamper(
        db_path,
        (
            "INSERT INTO audit_logs (id, seq, timestamp, session_id, agent_name, action_type) "
            "VALUES ('forged', ?, ?, 's1', 'someone', 'action_executed')",
            (N + 1, fixed_now.isoformat()),
        ),
    )
    filled.append_audit(_event(N + 2, fixed_now))
    problem = _only(verify_database(filled).problems)
    assert (problem.seq, problem.id, problem.kind) == (N + 1, "forged", "unchained")


def test_verify_chain_takes_plain_rows(filled: Repository) -> None:
    found = filled.audit_rows()
    assert verify_chain(found).ok
    assert verify_chain([]).ok


# --- export ---------------------------------------------------------------------------------


def test_export_writes_json_lines(filled: Repository) -> None:
    out = io.StringIO()
    assert export_jsonl(filled, out) == N
    lines = out.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, N + 1))
    assert all(tuple(r) == EXPORT_COLUMNS for r in records)
    assert records[0]["tool_inputs"] == {"page": 1, "note": "Grüße"}
    assert records[0]["prev_hash"] == GENESIS
    # An exported row can be checked against its hash.
    for record in records:
        event = AuditEvent.model_validate(record)
        assert row_hash(record["prev_hash"], event) == record["row_hash"]


def test_export_since_filters(filled: Repository, fixed_now: datetime) -> None:
    out = io.StringIO()
    assert export_jsonl(filled, out, since=fixed_now + timedelta(seconds=N - 2)) == 3
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == [6, 7, 8]


def test_export_pages_through_many_rows(repo: Repository, fixed_now: datetime) -> None:
    for i in range(1203):
        repo.append_audit(_event(i, fixed_now))
    out = io.StringIO()
    assert export_jsonl(repo, out) == 1203
    assert len(out.getvalue().splitlines()) == 1203


SECRETS = ("12-3456789", "jane@home.example", "123-45-6789", "1 Home Street")


def test_export_never_contains_sensitive_fields(
    repo: Repository, db_path: Path, fixed_now: datetime
) -> None:
    repo.append_audit(
        _event(
            1,
            fixed_now,
            tool_inputs={"Tax_ID": SECRETS[0], "Personal_Email": SECRETS[1]},
            tool_outputs={"data": [{"ssn": SECRETS[2], "Home_Address": SECRETS[3]}]},
        )
    )
    # A row written unredacted behind the repository's back is redacted on export too.
    _tamper(
        db_path,
        (
            "INSERT INTO audit_logs (id, seq, timestamp, session_id, agent_name, action_type, "
            "tool_inputs) VALUES ('raw', 2, ?, 's1', 'someone', 'tool_invocation', ?)",
            (fixed_now.isoformat(), json.dumps({"Tax_ID": SECRETS[0]})),
        ),
    )
    out = io.StringIO()
    assert export_jsonl(repo, out) == 2
    text = out.getvalue()
    for secret in SECRETS:
        assert secret not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["tool_inputs"] == {"Tax_ID": "[REDACTED]", "Personal_Email": "[REDACTED]"}
    assert first["tool_outputs"] == {"data": [{"ssn": "[REDACTED]", "Home_Address": "[REDACTED]"}]}
    assert second["tool_inputs"] == {"Tax_ID": "[REDACTED]"}
