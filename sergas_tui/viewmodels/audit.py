"""What the audit screen shows: recent audit rows, one-line summaries, filters, verification text.

Rows are read as stored (``Repository.audit_rows``), so a tampered row with broken JSON or a
bad timestamp still shows instead of failing the whole screen. Values are shown as the audit
log stores them (already redacted when the event was built); nothing here is Rich markup, and
the screen escapes every value before rendering it. Accounts, written records and owners are
named through the workspace's :class:`~sergas_tui.domain.names.RecordNames` (the id short and
secondary); the detail view keeps the full id beside the name. Each row's one-line summary is
worded by :mod:`.audit_summary`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from sergas_tui.audit import VerifyResult, verify_database
from sergas_tui.domain.audit import AuditEvent
from sergas_tui.domain.names import RecordNames, short_id
from sergas_tui.services import Services
from sergas_tui.viewmodels.audit_summary import status_of, summarize
from sergas_tui.viewmodels.names import load_names

DEFAULT_LIMIT = 2_000
"""How many of the newest rows the screen loads (verification always reads them all)."""

JSON_LIMIT = 20_000
"""The most characters of one pretty-printed JSON value the detail view shows."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AuditRow:
    """One audit row as the screen lists it, plus what its detail view needs."""

    event: AuditEvent
    time_text: str
    """``YYYY-MM-DD HH:MM:SS`` in UTC, or the stored text when it does not parse."""
    account_name: str | None
    summary: str
    status: str
    """``ok``, ``denied``, ``error``, ``approved``/``rejected``/``adjusted``, ``undone``,
    ``expired``, ``snoozed``/``dismissed``/``unmuted``."""
    prev_hash: str | None = None
    row_hash: str | None = None
    unreadable: tuple[str, ...] = ()
    """Columns whose stored value did not parse (shown raw)."""
    owner_text: str | None = None
    """The owner as ``Jordan Avery <jordan@…>`` when the CRM user is known."""

    @property
    def short_time(self) -> str:
        """``MM-DD HH:MM:SS`` (UTC) for the table; the stored text when it did not parse."""
        if "timestamp" in self.unreadable:
            return self.time_text
        return self.time_text[5:]

    @property
    def key(self) -> str:
        """The table row key: the event id (unique in the log)."""
        return self.event.id

    @property
    def seq(self) -> int:
        return self.event.seq or 0

    @property
    def account_text(self) -> str:
        """The account's name when known, else ``Account …7306``, else an em dash."""
        if self.account_name:
            return self.account_name
        if self.event.account_id:
            return f"Account {short_id(self.event.account_id)}"
        return "—"


@dataclass(frozen=True)
class AuditPage:
    """The newest ``limit`` rows (newest first) and how many the log holds in all."""

    rows: list[AuditRow]
    total: int
    limit: int
    action_types: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


# -- loading ------------------------------------------------------------------------------------


def _loads(text: Any) -> tuple[Any, bool]:
    """A stored JSON column as a value; the raw text and False when it does not parse."""
    if text is None or not isinstance(text, str):
        return text, True
    try:
        return json.loads(text), True
    except ValueError:
        return text, False


