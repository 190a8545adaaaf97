"""`sergas review --owner` reads an email in any letter case as the CRM's owner: the same
changes, the same brief and the same brief file as with the CRM's own spelling."""

from __future__ import annotations

import re
from pathlib import Path

from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from tests.helpers.cli import run_cli


def _figure(output: str, label: str) -> int:
    found = re.search(rf"{label}\s*│\s*(\d+)", output)
    assert found, output
    return int(found.group(1))


def _owner_with_accounts() -> str:
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        owners = sorted({s.owner_email for s in repo.latest_snapshots().values()})
    return owners[0]


def test_an_owner_typed_in_another_case_is_the_crm_owner(tmp_path: Path) -> None:
    assert run_cli("demo", "generate", "--accounts", "60", "--owners", "3").returncode == 0
    everyone = run_cli("review", "--all")
    assert everyone.returncode == 0, everyone.stderr
    owner = _owner_with_accounts()
    shouting = owner.upper()
    assert shouting != owner

    first = run_cli("review", "--owner", shouting, "--markdown", str(tmp_path / "md"))
    assert first.returncode == 0, first.stderr
    # Nothing changed in the CRM since the review of everyone: no account has changes.
    assert _figure(first.stdout, "with changes") == 0
    at_risk = _figure(first.stdout, "at risk")
    assert [p.name for p in (tmp_path / "md").iterdir()] == [f"brief-{owner}.md"]
    brief = (tmp_path / "md" / f"brief-{owner}.md").read_text(encoding="utf-8")
    assert re.search(rf"Accounts with risk signals \| {at_risk} ", brief), brief

    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        owners = {s.owner_email for s in repo.latest_snapshots().values()}
        assert shouting not in owners
        assert repo.latest_brief(owner) is not None


def test_a_first_review_of_an_owner_typed_in_another_case_briefs_their_accounts(
    tmp_path: Path,
) -> None:
    assert run_cli("demo", "generate", "--accounts", "60", "--owners", "3").returncode == 0
    everyone = run_cli("review", "--all", "--markdown", str(tmp_path / "all"))
    assert everyone.returncode == 0, everyone.stderr
    owner = _owner_with_accounts()
    expected = (tmp_path / "all" / f"brief-{owner}.md").read_text(encoding="utf-8")
    mine = re.search(r"Accounts with risk signals \| (\d+)", expected)
    assert mine
    assert int(mine.group(1)) > 0
    # A new workspace: the owner was never reviewed there.
    fresh = run_cli("-w", "again", "demo", "generate", "--accounts", "60", "--owners", "3")
    assert fresh.returncode == 0, fresh.stderr
    once = run_cli(
        "-w", "again", "review", "--owner", owner.upper(), "--markdown", str(tmp_path / "md")
    )
    assert once.returncode == 0, once.stderr
    assert [p.name for p in (tmp_path / "md").iterdir()] == [f"brief-{owner}.md"]
    brief = (tmp_path / "md" / f"brief-{owner}.md").read_text(encoding="utf-8")
    found = re.search(r"Accounts with risk signals \| (\d+)", brief)
    assert found
    assert int(found.group(1)) == _figure(once.stdout, "at risk") > 0
