"""The real SDK and bundled CLI against the fake Messages API: the harness the agent layer uses.

Each CLI run takes about a second; every run is wrapped in ``asyncio.wait_for`` so a test can
fail but never hang. The first tests talk to the fake over plain HTTP, without the CLI.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultError,
    ResultMessage,
    ToolPermissionContext,
    create_sdk_mcp_server,
    query,
    tool,
)

from tests.fakes.anthropic_api import (
    DEFAULT_LANE,
    FakeAnthropic,
    broken_stream,
    count_input_tokens,
    count_tokens,
    echo_tool_result,
    lane_marker,
    overloaded,
    rate_limited,
    stall,
    structured,
    text,
    tool_call,
)
from tests.fakes.sdk_env import SdkSandbox

pytestmark = pytest.mark.timeout(120)

RUN_TIMEOUT = 30.0
ACCOUNT = {"id": "5725767000001000005", "name": "Harbor Point", "stage": "Negotiation"}


async def run(
    prompt: str, options: ClaudeAgentOptions, into: list[Message] | None = None
) -> list[Message]:
    """Every message of one ``query()``, bounded by :data:`RUN_TIMEOUT`; also appended to
    ``into`` as they come, for runs that end in an exception."""
    messages = [] if into is None else into

    async def collect() -> list[Message]:
        async for message in query(prompt=prompt, options=options):
            messages.append(message)
        return messages

    return await asyncio.wait_for(collect(), RUN_TIMEOUT)


def result_of(messages: list[Message]) -> ResultMessage:
    results = [m for m in messages if isinstance(m, ResultMessage)]
    assert len(results) == 1, messages
    return results[0]


def assert_stayed_on_loopback(fake: FakeAnthropic) -> None:
    """Only Messages calls, from loopback; nothing tried the proxy trap (``sdk`` fixture)."""
    assert fake.requests, "the CLI sent nothing to the fake"
    assert {r.client_host for r in fake.requests} == {"127.0.0.1"}
    assert {(r.method, r.path) for r in fake.requests} == {("POST", "/v1/messages")}
    assert fake.escape_attempts == []
    assert fake.unknown_requests == []


def crm_server(calls: list[tuple[str, dict[str, Any]]]) -> Any:
    """An in-process MCP server with a read tool and a write tool that log their calls."""

    @tool("read_account", "Read one CRM account", {"account_id": str})
    async def read_account(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(("read_account", args))
        return {"content": [{"type": "text", "text": json.dumps(ACCOUNT)}]}

    @tool("update_stage", "Change an account's stage", {"account_id": str, "stage": str})
    async def update_stage(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(("update_stage", args))
        return {"content": [{"type": "text", "text": "updated"}]}

    return create_sdk_mcp_server("crm", tools=[read_account, update_stage])


# --- the fake on its own -------------------------------------------------------------------


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_fake_speaks_the_messages_wire_format() -> None:
    request = {
        "model": "claude-test",
        "system": [{"type": "text", "text": f"Scout {lane_marker('scout')}"}],
        "messages": [{"role": "user", "content": "go"}],
        "tools": [{"name": "mcp__crm__read_account", "input_schema": {"type": "object"}}],
        "max_tokens": 1000,
    }
    with FakeAnthropic() as fake, httpx.Client(base_url=fake.base_url) as client:
        fake.script(text("Looking.") + tool_call("read_account", {"id": "1"}), lane="scout")
        fake.script(text("plain"))
        streamed = client.post("/v1/messages?beta=true", json={**request, "stream": True})
        plain = client.post("/v1/messages", json={**request, "system": "no marker"})
        exhausted = client.post("/v1/messages", json=request)
        counted = client.post("/v1/messages/count_tokens", json=request)
        models = client.get("/v1/models")
        unknown = client.get("/api/hello")

    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["model"] == "claude-test"
    assert start["usage"]["input_tokens"] == count_input_tokens(request)
    tool_start = events[5][1]["content_block"]
    assert tool_start["type"] == "tool_use"
    assert tool_start["name"] == "mcp__crm__read_account"
    assert events[6][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"id":"1"}'}
    assert events[8][1]["delta"]["stop_reason"] == "tool_use"
    output = count_tokens('Looking.mcp__crm__read_account{"id":"1"}')
    assert events[8][1]["usage"] == {"output_tokens": output}

    assert plain.json()["content"] == [{"type": "text", "text": "plain"}]
    assert plain.json()["stop_reason"] == "end_turn"
    assert exhausted.status_code == 400
    assert exhausted.json()["error"]["type"] == "invalid_request_error"
    assert fake.errors == ["no scripted turn left in lane 'scout'"]
    assert counted.json() == {"input_tokens": count_input_tokens(request)}
    assert models.json()["data"][0]["type"] == "model"
    assert unknown.status_code == 404
    assert [r.path for r in fake.unknown_requests] == ["/api/hello"]
    assert [r.lane for r in fake.message_requests()] == ["scout", DEFAULT_LANE, "scout"]
    assert fake.usage("scout").output_tokens == output


def test_fake_injects_faults() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "go"}], "stream": True}
    with FakeAnthropic() as fake, httpx.Client(base_url=fake.base_url, timeout=5) as client:
        fake.script(
            overloaded(),
            rate_limited(retry_after=2),
            broken_stream("truncated"),
            broken_stream("malformed"),
            stall(after="message_start", seconds=0.2),
            text("late").after(0.2),
        )
        replies = [client.post("/v1/messages", json=request) for _ in range(6)]

    assert replies[0].status_code == 529
    assert replies[0].json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert replies[1].status_code == 429
    assert replies[1].headers["retry-after"] == "2"
    assert "message_stop" not in replies[2].text
    assert "{not json" in replies[3].text
    assert [name for name, _ in sse_events(replies[4].text)] == ["message_start"]
    assert "message_stop" in replies[5].text
    assert [(r.status, r.fault, r.completed) for r in fake.message_requests()] == [
        (529, "http_529", False),
        (429, "http_429", False),
        (200, "broken_stream_truncated", False),
        (200, "broken_stream_malformed", False),
        (200, "stall_after_message_start", False),
        (200, None, True),
    ]
    assert fake.usage().requests == 1


# --- the real CLI against the fake -----------------------------------------------------------


async def test_plain_text_reply(fake_anthropic: FakeAnthropic, sdk: SdkSandbox) -> None:
    fake_anthropic.script(text("Harbor Point looks stalled."))

    messages = await run("Review Harbor Point", sdk.options(system_prompt="You review accounts."))

    result = result_of(messages)
    assert result.subtype == "success"
    assert not result.is_error
    assert result.result == "Harbor Point looks stalled."
    [request] = fake_anthropic.message_requests()
    assert request.query == "beta=true"
    assert request.body is not None
    assert request.body["stream"] is True
    assert "You review accounts." in json.dumps(request.body["system"])
    assert request.headers["x-api-key"] == sdk.env["ANTHROPIC_API_KEY"]
    assert request.headers["user-agent"].startswith("claude-cli/")
    assert_stayed_on_loopback(fake_anthropic)


async def test_tool_result_comes_back_and_usage_matches_the_fake(
    fake_anthropic: FakeAnthropic, sdk: SdkSandbox
) -> None:
    fake_anthropic.script(
        text("Reading the account.") + tool_call("read_account", {"account_id": ACCOUNT["id"]}),
        echo_tool_result("Account data: {}"),
    )
    calls: list[tuple[str, dict[str, Any]]] = []
    options = sdk.options(
        mcp_servers={"crm": crm_server(calls)},
        allowed_tools=["mcp__crm__read_account"],
    )

    result = result_of(await run("Review Harbor Point", options))

    assert calls == [("read_account", {"account_id": ACCOUNT["id"]})]
    first, second = fake_anthropic.message_requests()
    assert first.body is not None
    assert second.body is not None
    offered = [t["name"] for t in first.body["tools"] if not t.get("defer_loading")]
    assert sorted(offered) == [
        "mcp__crm__read_account",
        "mcp__crm__update_stage",
    ]
    assert result.result == f"Account data: {json.dumps(ACCOUNT)}"
    counted = fake_anthropic.usage()
    assert counted.requests == 2
    assert result.usage is not None
    assert result.usage["input_tokens"] == counted.input_tokens
    assert result.usage["output_tokens"] == counted.output_tokens
    assert_stayed_on_loopback(fake_anthropic)


async def test_denied_tool_never_runs(fake_anthropic: FakeAnthropic, sdk: SdkSandbox) -> None:
    fake_anthropic.script(
        tool_call("update_stage", {"account_id": ACCOUNT["id"], "stage": "Closed Won"}),
        lambda request: text(f"Denied: {request.tool_results()[0].get('is_error')}"),
    )
    calls: list[tuple[str, dict[str, Any]]] = []
    asked: list[str] = []

    async def can_use_tool(
        name: str, _input: dict[str, Any], _context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        asked.append(name)
        return PermissionResultDeny(message="Writes need an approval.")

    options = sdk.options(mcp_servers={"crm": crm_server(calls)}, can_use_tool=can_use_tool)

    result = result_of(await run("Close the deal", options))

    assert calls == []
    assert asked == ["mcp__crm__update_stage"]
    assert result.subtype == "success"
    assert result.result == "Denied: True"
    assert result.permission_denials is not None
    assert [d["tool_name"] for d in result.permission_denials] == ["mcp__crm__update_stage"]
    second = fake_anthropic.message_requests()[1]
    assert "Writes need an approval." in json.dumps(second.body)


async def test_structured_output(fake_anthropic: FakeAnthropic, sdk: SdkSandbox) -> None:
    payload = {"account_id": ACCOUNT["id"], "risk": "high", "reasons": ["no activity in 45 days"]}
    schema = {
        "type": "object",
        "properties": {
            "account_id": {"type": "string"},
            "risk": {"type": "string", "enum": ["low", "medium", "high"]},
            "reasons": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["account_id", "risk", "reasons"],
    }
    fake_anthropic.script(structured(payload))

    options = sdk.options(output_format={"type": "json_schema", "schema": schema})
    result = result_of(await run("Assess Harbor Point", options))

    assert result.subtype == "success"
    assert result.structured_output == payload
    [first] = fake_anthropic.message_requests()  # the run ends with the StructuredOutput call
    assert first.body is not None
    assert "StructuredOutput" in [t["name"] for t in first.body["tools"]]


async def test_overloaded_then_success_with_one_retry(
    fake_anthropic: FakeAnthropic, sdk: SdkSandbox
) -> None:
    fake_anthropic.script(overloaded(), text("Second time lucky."))
    options = sdk.options(env={"CLAUDE_CODE_MAX_RETRIES": "1"})

    started = time.monotonic()
    result = result_of(await run("Review", options))

    assert time.monotonic() - started < 15
    assert result.result == "Second time lucky."
    assert not result.is_error
    assert [r.status for r in fake_anthropic.message_requests()] == [529, 200]


@pytest.mark.slow
async def test_stalled_stream_falls_back_to_a_plain_request(
    fake_anthropic: FakeAnthropic, sdk: SdkSandbox
) -> None:
    """After the idle timeout (at least 10 s, whatever the env says) the CLI drops the stream
    and asks again with ``"stream": false``; a failing fallback ends the run in an error."""
    fake_anthropic.script(stall(after="message_start"), overloaded())

    started = time.monotonic()
    messages: list[Message] = []
    with pytest.raises(ResultError) as raised:
        await run("Review", sdk.options(), into=messages)

    assert time.monotonic() - started < 20
    assert raised.value.terminal_reason == "api_error"
    assert result_of(messages).api_error_status == 529
    assert any(isinstance(m, AssistantMessage) and m.error for m in messages)
    stalled, fallback = fake_anthropic.message_requests()
    assert stalled.completed is False
    assert fallback.body is not None
    assert fallback.body["stream"] is False


async def test_lanes_route_concurrent_runs_by_system_prompt_marker(
    fake_anthropic: FakeAnthropic, sdk: SdkSandbox
) -> None:
    fake_anthropic.script(text("scout report"), lane="scout")
    fake_anthropic.script(text("analyst report"), lane="analyst")

    def options(lane: str) -> ClaudeAgentOptions:
        return sdk.options(system_prompt=f"You are the {lane}. {lane_marker(lane)}")

    scout, analyst = await asyncio.gather(
        run("Review Harbor Point", options("scout")),
        run("Review Harbor Point", options("analyst")),
    )

    assert result_of(scout).result == "scout report"
    assert result_of(analyst).result == "analyst report"
    assert sorted(r.lane or "" for r in fake_anthropic.message_requests()) == ["analyst", "scout"]
    assert fake_anthropic.pending() == 0
    for lane, messages in (("scout", scout), ("analyst", analyst)):
        usage = result_of(messages).usage
        assert usage is not None
        assert usage["input_tokens"] == fake_anthropic.usage(lane).input_tokens
    assert_stayed_on_loopback(fake_anthropic)


async def test_traffic_bound_off_loopback_lands_in_the_proxy_trap(
    fake_anthropic: FakeAnthropic, sdk: SdkSandbox
) -> None:
    """The check behind ``assert_stayed_on_loopback``: the CLI honours the proxy variables."""
    options = sdk.options(env={"ANTHROPIC_BASE_URL": "https://api.anthropic.invalid"})

    with pytest.raises(ResultError):
        await run("Review", options)

    [attempt] = fake_anthropic.escape_attempts
    assert (attempt.method, attempt.path) == ("CONNECT", "api.anthropic.invalid:443")
    assert fake_anthropic.message_requests() == []
