"""The audit log's head, kept twice more, compared with the log's end.

The head (:class:`~sergas_tui.domain.audit_chain.AuditHead`: last ``seq``, row count, last
``row_hash``) is recorded in ``meta.audit_head`` in the same transaction as every append
(:mod:`sergas_tui.storage.repository`), and checkpointed in a file next to the database,
``<database>.audit-head``, which an intact verification, ``sergas doctor`` and each central
sync move forward (:func:`check_anchor`). A log whose rows were cut off the end no longer reaches
its head: locally detected, where the chain alone cannot see it.

- recorded head after the log's end: rows are missing at the end (``deleted``);
- rows after the recorded head: not appended by Sergas (``inserted``);
- the last row is not the recorded head: the end was rewritten (``edited``);
- the checkpointed row no longer holds the checkpointed hash, or the log ends before the
  checkpoint: the log, and the head recorded in the database with it, were rewritten;
- a missing or unreadable head, a row count that nothing else explains: ``anchor``.

Limits: the file sits in the same directory as the database. Whoever can write that directory
can forge both (and the chain); the central copy (``sergas audit verify --remote``) is the
guarantee. Rows appended after the last checkpoint are protected by the recorded head only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from sergas_tui.domain.audit_chain import AuditHead, Problem, short_hash
from sergas_tui.errors import StorageError
from sergas_tui.storage import Repository
from sergas_tui.storage.audit_log import AuditChainState

CHECKPOINT_SUFFIX = ".audit-head"
"""The checkpoint file is the database's name plus this suffix (``sergas.db.audit-head``)."""


def checkpoint_path(database: Path) -> Path:
    """Where the checkpoint of ``database``'s audit head is kept."""
    return database.with_name(database.name + CHECKPOINT_SUFFIX)


def read_checkpoint(path: Path) -> tuple[AuditHead | None, str | None]:
    """The checkpointed head (None when there is no checkpoint yet), or None and why it could
    not be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as err:
        return None, f"the checkpoint {path.name} cannot be read: {err.strerror or err}"
    try:
        return AuditHead.loads(text), None
    except ValueError as err:
        return None, f"the checkpoint {path.name} is not a recorded head: {err}"


def write_checkpoint(path: Path, head: AuditHead) -> None:
    """Replace the checkpoint atomically (a crash leaves the old one or the new one)."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(head.dumps() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(partial)
        raise


