"""Results and errors of the Zoho MCP tools on the wire, shared by server and client.

A successful call's result is the result model dumped to JSON (and redacted: the MCP server is
where CRM data leaves for agents), sent once as a text block. Expected failures travel as
``isError`` results whose text is "<title>: <message>" and whose ``_meta`` holds an error
envelope under :data:`ERROR_META_KEY` (:func:`error_envelope`); :func:`error_from_envelope`
turns one back into the same typed :class:`CrmError` on the client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from sergas_tui import errors
from sergas_tui.crm.approval_gate import ApprovalRefusedError
from sergas_tui.domain import REDACTED, is_sensitive_field, redact

ERROR_META_KEY = "sergas/error"
"""Where an error result's ``_meta`` carries the typed error (clients may ignore it)."""


def dump_result(value: Any) -> dict[str, Any]:
    """The JSON structured content of a result (a pydantic model or a dataclass), redacted."""
    data: dict[str, Any] = TypeAdapter(type(value)).dump_python(value, mode="json")
    redacted: dict[str, Any] = redact_changes(redact(data))
    return redacted


def redact_changes(value: Any) -> Any:
    """Hide ``old``/``new`` of changes to sensitive fields (the field name is a value there)."""
    if isinstance(value, dict):
        hidden = is_sensitive_field(value.get("field"))
        return {
            key: REDACTED
            if hidden and key in ("old", "new") and item is not None
            else redact_changes(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_changes(item) for item in value]
    return value


def to_text(data: Any) -> str:
    """Compact JSON for clients that only read text content."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


ERROR_TYPES: Mapping[str, type[errors.CrmError]] = {
    cls.__name__: cls
    for cls in (
        errors.CrmError,
        errors.CrmConnectionError,
        errors.CrmTimeoutError,
        errors.CrmStatusError,
        errors.CrmAuthError,
        errors.CrmPermissionError,
        errors.CrmNotFoundError,
        errors.CrmValidationError,
        errors.CrmConflictError,
        errors.CrmRateLimitedError,
        errors.CrmServerError,
        ApprovalRefusedError,
    )
}
"""The error classes an envelope may name; anything else comes back as a plain CrmError."""


def error_envelope(err: errors.CrmError) -> dict[str, Any]:
    """The structured content of an ``isError`` result for ``err``."""
    body: dict[str, Any] = {"type": type(err).__name__, "title": err.title, "message": err.message}
    if isinstance(err, errors.CrmStatusError):
        body |= {"status_code": err.status_code, "code": err.code, "request_id": err.request_id}
    if isinstance(err, ApprovalRefusedError):
        body["reason"] = str(err.reason)
    if isinstance(err, errors.CrmRateLimitedError) and err.retry_after is not None:
        body["retry_after"] = err.retry_after
    return {"error": body}


def error_from_envelope(structured: Any, fallback_message: str) -> errors.CrmError:
    """The typed error an ``isError`` result describes (a plain CrmError when it says nothing)."""
    body = structured.get("error") if isinstance(structured, Mapping) else None
    if not isinstance(body, Mapping):
        return errors.CrmError(fallback_message or "The Zoho MCP server reported an error.")
    message = str(body.get("message") or fallback_message or "The Zoho MCP server failed.")
    title = body.get("title") if isinstance(body.get("title"), str) else None
    cls = ERROR_TYPES.get(str(body.get("type")), errors.CrmError)
    if cls is ApprovalRefusedError:
        return ApprovalRefusedError(str(body.get("reason") or "refused"), message)
    if issubclass(cls, errors.CrmStatusError):
        status = body.get("status_code")
        limited = issubclass(cls, errors.CrmRateLimitedError)
        more: dict[str, Any] = {}
        if limited:
            after = body.get("retry_after")
            more["retry_after"] = (
                float(after) if isinstance(after, int | float) and after >= 0 else None
            )
        return cls(
            message,
            status_code=status if isinstance(status, int) else (429 if limited else 0),
            code=_text_or_none(body.get("code")),
            request_id=_text_or_none(body.get("request_id")),
            title=title,
            **more,
        )
    return cls(message, title)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
