"""Where Sergas keeps its files.

Paths come from platformdirs (per-user config, data and log dirs). ``SERGAS_CONFIG_DIR``,
``SERGAS_DATA_DIR`` and ``SERGAS_LOG_DIR`` override them, which is how tests and headless
deployments keep Sergas away from a developer's own files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from sergas_tui.errors import WorkspaceError

APP_NAME = "sergas"
CONFIG_FILE_NAME = "config.toml"
DATABASE_FILE_NAME = "sergas.db"
DEMO_CRM_FILE_NAME = "zoho-demo.db"
LOG_FILE_NAME = "sergas.log"
ZOHO_METADATA_DIR_NAME = "zoho-metadata"

_WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_workspace_name(name: str) -> str:
    """Return ``name`` if it is a safe workspace name, else raise WorkspaceError."""
    if not _WORKSPACE_NAME.match(name) or name in {".", ".."}:
        raise WorkspaceError(
            f"{name!r} is not a valid workspace name. Use 1-64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit."
        )
    return name


@dataclass(frozen=True)
class Locations:
    """The directories Sergas reads and writes."""

    config_dir: Path
    data_dir: Path
    log_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Locations:
        env = os.environ if environ is None else environ

        def pick(var: str, default: str) -> Path:
            value = env.get(var)
            return Path(value).expanduser() if value else Path(default)

        return cls(
            config_dir=pick("SERGAS_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME)),
            data_dir=pick("SERGAS_DATA_DIR", platformdirs.user_data_dir(APP_NAME)),
            log_dir=pick("SERGAS_LOG_DIR", platformdirs.user_log_dir(APP_NAME)),
        )

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def log_file(self) -> Path:
        return self.log_dir / LOG_FILE_NAME

    @property
    def prompts_dir(self) -> Path:
        """User overrides of the agents' role prompts."""
        return self.config_dir / "prompts"

    @property
    def templates_dir(self) -> Path:
        """User overrides of draft and brief templates."""
        return self.config_dir / "templates"

    def workspace_dir(self, name: str) -> Path:
        return self.data_dir / "workspaces" / validate_workspace_name(name)

    def database_file(self, workspace: str) -> Path:
        """The workspace's own SQLite database (snapshots, approvals, audit, memory)."""
        return self.workspace_dir(workspace) / DATABASE_FILE_NAME

    def briefs_dir(self, workspace: str) -> Path:
        """Where the TUI's `x` writes Markdown briefs of this workspace."""
        return self.workspace_dir(workspace) / "briefs"

    def zoho_metadata_dir(self, workspace: str) -> Path:
        """The CRM's field metadata, read at most once a day (``crm/metadata_cache.py``)."""
        return self.workspace_dir(workspace) / ZOHO_METADATA_DIR_NAME

    def ui_cache_dir(self, workspace: str) -> Path:
        """What the TUI showed last (the portfolio's rows), drawn first at the next start while
        fresh rows load (``viewmodels/portfolio_cache.py``; plain JSON, safe to delete)."""
        return self.workspace_dir(workspace) / "ui-cache"

    def demo_crm_file(self, workspace: str) -> Path:
        """The generated Zoho org that the simulator serves for a demo workspace."""
        return self.workspace_dir(workspace) / DEMO_CRM_FILE_NAME

    def workspaces(self) -> list[str]:
        root = self.data_dir / "workspaces"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir())
