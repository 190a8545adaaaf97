"""A scripted Anthropic Messages API on a loopback port, for running the real Claude Code CLI.

``FakeAnthropic`` is a real HTTP server (Starlette under uvicorn, in a daemon thread, on
``127.0.0.1`` and an ephemeral port). Point the bundled CLI at it with ``ANTHROPIC_BASE_URL``
(see ``tests.fakes.sdk_env``) and the whole SDK stack runs offline with only the model scripted.

Wire contract honoured (what the CLI calls):

- ``POST /v1/messages`` (the CLI adds ``?beta=true``): with ``"stream": true`` a
  ``text/event-stream`` of ``message_start`` → ``ping`` → per block ``content_block_start`` →
  ``content_block_delta`` (``text_delta`` | ``input_json_delta`` | ``thinking_delta`` +
  ``signature_delta``) → ``content_block_stop`` → ``message_delta`` (``stop_reason``,
  ``usage.output_tokens``) → ``message_stop``; with ``"stream": false`` the same message as JSON.
- ``POST /v1/messages/count_tokens``, ``GET /v1/models`` and ``GET /v1/models/{id}`` answered.
- Anything else: recorded, logged and answered 404 with Anthropic's error body.

Scripting. Requests are routed to **lanes**: the marker ``[[lane:NAME]]`` in the system prompt
wins, then the same marker in the most recent user text that has one, then ``"default"``.
Each lane is a queue of **steps**; a step is a :class:`Turn` or a function of the parsed
:class:`ApiRequest` returning a :class:`Turn`. Build turns with :func:`text`,
:func:`tool_call`, :func:`structured`, :func:`thinking` (combine with ``+``) and
:func:`echo_tool_result`; inject faults with :func:`overloaded`, :func:`server_error`,
:func:`rate_limited`, :func:`http_error`, :func:`stall` and :func:`broken_stream`; add
latency with ``turn.after(seconds)``. A lane with no step left, or a step that raises,
is answered 400 ``invalid_request_error`` (never retried) and noted in ``fake.errors``.

Token accounting is the fake's own, computed from the bodies it receives and the replies it
sends (see :func:`count_tokens`, :func:`count_input_parts`). The tokenizer is a documented
approximation of a BPE tokenizer, not Anthropic's: the text is split by a regex into runs of
ASCII letters (one token per started :data:`LETTERS_PER_TOKEN` letters), of digits (one per
started :data:`DIGITS_PER_TOKEN`), of punctuation and symbols (one per started
:data:`SYMBOLS_PER_TOKEN`), single other letters (one each) and whitespace (a single space is
free, it joins the next piece; any other run is one token). Prose comes out near four characters
a token and JSON, ids and numbers denser, as with the real tokenizer. Input tokens count what the
model would read, part by part: the ``system`` text; the ``tools`` (each one's compact JSON
name, description and input schema, plus :data:`TOOL_USE_SYSTEM_TOKENS` once when any tool is
offered, the size of the tool-use system prompt Anthropic documents); and every message
(:data:`MESSAGE_OVERHEAD_TOKENS` each) with its text, thinking, tool calls (name + compact JSON
input) and tool results (their text), :data:`BLOCK_OVERHEAD_TOKENS` per tool call or result.
Request fields the model never reads (``metadata``, ``thinking``, ``cache_control`` markers,
``max_tokens``) are not counted. Output tokens count the reply's text, thinking, and each tool
call's name plus compact JSON input. The fake does no prompt caching, so
``cache_creation_input_tokens`` and ``cache_read_input_tokens`` are always 0 and
``input_tokens`` is the whole prompt.

Those numbers go out exactly where the Messages API puts them (``message_start.message.usage``
with ``input_tokens`` and the cache fields, ``message_delta.usage.output_tokens``; ``usage`` of a
non-streamed message) and are recorded per request with the usage objects as sent
(:attr:`RecordedRequest.sent_usage`), the input broken down by part, the tool calls the reply
made and the tool results the request carried. :meth:`FakeAnthropic.usage` sums them per lane;
:meth:`FakeAnthropic.accounting` reports requests, tokens (by part), tool calls by tool and tool
results per lane, so a benchmark or test can compare them with ``ResultMessage.usage``.

Every request is recorded (:class:`RecordedRequest`) under a lock; scripting and reading
from the test thread while the server thread serves is safe.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

DEFAULT_LANE = "default"
STRUCTURED_OUTPUT_TOOL = "StructuredOutput"
LANE_MARKER = re.compile(r"\[\[lane:([A-Za-z0-9_.\-]+)\]\]")
DEFAULT_MODEL = "claude-fake-1"
START_TIMEOUT = 10.0
HOLD_POLL_SECONDS = 0.05
DELTA_CHARS = 24  # text / JSON is streamed in deltas of this many characters

Json = dict[str, Any]


def lane_marker(name: str) -> str:
    """The string to put in a system prompt (or user prompt) to route requests to ``name``."""
    return f"[[lane:{name}]]"


# --- token counting --------------------------------------------------------------------------

LETTERS_PER_TOKEN = 6
"""A run of ASCII letters costs one token per started group of this many letters."""
DIGITS_PER_TOKEN = 3
"""A run of digits costs one token per started group of this many digits."""
SYMBOLS_PER_TOKEN = 2
"""A run of punctuation or symbols costs one token per started group of this many."""
TOOL_USE_SYSTEM_TOKENS = 346
"""Added once to a request that offers tools: the tool-use system prompt (Anthropic's figure for
``tool_choice`` auto on Claude Sonnet 4.x)."""
MESSAGE_OVERHEAD_TOKENS = 4
"""Role and turn delimiters around each message."""
BLOCK_OVERHEAD_TOKENS = 3
"""Tags and id around each ``tool_use`` or ``tool_result`` block."""
INPUT_PARTS = ("system", "tools", "messages", "tool_calls", "tool_results")
"""How :func:`count_input_parts` breaks a prompt down (``messages``: text and thinking and the
per-message overhead; ``tool_calls``: earlier ``tool_use`` blocks sent back;
``tool_results``: the ``tool_result`` blocks)."""

_PIECES = re.compile(r"[A-Za-z]+|\d+| (?=\S)|\s+|[^\W\d_]|[^\w\s]+|_+")


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def count_tokens(text: str) -> int:
    """The fake's tokenizer (see the module docstring): deterministic, additive over pieces."""
    tokens = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if piece == " ":
            continue  # a single space joins the piece after it
        if first.isspace():
            tokens += 1
        elif first.isascii() and first.isalpha():
            tokens += math.ceil(len(piece) / LETTERS_PER_TOKEN)
        elif first.isdigit():
            tokens += math.ceil(len(piece) / DIGITS_PER_TOKEN)
        elif first.isalpha():
            tokens += 1  # one letter outside ASCII
        else:
            tokens += math.ceil(len(piece) / SYMBOLS_PER_TOKEN)
    return tokens