def _parse_time(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text if text.tzinfo is not None else text.replace(tzinfo=UTC)
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def event_of(row: Mapping[str, Any]) -> tuple[AuditEvent, str, tuple[str, ...]]:
    """An :class:`AuditEvent` from a stored row, the time text, and the columns that did not
    parse (a tampered row still shows, with its raw text)."""
    unreadable: list[str] = []
    inputs, ok_in = _loads(row.get("tool_inputs"))
    outputs, ok_out = _loads(row.get("tool_outputs"))
    if not ok_in:
        unreadable.append("tool_inputs")
    if not ok_out:
        unreadable.append("tool_outputs")
    when = _parse_time(row.get("timestamp"))
    if when is None:
        unreadable.append("timestamp")
        time_text = str(row.get("timestamp") or "")
    else:
        time_text = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    raw_ms = row.get("execution_time_ms")
    decision = row.get("decision")
    values: dict[str, Any] = {
        "id": str(row.get("id") or ""),
        "timestamp": when or _EPOCH,
        "session_id": str(row.get("session_id") or ""),
        "agent_name": str(row.get("agent_name") or ""),
        "action_type": str(row.get("action_type") or ""),
        "account_id": _text_or_none(row.get("account_id")),
        "owner_email": _text_or_none(row.get("owner_email")),
        "tool_name": _text_or_none(row.get("tool_name")),
        "tool_inputs": inputs,
        "tool_outputs": outputs,
        "decision": decision if decision in ("approved", "rejected", "adjusted") else None,
        "decision_rationale": _text_or_none(row.get("decision_rationale")),
        "execution_time_ms": raw_ms if isinstance(raw_ms, int) else None,
        "error_message": _text_or_none(row.get("error_message")),
        "seq": row.get("seq") if isinstance(row.get("seq"), int) else None,
    }
    if decision is not None and values["decision"] is None:
        unreadable.append("decision")
    try:
        event = AuditEvent.model_validate(values)
    except ValidationError:  # a value no event can hold: keep the row, drop the payloads
        unreadable.extend(("tool_inputs", "tool_outputs"))
        event = AuditEvent.model_validate({**values, "tool_inputs": None, "tool_outputs": None})
    return event, time_text, tuple(dict.fromkeys(unreadable))


def build_row(row: Mapping[str, Any], names: RecordNames | None = None) -> AuditRow:
    """One stored row as the screen lists it (records and owners named by ``names``)."""
    names = names or RecordNames()
    event, time_text, unreadable = event_of(row)
    return AuditRow(
        event=event,
        time_text=time_text,
        account_name=names.name("Accounts", event.account_id or ""),
        summary=summarize(event, names),
        status=status_of(event),
        prev_hash=_text_or_none(row.get("prev_hash")),
        row_hash=_text_or_none(row.get("row_hash")),
        unreadable=unreadable,
        owner_text=names.user(event.owner_email) if event.owner_email else None,
    )


def load_audit(services: Services, limit: int = DEFAULT_LIMIT) -> AuditPage:
    """The newest ``limit`` audit rows, newest first (blocking SQLite: call from a thread)."""
    store = services.store
    total = int(store.info().row_counts.get("audit_logs", 0))
    # seq counts up from 1, so the newest ``limit`` rows have seq > total - limit unless rows
    # were deleted (then a few more are read, and the newest ``limit`` kept).
    stored = store.audit_rows(after_seq=max(total - limit, 0))[-limit:] if limit > 0 else []
    names = load_names(services, [services.current_user_email()])
    rows = [build_row(r, names) for r in reversed(stored)]
    types = sorted({r.event.action_type for r in rows})
    return AuditPage(rows=rows, total=max(total, len(rows)), limit=limit, action_types=types)


def audit_fingerprint(services: Services) -> tuple[object, ...]:
    """What changes when the audit log does: its highest seq, its row count and that row's
    hash (one short read; blocking SQLite: call from a thread). Equal fingerprints mean the
    page loaded with the first would load the same rows now."""
    head = services.store.audit_chain_state().actual
    return (head.seq, head.count, head.row_hash)


def verify(services: Services) -> VerifyResult:
    """Verify the whole audit chain (blocking SQLite: call from a thread)."""
    return verify_database(services.store)


# -- filtering ----------------------------------------------------------------------------------


def _haystack(row: AuditRow) -> str:
    event = row.event
    parts = (
        event.account_id,
        row.account_name,
        row.summary,
        event.agent_name,
        event.tool_name,
        event.owner_email,
    )
    return " ".join(p for p in parts if p).casefold()


def filter_rows(
    rows: Sequence[AuditRow], text: str = "", action: str | None = None
) -> list[AuditRow]:
    """Rows of type ``action`` (all when None) whose account id/name, summary, agent, tool or
    owner contain every word of ``text`` (case-insensitive); order is kept."""
    words = text.casefold().split()
    return [
        row
        for row in rows
        if (action is None or row.event.action_type == action)
        and all(word in _haystack(row) for word in words)
    ]


def next_action(current: str | None, types: Sequence[str]) -> str | None:
    """The type filter after ``current``: all → each present type in order → all."""
    if not types:
        return None
    if current is None or current not in types:
        return types[0] if current is None else None
    index = list(types).index(current) + 1
    return types[index] if index < len(types) else None


def status_line(page: AuditPage, shown: int, text: str = "", action: str | None = None) -> str:
    """'showing latest 2,000 of 5,123 events · 12 match "acme"' (the type shows beside it)."""
    count = len(page.rows)
    if page.total == 0:
        head = "No audit events yet: a review or a decision records them."
    elif page.truncated:
        head = f"showing latest {count:,} of {page.total:,} events"
    else:
        head = f"{count:,} events" if count != 1 else "1 event"
    parts = [head]
    if text.strip() or action is not None:
        parts.append(f"{shown:,} match")
    if text.strip():
        parts[-1] += f' "{" ".join(text.split())}"'
    return " · ".join(parts)


# -- verification -------------------------------------------------------------------------------


def verification_message(result: VerifyResult) -> tuple[bool, str]:
    """(ok, what to show) for a verification: the intact count, or the first broken row."""
    unchained = ""
    if result.unchained:
        unchained = f" ({result.unchained:,} older rows predate the chain and are not protected)"
    first = result.first
    if result.ok or first is None:
        if result.checked == 0:
            return True, "The audit log is empty: nothing to verify."
        noun = "row" if result.checked == 1 else "rows"
        return True, f"Chain intact: {result.checked:,} {noun} verified{unchained}"
    where = f"seq {first.seq}" + (f" (id {first.id})" if first.id else "")
    text = f"Chain broken at {where}: {first.kind}. {first.message}"
    more = len(result.problems) - 1
    if more:
        text += f". {more} more problem{'s' if more != 1 else ''} after it"
    text += f". {result.checked:,} rows checked{unchained}."
    return False, text


# -- detail -------------------------------------------------------------------------------------


def pretty_json(value: Any, limit: int = JSON_LIMIT) -> str:
    """``value`` as indented JSON with sorted keys (a raw string stays as it is)."""
    if value is None:
        return "null"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit:,} more characters)"
    return text


