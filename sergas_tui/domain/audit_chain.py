"""The audit log's hash chain: the bytes a row is hashed over, and how rows are linked.

Every ``audit_logs`` row stores ``prev_hash`` (the ``row_hash`` of the chained row before it,
:data:`GENESIS` for the first) and ``row_hash = link_hash(prev_hash, canonical(row))``. Editing,
deleting or reordering rows then breaks the chain unless every later hash is recomputed too.

:func:`canonical` accepts either an :class:`AuditEvent` (with its ``seq`` set) or a stored row
(a mapping of column to value, as SQLite returns it), and gives the same bytes for both: the
JSON columns ``tool_inputs``/``tool_outputs`` are hashed as their stored canonical JSON text and
the timestamp as its stored ISO-8601 UTC text, so any byte changed in the database shows.

The chain's head (last ``seq``, row count, last ``row_hash``) is kept a second time as an
:class:`AuditHead`: in the ``meta`` table under :data:`HEAD_META_KEY`, updated in the same
transaction as every append, and copied to a checkpoint file next to the database. A log whose
tail was cut off no longer reaches its head (see :mod:`sergas_tui.audit.verify`).

``recommendation_outcomes`` is not chained: its table has no hash columns and its rows are
updated in place (status, execution, effectiveness), so there is no append-only log to chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sergas_tui.domain.audit import AuditEvent

GENESIS = "0" * 64
"""The ``prev_hash`` of the first row of the chain."""

HEAD_META_KEY = "audit_head"
"""The ``meta`` key holding the chain's :class:`AuditHead` (JSON), written with every append."""

LEGACY_META_KEY = "audit_legacy_rows"
"""The ``meta`` key holding how many rows without hashes preceded the chain when schema 8
recorded it (rows written before Sergas chained its audit log); only they may lack hashes."""

CONTENT_COLUMNS: tuple[str, ...] = (
    "id",
    "seq",
    "timestamp",
    "session_id",
    "agent_name",
    "action_type",
    "account_id",
    "owner_email",
    "tool_name",
    "tool_inputs",
    "tool_outputs",
    "decision",
    "decision_rationale",
    "execution_time_ms",
    "error_message",
)
"""The ``audit_logs`` columns a row's hash covers (every column but the hashes and
``synced_at``); the same columns the table's append-only trigger protects."""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace (as the store writes it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def iso_utc(value: datetime) -> str:
    """A timestamp as the store writes it: UTC, ISO-8601, microseconds (naive taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def stored_form(event: AuditEvent) -> dict[str, Any]:
    """The content columns of ``event`` as they are stored (JSON as text, timestamp as text)."""
    if event.seq is None:
        raise ValueError("an audit event is hashed only once the store has given it a seq")
    values = {column: getattr(event, column) for column in CONTENT_COLUMNS}
    values["timestamp"] = iso_utc(event.timestamp)
    for column in ("tool_inputs", "tool_outputs"):
        value = values[column]
        values[column] = None if value is None else canonical_json(value)
    return values


def canonical(event_or_row: AuditEvent | Mapping[str, Any]) -> bytes:
    """The bytes a row's hash covers: the canonical JSON of its content columns, ``seq``
    included. A mapping must hold every column of :data:`CONTENT_COLUMNS` in its stored form.
    """
    if isinstance(event_or_row, AuditEvent):
        values = stored_form(event_or_row)
    else:
        values = {column: event_or_row[column] for column in CONTENT_COLUMNS}
    return canonical_json(values).encode("utf-8")


def link_hash(prev_hash: str, canonical_bytes: bytes) -> str:
    """SHA-256 (hex) over ``prev_hash`` followed by the row's canonical bytes."""
    return hashlib.sha256(prev_hash.encode("utf-8") + canonical_bytes).hexdigest()


def row_hash(prev_hash: str, event_or_row: AuditEvent | Mapping[str, Any]) -> str:
    """The ``row_hash`` of a row that follows a row whose hash is ``prev_hash``."""
    return link_hash(prev_hash, canonical(event_or_row))


ProblemKind = Literal[
    "edited", "deleted", "reordered", "inserted", "unchained", "restarted", "anchor"
]
"""What is wrong with the audit log (see :mod:`sergas_tui.audit.verify`)."""


@dataclass(frozen=True)
class Problem:
    """One break in the chain (or its head), named by the first affected row."""

    seq: int
    id: str | None
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class AuditHead:
    """Where the audit log ends: its last ``seq``, how many rows it holds, and the last row's
    ``row_hash`` (None when the log is empty or ends in rows written before the chain)."""

    seq: int
    count: int
    row_hash: str | None

    def dumps(self) -> str:
        """The head as compact JSON (the ``meta`` value and the checkpoint file's content)."""
        return canonical_json({"count": self.count, "row_hash": self.row_hash, "seq": self.seq})

    @classmethod
    def loads(cls, text: str) -> AuditHead:
        """Parse :meth:`dumps` output; ``ValueError`` when it is not a well-formed head."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not JSON: {err}") from err
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        seq, count, digest = data.get("seq"), data.get("count"), data.get("row_hash")
        if not (isinstance(seq, int) and isinstance(count, int)) or not _natural(seq, count):
            raise ValueError("seq and count must be whole numbers, not negative")
        if digest is not None and not isinstance(digest, str):
            raise ValueError("row_hash must be text or null")
        return cls(seq=seq, count=count, row_hash=digest)

    @property
    def short_hash(self) -> str:
        """:func:`short_hash` of ``row_hash``."""
        return short_hash(self.row_hash)


def short_hash(digest: str | None) -> str:
    """The first 12 hex digits of a hash and an ellipsis, or "none" (for messages)."""
    return "none" if digest is None else digest[:12] + "…"


def _natural(*values: int) -> bool:
    """True when every value is a whole number that is not negative (JSON ``true`` is not)."""
    return all(not isinstance(v, bool) and v >= 0 for v in values)


# -- erasure and retention -------------------------------------------------------------------

ERASURE_ACTION = "account_erased"
"""The ``action_type`` of the event that records an account's erasure (``sergas account
forget``): ``tool_inputs`` holds the account id and one :class:`ErasedEntry` per erased row."""

ERASED_BY = "erased_by"
"""The one key of an erased row's ``tool_inputs``: the id of the erasure event that erased it."""

