"""Zoho API calls by kind, for one review (or any block of work that asks for a tally).

A review opens a :func:`tally_calls` block; every CRM operation made inside it (by the
orchestrator's sync, the Data Scout's stage-history and timeline reads, the field-metadata
reads, an engine's tools), in the block's task or in tasks started from it, adds the API calls
it cost to the tally under its kind (:func:`add_calls`). Who adds: the orchestrator adds the
sync (``SyncBatch.calls``, counted by the backend), and the audited gateway
(:mod:`sergas_tui.audit.gateway`, which wraps every backend the services build) adds every
other operation with the calls :func:`sergas_tui.crm.http.count_calls` saw it make — HTTP
requests over REST, tool calls over MCP; a field-metadata read served from the metadata cache
costs none. Token refreshes are not API calls and are not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

CallKind = Literal["sync", "stage_history", "timeline", "metadata", "reads", "writes"]

_KIND_OF: dict[str, CallKind] = {
    "sync": "sync",
    "get_stage_history": "stage_history",
    "get_timeline": "timeline",
    "get_fields": "metadata",
    "update_account": "writes",
    "create_task": "writes",
    "add_note": "writes",
}


def kind_of(operation: str) -> CallKind:
    """The kind of a gateway operation (``get_stage_history`` → ``stage_history``; any other
    read → ``reads``)."""
    return _KIND_OF.get(operation, "reads")


@dataclass(frozen=True)
class ZohoCalls:
    """API calls by kind: the bulk sync, per-deal stage histories, per-record timelines, field
    metadata, other reads (an engine's tools), and writes."""

    sync: int = 0
    stage_history: int = 0
    timeline: int = 0
    metadata: int = 0
    reads: int = 0
    writes: int = 0

    @property
    def total(self) -> int:
        reads = self.stage_history + self.timeline + self.metadata + self.reads
        return self.sync + reads + self.writes

    def parts(self) -> list[tuple[str, int]]:
        """``(label, calls)`` of the kinds with calls, in a fixed order, for display."""
        labels = (
            ("sync", self.sync),
            ("stage history", self.stage_history),
            ("timelines", self.timeline),
            ("metadata", self.metadata),
            ("other reads", self.reads),
            ("writes", self.writes),
        )
        return [(label, calls) for label, calls in labels if calls]

    def text(self) -> str:
        """'105 (sync 40, stage history 60, timelines 4, metadata 1)'; '0' when none."""
        parts = self.parts()
        if not parts:
            return "0"
        return f"{self.total} ({', '.join(f'{label} {calls}' for label, calls in parts)})"


@dataclass
class CallTally:
    """The calls added while a :func:`tally_calls` block was open (mutable; see
    :meth:`counts`)."""

    by_kind: Counter[CallKind] = field(default_factory=Counter)

    def add(self, kind: CallKind, calls: int) -> None:
        self.by_kind[kind] += calls

    def counts(self) -> ZohoCalls:
        return ZohoCalls(**{str(kind): calls for kind, calls in self.by_kind.items()})


_TALLIES: ContextVar[tuple[CallTally, ...]] = ContextVar("sergas_call_tallies", default=())


@contextmanager
def tally_calls() -> Iterator[CallTally]:
    """Tally the calls of the operations made inside this block (and tasks started in it)."""
    tally = CallTally()
    token = _TALLIES.set((*_TALLIES.get(), tally))
    try:
        yield tally
    finally:
        # An async generator (the orchestrator's review) may be closed from another context;
        # the value then simply stays with the context that set it.
        with suppress(ValueError):
            _TALLIES.reset(token)


def tallying() -> bool:
    """True inside a :func:`tally_calls` block."""
    return bool(_TALLIES.get())


def add_calls(operation: str, calls: int) -> None:
    """Add ``calls`` API calls of ``operation`` (a gateway method name) to every open tally."""
    if calls <= 0:
        return
    kind = kind_of(operation)
    for tally in _TALLIES.get():
        tally.add(kind, calls)


__all__ = ["CallKind", "CallTally", "ZohoCalls", "add_calls", "kind_of", "tally_calls", "tallying"]
