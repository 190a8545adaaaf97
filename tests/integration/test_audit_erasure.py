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
from sergas_tui.cli.audit_upkeep import purged_text
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import (
    CONTENT_COLUMNS,
    ERASURE_ACTION,
    START_META_KEY,
    content_digest,
    erased_form,
    erased_marker,
)
from sergas_tui.domain.mentions import Mentions
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
        Mentions.of(ACCOUNT, [NAME]),
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
    row = next(r for r in repo.audit_rows() if r["seq"] == 2)
    forged = erased_form(row, "e0000000-0000-4000-8000-000000000001")  # in the erased form
    _raw(
        repo,
        (
            f"UPDATE audit_logs SET {', '.join(f'{c} = ?' for c in forged)} WHERE seq = 2",
            tuple(forged.values()),
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
    said = purged_text(report)  # people read the purge's time and seq, not its id
    assert "recorded as the purge of 2026-01-16 00:00 UTC (seq 13)." in said
    assert str(last["id"]) not in said
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
    result = verify_database(repo)
    purge = repo.audit_rows()[-1]
    anchors = [p for p in result.problems if p.kind == "anchor"]
    assert [(p.seq, p.id) for p in anchors] == [(purge["seq"], purge["id"])]
    assert anchors[0].message == (
        f"the chain's recorded start (seq 8) is not the one the last retention purge, audit "
        f"row seq {purge['seq']} (id {purge['id']}), recorded: the start was moved outside "
        "Sergas"
    )


def test_erasure_after_retention_verifies(repo: Repository) -> None:
    purge_local(repo, retention_days=10, keep_unsynced=False, now=T0 + timedelta(days=15))
    _erase(repo)
    assert verify_database(repo).ok


ACME, ACME_LOGISTICS = "5725767000009000011", "5725767000009000012"


def _row(account: str | None, **fields: object) -> AuditEvent:
    values: dict[str, object] = {
        "timestamp": T0,
        "session_id": "s",
        "agent_name": "scout",
        "action_type": "tool_invocation",
        "account_id": account,
        **fields,
    }
    return AuditEvent.model_validate(values)


def test_forgetting_acme_spares_acme_logistics_and_addresses(tmp_path: Path) -> None:
    with Repository.open(tmp_path / "sergas.db") as repo:
        repo.append_audit(_row(ACME, tool_inputs={"name": "Acme"}))
        repo.append_audit(
            _row(
                ACME_LOGISTICS,
                tool_inputs={"name": "Acme Logistics"},
                decision_rationale="Acme Logistics renewal risk",
            )
        )
        repo.append_audit(_row(ACME_LOGISTICS, tool_outputs={"email": "ceo@acme.com"}))
        repo.append_audit(_row(None, tool_inputs={"query": "Acme Logistics renewals"}))
        repo.append_audit(_row(None, tool_inputs={"query": "acme-tools, acme.com"}))
        repo.append_audit(_row(None, decision_rationale="Called ACME's buyer."))
        report = erase_account_locally(
            repo,
            Mentions.of(ACME, ["Acme"], others=["Acme Logistics", "Harbour Lights Bakery"]),
            actor="ana@example.com",
            now=T0 + timedelta(days=1),
            workspace="demo",
            erasure_id="e0000000-0000-4000-8000-000000000002",
            central=False,
        )
        rows = repo.audit_rows()
        assert verify_database(repo).ok
    assert report.audit_rows_erased == 2
    erased = [r["seq"] for r in rows if r["tool_inputs"] and "erased_by" in r["tool_inputs"]]
    assert erased == [1, 6]  # its own row, and the one naming it that records no account
    kept = {r["seq"]: r for r in rows}
    assert kept[2]["account_id"] == ACME_LOGISTICS
    assert kept[2]["decision_rationale"] == "Acme Logistics renewal risk"
    assert "ceo@acme.com" in kept[3]["tool_outputs"]
    assert "Acme Logistics renewals" in kept[4]["tool_inputs"]
    assert "acme-tools, acme.com" in kept[5]["tool_inputs"]


def test_a_name_that_is_a_common_word_touches_no_event_of_sergas(tmp_path: Path) -> None:
    """An account called "Audit": Sergas's own agent, tool and action names and its purge and
    erasure events are never matched, and the log verifies after purges and erasures."""
    audit_account = "5725767000009000021"
    with Repository.open(tmp_path / "sergas.db") as repo:
        repo.append_audit(_row(OTHER, agent_name="audit", tool_name="audit_export"))
        repo.append_audit(_row(None, action_type="audit_export", tool_name="Audit"))
        repo.append_audit(_row(audit_account, tool_inputs={"name": "Audit"}))
        purge_local(repo, retention_days=1, keep_unsynced=False, now=T0 + timedelta(days=2))
        purge = repo.audit_rows()[-1]
        assert purge["action_type"] == "audit_purged"
        repo.append_audit(_row(None, timestamp=T0 + timedelta(days=3), session_id="audit-purge-x"))
        repo.append_audit(_row(None, timestamp=T0 + timedelta(days=3), tool_name="audit"))
        report = erase_account_locally(
            repo,
            Mentions.of(audit_account, ["Audit"]),
            actor="ana@example.com",
            now=T0 + timedelta(days=4),
            workspace="demo",
            erasure_id="e0000000-0000-4000-8000-000000000003",
            central=False,
        )
        assert report.audit_rows_erased == 0  # its one row went with the purge
        after = repo.audit_rows()
        assert next(r for r in after if r["seq"] == purge["seq"]) == purge
        assert all(not (r["tool_inputs"] or "").startswith('{"erased_by"') for r in after)
        assert verify_database(repo).ok
        purge_local(repo, retention_days=1, keep_unsynced=False, now=T0 + timedelta(days=9))
        assert verify_database(repo).ok


def test_the_database_refuses_erasing_a_purge_or_erasure_event(repo: Repository) -> None:
    seq = _erase(repo)
    row = next(r for r in repo.audit_rows() if r["seq"] == seq)
    values = erased_form(row, "e0000000-0000-4000-8000-000000000009")
    conn = sqlite3.connect(repo.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(
                f"UPDATE audit_logs SET {', '.join(f'{c} = ?' for c in values)} WHERE seq = ?",
                (*values.values(), seq),
            )
    finally:
        conn.close()


def _forge_decision(repo: Repository) -> dict[str, object]:
    """The reviewer's forgery: a rejected decision turned approved, dressed as an erasure."""
    repo.append_audit(
        _row(OTHER, agent_name="sergas", action_type="approval_decided", decision="rejected",
             decision_rationale="too risky")
    )  # fmt: skip
    repo.append_audit(_row(OTHER, agent_name="sergas", action_type="x"))
    row = repo.audit_rows()[0]
    forged = {c: row[c] for c in CONTENT_COLUMNS}
    forged.update(
        account_id=None,
        tool_outputs=None,
        decision_rationale=None,
        error_message=None,
        tool_inputs=erased_marker("f1"),
        decision="approved",
    )
    return forged


def test_an_erasure_cannot_change_what_a_row_said(tmp_path: Path) -> None:
    with Repository.open(tmp_path / "sergas.db") as repo:
        forged = _forge_decision(repo)
        update = f"UPDATE audit_logs SET {', '.join(f'{c} = ?' for c in forged)} WHERE seq = 1"
        conn = sqlite3.connect(repo.path)
        try:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(update, tuple(forged.values()))  # the trigger holds the form
        finally:
            conn.close()
        row = repo.audit_rows()[0]
        _raw(repo, (update, tuple(forged.values())))
        repo.append_audit(
            AuditEvent(
                id="f1",
                timestamp=T0,
                session_id="s",
                agent_name="sergas",
                action_type=ERASURE_ACTION,
                account_id=OTHER,
                tool_inputs={
                    "account_id": OTHER,
                    "erased": [
                        {
                            "seq": 1,
                            "id": row["id"],
                            "row_hash": row["row_hash"],
                            "erased_digest": content_digest(forged),
                        }
                    ],
                },
            )
        )
        assert repo.audit_rows()[0]["decision"] == "approved"
        text = _messages(repo)
    assert "audit row seq 1" in text
    assert "session_id, agent_name, decision are not as an erasure leaves them" in text
    assert "the erasure of 2026-01-01 00:00 UTC (seq 3)" in text  # not the event's id
