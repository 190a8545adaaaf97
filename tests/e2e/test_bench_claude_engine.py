"""``bench/claude_engine.py``'s core path, small: 20 accounts, 1 owner, real SDK + bundled CLI.

Checks that the scripted model really works like an agent (the Scout and the Analyst call the
product's read tools for every account and answer only after the results came back), that the
fake's token accounting is what went out in each response's ``usage`` and what the product
summed, and that the figures are plausible.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import claude_agent_sdk
import pytest

from bench.claude_engine import Bench, Options, conversation, readable, review
from tests.fakes.anthropic_api import (
    INPUT_PARTS,
    ApiRequest,
    RecordedRequest,
    count_input_parts,
    count_tokens,
)

pytestmark = pytest.mark.timeout(240)

BUNDLED_CLI = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
RUN_TIMEOUT = 200.0
ROUNDS = {"scout": 2, "analyst": 1, "author": 0}
"""Tool rounds before the answer, per role (see ``bench.claude_engine.TOOL_ROUNDS``)."""


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    if not BUNDLED_CLI.exists():
        pytest.skip(f"claude-agent-sdk has no bundled CLI at {BUNDLED_CLI}")
    root = tmp_path_factory.mktemp("bench-claude")
    options = Options(accounts=20, owners=1, latency=0.0, batch=8)
    return asyncio.run(asyncio.wait_for(review(root, options), RUN_TIMEOUT))


def completed(bench: Bench, lane: str | None = None) -> list[RecordedRequest]:
    return [r for r in bench.fake.message_requests(lane) if r.completed]


def test_the_run_reviews_every_flagged_account_on_the_model(bench: Bench) -> None:
    report = bench.report
    flagged = report["flagged_accounts"]
    assert 2 < flagged <= report["accounts"] == 20
    assert report["accounts_seen_by_the_model"] == flagged
    assert report["recommendations"] == flagged
    assert (report["fallbacks"], report["failed"]) == (0, 0)
    assert report["fake_errors"] == []
    assert report["escape_attempts"] == 0
    assert report["cli_processes_started"] == report["pool_size"] == 3
    assert report["targets_met"]["processes"]
    load = report["load_average"]
    assert len(load["before"]) == len(load["after"]) == 3
    assert "input tokens per flagged account" in readable(report)


def test_scout_and_analyst_call_their_tools_for_every_account_before_answering(
    bench: Bench,
) -> None:
    roles = bench.report["roles"]
    flagged = bench.report["flagged_accounts"]
    assert roles["scout"]["tool_calls_by_tool"] == {
        "mcp__zoho__zoho_get_account_details": flagged,
        "mcp__zoho__zoho_get_deals": flagged,
    }
    assert roles["analyst"]["tool_calls_by_tool"] == {
        "mcp__memory__cognee_retrieve_history": flagged
    }
    assert roles["author"]["tool_calls"] == 0  # the product offers the Author no tool
    for role, rounds in ROUNDS.items():
        figures = roles[role]
        batches = figures["structured_answers"]
        assert batches >= 1
        # Every call came back as a result the product ran (audited by its hooks), no error.
        assert figures["tool_results"] == figures["tool_calls"]
        assert figures["tool_runs_audited_by_the_product"] == figures["tool_calls"]
        assert figures["tool_result_errors"] == 0
        # One request per tool round, then the answer, per batch.
        assert figures["requests"] == (rounds + 1) * batches
        assert figures["requests_with_tool_results"] == rounds * batches


def test_answers_come_after_the_tool_results_and_the_conversation_grows(bench: Bench) -> None:
    for role, rounds in ROUNDS.items():
        records = completed(bench, role)
        for start in range(0, len(records), rounds + 1):
            batch = records[start : start + rounds + 1]
            *tool_turns, answer = batch
            assert all(t.tool_calls and "StructuredOutput" not in t.tool_calls for t in tool_turns)
            assert answer.tool_calls == ("StructuredOutput",)
            assert answer.body is not None
            convo = conversation(ApiRequest(answer.body))
            assert convo.ids
            if rounds:
                # The answering request carries a result for every call about each account.
                for account_id in convo.ids:
                    assert len(convo.results_for(account_id)) == rounds
                results = [text for text, _ in convo.results.values()]
                assert all(text.strip() for text in results)
            inputs = [r.input_tokens for r in batch]
            tool_result_tokens = [r.input_parts["tool_results"] for r in batch]
            assert inputs == sorted(inputs)
            assert len(set(inputs)) == len(inputs)  # each turn re-sends the conversation
            assert tool_result_tokens == sorted(tool_result_tokens)
            assert (tool_result_tokens[-1] > 0) == bool(rounds)


def test_token_totals_are_the_sum_of_what_each_response_reported(bench: Bench) -> None:
    report = bench.report
    total_in = total_out = 0
    for role in ROUNDS:
        records = completed(bench, role)
        sent_in = sent_out = 0
        for record in records:
            assert record.body is not None
            # The fake counted the body it received, by part ...
            assert record.input_parts == count_input_parts(record.body)
            assert record.input_tokens == sum(record.input_parts.values())
            # ... and that is what went out on the wire.
            assert record.sent_usage == {
                "input_tokens": record.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": record.output_tokens,
            }
            sent_in += record.sent_usage["input_tokens"]
            sent_out += record.sent_usage["output_tokens"]
        figures = report["roles"][role]
        assert (figures["input_tokens"], figures["output_tokens"]) == (sent_in, sent_out)
        assert sum(figures["input_tokens_by_part"].values()) == sent_in
        # The product's own sum of the CLI's results agrees, role by role.
        assert report["product_usage_by_role"][role] == {
            "input_tokens": sent_in,
            "output_tokens": sent_out,
        }
        total_in += sent_in
        total_out += sent_out
    assert (report["input_tokens"], report["output_tokens"]) == (total_in, total_out)
    assert report["product_usage_total"] == {"input_tokens": total_in, "output_tokens": total_out}
    assert report["requests_total"] == len(completed(bench))
    assert set(report["input_tokens_by_part"]) == set(INPUT_PARTS)


def test_figures_are_plausible(bench: Bench) -> None:
    report = bench.report
    flagged = report["flagged_accounts"]
    roles = report["roles"]
    # Tool results are a real share of the Scout's and the Analyst's input.
    for role in ("scout", "analyst"):
        parts = roles[role]["input_tokens_by_part"]
        assert parts["tool_results"] > 0.1 * roles[role]["input_tokens"]
        assert parts["tools"] > 0
    assert roles["author"]["input_tokens_by_part"]["tool_results"] == 0
    per_account = report["input_tokens_per_flagged_account"]
    assert per_account == round(report["input_tokens"] / flagged)
    assert 1_000 < per_account < 60_000
    assert 50 < report["output_tokens"] / flagged < 5_000
    spread = report["input_tokens_per_account_spread"]
    assert spread["min"] <= spread["median"] <= spread["max"]
    # Every request reads at least its system prompt and tool definitions.
    for record in completed(bench):
        assert record.input_parts["system"] > 50
        assert record.input_parts["tools"] > 0
        assert record.output_tokens > 0
    # A Zoho record id costs more than a word: the tokenizer is not characters ÷ 4 of prose.
    assert count_tokens("5725767000001000005") > count_tokens("relationship")
