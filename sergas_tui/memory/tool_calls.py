"""Calling a memory tool: validate the arguments, run the tool, bound or page the result, and
turn expected failures into an ``is_error`` outcome with an ``error.code`` (:data:`ERROR_CODES`).

:func:`call_tool` is what the memory MCP server (:mod:`.mcp_server`) and the Claude engine's
in-process tools call; the tools themselves are :mod:`.mcp_tools`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import ValidationError

from sergas_tui import metrics
from sergas_tui.clock import Clock
from sergas_tui.errors import CrmValidationError, MemoryErrorCode, MemoryToolError, SergasError
from sergas_tui.mcp_paging import DEFAULT_PAGE_BYTES, PageCache
from sergas_tui.memory.mcp_tools import (
    READ_TOOL_NAMES,
    TOOLS_BY_NAME,
    MemoryToolSpec,
    wire_args,
)
from sergas_tui.memory.store import MemoryStore
from sergas_tui.memory.tool_args import TOO_LARGE, ToolArgs

MAX_RESULT_CHARS = 24_000
"""A result's JSON text is cut below this size (about 6k tokens) by shortening its lists."""


ErrorCode = MemoryErrorCode
ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)
"""``error.code`` of an is_error result: ``failed`` is anything else (storage, a bug)."""


ERROR_META_KEY = "sergas/error"
"""Where an MCP error result's ``_meta`` carries :func:`error_data` (clients may ignore it)."""


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call produced: JSON data, its bounded text, and whether it failed."""

    data: dict[str, Any]
    is_error: bool = False

    @property
    def text(self) -> str:
        return to_text(self.data)


def to_text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def error_data(message: str, code: ErrorCode = "failed") -> dict[str, Any]:
    return {"error": {"title": "Memory tool error", "message": message, "code": code}}


def _too_large(err: ValidationError) -> bool:
    return any(e["type"] == TOO_LARGE for e in err.errors())


def _invalid(name: str, err: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in err.errors()
    )
    return f"Invalid arguments for {name}: {problems}"


async def call_tool(
    name: str,
    store: MemoryStore,
    arguments: Mapping[str, Any] | None,
    clock: Clock,
    *,
    allowed: frozenset[str] | None = None,
    catalog: Mapping[str, MemoryToolSpec] | None = None,
    pages: PageCache | None = None,
    max_bytes: int = DEFAULT_PAGE_BYTES,
) -> ToolOutcome:
    """Validate ``arguments``, run the tool, bound the result; expected failures → is_error.

    ``catalog`` is where ``name`` is looked up (default: the seed's six, :data:`TOOLS_BY_NAME`);
    ``allowed`` restricts which tools may run (e.g. :data:`READ_TOOL_NAMES`). Without ``pages``
    (in process) a result is cut to :data:`MAX_RESULT_CHARS`. With ``pages`` (an MCP server) a
    list tool takes ``page_token``/``limit`` and answers one page of at most about
    ``max_bytes``; any other result is cut to ``max_bytes``. Storage errors become is_error
    outcomes too; only a bug in a tool raises.
    """
    spec = (TOOLS_BY_NAME if catalog is None else catalog).get(name)
    if spec is None or (allowed is not None and name not in allowed):
        return ToolOutcome(error_data(f"Unknown tool: {name}", "unknown_tool"), is_error=True)
    paging = pages is not None and bool(spec.paged)
    try:
        args = (wire_args(spec) if paging else spec.args).model_validate(dict(arguments or {}))
    except ValidationError as err:
        code: ErrorCode = "too_large" if _too_large(err) else "invalid_arguments"
        return ToolOutcome(error_data(_invalid(name, err), code), is_error=True)
    try:
        with metrics.memory_query() if name in READ_TOOL_NAMES else nullcontext():
            if pages is not None and paging:
                return ToolOutcome(await _page(spec, store, args, clock, pages, max_bytes))
            data = await spec.function(store, args, clock)
    except MemoryToolError as err:
        return ToolOutcome(error_data(err.message, err.code), is_error=True)
    except CrmValidationError as err:  # an unknown or expired page_token
        return ToolOutcome(error_data(err.message, "invalid_arguments"), is_error=True)
    except SergasError as err:
        return ToolOutcome(error_data(f"{err.title}: {err.message}"), is_error=True)
    return ToolOutcome(bound(data, MAX_RESULT_CHARS if pages is None else max_bytes))


async def _page(
    spec: MemoryToolSpec,
    store: MemoryStore,
    args: ToolArgs,
    clock: Clock,
    pages: PageCache,
    max_bytes: int,
) -> dict[str, Any]:
    """One page of a list tool's result: the first (running the tool) or the one asked for."""
    limit = getattr(args, "limit", None) if spec.page_limit else None
    token = getattr(args, "page_token", None)
    if token:
        return pages.next_page(token, limit=limit, max_bytes=max_bytes)
    data = await spec.function(store, args, clock)
    return pages.first_page(data, spec.paged, limit=limit, max_bytes=max_bytes)


def bound(data: dict[str, Any], limit: int = MAX_RESULT_CHARS) -> dict[str, Any]:
    """``data`` with its longest lists halved until its JSON text fits in ``limit`` characters.

    Each cut list is named in ``result_truncated`` with the number of items dropped, so a
    reader knows the answer is partial.
    """
    if len(to_text(data)) <= limit:
        return data
    result = json.loads(to_text(data))  # a deep copy to cut
    dropped: dict[str, int] = {}
    while len(to_text(result)) > limit:
        found = _longest_list(result, "")
        if found is None or len(found[1]) <= 1:
            break
        path, items = found
        cut = len(items) // 2
        del items[len(items) - cut :]
        dropped[path] = dropped.get(path, 0) + cut
        result["result_truncated"] = {
            "note": "The result was too long; the lists below lost their last items.",
            "dropped": dropped,
        }
    return dict(result)


def _longest_list(node: Any, path: str) -> tuple[str, list[Any]] | None:
    best: tuple[str, list[Any]] | None = None
    if isinstance(node, list):
        best = (path or "$", node)
        children = [(f"{path}[]", item) for item in node]
    elif isinstance(node, dict):
        children = [(f"{path}.{k}" if path else str(k), v) for k, v in node.items()]
    else:
        return None
    for child_path, child in children:
        found = _longest_list(child, child_path)
        if found is not None and (best is None or len(to_text(found[1])) > len(to_text(best[1]))):
            best = found
    return best
