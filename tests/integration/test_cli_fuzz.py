"""Property: whatever a person puts in a CLI argument or an input file — any text, bytes that
are not UTF-8, odd paths, any JSON — Sergas answers in words with exit code 0, 1 or 2, never
"Unexpected error … please report".

The CLI runs in-process (``sergas_tui.cli.main.main``, the console script's own error
handling) on one generated and reviewed demo workspace, a few examples per argument (bounded,
derandomized), from a scratch working directory so that relative paths land in ``tmp_path``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sergas_tui.cli import main as cli_main
from sergas_tui.cli.main import main
from sergas_tui.demo import DemoStore
from sergas_tui.locations import Locations
from tests.helpers.cli import pending_ids, run_cli

SMALL = ["--accounts", "60", "--owners", "3", "--seed", "11"]
EXAMPLES = 24
"""Examples per argument: a few dozen arguments, so the whole file stays well under a minute."""

ODD = [
    "",
    " ",
    "-",
    "--",
    "%",
    "_",
    "'",
    '"',
    "\\",
    "\x00",
    "\n",
    "é",
    "🙂",
    "\u202e",
    "\x1b[31m",
    "a" * 300,
    "0" * 19,
    "9" * 40,
    "-1",
    "1e309",
    "NaN",
    "[sergas:x]",
    "jordan.avery@demo.sergas.test",
]
TEXT = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=30),
    st.binary(max_size=30).map(os.fsdecode),  # how undecodable argv bytes reach Python
)
"""Whatever can be typed (or pasted) into an argument."""

SPECIAL_PATHS = [
    "/",
    ".",
    "..",
    "/proc/x.md",
    "/proc/sys/x",
    "/proc/nope/x.md",
    "missing/dir/x.md",
    "sub",
]
"""Places that cannot (or must not) be written. None outside ``/proc`` is absolute: a broken
build must not get to replace a system file while this test runs as root."""


def _relative(text: str) -> bool:
    """A path that stays inside the scratch directory (never writes outside ``tmp_path``)."""
    return bool(text) and not text.startswith(("/", "~")) and ".." not in text


PATHS = st.one_of(st.sampled_from(SPECIAL_PATHS), TEXT.filter(_relative))
"""Output paths: special places, and anything relative (inside the scratch directory)."""

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["subject", "due_date", "priority", "description"]) | TEXT,
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@dataclass(frozen=True)
class Workspace:
    home: Path
    approval_id: str
    account_id: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    home = tmp_path_factory.mktemp("fuzz-home")
    with pytest.MonkeyPatch.context() as patch:
        _point_at(patch, home)
        assert run_cli("demo", "generate", *SMALL).returncode == 0
        assert run_cli("review").returncode == 0
        approval_id = next(i for i, kind in pending_ids() if kind == "create_task")
        store = DemoStore.open(Locations.from_env().demo_crm_file("demo"))
        account_id = str(next(iter(store.records("Accounts")))["id"])
        store.close()
    return Workspace(home, approval_id, account_id)


def _point_at(patch: pytest.MonkeyPatch, home: Path) -> None:
    patch.setenv("SERGAS_CONFIG_DIR", str(home / "config"))
    patch.setenv("SERGAS_DATA_DIR", str(home / "data"))
    patch.setenv("SERGAS_LOG_DIR", str(home / "log"))


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    _point_at(monkeypatch, workspace.home)
    scratch = tmp_path / "scratch"
    (scratch / "sub").mkdir(parents=True)
    monkeypatch.chdir(scratch)
    monkeypatch.setenv("COLUMNS", "100")
    # Typer builds the click command tree on every call (two thirds of an in-process run);
    # build it once. ``main`` and its error handling are unchanged.
    monkeypatch.setattr(cli_main, "app", _command())
    return workspace


@functools.cache
def _command() -> Any:
    return typer.main.get_command(cli_main.app)


def invoke(argv: list[str], stdin: str = "") -> None:
    """Run the CLI in-process; it must answer in words with 0, 1 or 2."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = saved
    text = out.getvalue() + err.getvalue()
    assert "Unexpected error" not in text, (argv, text)
    assert "Traceback" not in text, (argv, text)
    assert code in (0, 1, 2), (argv, code, text)


def payload_file(data: bytes) -> str:
    path = Path.cwd() / "payload.json"
    path.write_bytes(data)
    return str(path)


Steps = Callable[[Workspace, str], list[list[str]]]


def _undo(ws: Workspace) -> list[str]:
    return ["approvals", "undo", ws.approval_id, "--as", "fuzz"]


