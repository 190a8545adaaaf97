"""Long-term account memory behind the :class:`MemoryStore` protocol.

- :mod:`.store` — the protocol and its value types (``MemoryHit``, ``PriorRecord``,
  ``Recollection``) and ``memory:<kind>:<id>`` references;
- :mod:`.local` — :class:`LocalMemory`, SQLite + FTS5 in the workspace's ``memory.db``
  (:mod:`.schema` opens and migrates the file, :mod:`.queries` reads it);
- :mod:`.derive` — pure rules: key events, commitments, relationship strength, scrubbing;
- :mod:`.analysis` — local queries behind the graph, insight, context and dedup tools;
- :mod:`.mcp_tools` / :mod:`.mcp_server` — the seed's six ``cognee_*`` tools over any store
  (their arguments in :mod:`.tool_args`, calling and bounding them in :mod:`.tool_calls`),
  and our memory MCP server offering them (stdio or streamable HTTP; read-only on request);
  :mod:`.mcp_write_tools` adds the ``sergas_*`` tools a shared server needs so that the apps
  using it (:mod:`.remote`, over the session of :mod:`.remote_client`) can ingest, record
  decisions and outcomes, forget and count;
- :mod:`.cognee` — the Cognee backend, :class:`CogneeMemory` in :mod:`.cognee.backend` (the
  ``sergas[cognee]`` extra, imported lazily); :mod:`.factory` — ``open_memory``: the store
  ``[memory]`` asks for.
"""

from sergas_tui.memory.local import LocalMemory
from sergas_tui.memory.schema import MEMORY_FILE_NAME, memory_path
from sergas_tui.memory.store import (
    DECISION_STATUSES,
    MEMORY_KINDS,
    MemoryHit,
    MemoryKind,
    MemoryStore,
    PriorRecord,
    Recollection,
    memory_ref,
)

__all__ = [
    "DECISION_STATUSES",
    "MEMORY_FILE_NAME",
    "MEMORY_KINDS",
    "LocalMemory",
    "MemoryHit",
    "MemoryKind",
    "MemoryStore",
    "PriorRecord",
    "Recollection",
    "memory_path",
    "memory_ref",
]
