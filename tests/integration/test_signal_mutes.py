"""Signal mutes and "not useful" feedback in a real workspace database (storage/mutes.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.approvals.service import ApprovalService
from sergas_tui.audit.verify import verify_database
from sergas_tui.clock import FixedClock
from sergas_tui.domain import Approval, AuditAction, AuditEvent, Recommendation
from sergas_tui.domain.mutes import MuteError, SignalMute
from sergas_tui.errors import StorageError
from sergas_tui.storage import MIGRATIONS, SCHEMA_VERSION, Repository, backup_path
from sergas_tui.storage.migrations import statements
from sergas_tui.storage.mutes import (
    active_mutes,
    add_mute,
    get_mute,
    lift_mute,
    lift_signal,
    list_mutes,
    mute_ids_with_prefix,
    not_useful_counts,
    not_useful_counts_by_owner,
)

OWNER = "ana@example.com"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ws" / "sergas.db"


@pytest.fixture
def repo(db_path: Path) -> Iterator[Repository]:
    with Repository.open(db_path) as repository:
        yield repository


def mute(now: datetime, **over: Any) -> SignalMute:
    values: dict[str, Any] = {
        "account_id": "A1",
        "signal_key": "no_activity_critical",
        "kind": "snooze",
        "reason": "customer on holiday",
        "until": now.date() + timedelta(days=14),
        "created_by": OWNER,
        "created_at": now,
        "owner_email": OWNER,
    }
    values.update(over)
    return SignalMute(**values)


def mute_events(repo: Repository) -> list[AuditEvent]:
    kinds = {AuditAction.SIGNAL_SNOOZED, AuditAction.SIGNAL_DISMISSED, AuditAction.SIGNAL_UNMUTED}
    return [e for e in repo.audit_events() if e.action_type in kinds]


def inputs(event: AuditEvent) -> dict[str, Any]:
    assert isinstance(event.tool_inputs, dict)
    return event.tool_inputs


# -- migration 7 --------------------------------------------------------------------------------


def test_a_v6_database_with_data_is_upgraded(db_path: Path, fixed_now: datetime) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    for migration in MIGRATIONS[:6]:
        for statement in statements(migration.script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 6")
    conn.execute("INSERT INTO meta (key, value) VALUES ('audit_chain_id', 'chain-1')")
    conn.commit()
    conn.close()
    with Repository.open(db_path) as repo:
        assert repo.schema_version() == SCHEMA_VERSION >= 7
        assert repo.meta_value("audit_chain_id") == "chain-1"
        assert active_mutes(repo, fixed_now) == []
        stored = add_mute(repo, mute(fixed_now))
        assert active_mutes(repo, fixed_now) == [stored]
    assert backup_path(db_path, 6).exists()


def test_the_database_refuses_what_the_model_refuses(repo: Repository, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        for kind, reason, until in (
            ("snooze", "x", None),
            ("dismiss", "  ", None),
            ("mute", "x", ""),
        ):
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
                conn.execute(
                    "INSERT INTO signal_mutes (id, account_id, signal_key, kind, reason, until, "
                    "created_by, created_at) VALUES ('m', 'A1', 'k', ?, ?, ?, 'ana', 'now')",
                    (kind, reason, until),
                )
    finally:
        conn.close()


# -- adding and lifting -------------------------------------------------------------------------


def test_a_snooze_is_stored_with_its_audit_row(repo: Repository, fixed_now: datetime) -> None:
    stored = add_mute(repo, mute(fixed_now), session_id="s-1")
    assert get_mute(repo, stored.id) == stored
    [event] = mute_events(repo)
    assert event.action_type == AuditAction.SIGNAL_SNOOZED
    assert (event.agent_name, event.session_id) == ("owner", "s-1")
    assert (event.account_id, event.owner_email) == ("A1", OWNER)
    assert event.decision is None
    assert event.decision_rationale == "customer on holiday"
    assert inputs(event) == {
        "mute_id": stored.id,
        "signal_key": "no_activity_critical",
        "signal": "Gone quiet",
        "kind": "snooze",
        "until": (fixed_now.date() + timedelta(days=14)).isoformat(),
        "actor": OWNER,
    }
    assert verify_database(repo).ok


def test_a_new_mute_of_a_muted_signal_replaces_it(repo: Repository, fixed_now: datetime) -> None:
    first = add_mute(repo, mute(fixed_now))
    later = fixed_now + timedelta(hours=1)
    second = add_mute(repo, mute(later, kind="dismiss", until=None, reason="not our deal"))
    assert active_mutes(repo, later) == [second]
    old = get_mute(repo, first.id)
    assert old is not None
    assert (old.lifted_at, old.lifted_by) == (later, OWNER)
    events = mute_events(repo)
    assert [e.action_type for e in events] == ["signal_snoozed", "signal_dismissed"]
    assert inputs(events[1])["replaces"] == [first.id]
    assert inputs(events[1])["until"] is None


def test_lifting_is_audited_and_happens_once(repo: Repository, fixed_now: datetime) -> None:
    stored = add_mute(repo, mute(fixed_now))
    later = fixed_now + timedelta(days=1)
    lifted = lift_mute(repo, stored.id, actor="jordan", now=later)
    assert (lifted.lifted_at, lifted.lifted_by) == (later, "jordan")
    assert get_mute(repo, stored.id) == lifted
    assert active_mutes(repo, later) == []
    event = mute_events(repo)[-1]
    assert event.action_type == AuditAction.SIGNAL_UNMUTED
    assert inputs(event)["actor"] == "jordan"
    with pytest.raises(MuteError, match="already been lifted"):
        lift_mute(repo, stored.id, actor="jordan", now=later)
    with pytest.raises(MuteError, match="no mute"):
        lift_mute(repo, "missing", actor="jordan", now=later)
    with pytest.raises(MuteError, match="name of the person"):
        lift_mute(repo, stored.id, actor="  ", now=later)
    assert len(mute_events(repo)) == 2  # refusals record nothing
    assert verify_database(repo).ok


def test_an_ended_snooze_cannot_be_lifted(repo: Repository, fixed_now: datetime) -> None:
    stored = add_mute(repo, mute(fixed_now, until=fixed_now.date()))
    tomorrow = fixed_now + timedelta(days=1)
    with pytest.raises(MuteError, match="already ended"):
        lift_mute(repo, stored.id, actor="ana", now=tomorrow)


def test_lift_signal_by_account_and_key(repo: Repository, fixed_now: datetime) -> None:
    stored = add_mute(repo, mute(fixed_now))
    add_mute(repo, mute(fixed_now, account_id="A2"))
    [lifted] = lift_signal(repo, "A1", "no_activity_critical", actor="ana", now=fixed_now)
    assert lifted.id == stored.id
    assert [m.account_id for m in active_mutes(repo, fixed_now)] == ["A2"]
    with pytest.raises(MuteError, match="'Gone quiet' is not snoozed or dismissed"):
        lift_signal(repo, "A1", "no_activity_critical", actor="ana", now=fixed_now)


def test_a_failed_audit_row_stores_no_mute(
    repo: Repository, fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: sqlite3.Connection, event: AuditEvent) -> AuditEvent:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("sergas_tui.storage.mutes.insert_audit", broken)
    with pytest.raises(StorageError):
        add_mute(repo, mute(fixed_now))
    monkeypatch.undo()
    assert list_mutes(repo, now=fixed_now, active_only=False) == []
    assert mute_events(repo) == []


# -- listing ------------------------------------------------------------------------------------


def test_listing_active_and_every_mute(repo: Repository, fixed_now: datetime) -> None:
    old = add_mute(repo, mute(fixed_now - timedelta(days=30), until=date(2026, 10, 20)))
    a1 = add_mute(repo, mute(fixed_now - timedelta(hours=2)))
    a2 = add_mute(
        repo,
        mute(fixed_now - timedelta(hours=1), account_id="A2", owner_email="b@x", kind="dismiss"),
    )
    forever = add_mute(
        repo,
        mute(fixed_now, account_id="A3", signal_key="stalled_in_stage", kind="dismiss", until=None),
    )
    assert active_mutes(repo, fixed_now) == [forever, a2, a1]
    assert list_mutes(repo, now=fixed_now, active_only=False) == [forever, a2, a1, old]
    assert list_mutes(repo, now=fixed_now, account_id="A1") == [a1]
    assert list_mutes(repo, now=fixed_now, account_id="A1", active_only=False) == [a1, old]
    assert list_mutes(repo, now=fixed_now, owner_email="b@x") == [a2]
    assert mute_ids_with_prefix(repo, a1.id[:8]) == [a1.id]
    far = datetime(2030, 1, 1, tzinfo=fixed_now.tzinfo)
    assert active_mutes(repo, far) == [forever]


# -- "not useful" feedback ----------------------------------------------------------------------


def _recommendation(signals: list[str], **over: Any) -> Recommendation:
    data: dict[str, Any] = {
        "type": "create_task",
        "priority": "high",
        "confidence": "medium",
        "rationale": "Quiet for 60 days.",
        "suggested_action": {"subject": "Call Acme", "due_date": "2026-11-09"},
        "account_id": "A1",
        "signals": signals,
    }
    return Recommendation.model_validate(data | over)


def _approval(repo: Repository, rec: Recommendation, at: datetime, owner: str) -> Approval:
    approval = Approval.model_validate(
        {
            "recommendation_id": rec.id,
            "account_id": rec.account_id,
            "owner_email": owner,
            "action_type": "create_task",
            "payload": {"subject": "Call Acme", "due_date": "2026-11-09"},
            "created_at": at,
        }
    )
    repo.save_recommendations([rec], owner_email=owner)
    repo.add_approval(approval)
    return approval


async def test_not_useful_counts_per_owner_and_since(repo: Repository, fixed_now: datetime) -> None:
    clock = FixedClock(fixed_now)
    service = ApprovalService(repo, clock=clock)
    quiet = _recommendation(["no_activity_critical", "no_activity_critical"])
    stalled = _recommendation(["stalled_in_stage", "no_activity_critical"])
    plain = _recommendation(["close_date_pushed"])
    other = _recommendation(["no_activity_critical"])
    old = _recommendation(["stalled_in_stage"])
    approvals = {
        "quiet": _approval(repo, quiet, fixed_now, OWNER),
        "stalled": _approval(repo, stalled, fixed_now, OWNER),
        "plain": _approval(repo, plain, fixed_now, OWNER),
        "other": _approval(repo, other, fixed_now, "b@x"),
        "old": _approval(repo, old, fixed_now, OWNER),
    }
    clock.current = fixed_now - timedelta(days=40)
    await service.reject(approvals["old"].id, actor="ana", not_useful=True)
    clock.current = fixed_now
    await service.reject(approvals["quiet"].id, actor="ana", not_useful=True)
    await service.reject(approvals["stalled"].id, actor="ana", reason="meh", not_useful=True)
    await service.reject(approvals["plain"].id, actor="ana", reason="not now")  # no feedback
    await service.reject(approvals["other"].id, actor="bo", not_useful=True)
    since = fixed_now - timedelta(days=30)
    assert not_useful_counts(repo, OWNER, since) == {
        "no_activity_critical": 2,
        "stalled_in_stage": 1,
    }
    assert not_useful_counts(repo, OWNER, since - timedelta(days=30)) == {
        "no_activity_critical": 2,
        "stalled_in_stage": 2,
    }
    assert not_useful_counts(repo, "nobody@x", since) == {}
    assert not_useful_counts_by_owner(repo, since) == {
        OWNER: {"no_activity_critical": 2, "stalled_in_stage": 1},
        "b@x": {"no_activity_critical": 1},
    }
    # An undone rejection takes its feedback with it.
    await service.undo(approvals["quiet"].id, actor="ana")
    assert not_useful_counts(repo, OWNER, since) == {
        "no_activity_critical": 1,
        "stalled_in_stage": 1,
    }
