"""Approval grants: a recorded human approval of exactly one CRM write, as stores keep it.

A grant carries what a server needs to check a write against a decision made elsewhere (the
approval id, account, owner, decider, the write's digest and canonical spelling, the token's
SHA-256 and the expiry), never the token itself. ``crm/approval_gate.py`` holds the rule;
``storage/grants.py`` and ``audit/central/grants.py`` keep grants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

GrantState = Literal["granted", "claimed", "completed", "revoked"]

GRANT_COLUMNS: tuple[str, ...] = (
    "approval_id",
    "account_id",
    "owner_email",
    "action_type",
    "decided_by",
    "expires_at",
    "token_hash",
    "digest",
    "write",
    "issued_at",
    "state",
    "claimed_at",
    "claimed_by",
    "record_id",
    "error",
)
"""The ``approval_grants`` columns of both stores (workspace and central), in :class:`Grant`'s
field order."""


def approval_marker(approval_id: str) -> str:
    """The tag every task and note written for an approval carries: ``[sergas:<id>]``."""
    return f"[sergas:{approval_id}]"


@dataclass(frozen=True)
class Grant:
    """A recorded human approval of exactly one write, as a store keeps it (no token)."""

    approval_id: str
    account_id: str
    owner_email: str
    action_type: str
    decided_by: str | None
    expires_at: datetime
    token_hash: str
    digest: str
    write: str
    """The granted write, as :func:`~sergas_tui.crm.writer.canonical_write` spells it."""
    issued_at: datetime
    state: GrantState = "granted"
    claimed_at: datetime | None = None
    claimed_by: str | None = None
    record_id: str | None = None
    error: str | None = None

    @property
    def operation(self) -> str:
        return str(json.loads(self.write).get("op"))
