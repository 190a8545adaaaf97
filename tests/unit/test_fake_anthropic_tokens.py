"""The fake Messages API's own token accounting: its tokenizer, the input parts it counts, and
the per-request and per-lane figures it reports (over loopback HTTP, without the CLI)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic_api import (
    BLOCK_OVERHEAD_TOKENS,
    INPUT_PARTS,
    MESSAGE_OVERHEAD_TOKENS,
    TOOL_USE_SYSTEM_TOKENS,
    FakeAnthropic,
    compact_json,
    count_input_parts,
    count_input_tokens,
    count_tokens,
    lane_marker,
    structured,
    text,
    tool_call,
)

PROSE = (
    "Judge what changed and what matters: stalled deals, slipping dates, silence, lost "
    "contacts. Return, for every account, a short assessment that the author will read."
)
TOOL_NAME = "mcp__zoho__zoho_get_deals"
TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "The deals of one account.",
    "input_schema": {"type": "object", "properties": {"account_id": {"type": "string"}}},
}


@pytest.mark.parametrize(
    ("piece", "tokens"),
    [
        ("", 0),
        ("hello", 1),
        ("hello world", 2),  # a single space joins the next word
        ("hello\n\nworld", 3),  # any other whitespace run is a token
        ("relationship", 2),  # six letters a token
        ("5725767000001000005", 7),  # three digits a token
        ('{"a":1}', 5),  # '{"', 'a', '":', '1', '}'
        ("snake_case", 3),
        ("Zürich", 3),  # a letter outside ASCII is a token of its own
    ],
)
def test_tokenizer_counts_pieces(piece: str, tokens: int) -> None:
    assert count_tokens(piece) == tokens


def test_tokenizer_reads_prose_near_four_characters_a_token_and_json_denser() -> None:
    prose = len(PROSE) / count_tokens(PROSE)
    data = compact_json({"deals": [{"id": "5725767000001000005", "amount": 125000.5}] * 5})
    assert 3.3 < prose < 5.0
    assert len(data) / count_tokens(data) < prose


def test_input_parts_count_what_the_model_reads() -> None:
    result_text = "CRM data: " + compact_json({"count": 2, "deals": ["a", "b"]})
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 32000,
        "metadata": {"user_id": "x" * 500},
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "system": [{"type": "text", "text": PROSE, "cache_control": {"type": "ephemeral"}}],
        "tools": [TOOL],
        "messages": [
            {"role": "user", "content": "Assess account 1."},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Read the deals.", "signature": "s" * 300},
                    {"type": "tool_use", "id": "t1", "name": TOOL["name"], "input": {"id": "1"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": result_text}],
                    }
                ],
            },
        ],
    }
    parts = count_input_parts(body)
    assert tuple(parts) == INPUT_PARTS
    assert parts["system"] == count_tokens(PROSE)
    assert parts["tools"] == TOOL_USE_SYSTEM_TOKENS + count_tokens(compact_json(TOOL))
    assert parts["messages"] == (
        3 * MESSAGE_OVERHEAD_TOKENS
        + count_tokens("Assess account 1.")
        + count_tokens("Read the deals.")
    )
    assert parts["tool_calls"] == BLOCK_OVERHEAD_TOKENS + count_tokens(TOOL["name"] + '{"id":"1"}')
    assert parts["tool_results"] == BLOCK_OVERHEAD_TOKENS + count_tokens(result_text)
    assert count_input_tokens(body) == sum(parts.values())
    # Fields the model never reads (metadata, thinking config, signatures) cost nothing.
    bare = {k: body[k] for k in ("system", "tools", "messages")}
    assert count_input_tokens(bare) == count_input_tokens(body)
    # A bigger tool result costs more, in the tool_results part only.
    body["messages"][2]["content"][0]["content"] = result_text * 3
    bigger = count_input_parts(body)
    assert bigger["tool_results"] > parts["tool_results"]
    assert {k: v for k, v in bigger.items() if k != "tool_results"} == {
        k: v for k, v in parts.items() if k != "tool_results"
    }


def sse_usage(body: str) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    for chunk in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        data = json.loads(fields["data"])
        if fields["event"] == "message_start":
            usage.update(data["message"]["usage"])
        elif fields["event"] == "message_delta":
            usage.update(data["usage"])
    return usage


def test_the_fake_reports_usage_tool_calls_and_tool_results_per_request_and_lane() -> None:
    first = {
        "model": "m",
        "system": f"Scout {lane_marker('scout')}",
        "tools": [TOOL, {"name": "StructuredOutput", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "Assess account 1."}],
    }
    second = {
        **first,
        "messages": [
            *first["messages"],
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": TOOL["name"], "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "no deals"},
                    {"type": "tool_result", "tool_use_id": "t2", "content": "x", "is_error": True},
                ],
            },
        ],
    }
    third = {"model": "m", "messages": first["messages"]}
    with FakeAnthropic() as fake, httpx.Client(base_url=fake.base_url, timeout=10) as client:
        fake.script(
            text("Reading.") + tool_call("zoho_get_deals", {"account_id": "1"}),
            structured({"accounts": []}),
            lane="scout",
        )
        fake.script(text("hi"))
        streamed = client.post("/v1/messages?beta=true", json={**first, "stream": True})
        plain = client.post("/v1/messages", json=second)
        other = client.post("/v1/messages", json=third)

    records = fake.message_requests()
    assert [r.lane for r in records] == ["scout", "scout", "default"]
    assert all(r.completed for r in records)
    assert sse_usage(streamed.text) == records[0].sent_usage
    assert plain.json()["usage"] == records[1].sent_usage
    assert other.json()["usage"] == records[2].sent_usage
    for record, body in zip(records, (first, second, third), strict=True):
        assert record.input_tokens == count_input_tokens(body)
        assert record.sent_usage == {
            "input_tokens": record.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": record.output_tokens,
        }
    assert records[0].tool_calls == ("mcp__zoho__zoho_get_deals",)
    assert records[1].tool_calls == ("StructuredOutput",)
    assert (records[1].tool_results, records[1].tool_result_errors) == (2, 1)
    assert records[1].input_parts["tool_results"] > 0

    scout = fake.accounting("scout")
    assert scout.requests == 2
    assert scout.tool_calls == {"mcp__zoho__zoho_get_deals": 1}
    assert scout.tool_calls_total == 1
    assert scout.structured_answers == 1
    assert (scout.tool_results, scout.tool_result_errors) == (2, 1)
    assert scout.requests_with_tool_results == 1
    assert scout.input_tokens == sum(r.sent_usage["input_tokens"] for r in records[:2])
    assert scout.output_tokens == sum(r.sent_usage["output_tokens"] for r in records[:2])
    assert sum(scout.input_parts.values()) == scout.input_tokens
    assert scout.as_dict()["tool_calls_by_tool"] == {"mcp__zoho__zoho_get_deals": 1}
    overall = fake.accounting()
    assert overall.input_tokens == fake.usage().input_tokens == sum(r.input_tokens for r in records)
    assert fake.lanes() == ["scout", "default"]
