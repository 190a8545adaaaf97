"""An account forgotten in the workspace but still in the CRM comes back at the next review:
the forget makes that review sync in full and say why (an incremental sync would skip it
until its next change in the CRM)."""

from __future__ import annotations

import re

from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from tests.helpers.cli import run_cli


def _figure(output: str, label: str) -> int:
    found = re.search(rf"{label}\s*│\s*(\d+)", output)
    assert found, output
    return int(found.group(1))


def _sync_line(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Zoho sync" in line)
    parts = []
    for line in lines[start:]:
        if "Zoho API calls" in line:
            break
        parts.append(line.split("│")[2].strip() if line.count("│") >= 3 else "")
    return " ".join(p for p in parts if p)


def test_a_forgotten_account_still_in_the_crm_is_reviewed_again() -> None:
    assert run_cli("demo", "generate", "--accounts", "40", "--owners", "2").returncode == 0
    first = run_cli("review", "--all")
    assert first.returncode == 0, first.stderr
    reviewed = _figure(first.stdout, "accounts reviewed")
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        account_id = sorted(repo.latest_snapshots())[0]

    forgot = run_cli("account", "forget", account_id, "--yes")
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        assert account_id not in repo.latest_snapshots()

    again = run_cli("review", "--all")
    assert again.returncode == 0, again.stderr
    assert _figure(again.stdout, "accounts reviewed") == reviewed
    assert "an account was forgotten here" in _sync_line(again.stdout)
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        assert account_id in repo.latest_snapshots()

    third = run_cli("review", "--all")  # the full sync cleared the mark
    assert third.returncode == 0, third.stderr
    assert "changes since" in _sync_line(third.stdout)
    assert _figure(third.stdout, "accounts reviewed") == reviewed
