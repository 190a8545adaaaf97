"""A served Zoho MCP endpoint shared by several workspaces, and the records its tests mark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sergas_tui.demo import DemoStore
from sergas_tui.domain import Approval
from sergas_tui.domain.grants import approval_marker
from sergas_tui.locations import Locations
from sergas_tui.storage import Repository

SERVER_TOKEN = "team-server-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Home:
    """One machine's Sergas files: its own config, data and log dirs."""

    root: Path

    @property
    def locations(self) -> Locations:
        return Locations(self.root / "config", self.root / "data", self.root / "log")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SERGAS_", "ANTHROPIC_"))}
        env |= {
            "SERGAS_CONFIG_DIR": str(self.root / "config"),
            "SERGAS_DATA_DIR": str(self.root / "data"),
            "SERGAS_LOG_DIR": str(self.root / "log"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "SERGAS_ZOHO_MCP_TOKEN": SERVER_TOKEN,
        }
        return env | extra

    def configure(self, text: str) -> None:
        self.locations.config_dir.mkdir(parents=True, exist_ok=True)
        self.locations.config_file.write_text(text, encoding="utf-8")

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sergas_tui", *args],
            capture_output=True,
            text=True,
            env=self.env(**extra),
            timeout=300,
            check=False,
        )

    def repo(self, workspace: str) -> Repository:
        return Repository.open(self.locations.database_file(workspace))


@contextmanager
def zoho_server(home: Home, **extra: str) -> Iterator[str]:
    """`sergas mcp zoho --http PORT` as a process; yields its URL once it listens."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sergas_tui", "mcp", "zoho", "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=home.env(SERGAS_MCP_SERVER_TOKEN=SERVER_TOKEN, **extra),
    )
    ready = threading.Event()
    lines: list[str] = []

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "Zoho MCP server on http://" in line:
                ready.set()
        ready.set()  # the process ended: stop waiting

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert ready.wait(120), "the server did not start"
        assert process.poll() is None, "".join(lines)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def records_with_markers(org: Path, approvals: list[Approval]) -> dict[str, int]:
    """How many CRM records carry each (distinct) approval's marker."""
    ids = {a.id for a in approvals}
    store = DemoStore.open(org)
    try:
        found = dict.fromkeys(ids, 0)
        for module in ("Tasks", "Notes"):
            for row in store.records(module):
                text = json.dumps(row)
                for approval_id in ids:
                    if approval_marker(approval_id) in text:
                        found[approval_id] += 1
        return found
    finally:
        store.close()
