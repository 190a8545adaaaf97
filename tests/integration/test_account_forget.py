"""`sergas account forget`: a demo workspace on the Cognee memory, reviewed, decided and
executed, then one account forgotten through the CLI; every byte of the workspace is scanned.

The scan covers every file under the workspace directory and the log dir except the demo's
Zoho org (``zoho-demo.db*``: the simulated CRM itself, which forgetting never changes — the
account stays in the CRM). The account's name may appear nowhere. Its id may appear only inside
``account_erased`` events: for ``sergas.db`` the test counts the id's occurrences in the raw
bytes (file and WAL) and compares them with its occurrences in the live rows and index entries
(decoded through SQLite), all of which must be in erasure events — so a copy left in a free
page, a WAL frame or a stale index entry shows as a surplus.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.domain.audit_chain import ERASURE_ACTION
from sergas_tui.locations import Locations
from sergas_tui.memory.cognee.setup import cognee_available
from sergas_tui.storage import Repository
from sergas_tui.storage.workspace_lock import WorkspaceUse
from tests.helpers.account_export import SMALL, _account, has_account
from tests.helpers.cli import run_cli

pytestmark = pytest.mark.skipif(
    not cognee_available(), reason="cognee is not installed (pip install 'sergas[cognee]')"
)

DECIDER = "jordan"


def _database() -> Path:
    return Locations.from_env().database_file("demo")


def _other_account(account_id: str) -> str:
    """Another account with recommendations (its data must stay as it was)."""
    with Repository.open(_database()) as repo:
        ids = sorted(repo.latest_snapshots())
        return next(i for i in ids if i != account_id and repo.recommendations_for(i))


def _export(name: str, path: Path) -> dict[str, Any]:
    result = run_cli("account", "export", name, "--out", str(path))
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    document["meta"].pop("generated_at")
    return document


def _two_approvals(seed: str) -> bool:
    """Generate and review the demo org of ``seed``; whether an account has two approvals."""
    shutil.rmtree(Locations.from_env().workspace_dir("demo"), ignore_errors=True)
    generated = run_cli("demo", "generate", *SMALL[:-1], seed)
    assert generated.returncode == 0, generated.stderr
    reviewed = run_cli("review")
    assert reviewed.returncode == 0, reviewed.stderr
    return has_account(min_approvals=2)


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, str]:
    """A reviewed demo workspace on Cognee where the chosen account has every kind of record:
    snapshots, recommendations, approvals (one approved and executed, one rejected), an
    outcome, a snooze, memory, audit rows, an exported Markdown brief and a log line."""
    # The demo org is generated around the present moment, so which accounts it holds depends
    # on the time of day as well as the seed, and an account with two approvals (the two this
    # test decides) is rare. Seeds are tried on the quick local memory first; the first that
    # gives one is then reviewed on Cognee (a seed that does not, there, means the next).
    for seed in map(str, range(5, 105)):
        monkeypatch.delenv("SERGAS_MEMORY__BACKEND", raising=False)
        monkeypatch.delenv("SERGAS_MEMORY__EMBEDDING_PROVIDER", raising=False)
        if not _two_approvals(seed):
            continue
        monkeypatch.setenv("SERGAS_MEMORY__BACKEND", "cognee")
        monkeypatch.setenv("SERGAS_MEMORY__EMBEDDING_PROVIDER", "offline")
        if _two_approvals(seed):
            break
    else:
        pytest.fail("no seed from 5 to 104 gave an account with two approvals")
    account_id, name = _account(min_approvals=2)
    with Repository.open(_database()) as repo:
        approvals = repo.approvals_for(account_id)
        signal = next(s for r in repo.recommendations_for(account_id) for s in r.signals)
        owner = approvals[0].owner_email
    assert len(approvals) >= 2
    approved = run_cli("approvals", "approve", approvals[0].id, "--as", DECIDER)
    assert approved.returncode == 0, approved.stderr
    rejected = run_cli(
        "approvals", "reject", approvals[1].id, "--as", DECIDER, "--reason", f"{name} said no"
    )
    assert rejected.returncode == 0, rejected.stderr
    executed = run_cli("approvals", "execute")
    assert executed.returncode == 0, executed.stderr
    snoozed = run_cli(
        "signals", "snooze", account_id, signal, "--days", "5", "--reason", "On holiday",
        "--as", DECIDER,
    )  # fmt: skip
    assert snoozed.returncode == 0, snoozed.stderr
    locations = Locations.from_env()
    briefs = locations.briefs_dir("demo")
    briefs.mkdir(parents=True, exist_ok=True)
    brief = run_cli("export", "brief", "--owner", owner, "--out", str(briefs / "brief.md"))
    assert brief.returncode == 0, brief.stderr
    assert name in (briefs / "brief.md").read_text(encoding="utf-8")
    with locations.log_file.open("a", encoding="utf-8") as log:  # as a library's warning may
        log.write(json.dumps({"event": f"slow read of {name} ({account_id})"}) + "\n")
    return account_id, name


def _scanned_files() -> list[Path]:
    locations = Locations.from_env()
    root = locations.workspace_dir("demo")
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("zoho-demo.db")]
    return files + [p for p in locations.log_dir.rglob("*") if p.is_file()]


def _live_occurrences(database: Path, needle: str) -> tuple[int, int]:
    """(occurrences of ``needle`` in the live rows and index entries of ``database``, those in
    rows and index entries of erasure events)."""
    conn = sqlite3.connect(database)
    try:
        total = erasure = 0
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            indexed = [
                info[2]
                for index in conn.execute(f"PRAGMA index_list({table})").fetchall()
                for info in conn.execute(f"PRAGMA index_info({index[1]})").fetchall()
            ]
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table}"):
                values = dict(zip(columns, row, strict=True))
                found = sum(str(v).count(needle) for v in values.values() if v is not None)
                found += sum(str(values[c]).count(needle) for c in indexed if values.get(c))
                total += found
                if table == "audit_logs" and values["action_type"] == ERASURE_ACTION:
                    erasure += found
        return total, erasure
    finally:
        conn.close()


def test_forget_leaves_no_byte_of_the_account(workspace: tuple[str, str], tmp_path: Path) -> None:
    account_id, name = workspace
    document = _export(name, tmp_path / "before.json")
    for kind, count in document["meta"]["counts"].items():
        assert count >= 1, kind  # the export held every kind of record
    other_id = _other_account(account_id)
    with Repository.open(_database()) as repo:
        other_name = str(repo.latest_snapshots()[other_id].data["Account_Name"])
    other_before = _export(other_id, tmp_path / "other-before.json")
    assert any(name.encode() in p.read_bytes() for p in _scanned_files())

    refused = run_cli("account", "forget", name, stdin="n\n")  # no terminal to confirm at
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr
    assert "Nothing was changed" in refused.stderr

    # With the app open on the workspace, forgetting refuses before changing anything (it
    # could not compact the files afterwards, nor remove Cognee's old versions safely).
    with WorkspaceUse.register(Locations.from_env().workspace_dir("demo")):
        busy = run_cli("account", "forget", name, "--yes")
    assert busy.returncode != 0
    assert "is in use by process" in " ".join(busy.stderr.split())
    assert "nothing was changed" in " ".join(busy.stderr.split())
    assert _export(name, tmp_path / "busy.json") == document

    forgot = run_cli("account", "forget", name, "--yes")
    assert forgot.returncode == 0, forgot.stderr
    summary = " ".join(forgot.stderr.split())
    assert f"Forgot {name} ({account_id})" in summary
    assert "recorded as the erasure of " in summary
    assert "exported briefs rewritten 1" in summary
    brief = Locations.from_env().briefs_dir("demo") / "brief.md"
    assert brief.read_text(encoding="utf-8").startswith("# Account brief")  # the owner's stays

    needles = [name.encode(), name.lower().encode(), name.upper().encode()]
    for path in _scanned_files():
        data = path.read_bytes()
        assert not any(n in data for n in needles), f"{name} found in {path}"
        if not path.name.startswith("sergas.db"):
            assert account_id.encode() not in data, f"{account_id} found in {path}"
    database = _database()
    raw = sum(
        p.read_bytes().count(account_id.encode())
        for p in (database, database.with_name(database.name + "-wal"))
        if p.exists()
    )
    live, in_erasure = _live_occurrences(database, account_id)
    assert live == in_erasure >= 1  # only erasure events name the account
    assert raw == live  # no copy left in free pages, the WAL or a stale index entry

    verified = run_cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout

    gone = run_cli("account", "forget", name, "--yes")
    assert gone.returncode == 2
    assert "No account in this workspace" in " ".join(gone.stderr.split())

    other_after = _export(other_id, tmp_path / "other-after.json")
    assert other_after == other_before, f"{other_name} changed"
