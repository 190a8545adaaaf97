"""`sergas signals` and `sergas approvals reject --not-useful`, as a user runs them."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections import Counter

import pytest
from rich.cells import cell_len

from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from sergas_tui.storage.mutes import list_mutes
from tests.helpers.cli import run_cli

SMALL = ["--accounts", "90", "--owners", "3", "--seed", "7"]
ZOHO_ID = re.compile(r"(?<![\d…])\d{19}(?!\d)")
MUTE_ID = re.compile(r"^([0-9a-f]{8})  ", re.MULTILINE)


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def reviewed() -> None:
    assert run_cli("demo", "generate", *SMALL).returncode == 0
    assert run_cli("review").returncode == 0


def _repo() -> Repository:
    return Repository.open(Locations.from_env().database_file("demo"))


def signalled_account() -> tuple[str, str, str]:
    """(id, name, signal key) of an account the review found a signal on."""
    with _repo() as repo:
        [brief] = [b for b in (repo.latest_brief(o) for o in _owners(repo)) if b and b.accounts]
        entry = next(a for a in brief.accounts or [] if a.signals)
    return entry.account_id, entry.account_name, entry.signals[0].key


def _owners(repo: Repository) -> list[str]:
    return sorted({s.owner_email for s in repo.latest_snapshots().values()})


def shared_word() -> str:
    """A name word two accounts share (so it names neither alone)."""
    with _repo() as repo:
        names = [str(s.data.get("Account_Name", "")) for s in repo.latest_snapshots().values()]
    counts = Counter(w.casefold() for n in names for w in set(n.split()) if len(w) > 4)
    return next(word for word, count in counts.most_common() if count >= 2)


def mute_count() -> int:
    with _repo() as repo:
        from datetime import UTC, datetime

        return len(list_mutes(repo, now=datetime.now(UTC), active_only=False))


def assert_one_paragraph(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr + result.stdout
    text = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in text, text
    assert result.stderr.strip().count("\n\n") == 0


def test_snooze_list_dismiss_and_unmute(reviewed: None) -> None:
    account_id, name, key = signalled_account()
    first_word = name.split()[0]
    snoozed = run_cli(
        "signals", "snooze", account_id, key, "--days", "20",
        "--reason", "Customer on holiday until January", "--as", "ana@example.com",
    )  # fmt: skip
    assert snoozed.returncode == 0, snoozed.stderr
    assert "Snoozed" in snoozed.stdout
    assert name.split()[0] in snoozed.stdout

    listed = run_cli("signals", "list")
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    assert "1 mute in force" in text
    assert first_word in text
    assert "Snoozed until" in text
    assert "Customer on holiday until" in text
    assert "ana@example.com" in text
    assert not ZOHO_ID.search(text), text  # names, never raw ids
    assert all(cell_len(line) <= 80 for line in text.splitlines()), text
    [short] = MUTE_ID.findall(text)

    # By name, and a second mute of the same signal replaces the first.
    dismissed = run_cli(
        "signals", "dismiss", name, key, "--reason", "Not our concern",
        "--as", "jordan",
    )  # fmt: skip
    assert dismissed.returncode == 0, dismissed.stderr
    assert "until you unmute it" in " ".join(dismissed.stdout.split())
    listed = run_cli("signals", "list", "--account", name)
    assert "1 mute on" in listed.stdout
    assert "Dismissed — Not our concern" in " ".join(listed.stdout.split())
    everything = run_cli("signals", "list", "--all")
    assert "2 mutes (in force, ended or lifted)" in everything.stdout
    assert "Snooze lifted" in everything.stdout

    unmuted = run_cli("signals", "unmute", name, key, "--as", "jordan")
    assert unmuted.returncode == 0, unmuted.stderr
    assert "Unmuted" in unmuted.stdout
    assert "No signal is snoozed or dismissed" in run_cli("signals", "list").stdout
    again = run_cli("signals", "unmute", short)
    assert_one_paragraph(again, "already been lifted")

    verified = run_cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout
    with _repo() as repo:
        kinds = [e.action_type for e in repo.audit_events(limit=20)]
    assert kinds.count("signal_snoozed") == 1
    assert kinds.count("signal_dismissed") == 1
    assert kinds.count("signal_unmuted") == 1


def test_bad_input_is_one_paragraph_and_changes_nothing(reviewed: None) -> None:
    account_id, _name, key = signalled_account()
    cases = [
        (("snooze", account_id, "no_activty", "--days", "3", "--reason", "x"),
         ("no risk signal 'no_activty'", "no_activity_critical (Gone quiet)")),
        (("snooze", shared_word(), key, "--days", "3", "--reason", "x"),
         ("accounts match", "Give more of the name")),
        (("snooze", "No Such Account Ltd", key, "--days", "3", "--reason", "x"),
         ("No account in this workspace",)),
        (("snooze", account_id, key, "--until", "2020-01-01", "--reason", "x"),
         ("is in the past",)),
        (("snooze", account_id, key, "--until", "01/02/2027", "--reason", "x"),
         ("not a date", "YYYY-MM-DD")),
        (("snooze", account_id, key, "--until", "2099-01-01", "--days", "3", "--reason", "x"),
         ("not both",)),
        (("snooze", account_id, key, "--reason", "x"), ("Say how long",)),
        (("snooze", account_id, key, "--days", "500", "--reason", "x"), ("dismiss the signal",)),
        (("snooze", account_id, key, "--days", "3", "--reason", "   "), ("Say why",)),
        (("unmute", account_id, key), ("is not snoozed or dismissed",)),
        (("unmute", "ffffffff"), ("There is no mute",)),
    ]  # fmt: skip
    for args, fragments in cases:
        assert_one_paragraph(run_cli("signals", *args), *fragments)
    missing = run_cli("signals", "snooze", account_id, key, "--days", "3")
    assert missing.returncode == 2
    assert "--reason" in missing.stderr
    assert mute_count() == 0


def test_each_command_titles_its_errors_and_unmute_asks_for_the_signal(
    reviewed: None,
) -> None:
    account_id, name, key = signalled_account()
    titles = [
        (("list", "--account", "No Such Account Ltd"), "Signal mutes:"),
        (("unmute", "ffffffff"), "Unmute:"),
        (("snooze", "No Such Account Ltd", key, "--days", "3", "--reason", "x"), "Snooze:"),
        (("dismiss", "No Such Account Ltd", key, "--reason", "x"), "Dismiss:"),
    ]
    for args, title in titles:
        result = run_cli("signals", *args)
        assert_one_paragraph(result, "Nothing was changed" if args[0] != "unmute" else "no mute")
        assert result.stderr.startswith(title), result.stderr
        assert "Snooze or dismiss" not in result.stderr

    # An account without a SIGNAL: say that SIGNAL is missing, and what is muted there.
    nothing = run_cli("signals", "unmute", account_id)
    assert_one_paragraph(
        nothing,
        "`sergas signals unmute` takes a mute id, or an account and a SIGNAL;",
        f"{name} is an account and has no snoozed or dismissed signal",
        "Nothing was changed.",
    )
    snoozed = run_cli("signals", "snooze", account_id, key, "--days", "3", "--reason", "x")
    assert snoozed.returncode == 0, snoozed.stderr
    [short] = MUTE_ID.findall(run_cli("signals", "list").stdout)
    muted = run_cli("signals", "unmute", account_id)
    assert_one_paragraph(
        muted,
        f"{name} is an account: give the SIGNAL to unmute after it, e.g. "
        f"`sergas signals unmute {shlex.quote(name)} {key}`",
        f"Its muted signals: {key} (",
        f"mute {short})",
        "Nothing was changed.",
    )
    assert muted.stderr.startswith("Unmute:")
    assert mute_count() == 1


def test_reject_not_useful_is_recorded(reviewed: None) -> None:
    listed = run_cli("approvals", "list")
    ident = re.findall(r"^([0-9a-f]{8})\s", listed.stdout, re.MULTILINE)[0]
    rejected = run_cli("approvals", "reject", ident, "--not-useful", "--as", "jordan")
    assert rejected.returncode == 0, rejected.stderr
    assert "Noted as not useful" in rejected.stdout
    with _repo() as repo:
        [full] = repo.approval_ids_with_prefix(ident)
        approval = repo.get_approval(full)
        assert approval is not None
        assert approval.details is not None
        assert approval.details["feedback"] == "not_useful"
        decided = [e for e in repo.audit_events(limit=5) if e.action_type == "approval_decided"]
    assert isinstance(decided[-1].tool_inputs, dict)
    assert decided[-1].tool_inputs["feedback"] == "not_useful"