def _tool_definition(tool: Any) -> str:
    if not isinstance(tool, Mapping):
        return compact_json(tool)
    read = {k: tool[k] for k in ("name", "description", "input_schema") if k in tool}
    return compact_json(read or dict(tool))


def _block_parts(block: Any) -> tuple[str, int]:
    """(part, tokens) of one content block of a message."""
    if isinstance(block, str):
        return "messages", count_tokens(block)
    if not isinstance(block, Mapping):
        return "messages", count_tokens(compact_json(block))
    kind = block.get("type")
    if kind == "text":
        return "messages", count_tokens(str(block.get("text", "")))
    if kind == "thinking":
        return "messages", count_tokens(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return "messages", count_tokens(str(block.get("data", "")))
    if kind in ("tool_use", "server_tool_use"):
        used = str(block.get("name", "")) + compact_json(block.get("input", {}))
        return "tool_calls", BLOCK_OVERHEAD_TOKENS + count_tokens(used)
    if kind == "tool_result":
        content = block.get("content")
        body = content if isinstance(content, str) else _text_of(content)
        return "tool_results", BLOCK_OVERHEAD_TOKENS + count_tokens(body)
    read = {k: v for k, v in block.items() if k != "cache_control"}
    return "messages", count_tokens(compact_json(read))


def count_input_parts(body: Mapping[str, Any]) -> dict[str, int]:
    """Input tokens of a ``/v1/messages`` body, by part (:data:`INPUT_PARTS`)."""
    parts = dict.fromkeys(INPUT_PARTS, 0)
    parts["system"] = count_tokens(_text_of(body.get("system")))
    tools = body.get("tools") or []
    if isinstance(tools, list) and tools:
        parts["tools"] = TOOL_USE_SYSTEM_TOKENS + sum(
            count_tokens(_tool_definition(t)) for t in tools
        )
    messages = body.get("messages") or []
    for message in messages if isinstance(messages, list) else []:
        parts["messages"] += MESSAGE_OVERHEAD_TOKENS
        content = message.get("content") if isinstance(message, Mapping) else message
        for block in content if isinstance(content, list) else [content or ""]:
            part, tokens = _block_parts(block)
            parts[part] += tokens
    return parts


def count_input_tokens(body: Mapping[str, Any]) -> int:
    """Input tokens of a ``/v1/messages`` (or ``count_tokens``) body: the sum of its parts."""
    return sum(count_input_parts(body).values())


# --- the parsed request ----------------------------------------------------------------------


def _text_of(content: Any) -> str:
    """Plain text of a message or tool_result ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        ]
        return "\n".join(parts)
    return ""


@dataclass(frozen=True)
class ApiRequest:
    """A ``/v1/messages`` request body with the accessors scripted turns need."""

    body: Json
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.body.get("model") or DEFAULT_MODEL)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream", False))

    @property
    def system_text(self) -> str:
        return _text_of(self.body.get("system"))

    @property
    def messages(self) -> list[Json]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[Json]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [str(t.get("name")) for t in self.tools if t.get("name")]

    def find_tool(self, name_or_suffix: str) -> str | None:
        """The offered tool called ``name_or_suffix``, or whose name ends with it.

        An exact name wins, then ``mcp__server__<suffix>``, then any name ending with the
        suffix. Raises ``LookupError`` when the suffix matches several tools.
        """
        names = self.tool_names
        if name_or_suffix in names:
            return name_or_suffix
        for candidates in (
            [n for n in names if n.endswith(f"__{name_or_suffix}")],
            [n for n in names if n.endswith(name_or_suffix)],
        ):
            if len(candidates) == 1:
                return candidates[0]
            if candidates:
                raise LookupError(f"{name_or_suffix!r} matches several tools: {candidates}")
        return None

    def user_texts(self) -> list[str]:
        """Text of each user message, oldest first (tool results excluded)."""
        return [_text_of(m.get("content")) for m in self.messages if m.get("role") == "user"]

    @property
    def last_user_text(self) -> str:
        texts = self.user_texts()
        return texts[-1] if texts else ""

    def tool_results(self) -> list[Json]:
        """The ``tool_result`` blocks of the last user message."""
        users = [m for m in self.messages if m.get("role") == "user"]
        content = users[-1].get("content") if users else None
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]

    def tool_result_text(self, index: int = -1) -> str:
        """Text of one tool result of the last user message (the last one by default)."""
        results = self.tool_results()
        if not results:
            raise LookupError("the last user message carries no tool_result")
        return _text_of(results[index].get("content"))

    def lane(self) -> str:
        found = LANE_MARKER.search(self.system_text)
        if found:
            return found.group(1)
        for user_text in reversed(self.user_texts()):
            found = LANE_MARKER.search(user_text)
            if found:
                return found.group(1)
        return DEFAULT_LANE


# --- scripted turns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolUse:
    """A tool call; ``name`` is resolved against the request's tools (see ``find_tool``)."""

    name: str
    input: Json
    id: str | None = None


@dataclass(frozen=True)
class Thinking:
    thinking: str
    signature: str = "fake-signature"


Block = Text | ToolUse | Thinking


@dataclass(frozen=True)
class HttpFault:
    """Answer with an HTTP error and Anthropic's error body instead of a message."""

    status: int
    error_type: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StallFault:
    """Send 200 and part of the stream, then hold the connection open.

    ``after`` is ``"headers"`` (nothing but the response head) or ``"message_start"``. The hold
    ends after ``seconds`` (``None``: when the server stops), then the stream ends unfinished.
    """

    after: Literal["headers", "message_start"] = "message_start"
    seconds: float | None = None


@dataclass(frozen=True)
class BrokenStreamFault:
    """``"truncated"``: the stream ends cleanly after the first delta, with no
    ``message_stop``; ``"malformed"``: a ``data:`` line that is not JSON follows it;
    ``"error_event"``: an SSE ``error`` event (``overloaded_error``) follows it."""

    mode: Literal["truncated", "malformed", "error_event"] = "truncated"


Fault = HttpFault | StallFault | BrokenStreamFault


@dataclass(frozen=True)
class Turn:
    """One scripted model reply: content blocks, or a fault, after an optional latency."""

    blocks: tuple[Block, ...] = ()
    stop_reason: str | None = None  # default: "tool_use" if a block calls a tool, else "end_turn"
    fault: Fault | None = None
    latency: float = 0.0  # seconds before the response head is sent

    def __add__(self, other: Turn) -> Turn:
        return replace(
            self,
            blocks=self.blocks + other.blocks,
            stop_reason=other.stop_reason or self.stop_reason,
            fault=other.fault or self.fault,
            latency=max(self.latency, other.latency),
        )

    def after(self, seconds: float) -> Turn:
        """This turn, answered only after ``seconds`` of artificial latency."""
        return replace(self, latency=seconds)

    def resolved_stop_reason(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.blocks) else "end_turn"


Step = Turn | Callable[[ApiRequest], Turn]


def text(*parts: str) -> Turn:
    """A reply of one text block per part."""
    return Turn(blocks=tuple(Text(p) for p in parts))


def tool_call(name_or_suffix: str, input: Json | None = None, *, id: str | None = None) -> Turn:
    """A reply calling the offered tool named (or ending with) ``name_or_suffix``."""
    return Turn(blocks=(ToolUse(name_or_suffix, dict(input or {}), id),))


def structured(payload: Json) -> Turn:
    """A reply handing ``payload`` to the ``StructuredOutput`` tool (from ``output_format``)."""
    return tool_call(STRUCTURED_OUTPUT_TOOL, payload)


def thinking(thought: str, signature: str = "fake-signature") -> Turn:
    return Turn(blocks=(Thinking(thought, signature),))


def echo_tool_result(template: str = "{}") -> Callable[[ApiRequest], Turn]:
    """A step answering with the text of the tool result it received, put into ``template``."""

    def step(request: ApiRequest) -> Turn:
        return text(template.format(request.tool_result_text()))

    return step


def http_error(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> Turn:
    return Turn(fault=HttpFault(status, error_type, message, dict(headers or {})))


def overloaded() -> Turn:
    return http_error(529, "overloaded_error", "Overloaded")


def server_error() -> Turn:
    return http_error(500, "api_error", "Internal server error")


def rate_limited(retry_after: float = 1) -> Turn:
    return http_error(
        429,
        "rate_limit_error",
        "This request would exceed your organization's rate limit.",
        {"retry-after": f"{retry_after:g}"},
    )


def stall(
    after: Literal["headers", "message_start"] = "message_start", seconds: float | None = None
) -> Turn:
    return Turn(fault=StallFault(after, seconds))


def broken_stream(mode: Literal["truncated", "malformed", "error_event"] = "truncated") -> Turn:
    return Turn(blocks=(Text("This reply never finishes."),), fault=BrokenStreamFault(mode))


# --- what happened ---------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as received. ``completed`` is set once a full reply has been sent."""

    index: int
    method: str
    path: str
    query: str
    client_host: str
    headers: dict[str, str]
    body: Json | None
    lane: str | None = None
    step_index: int | None = None  # position of the step in its lane's script
    status: int = 0
    fault: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    input_parts: dict[str, int] = field(default_factory=dict)
    """``input_tokens`` by part (:data:`INPUT_PARTS`)."""
    tool_calls: tuple[str, ...] = ()
    """Names of the tools the reply called (``StructuredOutput`` included), in order."""
    tool_results: int = 0
    """``tool_result`` blocks in the request's last user message (results of the previous
    reply's tool calls)."""
    tool_result_errors: int = 0
    """How many of those were ``is_error`` results."""
    sent_usage: Json = field(default_factory=dict)
    """The usage reported on the wire: ``message_start`` usage updated by ``message_delta``
    usage (streamed), or the message's ``usage`` (not streamed)."""
    completed: bool = False
    received_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class TokenUsage:
    requests: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass(frozen=True)
class LaneAccounting:
    """What the fake served on one lane (completed ``/v1/messages`` replies only)."""

    requests: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    input_parts: dict[str, int]
    tool_calls: dict[str, int]
    """Calls per tool name, ``StructuredOutput`` left out (see ``structured_answers``)."""
    structured_answers: int
    tool_results: int
    tool_result_errors: int
    requests_with_tool_results: int

    @property
    def tool_calls_total(self) -> int:
        return sum(self.tool_calls.values())

    def as_dict(self) -> Json:
        return {
            "requests": self.requests,
            "requests_with_tool_results": self.requests_with_tool_results,
            "tool_calls": self.tool_calls_total,
            "tool_calls_by_tool": dict(sorted(self.tool_calls.items())),
            "tool_results": self.tool_results,
            "tool_result_errors": self.tool_result_errors,
            "structured_answers": self.structured_answers,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "input_tokens_by_part": dict(self.input_parts),
        }


# --- the server ------------------------------------------------------------------------------


def _error_body(error_type: str, message: str, request_id: str) -> Json:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def _sse(event: str, data: Json) -> bytes:
    return f"event: {event}\ndata: {compact_json(data)}\n\n".encode()


def _chunks(value: str, size: int = DELTA_CHARS) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


class FakeAnthropic:
    """The fake Messages API. Use as a context manager, or call :meth:`start` / :meth:`stop`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lanes: dict[str, deque[tuple[int, Step]]] = {}
        self._scripted: dict[str, int] = {}
        self._records: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.base_url = ""
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/models/{model_id:path}", self._model, methods=["GET"]),
            ],
            exception_handlers={404: self._unknown, 405: self._unknown},
        )

    # --- life cycle ----------------------------------------------------------------------------
    def start(self) -> FakeAnthropic:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self._socket = sock
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="fake-anthropic",
            daemon=True,
        )
        self._stopping.clear()
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake Anthropic API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving; stalled streams are released first so shutdown is quick."""
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- scripting -----------------------------------------------------------------------------
    def script(self, *steps: Step, lane: str = DEFAULT_LANE) -> FakeAnthropic:
        """Queue ``steps`` (turns or functions of the request) on ``lane``."""
        with self._lock:
            queue = self._lanes.setdefault(lane, deque())
            start = self._scripted.get(lane, 0)
            queue.extend(enumerate(steps, start))
            self._scripted[lane] = start + len(steps)
        return self

    def pending(self, lane: str | None = None) -> int:
        """Scripted steps not yet used, in ``lane`` or in all lanes."""
        with self._lock:
            if lane is not None:
                return len(self._lanes.get(lane, ()))
            return sum(len(q) for q in self._lanes.values())

    # --- reading what happened -----------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def message_requests(self, lane: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path == "/v1/messages" and (lane is None or r.lane == lane)
        ]

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.fault in ("unknown_path", "escape_attempt")]

    @property
    def escape_attempts(self) -> list[RecordedRequest]:
        """Requests that reached the fake as a proxy: the CLI tried to leave loopback."""
        return [r for r in self.requests if r.fault == "escape_attempt"]

    @property
    def errors(self) -> list[str]:
        """Script problems: exhausted lanes, steps that raised, unparsable bodies."""
        with self._lock:
            return list(self._errors)

    def usage(self, lane: str | None = None) -> TokenUsage:
        """Tokens of the completed ``/v1/messages`` replies, in ``lane`` or overall."""
        done = [r for r in self.message_requests(lane) if r.completed]
        return TokenUsage(
            requests=len(done),
            input_tokens=sum(r.input_tokens for r in done),
            output_tokens=sum(r.output_tokens for r in done),
        )

    def accounting(self, lane: str | None = None) -> LaneAccounting:
        """Requests, tokens (input by part), tool calls and tool results of the completed
        ``/v1/messages`` replies, in ``lane`` or overall."""
        done = [r for r in self.message_requests(lane) if r.completed]
        parts = dict.fromkeys(INPUT_PARTS, 0)
        calls: dict[str, int] = {}
        structured_answers = 0
        for record in done:
            for part, tokens in record.input_parts.items():
                parts[part] = parts.get(part, 0) + tokens
            for name in record.tool_calls:
                if name == STRUCTURED_OUTPUT_TOOL:
                    structured_answers += 1
                else:
                    calls[name] = calls.get(name, 0) + 1
        return LaneAccounting(
            requests=len(done),
            input_tokens=sum(r.input_tokens for r in done),
            output_tokens=sum(r.output_tokens for r in done),
            cache_creation_input_tokens=0,
            cache_read_input_tokens=0,
            input_parts=parts,
            tool_calls=calls,
            structured_answers=structured_answers,
            tool_results=sum(r.tool_results for r in done),
            tool_result_errors=sum(r.tool_result_errors for r in done),
            requests_with_tool_results=sum(1 for r in done if r.tool_results),
        )

    def lanes(self) -> list[str]:
        """Every lane that received a ``/v1/messages`` request, in order of first request."""
        return list(dict.fromkeys(r.lane for r in self.message_requests() if r.lane))

    # --- serving -------------------------------------------------------------------------------
    async def _record(self, request: Request) -> tuple[RecordedRequest, Json | None]:
        raw = await request.body()
        body: Json | None = None
        if raw:
            try:
                parsed = json.loads(raw)
                body = parsed if isinstance(parsed, dict) else {"_": parsed}
            except ValueError:
                body = None
        with self._lock:
            record = RecordedRequest(
                index=len(self._records),
                method=request.method,
                path=str(request.scope["path"]),
                query=bytes(request.scope.get("query_string", b"")).decode("latin-1"),
                client_host=request.client.host if request.client else "",
                headers=dict(request.headers),
                body=body,
            )
            self._records.append(record)
        return record, body

    def _fail(self, record: RecordedRequest, message: str) -> Response:
        log.warning("FakeAnthropic: %s", message)
        with self._lock:
            self._errors.append(message)
            record.status = 400
            record.fault = "script_error"
        return JSONResponse(
            _error_body("invalid_request_error", f"FakeAnthropic: {message}", self._request_id()),
            status_code=400,
        )

    def _request_id(self) -> str:
        return f"req_fake_{next(self._ids):06d}"

    def _next_step(self, lane: str) -> tuple[int, Step] | None:
        with self._lock:
            queue = self._lanes.get(lane)
            return queue.popleft() if queue else None

    async def _messages(self, request: Request) -> Response:
        record, body = await self._record(request)
        if body is None:
            return self._fail(record, "the request body is not a JSON object")
        api_request = ApiRequest(body, record.headers)
        lane = api_request.lane()
        record.lane = lane
        picked = self._next_step(lane)
        if picked is None:
            return self._fail(record, f"no scripted turn left in lane {lane!r}")
        record.step_index, step = picked
        try:
            turn = step(api_request) if callable(step) else step
            blocks = self._resolve(turn.blocks, api_request)
        except Exception as err:
            return self._fail(record, f"step {record.step_index} of lane {lane!r}: {err!r}")
        if turn.latency:
            await self._hold(turn.latency)
        request_id = self._request_id()
        fault = turn.fault
        if isinstance(fault, HttpFault):
            record.status, record.fault = fault.status, f"http_{fault.status}"
            return JSONResponse(
                _error_body(fault.error_type, fault.message, request_id),
                status_code=fault.status,
                headers={"request-id": request_id, **fault.headers},
            )
        record.input_parts = count_input_parts(body)
        record.input_tokens = sum(record.input_parts.values())
        record.output_tokens = count_tokens(_output_text(blocks))
        record.tool_calls = tuple(b.name for b in blocks if isinstance(b, ToolUse))
        results = api_request.tool_results()
        record.tool_results = len(results)
        record.tool_result_errors = sum(1 for r in results if r.get("is_error"))
        record.status = 200
        message_id = f"msg_fake_{next(self._ids):06d}"
        if not api_request.stream:
            message = _message(message_id, api_request.model, blocks, turn, record)
            record.sent_usage = dict(message["usage"])
            record.completed = True
            return JSONResponse(message, headers={"request-id": request_id})
        if isinstance(fault, StallFault):
            record.fault = f"stall_after_{fault.after}"
        elif isinstance(fault, BrokenStreamFault):
            record.fault = f"broken_stream_{fault.mode}"
        return StreamingResponse(
            self._stream(message_id, api_request.model, blocks, turn, record),
            media_type="text/event-stream",
            headers={"request-id": request_id, "cache-control": "no-cache"},
        )

    async def _count_tokens(self, request: Request) -> Response:
        record, body = await self._record(request)
        if body is None:
            return self._fail(record, "the count_tokens body is not a JSON object")
        record.status, record.completed = 200, True
        return JSONResponse({"input_tokens": count_input_tokens(body)})

    async def _models(self, request: Request) -> Response:
        record, _ = await self._record(request)
        record.status, record.completed = 200, True
        model = _model_info(DEFAULT_MODEL)
        return JSONResponse(
            {"data": [model], "has_more": False, "first_id": model["id"], "last_id": model["id"]}
        )

    async def _model(self, request: Request) -> Response:
        record, _ = await self._record(request)
        record.status, record.completed = 200, True
        return JSONResponse(_model_info(request.path_params["model_id"]))

    async def _unknown(self, request: Request, exc: Exception) -> Response:
        """Anything not routed: recorded, logged, 404. Proxy-style requests (``CONNECT`` or an
        absolute URL) are traffic that tried to leave loopback through ``proxy_trap``."""
        record, _ = await self._record(request)
        record.status = getattr(exc, "status_code", 404)
        record.fault = "escape_attempt" if _is_proxy_request(request) else "unknown_path"
        log.warning("FakeAnthropic: unknown %s %s", request.method, record.path)
        return JSONResponse(
            _error_body("not_found_error", f"Not found: {record.path}", self._request_id()),
            status_code=record.status,
        )

    def _resolve(self, blocks: Iterable[Block], request: ApiRequest) -> list[Block]:
        resolved: list[Block] = []
        for block in blocks:
            if isinstance(block, ToolUse):
                name = request.find_tool(block.name) or block.name
                tool_id = block.id or f"toolu_fake_{next(self._ids):06d}"
                block = ToolUse(name, block.input, tool_id)
            resolved.append(block)
        return resolved

    async def _hold(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (forever if ``None``) or until the server stops."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return
            await asyncio.sleep(HOLD_POLL_SECONDS)

    async def _stream(
        self,
        message_id: str,
        model: str,
        blocks: Sequence[Block],
        turn: Turn,
        record: RecordedRequest,
    ) -> AsyncIterator[bytes]:
        fault = turn.fault
        if isinstance(fault, StallFault) and fault.after == "headers":
            yield b""
            await self._hold(fault.seconds)
            return
        deltas_sent = 0
        for event, data in _stream_events(message_id, model, blocks, turn, record):
            if event == "message_start":
                record.sent_usage = dict(data["message"]["usage"])
            elif event == "message_delta":
                record.sent_usage.update(data["usage"])
            yield _sse(event, data)
            if isinstance(fault, StallFault) and event == "message_start":
                await self._hold(fault.seconds)
                return
            if event == "content_block_delta":
                deltas_sent += 1
            if isinstance(fault, BrokenStreamFault) and deltas_sent == 1:
                if fault.mode == "malformed":
                    yield b"event: content_block_delta\ndata: {not json\n\n"
                elif fault.mode == "error_event":
                    yield _sse(
                        "error",
                        {
                            "type": "error",
                            "error": {"type": "overloaded_error", "message": "Overloaded"},
                        },
                    )
                return
        record.completed = True


def _output_text(blocks: Iterable[Block]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Text):
            parts.append(block.text)
        elif isinstance(block, Thinking):
            parts.append(block.thinking)
        else:
            parts.append(block.name + compact_json(block.input))
    return "".join(parts)


def _is_proxy_request(request: Request) -> bool:
    return request.method == "CONNECT" or not str(request.scope["path"]).startswith("/")


def _model_info(model_id: str) -> Json:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id,
        "created_at": "2026-01-01T00:00:00Z",
    }


