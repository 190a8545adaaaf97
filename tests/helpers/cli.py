"""Running `sergas` in a subprocess and reading what it printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROW = re.compile(
    r"^([0-9a-f]{8})\s+(crit|high|med|low|-)\s+(.+?)\s+(task|email|note|escal\.|update)\s+"
    r"(\S+ [\d,.]+|—)\s+(\d\d-\d\d \d\d:\d\d)$",
    re.MULTILINE,
)


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return subprocess.run(
        [sys.executable, "-m", "sergas_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


def assert_one_paragraph_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    text = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in text, text
    assert result.stderr.strip().count("\n\n") == 0


TYPES = {
    "task": "create_task",
    "email": "follow_up_email",
    "note": "add_note",
    "escal.": "escalation",
    "update": "update_account",
}


def listed_rows() -> list[tuple[str, ...]]:
    """The rows of `sergas approvals list`: (id, priority, account, type, at stake, expires)."""
    listed = run_cli("approvals", "list")
    assert listed.returncode == 0, listed.stderr
    return [tuple(m) for m in ROW.findall(listed.stdout)]


def pending_ids() -> list[tuple[str, str]]:
    """(id, action type) of the pending approvals, read from `sergas approvals list`."""
    return [(row[0], TYPES[row[3]]) for row in listed_rows()]
