"""Erasure and local retention keep the audit chain verifiable and tampering visible."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sergas_tui.audit.erasure import erase_account_locally
from sergas_tui.audit.retention import purge_local, purge_local_if_due
from sergas_tui.audit.verify import verify_database
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import ERASURE_ACTION, START_META_KEY
from sergas_tui.storage import Repository

ACCOUNT, NAME = "5725767000009000001", "Harbour Lights Bakery"
OTHER = "5725767000009000002"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(day: int, account: str | None, text: str = "") -> AuditEvent:
    return AuditEvent(
        timestamp=T0 + timedelta(days=day),
        session_id="s",
        agent_name="test",
        action_type="tool_invocation",
        account_id=account,
        tool_inputs={"note": text},
    )


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Repository.open(tmp_path / "sergas.db") as repository:
        for day in range(10):
            repository.append_audit(_event(day, ACCOUNT if day % 3 == 0 else OTHER))
        repository.append_audit(_event(10, None, f"a search that found {NAME}"))
        repository.append_audit(_event(11, OTHER, "unrelated"))
        yield repository


def _erase(repo: Repository) -> int:
    report = erase_account_locally(
        repo,
        ACCOUNT,
        [NAME],
        actor="ana@example.com",
        now=T0 + timedelta(days=20),
        workspace="demo",
        erasure_id="e0000000-0000-4000-8000-000000000001",
        central=False,
    )
    assert report.event is not None
    assert report.event.seq is not None
    return report.event.seq


def _raw(repo: Repository, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Edit the database as an intruder would: triggers dropped first."""
    conn = sqlite3.connect(repo.path)
    try:
        with conn:
            conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_update")
            conn.execute("DROP TRIGGER IF EXISTS audit_logs_no_delete")
            for sql, params in statements:
                conn.execute(sql, params)
    finally:
        conn.close()


def _messages(repo: Repository) -> str:
    result = verify_database(repo)
    assert not result.ok
    return " ".join(p.message for p in result.problems)


def test_erased_rows_verify_and_name_the_account_nowhere_but_the_erasure(
    repo: Repository,
) -> None:
    seq = _erase(repo)
    assert verify_database(repo).ok
    rows = repo.audit_rows()
    for row in rows:
        text = json.dumps(row)
        if row["action_type"] == ERASURE_ACTION:
            assert ACCOUNT in text
            assert NAME not in text
        else:
            assert ACCOUNT not in text
            assert NAME not in text
    erasure = next(r for r in rows if r["seq"] == seq)
    listed = json.loads(erasure["tool_inputs"])["erased"]
    assert [e["seq"] for e in listed] == [1, 4, 7, 10, 11]  # by account, and by its name
    assert json.loads(erasure["tool_inputs"])["actor"] == "ana@example.com"


def test_the_database_refuses_other_edits_of_an_audit_row(repo: Repository) -> None:
    conn = sqlite3.connect(repo.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_logs SET tool_inputs = '{}' WHERE seq = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_logs WHERE seq = 1")
    finally:
        conn.close()


def test_editing_an_erased_row_is_detected(repo: Repository) -> None:
    _erase(repo)
    _raw(repo, ("UPDATE audit_logs SET action_type = 'approval_decided' WHERE seq = 4", ()))
    assert "seq 4" in _messages(repo)
    assert "edited after its erasure" in _messages(repo)


def test_a_forged_erasure_claim_is_detected(repo: Repository) -> None:
    _erase(repo)
    marker = json.dumps({"erased_by": "e0000000-0000-4000-8000-000000000001"})
    _raw(
        repo,
        (
            "UPDATE audit_logs SET tool_inputs = ?, account_id = NULL WHERE seq = 2",
            (marker,),
        ),
    )
    text = _messages(repo)
    assert "seq 2" in text
    assert "no intact account_erased event after it lists it" in text


def test_deleting_the_erasure_event_is_detected(repo: Repository) -> None:
    seq = _erase(repo)
    repo.append_audit(_event(21, OTHER))  # the erasure event is no longer the last row
    _raw(repo, ("DELETE FROM audit_logs WHERE seq = ?", (seq,)))
    text = _messages(repo)
    assert f"missing: seq {seq}" in text
    assert "claims to be erased" in text


def test_editing_the_erasure_event_is_detected(repo: Repository) -> None:
    seq = _erase(repo)
    _raw(
        repo,
        (
            "UPDATE audit_logs SET tool_inputs = json_set(tool_inputs, '$.actor', 'nobody') "
            "WHERE seq = ?",
            (seq,),
        ),
    )
    text = _messages(repo)
    assert f"seq {seq}" in text
    assert "claims to be erased" in text  # the rows it vouched for lose their voucher


class Clock:
    """An injected clock for the retention tests."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


def test_local_retention_purges_a_prefix_and_the_chain_still_verifies(
    repo: Repository,
) -> None:
    clock = Clock(T0 + timedelta(days=15))
    before = repo.audit_chain_state().recorded
    assert before is not None
    report = purge_local(repo, retention_days=10, keep_unsynced=False, now=clock.now())
    assert report.rows_deleted == 5  # days 0-4 are older than the cutoff (day 5)
    assert report.start is not None
    assert report.start.seq == 6
    rows = repo.audit_rows()
    assert rows[0]["seq"] == 6
    assert rows[0]["prev_hash"] == report.start.prev_hash
    last = rows[-1]
    assert (last["action_type"], last["tool_name"]) == ("audit_purged", "local_audit_purge")
    assert json.loads(last["tool_inputs"])["chain_start"]["seq"] == 6
    result = verify_database(repo)
    assert result.ok, result.problems
    assert result.head is not None
    assert result.head.count == before.count + 1  # the head counts rows ever appended

    # At most once a day; the next day purges what aged meanwhile.
    assert purge_local_if_due(repo, retention_days=10, keep_unsynced=False, now=clock.now())
    assert purge_local_if_due(repo, retention_days=10, keep_unsynced=False, now=clock.now()) is None
    clock.moment += timedelta(days=3)
    later = purge_local_if_due(repo, retention_days=10, keep_unsynced=False, now=clock.now())
    assert later is not None
    assert later.rows_deleted == 3
    assert verify_database(repo).ok


def test_retention_keeps_unsynced_rows_with_a_central_audit(repo: Repository) -> None:
    repo.mark_audit_synced(1, 2, T0)
    report = purge_local(repo, retention_days=1, keep_unsynced=True, now=T0 + timedelta(days=30))
    assert report.rows_deleted == 2
    assert verify_database(repo).ok


def test_moving_the_chain_start_by_hand_is_detected(repo: Repository) -> None:
    purge_local(repo, retention_days=10, keep_unsynced=False, now=T0 + timedelta(days=15))
    start = json.dumps({"prev_hash": None, "purged_rows": 7, "seq": 8})
    _raw(
        repo,
        ("UPDATE meta SET value = ? WHERE key = ?", (start, START_META_KEY)),
        ("DELETE FROM audit_logs WHERE seq < 8", ()),
    )
    text = _messages(repo)
    assert "not the one the last retention purge" in text or "does not link" in text


def test_erasure_after_retention_verifies(repo: Repository) -> None:
    purge_local(repo, retention_days=10, keep_unsynced=False, now=T0 + timedelta(days=15))
    _erase(repo)
    assert verify_database(repo).ok
