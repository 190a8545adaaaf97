"""The workspace database's schema, as an ordered list of versioned migrations.

Each :class:`Migration` is the SQL that takes a database from ``version - 1`` to ``version``;
:data:`MIGRATIONS` is the schema's whole history and :data:`SCHEMA_VERSION` the newest version
this code knows. To change the schema, append a :class:`Migration`; never edit one that has
shipped. Applying them is :func:`~sergas_tui.storage.migrations.migrate`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step: the SQL that takes a database from ``version - 1`` to ``version``."""

    version: int
    name: str
    script: str


_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sync_runs (
    id             TEXT PRIMARY KEY,
    owner_email    TEXT NOT NULL DEFAULT '*',
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    modified_since TEXT,
    calls          INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'ok', 'partial', 'failed'))
);
CREATE INDEX sync_runs_owner ON sync_runs (owner_email, started_at);

CREATE TABLE account_snapshots (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT NOT NULL,
    owner_email  TEXT NOT NULL,
    taken_at     TEXT NOT NULL,
    run_id       TEXT REFERENCES sync_runs (id) ON DELETE SET NULL,
    content_hash TEXT NOT NULL,
    data         TEXT NOT NULL
);
-- The latest snapshot of an account is the one with the highest id.
CREATE INDEX account_snapshots_latest ON account_snapshots (account_id, id);
CREATE INDEX account_snapshots_owner ON account_snapshots (owner_email);
CREATE INDEX account_snapshots_run ON account_snapshots (run_id);

CREATE TABLE recommendations (
    id          TEXT PRIMARY KEY,
    run_id      TEXT REFERENCES sync_runs (id) ON DELETE SET NULL,
    account_id  TEXT NOT NULL,
    owner_email TEXT,
    created_at  TEXT NOT NULL,
    type        TEXT NOT NULL,
    priority    TEXT NOT NULL,
    confidence  TEXT NOT NULL,
    status      TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX recommendations_account ON recommendations (account_id, created_at);
CREATE INDEX recommendations_run ON recommendations (run_id);

CREATE TABLE approvals (
    id                 TEXT PRIMARY KEY,
    recommendation_id  TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    owner_email        TEXT NOT NULL,
    action_type        TEXT NOT NULL,
    payload            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'adjusted',
                       'rejected', 'expired', 'executing', 'executed', 'failed')),
    token              TEXT NOT NULL UNIQUE,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    decided_by         TEXT,
    decided_at         TEXT,
    decision_rationale TEXT,
    executed_at        TEXT,
    result_record_id   TEXT,
    error_message      TEXT
);
CREATE INDEX approvals_status ON approvals (status, owner_email, created_at);
CREATE INDEX approvals_recommendation ON approvals (recommendation_id);

-- Seed §5.3, plus seq (append order), the hash-chain columns and the sync outbox marker.
CREATE TABLE audit_logs (
    id                 TEXT PRIMARY KEY,
    seq                INTEGER NOT NULL UNIQUE,
    timestamp          TEXT NOT NULL,
    session_id         TEXT NOT NULL,
    agent_name         TEXT NOT NULL,
    action_type        TEXT NOT NULL,
    account_id         TEXT,
    owner_email        TEXT,
    tool_name          TEXT,
    tool_inputs        TEXT,
    tool_outputs       TEXT,
    decision           TEXT CHECK (decision IS NULL
                       OR decision IN ('approved', 'rejected', 'adjusted')),
    decision_rationale TEXT,
    execution_time_ms  INTEGER,
    error_message      TEXT,
    prev_hash          TEXT,
    row_hash           TEXT,
    synced_at          TEXT
);
CREATE INDEX audit_logs_session ON audit_logs (session_id);
CREATE INDEX audit_logs_timestamp ON audit_logs (timestamp);
CREATE INDEX audit_logs_account ON audit_logs (account_id);
CREATE INDEX audit_logs_unsynced ON audit_logs (seq) WHERE synced_at IS NULL;

