"""The double gate on a real CLI session: even a write tool that *is* offered never runs.

The engine never offers a write tool, so this test offers one on purpose (a Zoho-named
``zoho_create_task`` that counts its calls) to a session built with the engine's own
``can_use_tool`` and hooks, and checks that the PreToolUse hook audits and denies it, the
tool never runs, ``permission_denials`` lists it, and the allowed read runs and is audited
before and after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import create_sdk_mcp_server, tool

from sergas_tui.agents.claude.hooks import AuditTrail, audit_hooks, permission_gate
from sergas_tui.agents.claude.policy import ZOHO_SERVER
from sergas_tui.agents.claude.sessions import Session, SessionPool
from sergas_tui.clock import FixedClock
from sergas_tui.domain import AuditAction
from sergas_tui.storage import Repository
from tests.conftest import FIXED_NOW
from tests.fakes.anthropic_api import FakeAnthropic, ToolUse, Turn, structured, text
from tests.fakes.sdk_env import SdkSandbox

pytestmark = pytest.mark.timeout(60)


def server(calls: list[str]) -> Any:
    @tool("zoho_get_notes", "Notes of an account", {"account_id": str})
    async def notes(args: dict[str, Any]) -> dict[str, Any]:
        calls.append("zoho_get_notes")
        return {"content": [{"type": "text", "text": '{"notes": []}'}]}

    @tool("zoho_create_task", "Create a task", {"account_id": str, "subject": str})
    async def create(args: dict[str, Any]) -> dict[str, Any]:
        calls.append("zoho_create_task")
        return {"content": [{"type": "text", "text": "created"}]}

    return create_sdk_mcp_server(ZOHO_SERVER, tools=[notes, create])


async def test_offered_write_is_denied_by_the_hook_and_audited(
    fake_anthropic: FakeAnthropic, sdk: SdkSandbox, tmp_path: Path
) -> None:
    repository = Repository.open(tmp_path / "workspace.db")
    trail = AuditTrail(repository, FixedClock(FIXED_NOW), run_id="run-1")
    calls: list[str] = []
    fake_anthropic.script(
        Turn(
            blocks=(
                ToolUse("zoho_get_notes", {"account_id": "1"}),
                ToolUse("zoho_create_task", {"account_id": "1", "subject": "pwned"}),
            )
        ),
        structured({"accounts": []}),
        text("second request"),
    )
    options = sdk.options(
        system_prompt="Scout.",
        mcp_servers={ZOHO_SERVER: server(calls)},
        can_use_tool=permission_gate("scout"),
        hooks=audit_hooks("scout", trail),
        output_format={"type": "json_schema", "schema": {"type": "object"}},
    )

    async def open_session(role: Any) -> Session:
        session = Session(role, options)
        await session.start()
        return session

    pool = SessionPool(open_session, 1)
    try:
        session = await pool.acquire("scout")
        reply = await session.ask("go", within=30, on_event=lambda _event: None)
        await pool.release(session)
        again = await pool.acquire("scout")  # the same process, reused
        assert again is session
        second = await session.ask("again", within=30, on_event=lambda _event: None)
        await pool.release(session)
    finally:
        await pool.aclose()

    assert calls == ["zoho_get_notes"]
    result = reply.result
    assert result is not None
    assert result.structured_output == {"accounts": []}
    assert [d["tool_name"] for d in result.permission_denials or []] == [
        "mcp__zoho__zoho_create_task"
    ]
    rows = repository.audit_events(limit=100)
    denied = [r for r in rows if r.action_type == AuditAction.TOOL_DENIED]
    assert [r.tool_name for r in denied] == ["mcp__zoho__zoho_create_task"]
    assert "approves" in (denied[0].error_message or "")
    allowed = [r for r in rows if r.action_type == AuditAction.TOOL_INVOCATION]
    assert [(r.tool_outputs or {}).get("gate") for r in allowed] == [  # type: ignore[union-attr]
        "pre_tool_use",
        "post_tool_use",
    ]
    assert {r.session_id for r in rows} == {"run-1"}
    assert pool.started == 1
    # The second request started a fresh conversation (/clear): nothing of the first is resent.
    assert second.result is not None
    last = fake_anthropic.message_requests()[-1].body
    assert last is not None
    assert "zoho_create_task" not in str(last["messages"])
    repository.close()


def test_review_cli_runs_the_claude_engine_and_shows_tokens(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    from sergas_tui.cli.review_run import review_command
    from sergas_tui.config import load_settings
    from sergas_tui.demo import generate
    from sergas_tui.locations import Locations
    from tests.fakes.sdk_env import DUMMY_API_KEY
    from tests.helpers.claude import assess, many, recommend

    monkeypatch.setenv("ANTHROPIC_API_KEY", DUMMY_API_KEY)
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")
    locations = Locations.from_env()
    path = locations.demo_crm_file("demo")
    path.parent.mkdir(parents=True)
    generate(path, accounts=20, owners=1, seed=3, now=FIXED_NOW)
    settings = load_settings(
        locations,
        overrides={
            "zoho": {"requests_per_minute": 10_000},
            "anthropic": {"base_url": fake_anthropic.base_url},
        },
    )
    fake_anthropic.script(*many(assess()), lane="scout")
    fake_anthropic.script(*many(assess()), lane="analyst")
    fake_anthropic.script(*many(recommend()), lane="author")
    out = io.StringIO()

    code = review_command(
        settings,
        locations,
        Console(file=out, width=160),
        workspace=None,
        owner=None,
        everyone=True,
        engine="claude",
        json_file=None,
        markdown_dir=None,
    )

    assert code == 0, out.getvalue()
    assert "model tokens" in out.getvalue()
    assert f"{fake_anthropic.usage().input_tokens:,} in" in out.getvalue()
