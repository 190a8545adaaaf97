"""A PostgreSQL schema of its own for each central-audit test, and the checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from sergas_tui.audit.central.conn import (
    APPLICATION_NAME,
    CentralTarget,
)
from sergas_tui.audit.central.verify import central_stored_form
from sergas_tui.domain import AuditEvent, RecommendationOutcome
from sergas_tui.domain.audit_chain import CONTENT_COLUMNS
from sergas_tui.storage import Repository

AUDIT_COLUMNS_COMPARED = (*CONTENT_COLUMNS, "prev_hash", "row_hash")


@dataclass
class Central:
    """A fresh schema on the test server; ``dsn`` puts it first on the search_path."""

    admin_dsn: str
    schema: str
    roles: list[str] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return make_conninfo(self.admin_dsn, options=f"-c search_path={self.schema}")

    def target(self, **overrides: Any) -> CentralTarget:
        return CentralTarget(make_conninfo(self.dsn, **overrides))

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row)

    def sync_role(self) -> CentralTarget:
        """A least-privilege role (INSERT and SELECT only), as docs/operations.md creates."""
        role = f"sergas_sync_{uuid4().hex[:10]}"
        self.roles.append(role)
        database = conninfo_to_dict(self.admin_dsn).get("dbname", "test")
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}")
            conn.execute(f"GRANT USAGE ON SCHEMA {self.schema} TO {role}")
            conn.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {self.schema} TO {role}")
        return self.target(user=role)

    def count(self, table: str) -> int:
        with self.admin() as conn:
            row = conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
        assert row is not None
        return int(row["n"])

    def audit_rows(self) -> list[dict[str, Any]]:
        with self.admin() as conn:
            return conn.execute("SELECT * FROM audit_logs ORDER BY seq").fetchall()


def event(i: int, *, when: datetime | None = None) -> AuditEvent:
    return AuditEvent(
        session_id=f"session-{i // 10}",
        agent_name="zoho_scout",
        action_type="tool_invocation",
        account_id=f"acc-{i % 7}",
        owner_email="ae@demo.sergas.test",
        tool_name="zoho_get_account_details",
        tool_inputs={"account_id": f"acc-{i % 7}", "n": i, "ratio": i / 3, "tags": ["a", "é"]},
        tool_outputs={"count": i, "nested": {"z": None, "a": True}},
        execution_time_ms=i,
        **({} if when is None else {"timestamp": when}),
    )


def fill(repo: Repository, n: int, start: int = 0) -> None:
    repo.append_audit_batch(event(i) for i in range(start, start + n))


def outcome(i: int, **changes: Any) -> RecommendationOutcome:
    base = RecommendationOutcome(
        recommendation_id=f"rec-{i}",
        account_id=f"acc-{i}",
        created_at=datetime(2026, 10, 1, 12, i, tzinfo=UTC),
        recommendation_type="follow_up_email",
        data_sources=[f"zoho:Accounts:acc-{i}"],
    )
    return base.model_copy(update=changes)


def assert_central_equals_local(central: Central, repo: Repository) -> None:
    local = repo.audit_rows()
    rows = central.audit_rows()
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["seq"] for r in rows}) == len(rows), "a seq was stored twice"
    assert [central_stored_form(r) for r in rows] == [
        {c: row[c] for c in AUDIT_COLUMNS_COMPARED} for row in local
    ]
    assert all(row["synced_at"] is not None for row in local)


def terminate_sync_backends(central: Central) -> int:
    with central.admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (APPLICATION_NAME,),
        ).fetchall()
    return sum(1 for r in rows if r["done"])