def _content(block: Block) -> Json:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    if isinstance(block, Thinking):
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}


def _usage(input_tokens: int, output_tokens: int) -> Json:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _message(
    message_id: str, model: str, blocks: Sequence[Block], turn: Turn, record: RecordedRequest
) -> Json:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_content(b) for b in blocks],
        "stop_reason": turn.resolved_stop_reason(),
        "stop_sequence": None,
        "usage": _usage(record.input_tokens, record.output_tokens),
    }


def _stream_events(
    message_id: str, model: str, blocks: Sequence[Block], turn: Turn, record: RecordedRequest
) -> Iterable[tuple[str, Json]]:
    start = _message(message_id, model, [], turn, record)
    start.update(stop_reason=None, usage=_usage(record.input_tokens, 0))
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(blocks):
        if isinstance(block, Text):
            opening: Json = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": c} for c in _chunks(block.text)]
        elif isinstance(block, Thinking):
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": c} for c in _chunks(block.thinking)]
            deltas.append({"type": "signature_delta", "signature": block.signature})
        else:
            opening = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": c}
                for c in _chunks(compact_json(block.input))
            ]
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": opening,
            },
        )
        for delta in deltas:
            yield (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": turn.resolved_stop_reason(), "stop_sequence": None},
            "usage": {"output_tokens": record.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}
