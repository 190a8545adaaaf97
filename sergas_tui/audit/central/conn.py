"""Reaching the central audit PostgreSQL: where it is, how to connect, what failures mean.

The errors a person sees when the central audit is unusable::

    SergasError
    └── CentralAuditError              anything about the central audit database
        ├── CentralConnectionError     server down or unreachable (retried, then reported)
        ├── CentralAuthError           the server refused the login (never retried)
        ├── CentralSchemaError         schema missing / too old, and this role cannot create it,
        │                              or written by a newer Sergas
        └── CentralPermissionError     the role lacks a privilege the operation needs

Retries follow the house HTTP client: one constants block, pure :func:`should_retry` and
:func:`backoff`, connection failures only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from pydantic import SecretStr

from sergas_tui.config import CentralSettings
from sergas_tui.errors import CentralAuditError as CentralAuditError
from sergas_tui.errors import CentralAuthError as CentralAuthError
from sergas_tui.errors import CentralConnectionError as CentralConnectionError
from sergas_tui.errors import CentralPermissionError as CentralPermissionError
from sergas_tui.errors import CentralSchemaError as CentralSchemaError
from sergas_tui.errors import ConfigError
from sergas_tui.secrets import SecretName, SecretStore

# -- defaults ------------------------------------------------------------------------------
CONNECT_TIMEOUT_SECONDS = 5
"""How long one connection attempt may take."""
STATEMENT_TIMEOUT_MS = 120_000
"""A statement running longer than this is cancelled (a wedged server must not hang a sync)."""
MAX_ATTEMPTS = 5
"""Tries per failure streak (the first try included); progress resets the count."""
BACKOFF_INITIAL_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
BACKOFF_JITTER = 0.25
"""Up to this fraction of the delay is added at random, so workstations do not retry in step."""
APPLICATION_NAME = "sergas-audit-sync"

Connection = psycopg.Connection[TupleRow]


@dataclass(frozen=True)
class CentralTarget:
    """Where the central audit lives: a libpq DSN and, when the DSN has none, a password."""

    dsn: str
    password: SecretStr | None = None
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS

    def describe(self) -> str:
        """Host, port, database and user, for messages (never the password)."""
        try:
            parts = conninfo_to_dict(self.dsn)
        except psycopg.ProgrammingError:
            return "the configured database"
        host = parts.get("host") or "localhost"
        port = parts.get("port") or "5432"
        user = parts.get("user") or "(default user)"
        return f"{user}@{host}:{port}/{parts.get('dbname') or '(default database)'}"


def target_from_settings(central: CentralSettings, secrets: SecretStore) -> CentralTarget:
    """The configured target; the keyring's ``postgres_password`` is used when the DSN has none.

    Raises :class:`ConfigError` when ``[central] dsn`` is unset or unparsable.
    """
    dsn = central.dsn
    if not dsn:
        raise ConfigError(
            "The central database is not configured: set [central] dsn in the config file "
            "(or SERGAS_CENTRAL__DSN), e.g. "
            "'postgresql://sergas_sync@db.internal:5432/sergas'.",
            title="Central database not configured",
        )
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as err:
        raise ConfigError(
            f"[central] dsn is not a valid PostgreSQL connection string: {err}."
        ) from err
    password = None if parts.get("password") else secrets.get(SecretName.POSTGRES_PASSWORD)
    return CentralTarget(dsn=dsn, password=password)


# -- classification ------------------------------------------------------------------------

_AUTH_MARKERS = (
    "password authentication failed",
    "no password supplied",
    "does not exist",  # role or database
    "pg_hba.conf",
    "permission denied for database",
    "authentication failed",
)
_RETRY_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})
"""admin/crash shutdown, cannot connect now, too many connections, serialization, deadlock."""


def first_line(err: BaseException) -> str:
    """The first non-blank line of an error's text (a driver's message can run to many), or
    its type's name."""
    text = str(err).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(err).__name__


def is_auth_failure(err: BaseException) -> bool:
    """True when the server answered a connection attempt with a refusal."""
    text = str(err)
    return isinstance(err, psycopg.OperationalError) and any(m in text for m in _AUTH_MARKERS)


def should_retry(err: BaseException) -> bool:
    """True for failures another attempt may cure: the connection was lost or refused, the
    server is shutting down or starting up, too many connections. Never for refused logins,
    missing privileges, bad data or SQL errors."""
    if isinstance(err, CentralConnectionError):
        return True
    if not isinstance(err, psycopg.Error) or is_auth_failure(err):
        return False
    sqlstate = getattr(err, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _RETRY_SQLSTATES or sqlstate.startswith("08")
    return isinstance(err, psycopg.OperationalError | psycopg.InterfaceError)


def backoff(
    attempt: int,
    *,
    initial: float = BACKOFF_INITIAL_SECONDS,
    cap: float = BACKOFF_MAX_SECONDS,
    jitter: float = BACKOFF_JITTER,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): ``initial * 2**(n-1)``
    capped at ``cap``, plus up to ``jitter`` of itself at random."""
    base = min(cap, initial * 2.0 ** max(0, attempt - 1))
    return base + base * jitter * rand()


def convert(err: psycopg.Error, target: CentralTarget, action: str) -> CentralAuditError:
    """The user-facing error for a psycopg failure while doing ``action``."""
    where = target.describe()
    detail = first_line(err)
    if is_auth_failure(err):
        return CentralAuthError(
            f"The central audit database {where} refused the login while trying to {action}: "
            f"{detail}. Check the user in [central] dsn and the password "
            "(`sergas auth set postgres_password`, or SERGAS_POSTGRES_PASSWORD / PGPASSWORD)."
        )
    if isinstance(err, psycopg.errors.InsufficientPrivilege):
        return CentralPermissionError(
            f"The role in [central] dsn ({where}) may not {action}: {detail}. See "
            "'Central audit' in docs/operations.md for the grants each role needs."
        )
    if should_retry(err):
        return CentralConnectionError(
            f"Could not {action}: the central audit database {where} is unreachable or went "
            f"away ({detail}). The rows stay in the local outbox; the next sync sends them."
        )
    return CentralAuditError(f"Could not {action} on {where}: {detail}.")


def connection_kwargs(
    target: CentralTarget, *, application_name: str = APPLICATION_NAME
) -> dict[str, Any]:
    """What a connection to the central database is opened with besides the DSN: the timeout,
    an application name operators (and tests) find in ``pg_stat_activity``, the password when
    the DSN has none (never logged)."""
    kwargs: dict[str, Any] = {
        "connect_timeout": target.connect_timeout,
        "application_name": application_name,
    }
    if target.password is not None:
        kwargs["password"] = target.password.get_secret_value()
    return kwargs


def connect(
    target: CentralTarget,
    *,
    autocommit: bool = False,
    application_name: str = APPLICATION_NAME,
) -> Connection:
    """One connection to the central database, with :func:`connection_kwargs` and a statement
    timeout. Raises psycopg errors."""
    conn = psycopg.connect(
        target.dsn,
        autocommit=autocommit,
        **connection_kwargs(target, application_name=application_name),
    )
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    if not autocommit:
        conn.commit()
    return conn
