"""Removing one account from the workspace database, and purging old audit rows.

:func:`erase_account` runs in one write transaction:

- deletes the account's rows from every table that holds them by account (snapshots,
  recommendations, approvals, outcomes, signal mutes, approval grants, the team outbox) and the
  cached CRM reads that hold its id (the sync mirror's row, stage histories, timelines);
- rewrites the stored briefs that mention it without it (:func:`scrub`);
- replaces the content of every audit row about it (recorded for its ``account_id``, or
  recorded for no account with a free-text column naming its id or name as a word, see
  :class:`~sergas_tui.domain.mentions.Mentions`) by the one erased form
  (:func:`~sergas_tui.domain.audit_chain.erased_form`; hashes kept) and appends the
  ``account_erased`` event that lists each such row's ``seq``, ``row_hash`` and the digest of
  its erased form, so verification can vouch for it.

:func:`purge_audit` deletes the oldest audit rows (a prefix of the chain) older than a cutoff,
records where the chain now starts (``meta.audit_chain_start``) and appends the
``audit_purged`` event that records the same start, in one transaction.

:func:`compact` then makes SQLite forget the deleted bytes: a WAL checkpoint that truncates the
WAL, ``VACUUM`` (which rewrites the file without its free pages) and another checkpoint. Rows
are deleted with ``secure_delete`` on, so freed space is zeroed even before the vacuum.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import (
    ERASED_TEXT,
    LEGACY_META_KEY,
    NEVER_ERASED,
    START_META_KEY,
    ChainStart,
    ErasedEntry,
    content_digest,
    erased_by,
    erased_form,
)
from sergas_tui.domain.mentions import ERASED_PLACEHOLDER, Mentions
from sergas_tui.errors import StorageError
from sergas_tui.storage import rows
from sergas_tui.storage.audit_log import chain_start, insert_audit
from sergas_tui.storage.repository import Repository
from sergas_tui.storage.sync_mirror import mark_full_sync_due

FORGOTTEN_REASON = "an account was forgotten here: the CRM's records are read again"
"""Why the review after a forget syncs in full (shown in its summary)."""

BY_ACCOUNT: tuple[str, ...] = (
    "account_snapshots",
    "recommendations",
    "recommendation_outcomes",
    "signal_mutes",
    "approval_grants",
    "approvals",
)
"""The tables whose rows belong to one account through their ``account_id`` (``approvals``
last: the team outbox is found through it)."""

NAMED_COLUMNS: tuple[str, ...] = (
    "session_id",
    "owner_email",
    "tool_inputs",
    "tool_outputs",
    "decision_rationale",
    "error_message",
)
"""The audit columns searched for the account's id or name in rows that name no account:
free text and data, never ``agent_name``, ``tool_name`` or ``action_type`` (Sergas's own
words, which an account with a short name such as "Audit" would otherwise match)."""


@dataclass
class ErasureReport:
    """What :func:`erase_account` removed, per table, and the event that records it."""

    deleted: dict[str, int] = field(default_factory=dict)
    briefs_rewritten: int = 0
    audit_rows_erased: int = 0
    event: AuditEvent | None = None

    def total(self) -> int:
        return sum(self.deleted.values()) + self.briefs_rewritten + self.audit_rows_erased


def _like(needle: str) -> tuple[str, list[str]]:
    """A WHERE fragment matching ``payload`` text that holds ``needle`` (LIKE ignores ASCII
    case; the exact check follows in Python)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "payload LIKE ? ESCAPE '\\'", [f"%{escaped}%"]


def scrub(value: Any, mentions: Mentions) -> Any:
    """``value`` (JSON data) without the account: list items that hold its id are dropped,
    object members whose key names it are dropped, and other strings that name it have each
    mention replaced by :data:`ERASED_PLACEHOLDER` (another account's item that merely names
    it is kept, without the mention)."""
    if isinstance(value, dict):
        return {
            key: scrub(item, mentions) for key, item in value.items() if not mentions.names_it(key)
        }
    if isinstance(value, list):
        return [scrub(item, mentions) for item in value if not mentions.names_id(_text(item))]
    if isinstance(value, str):
        return mentions.replace(value)
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class AuditMatch:
    """The audit rows an erasure erases: those recorded for the account (``account_id``) and
    those that record no account but name it (``by_name``, shown before erasing)."""

    by_account: list[int]
    by_name: list[int]

    @property
    def seqs(self) -> list[int]:
        return sorted([*self.by_account, *self.by_name])


