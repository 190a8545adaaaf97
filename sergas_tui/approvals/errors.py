"""The error every approval decision reports to a person."""

from __future__ import annotations

from sergas_tui.errors import SergasError


class ApprovalError(SergasError):
    """An approval cannot be found, or cannot take the decision asked of it."""

    title = "Approval"
    exit_code = 1