TEXT_ARGUMENTS: dict[str, Steps] = {
    "--workspace": lambda ws, x: [["--workspace", x, "approvals", "list"]],
    "approvals show ID": lambda ws, x: [["approvals", "show", x]],
    "approvals approve ID": lambda ws, x: [
        ["approvals", "approve", x, "--no-execute", "--as", "fuzz"],
        _undo(ws),
    ],
    "approvals reject --reason": lambda ws, x: [
        ["approvals", "reject", ws.approval_id, "--reason", x, "--as", "fuzz"],
        _undo(ws),
    ],
    "approvals reject --as": lambda ws, x: [
        ["approvals", "reject", ws.approval_id, "--as", x],
        _undo(ws),
    ],
    "approvals undo ID": lambda ws, x: [["approvals", "undo", x, "--as", "fuzz"]],
    "approvals pull ID": lambda ws, x: [["approvals", "pull", x, "--as", "fuzz"]],
    "approvals list --owner": lambda ws, x: [["approvals", "list", "--owner", x]],
    "approvals more --owner": lambda ws, x: [["approvals", "more", "--owner", x]],
    "memory search QUERY": lambda ws, x: [["memory", "search", x]],
    "memory search --account": lambda ws, x: [["memory", "search", "renewal", "--account", x]],
    "memory forget ID": lambda ws, x: [["memory", "forget", x, "--yes"]],
    "export brief --owner": lambda ws, x: [["export", "brief", "--out", "b.md", "--owner", x]],
    "audit export --since": lambda ws, x: [["audit", "export", "--since", x, "--out", "a.jsonl"]],
    "review --owner": lambda ws, x: [["review", "--owner", x]],
    "review --engine": lambda ws, x: [["review", "--engine", x]],
    "auth set NAME": lambda ws, x: [["auth", "set", x, "--stdin"]],
    "auth clear NAME": lambda ws, x: [["auth", "clear", x]],
    "auth generate NAME": lambda ws, x: [["auth", "generate", x, "--no-store"]],
    "signals snooze ACCOUNT": lambda ws, x: [
        ["signals", "snooze", x, "no_activity_critical", "--reason", "r", "--days", "3"]
    ],
    "signals snooze SIGNAL": lambda ws, x: [
        ["signals", "snooze", ws.account_id, x, "--reason", "r", "--days", "3"]
    ],
    "signals dismiss --reason": lambda ws, x: [
        ["signals", "dismiss", ws.account_id, "no_activity_critical", "--reason", x]
    ],
    "signals snooze --until": lambda ws, x: [
        ["signals", "snooze", ws.account_id, "no_activity_critical", "--reason", "r", "--until", x]
    ],
    "signals unmute TARGET": lambda ws, x: [["signals", "unmute", x]],
    "signals list --account": lambda ws, x: [["signals", "list", "--account", x]],
    "demo generate --accounts": lambda ws, x: [["demo", "generate", "--accounts", x]],
    "demo generate --seed": lambda ws, x: [["demo", "generate", "--seed", x]],
}

PATH_ARGUMENTS: dict[str, Steps] = {
    "export brief --out": lambda ws, p: [["export", "brief", "--out", p]],
    "audit export --out": lambda ws, p: [["audit", "export", "--out", p]],
    "review --json": lambda ws, p: [["review", "--owner", "nobody@x.test", "--json", p]],
    "review --markdown": lambda ws, p: [["review", "--owner", "nobody@x.test", "--markdown", p]],
    "approvals adjust --payload (path)": lambda ws, p: [
        ["approvals", "adjust", ws.approval_id, "--payload", p, "--no-execute"],
        _undo(ws),
    ],
}

BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("name", list(TEXT_ARGUMENTS))
def test_any_text_argument_is_answered_in_words(ws: Workspace, name: str) -> None:
    steps = TEXT_ARGUMENTS[name]

    @BOUNDED
    @given(TEXT)
    def check(text: str) -> None:
        for argv in steps(ws, text):
            invoke(argv, stdin="value\n")

    check()


@pytest.mark.parametrize("name", list(PATH_ARGUMENTS))
def test_any_path_argument_is_answered_in_words(ws: Workspace, name: str) -> None:
    steps = PATH_ARGUMENTS[name]

    @BOUNDED
    @given(PATHS)
    def check(path: str) -> None:
        for argv in steps(ws, path):
            invoke(argv)

    check()


def test_any_secret_value_is_answered_in_words(ws: Workspace) -> None:
    @BOUNDED
    @given(TEXT)
    def check(value: str) -> None:
        invoke(["auth", "set", "mcp_server_token", "--stdin"], stdin=value)
        invoke(["auth", "set", "anthropic_api_key", "--stdin"], stdin=value)

    check()


def test_any_payload_bytes_are_answered_in_words(ws: Workspace) -> None:
    @BOUNDED
    @given(st.binary(max_size=200))
    def check(data: bytes) -> None:
        invoke(["approvals", "adjust", ws.approval_id, "--payload", payload_file(data)])
        invoke(_undo(ws))

    check()


def test_any_payload_json_is_answered_in_words(ws: Workspace) -> None:
    @settings(BOUNDED, max_examples=EXAMPLES * 2)
    @given(JSON)
    def check(value: object) -> None:
        data = json.dumps(value).encode()
        invoke(["approvals", "adjust", ws.approval_id, "--payload", payload_file(data)])
        invoke(_undo(ws))

    check()
