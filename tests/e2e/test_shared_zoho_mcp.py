"""A team's shared Zoho MCP server, end to end, in separate processes over loopback.

`sergas mcp zoho --http` serves the demo org from its own workspace; apps in `mode = "mcp"` (each
with its own config dir and workspace) review an owner, approve two writes and reject one. Exactly
two records appear in the demo CRM, a replayed token is refused, and the audit on both sides says
so. Then the same with the central PostgreSQL verifying tokens for two client workspaces.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from sergas_tui.crm.approval_gate import ApprovalRefusedError
from sergas_tui.crm.mcp.client import McpGateway
from sergas_tui.crm.mcp.tools import REGISTER_TOOL
from sergas_tui.demo import DemoStore
from sergas_tui.domain import Approval, ApprovalStatus
from sergas_tui.domain.grants import approval_marker
from tests.helpers.zoho_mcp import SERVER_TOKEN, Home, records_with_markers, zoho_server

pytestmark = pytest.mark.slow

WRITES = ("create_task", "add_note", "follow_up_email", "escalation")


def app_config(url: str, *, dsn: str | None = None) -> str:
    text = f'[zoho]\nmode = "mcp"\nmcp_endpoint = "{url}"\n'
    if dsn is not None:
        text += f"[central]\ndsn = {json.dumps(dsn)}\n"
    return text


def pending_writes(home: Home, workspace: str) -> list[Approval]:
    with home.repo(workspace) as repo:
        pending = repo.pending_approvals()
    return [a for a in pending if a.action_type in WRITES]


async def replay(url: str, approval: Approval) -> ApprovalRefusedError:
    """Send an executed approval's write again, with its real token, straight to the server."""
    async with await McpGateway.connect_http(url, SERVER_TOKEN) as gateway:
        arguments = {
            "account_id": approval.account_id,
            "subject": getattr(approval.payload, "subject", None) or "replay",
            "description": approval_marker(approval.id),
            "approval_id": approval.id,
            "approval_token": approval.token,
        }
        with pytest.raises(ApprovalRefusedError) as refused:
            await gateway.call("zoho_create_task", arguments)
        return refused.value


def review_and_decide(
    home: Home, workspace: str, owner: str, *, skip: frozenset[str] = frozenset()
) -> list[Approval]:
    """Review the owner through the shared server, approve two writes, reject one (of those
    not in ``skip``)."""
    reviewed = home.run("-w", workspace, "review", "--owner", owner)
    assert reviewed.returncode == 0, reviewed.stderr + reviewed.stdout
    candidates = [a for a in pending_writes(home, workspace) if a.id not in skip]
    assert len(candidates) >= 3, reviewed.stdout
    first, second, third = candidates[:3]
    for approval in (first, second):
        decided = home.run("-w", workspace, "approvals", "approve", approval.id, "--reason", "ok")
        assert decided.returncode == 0, decided.stderr + decided.stdout
    rejected = home.run("-w", workspace, "approvals", "reject", third.id, "--reason", "not now")
    assert rejected.returncode == 0, rejected.stderr
    with home.repo(workspace) as repo:
        stored = [repo.get_approval(a.id) for a in (first, second, third)]
    assert [a.status if a else None for a in stored] == [
        ApprovalStatus.EXECUTED,
        ApprovalStatus.EXECUTED,
        ApprovalStatus.REJECTED,
    ], [a.error_message if a else None for a in stored]
    return [a for a in stored if a is not None]


def audit_of(home: Home, workspace: str) -> list[Any]:
    with home.repo(workspace) as repo:
        return repo.audit_events(limit=5000)


@pytest.fixture
def team(tmp_path: Path) -> tuple[Home, str]:
    """The server's machine with a small demo org; returns it and an owner's email."""
    server = Home(tmp_path / "server")
    made = server.run("demo", "generate", "--accounts", "40", "--owners", "2", "--seed", "5")
    assert made.returncode == 0, made.stderr
    store = DemoStore.open(server.locations.demo_crm_file("demo"))
    owner = store.meta().current_user_email
    store.close()
    return server, owner


async def test_a_shared_server_writes_exactly_the_approved_actions(
    team: tuple[Home, str], tmp_path: Path
) -> None:
    server, owner = team
    app = Home(tmp_path / "laptop")
    org = server.locations.demo_crm_file("demo")
    with zoho_server(server) as url:
        app.configure(app_config(url))
        approved, again, rejected = review_and_decide(app, "ana", owner)

        assert records_with_markers(org, [approved, again, rejected]) == {
            approved.id: 1,
            again.id: 1,
            rejected.id: 0,
        }
        refused = await replay(url, approved)
        assert refused.reason == "already_used"
        assert approved.token not in str(refused)
        assert records_with_markers(org, [approved])[approved.id] == 1

    app_audit = audit_of(app, "ana")
    executed = {
        e.tool_inputs["approval_id"] for e in app_audit if e.action_type == "action_executed"
    }
    assert executed == {approved.id, again.id}
    decided = [e for e in app_audit if e.action_type == "approval_decided"]
    assert {e.decision for e in decided} >= {"approved", "rejected"}

    server_audit = audit_of(server, "demo")
    done = [e for e in server_audit if e.action_type == "action_executed" and not e.error_message]
    # Each write of a write set is its own row (``<approval id>/<n>`` for the further writes).
    landed = {e.tool_inputs["approval_id"] for e in done}
    assert {ident.split("/")[0] for ident in landed} == {approved.id, again.id}
    for approval in (approved, again):
        parts = {f"{approval.id}/{n}" for n in range(1, len(approval.also) + 1)}
        assert landed >= {approval.id, *parts}
    denied = [e for e in server_audit if e.action_type == "tool_denied"]
    assert [e.tool_inputs["approval_id"] for e in denied] == [approved.id]
    assert "already_used" in (denied[0].error_message or "")
    for event in [*app_audit, *server_audit]:
        assert approved.token not in event.model_dump_json()


