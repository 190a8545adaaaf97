"""Zoho CRM's default picklists that Sergas reads, writes or serves, each defined once.

Zoho rejects a write to a restricted picklist (a task's ``Status`` and ``Priority``, a deal's
``Stage``) unless the value is one of the list's, spelled exactly; so the author, the checks of
an adjusted action, the CRM writer, our MCP server's tools, the executor and the screens all
use these lists, and the simulator serves them (``crm/simulator/picklists.py`` adds the demo
org's own values). Values are in Zoho's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

TaskPriority = Literal["Highest", "High", "Normal", "Low", "Lowest"]
"""A value of the Tasks ``Priority`` picklist."""
TASK_PRIORITIES: tuple[TaskPriority, ...] = get_args(TaskPriority)
"""The Tasks ``Priority`` picklist, highest first."""
DEFAULT_TASK_PRIORITY: TaskPriority = "Normal"
"""The priority a task gets when none is given."""


def task_priority(value: str | None) -> TaskPriority:
    """``value`` when it is a task priority, spelled exactly; otherwise the default."""
    return next((p for p in TASK_PRIORITIES if p == value), DEFAULT_TASK_PRIORITY)


TASK_STATUSES: tuple[str, ...] = (
    "Not Started",
    "Deferred",
    "In Progress",
    "Completed",
    "Waiting for input",
)
"""The Tasks ``Status`` picklist."""

DEAL_STAGES: tuple[str, ...] = (
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Identify Decision Makers",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
"""The Deals ``Stage`` picklist of Zoho's default "Standard" pipeline, earliest first."""
OPEN_STAGES: tuple[str, ...] = DEAL_STAGES[:6]
"""The default pipeline's open stages, earliest first."""
WON_OR_LOST: tuple[str, ...] = DEAL_STAGES[6:]
"""The default pipeline's closing stages: Closed Won, Closed Lost."""
CLOSED_STAGES: frozenset[str] = frozenset({*WON_OR_LOST, "Closed Lost to Competition"})
"""Stages that close a deal: the default pipeline's, and the "lost to competition" stage that
many orgs' pipelines carry."""
STAGE_PROBABILITY: Mapping[str, int] = MappingProxyType(
    dict(zip(DEAL_STAGES, (10, 20, 40, 60, 75, 90, 100, 0), strict=True))
)
"""The default pipeline's win probability (per cent) of each stage."""

RATINGS: tuple[str, ...] = (
    "Acquired",
    "Active",
    "Market Failed",
    "Project Cancelled",
    "Shut Down",
)
"""The ``Rating`` picklist of Accounts (and Leads) as Zoho ships it; orgs often add their own
values (an account's ``At Risk``, ``[review] at_risk_rating``)."""


def picklist_values(values: tuple[str, ...], *picked: str) -> tuple[str, ...]:
    """``picked``, in the order given, after checking each is a value of the picklist
    ``values`` (a ValueError names those that are not): a selection from a list defined here,
    such as the values the demo draws, never a second definition of it."""
    unknown = [value for value in picked if value not in values]
    if unknown:
        raise ValueError(f"not picklist values: {', '.join(unknown)}")
    return picked


__all__ = [
    "CLOSED_STAGES",
    "DEAL_STAGES",
    "DEFAULT_TASK_PRIORITY",
    "OPEN_STAGES",
    "RATINGS",
    "STAGE_PROBABILITY",
    "TASK_PRIORITIES",
    "TASK_STATUSES",
    "WON_OR_LOST",
    "TaskPriority",
    "picklist_values",
    "task_priority",
]
