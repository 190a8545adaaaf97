"""The portfolio's row cache (drawn at start before fresh rows load) and the view cache."""

from __future__ import annotations

import json
from pathlib import Path

from sergas_tui.viewmodels.portfolio_cache import cache_file, read_cached_rows, save_rows
from sergas_tui.viewmodels.portfolio_rows import PortfolioRow
from sergas_tui.viewmodels.view_cache import ViewCache


def row(account_id: str, **changes: object) -> PortfolioRow:
    values: dict[str, object] = {
        "account_id": account_id,
        "name": f"Account {account_id}",
        "owner_name": "Jordan Avery",
        "owner_email": "jordan@example.com",
        "industry": "Energy",
        "risk_level": "high",
        "top_signal": "Gone quiet",
        "days_since_activity": 12,
        "open_pipeline": 1250.5,
        "changed": True,
        "pending": 2,
        "quiet_at_least": False,
    }
    return PortfolioRow(**(values | changes))  # type: ignore[arg-type]


def test_rows_come_back_as_saved(tmp_path: Path) -> None:
    rows = [row("1"), row("2", industry=None, risk_level=None, changed=None, quiet_at_least=True)]
    save_rows(tmp_path, "mine", "jordan@example.com", rows)
    again = read_cached_rows(tmp_path, "mine", "jordan@example.com")
    assert again == rows
    assert again is not None
    assert again[0].haystack == rows[0].haystack


def test_my_rows_are_not_shown_to_someone_else(tmp_path: Path) -> None:
    save_rows(tmp_path, "mine", "jordan@example.com", [row("1")])
    assert read_cached_rows(tmp_path, "mine", "sam@example.com") is None
    save_rows(tmp_path, "all", None, [row("1")])
    assert read_cached_rows(tmp_path, "all", "sam@example.com") == [row("1")]


def test_a_missing_damaged_or_foreign_cache_is_ignored(tmp_path: Path) -> None:
    assert read_cached_rows(tmp_path, "all", None) is None
    path = cache_file(tmp_path, "all")
    path.write_text("{not json", encoding="utf-8")
    assert read_cached_rows(tmp_path, "all", None) is None
    save_rows(tmp_path, "all", None, [row("1")])
    data = json.loads(path.read_text(encoding="utf-8"))
    data["version"] = 999
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_cached_rows(tmp_path, "all", None) is None
    data["version"], data["rows"] = 1, [["too", "short"]]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_cached_rows(tmp_path, "all", None) is None


def test_saving_leaves_no_temporary_file_and_survives_an_unwritable_place(tmp_path: Path) -> None:
    save_rows(tmp_path / "cache", "all", None, [row("1")])
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["portfolio-all.json"]
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    save_rows(blocker / "cache", "all", None, [row("1")])  # best effort: no exception


def test_view_cache_keeps_the_most_recently_used() -> None:
    cache = ViewCache(size=2)
    cache.put("account", "1", "one")
    cache.put("account", "2", "two")
    assert cache.get("account", "1") == "one"  # now the most recent
    cache.put("account", "3", "three")
    assert cache.get("account", "2") is None
    assert cache.get("account", "1") == "one"
    cache.forget("account", "1")
    assert cache.get("account", "1") is None
