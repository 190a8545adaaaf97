"""Checking the audit log's hash chain (see :mod:`sergas_tui.domain.audit_chain`).

:func:`verify_chain` walks stored rows in ``seq`` order and reports, per problem, the first
affected row by ``seq`` and ``id``:

- ``edited``: a row's content no longer hashes to its ``row_hash`` (reported at that row); or a
  row was changed *and* re-hashed, so the next row's ``prev_hash`` no longer matches it. The
  chain then breaks between rows k and k+1 and the problem is reported at row k (the row whose
  hash changed); the message names both rows.
- ``deleted``: a gap in ``seq``. Reported at the first missing ``seq`` with ``id=None`` (the id
  went with the row); the message names the row that follows the gap.
- ``reordered``: a row is intact but sits at another ``seq`` than the one it was appended as
  (its content hashes to its ``row_hash`` under a neighbouring ``seq``), or ``seq`` goes back.
- ``inserted``: a row without hashes after the chain has started, i.e. written outside
  :meth:`Repository.append_audit`.

Rows without hashes *before* the first chained row were written before the chain existed; they
are counted in ``unchained`` and are not protected.

Limits: the chain is unkeyed, so whoever can write the database can rewrite a row and
recompute every later hash; and removing or rewriting the *last* rows leaves no trace inside
the database. Both need an anchor outside it (for example the last ``row_hash`` kept
elsewhere, or the rows already synced).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sergas_tui.domain.audit_chain import GENESIS, row_hash
from sergas_tui.storage import Repository

ProblemKind = Literal["edited", "deleted", "reordered", "inserted"]


@dataclass(frozen=True)
class Problem:
    """One break in the chain, named by the first affected row."""

    seq: int
    id: str | None
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of a verification: ``ok`` when no problem was found."""

    ok: bool
    checked: int
    problems: list[Problem] = field(default_factory=list)
    unchained: int = 0

    @property
    def first(self) -> Problem | None:
        """The problem at the lowest ``seq``, if any."""
        return self.problems[0] if self.problems else None


Row = Mapping[str, Any]


def _hashes_as(row: Row, seq: int) -> bool:
    """True when ``row``'s content, taken as appended at ``seq``, hashes to its row_hash."""
    prev = row["prev_hash"]
    if not isinstance(prev, str):
        return False
    return bool(row_hash(prev, {**row, "seq": seq}) == row["row_hash"])


def _appended_as(row: Row, seq: int, by_hash: Mapping[str, Row]) -> int | None:
    """The other ``seq`` an intact but moved row was appended as, if one is found."""
    candidates = [seq - 1, seq + 1]
    if row["prev_hash"] == GENESIS:
        candidates.append(1)
    before = by_hash.get(row["prev_hash"])
    if before is not None and isinstance(before["seq"], int):
        candidates.append(before["seq"] + 1)
    for candidate in candidates:
        if candidate != seq and candidate > 0 and _hashes_as(row, candidate):
            return candidate
    return None


def _name(row: Row) -> str:
    return f"seq {row['seq']} (id {row['id']})"


def verify_chain(rows: Iterable[Row]) -> VerifyResult:
    """Verify audit rows given in ``seq`` order (as :meth:`Repository.audit_rows` returns them),
    each a mapping of every ``audit_logs`` column to its stored value."""
    ordered = list(rows)
    by_hash = {r["row_hash"]: r for r in ordered if isinstance(r["row_hash"], str)}
    problems: list[Problem] = []
    expected_seq = 1
    unchained = 0
    last: Row | None = None  # the last chained row
    last_clean = True  # whether it had no problem of its own
    for r in ordered:
        raw_seq = r["seq"]
        seq = raw_seq if isinstance(raw_seq, int) else expected_seq
        broken_seq = seq != expected_seq or not isinstance(raw_seq, int)
        if broken_seq and isinstance(raw_seq, int) and raw_seq > expected_seq:
            missing = str(expected_seq)
            if raw_seq > expected_seq + 1:
                missing = f"{expected_seq} to {raw_seq - 1}"
            problems.append(
                Problem(
                    expected_seq,
                    None,
                    "deleted",
                    f"audit rows are missing: seq {missing} (row {_name(r)} follows "
                    f"seq {expected_seq - 1})",
                )
            )
        elif broken_seq:
            problems.append(
                Problem(
                    seq,
                    r["id"],
                    "reordered",
                    f"audit row {_name(r)} is out of order: expected seq {expected_seq}",
                )
            )
        expected_seq = seq + 1

        if r["row_hash"] is None or r["prev_hash"] is None:
            if last is None:
                unchained += 1
            else:
                problems.append(
                    Problem(
                        seq,
                        r["id"],
                        "inserted",
                        f"audit row {_name(r)} has no hash: it was written outside the audit chain",
                    )
                )
            continue

        clean = True
        if not _hashes_as(r, seq):
            clean = False
            original = _appended_as(r, seq, by_hash)
            if original is not None:
                problems.append(
                    Problem(
                        seq,
                        r["id"],
                        "reordered",
                        f"audit row {_name(r)} was appended as seq {original}: rows were reordered",
                    )
                )
            else:
                problems.append(
                    Problem(
                        seq,
                        r["id"],
                        "edited",
                        f"audit row {_name(r)} was edited: its content no longer matches "
                        "its row_hash",
                    )
                )
        elif not broken_seq and last_clean:
            expected_prev = GENESIS if last is None else last["row_hash"]
            if r["prev_hash"] != expected_prev:
                if last is None:
                    problems.append(
                        Problem(
                            seq,
                            r["id"],
                            "edited",
                            f"audit row {_name(r)} is the first of the chain but does not "
                            "link to its start",
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            int(last["seq"]),
                            last["id"],
                            "edited",
                            f"audit row {_name(last)} was changed and re-hashed: its row_hash "
                            f"no longer matches the prev_hash recorded by row {_name(r)}; the "
                            f"chain breaks between seq {last['seq']} and seq {r['seq']}",
                        )
                    )
        last, last_clean = r, clean
    problems.sort(key=lambda p: p.seq)
    return VerifyResult(
        ok=not problems, checked=len(ordered), problems=problems, unchained=unchained
    )


def verify_database(repository: Repository) -> VerifyResult:
    """Verify the whole audit log of ``repository``."""
    return verify_chain(repository.audit_rows())
