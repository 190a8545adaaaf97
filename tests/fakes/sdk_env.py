"""An offline sandbox for one claude-agent-sdk run: isolated dirs and the CLI's environment.

:func:`sdk_sandbox` makes ``home/``, ``config/``, ``tmp/`` and ``work/`` under a test's
``tmp_path`` and an ``env`` dict for ``ClaudeAgentOptions(env=...)`` that points the bundled
CLI at a fake Messages API and turns off everything that would leave the machine or touch the
developer's ``~/.claude``:

- ``ANTHROPIC_BASE_URL`` (the fake) and a dummy ``ANTHROPIC_API_KEY``;
- ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` (else ``HEAD /api/hello`` and outside DNS),
  ``DISABLE_TELEMETRY``, ``DISABLE_ERROR_REPORTING``, ``DISABLE_AUTOUPDATER``;
- ``HOME``, ``CLAUDE_CONFIG_DIR``, ``CLAUDE_CODE_TMPDIR`` and the XDG dirs in the sandbox;
- ``CLAUDE_CODE_MAX_RETRIES`` (default 0: the CLI's own default of 10 takes minutes on a
  persistent 529) and ``CLAUDE_BYTE_STREAM_IDLE_TIMEOUT_MS`` (default 10000, the CLI's floor:
  it clamps the value to 10 s .. 30 min; unset, a stalled stream is waited on for minutes);
  ``API_TIMEOUT_MS`` if given;
- ``NO_PROXY`` covering loopback, and blank proxy variables, so an inherited proxy never
  carries the fake's traffic. ``proxy_trap`` (a URL, normally the fake's own) sets the proxy
  variables to it instead: the CLI honours them, so any HTTP(S) request bound off loopback
  arrives at the fake as a ``CONNECT`` (``FakeAnthropic.escape_attempts``) and fails fast.

``SdkSandbox.options(...)`` builds ``ClaudeAgentOptions`` with the safe defaults
(``setting_sources=[]``, ``strict_mcp_config=True``, ``tools=[]``, ``cwd`` in the sandbox,
CLI stderr collected in ``sandbox.stderr``); keyword arguments override any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions

DUMMY_API_KEY = "sk-ant-fake-offline-key"
DEFAULT_MAX_RETRIES = 0
DEFAULT_IDLE_TIMEOUT_MS = 10_000  # the CLI ignores anything lower
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
LOOPBACK = "127.0.0.1,localhost,::1"


@dataclass
class SdkSandbox:
    root: Path
    home: Path
    config_dir: Path
    tmp_dir: Path
    cwd: Path
    env: dict[str, str]
    stderr: list[str] = field(default_factory=list)

    def options(self, **overrides: Any) -> ClaudeAgentOptions:
        """``ClaudeAgentOptions`` for this sandbox; ``env`` overrides are merged, not replaced."""
        env = {**self.env, **overrides.pop("env", {})}
        values: dict[str, Any] = {
            "env": env,
            "cwd": self.cwd,
            "setting_sources": [],
            "strict_mcp_config": True,
            "tools": [],
            "stderr": self.stderr.append,
        }
        values.update(overrides)
        return ClaudeAgentOptions(**values)


def sdk_env(
    root: Path,
    base_url: str,
    *,
    max_retries: int = DEFAULT_MAX_RETRIES,
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS,
    api_timeout_ms: int | None = None,
    proxy_trap: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The CLI environment for a sandbox at ``root`` (dirs must exist; see :func:`sdk_sandbox`)."""
    home = root / "home"
    env = {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": DUMMY_API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "CLAUDE_CONFIG_DIR": str(root / "config"),
        "CLAUDE_CODE_TMPDIR": str(root / "tmp"),
        "CLAUDE_CODE_MAX_RETRIES": str(max_retries),
        "CLAUDE_BYTE_STREAM_IDLE_TIMEOUT_MS": str(idle_timeout_ms),
        "NO_PROXY": LOOPBACK,
        "no_proxy": LOOPBACK,
    }
    for name in PROXY_VARIABLES:
        env[name] = proxy_trap or ""
    if api_timeout_ms is not None:
        env["API_TIMEOUT_MS"] = str(api_timeout_ms)
    env.update(extra or {})
    return env


def sdk_sandbox(root: Path, base_url: str, **env_options: Any) -> SdkSandbox:
    """Make the sandbox dirs under ``root`` and the env for ``base_url`` (see :func:`sdk_env`)."""
    dirs = {name: root / name for name in ("home", "config", "tmp", "work")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return SdkSandbox(
        root=root,
        home=dirs["home"],
        config_dir=dirs["config"],
        tmp_dir=dirs["tmp"],
        cwd=dirs["work"],
        env=sdk_env(root, base_url, **env_options),
    )
