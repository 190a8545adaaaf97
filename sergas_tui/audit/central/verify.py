"""`sergas audit verify --remote`: the local chain against its central copy.

Central rows are turned back into the local stored form (UUID as text, timestamps as ISO-8601
UTC with microseconds, JSON as canonical text), so both sides compare column by column and
the central row's own ``row_hash`` can be recomputed. Each difference names the row (id, seq)
and what differs:

- ``missing``: synced locally (``synced_at`` set) but absent centrally. Rows older than the
  retention period are counted as ``expired`` instead (the purge removed them).
- ``extra``: present centrally under this chain id, absent locally.
- ``differs``: both have it, with different content or hashes (the columns are named); the
  message also says whether the central row still matches its own ``row_hash``.
- ``outcome_missing`` / ``outcome_extra``: a synced outcome state absent centrally, or a
  central outcome of this chain unknown locally.

Unsynced local rows absent centrally are pending, not differences. Limit: a JSON number that
PostgreSQL's ``jsonb`` writes differently (``1e+16`` comes back as ``10000000000000000``)
shows as a difference although the value is equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from sergas_tui.audit.central.conn import CentralSchemaError, CentralTarget, connect, convert
from sergas_tui.audit.central.schema import CENTRAL_SCHEMA_VERSION, central_version
from sergas_tui.audit.central.sync import AUDIT_COLUMNS, outcome_version_hash
from sergas_tui.audit.central.text import storable_mapping
from sergas_tui.domain import utc_now
from sergas_tui.domain.audit_chain import canonical_json, iso_utc, row_hash
from sergas_tui.storage import Repository

DifferenceKind = Literal["missing", "extra", "differs", "outcome_missing", "outcome_extra"]
_PAGE = 5000


@dataclass(frozen=True)
class RemoteDifference:
    kind: DifferenceKind
    id: str
    seq: int | None
    message: str


@dataclass
class RemoteVerifyResult:
    local_rows: int = 0
    central_rows: int = 0
    pending: int = 0
    expired: int = 0
    differences: list[RemoteDifference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def central_stored_form(row: Mapping[str, Any]) -> dict[str, Any]:
    """A central ``audit_logs`` row in the local stored form (the columns of AUDIT_COLUMNS)."""
    values = {column: row[column] for column in AUDIT_COLUMNS}
    values["id"] = str(values["id"])
    values["timestamp"] = iso_utc(values["timestamp"])
    for column in ("tool_inputs", "tool_outputs"):
        if values[column] is not None:
            values[column] = canonical_json(values[column])
    return values


def _digest(values: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(values).encode("utf-8")).digest()


def _name(row_id: str, seq: int | None) -> str:
    return f"seq {seq} (id {row_id})"


def verify_remote(
    repository: Repository,
    target: CentralTarget,
    *,
    retention_days: int | None = None,
    now: datetime | None = None,
) -> RemoteVerifyResult:
    """Compare this database's audit chain and outcomes with the central copy."""
    chain_id = repository.audit_chain_id()
    cutoff = None
    if retention_days is not None:
        cutoff = iso_utc((now or utc_now()) - timedelta(days=retention_days))
    try:
        with connect(target) as conn:
            version = central_version(conn)
            if version != CENTRAL_SCHEMA_VERSION:
                raise CentralSchemaError(
                    f"The central audit {target.describe()} is at schema "
                    f"{'(none)' if version is None else f'v{version}'}: nothing to compare "
                    "with. Run `sergas audit sync` first."
                )
            return _compare(repository, conn, chain_id, cutoff)
    except psycopg.Error as err:
        raise convert(err, target, "read the central audit") from err


def _compare(
    repository: Repository, conn: psycopg.Connection[Any], chain_id: str, cutoff: str | None
) -> RemoteVerifyResult:
    result = RemoteVerifyResult()
    central: dict[str, tuple[int, bytes]] = {}
    with conn.cursor(name="sergas_verify", row_factory=dict_row) as cur:
        cur.itersize = _PAGE
        cur.execute(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_logs WHERE chain_id = %s ORDER BY seq",
            (chain_id,),
        )
        for row in cur:
            values = central_stored_form(row)
            central[values["id"]] = (int(values["seq"]), _digest(values))
    result.central_rows = len(central)

    after = 0
    while page := repository.audit_rows(after, _PAGE):
        after = int(page[-1]["seq"])
        for row in page:
            result.local_rows += 1
            # Compared as the central copy can hold it (see audit/central/text.py).
            values = storable_mapping(
                {column: row[column] for column in AUDIT_COLUMNS}, ("tool_inputs", "tool_outputs")
            )
            found = central.pop(values["id"], None)
            if found is None:
                if row["synced_at"] is None:
                    result.pending += 1
                elif cutoff is not None and values["timestamp"] < cutoff:
                    result.expired += 1
                else:
                    result.differences.append(
                        RemoteDifference(
                            "missing",
                            values["id"],
                            values["seq"],
                            f"audit row {_name(values['id'], values['seq'])} was synced but is "
                            "missing from the central audit",
                        )
                    )
            elif found[1] != _digest(values):
                result.differences.append(_differs(conn, values))
    for row_id, (seq, _) in sorted(central.items(), key=lambda item: item[1][0]):
        result.differences.append(
            RemoteDifference(
                "extra",
                row_id,
                seq,
                f"central audit row {_name(row_id, seq)} of this chain has no local row",
            )
        )
    result.differences += _compare_outcomes(repository, conn, chain_id, cutoff, result)
    return result


def _differs(conn: psycopg.Connection[Any], local: Mapping[str, Any]) -> RemoteDifference:
    """Name the columns in which the central row differs from ``local``."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_logs WHERE id = %s", (local["id"],)
        )
        row = cur.fetchone()
    assert row is not None
    central = central_stored_form(row)
    columns = [c for c in AUDIT_COLUMNS if central[c] != local[c]]
    prev = central["prev_hash"]
    intact = isinstance(prev, str) and row_hash(prev, central) == central["row_hash"]
    seal = (
        "it still matches its own row_hash (re-hashed after the edit)"
        if intact
        else "it no longer matches its own row_hash"
    )
    return RemoteDifference(
        "differs",
        str(local["id"]),
        int(local["seq"]),
        f"central audit row {_name(local['id'], local['seq'])} differs from the local row in "
        f"{', '.join(columns)}; {seal}",
    )


def _compare_outcomes(
    repository: Repository,
    conn: psycopg.Connection[Any],
    chain_id: str,
    cutoff: str | None,
    result: RemoteVerifyResult,
) -> list[RemoteDifference]:
    rows = conn.execute(
        "SELECT id::text, version_hash FROM recommendation_outcome_versions WHERE chain_id = %s",
        (chain_id,),
    ).fetchall()
    versions: dict[str, set[str]] = {}
    for row_id, version in rows:
        versions.setdefault(row_id, set()).add(version)
    differences: list[RemoteDifference] = []
    for row in repository.outcome_rows():
        known = versions.pop(row["id"], set())
        if row["synced_at"] is None or outcome_version_hash(row) in known:
            continue
        if cutoff is not None and row["created_at"] < cutoff:
            result.expired += 1
        else:
            differences.append(
                RemoteDifference(
                    "outcome_missing",
                    row["id"],
                    None,
                    f"outcome {row['id']} (recommendation {row['recommendation_id']}, status "
                    f"{row['status']}) was synced but that state is missing centrally",
                )
            )
    for row_id in sorted(versions):
        differences.append(
            RemoteDifference(
                "outcome_extra",
                row_id,
                None,
                f"central outcome {row_id} of this chain has no local outcome",
            )
        )
    return differences