-- The audit log is append-only: rows are never deleted and their content never changes.
CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE OF
    id, seq, timestamp, session_id, agent_name, action_type, account_id, owner_email,
    tool_name, tool_inputs, tool_outputs, decision, decision_rationale, execution_time_ms,
    error_message ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;

CREATE TABLE recommendation_outcomes (
    id                  TEXT PRIMARY KEY,
    recommendation_id   TEXT NOT NULL,
    account_id          TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    recommendation_type TEXT NOT NULL,
    status              TEXT NOT NULL,
    approved_by         TEXT,
    approved_at         TEXT,
    executed_at         TEXT,
    outcome             TEXT,
    effectiveness_score REAL CHECK (effectiveness_score IS NULL
                        OR effectiveness_score BETWEEN 0.0 AND 1.0),
    data_sources        TEXT NOT NULL DEFAULT '[]',
    synced_at           TEXT
);
CREATE INDEX recommendation_outcomes_account ON recommendation_outcomes (account_id);
CREATE INDEX recommendation_outcomes_status ON recommendation_outcomes (status);
CREATE INDEX recommendation_outcomes_created ON recommendation_outcomes (created_at);
"""

_V2 = """
CREATE TABLE briefs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_email  TEXT NOT NULL,
    run_id       TEXT REFERENCES sync_runs (id) ON DELETE SET NULL,
    generated_at TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX briefs_owner ON briefs (owner_email, id);
"""

# SQLite cannot alter a CHECK constraint: rebuild ``approvals`` with ``conflict`` allowed and a
# ``details`` column (JSON: the CRM's current values when an execution met a conflict). The
# columns keep their names and order; ``details`` is appended.
_V3 = """
CREATE TABLE approvals_v3 (
    id                 TEXT PRIMARY KEY,
    recommendation_id  TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    owner_email        TEXT NOT NULL,
    action_type        TEXT NOT NULL,
    payload            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'adjusted',
                       'rejected', 'expired', 'executing', 'executed', 'failed', 'conflict')),
    token              TEXT NOT NULL UNIQUE,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    decided_by         TEXT,
    decided_at         TEXT,
    decision_rationale TEXT,
    executed_at        TEXT,
    result_record_id   TEXT,
    error_message      TEXT,
    details            TEXT
);
INSERT INTO approvals_v3 (
    id, recommendation_id, account_id, owner_email, action_type, payload, status, token,
    created_at, expires_at, decided_by, decided_at, decision_rationale, executed_at,
    result_record_id, error_message
)
SELECT
    id, recommendation_id, account_id, owner_email, action_type, payload, status, token,
    created_at, expires_at, decided_by, decided_at, decision_rationale, executed_at,
    result_record_id, error_message
