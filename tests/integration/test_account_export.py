"""`sergas account export`: one demo account's data, as a user runs it after a review."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.domain.redaction import REDACTED
from sergas_tui.memory.schema import memory_path
from sergas_tui.storage import Repository
from tests.helpers.account_export import SMALL, _account, _database
from tests.helpers.cli import assert_one_paragraph_error, run_cli

SECRET = "123-45-6789"
"""A sensitive value planted in a stored audit row of the account (under ``Tax_ID``)."""


@pytest.fixture
def reviewed() -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert run_cli("review").returncode == 0


def _count(path: Path, table: str, account_id: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(
            conn.execute(
                f"SELECT count(*) FROM {table} WHERE account_id = ?", (account_id,)
            ).fetchone()[0]
        )
    finally:
        conn.close()


def _plant_sensitive_audit_row(account_id: str) -> None:
    """A stored audit row whose input holds a sensitive field, as an older version may have
    written it: the export must redact it as the audit export does."""
    conn = sqlite3.connect(_database())
    try:
        with conn:
            seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM audit_logs").fetchone()[0]
            conn.execute(
                "INSERT INTO audit_logs (id, seq, timestamp, session_id, agent_name, "
                "action_type, account_id, tool_inputs, prev_hash, row_hash) "
                "VALUES (?, ?, '2026-01-01T00:00:00+00:00', 's', 'test', 'tool_invocation', ?, "
                "?, 'x', 'y')",
                (f"planted-{seq}", seq, account_id, json.dumps({"Tax_ID": SECRET})),
            )
    finally:
        conn.close()


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_export_holds_every_kind_redacted_and_without_tokens(
    reviewed: None, tmp_path: Path
) -> None:
    account_id, name = _account()
    with Repository.open(_database()) as repo:
        signal = next(s for r in repo.recommendations_for(account_id) for s in r.signals)
        tokens = [a.token for a in repo.approvals_for(account_id)]
    snoozed = run_cli(
        "signals", "snooze", account_id, signal, "--days", "5", "--reason", "On holiday",
        "--as", "ana@example.com",
    )  # fmt: skip
    assert snoozed.returncode == 0, snoozed.stderr
    _plant_sensitive_audit_row(account_id)

    out = tmp_path / "account.json"
    result = run_cli("account", "export", name, "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    document = json.loads(text)

    meta = document["meta"]
    assert (meta["account_id"], meta["account_name"]) == (account_id, name)
    assert (meta["workspace"], meta["schema"]) == ("demo", 1)
    assert meta["generated_at"]
    counts = meta["counts"]
    database = _database()
    for kind, table in (
        ("snapshots", "account_snapshots"),
        ("recommendations", "recommendations"),
        ("approvals", "approvals"),
        ("outcomes", "recommendation_outcomes"),
        ("signal_mutes", "signal_mutes"),
        ("audit", "audit_logs"),
    ):
        assert counts[kind] == len(document[kind]) == _count(database, table, account_id), kind
    for kind in ("snapshots", "recommendations", "approvals", "signal_mutes", "audit"):
        assert counts[kind] >= 1, kind
    memory_file = memory_path(database)
    remembered = sum(
        _count(memory_file, table, account_id)
        for table in ("key_events", "commitments", "notes", "recommendations")
    )
    assert counts["memory"] == remembered >= 1
    assert document["memory"]["history"]["account_id"] == account_id

    assert "token" not in set(_keys(document))
    assert tokens
    assert not any(token in text for token in tokens)

    # The audit rows are exactly what `sergas audit export` writes for them, redacted alike.
    audit_out = tmp_path / "audit.jsonl"
    assert run_cli("audit", "export", "--out", str(audit_out)).returncode == 0
    exported = [json.loads(line) for line in audit_out.read_text(encoding="utf-8").splitlines()]
    assert document["audit"] == [r for r in exported if r["account_id"] == account_id]
    planted = next(r for r in document["audit"] if r["id"].startswith("planted-"))
    assert planted["tool_inputs"] == {"Tax_ID": REDACTED}
    assert SECRET not in text


def test_unknown_account_is_one_paragraph_exit_2(reviewed: None, tmp_path: Path) -> None:
    out = tmp_path / "nobody.json"
    result = run_cli("account", "export", "No Such Account Ltd", "--out", str(out))
    assert_one_paragraph_error(result, "No account in this workspace", "No Such Account Ltd")
    assert not out.exists()
