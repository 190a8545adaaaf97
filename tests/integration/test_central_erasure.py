"""An account's erasure reaches the central audit through the owner role (real PostgreSQL):
the synced rows get the same erased content, the team's records of the account go, and
``verify --remote`` still matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.audit.central.sync import sync_once
from sergas_tui.audit.central.verify import verify_remote
from sergas_tui.audit.erasure import (
    apply_central_erasures,
    erase_account_locally,
    pending_erasures,
)
from sergas_tui.audit.retention import purge_local
from sergas_tui.audit.verify import verify_database
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.mentions import Mentions
from sergas_tui.storage import Repository

ACCOUNT, NAME = "5725767000009000001", "Harbour Lights Bakery"
OTHER = "5725767000009000002"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(n: int, account: str | None, text: str = "") -> AuditEvent:
    return AuditEvent(
        timestamp=T0 + timedelta(minutes=n),
        session_id="s",
        agent_name="test",
        action_type="tool_invocation",
        account_id=account,
        tool_inputs={"note": text or f"row {n}"},
    )


def test_erasure_through_the_owner_role(central_dsn: str, tmp_path: Path) -> None:
    target = CentralTarget(central_dsn)
    with Repository.open(tmp_path / "sergas.db") as repo:
        for n in range(6):
            # Odd rows are the account's; even ones after the first record no account but name it.
            account = ACCOUNT if n % 2 else (None if n else OTHER)
            repo.append_audit(_event(n, account, f"about {NAME}" if n else ""))
        sync_once(repo, target, workspace="ws")
        with psycopg.connect(central_dsn) as conn:
            conn.execute(
                "INSERT INTO team_approvals (approval_id, recommendation_id, account_id, "
                "account_name, owner_email, action_type, status, approval, published_by, "
                "updated_by) VALUES ('a1', 'r1', %s, %s, 'ae@example.com', 'create_task', "
                "'pending', '{}', 'dev', 'dev')",
                (ACCOUNT, NAME),
            )
            conn.execute(
                "INSERT INTO approval_links (token_hash, approval_id, owner_email, expires_at) "
                "VALUES ('h1', 'a1', 'ae@example.com', now())"
            )
        repo.append_audit(_event(7, ACCOUNT))  # not synced yet: goes erased
        report = erase_account_locally(
            repo,
            Mentions.of(ACCOUNT, [NAME]),
            actor="ana@example.com",
            now=T0 + timedelta(days=1),
            workspace="ws",
            erasure_id="e0000000-0000-4000-8000-000000000001",
            central=True,
        )
        assert report.audit_rows_erased == 6  # seq 2, 3, 4, 5, 6 (name) and 7
        assert pending_erasures(repo) == ["e0000000-0000-4000-8000-000000000001"]

        before = verify_remote(repo, target)
        assert not before.ok  # the central copy still holds the content
        central = apply_central_erasures(repo, target)
        assert central.audit_rows_erased == 5  # the synced ones
        assert central.team_records_deleted == 2
        assert pending_erasures(repo) == []
        sync_once(repo, target, workspace="ws")

        assert verify_database(repo).ok
        remote = verify_remote(repo, target)
        assert remote.ok, remote.differences
        assert remote.central_rows == remote.local_rows == 8

    with psycopg.connect(central_dsn) as conn:
        rows = conn.execute(
            "SELECT action_type, account_id, tool_inputs::text, tool_outputs::text "
            "FROM audit_logs ORDER BY seq"
        ).fetchall()
        for action, account, inputs, outputs in rows:
            text = f"{account} {inputs} {outputs}"
            assert NAME not in text
            if action != "account_erased":
                assert ACCOUNT not in text
        assert rows[-1][0] == "account_erased"
        assert conn.execute("SELECT count(*) FROM team_approvals").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM approval_links").fetchone() == (0,)


def test_central_erasure_reaches_rows_local_retention_purged(
    central_dsn: str, tmp_path: Path
) -> None:
    """The erased rows and the erasure event itself were purged locally before the owner role
    applied the erasure: the central rows are erased all the same, from the event's synced
    copy."""
    target = CentralTarget(central_dsn)
    with Repository.open(tmp_path / "sergas.db") as repo:
        for n in range(4):
            repo.append_audit(_event(n, ACCOUNT if n % 2 else OTHER, f"about {NAME}"))
        sync_once(repo, target, workspace="ws")
        report = erase_account_locally(
            repo,
            Mentions.of(ACCOUNT, [NAME]),
            actor="ana@example.com",
            now=T0 + timedelta(days=1),
            workspace="ws",
            erasure_id="e0000000-0000-4000-8000-000000000004",
            central=True,
        )
        assert report.audit_rows_erased == 2  # seq 2 and 4
        sync_once(repo, target, workspace="ws")  # the erasure event reaches the central copy
        purged = purge_local(repo, retention_days=1, keep_unsynced=True, now=T0 + timedelta(9))
        assert purged.rows_deleted == 5  # the four rows and the erasure event
        assert pending_erasures(repo) == ["e0000000-0000-4000-8000-000000000004"]

        central = apply_central_erasures(repo, target)
        assert central.audit_rows_erased == 2
        assert pending_erasures(repo) == []

    with psycopg.connect(central_dsn) as conn:
        rows = conn.execute(
            "SELECT seq, action_type, session_id, account_id, decision, tool_inputs::text "
            "FROM audit_logs WHERE seq <= 4 ORDER BY seq"
        ).fetchall()
    erased = [(r[0], r[2], r[3], r[4], r[5]) for r in rows if r[3] != OTHER]
    marker = '{"erased_by": "e0000000-0000-4000-8000-000000000004"}'
    assert erased == [(2, "erased", None, None, marker), (4, "erased", None, None, marker)]
