"""Zoho error answers → typed CrmErrors whose messages name the code, the request and a fix."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sergas_tui.crm.errors_map import (
    error_from_item,
    error_from_response,
    error_from_token_response,
    error_from_transport,
    parse_error_body,
)
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

API = "https://www.zohoapis.com/crm/v8"
TOKEN = "1000.secret-access-token"


def _response(
    status: int,
    body: Any,
    *,
    method: str = "GET",
    path: str = "/Accounts",
    request_body: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request(
        method,
        f"{API}{path}",
        headers={"Authorization": f"Zoho-oauthtoken {TOKEN}"},
        content=json.dumps(request_body).encode() if request_body is not None else b"",
    )
    if isinstance(body, str | bytes):
        return httpx.Response(status, content=body, request=request, headers=headers)
    return httpx.Response(status, json=body, request=request, headers=headers)


def _top(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def _check(err: CrmError, cls: type[CrmError], *fragments: str, code: str | None = None) -> None:
    assert type(err) is cls
    for fragment in fragments:
        assert fragment in err.message, (fragment, err.message)
    assert TOKEN not in err.message
    if isinstance(err, CrmStatusError) and code is not None:
        assert err.code == code


@pytest.mark.parametrize(
    ("status", "code", "cls", "fragments"),
    [
        (401, "INVALID_TOKEN", CrmAuthError, ["sergas auth set zoho_refresh_token", "data centre"]),
        (401, "AUTHENTICATION_FAILURE", CrmAuthError, ["zoho.api_domain"]),
        (403, "NO_PERMISSION", CrmPermissionError, ["administrator"]),
        (404, "INVALID_URL_PATTERN", CrmNotFoundError, ["zoho.api_domain"]),
        (400, "INVALID_MODULE", CrmNotFoundError, ["not available in your Zoho org"]),
        (400, "LIMIT_EXCEEDED", CrmValidationError, ["50 fields"]),
        (400, "LIMIT_REACHED", CrmValidationError, ["2,000"]),
        (412, "ALREADY_MODIFIED", CrmConflictError, ["approve the change again"]),
        (400, "RECORD_LOCKED", CrmConflictError, ["locked"]),
        (400, "NOT_APPROVED", CrmConflictError, ["waiting for approval"]),
        (400, "INVALID_REQUEST_METHOD", CrmValidationError, ["bug in Sergas"]),
        (429, "TOO_MANY_REQUESTS", CrmRateLimitedError, ["credits", "zoho.concurrent_requests"]),
        (500, "INTERNAL_ERROR", CrmServerError, ["status.zoho.com"]),
        (400, "SYNTAX_ERROR", CrmValidationError, ["COQL", "bug in Sergas"]),
        (400, "INVALID_QUERY", CrmValidationError, ["COQL query"]),
        (403, "NOT_SUPPORTED", CrmPermissionError, ["administrator"]),
    ],
)
def test_top_level_error_codes(
    status: int, code: str, cls: type[CrmError], fragments: list[str]
) -> None:
    err = error_from_response(_response(status, _top(code, "zoho says no")))
    _check(err, cls, f"GET /crm/v8/Accounts with HTTP {status} {code}", "zoho says no", *fragments)
    assert isinstance(err, CrmStatusError)
    assert err.code == code
    assert err.status_code == status


@pytest.mark.parametrize(
    ("code", "details", "fragments"),
    [
        (
            "INVALID_DATA",
            {"api_name": "Annual_Revenue", "expected_data_type": "double"},
            ["field Annual_Revenue", "expected double"],
        ),
        ("MANDATORY_NOT_FOUND", {"api_name": "Subject"}, ["requires the field Subject"]),
        ("REQUIRED_PARAM_MISSING", {"param_name": "fields"}, ["parameter fields"]),
        ("DUPLICATE_DATA", {"api_name": "Account_Name"}, ["unique field Account_Name"]),
    ],
)
def test_validation_errors_name_the_field(
    code: str, details: dict[str, str], fragments: list[str]
) -> None:
    err = error_from_response(_response(400, _top(code, "bad", details)))
    _check(err, CrmValidationError, code, *fragments, code=code)
    assert isinstance(err, CrmStatusError)
    assert err.details == details


@pytest.mark.parametrize(
    ("method", "path", "request_body", "scopes"),
    [
        ("GET", "/Accounts", None, ["ZohoCRM.modules.accounts.READ"]),
        (
            "GET",
            "/Accounts/search",
            None,
            ["ZohoCRM.modules.accounts.READ", "ZohoSearch.securesearch.READ"],
        ),
        (
            "POST",
            "/coql",
            {"select_query": "select id from Deals where id is not null"},
            ["ZohoCRM.coql.READ", "ZohoCRM.modules.deals.READ"],
        ),
        ("POST", "/Tasks", {"data": [{}]}, ["ZohoCRM.modules.tasks.CREATE"]),
        ("PUT", "/Accounts/1", {"data": [{}]}, ["ZohoCRM.modules.accounts.UPDATE"]),
        ("GET", "/users", None, ["ZohoCRM.users.READ"]),
        ("GET", "/Deals/9/Stage_History", None, ["ZohoCRM.modules.deals.READ"]),
        (
            "GET",
            "/Accounts/9/Notes",
            None,
            ["ZohoCRM.modules.accounts.READ", "ZohoCRM.modules.notes.READ"],
        ),
    ],
)
def test_scope_mismatch_says_which_scope_to_grant(
    method: str, path: str, request_body: Any, scopes: list[str]
) -> None:
    response = _response(
        401,
        _top("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL"),
        method=method,
        path=path,
        request_body=request_body,
    )
    err = error_from_response(response)
    _check(err, CrmAuthError, "OAUTH_SCOPE_MISMATCH", *scopes, "Self Client")
    assert list(required_scopes(method, f"/crm/v8{path}", response.request.content)) == scopes


def test_per_record_error_inside_data() -> None:
    item = {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Subject", "json_path": "$.data[0].Subject"},
        "message": "required field not found",
        "status": "error",
    }
    response = _response(400, {"data": [item]}, method="POST", path="/Tasks")
    _check(
        error_from_response(response),
        CrmValidationError,
        "POST /crm/v8/Tasks with HTTP 400 MANDATORY_NOT_FOUND",
        "Subject",
    )
    partial = _response(207, {"data": [item]}, method="POST", path="/Tasks")
    err = error_from_item(item, partial)
    _check(err, CrmValidationError, "HTTP 207 MANDATORY_NOT_FOUND", code="MANDATORY_NOT_FOUND")


def test_both_429_shapes() -> None:
    new = error_from_response(_response(429, _top("TOO_MANY_REQUESTS", "too many requests")))
    old_body = {
        "code": 429,
        "error": "TOO_MANY_REQUESTS",
        "error_info": "You have exceeded the API limit for the past 24 hours.",
        "details": [],
    }
    old = error_from_response(_response(429, old_body))
    for err in (new, old):
        _check(err, CrmRateLimitedError, "TOO_MANY_REQUESTS", "24 hours", code="TOO_MANY_REQUESTS")
    assert "exceeded the API limit" in old.message


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (502, "<html>Bad Gateway</html>", CrmServerError),
        (503, b"", CrmServerError),
        (401, b"", CrmAuthError),
        (404, "not json", CrmNotFoundError),
        (400, {"code": "SOMETHING_NEW", "message": "new", "status": "error"}, CrmValidationError),
        (418, b"", CrmStatusError),
    ],
)
def test_status_alone_when_there_is_no_zoho_code(
    status: int, body: Any, cls: type[CrmError]
) -> None:
    err = error_from_response(_response(status, body))
    _check(err, cls, f"HTTP {status}")
    assert isinstance(err, CrmStatusError)
    assert err.status_code == status


def test_request_id_is_kept() -> None:
    response = _response(500, _top("INTERNAL_ERROR", "x"), headers={"X-Request-Id": "abc-123"})
    err = error_from_response(response)
    assert isinstance(err, CrmStatusError)
    assert err.request_id == "abc-123"


@pytest.mark.parametrize(
    ("status", "body", "cls", "fragments"),
    [
        (200, {"error": "invalid_client"}, CrmAuthError, ["'1000.CLIENT'", "zoho.data_centre"]),
        (200, {"error": "invalid_code"}, CrmAuthError, ["sergas auth set zoho_refresh_token"]),
        (
            200,
            {"error": "invalid_client_secret"},
            CrmAuthError,
            ["sergas auth set zoho_client_secret"],
        ),
        (
            400,
            {
                "error": "Access Denied",
                "error_description": "You have made too many requests continuously.",
                "status": "failure",
            },
            CrmRateLimitedError,
            ["10 minutes"],
        ),
        (500, "oops", CrmServerError, ["HTTP 500"]),
    ],
)
def test_accounts_server_errors(
    status: int, body: Any, cls: type[CrmError], fragments: list[str]
) -> None:
    request = httpx.Request("POST", "https://accounts.zoho.com/oauth/v2/token")
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    response = httpx.Response(status, request=request, **kwargs)
    err = error_from_token_response(
        response, accounts_server="https://accounts.zoho.com", client_id="1000.CLIENT"
    )
    _check(err, cls, "https://accounts.zoho.com", *fragments)


def test_transport_errors() -> None:
    request = httpx.Request("GET", f"{API}/Accounts")
    timeout = error_from_transport(httpx.ReadTimeout("slow", request=request), request)
    _check(timeout, CrmTimeoutError, "GET /crm/v8/Accounts", "zoho.timeout_seconds")
    refused = error_from_transport(httpx.ConnectError("refused", request=request), request)
    _check(refused, CrmConnectionError, "www.zohoapis.com", "refused", "network")


def test_parse_error_body_ignores_success_items() -> None:
    ok = {"code": "SUCCESS", "status": "success", "details": {"id": "1"}, "message": "ok"}
    assert parse_error_body({"data": [ok]}) is None
    assert parse_error_body(None) is None
    assert parse_error_body([1, 2]) is None
