"""Zoho error answers → the typed :class:`~sergas_tui.errors.CrmError` hierarchy.

Every message names the request (``GET /crm/v8/Accounts``), the HTTP status and Zoho's code,
and says what to do. Shapes understood (reference §1.1, §2.7):

- top level ``{"code", "message", "details", "status": "error"}``;
- per record inside ``{"data": [{"code", "message", "details", "status": "error"}]}``;
- the older 429 body ``{"code": 429, "error": "TOO_MANY_REQUESTS", "error_info": ...}``;
- accounts-server answers ``{"error": "invalid_client" | "invalid_code" | ...}``, often HTTP 200;
- bodies that are not JSON (a proxy's HTML page): classified by status alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from sergas_tui.crm.scopes import required_scopes
from sergas_tui.errors import (
    CrmAuthError,
    CrmConflictError,
    CrmConnectionError,
    CrmError,
    CrmNotFoundError,
    CrmPermissionError,
    CrmRateLimitedError,
    CrmServerError,
    CrmStatusError,
    CrmTimeoutError,
    CrmValidationError,
)

LOCAL_FILE_ERROR = "SERGAS_DEMO_FILE_ERROR"
"""The code our demo simulator answers when its org file (SQLite) fails: a local problem,
which must never read as an outage at Zoho."""
REQUEST_ID_HEADERS: tuple[str, ...] = ("x-request-id", "x-zcrm-request-id", "x-correlation-id")
_BUG = "This is a bug in Sergas; please report it with the log file."
_MAYBE_BUG = "otherwise it is a bug in Sergas: please report it with the log file."
_NEW_REFRESH_TOKEN = (
    "generate a new grant code in the Zoho API console (Self Client), exchange it for a refresh "
    "token and store that with `sergas auth set zoho_refresh_token`"
)

# code -> (error class, advice). Advice may use {api_name}, {param_name}, {expected}.
_CODES: dict[str, tuple[type[CrmStatusError], str]] = {
    "INVALID_TOKEN": (
        CrmAuthError,
        "Zoho rejected the access token even after a fresh one was fetched. The refresh token "
        "may belong to another data centre or org (check zoho.data_centre and zoho.api_domain) "
        f"or has been revoked: {_NEW_REFRESH_TOKEN}.",
    ),
    "AUTHENTICATION_FAILURE": (
        CrmAuthError,
        "The request reached Zoho without a usable access token. Check that zoho.api_domain is "
        "the API domain of your data centre and that a refresh token is stored "
        "(`sergas auth status`).",
    ),
    "NO_PERMISSION": (
        CrmPermissionError,
        "Your Zoho profile may not do this. Ask your Zoho administrator to give your profile "
        "access to this module or action.",
    ),
    "NOT_SUPPORTED": (
        CrmPermissionError,
        "Zoho does not allow this for your user (listing the whole Notes module, for example, "
        "needs an administrator).",
    ),
    "INVALID_URL_PATTERN": (
        CrmNotFoundError,
        "Zoho does not know this URL. Check zoho.api_domain (the API domain of your data "
        f"centre, e.g. https://www.zohoapis.eu); {_MAYBE_BUG}",
    ),
    "INVALID_MODULE": (
        CrmNotFoundError,
        "The module is not available in your Zoho org (disabled, renamed or not in your "
        "edition). Enable it in Zoho CRM Setup or ask your administrator.",
    ),
    "INVALID_DATA": (
        CrmValidationError,
        "Zoho rejected a value{field_part}{expected_part}. Check it; a record id may point at "
        "a record that was deleted.",
    ),
    "MANDATORY_NOT_FOUND": (
        CrmValidationError,
        "Zoho requires the field {api_name}; include it and try again.",
    ),
    "REQUIRED_PARAM_MISSING": (
        CrmValidationError,
        f"Sergas left out the required parameter {{param_name}}. {_BUG}",
    ),
    "DUPLICATE_DATA": (
        CrmValidationError,
        "Another record already has this value in the unique field {api_name}. Change the "
        "value, or update the existing record instead.",
    ),
    "LIMIT_EXCEEDED": (
        CrmValidationError,
        "The request goes over a Zoho limit (at most 50 fields, 100 records per write, 2,000 "
        f"COQL rows, 25 conditions). Narrow the request; {_MAYBE_BUG}",
    ),
    "LIMIT_REACHED": (
        CrmValidationError,
        "Zoho's search stops at 2,000 records. Use a more specific search.",
    ),
    "ALREADY_MODIFIED": (
        CrmConflictError,
        "Someone changed the record in Zoho after Sergas read it. Review the current values "
        "and approve the change again.",
    ),
    "RECORD_LOCKED": (
        CrmConflictError,
        "The record is locked in Zoho (by an approval process, a blueprint or a lock). Unlock "
        "it in Zoho or wait until it is released, then try again.",
    ),
    "NOT_APPROVED": (
        CrmConflictError,
        "The record is waiting for approval in Zoho and cannot change until it is approved or "
        "rejected there.",
    ),
    "INVALID_REQUEST_METHOD": (
        CrmValidationError,
        f"Zoho does not accept this HTTP method for this URL. {_BUG}",
    ),
    "TOO_MANY_REQUESTS": (
        CrmRateLimitedError,
        "Zoho is throttling: too many requests are in flight at once, or the org's API credits "
        "for the last 24 hours are used up. Sergas already retried with backoff. Wait a few "
        "minutes (credits free up on a rolling 24-hour window) or lower "
        "zoho.concurrent_requests and zoho.requests_per_minute.",
    ),
    LOCAL_FILE_ERROR: (
        CrmServerError,
        "This is a problem on this machine, not at Zoho: the demo CRM's file could not be read "
        "or written. Close other Sergas programs using this workspace if the disk is full or "
        "the file was replaced, then try again; `sergas doctor` checks the file, and `sergas "
        "demo reset` rebuilds the demo org if it is damaged.",
    ),
    "INTERNAL_ERROR": (
        CrmServerError,
        "Zoho had an internal error; Sergas already retried. Try again later, and check "
        "https://status.zoho.com if it persists.",
    ),
    "SYNTAX_ERROR": (
        CrmValidationError,
        f"Zoho could not parse the COQL query Sergas sent. {_BUG}",
    ),
    "INVALID_QUERY": (
        CrmValidationError,
        "Zoho rejected the COQL query (an unknown field, or a field type or operator COQL does "
        "not support). If a field was renamed or removed in your org, restore it; "
        f"{_MAYBE_BUG}",
    ),
    "DISCRETE_PAGINATION_LIMIT_EXCEEDED": (
        CrmValidationError,
        f"Zoho only pages by number through the first 2,000 records. {_BUG}",
    ),
    "PAGINATION_LIMIT_EXCEEDED": (
        CrmValidationError,
        "Zoho lists at most 100,000 records this way. Narrow the request (by owner or date).",
    ),
    "EXPIRED_VALUE": (
        CrmValidationError,
        "A page token expired (they last 24 hours). Run the listing again from the start.",
    ),
}

_STATUS_CLASSES: dict[int, type[CrmStatusError]] = {
    400: CrmValidationError,
    401: CrmAuthError,
    403: CrmPermissionError,
    404: CrmNotFoundError,
    409: CrmConflictError,
    412: CrmConflictError,
    422: CrmValidationError,
    429: CrmRateLimitedError,
}
_STATUS_ADVICE: dict[type[CrmStatusError], str] = {
    CrmAuthError: f"Check the Zoho sign-in: {_NEW_REFRESH_TOKEN}.",
    CrmPermissionError: "Ask your Zoho administrator for access.",
    CrmNotFoundError: "The record or URL does not exist; check zoho.api_domain and the id.",
    CrmValidationError: "Zoho did not accept the request as sent.",
    CrmConflictError: "The record changed in Zoho; review it and try again.",
    CrmRateLimitedError: _CODES["TOO_MANY_REQUESTS"][1],
    CrmServerError: "Zoho (or a proxy in between) failed; Sergas already retried. Try again later.",
}


@dataclass(frozen=True)
class ZohoErrorBody:
    """Zoho's code, message and details from any error shape."""

    code: str | None
    message: str | None
    details: object | None = None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def parse_error_body(body: object) -> ZohoErrorBody | None:
    """Zoho's error from a decoded body of any known shape; None when there is none."""
    if not isinstance(body, Mapping):
        return None
    if code := _text(body.get("code")):
        return ZohoErrorBody(code, _text(body.get("message")), body.get("details"))
    if error := _text(body.get("error")):
        message = _text(body.get("error_info")) or _text(body.get("error_description"))
        return ZohoErrorBody(error, message or _text(body.get("message")), body.get("details"))
    data = body.get("data")
    if isinstance(data, list):
        for item in data:
            failed = isinstance(item, Mapping) and item.get("status") != "success"
            if failed and (parsed := parse_error_body(item)):
                return parsed
    return None


