"""The demo org on disk: generate, reopen, query, and refuse what is not a demo org."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest

from sergas_tui.demo import (
    HOSTILE_KEYS,
    SCENARIO_KEYS,
    TOUCH_KEYS,
    DemoInfo,
    DemoStore,
    build_org,
    generate,
)
from sergas_tui.demo import store as store_module
from sergas_tui.demo.model import MODULES
from sergas_tui.errors import DatabaseCorruptError, DatabaseVersionError, WorkspaceError

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SMALL: dict[str, Any] = {"accounts": 300, "owners": 6, "now": NOW}


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in storage order."""
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in store_module.TABLES
        }


def leftovers(directory: Path) -> list[str]:
    """Temporary files a write may have left behind (SQLite's -wal/-shm are not ours)."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "zoho-demo.db"
    generate(path, **SMALL)
    return path


@pytest.fixture
def store(demo_path: Path) -> Any:
    with DemoStore.open(demo_path) as opened:
        yield opened


def test_same_seed_gives_identical_database_content(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    generate(first, seed=3, **SMALL)
    generate(second, seed=3, **SMALL)
    generate(other, seed=4, **SMALL)
    assert dump(first) == dump(second)
    assert dump(first) != dump(other)


def test_generate_returns_what_meta_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "zoho-demo.db"
    info = generate(path, seed=9, **SMALL)
    with DemoStore.open(path) as opened:
        assert opened.meta() == info
    assert info == DemoInfo(9, 300, 6, NOW, info.current_user_id, info.current_user_email, NOW)
    assert info.current_user_email == "jordan.avery@demo.sergas.test"
    assert leftovers(tmp_path) == []


def test_create_writes_and_opens_in_one_step(tmp_path: Path) -> None:
    org = build_org(accounts=20, owners=2, now=NOW)
    with DemoStore.create(tmp_path / "new" / "zoho-demo.db", org) as created:
        assert created.meta() == org.info
        assert created.counts()["Accounts"] == 20
        assert len(created.scenarios()) == len(org.scenarios)


def test_file_is_wal_with_the_expected_schema(demo_path: Path) -> None:
    with sqlite3.connect(demo_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        indexes = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert {"records_account", "records_owner", "records_modified", "timeline_record"} <= indexes
    assert meta["format_version"] == "1"
    assert meta["generated_at"] == meta["anchor"] == NOW.isoformat()
    assert set(meta) == {
        "format_version", "seed", "accounts", "owners", "anchor", "current_user_id",
        "current_user_email", "generated_at",
    }  # fmt: skip


def test_counts_users_and_accounts(store: DemoStore) -> None:
    counts = store.counts()
    assert list(counts) == list(MODULES)
    assert counts["Accounts"] == 300
    assert counts["Users"] == 6
    assert all(counts[m] > 0 for m in MODULES)
    assert store.timeline_count() > counts["Deals"]
    users = store.users()
    me = store.current_user()
    assert users[0] == me
    assert me["id"] == store.meta().current_user_id
    mine = store.accounts(owner_id=me["id"])
    assert len(mine) == 50
    names = [a["Account_Name"] for a in mine]
    assert names == sorted(names)
    assert len(store.accounts()) == 300
    assert store.account(mine[0]["id"]) == mine[0]
    assert store.account("0000000000000000000") is None


def test_records_streams_every_record(store: DemoStore) -> None:
    for module, count in store.counts().items():
        assert sum(1 for _ in store.records(module)) == count


def test_related_timeline_and_stage_history(store: DemoStore) -> None:
    scenario = {s.key: s for s in store.scenarios()}["stalled_negotiation"]
    contacts = store.related("Contacts", scenario.account_id)
    assert len(contacts) == 4
    assert all(c["Account_Name"]["id"] == scenario.account_id for c in contacts)
    (deal,) = store.related("Deals", scenario.account_id)
    history = store.stage_history(deal["id"])
    assert history[-1]["Stage"] == "Negotiation/Review"
    entered = datetime.fromisoformat(history[-1]["Modified_Time"])
    assert entered == NOW - timedelta(days=45)
    assert all(row["$deal_id"] == deal["id"] for row in history)
    timeline = store.timeline("Deals", deal["id"])
    assert timeline[0]["action"] == "added"
    stages = [
        f["_value"]["new"]
        for e in timeline[1:]
        for f in e["field_history"]
        if f["api_name"] == "Stage"
    ]
    assert stages == [row["Stage"] for row in history[1:]]
    assert store.stage_history("0000000000000000000") == []


def test_unknown_module_is_rejected(store: DemoStore) -> None:
    with pytest.raises(ValueError, match="unknown module"):
        store.related("Leads", "1")


def test_scenarios_are_catalogued(store: DemoStore) -> None:
    scenarios = store.scenarios()
    assert [s.key for s in scenarios] == [*SCENARIO_KEYS, *HOSTILE_KEYS, *TOUCH_KEYS]
    me = store.meta().current_user_id
    for scenario in scenarios:
        account = store.account(scenario.account_id)
        assert account is not None
        assert account["Owner"]["id"] == me
        assert isinstance(scenario.expected_signals, tuple)
    healthy = next(s for s in scenarios if s.key == "healthy_expansion")
    assert healthy.expected_signals == ()


def test_hostile_content_round_trips_byte_exact(store: DemoStore) -> None:
    keyed = {s.key: s.account_id for s in store.scenarios()}
    huge = [n["Note_Content"] for n in store.related("Notes", keyed["hostile_huge_note"])]
    assert max(len(t) for t in huge) >= 1_048_576
    ansi = [n["Note_Content"] for n in store.related("Notes", keyed["hostile_ansi"])]
    assert "\x1b[31mRED ALERT\x1b[0m renewal at risk" in ansi
    assert any("\x1b]0;title\x07" in t for t in ansi)
    assert any("\x1b[2J" in t for t in ansi)
    markup = [n["Note_Content"] for n in store.related("Notes", keyed["hostile_markup"])]
    assert any("[link=https://evil.example]click[/link]" in t for t in markup)
    unicode_account = store.account(keyed["hostile_unicode"])
    assert unicode_account is not None
    assert "🚀👩\u200d💻🇧🇷" in unicode_account["Account_Name"]
    sparse = store.account(keyed["hostile_sparse"])
    assert sparse is not None
    assert "Phone" not in sparse
    assert "Industry" not in sparse


def test_open_missing_file_says_how_to_fix_it_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "zoho-demo.db"
    with pytest.raises(WorkspaceError, match="sergas demo generate"):
        DemoStore.open(path)
    assert not path.parent.exists()


def test_open_directory_is_a_workspace_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError):
        DemoStore.open(tmp_path)


@pytest.mark.parametrize(
    "content", [Random(5).randbytes(8_192), b"", b"SQLite format 3\x00" + bytes(84)]
)
def test_open_garbage_is_corrupt_and_leaves_the_file_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "zoho-demo.db"
    path.write_bytes(content)
    with pytest.raises(DatabaseCorruptError):
        DemoStore.open(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoho-demo.db"]


def test_open_sqlite_without_our_tables_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes(id INTEGER)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseCorruptError, match="missing tables"):
        DemoStore.open(path)
    assert path.read_bytes() == before


def test_open_newer_format_is_a_version_error(tmp_path: Path) -> None:
    path = tmp_path / "zoho-demo.db"
    generate(path, accounts=20, owners=2, now=NOW)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    conn.close()
    with pytest.raises(DatabaseVersionError):
        DemoStore.open(path)


def test_generate_replaces_an_existing_file_completely(tmp_path: Path) -> None:
    path = tmp_path / "zoho-demo.db"
    path.write_bytes(b"old garbage" * 10_000)
    generate(path, accounts=20, owners=2, now=NOW)
    with DemoStore.open(path) as opened:
        assert opened.counts()["Accounts"] == 20
    generate(path, accounts=30, owners=3, now=NOW)
    with DemoStore.open(path) as opened:
        assert opened.counts()["Accounts"] == 30
        assert opened.meta().owners == 3
    assert leftovers(tmp_path) == []


def test_a_crash_while_writing_leaves_the_old_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "zoho-demo.db"
    generate(path, accounts=20, owners=2, now=NOW)
    before = path.read_bytes()
    real_write = store_module._write

    def crash(target: Path, org: Any) -> None:
        real_write(target, org)
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module, "_write", crash)
    with pytest.raises(KeyboardInterrupt):
        generate(path, accounts=40, owners=2, now=NOW)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoho-demo.db"]


@pytest.mark.slow
def test_default_size_org(tmp_path: Path) -> None:
    path = tmp_path / "zoho-demo.db"
    started = time.perf_counter()
    info = generate(path, now=NOW)
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"generation took {elapsed:.1f}s"
    with DemoStore.open(path) as opened:
        counts = opened.counts()
        assert counts["Accounts"] == 5_000
        assert counts["Users"] == 50
        assert counts["Contacts"] >= 5_000
        assert counts["Deals"] >= 5_000
        mine = opened.accounts(owner_id=info.current_user_id)
        assert 90 <= len(mine) <= 110
        managers = [u for u in opened.users() if u["role"]["name"] == "Sales Manager"]
        assert 3 <= len(managers) <= 7
