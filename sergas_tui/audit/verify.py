"""Checking the audit log's hash chain (see :mod:`sergas_tui.domain.audit_chain`) and its head.

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
- ``unchained``: rows without hashes that are not the legacy rows recorded when the chain began
  (their hashes were removed, or they were written outside :meth:`Repository.append_audit`);
  one problem per run of consecutive rows, at its first row.
- ``restarted``: a second start of the chain (a row linking to the genesis hash after chained
  rows, or after rows without hashes): the chain was reset.

Only the rows schema 8 recorded as legacy (``meta.audit_legacy_rows``: rows written before
Sergas chained its audit log) may lack hashes, and only at the start; they are counted in
``unchained`` and are not protected.

:func:`verify_database` also compares the log's end with its head, recorded in the database
with every append and checkpointed in a file next to it (:mod:`sergas_tui.audit.anchor`): rows
cut off the end, which the chain alone cannot show, are ``deleted`` there.

Limits: the chain is unkeyed. Whoever can write the workspace directory can rewrite rows,
recompute every later hash and forge the head in ``meta`` and in the checkpoint file alike;
local verification proves only that the log is what Sergas appended *or* that it was forged
completely. The central copy (``sergas audit verify --remote``) is the guarantee for synced rows.
See "The audit log" in docs/security.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sergas_tui.audit.anchor import compare
from sergas_tui.domain.audit_chain import (
    GENESIS,
    LEGACY_META_KEY,
    LOCAL_PURGE_TOOL,
    NEVER_ERASED,
    PURGE_ACTION,
    AuditHead,
    ChainStart,
    ErasedEntry,
    Problem,
    ProblemKind,
    content_digest,
    erased_by,
    erasure_entries,
    row_hash,
    unlike_erased_form,
)
from sergas_tui.storage import Repository

__all__ = [
    "Problem",
    "ProblemKind",
    "VerifyResult",
    "describe_event",
    "verify_chain",
    "verify_database",
]


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of a verification: ``ok`` when no problem was found."""

    ok: bool
    checked: int
    problems: list[Problem] = field(default_factory=list)
    unchained: int = 0
    """Legacy rows (recorded when the chain began) that have no hashes."""
    head: AuditHead | None = None
    """The head recorded in the database (None for plain rows, or when missing)."""
    checkpoint: AuditHead | None = None
    """The checkpoint file's head after the verification (None when there is none)."""

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


def _unchained(run: list[Row], started: bool) -> Problem:
    """One problem for a run of consecutive rows without hashes."""
    first, last = run[0], run[-1]
    where = "after the chain began" if started else "before the chain began, beyond the legacy rows"
    if len(run) == 1:
        text = f"audit row {_name(first)} has no hash ({where}): its hashes were removed or it was"
    else:
        text = (
            f"audit rows seq {first['seq']} to {last['seq']} ({len(run)} rows, ids {first['id']} "
            f"to {last['id']}) have no hash ({where}): their hashes were removed or they were"
        )
    return Problem(
        int(first["seq"]), first["id"], "unchained", f"{text} written outside the audit chain"
    )


@dataclass(frozen=True)
class _Voucher:
    """An intact erasure event's word for one row: what it listed and where it stands."""

    entry: ErasedEntry
    event_seq: int
    event_id: str


def _vouchers(ordered: list[Row]) -> dict[int, _Voucher]:
    """The erased rows listed by erasure events that are themselves intact (their content
    hashes to their ``row_hash``), by seq; a row listed twice keeps the later listing."""
    found: dict[int, _Voucher] = {}
    for r in ordered:
        entries = erasure_entries(r)
        if entries and isinstance(r["seq"], int) and _hashes_as(r, r["seq"]):
            for entry in entries:
                found[entry.seq] = _Voucher(entry, int(r["seq"]), str(r["id"]))
    return found


def describe_event(row: Row) -> str:
    """An audit event as people read it: its kind, UTC time and seq (not its id)."""
    kind = {
        "account_erased": "the erasure",
        PURGE_ACTION: "the retention purge",
    }.get(str(row["action_type"]), f"the {row['action_type']} event")
    stamp = str(row["timestamp"])[:16].replace("T", " ")
    return f"{kind} of {stamp} UTC (seq {row['seq']})"


