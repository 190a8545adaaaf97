"""The audit log's integrity: verifying its hash chain and exporting it as JSON lines."""

from sergas_tui.audit.anchor import AnchorCheck, check_anchor
from sergas_tui.audit.export import EXPORT_COLUMNS, export_jsonl, export_record
from sergas_tui.audit.verify import (
    Problem,
    ProblemKind,
    VerifyResult,
    verify_chain,
    verify_database,
)

__all__ = [
    "EXPORT_COLUMNS",
    "AnchorCheck",
    "Problem",
    "ProblemKind",
    "VerifyResult",
    "check_anchor",
    "export_jsonl",
    "export_record",
    "verify_chain",
    "verify_database",
]
