"""Reaching the job queue: the team's central PostgreSQL (``[central] dsn``), as workers see it.

The errors a person sees when the job queue is unusable::

    SergasError
    └── JobQueueError               anything about the job queue
        ├── JobQueueConnectionError server down or unreachable, or the login was refused
        ├── JobQueueSchemaError     the queue's tables are missing or too old and this role
        │                           cannot create them, or written by a newer Sergas
        └── JobQueuePermissionError the role lacks a privilege the queue needs

Connections carry the application name ``sergas-worker`` (``pg_stat_activity``) and the same
timeouts as the central audit's; the password comes from the keyring when the DSN has none
(:func:`sergas_tui.audit.central.conn.target_from_settings`).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import TupleRow

from sergas_tui.audit.central import conn as central_conn
from sergas_tui.audit.central.conn import (
    CentralTarget,
    first_line,
    is_auth_failure,
    should_retry,
)
from sergas_tui.config import Settings
from sergas_tui.errors import ConfigError
from sergas_tui.errors import JobQueueConnectionError as JobQueueConnectionError
from sergas_tui.errors import JobQueueError as JobQueueError
from sergas_tui.errors import JobQueuePermissionError as JobQueuePermissionError
from sergas_tui.errors import JobQueueSchemaError as JobQueueSchemaError
from sergas_tui.secrets import SecretStore

APPLICATION_NAME = "sergas-worker"
Connection = psycopg.Connection[TupleRow]


def queue_target(settings: Settings, secrets: SecretStore) -> CentralTarget:
    """The central PostgreSQL the workers share; ConfigError when ``[central] dsn`` is unset."""
    from sergas_tui.audit.central.conn import target_from_settings

    if not settings.central.dsn:
        raise ConfigError(
            "Workers and `sergas schedule` keep their job queue in the team's PostgreSQL, which "
            "is not configured: set [central] dsn in the config file (or SERGAS_CENTRAL__DSN), "
            "e.g. 'postgresql://sergas_worker@db.internal:5432/sergas'. See 'Workers' in "
            "docs/operations.md.",
            title="No job queue",
        )
    return target_from_settings(settings.central, secrets)


def connection_kwargs(target: CentralTarget) -> dict[str, Any]:
    """What every queue connection is opened with besides the DSN (never logged)."""
    return central_conn.connection_kwargs(target, application_name=APPLICATION_NAME)


def connect(target: CentralTarget, *, autocommit: bool = True) -> Connection:
    """One connection to the queue's database; raises :class:`JobQueueError`."""
    try:
        return central_conn.connect(
            target, autocommit=autocommit, application_name=APPLICATION_NAME
        )
    except psycopg.Error as err:
        raise convert(err, target, "connect") from err


def convert(err: psycopg.Error, target: CentralTarget, action: str) -> JobQueueError:
    """The user-facing error for a psycopg failure while doing ``action``."""
    where = target.describe()
    detail = first_line(err)
    if is_auth_failure(err):
        return JobQueueConnectionError(
            f"The job queue's database {where} refused the login while trying to {action}: "
            f"{detail}. Check the user in [central] dsn and the password (`sergas auth set "
            "postgres_password`, or SERGAS_POSTGRES_PASSWORD / PGPASSWORD)."
        )
    if isinstance(err, psycopg.errors.InsufficientPrivilege):
        return JobQueuePermissionError(
            f"The role in [central] dsn ({where}) may not {action}: {detail}. See 'Workers' in "
            "docs/operations.md for the grants the worker role needs."
        )
    if should_retry(err) or isinstance(err, psycopg.OperationalError):
        return JobQueueConnectionError(
            f"Could not {action}: the job queue's database {where} is unreachable ({detail}). "
            "Check that PostgreSQL runs and that [central] dsn names the right host and port "
            "(`sergas doctor` tries it)."
        )
    return JobQueueError(f"Could not {action} on {where}: {detail}.")