def _erasure_problem(
    r: Row, seq: int, by: str, vouchers: Mapping[int, _Voucher], events: Mapping[str, Row]
) -> str | None:
    """Why the erased row ``r`` is not vouched for by a later intact erasure event, if so."""
    voucher = vouchers.get(seq)
    name = _name(r)
    named = events.get(by)
    claimed = describe_event(named) if named is not None else "an erasure that is not in the log"
    if r["action_type"] in NEVER_ERASED:
        return (
            f"audit row {name} is a {r['action_type']} event, which is never erased, yet claims "
            f"to be erased by {claimed}: it was replaced outside Sergas"
        )
    unlike = unlike_erased_form(r, by)
    if unlike:
        return (
            f"audit row {name} claims to be erased by {claimed}, but its "
            f"{', '.join(unlike)} {'is' if len(unlike) == 1 else 'are'} not as an erasure "
            "leaves them (erasure keeps only id, seq, timestamp and action_type): the row was "
            "changed outside Sergas"
        )
    if voucher is None or voucher.event_seq <= seq:
        return (
            f"audit row {name} claims to be erased by {claimed}, but no intact account_erased "
            "event after it lists it: its content was replaced outside Sergas (or the erasure "
            "event was removed or edited)"
        )
    entry = voucher.entry
    listing = events.get(voucher.event_id)
    where = (
        describe_event(listing)
        if listing is not None
        else f"the erasure event at seq {voucher.event_seq}"
    )
    if voucher.event_id != by:
        return f"audit row {name} names {claimed}, but {where} is the one that lists it"
    if entry.id != r["id"] or entry.row_hash != r["row_hash"]:
        return (
            f"audit row {name} is erased, but its id or row_hash differs from what {where} "
            "recorded: the row was replaced"
        )
    if content_digest(r) != entry.erased_digest:
        return (
            f"audit row {name} was edited after its erasure: its erased content no longer "
            f"matches the digest {where} recorded"
        )
    return None


