"""Re-recording the audit chain's head after a test rewrote the log on purpose.

Tests that build a fixed audit story (snapshots) delete or re-hash rows through a raw
connection, exactly what the head in ``meta`` and the checkpoint file exist to detect
(sergas_tui/audit/anchor.py). :func:`reseal` makes the rewritten log the recorded head again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sergas_tui.audit.anchor import checkpoint_path
from sergas_tui.domain.audit_chain import HEAD_META_KEY, AuditHead


def reseal(conn: sqlite3.Connection, database: Path) -> None:
    """Record the log's current end as its head (in ``conn``'s transaction, not committed)
    and drop the checkpoint file of ``database``."""
    seq, count = conn.execute("SELECT coalesce(max(seq), 0), count(*) FROM audit_logs").fetchone()
    last = conn.execute("SELECT row_hash FROM audit_logs WHERE seq = ?", (seq,)).fetchone()
    head = AuditHead(seq=seq, count=count, row_hash=None if last is None else last[0])
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (HEAD_META_KEY, head.dumps())
    )
    checkpoint_path(database).unlink(missing_ok=True)
