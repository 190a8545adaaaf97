"""Which tool calls each role may make: a pure ``decide(tool_name, tool_input, role)``.

The seed's allowlists (§3.2–3.4, §6.1): the Data Scout reads Zoho, the Memory Analyst reads
memory, the Recommendation Author uses no tool at all. Every role may hand in its answer
through ``StructuredOutput`` (the tool the SDK adds for ``output_format``). Everything else is
denied with a reason the model (and the audit log) can read: every CRM or memory write, every
built-in Claude Code tool (they are switched off anyway with ``tools=[]``) and anything unknown.
No agent writes to the CRM: the only write path is the approvals executor.

The engine wires this one function into ``can_use_tool`` and into a PreToolUse hook, so a
write is refused twice even if one gate were bypassed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sergas_tui.agents.prompts import Role
from sergas_tui.crm.mcp.tools import REGISTER_TOOL
from sergas_tui.crm.mcp.tools import WRITE_TOOL_NAMES as CRM_WRITE_TOOLS
from sergas_tui.memory.mcp_tools import READ_TOOL_NAMES as MEMORY_READ_TOOLS
from sergas_tui.memory.mcp_tools import WRITE_TOOL_NAMES as MEMORY_WRITE_TOOLS
from sergas_tui.memory.mcp_write_tools import SERGAS_WRITE_TOOL_NAMES as MEMORY_SYNC_TOOLS

ZOHO_SERVER = "zoho"
"""Name of the in-process MCP server offering the Zoho read tools (to the Scout only)."""
MEMORY_SERVER = "memory"
"""Name of the in-process MCP server offering the memory read tools (to the Analyst only)."""
STRUCTURED_OUTPUT = "StructuredOutput"
"""The tool the SDK adds for ``output_format``: how every role hands in its answer."""

SCOUT_TOOLS: tuple[str, ...] = (
    "zoho_get_accounts",
    "zoho_get_account_details",
    "zoho_search_accounts",
    "zoho_get_deals",
    "zoho_list_open_deals",
    "zoho_get_activities",
    "zoho_get_notes",
    "zoho_get_user_info",
)
"""The seed's Zoho read tools (§3.2), the Data Scout's allowlist."""
ANALYST_TOOLS: tuple[str, ...] = tuple(MEMORY_READ_TOOLS)
"""The seed's four memory read tools (§3.3), the Memory Analyst's allowlist."""

ALLOWLISTS: Mapping[Role, frozenset[tuple[str, str]]] = {
    "scout": frozenset((ZOHO_SERVER, name) for name in SCOUT_TOOLS),
    "analyst": frozenset((MEMORY_SERVER, name) for name in ANALYST_TOOLS),
    "author": frozenset(),
}

WRITE_TOOLS: frozenset[str] = (
    frozenset(CRM_WRITE_TOOLS)
    | {REGISTER_TOOL}
    | frozenset(MEMORY_WRITE_TOOLS)
    | frozenset(MEMORY_SYNC_TOOLS)
)
"""Every write tool we know of, in the CRM or in memory; none is ever allowed."""

BUILTIN_TOOLS: frozenset[str] = frozenset(
    {
        "Agent",
        "Bash",
        "BashOutput",
        "Edit",
        "Glob",
        "Grep",
        "KillShell",
        "LS",
        "MultiEdit",
        "NotebookEdit",
        "NotebookRead",
        "Read",
        "Skill",
        "SlashCommand",
        "Task",
        "TodoWrite",
        "ToolSearch",
        "WebFetch",
        "WebSearch",
        "Write",
    }
)
"""Claude Code's own tools (a non-exhaustive list, for clearer reasons; all are denied)."""


@dataclass(frozen=True)
class Allow:
    """The call may run."""


@dataclass(frozen=True)
class Deny:
    """The call must not run; ``reason`` goes back to the model and into the audit log."""

    reason: str


Decision = Allow | Deny
ALLOW = Allow()


def mcp_tool_name(server: str, tool: str) -> str:
    """The name Claude Code gives an MCP tool: ``mcp__<server>__<tool>``."""
    return f"mcp__{server}__{tool}"


def split_mcp_name(name: str) -> tuple[str, str] | None:
    """``("zoho", "zoho_get_notes")`` for ``mcp__zoho__zoho_get_notes``; ``None`` otherwise."""
    if not name.startswith("mcp__"):
        return None
    server, sep, tool = name[len("mcp__") :].partition("__")
    if not sep or not server or not tool:
        return None
    return server, tool


def bare_tool_name(name: str) -> str:
    """The tool's own name without the ``mcp__<server>__`` prefix."""
    parsed = split_mcp_name(name)
    return parsed[1] if parsed else name


def decide(tool_name: str, tool_input: Mapping[str, Any] | None, role: Role) -> Decision:
    """Allow only ``role``'s read tools and ``StructuredOutput``; deny everything else.

    ``tool_input`` is part of the signature so rules may look at arguments; today only a
    malformed input (not an object) is refused on its own.
    """
    if tool_input is not None and not isinstance(tool_input, Mapping):
        return Deny(f"{tool_name} was called with malformed input.")
    if tool_name == STRUCTURED_OUTPUT:
        return ALLOW
    parsed = split_mcp_name(tool_name)
    bare = parsed[1] if parsed else tool_name
    if bare in WRITE_TOOLS:
        return Deny(
            f"{bare} writes data. Agents only read: every write is proposed as a "
            "recommendation and runs only after a person approves it."
        )
    if parsed is None:
        if tool_name in BUILTIN_TOOLS:
            return Deny(f"{tool_name} is a built-in tool; built-in tools are off for every agent.")
        return Deny(f"{tool_name} is not a tool the {role} may use.")
    if parsed in ALLOWLISTS.get(role, frozenset()):
        return ALLOW
    return Deny(f"{bare} is not on the {role}'s allowlist.")
