"""A scripted model for the Claude engine (helpers, no tests): request-dependent turns per lane.

The engine's prompts list each account of a batch as ``## account_id <id>``; these steps read
the ids from the request and answer for exactly those accounts, so a script does not depend on
how accounts were batched. Shared by the e2e tests and ``bench/claude_engine.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.fakes.anthropic_api import ApiRequest, Turn, structured

ACCOUNT_ID = re.compile(r"^## account_id (\S+)$", re.MULTILINE)
Step = Callable[[ApiRequest], Turn]


def batch_ids(request: ApiRequest) -> list[str]:
    """The account ids of the batch this request is about."""
    return ACCOUNT_ID.findall("\n".join(request.user_texts()))


def assess(text: str = "Assessment of {id}: the stalled deal is the real risk.") -> Step:
    """A Scout/Analyst step: one assessment per account of the batch."""

    def step(request: ApiRequest) -> Turn:
        accounts = [{"account_id": i, "assessment": text.format(id=i)} for i in batch_ids(request)]
        return structured({"accounts": accounts})

    return step


def task_for(account_id: str, **changes: Any) -> dict[str, Any]:
    """A valid create_task recommendation citing the account."""
    rec: dict[str, Any] = {
        "type": "create_task",
        "priority": "high",
        "confidence": "medium",
        "rationale": f"Scripted: account {account_id} needs a call this week.",
        "suggested_action": {
            "subject": "Call the account owner's main contact",
            "due_date": "2026-11-06",
            "priority": "High",
            "description": "Check the deal's next step.",
        },
        "data_references": [f"zoho:Accounts:{account_id}"],
    }
    rec.update(changes)
    return rec


def recommend(
    make: Callable[[str], list[dict[str, Any]]] = lambda i: [task_for(i)],
) -> Step:
    """An Author step: ``make(account_id)`` recommendations for each account of the batch."""

    def step(request: ApiRequest) -> Turn:
        accounts = [{"account_id": i, "recommendations": make(i)} for i in batch_ids(request)]
        return structured({"accounts": accounts})

    return step


def many(step: Step | Turn, count: int = 60) -> list[Step | Turn]:
    """The same step ``count`` times (lanes consume one step per request)."""
    return [step] * count