def decode_json(response: httpx.Response) -> object | None:
    """The response body as JSON, or None when empty or not JSON."""
    if not response.content:
        return None
    try:
        decoded: object = json.loads(response.content)
    except ValueError:
        return None
    return decoded


def error_code(response: httpx.Response) -> str | None:
    """Zoho's error code in a response, if any."""
    parsed = parse_error_body(decode_json(response))
    return parsed.code if parsed else None


def request_label(request: httpx.Request) -> str:
    """``METHOD /path`` (no host, no query: queries can hold search words)."""
    return f"{request.method} {request.url.path}"


def _request_id(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value: str | None = response.headers.get(name)
        if value:
            return value
    return None


# --- building errors --------------------------------------------------------------------------


def _scope_advice(request: httpx.Request | None) -> str:
    scopes: tuple[str, ...] = ("ZohoCRM.modules.ALL",)
    if request is not None:
        scopes = required_scopes(request.method, request.url.path, request.content)
    broad = "ZohoCRM.settings.ALL" if scopes[0].startswith("ZohoCRM.settings") else None
    return (
        f"The Zoho token lacks the scope{'s' if len(scopes) > 1 else ''} "
        f"{' and '.join(scopes)}. Grant {'them' if len(scopes) > 1 else 'it'} (or "
        f"{broad or 'ZohoCRM.modules.ALL'}) when you generate the grant code in the Zoho API "
        "console (Self Client), exchange the code for a refresh token and store that with "
        "`sergas auth set zoho_refresh_token`."
    )


def _advice(code: str | None, cls: type[CrmStatusError], details: object) -> str:
    entry = _CODES.get(code or "")
    if entry is None:
        return _STATUS_ADVICE.get(cls, "See the Zoho error above.")
    detail = details if isinstance(details, Mapping) else {}
    api_name = str(detail.get("api_name") or "named in the error")
    expected = detail.get("expected_data_type")
    return entry[1].format(
        api_name=api_name,
        param_name=str(detail.get("param_name") or "named in the error"),
        field_part=f" in the field {detail['api_name']}" if detail.get("api_name") else "",
        expected_part=f" (expected {expected})" if expected else "",
    )


def _classify(code: str | None, status_code: int) -> type[CrmStatusError]:
    if code in _CODES:
        return _CODES[code][0]
    if code == "OAUTH_SCOPE_MISMATCH":
        return CrmAuthError
    if status_code >= 500:
        return CrmServerError
    if status_code < 300:  # a failed record inside a 200/201/207 answer
        return CrmValidationError
    return _STATUS_CLASSES.get(status_code, CrmStatusError)


def build_error(
    status_code: int,
    error: ZohoErrorBody | None,
    *,
    request: httpx.Request | None,
    request_id: str | None = None,
) -> CrmStatusError:
    """A typed error for ``error`` (or for the bare status when Zoho sent no code)."""
    code = error.code if error else None
    details = error.details if error else None
    cls = _classify(code, status_code)
    label = request_label(request) if request is not None else "the request"
    who = "The demo CRM on this machine" if code == LOCAL_FILE_ERROR else "Zoho"
    what = f"{who} answered {label} with HTTP {status_code}"
    if code:
        what += f" {code}"
    if error and error.message:
        what += f" ({error.message.rstrip('. ')})"
    else:
        what += " and no Zoho error code" if not code else ""
    if code == "OAUTH_SCOPE_MISMATCH":
        advice = _scope_advice(request)
    else:
        advice = _advice(code, cls, details)
    return cls(
        f"{what}. {advice}",
        status_code=status_code,
        code=code,
        request_id=request_id,
        details=details,
    )


def _request_of(response: httpx.Response) -> httpx.Request | None:
    try:
        return response.request
    except RuntimeError:
        return None


def error_from_response(response: httpx.Response) -> CrmStatusError:
    """The typed error for a failed API response (any status ≥ 300, or an error body)."""
    return build_error(
        response.status_code,
        parse_error_body(decode_json(response)),
        request=_request_of(response),
        request_id=_request_id(response),
    )


def error_from_item(item: Mapping[str, object], response: httpx.Response) -> CrmStatusError:
    """The typed error for one failed record of a write (``data[i]`` with status error)."""
    parsed = parse_error_body(item) or ZohoErrorBody(None, None, item.get("details"))
    return build_error(
        response.status_code,
        parsed,
        request=_request_of(response),
        request_id=_request_id(response),
    )


# --- accounts server and transport ------------------------------------------------------------


def error_from_token_response(
    response: httpx.Response, *, accounts_server: str, client_id: str
) -> CrmStatusError:
    """The typed error for a refused token refresh (often HTTP 200 with ``{"error": ...}``)."""
    parsed = parse_error_body(decode_json(response))
    code = parsed.code if parsed else None
    description = (parsed.message if parsed else None) or ""
    status = response.status_code
    where = f"Zoho's accounts server {accounts_server} refused to refresh the access token"
    where += f" (HTTP {status}{' ' + code if code else ''}"
    where += f": {description})" if description else ")"
    if code == "invalid_client":
        advice = (
            f"It does not know the client id {client_id!r}: your org is probably in another "
            "data centre. Set zoho.data_centre (or zoho.accounts_url) to your org's data "
            "centre, or check zoho.client_id against the Self Client in the Zoho API console."
        )
        cls: type[CrmStatusError] = CrmAuthError
    elif code == "invalid_code":
        advice = (
            "The refresh token was revoked, has expired or was minted in another data centre: "
            f"{_NEW_REFRESH_TOKEN}."
        )
        cls = CrmAuthError
    elif code == "invalid_client_secret":
        advice = (
            "The client secret does not match the client id. Copy it again from the Self Client "
            "and store it with `sergas auth set zoho_client_secret`."
        )
        cls = CrmAuthError
    elif "too many requests" in description.lower():
        advice = (
            "A refresh token may mint only about 10 access tokens per 10 minutes. Wait 10 "
            "minutes, and make sure no other program uses the same refresh token in a loop."
        )
        cls = CrmRateLimitedError
    elif status >= 500:
        advice = "The accounts server failed; Sergas already retried. Try again later."
        cls = CrmServerError
    else:
        advice = (
            f"Check zoho.client_id and the stored secrets; if that fails, {_NEW_REFRESH_TOKEN}."
        )
        cls = CrmAuthError
    return cls(
        f"{where}. {advice}",
        status_code=status,
        code=code,
        request_id=_request_id(response),
        details=parsed.details if parsed else None,
    )


def error_from_transport(err: httpx.TransportError, request: httpx.Request) -> CrmError:
    """Timeouts → :class:`CrmTimeoutError`; everything else → :class:`CrmConnectionError`."""
    label = f"{request_label(request)} on {request.url.host}"
    reason = str(err) or type(err).__name__
    if isinstance(err, httpx.TimeoutException):
        return CrmTimeoutError(
            f"{label} timed out ({type(err).__name__}), also after retries. Zoho may be slow or "
            "unreachable: try again later, or raise zoho.timeout_seconds."
        )
    return CrmConnectionError(
        f"Cannot reach Zoho for {label}: {reason}. Check the network connection and proxy, and "
        "that zoho.data_centre / zoho.api_domain name your org's data centre."
    )
