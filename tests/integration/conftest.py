"""Fixtures shared by the integration tests: a central-audit schema of its own per test."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from tests.helpers.central_audit import Central


@pytest.fixture
def central(postgres_dsn: str) -> Iterator[Central]:
    """A schema of its own on the test PostgreSQL server, dropped with its roles after."""
    made = Central(postgres_dsn, f"sergas_t_{uuid4().hex[:12]}")
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {made.schema}")
    try:
        yield made
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {made.schema} CASCADE")
            for role in made.roles:
                conn.execute(f"DROP OWNED BY {role}")
                conn.execute(f"DROP ROLE {role}")
