"""The error every approval decision reports to a person (defined in :mod:`sergas_tui.errors`)."""

from __future__ import annotations

from sergas_tui.errors import ApprovalError as ApprovalError
