"""The agents' permission policy: every tool × every role, as a table."""

from __future__ import annotations

import pytest

from sergas_tui.agents.claude.policy import (
    ANALYST_TOOLS,
    BUILTIN_TOOLS,
    MEMORY_SERVER,
    SCOUT_TOOLS,
    STRUCTURED_OUTPUT,
    ZOHO_SERVER,
    Allow,
    Deny,
    decide,
    mcp_tool_name,
    split_mcp_name,
)
from sergas_tui.agents.prompts import ROLES, Role
from sergas_tui.crm.mcp.tools import REGISTER_TOOL
from sergas_tui.crm.mcp.tools import TOOLS as ZOHO_TOOLS
from sergas_tui.crm.mcp.tools import WRITE_TOOL_NAMES as ZOHO_WRITES
from sergas_tui.memory.mcp_tools import TOOLS as MEMORY_TOOLS
from sergas_tui.memory.mcp_tools import WRITE_TOOL_NAMES as MEMORY_WRITES


def expected(tool: str, role: Role) -> bool:
    """The seed's allowlists (§3.2–3.4): only these calls may run."""
    if tool == STRUCTURED_OUTPUT:
        return True
    parsed = split_mcp_name(tool)
    if parsed is None:
        return False
    server, name = parsed
    if role == "scout":
        return server == ZOHO_SERVER and name in SCOUT_TOOLS
    if role == "analyst":
        return server == MEMORY_SERVER and name in ANALYST_TOOLS
    return False


CANDIDATES = sorted(
    {
        mcp_tool_name(server, name)
        for server in (ZOHO_SERVER, MEMORY_SERVER, "other")
        for name in (*(spec.name for spec in ZOHO_TOOLS), *(spec.name for spec in MEMORY_TOOLS))
    }
    | {spec.name for spec in ZOHO_TOOLS}
    | {spec.name for spec in MEMORY_TOOLS}
    | BUILTIN_TOOLS
    | {STRUCTURED_OUTPUT, "frobnicate", "mcp__zoho", "mcp____x", ""}
)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tool", CANDIDATES)
def test_decide_table(tool: str, role: Role) -> None:
    decision = decide(tool, {"account_id": "1"}, role)
    assert isinstance(decision, Allow) is expected(tool, role)
    if isinstance(decision, Deny):
        assert decision.reason


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("write", sorted({*ZOHO_WRITES, REGISTER_TOOL, *MEMORY_WRITES}))
def test_every_write_is_denied_with_the_approval_reason(write: str, role: Role) -> None:
    for name in (write, mcp_tool_name(ZOHO_SERVER, write), mcp_tool_name(MEMORY_SERVER, write)):
        decision = decide(name, {}, role)
        assert isinstance(decision, Deny)
        assert "approves" in decision.reason


def test_the_author_uses_no_tool_and_extra_zoho_reads_are_not_offered() -> None:
    assert all(
        isinstance(decide(mcp_tool_name(ZOHO_SERVER, s), {}, "author"), Deny) for s in SCOUT_TOOLS
    )
    for extra in ("zoho_sync", "zoho_get_timeline", "zoho_get_stage_history"):
        assert isinstance(decide(mcp_tool_name(ZOHO_SERVER, extra), {}, "scout"), Deny)


def test_malformed_input_is_denied() -> None:
    assert isinstance(decide(mcp_tool_name(ZOHO_SERVER, "zoho_get_notes"), "x", "scout"), Deny)  # type: ignore[arg-type]
    assert isinstance(decide(mcp_tool_name(ZOHO_SERVER, "zoho_get_notes"), None, "scout"), Allow)
