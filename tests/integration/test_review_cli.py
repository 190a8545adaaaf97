"""`sergas review` and `sergas export brief` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sergas_tui.domain import OwnerBrief
from tests.helpers.cli import assert_one_paragraph_error, run_cli

SMALL = ["--accounts", "90", "--owners", "3", "--seed", "7"]


def test_review_writes_json_and_markdown_then_export(tmp_path: Path) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    out_json = tmp_path / "brief.json"
    out_md = tmp_path / "md"
    result = run_cli("review", "--json", str(out_json), "--markdown", str(out_md))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "accounts reviewed" in result.stdout
    brief = OwnerBrief.model_validate_json(out_json.read_text())
    assert brief.owner_email == "jordan.avery@demo.sergas.test"
    assert brief.accounts_reviewed == 30
    assert brief.recommendations
    markdown = (out_md / "brief-jordan.avery@demo.sergas.test.md").read_text()
    assert markdown.startswith("# Account brief")
    assert "Harbor Point Logistics" in markdown
    # CRM text is inert in the export: markup and escapes cannot act.
    assert "\x1b" not in markdown
    assert "Square \\[bold\\]Bracket\\[/bold\\] Media" in markdown

    exported = tmp_path / "again.md"
    again = run_cli("export", "brief", "--out", str(exported))
    assert again.returncode == 0, again.stderr
    assert without_times(exported.read_text()) == without_times(markdown)

    # The brief is the owner's current picture: a second review that finds nothing new keeps
    # the whole queue in it (not only what that run added).
    queue = {item["approval_id"] for item in json.loads(out_json.read_text())["queue"]}
    assert queue
    second = run_cli("review", "--json", str(out_json))
    assert second.returncode == 0
    assert "full sync" in result.stdout
    assert "changes since" in second.stdout  # the second review syncs only what changed
    data = json.loads(out_json.read_text())
    assert data["summary"]["accounts_with_changes"] == 0
    assert queue <= {item["approval_id"] for item in data["queue"]}
    assert data["recommendations"]


def without_times(markdown: str) -> str:
    """The brief without the lines that state when it was written (the wall clock moves)."""
    return "\n".join(
        line
        for line in markdown.splitlines()
        if not line.startswith(("As of ", "| Decided since ", "Nothing decided since "))
    )


def test_review_all_owners_writes_one_brief_each(tmp_path: Path) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    result = run_cli("review", "--all", "--markdown", str(tmp_path))
    assert result.returncode == 0, result.stderr + result.stdout
    assert len(list(tmp_path.glob("brief-*.md"))) == 3


def test_review_configuration_errors_exit_2() -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert_one_paragraph_error(run_cli("review", "--engine", "claude"), "anthropic_api_key")
    assert_one_paragraph_error(run_cli("review", "--engine", "gpt"), "--engine")
    assert_one_paragraph_error(run_cli("review", "--owner", "a@b.test", "--all"), "--all")


def test_a_missing_anthropic_key_says_where_the_claude_choice_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    by_option = run_cli("review", "--engine", "claude")
    assert_one_paragraph_error(
        by_option,
        "The Claude engine, chosen with --engine claude, needs the Anthropic API key, and none "
        "is stored. Run `sergas auth set anthropic_api_key`",
    )
    assert "for the claude engine" not in by_option.stderr.casefold()
    monkeypatch.setenv("SERGAS_ANTHROPIC__ENGINE", "claude")
    by_config = run_cli("review")
    assert_one_paragraph_error(
        by_config,
        "The Claude engine, chosen by [anthropic] engine = 'claude' in the configuration, needs "
        "the Anthropic API key",
    )


def test_export_without_a_review_says_what_to_do(tmp_path: Path) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    result = run_cli("export", "brief", "--out", str(tmp_path / "x.md"))
    assert result.returncode == 1
    assert "sergas review" in result.stderr


def test_export_suggests_a_quoted_command_and_wants_an_email(tmp_path: Path) -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    out = str(tmp_path / "x.md")
    missing = run_cli("export", "brief", "--owner", "no one@demo.sergas.test", "--out", out)
    assert missing.returncode == 1
    assert "`sergas review --owner 'no one@demo.sergas.test'`" in " ".join(missing.stderr.split())
    # A name, not an email: say that --owner takes the email, and whose it is when known.
    by_name = run_cli("export", "brief", "--owner", " jordan  avery", "--out", out)
    assert_one_paragraph_error(
        by_name,
        "--owner takes the owner's email, not a name",
        "Jordan Avery is jordan.avery@demo.sergas.test: pass --owner jordan.avery@demo.sergas.test",
        "Nothing was written.",
    )
    unknown = run_cli("review", "--owner", "Nobody Known")
    assert_one_paragraph_error(unknown, "--owner takes the owner's email, not a name")
    assert not (tmp_path / "x.md").exists()


def test_memory_search_and_forget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # table cells on one line: names read whole
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert run_cli("review").returncode == 0
    found = run_cli("memory", "search", "executive sponsor", "--limit", "5")
    assert found.returncode == 0, found.stderr
    assert "Executive" in found.stdout
    from sergas_tui.demo import DemoStore
    from sergas_tui.locations import Locations

    store = DemoStore.open(Locations.from_env().demo_crm_file("demo"))
    meridian = next(s.account_id for s in store.scenarios() if s.key == "exec_sponsor_changed")
    account = store.account(meridian)
    store.close()
    assert account is not None
    name = str(account["Account_Name"])
    assert name in found.stdout  # the account by name, not its raw id
    assert meridian not in found.stdout
    forgot = run_cli("memory", "forget", meridian, "--yes")
    assert forgot.returncode == 0
    assert f"Forgot {name} ({meridian})" in forgot.stdout
    assert "items removed" in forgot.stdout
    again = run_cli("memory", "search", "executive sponsor", "--account", meridian)
    assert "No matches" in again.stdout
    stats = run_cli("memory", "stats")
    assert "accounts" in stats.stdout
