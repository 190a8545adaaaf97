"""One audit row in words: the one-line summary of each kind of event and its status word,
as the audit screen lists them. Values are shown as the audit log stores them (already
redacted); records and owners are named through :class:`~sergas_tui.domain.names.RecordNames`
when the screen has them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sergas_tui.domain.audit import AuditAction, AuditEvent
from sergas_tui.domain.names import RecordNames


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _id8(value: Any) -> str:
    return str(value)[:8] if value else "?"


_QUIET_KEYS = frozenset({"owner_email"})
"""Tool arguments left out of summaries (the owner is the same on nearly every row)."""


_ID_MODULES = {
    "account_id": "Accounts",
    "deal_id": "Deals",
    "contact_id": "Contacts",
    "parent_id": "Accounts",
}
"""Tool arguments holding a record id, and the record's module (to name it)."""


def _arg(key: str, value: Any, names: RecordNames | None) -> str:
    module = _ID_MODULES.get(key)
    if names is not None and module and isinstance(value, str):
        return names.label(module, value)
    return _short(value, 24)


def _pairs(value: Any, limit: int = 3, names: RecordNames | None = None) -> str:
    """``key=value`` for the first scalar items of a mapping (nulls left out); record ids are
    named when ``names`` knows them."""
    if not isinstance(value, Mapping):
        return "" if value is None else _short(value, 40)
    items = [
        f"{k}={_arg(str(k), v, names)}"
        for k, v in value.items()
        if v is not None and not isinstance(v, Mapping | list) and k not in _QUIET_KEYS
    ]
    return " ".join(items[:limit])


_COUNT_WORDS = {"count": "records"}


