"""The central audit's pure parts: backoff, what is retried, the target, reports, hashes."""

from __future__ import annotations

import psycopg
import pytest

from sergas_tui.audit.central.conn import (
    CentralAuthError,
    CentralConnectionError,
    CentralPermissionError,
    CentralTarget,
    backoff,
    convert,
    should_retry,
    target_from_settings,
)
from sergas_tui.audit.central.sync import SyncReport, outcome_version_hash
from sergas_tui.config import CentralSettings
from sergas_tui.errors import ConfigError
from sergas_tui.secrets import SecretName, SecretStore


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (20, 8.0)],
)
def test_backoff_doubles_up_to_the_cap(attempt: int, expected: float) -> None:
    assert backoff(attempt, rand=lambda: 0.0) == expected
    assert backoff(attempt, rand=lambda: 1.0) == pytest.approx(expected * 1.25)


def _with_state(cls: type[psycopg.Error], sqlstate: str | None) -> psycopg.Error:
    err = cls("boom")
    if sqlstate is not None:
        err.sqlstate = sqlstate
    return err


@pytest.mark.parametrize(
    ("err", "retried"),
    [
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.InterfaceError("the connection is closed"), True),
        (_with_state(psycopg.errors.AdminShutdown, "57P01"), True),
        (_with_state(psycopg.errors.TooManyConnections, "53300"), True),
        (_with_state(psycopg.errors.ConnectionFailure, "08006"), True),
        (psycopg.OperationalError('FATAL:  password authentication failed for user "s"'), False),
        (psycopg.OperationalError('FATAL:  role "s" does not exist'), False),
        (_with_state(psycopg.errors.InsufficientPrivilege, "42501"), False),
        (_with_state(psycopg.errors.UndefinedTable, "42P01"), False),
        (_with_state(psycopg.errors.InvalidTextRepresentation, "22P02"), False),
        (ValueError("not a database error"), False),
        (CentralConnectionError("down"), True),
    ],
)
def test_only_connection_failures_are_retried(err: BaseException, retried: bool) -> None:
    assert should_retry(err) is retried


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (psycopg.OperationalError("FATAL:  password authentication failed"), CentralAuthError),
        (_with_state(psycopg.errors.InsufficientPrivilege, "42501"), CentralPermissionError),
        (psycopg.OperationalError("Connection refused"), CentralConnectionError),
    ],
)
def test_failures_become_titled_errors(err: psycopg.Error, kind: type[Exception]) -> None:
    converted = convert(err, CentralTarget("postgresql://u:secret@db:5433/audit"), "sync")
    assert type(converted) is kind
    assert "secret" not in converted.message
    assert "u@db:5433/audit" in converted.message


def test_the_target_takes_the_password_from_the_keyring_only_when_the_dsn_has_none() -> None:
    store = SecretStore(environ={})
    store.set(SecretName.POSTGRES_PASSWORD, "from-keyring")
    plain = target_from_settings(CentralSettings(dsn="postgresql://u@db/a"), store)
    assert plain.password is not None
    assert plain.password.get_secret_value() == "from-keyring"
    inline = target_from_settings(CentralSettings(dsn="postgresql://u:inline@db/a"), store)
    assert inline.password is None
    assert "inline" not in inline.describe()


def test_the_password_falls_back_to_the_environment() -> None:
    store = SecretStore(environ={"PGPASSWORD": "from-env"})
    target = target_from_settings(CentralSettings(dsn="host=db user=u"), store)
    assert target.password is not None
    assert target.password.get_secret_value() == "from-env"
    assert target.describe() == "u@db:5432/(default database)"


@pytest.mark.parametrize("dsn", [None, "", "postgresql://[bad"])
def test_an_unset_or_bad_dsn_is_a_config_error(dsn: str | None) -> None:
    with pytest.raises(ConfigError, match=r"\[central\] dsn"):
        target_from_settings(CentralSettings(dsn=dsn), SecretStore(environ={}))


def test_the_report_counts_what_was_already_central() -> None:
    report = SyncReport(audit_sent=100, audit_inserted=60, outcomes_sent=4, outcomes_inserted=4)
    report.seconds = 2.0
    report.batches = 3
    assert report.audit_already_present == 40
    assert report.rows_per_second == 52.0
    assert "40 already central" in report.summary()


def test_an_outcome_version_hash_covers_its_state_not_its_sync_mark() -> None:
    row = {
        "id": "o1",
        "recommendation_id": "r1",
        "account_id": "a1",
        "created_at": "2026-10-01T12:00:00.000000+00:00",
        "recommendation_type": "create_task",
        "status": "pending",
        "approved_by": None,
        "approved_at": None,
        "executed_at": None,
        "outcome": None,
        "effectiveness_score": None,
        "data_sources": "[]",
        "synced_at": None,
    }
    first = outcome_version_hash(row)
    assert outcome_version_hash({**row, "synced_at": "2026-10-02"}) == first
    assert outcome_version_hash({**row, "status": "approved"}) != first
