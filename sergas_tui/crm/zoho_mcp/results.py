"""Reading tool results: Zoho's REST JSON out of an MCP result, and its errors as typed ones.

A Zoho tool answers with the raw Zoho REST v8 JSON in a text block (``data``,
``info.more_records``, per-record ``code``/``status``/``details`` for writes). Errors come back
as ``isError`` results *or* as a REST error object inside an ordinary result, and a REST 204 has
no documented MCP text at all. :func:`decode_tool_result` turns all of that into Zoho's JSON,
None for "nothing", or the typed :class:`~sergas_tui.errors.CrmError` (through
:func:`zoho_tool_error`), and the small row helpers here read what came back. Kept apart from
the session code so decoding can be tested (and reasoned about) without a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import mcp_types as types
from pydantic import TypeAdapter, ValidationError

from sergas_tui.crm.errors_map import ZohoErrorBody, build_error, parse_error_body
from sergas_tui.domain import ensure_aware
from sergas_tui.errors import CrmAuthError, CrmError, CrmServerError, CrmStatusError

Row = dict[str, Any]
EPOCH = datetime.min.replace(tzinfo=UTC)
"""The floor for sorting records without a timestamp."""
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


_CODE_STATUS: dict[str, int] = {
    "INVALID_TOKEN": 401,
    "AUTHENTICATION_FAILURE": 401,
    "OAUTH_SCOPE_MISMATCH": 401,
    "NO_PERMISSION": 403,
    "NOT_SUPPORTED": 403,
    "INVALID_URL_PATTERN": 404,
    "ALREADY_MODIFIED": 412,
    "TOO_MANY_REQUESTS": 429,
    "INTERNAL_ERROR": 500,
}
"""The HTTP status Zoho's REST API gives each code (an MCP result carries no status)."""

AUTH_ADVICE = (
    "Zoho's MCP server could not act for you in Zoho CRM. Authorize the server again in Zoho's "
    "MCP console (or give your Zoho profile API access), store a fresh OAuth token with "
    "`sergas auth set zoho_mcp_token` if the server uses authorization on demand, and if the "
    "server's key was regenerated store the new URL with `sergas auth set zoho_mcp_url`."
)
_NO_CONTENT = re.compile(
    r"^\s*(null|\{\s*\}|\[\s*\])?\s*$|\bno (content|records?|data)\b|\b204\b", re.I
)
_EMPTY_ERROR = re.compile(r"\bno (content|records?)\b|\b204\b", re.I)
_AUTH_TEXT = re.compile(
    r"\b401\b|unauthori[sz]ed|invalid[_ ]token|invalid oauth|authentication (required|failure)",
    re.I,
)
_MAX_SHOWN = 300


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def zoho_tool_error(tool: str, error: ZohoErrorBody) -> CrmStatusError:
    """The typed error for a Zoho error object that a tool returned."""
    status = _CODE_STATUS.get(error.code or "", 400)
    base = build_error(status, error, request=None)
    what = f"Zoho's MCP tool {tool} answered {error.code or 'an error'}"
    if error.message:
        what += f" ({error.message.rstrip('. ')})"
    if isinstance(base, CrmAuthError):
        message = f"{what}. {AUTH_ADVICE}"
    else:
        prefix = f"Zoho answered the request with HTTP {status}"
        rest = base.message[len(prefix) :] if base.message.startswith(prefix) else base.message
        advice = rest.split(". ", 1)[1] if ". " in rest else "See the Zoho error above."
        message = f"{what}. {advice}"
    return type(base)(
        message, status_code=status, code=error.code, request_id=None, details=error.details
    )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def _is_error_body(body: Mapping[str, Any]) -> bool:
    if isinstance(body.get("data"), list):
        return False
    if body.get("status") == "error":
        return True
    return isinstance(body.get("code"), str | int) or isinstance(body.get("error"), str)


def _refused(tool: str, text: str) -> CrmAuthError:
    return CrmAuthError(
        f"Zoho's MCP tool {tool} was refused: {_shown(text)}. {AUTH_ADVICE}", status_code=401
    )


def decode_tool_result(tool: str, result: types.CallToolResult) -> dict[str, Any] | None:
    """Zoho's REST JSON from a tool result; None when it says there was nothing (a REST 204).

    ``isError`` results and REST error objects inside ordinary results raise the typed
    :class:`CrmError`; so do auth failures reported as plain text. (Zoho does not document the
    MCP text of a REST 204: empty text, ``{}``, a "no content"/"no records" sentence and a
    ``{"message": "...success..."}`` object all count as nothing.)
    """
    text = _text_of(result)
    structured = result.structured_content
    decoded: Any = structured if isinstance(structured, dict) and structured else _json(text)
    if isinstance(decoded, list):
        decoded = {"data": decoded}
    if result.is_error:
        parsed = parse_error_body(decoded) if isinstance(decoded, Mapping) else None
        if parsed is not None:
            raise zoho_tool_error(tool, parsed)
        if _AUTH_TEXT.search(text):
            raise _refused(tool, text)
        if decoded is None and _EMPTY_ERROR.search(text):  # "no records match" as an error
            return None
        raise CrmError(f"Zoho's MCP tool {tool} failed: {_shown(text) or 'no reason given'}.")
    if isinstance(decoded, dict):
        if _is_error_body(decoded):
            parsed = parse_error_body(decoded)
            shown = str(decoded.get("message") or text)
            if parsed is None:
                raise CrmError(f"Zoho's MCP tool {tool} answered an error: {_shown(shown)}.")
            raise zoho_tool_error(tool, parsed)
        if set(decoded) == {"message"}:
            message = str(decoded["message"])
            if "success" in message.lower() or _NO_CONTENT.search(message):
                return None
            if _AUTH_TEXT.search(message):
                raise _refused(tool, message)
            raise CrmError(f"Zoho's MCP tool {tool} answered: {_shown(message)}.")
        return decoded if decoded else None
    if _AUTH_TEXT.search(text):
        raise _refused(tool, text)
    if decoded is None and _NO_CONTENT.search(text):
        return None
    raise CrmServerError(
        f"Zoho's MCP tool {tool} answered with text Sergas cannot read as Zoho data: "
        f"{_shown(text)}",
        status_code=502,
    )


def rows_of(body: Mapping[str, Any] | None, key: str = "data") -> list[Row]:
    if body is None:
        return []
    items = body.get(key)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def info_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    info = body.get("info")
    return info if isinstance(info, Mapping) else {}


def modified_of(row: Mapping[str, Any]) -> datetime | None:
    try:
        return ensure_aware(_DATETIME.validate_python(row.get("Modified_Time")))
    except ValidationError:
        return None


__all__ = [
    "AUTH_ADVICE",
    "EPOCH",
    "Row",
    "decode_tool_result",
    "info_of",
    "modified_of",
    "rows_of",
    "zoho_tool_error",
]
