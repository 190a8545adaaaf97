"""Zoho's official Python SDK (``zohocrmsdk8_0``, pinned in the dev extras), unmodified, against
``sergas demo serve`` on loopback: the simulator must serve what the SDK needs without any of
the SDK's caches seeded by hand.

The SDK runs in its own process (``zoho_sdk_driver.py``: it keeps global state and writes its
token store and field cache in a work directory); ``sergas demo serve`` runs as a subprocess
of a freshly generated demo workspace, exactly as a person would start it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.zoho_sdk import SERGAS, _env, demo_serve

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).with_name("zoho_sdk_driver.py")
ACCOUNTS = 420


def drive(url: str, work: Path, step: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(DRIVER), url, str(work), step, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sdk-org")
    generate = [*SERGAS, "demo", "generate", "--accounts", str(ACCOUNTS), "--owners", "6"]
    done = subprocess.run(generate, env=_env(root), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture(scope="module")
def served(workspace: Path) -> Iterator[str]:
    with demo_serve(workspace) as url:
        yield url


def test_the_sdk_reads_and_writes_through_the_simulator(served: str, tmp_path: Path) -> None:
    result = drive(served, tmp_path / "sdk", "tour")

    assert result["me"]["email"] == "jordan.avery@demo.sergas.test"
    assert result["me"]["role"] == "Account Executive"
    # Paging to the end: every account once, 200 a page.
    assert result["accounts"] == result["accounts"] | {"ids": ACCOUNTS, "unique": ACCOUNTS}
    assert result["accounts"]["pages"] == -(-ACCOUNTS // 200)

    account = result["get"]["record"]
    assert account["Account_Name"] == result["my_accounts"]["rows"][0]["Account_Name"]
    assert account["Owner"]["name"]
    assert result["deals"]["status"] in (200, 204)
    assert result["notes"]["status"] in (200, 204)

    aggregate = result["coql_aggregate"]
    assert aggregate["status"] == 200, aggregate
    stages = {row["Stage"] for row in aggregate["rows"]}
    assert "Closed Won" in stages
    assert all(row["COUNT(id)"] >= 1 for row in aggregate["rows"])
    assert result["coql_count"]["rows"] == [{"COUNT(id)": ACCOUNTS}]

    for step in ("create_task", "add_note"):
        assert result[step]["status"] == 201, result[step]
        assert [item["ok"] for item in result[step]["items"]] == [True]
    assert result["update_account"]["status"] == 200
    assert result["update_account"]["items"][0]["ok"] is True
    assert result["after_update"]["record"]["Description"] == "Updated through the official SDK"
    subjects = {row["Subject"] for row in result["related_tasks"]["records"]}
    assert "Call the sponsor about the renewal" in subjects
    # The SDK built its own field cache from the metadata API (nothing seeded by hand).
    assert any(name.endswith(".json") for name in result["files"])
    cache = next((tmp_path / "sdk").rglob("*.json"))
    fields = json.loads(cache.read_text())
    assert {"accounts", "tasks"} <= set(fields)
    assert "Account_Name" in fields["accounts"]


def test_an_unknown_access_token_is_zohos_401(served: str, tmp_path: Path) -> None:
    result = drive(served, tmp_path / "sdk", "bad_token")
    assert result["raised"] == "SDKException"
    assert result["details"]["code"] == "INVALID_TOKEN"


def test_a_revoked_refresh_token_is_the_sdks_token_error(served: str, tmp_path: Path) -> None:
    result = drive(served, tmp_path / "sdk", "bad_refresh")
    assert result["raised"] == "SDKException"
    assert result["code"] == "INVALID TOKEN ERROR"
    assert "invalid_code" in result["text"]


def test_spent_credits_are_zohos_429_to_the_sdk(workspace: Path, tmp_path: Path) -> None:
    with demo_serve(workspace, "--edition", "free", "--daily-credits", "25") as url:
        result = drive(url, tmp_path / "sdk", "until_429", "60")
    assert result["status"] == 429
    assert result["call"] < 25  # the SDK's own metadata reads spent credits too
    error = result["error"]
    assert error["type"] == "APIException"
    assert error["code"] == "TOO_MANY_REQUESTS"
    assert "24 hour" in error["message"]
    assert result["credits_remaining"] == "0"
