"""`sergas memory ingest|reindex|stats` as a user runs them."""

from __future__ import annotations

from tests.helpers.cli import run_cli

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
