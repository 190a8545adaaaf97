"""The Claude engine's settings and the CLI environment and options of each role's session.

Every session gets ``tools=[]`` (no built-in tool), ``setting_sources=[]`` and
``strict_mcp_config=True`` (a developer's own ``~/.claude`` settings, CLAUDE.md and .mcp.json
never leak in), an isolated HOME / CLAUDE_CONFIG_DIR / tmp under the engine's work dir, no
telemetry or non-essential traffic, a small bounded retry count and a stream idle timeout. No
``allowed_tools``: it would auto-approve and so bypass ``can_use_tool``; the policy decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from sergas_tui.config import Settings

DEFAULT_REQUEST_TIMEOUT = 300.0
"""Seconds one request (all its turns, tool calls included) may take."""
DEFAULT_MAX_RETRIES = 2
"""The CLI's own retries of a failed API call (its default of 10 takes minutes on a 529)."""
DEFAULT_IDLE_TIMEOUT_MS = 60_000
"""A stream silent this long is dropped and asked again without streaming (CLI floor: 10 s)."""
MAX_TURNS = {"scout": 12, "analyst": 12, "author": 4}
"""Model turns per request: tool calls plus the final StructuredOutput call."""


@dataclass(frozen=True)
class ClaudeConfig:
    """How the engine talks to the model (built from ``Settings`` by :meth:`from_settings`)."""

    model: str = "claude-sonnet-4-5"
    model_simple: str | None = None
    """The model for simple accounts (:func:`~.routing.is_simple`); ``None``: ``model`` for all."""
    max_tokens: int = 8192
    base_url: str | None = None
    api_key: SecretStr | None = None
    max_cost_usd: float | None = None
    batch_size: int = 8
    pool_size: int = 3
    """CLI processes at most (default: one per role and model, capped by
    max_parallel_subagents)."""
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    run_timeout: float | None = 1800.0
    max_retries: int = DEFAULT_MAX_RETRIES
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS
    prompts_dir: Path | None = None
    workdir: Path | None = None
    """Where the CLI's HOME, config and tmp dirs go; a temp dir (removed after the run) if
    ``None``."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra CLI environment (wins over everything else; tests point it at a fake API)."""
    flush_idle: float = 0.25
    """Seconds without a new account before a partial batch is sent."""
    max_failed_requests: int = 3
    """After this many failed requests in a row the run stops using the model."""

    @classmethod
    def from_settings(
        cls, settings: Settings, *, api_key: SecretStr | None, prompts_dir: Path | None
    ) -> ClaudeConfig:
        anthropic = settings.anthropic
        orchestrator = settings.orchestrator
        models = len({anthropic.model, anthropic.model_simple or anthropic.model})
        return cls(
            model=anthropic.model,
            model_simple=anthropic.model_simple,
            max_tokens=anthropic.max_tokens,
            base_url=anthropic.base_url,
            api_key=api_key,
            max_cost_usd=anthropic.max_cost_usd,
            batch_size=orchestrator.author_batch_size,
            pool_size=max(1, min(3 * models, orchestrator.max_parallel_subagents)),
            run_timeout=orchestrator.session_timeout_minutes * 60.0,
            prompts_dir=prompts_dir,
        )

    @property
    def models(self) -> tuple[str, ...]:
        """The models a run may use: ``model`` first, then ``model_simple`` when it differs."""
        if self.model_simple and self.model_simple != self.model:
            return (self.model, self.model_simple)
        return (self.model,)

    def with_(self, **changes: Any) -> ClaudeConfig:
        return replace(self, **changes)


def cli_env(config: ClaudeConfig, root: Path) -> dict[str, str]:
    """The CLI's environment: credentials, isolation under ``root``, no outside traffic."""
    home = root / "home"
    for path in (home, root / "config", root / "tmp", root / "work"):
        path.mkdir(parents=True, exist_ok=True)
    env = {
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
        "CLAUDE_CODE_MAX_RETRIES": str(config.max_retries),
        "CLAUDE_BYTE_STREAM_IDLE_TIMEOUT_MS": str(config.idle_timeout_ms),
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(config.max_tokens),
    }
    if config.api_key is not None:
        env["ANTHROPIC_API_KEY"] = config.api_key.get_secret_value()
    if config.base_url:
        env["ANTHROPIC_BASE_URL"] = config.base_url
    env.update(config.env)
    return env
