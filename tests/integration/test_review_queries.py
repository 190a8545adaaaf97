"""Every lookup a review makes in the workspace database uses an index (issue 17).

Two reviews of the demo org (the second one finds approvals, queued recommendations and
snapshots from the first) run with every statement of the repository's connections traced;
each ``SELECT``/``UPDATE``/``DELETE`` is then explained. A full scan is allowed only where the
review reads a whole table once by design: every account's latest snapshot and the mutes in
force. Anything else scanning a table would cost the review time in proportion to the
workspace for every account.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from sergas_tui.locations import Locations
from sergas_tui.storage.repository import Repository
from tests.integration.simkit import demo_services

ONCE_PER_REVIEW = (
    # latest_snapshots(): the whole table, grouped by account, once per review.
    re.compile(r"SCAN (account_snapshots USING COVERING INDEX account_snapshots_latest|latest)"),
    # active_mutes(): every mute in force (a small table of people's choices), once.
    re.compile(r"SCAN signal_mutes"),
)


def _shape(sql: str) -> str:
    """The statement with its values taken out (for grouping and messages)."""
    shape = re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", sql)
    return re.sub(r"\?(?:, \?)+", "?", shape)


async def test_every_lookup_of_a_review_uses_an_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    traced: list[str] = []
    checkout = Repository._checkout

    def traced_checkout(self: Repository) -> sqlite3.Connection:
        conn = checkout(self)
        conn.set_trace_callback(traced.append)
        return conn

    monkeypatch.setattr(Repository, "_checkout", traced_checkout)
    services = demo_services(accounts=150, owners=3, seed=7)
    try:
        services.store._conn.set_trace_callback(traced.append)
        for _ in range(2):
            orchestrator = await services.orchestrator()
            async for _event in orchestrator.review(None):
                pass
    finally:
        await services.aclose()
        services.close()

    statements = {_shape(sql): sql for sql in traced}
    lookups = {
        shape: sql
        for shape, sql in statements.items()
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
    }
    assert any("FROM approvals WHERE account_id IN" in s for s in lookups), sorted(lookups)
    conn = sqlite3.connect(Locations.from_env().database_file("demo"))
    try:
        scans = {}
        for shape, sql in lookups.items():
            plan = [str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            bad = [
                step
                for step in plan
                if step.startswith("SCAN") and not any(p.match(step) for p in ONCE_PER_REVIEW)
            ]
            if bad:
                scans[shape] = bad
    finally:
        conn.close()
    assert not scans, scans
