"""Two `sergas review` processes against one Zoho org share its call budget (issue 17).

``sergas demo serve --edition free`` serves the demo org with a Free edition's limit of 5 calls
in flight, and two reviews in REST mode (two workspaces, the same org and OAuth client, each
allowed 5 calls in flight) run at the same time, then twice more in a row. Alone, each would
keep within 5; together, without a shared budget, they sent up to 10 at once and met the
server's 429s. With it, the server never sees more than 5 in flight and every review
succeeds.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from sergas_tui.crm.simulator.config import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
)
from tests.helpers.zoho_sdk import SERGAS, demo_serve

pytestmark = pytest.mark.slow


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SERGAS_CONFIG_DIR=str(root / "config"),
        SERGAS_DATA_DIR=str(root / "data"),
        SERGAS_LOG_DIR=str(root / "logs"),
        SERGAS_ZOHO_CLIENT_SECRET=DEMO_CLIENT_SECRET,
        SERGAS_ZOHO_REFRESH_TOKEN=DEMO_REFRESH_TOKEN,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


def _review(root: Path, workspace: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SERGAS, "-w", workspace, "review", "--all"],
        env=_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_reviews_at_once_keep_within_the_orgs_limit(tmp_path: Path) -> None:
    generate = [*SERGAS, "demo", "generate", "--accounts", "120", "--owners", "3"]
    done = subprocess.run(generate, env=_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with demo_serve(tmp_path, "--edition", "free") as url:
        (tmp_path / "config").mkdir(exist_ok=True)
        (tmp_path / "config" / "config.toml").write_text(
            "[zoho]\n"
            'mode = "rest"\n'
            f'client_id = "{DEMO_CLIENT_ID}"\n'
            f'accounts_url = "{url}"\n'
            "concurrent_requests = 5\n"
            "requests_per_minute = 10000\n"
        )
        for _round in range(2):  # at once, then at once again right after
            reviews = [_review(tmp_path, name) for name in ("laptop", "cron")]
            for review in reviews:
                output, _ = review.communicate(timeout=600)
                assert review.returncode == 0, output[-3000:]
                assert "Review finished" in output
        counters = httpx.get(f"{url}/__simulator/health", timeout=10).json()["counters"]
    assert counters["total_calls"] > 40
    assert counters["peak_concurrency"] <= 5, counters
    assert "concurrency" not in counters["limits_hit"], counters
    assert counters["status"].get("429", 0) == 0, counters
    # Both workspaces took their slots from one file for the org.
    budgets = list((tmp_path / "data" / "zoho-budget").glob("*.budget"))
    assert len(budgets) == 1
