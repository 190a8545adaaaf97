"""`sergas memory ingest|reindex|stats|search|forget` as a user runs them."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from sergas_tui.locations import Locations
from sergas_tui.memory.schema import memory_path
from sergas_tui.storage import Repository
from tests.helpers.cli import assert_one_paragraph_error, run_cli

SMALL = ("demo", "generate", "--accounts", "40", "--owners", "2", "--seed", "3")


def test_ingest_backfills_every_account_then_stats_count_them() -> None:
    assert run_cli(*SMALL).returncode == 0
    ingested = run_cli("memory", "ingest")
    assert ingested.returncode == 0, ingested.stderr
    assert "Ingested 40 accounts" in ingested.stdout
    stats = run_cli("memory", "stats")
    assert stats.returncode == 0, stats.stderr
    assert "accounts" in stats.stdout
    again = run_cli("memory", "ingest")  # idempotent: the same facts again add nothing
    assert again.returncode == 0
    assert counts(run_cli("memory", "stats").stdout) == counts(stats.stdout)
    assert counts(stats.stdout)["accounts"] == "40"


def counts(table: str) -> dict[str, str]:
    """The numeric rows of the stats table (the ingest time is left out)."""
    found: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[1].isdigit():
            found[cells[0]] = cells[1]
    return found


def test_reindex_on_the_local_backend_says_there_is_nothing_to_do() -> None:
    assert run_cli(*SMALL).returncode == 0
    result = run_cli("memory", "reindex")
    assert result.returncode == 0
    assert "Nothing to re-embed" in result.stdout


# -- search and forget, by account name or id -------------------------------------------------

ZOHO_ID = re.compile(r"(?<![\d…])\d{19}(?!\d)")


@pytest.fixture
def remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reviewed demo workspace: its snapshots name the accounts its memory holds."""
    monkeypatch.setenv("COLUMNS", "200")  # table cells on one line: names read whole
    assert run_cli(*SMALL).returncode == 0
    reviewed = run_cli("review", "--all")
    assert reviewed.returncode == 0, reviewed.stderr


def _database() -> Path:
    return Locations.from_env().database_file("demo")


def workspace_names() -> dict[str, str]:
    """Account id → name, as the workspace's latest snapshots hold them."""
    with Repository.open(_database()) as repo:
        return {
            account_id: str(snapshot.data.get("Account_Name", ""))
            for account_id, snapshot in repo.latest_snapshots().items()
        }


def remembered_items() -> dict[str, list[str]]:
    """Account id → the titles of its searchable memory items."""
    with contextlib.closing(sqlite3.connect(memory_path(_database()))) as conn:
        rows = conn.execute("SELECT account_id, title FROM documents").fetchall()
    items: dict[str, list[str]] = {}
    for account_id, title in rows:
        items.setdefault(account_id, []).append(title)
    return items


def two_accounts() -> list[tuple[str, str]]:
    """(id, name) of the two accounts memory holds most about whose names are their own, in
    plain ASCII (so they read the same in a table), and whose items have a word to search for."""
    names = workspace_names()
    counts = Counter(n.casefold() for n in names.values())
    items = remembered_items()
    ranked = sorted(
        (
            i
            for i in items
            if i in names
            and counts[names[i].casefold()] == 1
            and names[i].strip()
            and names[i].isascii()
            and names[i].isprintable()
            and title_words(items[i])
        ),
        key=lambda i: (-len(items[i]), i),
    )
    return [(i, names[i]) for i in ranked[:2]]


def shared_word() -> str:
    """A name word two accounts share (so it names neither alone)."""
    names = workspace_names().values()
    counts = Counter(w.casefold() for n in names for w in set(n.split()) if len(w) > 3)
    return next(word for word, count in counts.most_common() if count >= 2)


def title_words(titles: list[str]) -> list[str]:
    return [str(word) for title in titles for word in re.findall(r"[A-Za-z]{4,}", title)]


def search_word(account_id: str) -> str:
    """The longest word of the account's remembered items' titles."""
    return max(title_words(remembered_items()[account_id]), key=len)


def item_total() -> int:
    return sum(len(titles) for titles in remembered_items().values())


