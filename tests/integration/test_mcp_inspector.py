"""Our MCP servers as the official MCP Inspector CLI sees them (conformance with a real client).

The Inspector (``@modelcontextprotocol/inspector``, pinned in ``tests/inspector``; install it
with ``npm ci --prefix tests/inspector``, which ``make test`` does when node is present) drives,
as subprocesses with a temporary HOME, ``sergas mcp zoho`` and ``sergas mcp memory`` over stdio
and over streamable HTTP, on a reviewed demo workspace. For each: ``tools/list`` names the
expected tools, a read tool's JSON result parses, and a refused write or invalid call reaches
the client as an ``isError`` result saying why (exit code 5, ``tool_is_error``), never as a
schema error (-32602) that hides the message. Over HTTP a wrong or missing bearer token is a
plain authentication failure (exit 3, ``auth_required``) with no OAuth discovery.

Skipped (saying why) when node or ``tests/inspector/node_modules`` is missing; in CI (``CI``
set) a missing install fails instead, so the check cannot silently vanish.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sergas_tui.crm.mcp.tools import TOOLS as ZOHO_TOOLS
from sergas_tui.memory.mcp_tools import READ_TOOL_NAMES as MEMORY_READ_TOOLS
from sergas_tui.memory.mcp_write_tools import SERVER_TOOLS as MEMORY_TOOLS
from tests.fakes.reviewed_memory import ReviewedMemory, build_reviewed_memory

ROOT = Path(__file__).resolve().parents[2]
INSPECTOR_DIR = ROOT / "tests" / "inspector"
INSPECTOR_BIN = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"
NODE = shutil.which("node")
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
INSTALL = "npm ci --no-audit --no-fund --prefix tests/inspector"

TOKEN = "inspector-test-token-0123456789-XyZqW"
RUN_TIMEOUT = 120.0
"""Seconds one Inspector run may take (it starts a Python server when over stdio)."""
START_TIMEOUT = 60.0
"""Seconds an HTTP server may take to say it listens."""

pytestmark = pytest.mark.slow

EXIT_OK, EXIT_AUTH_REQUIRED, EXIT_TOOL_ERROR = 0, 3, 5
"""Exit codes of the Inspector CLI 2.x."""

ZOHO_TOOL_NAMES = {spec.name for spec in ZOHO_TOOLS}
MEMORY_TOOL_NAMES = {spec.name for spec in MEMORY_TOOLS}

if NODE is None:
    pytest.skip(
        f"node is not installed: the MCP Inspector conformance tests need Node.js and `{INSTALL}`",
        allow_module_level=True,
    )
NOT_INSTALLED = f"the MCP Inspector is not installed in {INSPECTOR_DIR}: run `{INSTALL}`"
if not INSPECTOR_BIN.exists() and not IN_CI:
    pytest.skip(f"{NOT_INSTALLED} (or `make test`)", allow_module_level=True)


@pytest.fixture(autouse=True)
def inspector_installed() -> None:
    """In CI (node present) a missing install fails each test rather than skipping them."""
    if not INSPECTOR_BIN.exists():
        pytest.fail(f"CI is set but {NOT_INSTALLED}", pytrace=False)


# --- a workspace and the Inspector -------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """A reviewed demo workspace: its directories as the CLI's environment, and a HOME."""

    reviewed: ReviewedMemory
    env: dict[str, str]
    """``SERGAS_*_DIR`` and a keyring that fails (secrets come from the environment)."""
    home: Path

    @property
    def account_id(self) -> str:
        return self.reviewed.scenarios["exec_sponsor_changed"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("inspector")
    reviewed = build_reviewed_memory(root / "sergas", accounts=20)
    home = root / "home"
    home.mkdir()
    env = {
        "SERGAS_CONFIG_DIR": str(root / "sergas" / "config"),
        "SERGAS_DATA_DIR": str(root / "sergas" / "data"),
        "SERGAS_LOG_DIR": str(root / "sergas" / "log"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    return Workspace(reviewed, env, home)


@dataclass(frozen=True)
class Run:
    """One Inspector run: exit code and output (``--format json``: one JSON object each)."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)["result"]
        return data

    @property
    def error(self) -> dict[str, Any]:
        last = self.stderr.strip().splitlines()[-1]
        data: dict[str, Any] = json.loads(last)["error"]
        return data

    def text(self) -> str:
        """The text of a tools/call result (one text block)."""
        [block] = self.result["content"]
        assert block["type"] == "text"
        text: str = block["text"]
        return text

    def __str__(self) -> str:
        return f"exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def inspect(workspace: Workspace, target: list[str], *options: str) -> Run:
    """Run the Inspector CLI against ``target``: a URL (plus its options) or a stdio command."""
    command = [NODE or "node", str(INSPECTOR_BIN.resolve()), "--cli", "--format", "json", "-q"]
    if target[0].startswith("http://"):
        command += ["--stored-auth-only", *target, *options]
    else:
        for name, value in workspace.env.items():
            command += ["-e", f"{name}={value}"]
        command += [*options, "--", *target]
    env = {"HOME": str(workspace.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=workspace.home,
        stdin=subprocess.DEVNULL,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def call(workspace: Workspace, target: list[str], tool: str, arguments: dict[str, Any]) -> Run:
    """tools/call with ``arguments`` sent verbatim (ids stay strings)."""
    return inspect(
        workspace,
        target,
        "--method",
        "tools/call",
        "--tool-name",
        tool,
        "--tool-args-json",
        json.dumps(arguments),
    )


def listed(workspace: Workspace, target: list[str]) -> dict[str, dict[str, Any]]:
    run = inspect(workspace, target, "--method", "tools/list")
    assert run.returncode == EXIT_OK, run
    return {tool["name"]: tool for tool in run.result["tools"]}


def assert_json_result(run: Run) -> dict[str, Any]:
    """A successful call: its JSON once, as text (no structured copy, nothing to validate)."""
    assert run.returncode == EXIT_OK, run
    assert not run.result.get("isError"), run
    assert "structuredContent" not in run.result, run
    data: dict[str, Any] = json.loads(run.text())
    return data


def assert_tool_error(run: Run, *fragments: str) -> str:
    """A call that reached the tool and came back ``isError`` with a message saying why."""
    assert run.returncode == EXIT_TOOL_ERROR, run
    assert run.error["code"] == "tool_is_error", run
    assert run.result["isError"] is True, run
    text = run.text()
    for fragment in fragments:
        assert fragment in text, run
    assert "-32602" not in run.stdout + run.stderr, run
    assert "structuredContent" not in run.result, run
    return text


# --- servers -----------------------------------------------------------------------------------


def sergas(*args: str) -> list[str]:
    return [sys.executable, "-m", "sergas_tui", *args]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def http_server(
    workspace: Workspace, kind: str, *extra: str, log_dir: Path | None = None
) -> Iterator[str]:
    """``sergas mcp KIND --http PORT`` on loopback; yields its URL once it says it listens."""
    env = {
        **workspace.env,
        "HOME": str(workspace.home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SERGAS_MCP_SERVER_TOKEN": TOKEN,
    }
    if log_dir is not None:
        env["SERGAS_LOG_DIR"] = str(log_dir)
    command = sergas("mcp", kind, "--http", str(free_port()), "--host", "127.0.0.1", *extra)
    proc = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{' '.join(command)} did not start in time: {''.join(seen)}")
            if line is None:
                pytest.fail(f"{' '.join(command)} exited {proc.wait()}: {''.join(seen)}")
            seen.append(line)
            if " MCP server on http://" in line:
                yield line.split(" on ", 1)[1].strip()
                return
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=15)  # the pipe ends with the process
        if proc.stderr is not None and not reader.is_alive():
            proc.stderr.close()


def over_http(url: str, token: str | None = TOKEN) -> list[str]:
    return [url, "--header", f"Authorization: Bearer {token}"] if token else [url]


# --- the Zoho server ---------------------------------------------------------------------------


def check_zoho(workspace: Workspace, target: list[str]) -> None:
    tools = listed(workspace, target)
    assert set(tools) == ZOHO_TOOL_NAMES
    assert all("outputSchema" not in tool for tool in tools.values())

    page = assert_json_result(call(workspace, target, "zoho_get_accounts", {"limit": 2}))
    assert len(page["accounts"]) == 2
    assert page["next_page_token"]

    task = {"account_id": workspace.account_id, "subject": "Call the new executive sponsor"}
    bogus = call(
        workspace,
        target,
        "zoho_create_task",
        {**task, "approval_id": "bogus-approval", "approval_token": "bogus-token"},
    )
    text = assert_tool_error(bogus, "Write not approved: ", "matches no recorded approval")
    assert bogus.result["_meta"]["sergas/error"]["error"]["reason"] == "unknown_token"
    print(f"Inspector, refused write:\n{bogus}\n{text}")  # shown with pytest -s

    unapproved = call(workspace, target, "zoho_create_task", task)
    assert_tool_error(unapproved, "Write not approved: ", "needs an approval_token")
    assert "CRM rejected the data" not in unapproved.stdout


def test_zoho_over_stdio(workspace: Workspace) -> None:
    check_zoho(workspace, sergas("mcp", "zoho"))


def test_zoho_over_http(workspace: Workspace) -> None:
    with http_server(workspace, "zoho") as url:
        check_zoho(workspace, over_http(url))


# --- the memory server -------------------------------------------------------------------------


def check_memory(workspace: Workspace, target: list[str]) -> None:
    tools = listed(workspace, target)
    assert set(tools) == MEMORY_TOOL_NAMES
    assert all("outputSchema" not in tool for tool in tools.values())
    assert "page_token" in tools["cognee_search_memory"]["inputSchema"]["properties"]

    found = assert_json_result(
        call(workspace, target, "cognee_search_memory", {"query": "executive sponsor"})
    )
    assert found["hits"][0]["account_id"] == workspace.account_id
    graph = assert_json_result(
        call(
            workspace,
            target,
            "cognee_get_relationship_graph",
            {"account_id": workspace.account_id, "limit": 3},
        )
    )
    assert len(graph["nodes"]) + len(graph["edges"]) == 3
    assert graph["next_page_token"]

    unknown = call(
        workspace,
        target,
        "cognee_store_context",
        {"account_id": "no-such-account", "kind": "note", "text": "Met the CFO."},
    )
    assert_tool_error(unknown, "Memory tool error: Memory knows no account with id")
    invalid = call(
        workspace,
        target,
        "cognee_store_context",
        {"account_id": workspace.account_id, "kind": "gossip", "text": "x"},
    )
    assert_tool_error(invalid, "Invalid arguments for cognee_store_context: kind")


def check_read_only_memory(workspace: Workspace, target: list[str]) -> None:
    tools = listed(workspace, target)
    assert set(tools) == set(MEMORY_READ_TOOLS)
    refused = call(
        workspace,
        target,
        "cognee_store_context",
        {"account_id": workspace.account_id, "kind": "note", "text": "Met the CFO."},
    )
    assert refused.returncode == EXIT_TOOL_ERROR, refused
    assert refused.error["code"] == "tool_not_found", refused
    assert "cognee_store_context" in refused.error["message"]


def test_memory_over_stdio(workspace: Workspace) -> None:
    check_memory(workspace, sergas("mcp", "memory"))
    check_read_only_memory(workspace, sergas("mcp", "memory", "--read-only"))


def test_memory_over_http(workspace: Workspace) -> None:
    with http_server(workspace, "memory") as url:
        check_memory(workspace, over_http(url))
    with http_server(workspace, "memory", "--read-only") as url:
        check_read_only_memory(workspace, over_http(url))


# --- the bearer token --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zoho", "memory"])
def test_a_bad_bearer_token_is_a_plain_auth_failure(
    workspace: Workspace, kind: str, tmp_path: Path
) -> None:
    with http_server(workspace, kind, log_dir=tmp_path) as url:
        for token in ("wrong-token", None):
            run = inspect(workspace, over_http(url, token), "--method", "tools/list")
            assert run.returncode == EXIT_AUTH_REQUIRED, run
            assert run.error["code"] == "auth_required", run
            assert "bad or missing bearer token" in run.error["message"], run
        # No OAuth to discover: the challenge names no metadata, the well-known paths are 401.
        base = url.removesuffix("/mcp")
        with httpx.Client(timeout=10) as client:
            challenge = client.post(url, json={}).headers["www-authenticate"]
            metadata = client.get(f"{base}/.well-known/oauth-protected-resource")
        assert challenge.startswith("Bearer realm=")
        assert "resource_metadata" not in challenge
        assert metadata.status_code == 401
    refused = [
        json.loads(line)
        for line in (tmp_path / "sergas.log").read_text().splitlines()
        if "http_unauthorized" in line
    ]
    assert refused
    assert {entry["path"] for entry in refused} == {"/mcp", "/.well-known/oauth-protected-resource"}
    assert len([e for e in refused if e["path"] != "/mcp"]) == 1  # ours, not the Inspector's