def _counts(value: Any, limit: int = 4) -> str:
    """``n key`` for the numeric items of a mapping, e.g. ``30 accounts, 48 recommendations``."""
    if not isinstance(value, Mapping):
        return "" if value is None else _short(value, 40)
    items = [
        f"{v} {_COUNT_WORDS.get(k, k)}"
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return ", ".join(items[:limit])


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _tool_call(event: AuditEvent, names: RecordNames | None) -> str:
    parts = [event.tool_name or "tool"]
    args = _pairs(event.tool_inputs, names=names)
    if args:
        parts.append(args)
    result = _counts(event.tool_outputs, 3) or _pairs(event.tool_outputs, 2)
    if result:
        parts.append(f"→ {result}")
    if event.execution_time_ms is not None:
        parts.append(f"· {event.execution_time_ms} ms")
    return " ".join(parts)


def _recommendation(event: AuditEvent) -> str:
    out = event.tool_outputs
    kind = _get(out, "type") or "recommendation"
    priority = _get(out, "priority")
    action = _get(out, "suggested_action")
    what = next(
        (
            _get(action, key)
            for key in ("subject", "title", "escalate_to")
            if isinstance(_get(action, key), str)
        ),
        None,
    )
    text = f"recommends {kind}" + (f" ({priority})" if priority else "")
    return f"{text}: {_short(what)}" if what else text


def _decision(event: AuditEvent) -> str:
    inputs = event.tool_inputs
    actor = _get(inputs, "actor") or event.agent_name
    if _get(inputs, "undo"):
        was = _get(inputs, "undone_status")
        return f"undone by {actor}" + (f" (was {was})" if was else "")
    text = f"{event.decision or 'decided'} by {actor}"
    if _get(inputs, "before") is not None and _get(inputs, "after") is not None:
        text += " (payload edited)"
    if _get(inputs, "feedback") == "not_useful":
        text += " (not useful)"
    if event.decision_rationale:
        text += f": {_short(event.decision_rationale, 60)}"
    return text


_MUTE_VERBS = {
    AuditAction.SIGNAL_SNOOZED: "snoozed",
    AuditAction.SIGNAL_DISMISSED: "dismissed",
    AuditAction.SIGNAL_UNMUTED: "unmuted",
}


def _mute(event: AuditEvent) -> str:
    """``'Gone quiet' snoozed until 2027-01-10 by ana@…: customer on holiday``."""
    inputs = event.tool_inputs
    signal = _get(inputs, "signal") or _get(inputs, "signal_key") or "signal"
    text = f"{_short(signal, 30)!r} {_MUTE_VERBS.get(AuditAction(event.action_type), 'muted')}"
    until = _get(inputs, "until")
    if event.action_type != AuditAction.SIGNAL_UNMUTED:
        text += f" until {until}" if until else " for good"
    text += f" by {_get(inputs, 'actor') or event.agent_name}"
    if event.decision_rationale and event.action_type != AuditAction.SIGNAL_UNMUTED:
        text += f": {_short(event.decision_rationale, 60)}"
    return text


_WRITE_MODULES = {"create_task": "Tasks", "add_note": "Notes", "update_account": "Accounts"}


def _executed(event: AuditEvent, names: RecordNames | None) -> str:
    out = event.tool_outputs
    method = event.tool_name or "CRM write"
    if event.error_message:
        return f"{method} failed: {_short(event.error_message, 60)}"
    record = _get(out, "record_id")
    shown = None
    if record:
        module = _WRITE_MODULES.get(method, "Tasks")
        shown = (names or RecordNames()).label(module, str(record))
    text = f"{method} written" + (f" → {shown}" if shown else "")
    if _get(out, "found_existing"):
        text = f"{method} already in the CRM" + (f" ({shown})" if shown else "")
    return text


def summarize(event: AuditEvent, names: RecordNames | None = None) -> str:
    """One line saying what happened, per action type (plain text; the screen escapes it)."""
    action = event.action_type
    inputs, outputs = event.tool_inputs, event.tool_outputs
    if action == AuditAction.TOOL_INVOCATION:
        text = _tool_call(event, names)
    elif action == AuditAction.RECOMMENDATION_GENERATED:
        text = _recommendation(event)
    elif action == AuditAction.APPROVAL_REQUESTED:
        text = (
            f"approval {_id8(_get(inputs, 'approval_id'))} requested "
            f"(recommendation {_id8(_get(inputs, 'recommendation_id'))})"
        )
    elif action == AuditAction.APPROVAL_DECIDED:
        text = _decision(event)
    elif action == AuditAction.APPROVAL_EXPIRED:
        text = f"approval {_id8(_get(inputs, 'approval_id'))} expired unanswered"
    elif action == AuditAction.ACTION_EXECUTED:
        text = _executed(event, names)
    elif action == AuditAction.TOOL_DENIED:
        reason = _short(event.error_message or "", 80)
        if reason.startswith("refused"):
            text = f"{event.tool_name or 'tool'} {reason}"
        else:
            text = f"{event.tool_name or 'tool'} refused" + (f": {reason}" if reason else "")
    elif action == AuditAction.REVIEW_STARTED:
        text = f"review of {event.owner_email or 'all owners'} started"
    elif action == AuditAction.REVIEW_COMPLETED:
        counts = _counts(outputs)
        text = "review completed" + (f": {counts}" if counts else "")
    elif action == AuditAction.REVIEW_CANCELLED:
        text = f"review of {event.owner_email or 'all owners'} cancelled"
    elif action in _MUTE_VERBS:
        text = _mute(event)
    elif action == AuditAction.SYNC_COMPLETED:
        counts = _counts(outputs)
        text = "sync completed" + (f": {counts}" if counts else "")
    else:
        text = " ".join(
            part
            for part in (
                event.tool_name,
                _pairs(inputs, names=names),
                _counts(outputs) or _pairs(outputs, names=names),
            )
            if part
        )
        text = text or action
    if event.error_message and action not in (
        AuditAction.ACTION_EXECUTED,
        AuditAction.TOOL_DENIED,
    ):
        text += f" · error: {_short(event.error_message, 50)}"
    return text


def status_of(event: AuditEvent) -> str:
    """A one-word marker: what a reviewer scans the list for."""
    if event.action_type == AuditAction.TOOL_DENIED:
        return "denied"
    if event.error_message:
        return "error"
    if event.action_type == AuditAction.APPROVAL_DECIDED:
        if _get(event.tool_inputs, "undo"):
            return "undone"
        return event.decision or "decided"
    if event.action_type == AuditAction.APPROVAL_EXPIRED:
        return "expired"
    if event.action_type in _MUTE_VERBS:
        return _MUTE_VERBS[AuditAction(event.action_type)]
    return "ok"
