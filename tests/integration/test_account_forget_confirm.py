"""`sergas account forget` without --yes: it asks at a terminal, and refuses where it cannot ask
(a pipe, /dev/null); neither a refusal nor a "no" changes anything."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from tests.helpers.cli import assert_one_paragraph_error, run_cli


def _reviewed_account() -> tuple[str, str]:
    """(id, name) of an account of a reviewed demo workspace."""
    assert run_cli("demo", "generate", "--accounts", "40", "--owners", "2").returncode == 0
    assert run_cli("review", "--all").returncode == 0
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        account_id, snapshot = sorted(repo.latest_snapshots().items())[0]
    return account_id, str(snapshot.data["Account_Name"])


def _snapshot_count(account_id: str) -> int:
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        return len(repo.snapshots_for(account_id))


def _answer_at_a_terminal(answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `sergas` with a terminal as its standard input, the answer typed ahead."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode())
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
        return subprocess.run(
            [sys.executable, "-m", "sergas_tui", *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)


def test_forget_without_a_terminal_asks_for_yes_and_changes_nothing() -> None:
    account_id, name = _reviewed_account()
    before = _snapshot_count(account_id)
    assert before >= 1
    for stdin in ("", "y\n"):  # /dev/null, or an answer nobody typed at a prompt
        refused = run_cli("account", "forget", name, stdin=stdin)
        assert_one_paragraph_error(
            refused,
            f"Forgetting {name} asks for a confirmation, and there is no terminal to ask it on; "
            "pass --yes to forget without a confirmation. Nothing was changed.",
        )
        assert "Aborted" not in refused.stderr
    assert _snapshot_count(account_id) == before

    declined = _answer_at_a_terminal("n\n", "account", "forget", name)
    assert declined.returncode == 1, declined.stderr
    assert f"Forget {name}?" in declined.stderr
    assert f"Nothing was forgotten: {name} is kept." in " ".join(declined.stderr.split())
    assert "Aborted" not in declined.stderr
    assert _snapshot_count(account_id) == before
