"""The Claude engine: the seed's Data Scout, Memory Analyst and Recommendation Author as
claude-agent-sdk sessions, orchestrated from Python (see :mod:`.engine`)."""

from sergas_tui.agents.claude.engine import ClaudeEngine
from sergas_tui.agents.claude.options import ClaudeConfig

__all__ = ["ClaudeConfig", "ClaudeEngine"]
