"""Partial messages → lane lines: the model's text, coalesced so the UI is not flooded.

``include_partial_messages=True`` makes the SDK yield one ``StreamEvent`` per SSE event (text
arrives in deltas of a few characters). :class:`LineStream` joins ``text_delta`` pieces into
lines (on a newline, at a block's end, or at :data:`MAX_LINE` characters on a word boundary),
announces tool calls by name (``StructuredOutput`` is the answer itself, not announced), and
stops after :data:`MAX_LINES` lines per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sergas_tui.agents.claude.policy import STRUCTURED_OUTPUT, bare_tool_name

MAX_LINE = 160
MAX_LINES = 30


class LineStream:
    """Feeds on raw stream events; calls ``emit(line)`` with whole lines."""

    def __init__(self, emit: Callable[[str], None], *, max_lines: int = MAX_LINES) -> None:
        self._emit = emit
        self._buffer = ""
        self._lines = 0
        self._max_lines = max_lines

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use" and block.get("name") != STRUCTURED_OUTPUT:
                self.flush()
                self._line(f"→ {bare_tool_name(str(block.get('name', '?')))}")
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                self._buffer += str(delta.get("text", ""))
                self._drain()
        elif kind in ("content_block_stop", "message_stop"):
            self.flush()

    def _drain(self) -> None:
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._line(line)
        while len(self._buffer) > MAX_LINE:
            cut = self._buffer.rfind(" ", 0, MAX_LINE)
            cut = cut if cut > MAX_LINE // 2 else MAX_LINE
            self._line(self._buffer[:cut])
            self._buffer = self._buffer[cut:].lstrip()

    def flush(self) -> None:
        if self._buffer.strip():
            self._line(self._buffer)
        self._buffer = ""

    def _line(self, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self._lines += 1
        if self._lines < self._max_lines:
            self._emit(text)
        elif self._lines == self._max_lines:
            self._emit("…")