FROM approvals ORDER BY rowid;
DROP TABLE approvals;
ALTER TABLE approvals_v3 RENAME TO approvals;
CREATE INDEX approvals_status ON approvals (status, owner_email, created_at);
CREATE INDEX approvals_recommendation ON approvals (recommendation_id);
"""

# Version 4: approval grants, what our Zoho MCP server checks a write's token against when no
# central database is configured (crm/approval_gate.py). Only the token's SHA-256 is kept.
_V4 = """
CREATE TABLE approval_grants (
    approval_id  TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    owner_email  TEXT NOT NULL,
    action_type  TEXT NOT NULL,
    decided_by   TEXT,
    expires_at   TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    digest       TEXT NOT NULL,
    write        TEXT NOT NULL,
    issued_at    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('granted', 'claimed', 'completed', 'revoked')),
    claimed_at   TEXT,
    claimed_by   TEXT,
    record_id    TEXT,
    error        TEXT
);
"""

# Version 5: per-record CRM reads the Data Scout pays one call each for (deal stage histories,
# timelines), kept until the record changes (its Modified_Time), so a review re-reads only
# what changed and every review of an owner weighs the same records.
_V5 = """
CREATE TABLE crm_read_cache (
    kind          TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    modified_time TEXT NOT NULL,
    payload       TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    PRIMARY KEY (kind, record_id)
);
"""

# Version 6: an approval may be a write set: further writes of the same decision (JSON list of
# {type, action}), NULL for a single write.
_V6 = """
ALTER TABLE approvals ADD COLUMN also TEXT;
"""

# Version 7: alert hygiene. An owner snoozes (until a day) or dismisses (until lifted, or a day)
# one signal key of one account, with a reason; a lifted mute keeps its row (who lifted it, when).
# ``until`` is the last day muted, ISO ``YYYY-MM-DD`` (a UTC day), so text order is date order.
_V7 = """
CREATE TABLE signal_mutes (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    signal_key  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('snooze', 'dismiss')),
    reason      TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    until       TEXT,
    owner_email TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    lifted_by   TEXT,
    lifted_at   TEXT,
    CHECK (kind = 'dismiss' OR until IS NOT NULL),
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);
CREATE INDEX signal_mutes_account ON signal_mutes (account_id, signal_key);
CREATE INDEX signal_mutes_owner ON signal_mutes (owner_email, created_at);
CREATE INDEX signal_mutes_live ON signal_mutes (until) WHERE lifted_at IS NULL;
"""

# Version 8: a chain that cannot be reset silently.
# - The update trigger covers the hash columns too: ``prev_hash``/``row_hash`` are written at
#   insert and never change (``synced_at`` stays updatable: the outbox marks rows synced).
# - A row without hashes can no longer be inserted.
# - ``meta.audit_legacy_rows``: how many rows without hashes come before the first chained row
#   now. Sergas chained its audit log from schema 3 on; rows written before (schemas 1 and 2)
#   have no hashes, and verification tolerates exactly these, no unchained row after them.
# - ``meta.audit_head``: the chain's head (last seq, row count, last row_hash), kept from now on
#   in the same transaction as every append, so a log cut short no longer reaches its head.
_V8 = """
DROP TRIGGER IF EXISTS audit_logs_no_update;
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE OF
    id, seq, timestamp, session_id, agent_name, action_type, account_id, owner_email,
    tool_name, tool_inputs, tool_outputs, decision, decision_rationale, execution_time_ms,
    error_message, prev_hash, row_hash ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_logs_no_delete BEFORE DELETE ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;
CREATE TRIGGER audit_logs_chained_insert BEFORE INSERT ON audit_logs
WHEN NEW.prev_hash IS NULL OR NEW.row_hash IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_logs rows must be hash-chained');
END;

INSERT OR REPLACE INTO meta (key, value)
SELECT 'audit_legacy_rows', CAST(count(*) AS TEXT) FROM audit_logs
WHERE (prev_hash IS NULL OR row_hash IS NULL)
  AND seq < coalesce(
      (SELECT min(seq) FROM audit_logs WHERE prev_hash IS NOT NULL AND row_hash IS NOT NULL),
      9223372036854775807
  );

INSERT OR REPLACE INTO meta (key, value)
SELECT 'audit_head', json_object(
    'count', (SELECT count(*) FROM audit_logs),
    'row_hash', (SELECT row_hash FROM audit_logs ORDER BY seq DESC LIMIT 1),
    'seq', (SELECT coalesce(max(seq), 0) FROM audit_logs)
);
"""

# Version 9: an index for every lookup a review makes per account or per owner (checked with
# EXPLAIN QUERY PLAN in tests/integration/test_review_queries.py). Without them each lookup
# scanned the whole table, so a review's cost grew with the square of the workspace.
# - the approvals of an account, oldest first (the Author's priors, outcome tracking);
# - what landed in an owner's queue since a time (the daily budget);
# - the queued recommendations of an owner or an account (a small partial index: only the
#   rows that still wait);
# - the executed outcomes not judged yet (a partial index: only those a review looks at).
_V9 = """
CREATE INDEX IF NOT EXISTS approvals_account ON approvals (account_id, created_at);
CREATE INDEX IF NOT EXISTS approvals_owner_created ON approvals (owner_email, created_at);
CREATE INDEX IF NOT EXISTS recommendations_queued_owner
    ON recommendations (owner_email, created_at) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS recommendations_queued_account
    ON recommendations (account_id, created_at) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS recommendation_outcomes_due
    ON recommendation_outcomes (account_id) WHERE status = 'completed' AND outcome IS NULL;
