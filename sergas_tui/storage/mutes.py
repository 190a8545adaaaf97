"""Signal mutes (snoozes and dismissals) and "not useful" feedback, in the workspace database.

Every change is one ``BEGIN IMMEDIATE`` transaction holding the ``signal_mutes`` rows and the
audit row that records it (:data:`~sergas_tui.domain.AuditAction.SIGNAL_SNOOZED`,
``SIGNAL_DISMISSED``, ``SIGNAL_UNMUTED``), so a mute is never stored without its audit row nor
the row without the mute. A new mute of a signal that is already muted replaces the old one
(lifted by the same person, in the same transaction). Nothing is deleted: a lifted or ended mute
stays as history. The rules (what is active when) are :mod:`sergas_tui.domain.mutes`.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import date, datetime
from typing import Any

from pydantic import JsonValue

from sergas_tui.domain import AuditAction, AuditEvent, new_id
from sergas_tui.domain.mutes import (
    MUTE_AGENT,
    MuteError,
    SignalMute,
    day_of,
    is_active,
    signal_label,
)
from sergas_tui.storage import rows
from sergas_tui.storage.audit_log import insert_audit
from sergas_tui.storage.repository import Repository

NOT_USEFUL = "not_useful"
"""``Approval.details["feedback"]`` of a rejection the owner flagged as not useful."""

FEEDBACK_SIGNALS = "signals"
"""``Approval.details`` key: the signal keys the rejected recommendation answered."""

_COLUMNS = (
    "id",
    "account_id",
    "signal_key",
    "kind",
    "reason",
    "until",
    "owner_email",
    "created_by",
    "created_at",
    "lifted_by",
    "lifted_at",
)
_ACTIVE = "(lifted_at IS NULL OR lifted_at > ?) AND (until IS NULL OR until >= ?)"
"""SQL: active at a time (its ``ts``) and on its UTC day (ISO date)."""


def _values(mute: SignalMute) -> dict[str, Any]:
    return {
        "id": mute.id,
        "account_id": mute.account_id,
        "signal_key": mute.signal_key,
        "kind": mute.kind,
        "reason": mute.reason,
        "until": mute.until.isoformat() if mute.until else None,
        "owner_email": mute.owner_email,
        "created_by": mute.created_by,
        "created_at": rows.ts(mute.created_at),
        "lifted_by": mute.lifted_by,
        "lifted_at": rows.ts(mute.lifted_at),
    }


def _mute(row: sqlite3.Row) -> SignalMute:
    return SignalMute(
        id=row["id"],
        account_id=row["account_id"],
        signal_key=row["signal_key"],
        kind=row["kind"],
        reason=row["reason"],
        until=date.fromisoformat(row["until"]) if row["until"] else None,
        owner_email=row["owner_email"],
        created_by=row["created_by"],
        created_at=rows.parse_ts(row["created_at"]),
        lifted_by=row["lifted_by"],
        lifted_at=rows.parse_ts(row["lifted_at"]),
    )


def _active_params(now: datetime) -> tuple[str | None, str]:
    return rows.ts(now), day_of(now).isoformat()


def _event(
    mute: SignalMute,
    action: AuditAction,
    at: datetime,
    actor: str,
    session_id: str | None,
    extra: dict[str, JsonValue] | None = None,
) -> AuditEvent:
    inputs: dict[str, JsonValue] = {
        "mute_id": mute.id,
        "signal_key": mute.signal_key,
        "signal": signal_label(mute.signal_key),
        "kind": mute.kind,
        "until": mute.until.isoformat() if mute.until else None,
        "actor": actor,
        **(extra or {}),
    }
    return AuditEvent(
        timestamp=at,
        session_id=session_id or f"signals-{new_id()}",
        agent_name=MUTE_AGENT,
        action_type=str(action),
        account_id=mute.account_id,
        owner_email=mute.owner_email,
        tool_inputs=inputs,
        decision_rationale=mute.reason,
    )


def _audit(conn: sqlite3.Connection, event: AuditEvent) -> None:
    # The repository's own in-transaction append (seq, hash chain, redaction), so the audit row
    # commits or rolls back with the mute.
    insert_audit(conn, event)


def _lift(
    conn: sqlite3.Connection, mutes: list[SignalMute], actor: str, at: datetime
) -> list[SignalMute]:
    lifted: list[SignalMute] = []
    for mute in mutes:
        cursor = conn.execute(
            "UPDATE signal_mutes SET lifted_at = ?, lifted_by = ? "
            "WHERE id = ? AND lifted_at IS NULL",
            (rows.ts(at), actor, mute.id),
        )
        if cursor.rowcount == 1:
            lifted.append(mute.model_copy(update={"lifted_at": at, "lifted_by": actor}))
    return lifted


def _live_of(
    conn: sqlite3.Connection, account_id: str, signal_key: str, now: datetime
) -> list[SignalMute]:
    found = conn.execute(
        f"SELECT * FROM signal_mutes WHERE account_id = ? AND signal_key = ? AND {_ACTIVE} "
        "ORDER BY created_at, rowid",
        (account_id, signal_key, *_active_params(now)),
    ).fetchall()
    return [m for m in map(_mute, found) if is_active(m, now)]


# -- changing -----------------------------------------------------------------------------------


def add_mute(repo: Repository, mute: SignalMute, *, session_id: str | None = None) -> SignalMute:
    """Store ``mute`` with its audit row; an active mute of the same signal on the same
    account is lifted by ``mute.created_by`` in the same transaction (the new one replaces it).
    """
    action = AuditAction.SIGNAL_SNOOZED if mute.kind == "snooze" else AuditAction.SIGNAL_DISMISSED
    with repo.writing("mute a signal") as conn:
        replaced = _lift(
            conn,
            _live_of(conn, mute.account_id, mute.signal_key, mute.created_at),
            mute.created_by,
            mute.created_at,
        )
        rows.insert(conn, "signal_mutes", _values(mute))
        extra: dict[str, JsonValue] = {}
        if replaced:
            extra["replaces"] = [m.id for m in replaced]
        _audit(conn, _event(mute, action, mute.created_at, mute.created_by, session_id, extra))
    return mute


def lift_mute(
    repo: Repository,
    mute_id: str,
    *,
    actor: str,
    now: datetime,
    session_id: str | None = None,
) -> SignalMute:
    """Unmute: the signal counts again from the next review. Audited.

    Raises :class:`MuteError` when there is no such mute, or it was lifted or has ended.
    """
    who = actor.strip()
    if not who:
        raise MuteError("Unmuting needs the name of the person doing it; nothing was changed.")
    with repo.writing("unmute a signal") as conn:
        row = conn.execute("SELECT * FROM signal_mutes WHERE id = ?", (mute_id,)).fetchone()
        if row is None:
            raise MuteError(f"There is no mute {mute_id!r}; nothing was changed.")
        mute = _mute(row)
        if not is_active(mute, now):
            raise MuteError(
                f"The mute of {signal_label(mute.signal_key)!r} has already "
                f"{'been lifted' if mute.lifted else 'ended'}; nothing was changed."
            )
        lifted = _lift(conn, [mute], who, now)
        if not lifted:  # pragma: no cover - the lock makes this unreachable
            raise MuteError("The mute changed meanwhile; nothing was changed.")
        _audit(conn, _event(lifted[0], AuditAction.SIGNAL_UNMUTED, now, who, session_id))
    return lifted[0]


def lift_signal(
    repo: Repository,
    account_id: str,
    signal_key: str,
    *,
    actor: str,
    now: datetime,
    session_id: str | None = None,
) -> list[SignalMute]:
    """Unmute a signal of an account (every active mute of it, normally one). Audited.

    Raises :class:`MuteError` when the signal is not muted on that account.
    """
    with repo.reading("read signal mutes") as conn:
        live = _live_of(conn, account_id, signal_key, now)
    if not live:
        raise MuteError(
            f"{signal_label(signal_key)!r} is not snoozed or dismissed on this account; "
            "nothing was changed."
        )
    return [lift_mute(repo, mute.id, actor=actor, now=now, session_id=session_id) for mute in live]


# -- reading ------------------------------------------------------------------------------------


def get_mute(repo: Repository, mute_id: str) -> SignalMute | None:
    with repo.reading("read a signal mute") as conn:
        row = conn.execute("SELECT * FROM signal_mutes WHERE id = ?", (mute_id,)).fetchone()
    return None if row is None else _mute(row)


def mute_ids_with_prefix(repo: Repository, prefix: str, limit: int = 2) -> list[str]:
    """Ids of mutes starting with ``prefix`` (at most ``limit``), to resolve short ids."""
    with repo.reading("read signal mutes") as conn:
        found = conn.execute(
            "SELECT id FROM signal_mutes WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
            (len(prefix), prefix, limit),
        ).fetchall()
    return [row["id"] for row in found]


def list_mutes(
    repo: Repository,
    *,
    now: datetime,
    active_only: bool = True,
    account_id: str | None = None,
    owner_email: str | None = None,
) -> list[SignalMute]:
    """Mutes, newest first: active at ``now`` only (default) or every one ever made; of one
    account and/or one owner when given."""
    sql = "SELECT * FROM signal_mutes WHERE 1 = 1"
    params: tuple[Any, ...] = ()
    if active_only:
        sql += f" AND {_ACTIVE}"
        params += _active_params(now)
    if account_id is not None:
        sql += " AND account_id = ?"
        params += (account_id,)
    if owner_email is not None:
        sql += " AND owner_email = ?"
        params += (owner_email,)
    with repo.reading("read signal mutes") as conn:
        found = conn.execute(sql + " ORDER BY created_at DESC, rowid DESC", params).fetchall()
    mutes = [_mute(row) for row in found]
    return [m for m in mutes if is_active(m, now)] if active_only else mutes


def active_mutes(repo: Repository, now: datetime) -> list[SignalMute]:
    """Every mute in force at ``now``, all accounts: what a review hands
    :func:`~sergas_tui.domain.mutes.without_muted` for each account."""
    return list_mutes(repo, now=now)


# -- "not useful" feedback ----------------------------------------------------------------------


def _feedback_rows(repo: Repository, owner_email: str | None, since: datetime) -> list[sqlite3.Row]:
    sql = (
        "SELECT owner_email, details FROM approvals WHERE status = 'rejected' "
        "AND decided_at >= ? AND details IS NOT NULL AND json_valid(details) "
        "AND json_extract(details, '$.feedback') = ?"
    )
    params: tuple[Any, ...] = (rows.ts(since), NOT_USEFUL)
    if owner_email is not None:
        sql += " AND owner_email = ?"
        params += (owner_email,)
    with repo.reading("read approval feedback") as conn:
        return conn.execute(sql, params).fetchall()


def _keys(details: str) -> set[str]:
    found = json.loads(details).get(FEEDBACK_SIGNALS)
    return {k for k in found if isinstance(k, str) and k} if isinstance(found, list) else set()


def not_useful_counts(repo: Repository, owner_email: str, since: datetime) -> dict[str, int]:
    """Signal key → how many of ``owner_email``'s rejections decided at or after ``since`` were
    flagged "not useful" for a recommendation answering that signal (each rejection counts
    once per key; an undone rejection no longer counts)."""
    counts: Counter[str] = Counter()
    for row in _feedback_rows(repo, owner_email, since):
        counts.update(_keys(row["details"]))
    return dict(counts)


def not_useful_counts_by_owner(repo: Repository, since: datetime) -> dict[str, dict[str, int]]:
    """:func:`not_useful_counts` of every owner at once (for a review of all owners)."""
    counts: dict[str, Counter[str]] = {}
    for row in _feedback_rows(repo, None, since):
        counts.setdefault(row["owner_email"], Counter()).update(_keys(row["details"]))
    return {owner: dict(c) for owner, c in counts.items()}