ERASED_TEXT = "erased"
"""What an erased row holds in its ``session_id`` and ``agent_name`` (columns that may not be
NULL)."""

KEPT_COLUMNS: tuple[str, ...] = ("id", "seq", "timestamp", "action_type")
"""The content columns an erasure keeps verbatim: where the row is, when, and what kind of
event it was (an enumeration Sergas sets, such as ``tool_invocation``, which names no account).
Every other content column takes the fixed value of :func:`erased_values`."""

PURGE_ACTION = "audit_purged"
"""The ``action_type`` of a retention purge's event (central and local)."""

LOCAL_PURGE_TOOL = "local_audit_purge"
"""The ``tool_name`` of a local retention purge's event; its ``tool_inputs`` record the
:class:`ChainStart` the purge left."""

START_META_KEY = "audit_chain_start"
"""The ``meta`` key holding the :class:`ChainStart` after a local retention purge."""


def erased_marker(erasure_id: str) -> str:
    """The stored ``tool_inputs`` of a row erased by the erasure event ``erasure_id``."""
    return canonical_json({ERASED_BY: erasure_id})


def erased_by(row: Mapping[str, Any]) -> str | None:
    """The erasure event id an erased stored row names (None: the row is not erased)."""
    text = row.get("tool_inputs")
    if not isinstance(text, str) or ERASED_BY not in text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(value, dict) and set(value) == {ERASED_BY}:
        found = value[ERASED_BY]
        return found if isinstance(found, str) else None
    return None


NEVER_ERASED: tuple[str, ...] = (ERASURE_ACTION, PURGE_ACTION)
"""The ``action_type`` of events an erasure never touches: they are the record of erasures and
purges, and verification depends on them."""


