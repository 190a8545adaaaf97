"""Everything the workspace holds about one account, as one JSON document (data portability).

The document has a ``meta`` header (export schema, the account, the workspace, when it was made
by the services' clock, and how many items of each kind) and one section per kind:

    snapshots         every stored state of the account (``account_snapshots``), oldest first
    recommendations   what reviews recommended for it
    approvals         the proposed writes and their decisions (never an approval's ``token``)
    outcomes          what became of executed recommendations (``recommendation_outcomes``)
    signal_mutes      every snooze or dismissal of its signals, lifted or not
    memory            what the memory remembers, read through the ``MemoryStore`` protocol:
                      its timeline (key events, commitments, note gists; capped per list, the
                      caps in ``truncated``), every prior recommendation and the relationship
                      graph
    audit             the audit rows whose ``account_id`` is the account, each exactly as
                      ``sergas audit export`` writes it (``audit.export.export_record``)

Every section passes through the same :func:`~sergas_tui.domain.redaction.redact` the audit
export applies, so a sensitive field never leaves by this path either.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sergas_tui.audit.export import export_record
from sergas_tui.domain.redaction import redact
from sergas_tui.storage.mutes import list_mutes
from sergas_tui.user_files import write_text_file

if TYPE_CHECKING:
    from sergas_tui.memory.store import MemoryStore
    from sergas_tui.services import Services

EXPORT_SCHEMA = 1
"""The version of the document's layout; raised when a key changes meaning or goes away."""

SECTIONS: tuple[str, ...] = (
    "snapshots",
    "recommendations",
    "approvals",
    "outcomes",
    "signal_mutes",
    "memory",
    "audit",
)
"""The document's sections after ``meta``, in order; ``meta.counts`` has one key per section
(``memory`` counts remembered items: key events, commitments, notes and recommendations)."""

_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
"""The start of the memory timeline asked for: all of it."""


def _dumped(models: list[Any], **exclude: Any) -> list[Any]:
    return [redact(m.model_dump(mode="json", **exclude)) for m in models]


async def _memory(memory: MemoryStore, account_id: str, now: datetime) -> tuple[Any, int]:
    """The memory section and how many remembered items it covers."""
    history = await memory.history(account_id, since=_BEGINNING, until=now)
    prior = await memory.prior_recommendations(account_id)
    graph = await memory.relationship_graph(account_id)
    refs = {str(ref) for ref in history.refs} if history is not None else set()
    refs |= {str(record.ref) for record in prior}
    section = {
        "history": None if history is None else redact(history.model_dump(mode="json")),
        "prior_recommendations": _dumped(prior),
        "relationship_graph": None if graph is None else redact(graph.model_dump(mode="json")),
    }
    return section, len(refs)


async def account_document(services: Services, account_id: str, name: str) -> dict[str, Any]:
    """The export of one account (``name`` as the workspace knows it) as a JSON-ready dict."""
    store = services.store
    now = services.clock.now()
    memory, memory_items = await _memory(services.memory(), account_id, now)
    sections: dict[str, Any] = {
        "snapshots": _dumped(store.snapshots_for(account_id)),
        "recommendations": _dumped(store.recommendations_for(account_id)),
        "approvals": _dumped(store.approvals_for(account_id), exclude={"token"}),
        "outcomes": _dumped(store.outcomes_for(account_id)),
        "signal_mutes": _dumped(
            list(reversed(list_mutes(store, now=now, active_only=False, account_id=account_id)))
        ),
        "memory": memory,
        "audit": [export_record(row) for row in store.audit_rows_for(account_id)],
    }
    counts = {kind: memory_items if kind == "memory" else len(sections[kind]) for kind in SECTIONS}
    meta = {
        "schema": EXPORT_SCHEMA,
        "account_id": account_id,
        "account_name": name,
        "workspace": services.workspace,
        "generated_at": now.isoformat(),
        "counts": counts,
    }
    return {"meta": meta, **sections}


async def export_account(
    services: Services, account_id: str, name: str, path: Path
) -> dict[str, int]:
    """Write the account's export to ``path`` (checked by ``output_file`` beforehand, written
    whole and renamed into place); return the counts per kind."""
    document = await account_document(services, account_id, name)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    write_text_file(path, text)
    counts: dict[str, int] = document["meta"]["counts"]
    return counts
