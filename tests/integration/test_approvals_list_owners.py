"""`sergas approvals list --all` says whose each approval is; `--owner` naming nobody here
says so instead of reading as "nothing to do"."""

from __future__ import annotations

from sergas_tui.locations import Locations
from sergas_tui.storage import Repository
from tests.helpers.cli import ROW, run_cli


def _reviewed() -> dict[str, int]:
    assert run_cli("demo", "generate", "--accounts", "60", "--owners", "3").returncode == 0
    assert run_cli("review", "--all").returncode == 0
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        pending = repo.pending_approvals()
    counts: dict[str, int] = {}
    for approval in pending:
        counts[approval.owner_email] = counts.get(approval.owner_email, 0) + 1
    return counts


def test_every_owners_approvals_come_under_their_name() -> None:
    counts = _reviewed()
    assert len(counts) > 1
    listed = run_cli("approvals", "list", "--all")
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    assert f"{sum(counts.values())} approvals pending for {len(counts)} owners" in text
    headings = [i for i, line in enumerate(text.splitlines()) if "approvals pending" in line]
    assert len(headings) == len(counts) + 1
    for owner, n in counts.items():
        heading = next(line for line in text.splitlines() if f"<{owner}>" in line)
        assert heading.strip().endswith(f"{n} approvals pending")
        assert not heading.strip().startswith(owner)  # the owner's name comes first
    assert len(ROW.findall(text)) == sum(counts.values())


def test_an_owner_nobody_here_is_named_with_the_owners_there_are() -> None:
    counts = _reviewed()
    for who, hint in (("nobody@example.com", ""), ("Jamal Fischer", "takes the owner's email")):
        listed = run_cli("approvals", "list", "--owner", who)
        assert listed.returncode == 0, listed.stderr
        warning = " ".join(listed.stderr.split())
        assert f"No account in this workspace is owned by {who!r}." in warning
        assert hint in warning
        assert sorted(counts)[0] in warning
    mine = run_cli("approvals", "list", "--owner", sorted(counts)[0].upper())
    assert mine.returncode == 0
    assert mine.stderr == ""


def test_show_previews_an_item_of_more_lower_priority() -> None:
    # One owner with many accounts: more is proposed than today's budget lands.
    assert run_cli("demo", "generate", "--accounts", "80", "--owners", "1").returncode == 0
    assert run_cli("review").returncode == 0
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        waiting = repo.queued_recommendations()
    assert waiting, "the review queued items beyond the budget"
    short = waiting[0].id[:8]
    shown = run_cli("approvals", "show", short)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert f'Waiting in "more, lower priority" ({short}), not an approval yet' in text
    assert f"`sergas approvals pull {short}`" in text
    assert "Write:" in text
    assert "Expires:" not in text
    with Repository.open(Locations.from_env().database_file("demo")) as repo:
        still = repo.get_recommendation(waiting[0].id)
    assert still is not None
    assert still.status == "queued"  # nothing changed
    unknown = run_cli("approvals", "show", "zzzzzzzz")
    assert unknown.returncode == 1
    assert "`sergas approvals more`" in " ".join(unknown.stderr.split())
