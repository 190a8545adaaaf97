"""The job queue's schema in the central PostgreSQL: procrastinate's tables plus two of ours.

procrastinate ships its schema as one SQL file and leaves it to the application to apply
(its docs: "Migrate the Procrastinate schema"), so Sergas versions it like the central audit:
``sergas_jobs_schema_version`` holds one row per applied migration, and :func:`ensure_schema`
applies the pending ones in one transaction under an advisory lock (two workers starting at
once do not collide). Creating the tables needs the schema's owner; a worker role without
CREATE only checks the version and asks for ``sergas worker --migrate-only`` as the owner.

Our tables (both written by workers, read by ``sergas doctor``):

- ``sergas_schedule_runs``: one row per scheduling run, by hand (``sergas schedule``) or by the
  periodic task; ``slot`` (the cron time the periodic run answers) is unique, which is how one
  scheduled time queues its reviews once however many workers tick.
- ``sergas_review_attempts``: one row per attempt at an owner's review job: which worker, when,
  and how it ended (``ok``, ``failed`` with the error, ``retrying``, or ``interrupted`` when the
  worker died and the job was retried), with the run's account, approval and Zoho call counts.

procrastinate is pinned to 3.10.x (pyproject.toml); a later release's SQL migrations become
new versions here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.team.db import (
    Connection,
    JobQueueError,
    JobQueueSchemaError,
    connect,
    convert,
)

VERSION_TABLE = "sergas_jobs_schema_version"
LOCK_KEY = 0x5E6A0B  # pg_advisory_xact_lock key: "sergas jobs"
MigratePolicy = Literal["auto", "only", "never"]

_OURS_V1 = """
CREATE TABLE sergas_schedule_runs (
    id           bigserial PRIMARY KEY,
    slot         timestamptz UNIQUE,
    source       text NOT NULL CHECK (source IN ('schedule', 'periodic')),
    requested_by text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    owners       integer NOT NULL DEFAULT 0,
    changed      integer NOT NULL DEFAULT 0,
    deferred     integer NOT NULL DEFAULT 0,
    skipped      integer NOT NULL DEFAULT 0,
    error        text
);
CREATE INDEX sergas_schedule_runs_started ON sergas_schedule_runs (started_at);

CREATE TABLE sergas_review_attempts (
    id           bigserial PRIMARY KEY,
    job_id       bigint NOT NULL,
    attempt      integer NOT NULL,
    owner_email  text NOT NULL,
    owner_name   text,
    workspace    text NOT NULL,
    worker       text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text NOT NULL DEFAULT 'running'
                 CHECK (outcome IN ('running', 'ok', 'failed', 'retrying', 'interrupted')),
    detail       text,
    accounts     integer,
    landed       integer,
    zoho_calls   integer
);
CREATE INDEX sergas_review_attempts_job ON sergas_review_attempts (job_id);
CREATE INDEX sergas_review_attempts_owner ON sergas_review_attempts (owner_email, started_at);
"""


def _v1(conn: Connection) -> None:
    """procrastinate 3.10's schema (unless the database already has one), and our tables."""
    from procrastinate.schema import SchemaManager

    found = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    if not (found and found[0]):
        conn.execute(SchemaManager.get_schema())
    conn.execute(_OURS_V1)


@dataclass(frozen=True)
class JobsMigration:
    version: int
    name: str
    apply: Callable[[Connection], None]


MIGRATIONS: tuple[JobsMigration, ...] = (
    JobsMigration(1, "procrastinate 3.10 schema; schedule runs; review attempts", _v1),
)
JOBS_SCHEMA_VERSION = MIGRATIONS[-1].version


@dataclass(frozen=True)
class SchemaReport:
    from_version: int
    to_version: int

    @property
    def changed(self) -> bool:
        return self.to_version != self.from_version


def jobs_version(conn: psycopg.Connection[Any]) -> int:
    """The applied version (0: none yet); any row factory."""
    cursor = conn.cursor(row_factory=tuple_row)
    found = cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if not (found and found[0]):
        return 0
    row = cursor.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(sql.Identifier(VERSION_TABLE))
    ).fetchone()
    return int(row[0]) if row else 0


