"""Removing one account from the workspace database, and purging old audit rows.

:func:`erase_account` runs in one write transaction:

- deletes the account's rows from every table that holds them by account (snapshots,
  recommendations, approvals, outcomes, signal mutes, approval grants, the team outbox) and the
  cached CRM reads that name it (the sync mirror's row, stage histories, timelines);
- rewrites the stored briefs that mention it without it (:func:`scrub`);
- replaces the content of every audit row about it (its ``account_id``, or any content column
  naming its id or name) by the erased form (:func:`~sergas_tui.domain.audit_chain.erased_form`;
  hashes kept) and appends the ``account_erased`` event that lists each such row's ``seq``,
  ``row_hash`` and the digest of its erased form, so verification can vouch for it.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sergas_tui.domain import AuditEvent
from sergas_tui.domain.audit_chain import (
    CONTENT_COLUMNS,
    ERASED_TEXT,
    ERASURE_ACTION,
    LEGACY_META_KEY,
    START_META_KEY,
    ChainStart,
    ErasedEntry,
    content_digest,
    erased_form,
    mentions,
)
from sergas_tui.errors import StorageError
from sergas_tui.storage import rows
from sergas_tui.storage.repository import Repository, chain_start

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

ERASED_PLACEHOLDER = "[erased]"
"""What replaces a mention of the account inside a kept text (a brief's summary line)."""


@dataclass
class ErasureReport:
    """What :func:`erase_account` removed, per table, and the event that records it."""

    deleted: dict[str, int] = field(default_factory=dict)
    briefs_rewritten: int = 0
    audit_rows_erased: int = 0
    event: AuditEvent | None = None

    def total(self) -> int:
        return sum(self.deleted.values()) + self.briefs_rewritten + self.audit_rows_erased


def _like(needles: tuple[str, ...]) -> tuple[str, list[str]]:
    """A WHERE fragment matching ``payload`` text that holds any needle (LIKE ignores ASCII
    case; the exact check follows in Python)."""
    escaped = [n.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for n in needles]
    clause = " OR ".join("payload LIKE ? ESCAPE '\\'" for _ in escaped)
    return f"({clause})", [f"%{n}%" for n in escaped]


def scrub(value: Any, needles: tuple[str, ...]) -> Any:
    """``value`` (JSON data) without the account: list items that name it are dropped, object
    members whose key names it are dropped, and other strings that name it have each mention
    replaced by :data:`ERASED_PLACEHOLDER`."""
    if isinstance(value, dict):
        return {
            key: scrub(item, needles) for key, item in value.items() if not mentions(key, needles)
        }
    if isinstance(value, list):
        return [scrub(item, needles) for item in value if not mentions(_text(item), needles)]
    if isinstance(value, str) and mentions(value, needles):
        return replace_mentions(value, needles)
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def replace_mentions(text: str, needles: tuple[str, ...]) -> str:
    """``text`` with every mention of a needle (any case) replaced by ``[erased]``."""
    for needle in needles:
        if not needle:
            continue
        lowered, start, pieces = text.casefold(), 0, []
        target = needle.casefold()
        while (at := lowered.find(target, start)) >= 0:
            pieces.append(text[start:at] + ERASED_PLACEHOLDER)
            start = at + len(needle)
        text = "".join(pieces) + text[start:]
    return text


def _audit_rows_about(
    conn: sqlite3.Connection, account_id: str, needles: tuple[str, ...]
) -> Iterator[dict[str, Any]]:
    """The stored audit rows about the account (by ``account_id`` or naming it in any content
    column), by seq; erasure events are never among them (they are the record)."""
    for found in conn.execute(
        "SELECT * FROM audit_logs WHERE action_type IS NOT ? ORDER BY seq", (ERASURE_ACTION,)
    ):
        row = rows.as_dict(found)
        if row["account_id"] == account_id or any(
            mentions(row[column], needles) for column in CONTENT_COLUMNS
        ):
            yield row


def audit_rows_about(repository: Repository, account_id: str, names: Sequence[str]) -> int:
    """How many audit rows :func:`erase_account` would erase."""
    needles = needles_of(account_id, names)
    with repository.reading("count the audit rows about an account") as conn:
        return sum(1 for _ in _audit_rows_about(conn, account_id, needles))


def needles_of(account_id: str, names: Sequence[str]) -> tuple[str, ...]:
    """What names the account in stored text: its id and every name it was known by."""
    found = [account_id, *(n.strip() for n in names)]
    return tuple(dict.fromkeys(n for n in found if n))


def erase_account(
    repository: Repository,
    account_id: str,
    names: Sequence[str],
    event: Callable[[str, list[ErasedEntry], dict[str, int]], AuditEvent],
    *,
    erasure_id: str,
) -> ErasureReport:
    """Remove the account from the workspace database (see the module docstring).

    ``event(erasure_id, entries, deleted)`` builds the ``account_erased`` event from what was
    erased; it is appended with id ``erasure_id`` in the same transaction.
    """
    needles = needles_of(account_id, names)
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
        clause, params = _like(needles)
        cached = conn.execute(
            f"SELECT kind, record_id, payload FROM crm_read_cache WHERE record_id = ? OR {clause}",
            (account_id, *params),
        ).fetchall()
        gone = [
            (r[0], r[1])
            for r in cached
            if r[1] == account_id or mentions(r[2], needles) or mentions(r[1], needles)
        ]
        conn.executemany("DELETE FROM crm_read_cache WHERE kind = ? AND record_id = ?", gone)
        report.deleted["crm_read_cache"] = len(gone)
        report.briefs_rewritten = _scrub_briefs(conn, needles)
        report.deleted["meta"] = _scrub_meta(conn, needles)
        entries: list[ErasedEntry] = []
        for row in list(_audit_rows_about(conn, account_id, needles)):
            values = erased_form(row, erasure_id, needles)
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
        report.event = Repository._insert_audit(conn, built)
    return report


def _scrub_briefs(conn: sqlite3.Connection, needles: tuple[str, ...]) -> int:
    """Rewrite each stored brief that mentions the account without it (see :func:`scrub`)."""
    rewritten = 0
    for brief_id, data in conn.execute("SELECT id, data FROM briefs").fetchall():
        if not mentions(data, needles):
            continue
        try:
            cleaned = rows.canonical_json(scrub(json.loads(data), needles))
        except json.JSONDecodeError:
            conn.execute("DELETE FROM briefs WHERE id = ?", (brief_id,))
        else:
            conn.execute("UPDATE briefs SET data = ? WHERE id = ?", (cleaned, brief_id))
        rewritten += 1
    return rewritten


def _scrub_meta(conn: sqlite3.Connection, needles: tuple[str, ...]) -> int:
    """Scrub ``meta`` values that name the account (none do today; a safeguard)."""
    changed = 0
    for key, value in conn.execute("SELECT key, value FROM meta").fetchall():
        if mentions(value, needles):
            try:
                cleaned = rows.canonical_json(scrub(json.loads(value), needles))
            except json.JSONDecodeError:
                cleaned = replace_mentions(str(value), needles)
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
        appended = Repository._insert_audit(conn, event(deleted, start))
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
    "ERASED_TEXT",
    "ErasureReport",
    "PurgeResult",
    "audit_rows_about",
    "compact",
    "erase_account",
    "needles_of",
    "purge_audit",
    "replace_mentions",
    "scrub",
]
