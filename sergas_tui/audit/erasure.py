"""Erasing an account from the audit log, locally and in the central copy.

Locally (:func:`erase_account_locally`), :func:`sergas_tui.storage.erasure.erase_account`
replaces each audit row about the account by its erased form and appends one
``account_erased`` event (built here) listing every erased row's seq, id, unchanged
``row_hash`` and the digest of its erased form, with the account id, who erased it and when.
Verification (:mod:`.verify`) accepts an erased row only when a later intact erasure event
vouches for it.

Centrally (:func:`apply_central_erasures`, needs the owner role like ``sergas audit purge``):
every row the erasure event lists that the central audit holds gets the same erased form
(:func:`~sergas_tui.domain.audit_chain.erased_values`; hashes stay), also rows local
retention purged since; the event itself is read from the central copy when retention purged
it locally, this chain's outcome versions of the account are deleted, and the team's
shared records of the account (``team_approvals``, their ``approval_links`` and
``team_notices``, ``approval_grants``) are deleted, in one transaction. Erasures wait in
``meta.audit_erasures_central`` until that succeeds, so ``sergas audit purge`` can finish one
that the first attempt could not.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sergas_tui.audit.central.conn import (
    CentralPermissionError,
    CentralTarget,
    Connection,
    connect,
    convert,
)
from sergas_tui.audit.central.schema import require_current
from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import (
    ERASURE_ACTION,
    NEVER_ERASED,
    ErasedEntry,
    erased_values,
    erasure_entries,
)
from sergas_tui.domain.mentions import Mentions
from sergas_tui.storage import Repository
from sergas_tui.storage.erasure import ErasureReport, erase_account

PENDING_META_KEY = "audit_erasures_central"
"""The ``meta`` key listing (JSON) the ids of erasure events not yet applied centrally."""


def erasure_event_builder(
    account_id: str, *, actor: str, now: datetime, workspace: str
) -> Callable[[str, list[ErasedEntry], dict[str, int]], AuditEvent]:
    """The builder :func:`~sergas_tui.storage.erasure.erase_account` calls for its event."""

    def build(erasure_id: str, entries: list[ErasedEntry], deleted: dict[str, int]) -> AuditEvent:
        return AuditEvent(
            id=erasure_id,
            timestamp=now,
            session_id=f"account-erasure-{now.strftime('%Y%m%dT%H%M%SZ')}",
            agent_name="sergas",
            action_type=ERASURE_ACTION,
            account_id=account_id,
            tool_name="account_forget",
            tool_inputs={
                "account_id": account_id,
                "actor": actor,
                "erased": [entry.dump() for entry in entries],
                "workspace": workspace,
            },
            tool_outputs={"audit_rows_erased": len(entries), "records_deleted": deleted},
            decision_rationale=f"forgotten by {actor}",
        )

    return build


def erase_account_locally(
    repository: Repository,
    mentions: Mentions,
    *,
    actor: str,
    now: datetime,
    workspace: str,
    erasure_id: str,
    central: bool,
) -> ErasureReport:
    """Erase the account from the workspace database and, when a central audit is configured
    (``central``), note the erasure as waiting to be applied there, in the same transaction
    (an erasure is never left unnoted)."""

    def note_pending(conn: sqlite3.Connection) -> None:
        found = conn.execute("SELECT value FROM meta WHERE key = ?", (PENDING_META_KEY,))
        row = found.fetchone()
        pending = _pending_list(row[0] if row else None)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (PENDING_META_KEY, json.dumps([*pending, erasure_id])),
        )

    return erase_account(
        repository,
        mentions,
        erasure_event_builder(mentions.account_id, actor=actor, now=now, workspace=workspace),
        erasure_id=erasure_id,
        also=note_pending if central else None,
    )


def pending_erasures(repository: Repository) -> list[str]:
    """Erasure event ids not yet applied to the central audit, oldest first."""
    return _pending_list(repository.meta_value(PENDING_META_KEY))


def _pending_list(text: str | None) -> list[str]:
    try:
        value = json.loads(text) if text else []
    except json.JSONDecodeError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


@dataclass
class CentralErasureReport:
    """What :func:`apply_central_erasures` changed centrally, and what it could not reach."""

    erasures: int = 0
    audit_rows_erased: int = 0
    outcome_versions_deleted: int = 0
    team_records_deleted: int = 0
    elsewhere: list[str] = field(default_factory=list)
    """Other workstations' workspaces whose central rows still name an erased account (each
    must run ``sergas account forget`` itself: their chains are theirs to erase)."""


def apply_central_erasures(repository: Repository, target: CentralTarget) -> CentralErasureReport:
    """Apply every pending erasure to the central audit (see the module docstring)."""
    pending = pending_erasures(repository)
    report = CentralErasureReport()
    if not pending:
        return report
    chain_id = repository.audit_chain_id()
    try:
        with connect(target) as conn:
            require_current(conn, target)
            with conn.transaction():
                for erasure_id in pending:
                    _apply_one(repository, conn, chain_id, erasure_id, report)
    except psycopg.errors.InsufficientPrivilege as err:
        raise CentralPermissionError(
            f"Erasing an account from the central audit needs UPDATE and DELETE on its tables, "
            f"which the role in [central] dsn ({target.describe()}) lacks. Run `sergas audit "
            "purge` with the owner role's DSN (SERGAS_CENTRAL__DSN) to finish the erasure; "
            "see docs/security.md."
        ) from err
    except psycopg.Error as err:
        raise convert(err, target, "erase an account from the central audit") from err
    repository.set_meta(PENDING_META_KEY, None)
    return report


def _erasure_event(
    repository: Repository, conn: Connection, chain_id: str, erasure_id: str
) -> tuple[str, list[ErasedEntry]] | None:
    """The account and entries of an erasure event: from the local log, or, when local
    retention purged it since, from its synced copy in the central audit."""
    local = next((r for r in repository.audit_rows() if r["id"] == erasure_id), None)
    if local is not None:
        return str(local["account_id"]), erasure_entries(local)
    found = conn.execute(
        "SELECT account_id, tool_inputs FROM audit_logs "
        "WHERE chain_id = %s AND id = %s AND action_type = %s",
        (chain_id, erasure_id, ERASURE_ACTION),
    ).fetchone()
    if found is None:
        return None
    inputs: Any = found[1]
    row = {"action_type": ERASURE_ACTION, "tool_inputs": json.dumps(inputs)}
    return str(found[0]), erasure_entries(row)


def _apply_one(
    repository: Repository,
    conn: Connection,
    chain_id: str,
    erasure_id: str,
    report: CentralErasureReport,
) -> None:
    """Erase centrally every row the erasure event lists (whether or not local retention
    purged it since), by chain, id and unchanged ``row_hash``, into the one erased form."""
    found = _erasure_event(repository, conn, chain_id, erasure_id)
    if found is None:  # purged locally and never synced: no central row to erase
        return
    account_id, entries = found
    fixed = erased_values(erasure_id)
    columns = list(fixed)
    values = [Jsonb(json.loads(fixed[c])) if c == "tool_inputs" else fixed[c] for c in columns]
    for entry in entries:
        report.audit_rows_erased += conn.execute(
            f"UPDATE audit_logs SET {', '.join(f'{c} = %s' for c in columns)} "
            "WHERE chain_id = %s AND id = %s AND seq = %s "
            "AND row_hash IS NOT DISTINCT FROM %s AND action_type NOT IN (%s, %s)",
            (*values, chain_id, entry.id, entry.seq, entry.row_hash, *NEVER_ERASED),
        ).rowcount
    report.outcome_versions_deleted += conn.execute(
        "DELETE FROM recommendation_outcome_versions WHERE chain_id = %s AND account_id = %s",
        (chain_id, account_id),
    ).rowcount
    shared = "SELECT approval_id FROM team_approvals WHERE account_id = %s"
    for statement in (
        f"DELETE FROM approval_links WHERE approval_id IN ({shared})",
        f"DELETE FROM team_notices WHERE approval_id IN ({shared})",
        "DELETE FROM team_approvals WHERE account_id = %s",
        "DELETE FROM approval_grants WHERE account_id = %s",
    ):
        report.team_records_deleted += conn.execute(statement, (account_id,)).rowcount
    for workstation, workspace, count in conn.execute(
        "SELECT workstation, workspace, count(*) FROM audit_logs "
        "WHERE account_id = %s AND chain_id <> %s AND action_type <> %s "
        "GROUP BY workstation, workspace ORDER BY workstation, workspace",
        (account_id, chain_id, ERASURE_ACTION),
    ).fetchall():
        report.elsewhere.append(f"{workspace} on {workstation} ({count} audit rows)")
    report.erasures += 1
