"""The permission gate and the audit trail of the agents' tool calls.

- :func:`permission_gate` is ``can_use_tool``: :func:`~.policy.decide`, nothing else.
- :func:`audit_hooks` are the PreToolUse and PostToolUse hooks. PreToolUse fires before the
  permission check, so it sees every call the CLI considers: it audits each one (a
  ``tool_invocation`` row when allowed, a ``tool_denied`` row when not) and denies writes again
  (``permissionDecision: "deny"``). PostToolUse audits the result (redacted and truncated).
- Calls the CLI refuses before any hook runs (a tool that is not offered, such as ``Bash``
  with ``tools=[]``, or a made-up name) are audited from the message stream by
  :meth:`AuditTrail.unseen_calls`, so the audit log does not depend on hooks alone (and the
  Zoho gateway audits every CRM call once more on its side).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from claude_agent_sdk import (
    HookContext,
    HookInput,
    HookJSONOutput,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
    ToolUseBlock,
)
from claude_agent_sdk.types import CanUseTool, HookEvent
from pydantic import JsonValue

from sergas_tui.agents.claude.policy import STRUCTURED_OUTPUT, Allow, Decision, Deny, decide
from sergas_tui.agents.prompts import Role
from sergas_tui.clock import Clock
from sergas_tui.domain import AuditAction, AuditEvent, redact
from sergas_tui.logs import get_logger
from sergas_tui.storage import Repository

log = get_logger("sergas.claude")

AGENT_NAMES: Mapping[Role, str] = {
    "scout": "zoho_scout",
    "analyst": "memory_analyst",
    "author": "recommendation_author",
}
"""The seed's agent names, as they appear in the audit log."""
RESULT_CHARS = 2000
"""A tool result is cut to this many characters in the audit log."""


def _json(value: Any) -> JsonValue:
    """``value`` as JSON data (anything unusual becomes its string form)."""
    try:
        return cast(JsonValue, json.loads(json.dumps(value, default=str)))
    except (TypeError, ValueError):
        return str(value)


def _account_of(tool_input: Mapping[str, Any]) -> str | None:
    value = tool_input.get("account_id")
    return value if isinstance(value, str) else None


class AuditTrail:
    """Appends the engine's audit rows (tool calls, model usage, fallbacks) for one run."""

    def __init__(self, repository: Repository, clock: Clock, run_id: str = "claude") -> None:
        self.repository = repository
        self.clock = clock
        self.run_id = run_id
        self.seen: set[str] = set()
        """tool_use_ids already audited by a hook."""

    async def append(self, event: AuditEvent) -> None:
        try:
            await asyncio.shield(asyncio.to_thread(self.repository.append_audit, event))
        except Exception as err:  # auditing must not break the review; it is logged
            log.error("audit_append_failed", action=event.action_type, error=repr(err))

    def event(self, role: Role | None, action: AuditAction, **fields: Any) -> AuditEvent:
        return AuditEvent(
            timestamp=self.clock.now(),
            session_id=self.run_id,
            agent_name=AGENT_NAMES[role] if role else "orchestrator",
            action_type=action,
            **fields,
        )

    async def tool_call(
        self,
        role: Role,
        tool_name: str,
        tool_input: Mapping[str, Any],
        tool_use_id: str | None,
        decision: Decision,
    ) -> None:
        if tool_use_id:
            self.seen.add(tool_use_id)
        if tool_name == STRUCTURED_OUTPUT:
            return  # the answer itself, audited as recommendations / model usage
        denied = isinstance(decision, Deny)
        await self.append(
            self.event(
                role,
                AuditAction.TOOL_DENIED if denied else AuditAction.TOOL_INVOCATION,
                account_id=_account_of(tool_input),
                tool_name=tool_name,
                tool_inputs=_json({**tool_input, "_tool_use_id": tool_use_id}),
                tool_outputs={"permission": "deny" if denied else "allow", "gate": "pre_tool_use"},
                error_message=decision.reason if isinstance(decision, Deny) else None,
            )
        )

    async def tool_result(
        self,
        role: Role,
        tool_name: str,
        tool_input: Mapping[str, Any],
        tool_use_id: str | None,
        response: Any,
    ) -> None:
        if tool_name == STRUCTURED_OUTPUT:
            return
        text = json.dumps(redact(_json(response)), ensure_ascii=False)
        await self.append(
            self.event(
                role,
                AuditAction.TOOL_INVOCATION,
                account_id=_account_of(tool_input),
                tool_name=tool_name,
                tool_inputs=_json({**tool_input, "_tool_use_id": tool_use_id}),
                tool_outputs={
                    "result": text[:RESULT_CHARS],
                    "chars": len(text),
                    "gate": "post_tool_use",
                },
            )
        )

    async def unseen_calls(self, role: Role, tool_uses: Sequence[ToolUseBlock]) -> int:
        """Audit tool calls no hook saw (the CLI refused them: not offered). Returns how many."""
        count = 0
        for block in tool_uses:
            if block.id in self.seen:
                continue
            self.seen.add(block.id)
            decision = decide(block.name, block.input, role)
            reason = (
                decision.reason
                if isinstance(decision, Deny)
                else f"{block.name} was not offered to the {role}"
            )
            await self.append(
                self.event(
                    role,
                    AuditAction.TOOL_DENIED,
                    account_id=_account_of(block.input),
                    tool_name=block.name,
                    tool_inputs=_json({**block.input, "_tool_use_id": block.id}),
                    tool_outputs={"permission": "deny", "gate": "not_offered"},
                    error_message=f"Refused by the CLI before any hook ran: {reason}",
                )
            )
            count += 1
        return count


def permission_gate(role: Role) -> CanUseTool:
    """``can_use_tool`` for ``role``: the pure policy, as the SDK's permission result."""

    async def can_use_tool(
        tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        decision = decide(tool_name, tool_input, role)
        if isinstance(decision, Allow):
            return PermissionResultAllow()
        return PermissionResultDeny(message=decision.reason)

    return can_use_tool


def audit_hooks(role: Role, trail: AuditTrail) -> dict[HookEvent, list[HookMatcher]]:
    """PreToolUse (audit every call, deny again) and PostToolUse (audit the result) hooks."""

    async def pre_tool_use(
        hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        data = cast(Mapping[str, Any], hook_input)
        name = str(data.get("tool_name", ""))
        raw_input = data.get("tool_input")
        tool_input: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}
        use_id = tool_use_id or data.get("tool_use_id")
        decision = decide(name, tool_input, role)
        await trail.tool_call(role, name, tool_input, use_id, decision)
        if isinstance(decision, Deny):
            return {
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": decision.reason,
                }
            }
        return {}

    async def post_tool_use(
        hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        data = cast(Mapping[str, Any], hook_input)
        raw_input = data.get("tool_input")
        tool_input: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}
        await trail.tool_result(
            role,
            str(data.get("tool_name", "")),
            tool_input,
            tool_use_id or data.get("tool_use_id"),
            data.get("tool_response"),
        )
        return {}

    return {
        "PreToolUse": [HookMatcher(hooks=[pre_tool_use])],
        "PostToolUse": [HookMatcher(hooks=[post_tool_use])],
    }