def erased_values(erasure_id: str) -> dict[str, Any]:
    """The fixed content of an erased row, every column but :data:`KEPT_COLUMNS`: ``tool_inputs``
    the marker naming ``erasure_id``, ``session_id`` and ``agent_name`` :data:`ERASED_TEXT`,
    the rest NULL."""
    values: dict[str, Any] = dict.fromkeys(CONTENT_COLUMNS)
    for column in KEPT_COLUMNS:
        del values[column]
    values["session_id"] = ERASED_TEXT
    values["agent_name"] = ERASED_TEXT
    values["tool_inputs"] = erased_marker(erasure_id)
    return values


def erased_form(row: Mapping[str, Any], erasure_id: str) -> dict[str, Any]:
    """The content columns of stored ``row`` once erased by ``erasure_id``: the columns of
    :data:`KEPT_COLUMNS` as they were, every other one as :func:`erased_values` fixes it."""
    values = {column: row[column] for column in CONTENT_COLUMNS}
    values.update(erased_values(erasure_id))
    return values


def unlike_erased_form(row: Mapping[str, Any], erasure_id: str) -> list[str]:
    """The content columns in which stored ``row`` differs from the erased form (empty: it is
    in that form)."""
    fixed = erased_values(erasure_id)
    return [column for column, value in fixed.items() if row[column] != value]


def content_digest(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a stored row's canonical content: an erasure event records it for the
    erased form of each row it erased, so the erased row cannot be edited unseen."""
    return hashlib.sha256(canonical(row)).hexdigest()


@dataclass(frozen=True)
class ErasedEntry:
    """One row an erasure event vouches for: where it is, its unchanged ``row_hash`` and the
    digest of its erased content."""

    seq: int
    id: str
    row_hash: str | None
    erased_digest: str

    def dump(self) -> dict[str, Any]:
        return {
            "erased_digest": self.erased_digest,
            "id": self.id,
            "row_hash": self.row_hash,
            "seq": self.seq,
        }

    @classmethod
    def load(cls, value: Any) -> ErasedEntry | None:
        """An entry from an erasure event's JSON (None when malformed)."""
        if not isinstance(value, dict):
            return None
        seq, row_id = value.get("seq"), value.get("id")
        digest, erased = value.get("row_hash"), value.get("erased_digest")
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(row_id, str):
            return None
        if not isinstance(erased, str) or not (digest is None or isinstance(digest, str)):
            return None
        return cls(seq=seq, id=row_id, row_hash=digest, erased_digest=erased)


def erasure_entries(row: Mapping[str, Any]) -> list[ErasedEntry]:
    """The rows a stored erasure event lists (empty for any other row)."""
    if row.get("action_type") != ERASURE_ACTION or not isinstance(row.get("tool_inputs"), str):
        return []
    try:
        inputs = json.loads(row["tool_inputs"])
    except json.JSONDecodeError:
        return []
    listed = inputs.get("erased") if isinstance(inputs, dict) else None
    if not isinstance(listed, list):
        return []
    return [entry for item in listed if (entry := ErasedEntry.load(item)) is not None]


@dataclass(frozen=True)
class ChainStart:
    """Where the chain starts after a local retention purge: its first kept ``seq``, the
    ``prev_hash`` that row links to (the last purged row's ``row_hash``), and how many rows
    the purges removed in all."""

    seq: int
    prev_hash: str | None
    purged_rows: int

    def dumps(self) -> str:
        return canonical_json(
            {"prev_hash": self.prev_hash, "purged_rows": self.purged_rows, "seq": self.seq}
        )

    @classmethod
    def loads(cls, text: str) -> ChainStart:
        """Parse :meth:`dumps` output (or a purge event's ``chain_start``); ``ValueError``
        when malformed."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not JSON: {err}") from err
        return cls.from_value(data)

    @classmethod
    def from_value(cls, data: Any) -> ChainStart:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        seq, prev, purged = data.get("seq"), data.get("prev_hash"), data.get("purged_rows")
        if not (isinstance(seq, int) and isinstance(purged, int)) or not _natural(seq, purged):
            raise ValueError("seq and purged_rows must be whole numbers, not negative")
        if prev is not None and not isinstance(prev, str):
            raise ValueError("prev_hash must be text or null")
        return cls(seq=seq, prev_hash=prev, purged_rows=purged)