@pytest.mark.postgres
async def test_central_postgres_verifies_tokens_for_two_workspaces(
    team: tuple[Home, str], tmp_path: Path, postgres_dsn: str
) -> None:
    server, owner = team
    schema = f"sergas_e2e_{uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    dsn = make_conninfo(postgres_dsn, options=f"-c search_path={schema}")
    org = server.locations.demo_crm_file("demo")
    try:
        server.configure(f"[central]\ndsn = {json.dumps(dsn)}\n")
        with zoho_server(server) as url:
            async with await McpGateway.connect_http(url, SERVER_TOKEN) as gateway:
                assert REGISTER_TOOL not in gateway.tools  # grants come from the database only
            laptop, desktop = Home(tmp_path / "laptop"), Home(tmp_path / "desktop")
            laptop.configure(app_config(url, dsn=dsn))
            desktop.configure(app_config(url, dsn=dsn))
            decided = review_and_decide(laptop, "ana-laptop", owner)
            taken = frozenset(a.id for a in decided)
            decided += review_and_decide(desktop, "ana-desktop", owner, skip=taken)
            # The same approval decided again on the other device: refused, naming who decided.
            first = next(a for a in decided if a.status == ApprovalStatus.EXECUTED)
            again = desktop.run("-w", "ana-desktop", "approvals", "approve", first.id)
            assert again.returncode != 0
            refusal = " ".join(again.stderr.split())
            assert "is already executed (decided by" in refusal, refusal
            written = [a for a in decided if a.status == ApprovalStatus.EXECUTED]
            assert len(written) == 4
            # Reviews of one owner on one day propose the same recommendations (their ids are
            # derived from the problem), so the two devices may decide the same one: whatever
            # they decided, every executed approval is exactly one record.
            counts = records_with_markers(org, decided)
            assert {counts[a.id] for a in written} == {1}
            executed_ids = {a.id for a in written}
            assert all(n == 0 for aid, n in counts.items() if aid not in executed_ids)
            for approval in written:
                assert (await replay(url, approval)).reason == "already_used"
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT approval_id, state, decided_by, token_hash FROM approval_grants"
            ).fetchall()
        states = {row[0]: row[1] for row in rows}
        assert {a.id: states.get(a.id) for a in written} == dict.fromkeys(
            (a.id for a in written), "completed"
        )
        assert all(a.token not in json.dumps(rows) for a in written)
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_the_documented_stdio_command_works_as_written(tmp_path: Path) -> None:
    """`mode = "mcp"` with `mcp_command = ["sergas", "mcp", "zoho"]`: the child serves this
    machine's demo org (it never starts itself again), in the app's own locations."""
    home = Home(tmp_path / "laptop")
    made = home.run("demo", "generate", "--accounts", "30", "--owners", "2", "--seed", "9")
    assert made.returncode == 0, made.stderr
    store = DemoStore.open(home.locations.demo_crm_file("demo"))
    owner = store.meta().current_user_email
    store.close()
    home.configure('[zoho]\nmode = "mcp"\nmcp_command = ["sergas", "mcp", "zoho"]\n')
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    reviewed = home.run("review", "--owner", owner, PATH=path)
    assert reviewed.returncode == 0, reviewed.stderr + reviewed.stdout
    [approval, *_] = pending_writes(home, "default")
    decided = home.run("approvals", "approve", approval.id, PATH=path)
    assert decided.returncode == 0, decided.stderr + decided.stdout
    with home.repo("default") as repo:
        stored = repo.get_approval(approval.id)
    assert stored is not None
    assert stored.status == ApprovalStatus.EXECUTED, stored.error_message
    org = home.locations.demo_crm_file("demo")
    assert records_with_markers(org, [approval]) == {approval.id: 1}


def test_a_server_that_would_serve_itself_stops_with_a_clear_message(tmp_path: Path) -> None:
    home = Home(tmp_path / "empty")
    home.configure('[zoho]\nmode = "mcp"\nmcp_command = ["sergas", "mcp", "zoho"]\n')
    result = home.run("mcp", "zoho")
    assert result.returncode == 2
    assert "would only start itself again" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
