"""Fixtures for end-to-end tests of the real claude-agent-sdk + bundled CLI against the fake API.

``fake_anthropic`` is a started :class:`FakeAnthropic` (stopped after the test); ``sdk`` is an
:class:`SdkSandbox` under ``tmp_path`` pointed at it, with the fake as proxy trap so anything
the CLI sends off loopback shows up in ``fake_anthropic.escape_attempts``. Tests skip when the
SDK wheel carries no bundled CLI (the CLI is what makes these tests end to end).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import claude_agent_sdk
import pytest

from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.sdk_env import SdkSandbox, sdk_sandbox

BUNDLED_CLI = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    if not BUNDLED_CLI.exists():
        pytest.skip(f"claude-agent-sdk has no bundled CLI at {BUNDLED_CLI}")
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def sdk(tmp_path: Path, fake_anthropic: FakeAnthropic) -> SdkSandbox:
    return sdk_sandbox(
        tmp_path / "sdk", fake_anthropic.base_url, proxy_trap=fake_anthropic.base_url
    )