def _migrate(conn: Connection) -> SchemaReport:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(VERSION_TABLE))
        )
        current = jobs_version(conn)
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            migration.apply(conn)
            conn.execute(
                sql.SQL("INSERT INTO {} (version, name) VALUES (%s, %s)").format(
                    sql.Identifier(VERSION_TABLE)
                ),
                (migration.version, migration.name),
            )
    return SchemaReport(current, max(current, JOBS_SCHEMA_VERSION))


def ensure_schema(target: CentralTarget, *, migrate: MigratePolicy = "auto") -> SchemaReport:
    """Make sure the queue's tables are there and current.

    ``auto`` creates or upgrades them when this role may (a worker role that may not is told to
    ask the owner); ``only`` always migrates (the owner's ``--migrate-only``); ``never`` only
    checks. A schema newer than this Sergas is refused either way.
    """
    where = target.describe()
    with connect(target) as conn:
        try:
            current = jobs_version(conn)
            if current > JOBS_SCHEMA_VERSION:
                raise JobQueueSchemaError(
                    f"The job queue in {where} is at schema version {current}, written by a newer "
                    f"Sergas (this one knows up to {JOBS_SCHEMA_VERSION}). Upgrade Sergas on this "
                    "machine to the version the other workers run."
                )
            if current == JOBS_SCHEMA_VERSION and migrate != "only":
                return SchemaReport(current, current)
            if migrate == "never":
                raise _ask_the_owner(where, current)
            try:
                return _migrate(conn)
            except psycopg.errors.InsufficientPrivilege as err:
                raise _ask_the_owner(where, current) from err
        except JobQueueError:
            raise
        except psycopg.Error as err:
            raise convert(err, target, "prepare the job queue's tables") from err


WORKER_TABLES = (
    "procrastinate_jobs",
    "procrastinate_workers",
    "procrastinate_periodic_defers",
    "procrastinate_events",
    "sergas_schedule_runs",
    "sergas_review_attempts",
)
"""What a worker reads and writes (procrastinate's triggers run with the worker's rights)."""


def grant_worker_role(target: CentralTarget, role: str) -> None:
    """As the schema's owner: let ``role`` run workers and `sergas schedule` (rows of the
    queue's tables, their sequences; the version table read-only). Nothing else: no DDL, and
    the central audit's own grants stay as docs/operations.md gives them."""
    with connect(target) as conn:
        try:
            with conn.transaction():
                who = sql.Identifier(role)
                tables = sql.SQL(", ").join(sql.Identifier(t) for t in WORKER_TABLES)
                conn.execute(
                    sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(tables, who)
                )
                conn.execute(
                    sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(VERSION_TABLE), who)
                )
                sequences = conn.execute(
                    "SELECT DISTINCT pg_get_serial_sequence(c.table_name, c.column_name) "
                    "FROM information_schema.columns c WHERE c.table_schema = current_schema() "
                    "AND c.table_name = ANY(%s) "
                    "AND pg_get_serial_sequence(c.table_name, c.column_name) IS NOT NULL",
                    (list(WORKER_TABLES),),
                ).fetchall()
                for (sequence,) in sequences:
                    conn.execute(
                        sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                            sql.SQL(sequence), who
                        )
                    )
        except psycopg.Error as err:
            raise convert(err, target, f"grant the job queue to the role {role!r}") from err


def _ask_the_owner(where: str, current: int) -> JobQueueSchemaError:
    state = "has no job queue tables yet" if current == 0 else f"is at version {current}"
    return JobQueueSchemaError(
        f"The database {where} {state} (this Sergas needs version {JOBS_SCHEMA_VERSION}) and the "
        "role in [central] dsn may not create them. Run `sergas worker --migrate-only` once as "
        "the schema's owner (see 'Workers' in docs/operations.md), then start the workers again."
    )
