"""Bounded MCP results: pages of at most about 100 KB, continued with a ``page_token``.

A list tool's first call reads from the CRM once; the result is kept in a small in-memory
:class:`PageCache` under a random cursor and served page by page. A page holds whole records in
their original order, as many as fit in ``max_bytes`` (at least one; a single record larger
than a page has its longest texts cut, saying so in the text) and, when asked, at most
``limit``. The page says ``total`` and, when more remain, ``next_page_token``.

The lists to page through are named by key; a dotted key (``"historical_context.key_events"``)
names a list inside a nested object. Everything else in the result is repeated on each page.
:func:`merge_page` is the client's side: it appends a page's lists to what came before.

Shared by our Zoho and memory MCP servers' list tools. It lives at the package root so that the
``crm`` and ``memory`` adapters, which must not import each other, can share it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sergas_tui.errors import CrmValidationError

DEFAULT_PAGE_BYTES = 98_000
"""Most bytes one MCP result carries by default, counted as the text travels inside the JSON-RPC
message (quotes and backslashes escaped); with the message's own framing, under 100 KB."""
CURSOR_TTL_SECONDS = 600.0
"""How long an unfinished listing can be continued."""
MAX_CURSORS = 16
"""Listings kept at once (the oldest are dropped first)."""
CUT_NOTICE = "… [cut by the MCP server: {n} characters in all; read the record in Zoho]"


def _size(value: Any) -> int:
    """Bytes of ``value``'s JSON once embedded as a string in the JSON-RPC message."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def clamp_record(record: Any, budget: int) -> Any:
    """``record`` with its longest strings cut until its JSON fits ``budget`` bytes."""
    if not isinstance(record, dict) or _size(record) <= budget:
        return record
    clamped = dict(record)
    for key in sorted(
        (k for k, v in clamped.items() if isinstance(v, str)),
        key=lambda k: -len(clamped[k]),
    ):
        excess = _size(clamped) - budget
        if excess <= 0:
            break
        text: str = clamped[key]
        notice = CUT_NOTICE.format(n=len(text))
        keep = max(0, len(text.encode()) - excess - len(notice.encode()) - 16)
        clamped[key] = text.encode()[:keep].decode(errors="ignore") + notice
    return clamped


@dataclass
class _Listing:
    meta: dict[str, Any]
    items: list[tuple[str, Any]]
    keys: tuple[str, ...]
    created: float


class PageCache:
    """Listings being paged through, by cursor (bounded in number and age)."""

    def __init__(
        self, *, max_cursors: int = MAX_CURSORS, ttl_seconds: float = CURSOR_TTL_SECONDS
    ) -> None:
        self._listings: OrderedDict[str, _Listing] = OrderedDict()
        self._max = max_cursors
        self._ttl = ttl_seconds

    def first_page(
        self,
        data: dict[str, Any],
        keys: Sequence[str],
        *,
        limit: int | None,
        max_bytes: int = DEFAULT_PAGE_BYTES,
    ) -> dict[str, Any]:
        """The first page of ``data`` (whose ``keys`` hold the lists to page through)."""
        meta = _without(data, keys)
        meta.pop("count", None)
        items = [(key, item) for key in keys for item in (_list_at(data, key) or [])]
        listing = _Listing(meta, items, tuple(keys), time.monotonic())
        cursor = secrets.token_urlsafe(12)
        page, end = _page(listing, 0, limit, max_bytes)
        if end < len(items):
            self._keep(cursor, listing)
            page["next_page_token"] = f"{cursor}.{end}"
        return page

    def next_page(
        self, token: str, *, limit: int | None, max_bytes: int = DEFAULT_PAGE_BYTES
    ) -> dict[str, Any]:
        """The page ``token`` points at; a CrmValidationError for an unknown or old token."""
        self._expire()
        cursor, _, offset_text = token.rpartition(".")
        listing = self._listings.get(cursor)
        if listing is None or not offset_text.isdigit():
            raise CrmValidationError(
                "The page_token is unknown or expired (listings are kept for "
                f"{CURSOR_TTL_SECONDS / 60:g} minutes); call again without page_token.",
                status_code=400,
                code="INVALID_PAGE_TOKEN",
            )
        offset = int(offset_text)
        page, end = _page(listing, offset, limit, max_bytes)
        if end < len(listing.items):
            page["next_page_token"] = f"{cursor}.{end}"
        else:
            self._listings.pop(cursor, None)
        return page

    def _keep(self, cursor: str, listing: _Listing) -> None:
        self._expire()
        self._listings[cursor] = listing
        while len(self._listings) > self._max:
            self._listings.popitem(last=False)

    def _expire(self) -> None:
        now = time.monotonic()
        for cursor in [c for c, v in self._listings.items() if now - v.created > self._ttl]:
            del self._listings[cursor]


def _page(
    listing: _Listing, offset: int, limit: int | None, max_bytes: int
) -> tuple[dict[str, Any], int]:
    page, lists = _with_empty_lists(listing.meta, listing.keys)
    used = _size(page) + 120  # room for count, total and the next token
    end = offset
    budget = max(max_bytes - used, 1024)
    while end < len(listing.items) and (limit is None or end - offset < limit):
        key, item = listing.items[end]
        item = clamp_record(item, budget - 8) if end == offset else item
        size = _size(item) + 1
        if end > offset and used + size > max_bytes:
            break
        lists[key].append(item)
        used += size
        end += 1
    page["count"] = end - offset
    page["total"] = len(listing.items)
    return page, end


def merge_page(data: dict[str, Any], page: dict[str, Any], keys: Sequence[str]) -> None:
    """Append the lists of a following ``page`` to ``data`` (in place) and take its
    ``next_page_token`` (None on the last page)."""
    for key in keys:
        more = _list_at(page, key) or []
        parent, leaf = _parent(data, key)
        current = parent.get(leaf)
        parent[leaf] = [*(current if isinstance(current, list) else []), *more]
    data["next_page_token"] = page.get("next_page_token")


def _list_at(data: dict[str, Any], key: str) -> list[Any] | None:
    node: Any = data
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, list) else None


def _parent(data: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    """The dict holding ``key``'s list in ``data`` (created when missing), and its last part."""
    *path, leaf = key.split(".")
    node = data
    for part in path:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    return node, leaf


def _without(data: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` without the lists at ``keys`` (nested objects on the way copied)."""
    result = dict(data)
    for key in keys:
        *path, leaf = key.split(".")
        node = result
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict):
                break
            node[part] = node = dict(child)
        else:
            node.pop(leaf, None)
    return result


def _with_empty_lists(
    meta: dict[str, Any], keys: Sequence[str]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A page: a copy of ``meta`` with a fresh empty list at each key, and those lists."""
    page = dict(meta)
    copied: set[int] = set()
    lists: dict[str, list[Any]] = {}
    for key in keys:
        *path, leaf = key.split(".")
        node = page
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict) or id(child) not in copied:
                child = dict(child) if isinstance(child, dict) else {}
                copied.add(id(child))
                node[part] = child
            node = child
        node[leaf] = lists[key] = []
    return page, lists