def _audit_rows_about(
    conn: sqlite3.Connection, mentions: Mentions
) -> Iterator[tuple[dict[str, Any], bool]]:
    """The stored audit rows about the account, by seq, each with whether it matched only by
    name: rows recorded for it (``account_id``), and rows recorded for no account whose
    :data:`NAMED_COLUMNS` name it. Erasure and purge events are never among them (they are the
    record), nor rows already erased or recorded for another account."""
    marks = ", ".join("?" for _ in NEVER_ERASED)
    for found in conn.execute(
        f"SELECT * FROM audit_logs WHERE action_type NOT IN ({marks}) "
        "AND (account_id IS NULL OR account_id = ?) ORDER BY seq",
        (*NEVER_ERASED, mentions.account_id),
    ):
        row = rows.as_dict(found)
        if erased_by(row) is not None:
            continue
        if row["account_id"] == mentions.account_id:
            yield row, False
        elif any(mentions.names_it(row[column]) for column in NAMED_COLUMNS):
            yield row, True


def audit_rows_about(repository: Repository, mentions: Mentions) -> AuditMatch:
    """The audit rows :func:`erase_account` would erase."""
    by_account: list[int] = []
    by_name: list[int] = []
    with repository.reading("count the audit rows about an account") as conn:
        for row, named in _audit_rows_about(conn, mentions):
            (by_name if named else by_account).append(int(row["seq"]))
    return AuditMatch(by_account, by_name)


def erase_account(
    repository: Repository,
    mentions: Mentions,
    event: Callable[[str, list[ErasedEntry], dict[str, int]], AuditEvent],
    *,
    erasure_id: str,
    also: Callable[[sqlite3.Connection], None] | None = None,
) -> ErasureReport:
    """Remove the account from the workspace database (see the module docstring).

    ``event(erasure_id, entries, deleted)`` builds the ``account_erased`` event from what was
    erased; it is appended with id ``erasure_id`` in the same transaction, and so is whatever
    ``also`` writes (a note that the central copy still waits for the erasure).
    """
    account_id = mentions.account_id
    report = ErasureReport()
    with repository.writing("forget an account") as conn:
        conn.execute("PRAGMA secure_delete = ON")  # inside a transaction: takes effect anyway
        approval_ids = [
            str(r[0])
            for r in conn.execute("SELECT id FROM approvals WHERE account_id = ?", (account_id,))
        ]
        outbox = 0
        for start in range(0, len(approval_ids), 500):
            chunk = approval_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            outbox += conn.execute(
                f"DELETE FROM team_outbox WHERE approval_id IN ({marks})", chunk
            ).rowcount
        report.deleted["team_outbox"] = outbox
        for table in BY_ACCOUNT:
            report.deleted[table] = conn.execute(
                f"DELETE FROM {table} WHERE account_id = ?", (account_id,)
            ).rowcount
        clause, params = _like(account_id)
        cached = conn.execute(
            f"SELECT kind, record_id, payload FROM crm_read_cache WHERE record_id = ? OR {clause}",
            (account_id, *params),
        ).fetchall()
        # Cached CRM reads are the account's when they hold its id (its own record, its deals'
        # stage histories, its timeline); another account's record naming it stays.
        gone = [(r[0], r[1]) for r in cached if r[1] == account_id or mentions.names_id(r[2])]
        conn.executemany("DELETE FROM crm_read_cache WHERE kind = ? AND record_id = ?", gone)
        report.deleted["crm_read_cache"] = len(gone)
        report.briefs_rewritten = _scrub_briefs(conn, mentions)
        report.deleted["meta"] = _scrub_meta(conn, mentions)
        # Its stored CRM records are gone: the next review reads the CRM in full, so an account
        # that is still there comes back instead of waiting for its next change.
        mark_full_sync_due(conn, FORGOTTEN_REASON)
        entries: list[ErasedEntry] = []
        for row, _ in list(_audit_rows_about(conn, mentions)):
            values = erased_form(row, erasure_id)
            conn.execute(
                f"UPDATE audit_logs SET {', '.join(f'{c} = ?' for c in values)} WHERE seq = ?",
                (*values.values(), row["seq"]),
            )
            entries.append(
                ErasedEntry(
                    seq=int(row["seq"]),
                    id=str(row["id"]),
                    row_hash=row["row_hash"],
                    erased_digest=content_digest(values),
                )
            )
        report.audit_rows_erased = len(entries)
        built = event(erasure_id, entries, dict(report.deleted))
        report.event = insert_audit(conn, built)
        if also is not None:
            also(conn)
    return report


def _scrub_briefs(conn: sqlite3.Connection, mentions: Mentions) -> int:
    """Rewrite each stored brief that mentions the account without it (see :func:`scrub`)."""
    rewritten = 0
    for brief_id, data in conn.execute("SELECT id, data FROM briefs").fetchall():
        if not mentions.names_it(data):
            continue
        try:
            cleaned = rows.canonical_json(scrub(json.loads(data), mentions))
        except json.JSONDecodeError:
            conn.execute("DELETE FROM briefs WHERE id = ?", (brief_id,))
        else:
            conn.execute("UPDATE briefs SET data = ? WHERE id = ?", (cleaned, brief_id))
        rewritten += 1
    return rewritten


