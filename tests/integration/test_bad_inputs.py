"""Bad input ends in one clear paragraph and the right exit code, as a user runs the CLI
(subprocesses): defects 5, 6 and 7 of the tracker, one regression test each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from tests.helpers.cli import assert_one_paragraph_error, pending_ids, run_cli

SMALL = ["--accounts", "60", "--owners", "3", "--seed", "11"]


@pytest.fixture
def reviewed() -> None:
    """A demo workspace with one review done (pending approvals to decide)."""
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert run_cli("review").returncode == 0


def no_unexpected(result: object) -> None:
    text = f"{getattr(result, 'stdout', '')}{getattr(result, 'stderr', '')}"
    assert "Unexpected error" not in text, text
    assert "Traceback" not in text, text


# -- defect 6: paths, payload files and arguments -------------------------------------------


@pytest.mark.usefixtures("reviewed")
def test_export_brief_to_a_bad_place_is_one_sentence_and_creates_nothing(tmp_path: Path) -> None:
    for out, fragment in (
        ("/proc/nope/x.md", "the directory /proc/nope does not exist"),
        ("/", "names a directory, not a file"),
        (str(tmp_path), "is a directory"),
    ):
        result = run_cli("export", "brief", "--out", out)
        no_unexpected(result)
        assert_one_paragraph_error(result, fragment)
    missing = tmp_path / "nonexistent" / "dir"
    result = run_cli("export", "brief", "--out", str(missing / "x.md"))
    assert_one_paragraph_error(result, f"the directory {missing} does not exist")
    assert not missing.parent.exists(), "no directory is created that was not asked for"
    # The good path still works.
    good = run_cli("export", "brief", "--out", str(tmp_path / "brief.md"))
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "brief.md").read_text().startswith("# Account brief")


@pytest.mark.usefixtures("reviewed")
def test_audit_export_to_a_bad_place() -> None:
    result = run_cli("audit", "export", "--out", "/proc/x.jsonl")
    no_unexpected(result)
    assert_one_paragraph_error(result, "/proc/x.jsonl", "nothing was written")


def test_a_directory_given_for_a_file_suggests_a_name_in_the_commands_format(
    tmp_path: Path,
) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    folder = tmp_path / "mdout"
    folder.mkdir()
    cases = [
        (("account", "export", "Anything", "--out", "."), "e.g. --out account.json."),
        (("account", "export", "Anything", "--out", str(folder)), f"--out {folder}/account.json."),
        (("review", "--json", str(folder)), f"e.g. --json {folder}/brief.json."),
        (("audit", "export", "--out", str(folder)), f"e.g. --out {folder}/audit.jsonl."),
        (("export", "brief", "--out", str(folder)), f"e.g. --out {folder}/brief.md."),
    ]
    for args, fragment in cases:
        result = run_cli(*args)
        no_unexpected(result)
        assert_one_paragraph_error(result, fragment)
    assert list(folder.iterdir()) == []


@pytest.mark.usefixtures("reviewed")
def test_audit_export_since_says_which_formats_it_takes(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    for text in ("yesterday", "", "31/12/2025"):
        result = run_cli("audit", "export", "--since", text, "--out", str(out))
        no_unexpected(result)
        assert_one_paragraph_error(
            result,
            f"--since {text!r} is not a date or time. Give a date, YYYY-MM-DD",
            "YYYY-MM-DDTHH:MM[:SS]",
            "e.g. --since 2025-06-30",
            "Nothing was exported.",
        )
        assert "input is too short" not in result.stderr
    assert not out.exists()
    every = run_cli("audit", "export", "--since", "2000-01-01", "--out", str(out))
    assert every.returncode == 0, every.stderr
    assert out.read_text().count("\n") > 0
    later = run_cli("audit", "export", "--since", "2999-01-01T10:00+02:00")
    assert later.returncode == 0, later.stderr
    assert later.stdout == ""


def test_review_checks_its_output_paths_before_it_runs(tmp_path: Path) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    result = run_cli("review", "--all", "--markdown", "/proc/sys/x")
    no_unexpected(result)
    assert_one_paragraph_error(result, "--markdown /proc/sys/x")
    assert "accounts reviewed" not in result.stdout, "the review must not have run"
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        assert repo.audit_events() == [], "nothing was synced, reviewed or audited"
    result = run_cli("review", "--json", str(tmp_path / "no" / "such" / "brief.json"))
    assert_one_paragraph_error(result, "does not exist")
    # A missing --markdown directory whose parent exists is created, and the review says so.
    out_md = tmp_path / "briefs"
    done = run_cli("review", "--all", "--markdown", str(out_md))
    assert done.returncode == 0, done.stderr
    assert f"Created the directory {out_md}" in " ".join(done.stdout.split())
    assert len(list(out_md.glob("brief-*.md"))) == 3


@pytest.mark.usefixtures("reviewed")
def test_arguments_and_payload_files_that_are_not_text(tmp_path: Path) -> None:
    ident = pending_ids()[0][0]
    shown = run_cli_bytes("approvals", "show", b"\xff\xfe")
    no_unexpected(shown)
    assert_one_paragraph_error(shown, "not UTF-8 text")

    not_utf8 = tmp_path / "bad.json"
    not_utf8.write_bytes(b'{"subject": "\xff\xfe"}')
    result = run_cli("approvals", "adjust", ident, "--payload", str(not_utf8), "--no-execute")
    no_unexpected(result)
    assert_one_paragraph_error(result, "is not UTF-8 text (byte 0xff at offset 13)")

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    result = run_cli("approvals", "adjust", ident, "--payload", str(deep), "--no-execute")
    no_unexpected(result)
    assert_one_paragraph_error(result, "nests arrays or objects too deeply")

    for text, fragment in (("{", "not valid JSON"), ('{"a": NaN}', "NaN")):
        broken = tmp_path / "broken.json"
        broken.write_text(text)
        result = run_cli("approvals", "adjust", ident, "--payload", str(broken), "--no-execute")
        assert_one_paragraph_error(result, fragment)
    result = run_cli("approvals", "adjust", ident, "--payload", str(tmp_path), "--no-execute")
    assert_one_paragraph_error(result, "is a directory")
    result = run_cli(
        "approvals", "adjust", ident, "--payload", str(tmp_path / "none.json"), "--no-execute"
    )
    assert_one_paragraph_error(result, "Cannot read the payload file")


def run_cli_bytes(*args: str | bytes) -> subprocess.CompletedProcess[str]:
    """Like ``run_cli``, with arguments that may be raw bytes (not UTF-8)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    argv = [os.fsencode(sys.executable), b"-m", b"sergas_tui"]
    argv += [a if isinstance(a, bytes) else a.encode() for a in args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


# -- defect 5: weak inputs ------------------------------------------------------------------


@pytest.mark.usefixtures("reviewed")
def test_defect_5_adjust_refuses_what_zoho_would_refuse(tmp_path: Path) -> None:
    ident = next(i for i, kind in pending_ids() if kind == "create_task")
    payload = tmp_path / "edit.json"
    payload.write_text(
        json.dumps({"subject": "", "priority": "Urgent!!", "due_date": "1900-01-01"})
    )
    result = run_cli("approvals", "adjust", ident, "--payload", str(payload), "--no-execute")
    no_unexpected(result)
    assert_one_paragraph_error(
        result,
        "subject: must not be empty",
        "due_date: 1900-01-01 is in the past",
        "use one of Highest, High, Normal, Low, Lowest",
        "Nothing was saved",
    )
    # Still pending: it can be adjusted properly.
    assert ident in {i for i, _ in pending_ids()}
    payload.write_text(json.dumps({"subject": "Call", "description": "x" * 40_000}))
    result = run_cli("approvals", "adjust", ident, "--payload", str(payload), "--no-execute")
    assert_one_paragraph_error(result, "description: is 40,000 characters long")


def test_defect_5_a_weak_server_token_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    monkeypatch.setenv("SERGAS_MCP_SERVER_TOKEN", "x")
    for server in ("zoho", "memory"):
        result = run_cli("mcp", server, "--http", "1")
        no_unexpected(result)
        assert_one_paragraph_error(
            result, "at least 32 random characters", "sergas auth generate mcp_server_token"
        )


# -- defect 7: secrets inside DSNs and URLs -------------------------------------------------


def test_defect_7_config_show_masks_passwords_in_dsns_and_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERGAS_CENTRAL__DSN", "postgresql://sergas:hunter2@db.internal:5432/audit")
    monkeypatch.setenv("SERGAS_MEMORY__ENDPOINT", "http://ae:pa55word@memory.internal:8766/mcp")
    monkeypatch.setenv(
        "SERGAS_ZOHO__MCP_ENDPOINT",
        "https://acme.zohomcp.com/mcp/4f2c8e1a9b7d6c5e3f1a0b9c8d7e6f5a/message?key=s3cr3tkey",
    )
    result = run_cli("config", "show")
    assert result.returncode == 0, result.stderr
    for secret in ("hunter2", "pa55word", "4f2c8e1a9b7d6c5e3f1a0b9c8d7e6f5a", "s3cr3tkey"):
        assert secret not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["central"]["dsn"] == "postgresql://sergas:***@db.internal:5432/audit"
    assert shown["memory"]["endpoint"] == "http://ae:***@memory.internal:8766/mcp"
    assert shown["zoho"]["mcp_endpoint"] == "https://acme.zohomcp.com/mcp/***/message?key=***"
