"""Per-record CRM reads kept until the record changes: deal stage histories and timelines.

Zoho has no bulk read for either, so each costs the Data Scout one API call. A read is stored
with the record's ``Modified_Time`` at the time; it is served again while the record still
carries that time, and read afresh once the record changed. The payload is the JSON list the
gateway returned (domain models dumped in JSON mode).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

from sergas_tui.storage.repository import Repository

CacheKind = Literal["stage_history", "timeline:Deals", "timeline:Contacts"]


class ReadCache:
    """The ``crm_read_cache`` table of one workspace database."""

    def __init__(self, repository: Repository) -> None:
        self._repo = repository

    def fresh(
        self, kind: CacheKind, records: Mapping[str, datetime | None]
    ) -> dict[str, list[JsonValue]]:
        """Record id → the cached read, for the records whose Modified_Time still matches."""
        wanted = {rid: at.isoformat() for rid, at in records.items() if at is not None}
        if not wanted:
            return {}
        found: dict[str, list[JsonValue]] = {}
        ids = list(wanted)
        with self._repo.reading("read cached CRM reads") as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = conn.execute(
                    "SELECT record_id, modified_time, payload FROM crm_read_cache "
                    f"WHERE kind = ? AND record_id IN ({', '.join('?' for _ in chunk)})",
                    (kind, *chunk),
                ).fetchall()
                for row in rows:
                    if row["modified_time"] == wanted[row["record_id"]]:
                        found[row["record_id"]] = json.loads(row["payload"])
        return found

    def save(
        self,
        kind: CacheKind,
        reads: Iterable[tuple[str, datetime | None, list[JsonValue]]],
        fetched_at: datetime,
    ) -> None:
        """Keep each ``(record id, its Modified_Time, payload)``; records without a time are
        not cached (nothing would tell when they change)."""
        values = [
            (kind, rid, at.isoformat(), json.dumps(payload), fetched_at.isoformat())
            for rid, at, payload in reads
            if at is not None
        ]
        if not values:
            return
        with self._repo.writing("cache CRM reads") as conn:
            conn.executemany(
                "INSERT INTO crm_read_cache (kind, record_id, modified_time, payload, fetched_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, record_id) DO UPDATE SET "
                "modified_time = excluded.modified_time, payload = excluded.payload, "
                "fetched_at = excluded.fetched_at",
                values,
            )
