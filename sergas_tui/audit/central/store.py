"""What every store of team mode's central tables shares: a connection per call, the schema
checked (and created or upgraded where the role may) on the first, and failures in words.

The stores — approval grants, the team's approvals, people and roles, approval links and
notices — subclass :class:`CentralTableStore`, naming the schema version that created their
table (``needs``) and the table in words (``what``).
"""

from __future__ import annotations

from contextlib import suppress
from typing import ClassVar

import psycopg

from sergas_tui.audit.central.conn import (
    CentralAuditError,
    CentralConnectionError,
    CentralSchemaError,
    CentralTarget,
    Connection,
    connect,
    convert,
    first_line,
)
from sergas_tui.audit.central.schema import (
    CENTRAL_SCHEMA_VERSION,
    central_version,
    migrate_central,
)


class CentralTableStore:
    """A connection per call to the team's central database (autocommit: each statement, or
    each ``transaction()`` block, commits on its own)."""

    needs: ClassVar[int] = CENTRAL_SCHEMA_VERSION
    """The central schema version that created this store's table."""
    what: ClassVar[str] = "team"
    """The table in words, for the message when it is missing."""

    def __init__(self, target: CentralTarget, *, migrate: bool = True) -> None:
        self._target = target
        self._migrate = migrate
        self._ready = False

    def describe(self) -> str:
        return self._target.describe()

    def _connect(self, action: str) -> Connection:
        try:
            conn = connect(self._target, autocommit=True)
            if not self._ready:
                version = central_version(conn) or 0
                if version < CENTRAL_SCHEMA_VERSION and self._migrate:
                    # A least-privilege role may not migrate: the check below says what to do.
                    with suppress(psycopg.errors.InsufficientPrivilege):
                        version = migrate_central(conn).to_version
                if version < self.needs:
                    conn.close()
                    raise CentralSchemaError(
                        f"The central database {self.describe()} has no {self.what} table yet "
                        f"(schema version {version}; this needs {self.needs}). Run `sergas "
                        "audit sync --migrate-only` once with the schema owner's role."
                    )
                self._ready = True
            return conn
        except psycopg.Error as err:
            raise self._convert(err, action) from err

    def _convert(self, err: psycopg.Error, action: str) -> CentralAuditError:
        """The person's error for a failure while doing ``action`` (the audit's wording, except
        for an unreachable server: nothing waits in an outbox here)."""
        found = convert(err, self._target, action)
        if isinstance(found, CentralConnectionError):
            return CentralConnectionError(
                f"Could not {action}: the team's central database {self.describe()} is "
                f"unreachable or went away ({first_line(err)}). Nothing was changed; try "
                "again when it is back."
            )
        return found

    def check(self) -> None:
        """Connect once (and create or check the schema): fail early, at start-up."""
        self._connect("open the team's central database").close()
