"""What `sergas` imports before it does anything: `--help` and the TUI's first paint stay fast.

Each check runs a fresh interpreter (the test process has imported everything already) and
looks at ``sys.modules`` after importing one entry point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sergas_tui.cli.main import LAZY_GROUPS

HEAVY = (
    "sergas_tui.services",
    "sergas_tui.storage",
    "sergas_tui.domain",
    "sergas_tui.doctor",
    "sergas_tui.demo",
    "sergas_tui.crm",
    "sergas_tui.agents",
    "sergas_tui.memory",
    "sergas_tui.cli.account",
    "sergas_tui.cli.admin",
    "sergas_tui.cli.signals",
    "sergas_tui.cli.review_run",
    "sergas_tui.cli.approvals_run",
    "sergas_tui.cli.queue_run",
    "textual",
    "structlog",
    "anthropic",
    "claude_agent_sdk",
    "cognee",
    "httpx",
    "keyring",
)
"""Nothing the command line's own parsing and `--help` need."""

FIRST_PAINT_HEAVY = (
    "sergas_tui.crm",
    "sergas_tui.agents",
    "sergas_tui.memory",
    "sergas_tui.viewmodels.portfolio",
    "structlog",
    "anthropic",
    "claude_agent_sdk",
    "cognee",
    "httpx",
    "starlette",
)
"""Not needed to draw the portfolio from its cache: they load after the first paint."""


def loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def imported(modules: set[str], package: str) -> bool:
    return package in modules or any(name.startswith(package + ".") for name in modules)


def test_importing_the_cli_loads_no_heavy_module() -> None:
    modules = loaded_after("import sergas_tui.cli.main")
    assert [name for name in HEAVY if imported(modules, name)] == []


def test_the_app_and_its_first_screen_load_no_adapter() -> None:
    modules = loaded_after(
        "import sergas_tui.cli.main, sergas_tui.app, sergas_tui.screens.portfolio"
    )
    assert [name for name in FIRST_PAINT_HEAVY if imported(modules, name)] == []


@pytest.mark.parametrize("name", sorted(LAZY_GROUPS))
def test_lazy_groups_are_listed_with_their_own_help(name: str) -> None:
    from sergas_tui.cli.main import lazy_group

    module, attribute, listed = LAZY_GROUPS[name]
    assert lazy_group(name).help == listed, f"update LAZY_GROUPS[{name!r}] to {module}.{attribute}"


def test_secret_names_in_help_texts_match_the_secrets_module() -> None:
    from sergas_tui.cli.auth import SECRET_NAMES
    from sergas_tui.secrets import SecretName

    assert tuple(name.value for name in SecretName) == SECRET_NAMES


def test_a_review_on_a_new_workspace_loads_no_data_frame_library(tmp_path: Path) -> None:
    """The review path (orchestrator, local memory, a new memory file) never needs pandas or
    numpy: together ~90 MiB of the review's memory and 0.4 s of its start."""
    memory_file = tmp_path / "memory.db"
    modules = loaded_after(
        "import sergas_tui.services, sergas_tui.agents.orchestrator\n"
        "from pathlib import Path\n"
        "from sergas_tui.memory.local import LocalMemory\n"
        f"LocalMemory(Path({str(memory_file)!r})).close_now()"
    )
    assert memory_file.exists()
    assert [name for name in ("pandas", "numpy") if imported(modules, name)] == []


def test_the_app_is_built_without_asking_the_keyring(tmp_path: Path) -> None:
    """Loading the OS keyring takes ~0.2 s (more where it must be unlocked): the first frame
    says 'engine: …' and the app asks the keyring after it is drawn."""
    code = (
        "import os\n"
        f"os.environ.update(SERGAS_CONFIG_DIR={str(tmp_path / 'c')!r}, "
        f"SERGAS_DATA_DIR={str(tmp_path / 'd')!r}, SERGAS_LOG_DIR={str(tmp_path / 'l')!r})\n"
        "from sergas_tui.app import make_app\n"
        "from sergas_tui.config import load_settings\n"
        "from sergas_tui.locations import Locations\n"
        "from sergas_tui.services import open_services\n"
        "from datetime import UTC, datetime\n"
        "from sergas_tui.demo import generate\n"
        "locations = Locations.from_env()\n"
        "org = locations.demo_crm_file('demo')\n"
        "org.parent.mkdir(parents=True)\n"
        "generate(org, accounts=20, owners=1, seed=1, now=datetime(2026, 11, 2, tzinfo=UTC))\n"
        "settings = load_settings(locations)\n"
        "app = make_app(settings, open_services(settings, locations))\n"
        "assert app.sub_title.endswith('engine: …'), app.sub_title\n"
    )
    assert not imported(loaded_after(code), "keyring")
