"""Who is using a workspace, so that no file is replaced under a live process.

The app, CLI commands and MCP servers may all work on one workspace at once; SQLite takes care
of their reads and writes. What SQLite cannot survive is a file replaced or deleted under an
open connection — regenerating the demo org (`sergas demo generate --force`, `sergas demo
reset`) or upgrading the database schema while another process has it open. So:

- every process that opens a workspace registers itself (:class:`WorkspaceUse`): a small file in
  ``<workspace>/.users/`` naming it (pid, command, start time), which it keeps locked
  (``flock``) until it closes the workspace; a crashed process's file is unlocked and is swept;
- an operation that replaces files (:func:`exclusive_use`) first takes ``.users.lock``
  exclusively (so nobody registers meanwhile), then refuses, naming them, if any other process
  still holds its file;
- opening is one at a time (:func:`opening`, ``.open.lock``): registering, creating or upgrading
  the database and opening it happen under an exclusive lock, so a process that starts while
  another is creating or upgrading the database waits for it and then finds it current, instead
  of taking the half-made file for an old one (two `sergas schedule` started together on a new
  workspace), and a process still waiting to open is not counted as a user by one upgrading.

``flock`` locks belong to an open file description, so unlike SQLite's POSIX locks they are not
dropped when some other descriptor of the same file is closed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sergas_tui.errors import WorkspaceError

USERS_DIR = ".users"
GATE_FILE = ".users.lock"
OPEN_FILE = ".open.lock"


def _gate(workspace: Path, mode: int) -> IO[bytes]:
    workspace.mkdir(parents=True, exist_ok=True)
    handle = (workspace / GATE_FILE).open("ab")
    fcntl.flock(handle.fileno(), mode)
    return handle


@contextlib.contextmanager
def opening(workspace: Path) -> Iterator[None]:
    """Hold the workspace's open lock: one process at a time registers and opens (and, when it
    must, creates or upgrades) the workspace. Held for the open only, never while working."""
    workspace.mkdir(parents=True, exist_ok=True)
    with (workspace / OPEN_FILE).open("ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


class WorkspaceUse:
    """This process's registration as a user of one workspace (release it on close)."""

    def __init__(self, workspace: Path, handle: IO[bytes], path: Path) -> None:
        self.workspace = workspace
        self._handle: IO[bytes] | None = handle
        self.path = path

    @classmethod
    def register(cls, workspace: Path) -> WorkspaceUse:
        gate = _gate(workspace, fcntl.LOCK_SH)  # waits while files are being replaced
        try:
            users = workspace / USERS_DIR
            users.mkdir(exist_ok=True)
            path = users / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            handle = path.open("wb")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            handle.write(_describe_self().encode("utf-8", "replace"))
            handle.flush()
            return cls(workspace, handle, path)
        finally:
            gate.close()

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        handle.close()

    def __enter__(self) -> WorkspaceUse:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _describe_self() -> str:
    command = " ".join(["sergas", *sys.argv[1:]]) if sys.argv else "sergas"
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"process {os.getpid()} ({command[:120]}, since {started})"


def other_users(workspace: Path, *, mine: Path | None = None) -> list[str]:
    """Descriptions of the other live processes using ``workspace``; stale entries (a process
    that died without closing) are removed."""
    users = workspace / USERS_DIR
    found: list[str] = []
    if not users.is_dir():
        return found
    for entry in sorted(users.iterdir()):
        if mine is not None and entry == mine:
            continue
        try:
            handle = entry.open("rb")
        except OSError:
            continue
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read(400).decode("utf-8", "replace").strip()
                found.append(text or f"process {entry.name.split('-')[0]}")
                continue
            with contextlib.suppress(OSError):
                entry.unlink()
    return found


@contextlib.contextmanager
def exclusive_use(workspace: Path, what: str, *, mine: Path | None = None) -> Iterator[None]:
    """Hold the workspace alone for ``what`` (replacing its files); refuse, naming the other
    processes, while any other process uses it. ``mine``: this process's own registration."""
    gate = _gate(workspace, fcntl.LOCK_EX)
    try:
        others = other_users(workspace, mine=mine)
        if others:
            listed = "; ".join(others[:3]) + (
                f" and {len(others) - 3} more" if len(others) > 3 else ""
            )
            raise WorkspaceError(
                f"Cannot {what}: workspace {workspace.name!r} is in use by {listed}. Close "
                "that Sergas (the app, a running command or `sergas mcp` server) and try again; "
                "nothing was changed."
            )
        yield
    finally:
        gate.close()
