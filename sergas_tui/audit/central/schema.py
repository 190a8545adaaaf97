"""The central audit schema in PostgreSQL, as an ordered list of versioned migrations.

``sergas_schema_version`` holds one row per applied migration. :func:`migrate_central` applies
the pending ones in one transaction under an advisory lock, so two workstations upgrading at
once do not collide; it is idempotent. Creating tables needs the schema's owner (or CREATE on
it): the least-privilege sync role only checks :func:`central_version` and refuses to run
against a schema that is missing or too old. Never edit a shipped migration; append one.

The tables follow the seed's §5.3 with these choices:

- ``audit_logs`` adds where a row came from (``chain_id``: the local database's chain,
  ``workstation``, ``user_name``, ``workspace``), its local ``seq`` and hash-chain columns
  (``prev_hash``, ``row_hash``), and ``received_at``. Text columns are ``text`` rather than the
  seed's ``VARCHAR(n)``: a value one character too long must not wedge a workstation's outbox.
  Timestamps are ``timestamptz`` (the local store writes UTC with microseconds, kept exactly).
- ``recommendation_outcomes`` is updated in place locally, but the sync role may not UPDATE.
  So the central table is insert-only, ``recommendation_outcome_versions``: one row per
  distinct state of an outcome, keyed ``(id, version_hash)``; the view
  ``recommendation_outcomes`` shows the latest state of each outcome with the seed's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from sergas_tui.audit.central.conn import CentralSchemaError, CentralTarget, Connection

VERSION_TABLE = "sergas_schema_version"
LOCK_KEY = 0x5E62A5  # pg_advisory_xact_lock key: "sergas audit"


@dataclass(frozen=True)
class CentralMigration:
    version: int
    name: str
    script: str


_V1 = """
CREATE TABLE audit_logs (
    id                 uuid PRIMARY KEY,
    timestamp          timestamptz NOT NULL,
    session_id         text NOT NULL,
    agent_name         text NOT NULL,
    action_type        text NOT NULL,
    account_id         text,
    owner_email        text,
    tool_name          text,
    tool_inputs        jsonb,
    tool_outputs       jsonb,
    decision           text CHECK (decision IS NULL
                       OR decision IN ('approved', 'rejected', 'adjusted')),
    decision_rationale text,
    execution_time_ms  integer,
    error_message      text,
    chain_id           uuid NOT NULL,
    seq                bigint NOT NULL,
    prev_hash          text,
    row_hash           text,
    workstation        text NOT NULL,
    user_name          text NOT NULL,
    workspace          text NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_audit_session ON audit_logs (session_id);
CREATE INDEX idx_audit_timestamp ON audit_logs (timestamp);
CREATE INDEX idx_audit_account ON audit_logs (account_id);
CREATE INDEX idx_audit_chain ON audit_logs (chain_id, seq);

CREATE TABLE recommendation_outcome_versions (
    id                  uuid NOT NULL,
    version_hash        text NOT NULL,
    recommendation_id   text NOT NULL,
    account_id          text NOT NULL,
    created_at          timestamptz NOT NULL,
    recommendation_type text NOT NULL,
    status              text NOT NULL,
    approved_by         text,
    approved_at         timestamptz,
    executed_at         timestamptz,
    outcome             text,
    effectiveness_score double precision CHECK (effectiveness_score IS NULL
                        OR effectiveness_score BETWEEN 0.0 AND 1.0),
    data_sources        jsonb NOT NULL DEFAULT '[]',
    chain_id            uuid NOT NULL,
    workstation         text NOT NULL,
    user_name           text NOT NULL,
    workspace           text NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (id, version_hash)
);
CREATE INDEX idx_outcome_account ON recommendation_outcome_versions (account_id);
CREATE INDEX idx_outcome_status ON recommendation_outcome_versions (status);
CREATE INDEX idx_outcome_created ON recommendation_outcome_versions (created_at);
CREATE INDEX idx_outcome_latest ON recommendation_outcome_versions (id, received_at DESC);

CREATE VIEW recommendation_outcomes AS
SELECT DISTINCT ON (id)
    id, recommendation_id, account_id, created_at, recommendation_type, status, approved_by,
    approved_at, executed_at, outcome, effectiveness_score, data_sources,
    chain_id, workstation, user_name, workspace, received_at
FROM recommendation_outcome_versions
ORDER BY id, received_at DESC, version_hash;
"""

# Version 2: approval grants, the decisions our Zoho MCP servers check write tokens against
# (crm/approval_gate.py). Only the token's SHA-256 is stored; every state change is a
# compare-and-set UPDATE, so a token is spent once across every server and client.
_V2 = """
CREATE TABLE approval_grants (
    approval_id  text PRIMARY KEY,
    account_id   text NOT NULL,
    owner_email  text NOT NULL,
    action_type  text NOT NULL,
    decided_by   text,
    expires_at   timestamptz NOT NULL,
    token_hash   text NOT NULL,
    digest       text NOT NULL,
    write        text NOT NULL,
    issued_at    timestamptz NOT NULL,
    state        text NOT NULL CHECK (state IN ('granted', 'claimed', 'completed', 'revoked')),
    claimed_at   timestamptz,
    claimed_by   text,
    record_id    text,
    error        text,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_grants_owner ON approval_grants (owner_email, state);
"""

# Version 3: the team's approvals (central records, team mode). One row per approval, published
# by the review that landed it (an AE's app or a worker) and moved only by compare-and-set
# UPDATEs on ``status`` that bump ``revision``: two devices cannot both decide, and the loser
# reads who did. The approval, its recommendation and the account's snapshot (for names) travel
# as JSON; the token of a local approval never leaves the device.
_V3 = """
CREATE TABLE team_approvals (
    approval_id       text PRIMARY KEY,
    recommendation_id text NOT NULL,
    account_id        text NOT NULL,
    account_name      text,
    owner_email       text NOT NULL,
    action_type       text NOT NULL,
    status            text NOT NULL,
    approval          jsonb NOT NULL,
    recommendation    jsonb,
    snapshot          jsonb,
    revision          integer NOT NULL DEFAULT 1,
    decided_by        text,
    decided_at        timestamptz,
    decided_on        text,
    published_by      text NOT NULL,
    published_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_by        text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idx_team_approvals_owner ON team_approvals (owner_email, updated_at);
CREATE INDEX idx_team_approvals_status ON team_approvals (status);
"""

# Version 4: people and links (team mode). ``team_people``: who is an AE, a manager or an admin,
# whom they report to, and which OS accounts sign in as them (imported from the CRM's users or
# edited by an admin). ``approval_links``: the single-use links of notification digests; only
# the token's SHA-256 is stored, and using one records when, how, from which address and agent.
# ``team_notices``: escalations and expiry notices, sent once per approval, kind and recipient.
_V4 = """
CREATE TABLE team_people (
    email         text PRIMARY KEY CHECK (email = lower(email)),
    name          text,
    role          text NOT NULL CHECK (role IN ('ae', 'manager', 'admin')),
    manager_email text,
    os_users      text[] NOT NULL DEFAULT '{}',
    source        text NOT NULL CHECK (source IN ('crm', 'admin')),
    updated_by    text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idx_team_people_manager ON team_people (manager_email);

CREATE TABLE approval_links (
    token_hash    text PRIMARY KEY,
    approval_id   text NOT NULL,
    owner_email   text NOT NULL,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    used_at       timestamptz,
    used_action   text,
    used_ip       text,
    used_agent    text
);
CREATE INDEX idx_approval_links_approval ON approval_links (approval_id);

CREATE TABLE team_notices (
    approval_id   text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('escalation', 'expiry')),
    recipient     text NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (approval_id, kind, recipient)
);
"""

CENTRAL_MIGRATIONS: tuple[CentralMigration, ...] = (
    CentralMigration(1, "audit_logs and recommendation outcomes (seed 5.3)", _V1),
    CentralMigration(2, "approval grants checked by Zoho MCP servers", _V2),
    CentralMigration(3, "the team's approvals across devices", _V3),
    CentralMigration(4, "team people, approval links and notices", _V4),
)
CENTRAL_SCHEMA_VERSION = CENTRAL_MIGRATIONS[-1].version
"""The central schema version this code writes and reads."""


def central_version(conn: Connection) -> int | None:
    """The schema version of the central database (None: no Sergas schema there).

    Runs in the caller's transaction; needs only SELECT on the version table."""
    found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if not found or not found[0]:
        return None
    row = conn.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(sql.Identifier(VERSION_TABLE))
    ).fetchone()
    return int(row[0]) if row else 0


def require_current(conn: Connection, target: CentralTarget) -> None:
    """Raise :class:`CentralSchemaError` unless the central database is at
    :data:`CENTRAL_SCHEMA_VERSION` (for work that needs the owner role, which never migrates
    by itself)."""
    version = central_version(conn)
    if version != CENTRAL_SCHEMA_VERSION:
        raise CentralSchemaError(
            f"The central audit {target.describe()} is at schema "
            f"{'(none)' if version is None else f'v{version}'}, not "
            f"v{CENTRAL_SCHEMA_VERSION}: run `sergas audit sync --migrate-only` first."
        )


@dataclass(frozen=True)
class CentralMigrationResult:
    from_version: int
    to_version: int

    @property
    def changed(self) -> bool:
        return self.from_version != self.to_version


def migrate_central(conn: Connection) -> CentralMigrationResult:
    """Create or upgrade the central schema (in the ``search_path``'s first schema) and commit.

    Raises psycopg errors (``InsufficientPrivilege`` when the role may not create tables);
    the caller converts them. A database newer than this code is left alone: the caller
    compares the returned ``to_version`` with :data:`CENTRAL_SCHEMA_VERSION`.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(VERSION_TABLE))
        )
        current = central_version(conn) or 0
        for migration in CENTRAL_MIGRATIONS:
            if migration.version <= current:
                continue
            conn.execute(migration.script)
            conn.execute(
                sql.SQL("INSERT INTO {} (version, name) VALUES (%s, %s)").format(
                    sql.Identifier(VERSION_TABLE)
                ),
                (migration.version, migration.name),
            )
    return CentralMigrationResult(current, max(current, CENTRAL_SCHEMA_VERSION))
