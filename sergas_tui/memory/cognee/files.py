"""Making a Cognee data dir forget deleted items on disk, not only in its current version.

Deleting an account's nodes and vectors (``CogneeMemory.forget``) leaves their bytes behind:

- LanceDB keeps every earlier version of a table (its data files, deletion files and
  manifests) until old versions are cleaned up, and a row deleted from a data file stays in it
  (masked by a deletion file) until the file is rewritten;
- the graph store (``graph.db``, SQLite's file format) keeps deleted rows in free pages and in
  its write-ahead log.

:func:`compact_cognee` rewrites every LanceDB table's fragments without their deleted rows
(``materialize_deletions_threshold=0``: any deletion), removes every version but the current
one, then checkpoints and vacuums the graph file. Removing every old version while another
process writes a table (a review adding memory) would delete that process's new files, so the
caller holds the workspace alone (``exclusive_use``) and passes who else uses it: with anyone
else there, it refuses before touching a file. ``lance`` (LanceDB's storage library,
installed with Cognee) is imported here only, through :mod:`importlib`.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sergas_tui.errors import StorageError
from sergas_tui.memory.cognee.stores import GRAPH_FILE, VECTOR_DIR


@dataclass(frozen=True)
class CompactReport:
    """What :func:`compact_cognee` rewrote and removed."""

    tables: int
    old_versions_removed: int
    bytes_removed: int


def compact_cognee(root: Path, *, others: Callable[[], Sequence[str]]) -> CompactReport:
    """Rewrite the vector tables and the graph file under ``root`` so that deleted items leave
    no bytes behind (see the module docstring). ``others`` lists the other processes using the
    workspace; any at all and nothing is touched (:class:`StorageError`)."""
    users = list(others())
    if users:
        raise StorageError(
            f"Did not compact the Cognee memory in {root}: {'; '.join(users)} "
            "uses the workspace, and removing old versions now could delete its new files. "
            "Close it and run the command again."
        )
    tables = removed = freed = 0
    vectors = root / VECTOR_DIR
    if vectors.is_dir():
        lance = importlib.import_module("lance")
        for table in sorted(vectors.glob("*.lance")):
            try:
                dataset = lance.dataset(str(table))
                dataset.optimize.compact_files(
                    materialize_deletions=True, materialize_deletions_threshold=0.0
                )
                stats = lance.dataset(str(table)).cleanup_old_versions(
                    older_than=timedelta(0), delete_unverified=True
                )
            except (OSError, ValueError, RuntimeError) as err:
                raise StorageError(
                    f"Could not rewrite the Cognee vector table {table}: {err}. Close the other "
                    "Sergas processes using the workspace and run the command again."
                ) from err
            tables += 1
            removed += int(getattr(stats, "old_versions", 0))
            freed += int(getattr(stats, "bytes_removed", 0))
    graph = root / GRAPH_FILE
    if graph.exists():
        try:
            with closing(sqlite3.connect(graph, timeout=30, isolation_level=None)) as conn:
                conn.execute("PRAGMA secure_delete = ON")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute("VACUUM")
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as err:
            raise StorageError(f"Could not compact the Cognee graph {graph}: {err}.") from err
        if busy:
            raise StorageError(
                f"Could not empty the write-ahead log of the Cognee graph {graph}: another "
                "process is reading it. Close the other Sergas processes using the workspace "
                "and run the command again."
            )
    return CompactReport(tables, removed, freed)
