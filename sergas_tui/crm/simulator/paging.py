"""Paging like Zoho's: ``page``/``per_page`` for the first records, signed ``page_token`` beyond.

A page token is opaque to clients: a signed, base64 payload holding where the next page starts
(keyset: the last row's sort value and id), how many records were served before it, when it
expires, and a digest of the parameters it is bound to. Changing those parameters gives
``TOKEN_BOUND_DATA_MISMATCH``; a forged or damaged token ``INVALID_DATA``; an old one
``EXPIRED_VALUE``; sending ``page`` too ``AMBIGUITY_DURING_PROCESSING``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sergas_tui.crm.simulator.errors import ZohoError, invalid_data

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Paging:
    """Where one page starts and how many rows it may hold."""

    per_page: int
    page: int
    offset: int
    limit: int
    after: tuple[str, str] | None = None
    served: int = 0
    token: str | None = None


class PageTokens:
    """Issues and checks page tokens with one secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()[:32]

    def issue(self, bound: str, after: tuple[str, str], served: int, expiry: datetime) -> str:
        payload = json.dumps(
            {"b": bound, "a": list(after), "n": served, "x": int(expiry.timestamp())},
            separators=(",", ":"),
        ).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._sign(payload)

    def check(self, token: str, bound: str, now: datetime) -> tuple[tuple[str, str], int]:
        """The keyset position and records served so far, or a Zoho error."""
        encoded, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            data: dict[str, Any] = json.loads(payload)
            after = (str(data["a"][0]), str(data["a"][1]))
            served, expiry, token_bound = int(data["n"]), int(data["x"]), str(data["b"])
        except (binascii.Error, ValueError, KeyError, IndexError, TypeError):
            raise invalid_data("invalid page token", param_name="page_token") from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise invalid_data("invalid page token", param_name="page_token")
        if now.timestamp() > expiry:
            raise ZohoError(
                400, "EXPIRED_VALUE", "the page token has expired", {"param_name": "page_token"}
            )
        if token_bound != bound:
            raise ZohoError(
                400,
                "TOKEN_BOUND_DATA_MISMATCH",
                "the page token is bound to other parameters",
                {"param_name": "page_token"},
            )
        return after, served


def bound_digest(*parts: object) -> str:
    """A short digest of the parameters a token is bound to."""
    text = json.dumps([str(part) for part in parts])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_data(
            f"invalid value for {name}", param_name=name, expected_data_type="integer"
        ) from None
    if not low <= value <= high:
        raise invalid_data(
            f"{name} must be between {low} and {high}", param_name=name, maximum=high
        )
    return value


def parse_paging(
    params: Mapping[str, str],
    tokens: PageTokens,
    bound: str,
    now: datetime,
    *,
    page_cap: int,
    token_cap: int | None,
    cap_code: str = "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
) -> Paging:
    """Read ``page``, ``per_page`` and ``page_token``; ``token_cap=None`` forbids tokens."""
    per_page = int_param(params, "per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
    token = params.get("page_token")
    if token and token_cap is not None:
        if params.get("page"):
            raise ZohoError(
                400,
                "AMBIGUITY_DURING_PROCESSING",
                "page and page_token cannot be given together",
                {"param_names": ["page", "page_token"]},
            )
        after, served = tokens.check(token, bound, now)
        if served >= token_cap:
            raise ZohoError(
                400,
                "PAGINATION_LIMIT_EXCEEDED",
                f"records beyond {token_cap} cannot be fetched",
                {"limit": token_cap},
            )
        limit = min(per_page, token_cap - served)
        return Paging(per_page, served // per_page + 1, 0, limit, after, served, token)
    page = int_param(params, "page", 1, 1, 10**9)
    offset = (page - 1) * per_page
    if offset >= page_cap:
        raise ZohoError(
            400,
            cap_code,
            f"only the first {page_cap} records can be fetched with page",
            {"limit": page_cap, "param_name": "page"},
        )
    return Paging(per_page, page, offset, min(per_page, page_cap - offset), None, offset)


def page_info(
    paging: Paging,
    count: int,
    more: bool,
    next_token: str | None,
    expiry: datetime | None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``info`` object of a page of records."""
    return {
        "per_page": paging.per_page,
        "count": count,
        "page": paging.page,
        **extra,
        "more_records": more,
        "next_page_token": next_token,
        "previous_page_token": paging.token,
        "page_token_expiry": None if expiry is None else expiry.astimezone(UTC).isoformat(),
    }


def token_expiry(now: datetime, ttl: timedelta) -> datetime:
    return (now + ttl).replace(microsecond=0)


__all__ = [
    "MAX_PER_PAGE",
    "PageTokens",
    "Paging",
    "bound_digest",
    "int_param",
    "page_info",
    "parse_paging",
    "token_expiry",
]