def verify_chain(
    rows: Iterable[Row], *, legacy_rows: int = 0, start: ChainStart | None = None
) -> VerifyResult:
    """Verify audit rows given in ``seq`` order (as :meth:`Repository.audit_rows` returns them),
    each a mapping of every ``audit_logs`` column to its stored value. Up to ``legacy_rows``
    rows without hashes are tolerated at the start (see :data:`LEGACY_META_KEY`).

    ``start``: where a local retention purge left the chain's start (its first kept seq and
    the ``prev_hash`` that row links to); without it the chain starts at seq 1 from
    :data:`GENESIS`. An erased row (its ``tool_inputs`` the erasure marker) is accepted when a
    later intact ``account_erased`` event lists its seq, id, ``row_hash`` and the digest of its
    erased content; its own hash cannot be recomputed, its links still are."""
    ordered = list(rows)
    by_hash = {r["row_hash"]: r for r in ordered if isinstance(r["row_hash"], str)}
    vouchers = _vouchers(ordered)
    events = {str(r["id"]): r for r in ordered if erasure_entries(r)}
    problems: list[Problem] = []
    expected_seq = start.seq if start is not None else 1
    first_prev = start.prev_hash if start is not None and start.prev_hash else GENESIS
    legacy = 0
    foreign = 0  # rows without hashes that are not legacy rows
    run: list[Row] = []  # the current run of such rows
    last: Row | None = None  # the last chained row
    last_clean = True  # whether it had no problem of its own
    for r in ordered:
        raw_seq = r["seq"]
        seq = raw_seq if isinstance(raw_seq, int) else expected_seq
        broken_seq = seq != expected_seq or not isinstance(raw_seq, int)
        if broken_seq and run:
            problems.append(_unchained(run, last is not None))
            run = []
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
            if last is None and not foreign and legacy < legacy_rows:
                legacy += 1
            else:
                foreign += 1
                run.append(r)
            continue
        after_run = bool(run)  # rows without hashes since ``last``: no link to check
        if run:
            problems.append(_unchained(run, last is not None))
            run = []

        clean = True
        erasure = erased_by(r)
        why = None if erasure is None else _erasure_problem(r, seq, erasure, vouchers, events)
        if why is not None:
            clean = False
            problems.append(Problem(seq, r["id"], "edited", why))
        elif erasure is None and not _hashes_as(r, seq):
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
        elif r["prev_hash"] == GENESIS and (last is not None or foreign):
            after = (
                f"after the chained row {_name(last)}"
                if last is not None
                else f"after {foreign} row{'s' if foreign != 1 else ''} without hashes that "
                "are not recorded legacy rows"
            )
            problems.append(
                Problem(
                    seq,
                    r["id"],
                    "restarted",
                    f"audit row {_name(r)} starts the chain again (its prev_hash is the genesis "
                    f"hash) {after}: the chain was reset",
                )
            )
        elif not broken_seq and last_clean and not after_run:
            expected_prev = first_prev if last is None else last["row_hash"]
            if r["prev_hash"] != expected_prev:
                if last is None:
                    where = (
                        "its start"
                        if start is None
                        else f"the start recorded by the last retention purge (seq {start.seq})"
                    )
                    problems.append(
                        Problem(
                            seq,
                            r["id"],
                            "edited",
                            f"audit row {_name(r)} is the first of the chain but does not "
                            f"link to {where}",
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
    if run:
        problems.append(_unchained(run, last is not None))
    problems.sort(key=lambda p: p.seq)
    return VerifyResult(ok=not problems, checked=len(ordered), problems=problems, unchained=legacy)


def _start_problems(
    rows: Sequence[Row], start: ChainStart | None, error: str | None
) -> list[Problem]:
    """Whether the recorded chain start is the one the last local retention purge recorded
    in its own (chained) event: a start moved by hand, without a purge, shows."""
    if error is not None:
        return [Problem(0, None, "anchor", error)]
    purges = [
        r
        for r in rows
        if r["action_type"] == PURGE_ACTION
        and r["tool_name"] == LOCAL_PURGE_TOOL
        and erased_by(r) is None
    ]
    if start is None:
        if purges:
            last = purges[-1]
            return [
                Problem(
                    int(last["seq"]),
                    last["id"],
                    "anchor",
                    f"audit row {_name(last)} records a retention purge, but the chain's start "
                    "is not recorded (meta 'audit_chain_start' is missing): the database was "
                    "edited outside Sergas",
                )
            ]
        return []
    if not purges:
        return [
            Problem(
                start.seq,
                None,
                "anchor",
                f"the chain is recorded to start at seq {start.seq} (rows before it purged), "
                "but no audit_purged event records that purge: rows were removed from the start "
                "of the log outside Sergas",
            )
        ]
    last = purges[-1]
    try:
        recorded = ChainStart.from_value(json.loads(last["tool_inputs"]).get("chain_start"))
    except (ValueError, TypeError, AttributeError):
        recorded = None
    if recorded != start:
        return [
            Problem(
                int(last["seq"]),
                last["id"],
                "anchor",
                f"the chain's recorded start (seq {start.seq}) is not the one the last retention "
                f"purge, audit row {_name(last)}, recorded: the start was moved outside Sergas",
            )
        ]
    return []


def verify_database(repository: Repository) -> VerifyResult:
    """Verify the whole audit log of ``repository``: its chain, its recorded head and the
    checkpoint file. An intact log moves the checkpoint forward (when the file can be written)."""
    legacy = repository.meta_value(LEGACY_META_KEY)
    start, start_error = repository.audit_chain_start()
    stored = repository.audit_rows()
    chain = verify_chain(
        stored, legacy_rows=int(legacy) if legacy and legacy.isdigit() else 0, start=start
    )
    starting = _start_problems(stored, start, start_error)
    if starting:
        chain = VerifyResult(
            ok=False,
            checked=chain.checked,
            problems=sorted([*chain.problems, *starting], key=lambda p: p.seq),
            unchained=chain.unchained,
        )
    anchor = compare(repository, chain.problems)
    return VerifyResult(
        ok=not anchor.problems,
        checked=chain.checked,
        problems=anchor.problems,
        unchained=chain.unchained,
        head=anchor.head,
        checkpoint=anchor.checkpoint,
    )
