"""Zoho's top-level error shape ``{"code","details","message","status":"error"}`` as an exception.

Handlers raise :class:`ZohoError`; the request pipeline turns it into the JSON response.
Per-record write errors use :func:`item_error` inside ``data[]`` instead.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

JsonDict = dict[str, Any]


def error_body(code: str, message: str, details: JsonDict | None = None) -> JsonDict:
    """The body of a Zoho error (top-level or per record)."""
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


class ZohoError(Exception):
    """An error answered as ``status`` with Zoho's error body."""

    def __init__(
        self, status: int, code: str, message: str, details: JsonDict | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.code, self.message, self.details), self.status)


def invalid_data(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "INVALID_DATA", message, details)


def required_param(name: str) -> ZohoError:
    return ZohoError(
        400,
        "REQUIRED_PARAM_MISSING",
        f"One of the expected parameter is missing: {name}",
        {"param": name},
    )


def invalid_module(name: str) -> ZohoError:
    return ZohoError(
        400,
        "INVALID_MODULE",
        "the module name given seems to be invalid",
        {"resource_path_index": 0, "module": name},
    )


def invalid_url() -> ZohoError:
    return ZohoError(
        404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
    )


def invalid_method() -> ZohoError:
    return ZohoError(
        400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
    )


def too_many_requests(message: str) -> ZohoError:
    return ZohoError(429, "TOO_MANY_REQUESTS", message)


def item_error(code: str, message: str, **details: Any) -> JsonDict:
    """One failed record in a write response's ``data[]``."""
    return error_body(code, message, details)


__all__ = [
    "JsonDict",
    "ZohoError",
    "error_body",
    "invalid_data",
    "invalid_method",
    "invalid_module",
    "invalid_url",
    "item_error",
    "required_param",
    "too_many_requests",
]
