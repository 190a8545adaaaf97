"""Which engine runs a review's subagents: the rules engine or Claude, and why.

Settled from the configuration, the stored Anthropic API key and whether the Claude Code CLI
that claude-agent-sdk bundles is installed. :func:`known_engine` answers without asking the OS
keyring, for the app's first frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sergas_tui.config import Settings
from sergas_tui.secrets import SecretName, SecretStore

Engine = Literal["rules", "claude"]


def resolve_engine(settings: Settings, secrets: SecretStore) -> tuple[Engine, str]:
    """Which engine runs the subagents, and a sentence saying why.

    'auto' picks Claude only when an API key is stored and the Claude Code CLI that
    claude-agent-sdk bundles is present; the rules engine is the fallback.
    """
    choice = settings.anthropic.engine
    if choice == "rules":
        return "rules", "engine = 'rules' in the configuration"
    has_key = secrets.get(SecretName.ANTHROPIC_API_KEY) is not None
    if choice == "claude":
        return "claude", "engine = 'claude' in the configuration"
    if not has_key:
        return "rules", "no Anthropic API key is stored (the offline rules engine runs instead)"
    if not _claude_cli_available():
        return "rules", "the Claude Code CLI bundled with claude-agent-sdk is missing"
    return "claude", "an Anthropic API key is available"


def known_engine(settings: Settings, secrets: SecretStore) -> Engine | None:
    """The engine :func:`resolve_engine` picks when that is known without asking the OS keyring
    (slow to load, and on some desktops it asks to be unlocked); None when only the keyring can
    tell (``engine = 'auto'`` and no API key in the environment)."""
    choice = settings.anthropic.engine
    if choice in ("rules", "claude"):
        return choice
    if not secrets.in_environment(SecretName.ANTHROPIC_API_KEY):
        return None
    return "claude" if _claude_cli_available() else "rules"


def _claude_cli_available() -> bool:
    """Whether claude-agent-sdk and its bundled CLI are installed (without importing it)."""
    import importlib.util
    import shutil

    spec = importlib.util.find_spec("claude_agent_sdk")
    if spec is None or spec.origin is None:
        return False
    bundled = Path(spec.origin).parent / "_bundled" / "claude"
    return bundled.exists() or shutil.which("claude") is not None