def _seqs(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seq {first} to {last} ({last - first + 1} rows)"


def head_problems(state: AuditChainState, known: Sequence[Problem] = ()) -> list[Problem]:
    """Where the log's end differs from the head recorded in the database (both read in one
    transaction, so an append cannot come between them). A row count that differs is reported
    only when no ``known`` problem (of a chain walk) explains it."""
    actual, recorded = state.actual, state.recorded
    if recorded is None:
        return [
            Problem(
                actual.seq,
                state.last_id,
                "anchor",
                f"{state.recorded_error}: rows removed from the end of the log cannot be "
                "detected locally; every append and schema 8 write it, so the database was "
                "edited outside Sergas",
            )
        ]
    if actual.seq < recorded.seq:
        return [
            Problem(
                actual.seq + 1,
                None,
                "deleted",
                f"audit rows are missing at the end: {_seqs(actual.seq + 1, recorded.seq)}; the "
                f"recorded head is seq {recorded.seq} (row_hash {recorded.short_hash}, "
                f"{recorded.count} rows) but the log ends at seq {actual.seq}",
            )
        ]
    if actual.seq > recorded.seq and state.after_head is not None:
        first_seq, first_id = state.after_head
        return [
            Problem(
                first_seq,
                first_id,
                "inserted",
                f"audit rows {_seqs(first_seq, actual.seq)} come after the recorded head "
                f"(seq {recorded.seq}): they were not appended by Sergas",
            )
        ]
    if actual.row_hash is None and recorded.row_hash is not None:
        return [
            Problem(
                actual.seq,
                state.last_id,
                "unchained",
                f"the last audit row seq {actual.seq} (id {state.last_id}) has no hash, but the "
                f"recorded head has row_hash {recorded.short_hash}: its hashes were removed",
            )
        ]
    if actual.row_hash != recorded.row_hash:
        return [
            Problem(
                actual.seq,
                state.last_id,
                "edited",
                f"the last audit row seq {actual.seq} (id {state.last_id}) is not the recorded "
                f"head: its row_hash is {actual.short_hash}, the head recorded "
                f"{recorded.short_hash}; the end of the log was rewritten",
            )
        ]
    if actual.count != recorded.count and not known:
        return [
            Problem(
                actual.seq,
                None,
                "anchor",
                f"the audit log holds {actual.count} rows but its recorded head counts "
                f"{recorded.count}: rows were removed or added outside Sergas",
            )
        ]
    return []


def checkpoint_problems(
    state: AuditChainState, checkpoint: AuditHead, path: Path, known: Sequence[Problem] = ()
) -> list[Problem]:
    """Where the log no longer extends the checkpointed head. ``state`` must have been read
    with ``at_seq=checkpoint.seq``; ``known`` as for :func:`head_problems`."""
    actual, recorded = state.actual, state.recorded
    since = f"recorded in {path.name}"
    if checkpoint.seq > actual.seq:
        if recorded is not None and recorded.seq >= checkpoint.seq:
            return []  # the recorded head already shows the missing tail
        return [
            Problem(
                actual.seq + 1,
                None,
                "deleted",
                f"audit rows are missing at the end: {_seqs(actual.seq + 1, checkpoint.seq)}; "
                f"the checkpoint {since} reached seq {checkpoint.seq}, and the head recorded in "
                "the database was rewritten to match the shorter log",
            )
        ]
    start = state.start
    if start is not None and checkpoint.seq < start.seq:
        # The checkpointed row went with a retention purge; the recorded start links to the
        # last purged row, so a checkpoint at that row is still compared.
        if checkpoint.seq == start.seq - 1 and checkpoint.row_hash not in (None, start.prev_hash):
            return [
                Problem(
                    start.seq,
                    None,
                    "edited",
                    f"the chain's recorded start links to row_hash {short_hash(start.prev_hash)}, "
                    f"but the head {since} was seq {checkpoint.seq} with "
                    f"{checkpoint.short_hash}: the log was rewritten before its start",
                )
            ]
        return []
    if checkpoint.seq > 0 and state.at_seq is None:
        return [
            Problem(
                checkpoint.seq,
                None,
                "deleted",
                f"audit row seq {checkpoint.seq}, the head {since}, is missing",
            )
        ]
    if state.at_seq is not None and checkpoint.row_hash is not None:
        row_id, digest = state.at_seq
        if digest != checkpoint.row_hash:
            return [
                Problem(
                    checkpoint.seq,
                    row_id,
                    "edited" if digest is not None else "unchained",
                    f"audit row seq {checkpoint.seq} (id {row_id}) is not the head {since}: its "
                    f"row_hash is {short_hash(digest)}, the checkpoint "
                    f"has {checkpoint.short_hash}; the log was rewritten at or before it",
                )
            ]
    if actual.count < checkpoint.count and not known:
        return [
            Problem(
                actual.seq,
                None,
                "anchor",
                f"the audit log holds {actual.count} rows, fewer than the {checkpoint.count} "
                f"{since}: rows were removed",
            )
        ]
    return []


def _merge(problems: list[Problem], more: Iterable[Problem]) -> list[Problem]:
    """``problems`` plus those of ``more`` not already reported (same row and kind; rows
    without hashes are reported once, as the run the chain walk found)."""

    def key(problem: Problem) -> tuple[int, str]:
        return (-1, problem.kind) if problem.kind == "unchained" else (problem.seq, problem.kind)

    seen = {key(p) for p in problems}
    merged = [*problems, *(p for p in more if key(p) not in seen)]
    merged.sort(key=lambda p: p.seq)
    return merged


@dataclass(frozen=True)
class AnchorCheck:
    """The recorded head and the checkpoint compared with the log's end (``sergas doctor``)."""

    head: AuditHead | None
    checkpoint: AuditHead | None
    problems: list[Problem]
    checkpoint_error: str | None = None
    """Why the checkpoint could not be written (the comparison itself still holds)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: the head and the checkpoint when intact, else the problems."""
        if self.problems or self.head is None:
            return "; ".join(p.message for p in self.problems)
        text = (
            f"the log ends at its recorded head: seq {self.head.seq}, {self.head.count:,} rows, "
            f"row_hash {self.head.short_hash}"
        )
        if self.checkpoint_error:
            return f"{text}; the checkpoint file was not written: {self.checkpoint_error}"
        return text + "; checkpoint file updated"


def compare(repository: Repository, chain_problems: list[Problem]) -> AnchorCheck:
    """Compare the recorded head and the checkpoint with the log; move the checkpoint forward
    when nothing is wrong (``chain_problems``: what a chain walk found, if one was made)."""
    path = checkpoint_path(repository.path)
    checkpoint, unreadable = read_checkpoint(path)
    state = repository.audit_chain_state(at_seq=None if checkpoint is None else checkpoint.seq)
    problems = _merge(chain_problems, head_problems(state, chain_problems))
    if unreadable is not None:
        problems = _merge(problems, [Problem(state.actual.seq, None, "anchor", unreadable)])
    elif checkpoint is not None:
        problems = _merge(problems, checkpoint_problems(state, checkpoint, path, problems))
    head = state.recorded
    if problems or head is None:
        return AnchorCheck(head, checkpoint, problems)
    newer, _ = read_checkpoint(path)
    if newer is not None and newer.seq > head.seq:  # another process checkpointed meanwhile
        return AnchorCheck(head, newer, [])
    try:
        write_checkpoint(path, head)
    except OSError as err:
        return AnchorCheck(head, checkpoint, [], checkpoint_error=str(err.strerror or err))
    return AnchorCheck(head, head, [])


def check_anchor(repository: Repository) -> AnchorCheck:
    """Compare the log's end with its recorded head and the checkpoint, without reading the
    whole log (``sergas doctor``, each central sync); an intact end moves the checkpoint."""
    try:
        return compare(repository, [])
    except StorageError as err:
        return AnchorCheck(None, None, [Problem(0, None, "anchor", err.message)])
