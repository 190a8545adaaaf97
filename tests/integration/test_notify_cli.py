"""`sergas notify digest|notices` and `sergas serve` as a person runs them (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sergas_tui.clock import SystemClock
from sergas_tui.locations import Locations
from tests.fakes.notify_kit import (
    AE,
    MANAGER,
    Mailbox,
    central_schema,
    notification_settings,
    review,
    save_roles,
    smtp_server,
    team_device,
)
from tests.helpers.cli import assert_one_paragraph_error, run_cli


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (("notify", "digest"), "[central] dsn"),
        (("notify", "notices"), "[central] dsn"),
        (("serve",), "[central] dsn"),
        (("notify", "digest", "--owner", "a@example.test", "--all"), "not both"),
    ],
)
def test_without_team_mode_the_commands_say_what_to_set(
    command: tuple[str, ...], words: str
) -> None:
    result = run_cli(*command)
    assert_one_paragraph_error(result, words)


def test_a_missing_channel_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERGAS_CENTRAL__DSN", "postgresql://sergas@127.0.0.1:9/none")
    monkeypatch.setenv("SERGAS_NOTIFICATIONS__EMAIL", "true")
    result = run_cli("notify", "digest", "--all")
    assert_one_paragraph_error(result, "smtp_host")
    monkeypatch.setenv("SERGAS_NOTIFICATIONS__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SERGAS_NOTIFICATIONS__FROM_ADDRESS", "sergas@example.test")
    result = run_cli("notify", "digest", "--all")
    assert_one_paragraph_error(result, "public_url")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def _env(locations: Locations, dsn: str, box: Mailbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERGAS_", "ANTHROPIC_"))}
    settings = notification_settings(box, "https://sergas.example.test")
    settings["webhook"] = False
    env.update(
        {f"SERGAS_NOTIFICATIONS__{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
         for k, v in settings.items()}
    )  # fmt: skip
    env.update(
        SERGAS_CONFIG_DIR=str(locations.config_dir),
        SERGAS_DATA_DIR=str(locations.data_dir),
        SERGAS_LOG_DIR=str(locations.log_dir),
        SERGAS_CENTRAL__DSN=dsn,
        SERGAS_CENTRAL__DEVICE="cron-host",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


@pytest.fixture
async def reviewed(tmp_path: Path, postgres_dsn: str) -> AsyncIterator[tuple[Locations, str]]:
    """A team host whose workspace reviewed both owners (on the wall clock): its directories
    and the central DSN."""
    now = datetime.now(UTC)
    with central_schema(postgres_dsn) as dsn:
        services = team_device(tmp_path / "host", "cron-host", dsn, now=now, clock=SystemClock())
        try:
            save_roles(services)
            for owner in (AE, MANAGER):
                await review(services, owner)
        finally:
            await services.aclose()
            services.close()
        yield services.locations, dsn


@pytest.mark.postgres
def test_digest_all_then_notices_from_the_command_line(
    reviewed: tuple[Locations, str], mailbox: Mailbox
) -> None:
    locations, dsn = reviewed
    env = _env(locations, dsn, mailbox)
    command = [sys.executable, "-m", "sergas_tui"]
    sent = subprocess.run(
        [*command, "notify", "digest", "--all"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr + sent.stdout
    lines = sent.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Jordan Avery <jordan.avery@demo.sergas.test>: ")
    assert lines[1].startswith("Uma Kim <uma.kim@demo.sergas.test>: ")
    assert all("email sent" in line for line in lines)
    assert sorted(r for rcpt, _ in mailbox.received for r in rcpt) == sorted([AE, MANAGER])

    notices = subprocess.run(
        [*command, "notify", "notices"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert notices.returncode == 0, notices.stderr
    assert notices.stdout.strip() == "No escalation or expiry is due."