def detail_fields(row: AuditRow) -> list[tuple[str, str]]:
    """(label, value) pairs for the detail view, in reading order; empty values left out."""
    event = row.event
    account = event.account_id or ""
    if row.account_name and event.account_id:
        account = f"{row.account_name} ({event.account_id})"
    elif event.account_id:
        account = f"{event.account_id} (not in this workspace's snapshots)"
    duration = None if event.execution_time_ms is None else f"{event.execution_time_ms} ms"
    fields: list[tuple[str, str | None]] = [
        ("Seq", str(event.seq) if event.seq is not None else None),
        ("Time (UTC)", row.time_text),
        ("Action", event.action_type),
        ("Status", row.status),
        ("Agent", event.agent_name),
        ("Account", account or None),
        ("Owner", row.owner_text or event.owner_email),
        ("Tool", event.tool_name),
        ("Decision", event.decision),
        ("Rationale", event.decision_rationale),
        ("Duration", duration),
        ("Error", event.error_message),
        ("Session", event.session_id),
        ("Event id", event.id),
        ("Previous hash", row.prev_hash or "(none: written before the chain)"),
        ("Row hash", row.row_hash or "(none)"),
    ]
    if row.unreadable:
        fields.append(("Unreadable", ", ".join(row.unreadable) + " (shown as stored)"))
    return [(label, value) for label, value in fields if value]
