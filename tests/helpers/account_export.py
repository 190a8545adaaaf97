"""The demo workspace's account picked for the export and erasure tests."""

from __future__ import annotations

from pathlib import Path

from sergas_tui.locations import Locations
from sergas_tui.storage import Repository

SMALL = ["--accounts", "40", "--owners", "2", "--seed", "5"]


def _database() -> Path:
    return Locations.from_env().database_file("demo")


def _account(min_approvals: int = 1) -> tuple[str, str]:
    """(id, name) of an account with approvals whose full name names it alone: the one with
    the most approvals, which must be at least ``min_approvals``."""
    with Repository.open(_database()) as repo:
        names = {i: str(s.data.get("Account_Name", "")) for i, s in repo.latest_snapshots().items()}
        unique = [
            i
            for i, n in names.items()
            if sum(n.casefold() in m.casefold() for m in names.values()) == 1
        ]
        best = max(unique, key=lambda i: (len(repo.approvals_for(i)), i))
        assert len(repo.approvals_for(best)) >= max(min_approvals, 1)
        assert repo.recommendations_for(best)
    return best, names[best]


def has_account(min_approvals: int) -> bool:
    """Whether some account named alone by its full name has ``min_approvals`` approvals."""
    try:
        _account(min_approvals)
    except AssertionError:
        return False
    return True