def test_forget_takes_the_account_name_and_says_whom_it_forgot(remembered: None) -> None:
    (account_id, name), (other_id, other_name) = two_accounts()
    before = remembered_items()
    # Without a terminal to confirm on, nothing is removed unless --yes says so.
    unconfirmed = run_cli("memory", "forget", name)
    assert_one_paragraph_error(unconfirmed, "cannot be undone", "--yes", "Nothing was removed")
    assert remembered_items() == before
    forgot = run_cli("memory", "forget", name, "--yes")
    assert forgot.returncode == 0, forgot.stderr
    said = " ".join(forgot.stdout.split())
    assert f"Forgot {name} ({account_id})" in said, said
    assert "items removed" in said, said
    after = remembered_items()
    assert account_id not in after
    assert after[other_id] == before[other_id]  # nothing else was touched
    # Its id works as well, and names the account.
    by_id = run_cli("memory", "forget", other_id, "--yes")
    assert by_id.returncode == 0, by_id.stderr
    assert f"Forgot {other_name} ({other_id})" in " ".join(by_id.stdout.split())
    assert other_id not in remembered_items()
    # Still in the workspace: forgetting it again finds nothing to remove, and says so.
    again = run_cli("memory", "forget", name, "--yes")
    assert again.returncode == 0, again.stderr
    assert f"Memory held nothing about {name} ({account_id})" in " ".join(again.stdout.split())


def test_forget_of_an_unknown_or_ambiguous_account_changes_nothing(remembered: None) -> None:
    total = item_total()
    unknown = run_cli("memory", "forget", "123", "--yes")
    assert_one_paragraph_error(unknown, "Unknown account", "'123'", "Nothing was changed")
    assert "Forgot" not in unknown.stdout
    nobody = run_cli("memory", "forget", "Nonexistent Holdings Zzq", "--yes")
    assert_one_paragraph_error(nobody, "Unknown account", "Nonexistent Holdings Zzq")
    word = shared_word()
    ambiguous = run_cli("memory", "forget", word, "--yes")
    assert_one_paragraph_error(ambiguous, "accounts match", "Nothing was changed")
    listed = [n for n in workspace_names().values() if n in " ".join(ambiguous.stderr.split())]
    assert len(listed) >= 2, ambiguous.stderr
    assert item_total() == total


def test_an_id_only_memory_still_holds_is_forgotten_by_its_remembered_name(
    remembered: None,
) -> None:
    (account_id, name), _ = two_accounts()
    word = search_word(account_id)
    with contextlib.closing(sqlite3.connect(_database())) as conn, conn:
        conn.execute("DELETE FROM account_snapshots WHERE account_id = ?", (account_id,))
    assert account_id not in workspace_names()
    # The search still names it (from memory), and its id still filters.
    found = run_cli("memory", "search", word, "--account", account_id)
    assert found.returncode == 0, found.stderr
    assert name in found.stdout, found.stdout
    assert not ZOHO_ID.search(found.stdout), found.stdout
    forgot = run_cli("memory", "forget", account_id, "--yes")
    assert forgot.returncode == 0, forgot.stderr
    assert f"Forgot {name} ({account_id})" in " ".join(forgot.stdout.split())
    assert account_id not in remembered_items()
    # Now neither the workspace nor memory knows it.
    again = run_cli("memory", "forget", account_id, "--yes")
    assert_one_paragraph_error(again, "Unknown account", account_id, "Nothing was changed")


def test_search_names_accounts_and_takes_an_account_by_name(remembered: None) -> None:
    (account_id, name), _ = two_accounts()
    word = search_word(account_id)
    found = run_cli("memory", "search", word, "--limit", "50")
    assert found.returncode == 0, found.stderr
    assert name in found.stdout, found.stdout
    assert not ZOHO_ID.search(found.stdout), found.stdout  # names (and short ids), no raw ids

    by_name = run_cli("memory", "search", word, "--account", name)
    assert by_name.returncode == 0, by_name.stderr
    assert name in by_name.stdout, by_name.stdout
    assert "No matches" not in by_name.stdout
    others = set(workspace_names().values()) - {name}
    assert not [n for n in others if f"│ {n} (" in by_name.stdout], by_name.stdout
    by_id = run_cli("memory", "search", word, "--account", account_id)
    assert by_id.returncode == 0, by_id.stderr
    assert by_id.stdout == by_name.stdout

    unknown = run_cli("memory", "search", word, "--account", "Nonexistent Holdings Zzq")
    assert_one_paragraph_error(unknown, "Unknown account", "Nonexistent Holdings Zzq")
    assert "No matches" not in unknown.stdout
    ambiguous = run_cli("memory", "search", word, "--account", shared_word())
    assert_one_paragraph_error(ambiguous, "accounts match")

    # An account with nothing matching: said so, by name.
    forgotten = run_cli("memory", "forget", account_id, "--yes")
    assert forgotten.returncode == 0, forgotten.stderr
    none = run_cli("memory", "search", word, "--account", name)
    assert none.returncode == 0, none.stderr
    assert "No matches" in none.stdout
    assert name in " ".join(none.stdout.split())
