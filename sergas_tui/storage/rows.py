"""Mapping between domain models and database rows.

Timestamps are stored as UTC ISO-8601 text with microseconds, so text order is time order; JSON
columns hold canonical JSON. Keeping these conversions here leaves the repository's methods
about intent only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sergas_tui.domain import (
    Approval,
    AuditEvent,
    Recommendation,
    RecommendationOutcome,
    Snapshot,
    SyncRun,
)
from sergas_tui.domain.audit_chain import CONTENT_COLUMNS


def ts(value: datetime | None) -> str | None:
    """A timestamp column value: UTC, ISO-8601, microseconds (naive input is taken as UTC)."""
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace, so equal data gives equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data``: equal data, equal hash."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def insert(
    conn: sqlite3.Connection, table: str, values: Mapping[str, Any], verb: str = "INSERT"
) -> None:
    """Insert one row given as column → value (table and columns come from our own code)."""
    marks = ", ".join("?" for _ in values)
    sql = f"{verb} INTO {table} ({', '.join(values)}) VALUES ({marks})"
    conn.execute(sql, tuple(values.values()))


def as_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A row as column → value, exactly as stored."""
    return dict(zip(row.keys(), row, strict=True))


def _json_or_null(value: Any) -> str | None:
    return None if value is None else canonical_json(value)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def snapshot(row: sqlite3.Row) -> Snapshot:
    return Snapshot(
        account_id=row["account_id"],
        owner_email=row["owner_email"],
        taken_at=parse_ts(row["taken_at"]),
        run_id=row["run_id"],
        content_hash=row["content_hash"],
        data=json.loads(row["data"]),
    )


def sync_run(row: sqlite3.Row) -> SyncRun:
    return SyncRun(
        id=row["id"],
        owner_email=row["owner_email"],
        started_at=parse_ts(row["started_at"]),
        finished_at=parse_ts(row["finished_at"]),
        modified_since=parse_ts(row["modified_since"]),
        calls=row["calls"],
        status=row["status"],
    )


def recommendation_values(
    rec: Recommendation, run_id: str | None, owner_email: str | None
) -> tuple[Any, ...]:
    """The ``recommendations`` row for ``rec``; the full model is kept in ``payload``."""
    if not rec.account_id:
        raise ValueError(f"recommendation {rec.id} has no account_id; set it before saving")
    return (
        rec.id,
        run_id,
        rec.account_id,
        owner_email,
        ts(rec.created_at),
        rec.type,
        rec.priority,
        rec.confidence,
        rec.status,
        rec.model_dump_json(),
    )


_APPROVAL_TIMES = ("created_at", "expires_at", "decided_at", "executed_at")


def approval_values(approval: Approval) -> dict[str, Any]:
    """Column → value for the ``approvals`` table."""
    values = approval.model_dump(mode="python", exclude={"payload", "status", "also"})
    for column in _APPROVAL_TIMES:
        values[column] = ts(values[column])
    values["expires_at"] = ts(approval.expiry)
    values["status"] = str(approval.status)
    values["payload"] = approval.payload.model_dump_json()
    values["details"] = _json_or_null(approval.details)
    values["also"] = (
        json.dumps([w.model_dump(mode="json") for w in approval.also]) if approval.also else None
    )
    return values


def approval(row: sqlite3.Row) -> Approval:
    data: dict[str, Any] = dict(zip(row.keys(), row, strict=True))
    for column in _APPROVAL_TIMES:
        data[column] = parse_ts(data[column])
    data["payload"] = json.loads(data["payload"])
    data["details"] = _loads(data.get("details"))
    data["also"] = _loads(data.get("also")) or []
    return Approval.model_validate(data)


_AUDIT_COLUMNS = CONTENT_COLUMNS


def audit_values(event: AuditEvent) -> dict[str, Any]:
    """Column → value for the ``audit_logs`` table (the hash columns are filled elsewhere)."""
    values = {column: getattr(event, column) for column in _AUDIT_COLUMNS}
    values["timestamp"] = ts(event.timestamp)
    values["tool_inputs"] = _json_or_null(event.tool_inputs)
    values["tool_outputs"] = _json_or_null(event.tool_outputs)
    return values


def audit_event(row: sqlite3.Row) -> AuditEvent:
    data: Mapping[str, Any] = {column: row[column] for column in _AUDIT_COLUMNS}
    return AuditEvent.model_validate(
        {
            **data,
            "timestamp": parse_ts(row["timestamp"]),
            "tool_inputs": _loads(row["tool_inputs"]),
            "tool_outputs": _loads(row["tool_outputs"]),
        }
    )


_OUTCOME_TIMES = ("created_at", "approved_at", "executed_at")


def outcome_values(outcome: RecommendationOutcome) -> dict[str, Any]:
    """Column → value for ``recommendation_outcomes`` (``synced_at`` starts empty)."""
    values = outcome.model_dump(mode="python")
    for column in _OUTCOME_TIMES:
        values[column] = ts(values[column])
    values["data_sources"] = canonical_json(outcome.data_sources)
    return values


def outcome(row: sqlite3.Row) -> RecommendationOutcome:
    data: dict[str, Any] = dict(zip(row.keys(), row, strict=True))
    del data["synced_at"]
    for column in _OUTCOME_TIMES:
        data[column] = parse_ts(data[column])
    data["data_sources"] = json.loads(data["data_sources"])
    return RecommendationOutcome.model_validate(data)
