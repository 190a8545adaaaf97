"""Fixtures shared by every test: keep the developer's machine out of the suite.

- config, data and log dirs live under ``tmp_path`` (``SERGAS_*_DIR``);
- the keyring is an in-memory backend;
- no ``SERGAS_*`` or Anthropic variables leak in from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest

from tests.fakes.keyring_backend import MemoryKeyring

# Read before the autouse fixture scrubs SERGAS_* from the environment.
POSTGRES_DSN = os.environ.get(
    "SERGAS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("SERGAS_REQUIRE_POSTGRES") == "1"

# A fixed "now" for anything that must not depend on the wall clock.
FIXED_NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("SERGAS_") or name.startswith("ANTHROPIC_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "sergas-home"
    monkeypatch.setenv("SERGAS_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("SERGAS_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("SERGAS_LOG_DIR", str(home / "log"))
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def fixed_now() -> datetime:
    return FIXED_NOW


@pytest.fixture
def postgres_dsn() -> str:
    """The test PostgreSQL server; skipped when absent locally, required in CI."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        message = (
            f"PostgreSQL is not reachable at {POSTGRES_DSN} ({err}). Start it with "
            "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' or set "
            "SERGAS_TEST_POSTGRES_DSN."
        )
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_DSN


@pytest.fixture
def central_dsn(postgres_dsn: str) -> Iterator[str]:
    """A DSN of the test server whose search_path is a fresh schema (dropped afterwards): one
    team's central database."""
    from tests.fakes.notify_kit import central_schema

    with central_schema(postgres_dsn) as dsn:
        yield dsn
