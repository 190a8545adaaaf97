"""Exporting the audit log as JSON lines.

One object per row, with the seed's ``audit_logs`` column names (§5.3) plus ``seq``,
``prev_hash`` and ``row_hash``, so an export can be checked against the chain. ``tool_inputs``
and ``tool_outputs`` are JSON values, redacted once more on the way out.

To re-check an exported row: ``row_hash(prev_hash, AuditEvent.model_validate(record))`` from
:mod:`sergas_tui.domain.audit_chain` equals its ``row_hash``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sergas_tui.domain.audit_chain import CONTENT_COLUMNS
from sergas_tui.domain.redaction import redact
from sergas_tui.storage import Repository

EXPORT_COLUMNS: tuple[str, ...] = (
    "seq",
    *(c for c in CONTENT_COLUMNS if c != "seq"),
    "prev_hash",
    "row_hash",
)
"""The keys of every exported object, in order."""

UNREADABLE = "[UNREADABLE]"
"""What a stored JSON column that no longer parses is exported as (it cannot be redacted)."""

_PAGE = 500


def _payload(text: Any) -> Any:
    if text is None:
        return None
    try:
        return redact(json.loads(text))
    except (TypeError, ValueError):
        return UNREADABLE


def export_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The exported object for one stored row (as :meth:`Repository.audit_rows` gives it)."""
    record = {column: row[column] for column in EXPORT_COLUMNS}
    record["tool_inputs"] = _payload(row["tool_inputs"])
    record["tool_outputs"] = _payload(row["tool_outputs"])
    return record


def export_jsonl(repository: Repository, out: TextIO, since: datetime | None = None) -> int:
    """Write the audit rows (at or after ``since``) to ``out``, one JSON object per line, in
    ``seq`` order; return how many were written."""
    written = 0
    after = 0
    while True:
        page = repository.audit_rows(after, _PAGE, since=since)
        for row in page:
            out.write(json.dumps(export_record(row), ensure_ascii=False) + "\n")
        written += len(page)
        if len(page) < _PAGE:
            return written
        after = int(page[-1]["seq"])


def export_to_file(repository: Repository, path: Path, since: datetime | None = None) -> int:
    """:func:`export_jsonl` into ``path``: a regular file is written next to it and renamed
    into place, so a failed export leaves no half-written file; a stream (``/dev/stdout``, a
    pipe) is written directly. ``OSError`` is the caller's to report."""
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8") as handle:
            return export_jsonl(repository, handle, since)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            count = export_jsonl(repository, handle, since)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count
