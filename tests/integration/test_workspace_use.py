"""No file is replaced under a live process: rebuilding the demo org or upgrading the database
refuses, naming the process, while another Sergas uses the workspace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sergas_tui.config import load_settings
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from sergas_tui.storage import SCHEMA_VERSION, Repository
from sergas_tui.storage.workspace_lock import WorkspaceUse, opening, other_users
from tests.helpers.cli import run_cli
from tests.helpers.waiting import wait_for

HOLD = """
import sys, time
from pathlib import Path
from sergas_tui.storage.workspace_lock import WorkspaceUse
use = WorkspaceUse.register(Path(sys.argv[1]))
print("holding", flush=True)
time.sleep(600)
"""


def test_rebuilding_the_demo_refuses_while_the_app_has_it_open() -> None:
    assert run_cli("demo", "generate", "--accounts", "30", "--owners", "1").returncode == 0
    locations = Locations.from_env()
    services = open_services(load_settings(locations), locations, secrets=SecretStore(environ={}))
    try:
        workspace = locations.workspace_dir("demo")
        assert services.workspace_use is not None
        assert other_users(workspace) != []  # this process, as seen from outside
        for args in (("demo", "generate", "--force"), ("demo", "reset")):
            refused = run_cli(*args, "--accounts", "30", "--owners", "1")
            assert refused.returncode == 2, refused.stdout + refused.stderr
            text = " ".join(refused.stderr.split())
            assert "is in use by process" in text
            assert str(os.getpid()) in text
            assert "nothing was changed" in text
        store = services.demo
        assert store is not None
        assert store.meta().accounts == 30  # still the file it opened, still readable
    finally:
        services.close()
    again = run_cli("demo", "generate", "--force", "--accounts", "40", "--owners", "1")
    assert again.returncode == 0, again.stderr


def test_a_process_that_died_does_not_hold_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(workspace)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        [who] = other_users(workspace)
        assert f"process {holder.pid}" in who
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
    assert other_users(workspace) == []  # its entry was stale and is swept
    assert list((workspace / ".users").iterdir()) == []
    with WorkspaceUse.register(workspace) as mine:
        assert other_users(workspace, mine=mine.path) == []
    assert list((workspace / ".users").iterdir()) == []


OPEN = """
import sys
from sergas_tui.config import load_settings
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.services import open_services
from sergas_tui.storage.database import database_version
locations = Locations.from_env()
services = open_services(load_settings(locations), locations, secrets=SecretStore(environ={}))
print(database_version(locations.database_file("demo")), flush=True)
services.close()
"""


def _opener() -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return subprocess.Popen(
        [sys.executable, "-c", OPEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_processes_that_start_together_on_a_new_workspace_all_open_it() -> None:
    """Two `sergas schedule` started at once on a new workspace: one creates the database while
    the others wait for it, instead of taking the half-made file for an old one to upgrade."""
    assert run_cli("demo", "generate", "--accounts", "30", "--owners", "1").returncode == 0
    locations = Locations.from_env()
    assert not locations.database_file("demo").exists()
    openers = [_opener() for _ in range(4)]
    results = [p.communicate(timeout=120) for p in openers]
    assert [p.returncode for p in openers] == [0, 0, 0, 0], results
    assert {out.strip() for out, _ in results} == {str(SCHEMA_VERSION)}


def _blocked_on_a_lock(pid: int) -> bool:
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and "FLOCK" in line and f" {pid} " in line for line in lines)


def test_a_process_waits_to_open_while_another_is_opening_and_is_no_user_meanwhile() -> None:
    assert run_cli("demo", "generate", "--accounts", "30", "--owners", "1").returncode == 0
    locations = Locations.from_env()
    workspace = locations.workspace_dir("demo")
    with opening(workspace):
        waiting = _opener()
        # It waits for the lock (the kernel lists its blocked request) before registering: an
        # upgrade made now would not count it as a user.
        wait_for(lambda: _blocked_on_a_lock(waiting.pid), "the second process waiting to open")
        assert waiting.poll() is None
        assert other_users(workspace) == []
        Repository.open(locations.database_file("demo")).close()
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert out.strip() == str(SCHEMA_VERSION)
