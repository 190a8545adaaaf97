"""The portfolio's rows as last shown, kept on disk so the next start draws them at once.

A cold start draws "my accounts" (or the manager view, on ``m``) from this cache in a few
milliseconds, before the CRM and the workspace database are read; the screen says it is
refreshing until the fresh rows replace them. One JSON file per scope in the workspace's
``ui-cache`` directory, written whole to a temporary file and renamed into place, so a reader
never sees half a file; anything unreadable, of another version or of another owner is ignored.
Imports nothing heavier than the rows themselves.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sergas_tui.viewmodels.portfolio_rows import PortfolioRow, Scope

CACHE_VERSION = 1
FIELDS = (
    "account_id",
    "name",
    "owner_name",
    "owner_email",
    "industry",
    "risk_level",
    "top_signal",
    "days_since_activity",
    "open_pipeline",
    "changed",
    "pending",
    "quiet_at_least",
)


def cache_file(directory: Path, scope: Scope) -> Path:
    return directory / f"portfolio-{scope}.json"


def read_cached_rows(directory: Path, scope: Scope, owner: str | None) -> list[PortfolioRow] | None:
    """The rows saved for ``scope`` (and, for "mine", this ``owner``), or None."""
    try:
        data = json.loads(cache_file(directory, scope).read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION or data.get("fields") != list(FIELDS):
            return None
        if scope == "mine" and data.get("owner") != owner:
            return None
        return [PortfolioRow(*values) for values in data["rows"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def save_rows(
    directory: Path, scope: Scope, owner: str | None, rows: Sequence[PortfolioRow]
) -> None:
    """Replace the saved rows of ``scope`` (blocking: call from a thread). Best effort: a
    cache that cannot be written only makes the next start slower."""
    payload: dict[str, Any] = {
        "version": CACHE_VERSION,
        "fields": list(FIELDS),
        "owner": owner,
        "rows": [[getattr(row, name) for name in FIELDS] for row in rows],
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".portfolio-{scope}-", suffix=".tmp", dir=directory
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(payload, stream, ensure_ascii=False, separators=(",", ":"))
            os.replace(temporary, cache_file(directory, scope))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass
