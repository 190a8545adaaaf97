"""Benchmark the central audit sync: local audit rows → PostgreSQL, rows per second.

    python bench/audit_sync.py --rows 100000 --batch-size 5000 \
        --dsn postgresql://postgres@127.0.0.1:5432/test

1. Appends ``--rows`` audit events to a fresh workspace database in a temporary directory with
   :meth:`Repository.append_audit_batch` (the repository's bulk path: the same seq numbering,
   redaction and hash chain as one-by-one appends, one transaction per 10,000 rows).
2. Creates a fresh schema on the server, puts it on the search_path and runs ``sync_once``
   (schema migration included, then COPY + INSERT ... ON CONFLICT DO NOTHING per batch).
3. Runs the sync again (nothing to send) and drops the schema.

Target: ≥ 20,000 rows/s for 100,000 rows. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg.conninfo import make_conninfo

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.audit.central.sync import SyncProgress, sync_once
from sergas_tui.domain import AuditEvent
from sergas_tui.storage import Repository

TARGET_ROWS_PER_SECOND = 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)
TOOLS = ("zoho_get_accounts", "zoho_get_account_details", "zoho_get_deals", "memory_search")


def events(start: int, count: int) -> list[AuditEvent]:
    """Realistic tool-invocation rows: a few ids and counts in, a summary out."""
    return [
        AuditEvent(
            timestamp=START + timedelta(seconds=i),
            session_id=f"review-{i // 200}",
            agent_name="zoho_scout",
            action_type="tool_invocation",
            account_id=f"48123000000{i % 5000:05d}",
            owner_email=f"owner{i % 50}@demo.sergas.test",
            tool_name=TOOLS[i % len(TOOLS)],
            tool_inputs={"account_id": f"48123000000{i % 5000:05d}", "fields": ["Stage"]},
            tool_outputs={"count": i % 17, "ids": [f"d{i}", f"d{i + 1}"]},
            execution_time_ms=i % 900,
        )
        for i in range(start, start + count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    schema = f"sergas_bench_{uuid4().hex[:10]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    dsn = make_conninfo(args.dsn, options=f"-c search_path={schema}")
    batch_seconds: list[float] = []
    last = time.perf_counter()

    def on_batch(_: SyncProgress) -> None:
        nonlocal last
        now = time.perf_counter()
        batch_seconds.append(now - last)
        last = now

    try:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Repository.open(Path(tmp) / "bench.sqlite")
            try:
                started = time.perf_counter()
                for start in range(0, args.rows, 10_000):
                    repo.append_audit_batch(events(start, min(10_000, args.rows - start)))
                fill_seconds = time.perf_counter() - started

                last = time.perf_counter()
                report = sync_once(
                    repo,
                    CentralTarget(dsn),
                    workspace="bench",
                    batch_size=args.batch_size,
                    on_batch=on_batch,
                )
                again = sync_once(repo, CentralTarget(dsn), workspace="bench")
            finally:
                repo.close()
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT seq) FROM audit_logs").fetchone()
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")

    central_rows, distinct_seq = row if row else (0, 0)
    ordered = sorted(batch_seconds)
    result = {
        "rows": args.rows,
        "batch_size": args.batch_size,
        "local_fill_seconds": round(fill_seconds, 2),
        "sync_seconds": round(report.seconds, 3),
        "rows_per_second": round(report.rows_per_second),
        "batches": report.batches,
        "batch_ms_median": round(ordered[len(ordered) // 2] * 1000, 1) if ordered else None,
        "batch_ms_max": round(ordered[-1] * 1000, 1) if ordered else None,
        "central_rows": central_rows,
        "duplicates": central_rows - distinct_seq,
        "second_run_rows_sent": again.rows_sent,
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
        "meets_target": report.rows_per_second >= TARGET_ROWS_PER_SECOND,
    }
    print(json.dumps(result, indent=2))
    ok = result["meets_target"] and central_rows == args.rows and again.rows_sent == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