def _scrub_meta(conn: sqlite3.Connection, mentions: Mentions) -> int:
    """Scrub ``meta`` values that name the account (none do today; a safeguard)."""
    changed = 0
    for key, value in conn.execute("SELECT key, value FROM meta").fetchall():
        if mentions.names_it(value):
            try:
                cleaned = rows.canonical_json(scrub(json.loads(value), mentions))
            except json.JSONDecodeError:
                cleaned = mentions.replace(str(value))
            conn.execute("UPDATE meta SET value = ? WHERE key = ?", (cleaned, key))
            changed += 1
    return changed


# -- retention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    """What :func:`purge_audit` did: the rows removed and the chain start it left."""

    rows_deleted: int
    start: ChainStart | None
    event: AuditEvent | None


def purge_audit(
    repository: Repository,
    cutoff: datetime,
    event: Callable[[int, ChainStart], AuditEvent],
    *,
    keep_unsynced: bool,
) -> PurgeResult:
    """Delete the audit rows older than ``cutoff`` that open the log (a prefix of the chain:
    purging stops at the first row at or after the cutoff, and, with ``keep_unsynced``, at the
    first row not yet in the central audit). Records the new chain start in ``meta`` and
    appends ``event(rows_deleted, start)`` in the same transaction. Nothing to delete: nothing
    is written and ``event`` is not called."""
    with repository.writing("purge old audit rows") as conn:
        conn.execute("PRAGMA secure_delete = ON")
        old, _ = chain_start(conn)
        stop = conn.execute(
            "SELECT min(seq) FROM audit_logs WHERE timestamp >= ?", (rows.ts(cutoff),)
        ).fetchone()[0]
        if keep_unsynced:
            unsynced = conn.execute(
                "SELECT min(seq) FROM audit_logs WHERE synced_at IS NULL"
            ).fetchone()[0]
            if unsynced is not None:
                stop = unsynced if stop is None else min(stop, unsynced)
        last = conn.execute("SELECT max(seq) FROM audit_logs").fetchone()[0]
        through = (last if stop is None else int(stop) - 1) if last is not None else None
        first = old.seq if old is not None else 1
        if through is None or through < first:
            return PurgeResult(0, old, None)
        found = conn.execute(
            "SELECT row_hash, (SELECT count(*) FROM audit_logs WHERE seq <= ?) "
            "FROM audit_logs WHERE seq = ?",
            (through, through),
        ).fetchone()
        if found is None:
            raise StorageError(
                f"The audit log has no row at seq {through}: run `sergas audit verify` before "
                "purging it."
            )
        deleted = int(found[1])
        start = ChainStart(
            seq=through + 1,
            prev_hash=found[0],
            purged_rows=deleted + (old.purged_rows if old is not None else 0),
        )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (START_META_KEY, start.dumps()),
        )
        conn.execute("DELETE FROM audit_logs WHERE seq <= ?", (through,))
        legacy = conn.execute(
            "SELECT count(*) FROM audit_logs WHERE (prev_hash IS NULL OR row_hash IS NULL) "
            "AND seq < coalesce((SELECT min(seq) FROM audit_logs WHERE row_hash IS NOT NULL), "
            "9223372036854775807)"
        ).fetchone()[0]
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (str(int(legacy)), LEGACY_META_KEY))
        appended = insert_audit(conn, event(deleted, start))
    return PurgeResult(deleted, start, appended)


# -- forgetting the deleted bytes ---------------------------------------------------------------


def compact(path: Path) -> None:
    """Checkpoint the WAL into the database and truncate it, ``VACUUM`` (the file is rebuilt
    without free pages, so deleted rows leave no bytes behind), and checkpoint again.

    Needs no other connection to be reading the database at that moment: a reader holding an
    old snapshot keeps the WAL from being truncated (reported as a :class:`StorageError`).
    """
    if not path.exists():
        return
    try:
        with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as conn:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA secure_delete = ON")
            _checkpoint(conn, path)
            conn.execute("VACUUM")
            _checkpoint(conn, path)
    except sqlite3.Error as err:
        raise StorageError(
            f"Could not compact {path} after deleting from it: {err}. Close the other Sergas "
            "processes using the workspace and run the command again."
        ) from err


def _checkpoint(conn: sqlite3.Connection, path: Path) -> None:
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise StorageError(
            f"Could not empty the write-ahead log of {path}: another process is reading the "
            "database. Close the other Sergas processes using the workspace and run the "
            "command again."
        )


__all__ = [
    "ERASED_PLACEHOLDER",
    "ERASED_TEXT",
    "NAMED_COLUMNS",
    "AuditMatch",
    "ErasureReport",
    "PurgeResult",
    "audit_rows_about",
    "compact",
    "erase_account",
    "purge_audit",
    "scrub",
]