"""

# Version 10: team mode's outbox. A status this device gave an approval (an execution's
# outcome, an expiry) that the central records could not take at the time waits here until
# the next exchange with them (approvals/team.py).
_V10 = """
CREATE TABLE IF NOT EXISTS team_outbox (
    approval_id TEXT PRIMARY KEY,
    queued_at   TEXT NOT NULL,
    error       TEXT
);
"""

# Version 11: erasure and retention of the audit log (docs/security.md, "The audit log").
# - An update may turn a row into its one erased form only (``sergas account forget``,
#   domain/audit_chain.py ``erased_values``): the same id, seq, timestamp, action_type and
#   hashes; session_id and agent_name 'erased'; ``tool_inputs`` exactly the erasure marker
#   ``{"erased_by": ...}``; every other content column NULL. Erasure and purge events are
#   never erased. The erasure event that vouches for the row is appended in the same
#   transaction (storage/erasure.py); verification checks both.
# - A row may be deleted only below the chain start recorded in ``meta.audit_chain_start`` (a
#   local retention purge writes it first, in the same transaction, with its audit event).
_V11 = """
DROP TRIGGER IF EXISTS audit_logs_no_update;
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE OF
    id, seq, timestamp, session_id, agent_name, action_type, account_id, owner_email,
    tool_name, tool_inputs, tool_outputs, decision, decision_rationale, execution_time_ms,
    error_message, prev_hash, row_hash ON audit_logs
WHEN NOT (
    NEW.id IS OLD.id AND NEW.seq IS OLD.seq AND NEW.timestamp IS OLD.timestamp
    AND NEW.action_type IS OLD.action_type
    AND NEW.prev_hash IS OLD.prev_hash AND NEW.row_hash IS OLD.row_hash
    AND OLD.action_type NOT IN ('account_erased', 'audit_purged')
    AND NEW.session_id IS 'erased' AND NEW.agent_name IS 'erased'
    AND NEW.account_id IS NULL AND NEW.owner_email IS NULL AND NEW.tool_name IS NULL
    AND NEW.tool_outputs IS NULL AND NEW.decision IS NULL
    AND NEW.decision_rationale IS NULL AND NEW.execution_time_ms IS NULL
    AND NEW.error_message IS NULL
    AND json_valid(NEW.tool_inputs)
    AND json_type(NEW.tool_inputs, '$.erased_by') = 'text'
    AND NEW.tool_inputs IS json_object('erased_by', json_extract(NEW.tool_inputs, '$.erased_by'))
)
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;
DROP TRIGGER IF EXISTS audit_logs_no_delete;
CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
WHEN OLD.seq >= coalesce(
    (SELECT json_extract(value, '$.seq') FROM meta WHERE key = 'audit_chain_start'), 0
)
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _V1),
    Migration(2, "owner briefs", _V2),
    Migration(3, "approval conflicts", _V3),
    Migration(4, "approval grants", _V4),
    Migration(5, "CRM read cache", _V5),
    Migration(6, "approval write sets", _V6),
    Migration(7, "signal mutes", _V7),
    Migration(8, "audit chain head and immutable hashes", _V8),
    Migration(9, "indexes for a review's lookups", _V9),
    Migration(10, "team mode outbox", _V10),
    Migration(11, "audit erasure and local retention", _V11),
)
"""Every migration, in order; ``MIGRATIONS[i].version == i + 1``."""

SCHEMA_VERSION = MIGRATIONS[-1].version
"""The newest schema this code knows."""
