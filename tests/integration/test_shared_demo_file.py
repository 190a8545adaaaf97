"""The demo org file shared by several processes (the app, CLI commands, an MCP server):
ids never collide, another process's exit never deletes the WAL from under us, and a failing
local file reads as a local problem, not as Zoho's."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from sergas_tui.crm.errors_map import LOCAL_FILE_ERROR, build_error, parse_error_body
from sergas_tui.crm.simulator.orgdb import OrgDb
from sergas_tui.demo import DemoStore, generate

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

CHILD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM records").fetchone()
conn.close()  # if it believes it is the last user, SQLite checkpoints and deletes the WAL
"""


def org(tmp_path: Path) -> Path:
    path = tmp_path / "zoho-demo.db"
    generate(path, accounts=30, owners=1, seed=3, now=NOW)
    return path


def task(record_id: str) -> dict[str, object]:
    stamp = NOW.isoformat()
    return {"id": record_id, "Subject": "x", "Created_Time": stamp, "Modified_Time": stamp}


def test_two_writers_on_one_file_never_reuse_an_id(tmp_path: Path) -> None:
    path = org(tmp_path)
    app, cli = OrgDb(path), OrgDb(path)  # both read the highest id when they opened
    try:
        made: list[str] = []
        for turn in range(6):
            db = app if turn % 2 else cli

            def write(w: object, out: list[str] = made) -> None:
                record_id = w.next_id()  # type: ignore[attr-defined]
                w.insert("Tasks", task(record_id), None)  # type: ignore[attr-defined]
                out.append(record_id)

            db.write(write)
        assert len(set(made)) == 6
        assert made == sorted(made)
    finally:
        app.close()
        cli.close()


def test_another_process_exiting_leaves_our_wal_alone(tmp_path: Path) -> None:
    path = org(tmp_path)
    wal = path.with_name(path.name + "-wal")
    store = DemoStore.open(path)  # the app: its demo store, then the simulator on the same file
    db = OrgDb(path)
    try:
        db.record("Accounts", "0")
        store.meta()
        assert wal.exists()
        before = os.stat(wal).st_ino
        for _ in range(3):
            done = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=False)
            assert done.returncode == 0
            assert wal.exists(), "another process deleted the WAL we are using"
            assert os.stat(wal).st_ino == before
    finally:
        db.close()
        store.close()


def test_a_failing_demo_file_is_reported_as_a_local_problem() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/crm/v8/Accounts/1/Tasks")
    body = parse_error_body(
        {
            "code": LOCAL_FILE_ERROR,
            "message": "the demo CRM file /x/zoho-demo.db failed: disk I/O error",
            "status": "error",
        }
    )
    error = build_error(500, body, request=request)
    assert error.message.startswith("The demo CRM on this machine answered GET")
    assert "not at Zoho" in error.message
    assert "disk I/O error" in error.message
    assert "status.zoho.com" not in error.message
