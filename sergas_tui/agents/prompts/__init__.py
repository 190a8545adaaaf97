"""The subagents' system prompts: Markdown files here, overridable from the config dir.

``load_prompt("scout", user_dir)`` returns ``<user_dir>/scout.md`` when that file exists (the
user's override, see ``Locations.prompts_dir``), else the seed prompt shipped in this package.
Each shipped prompt starts with a role marker comment (``<!-- [[lane:scout]] ... -->``); it is
harmless for the model and lets logs and the offline test API tell the roles apart, so an
override without it gets it added.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from sergas_tui.errors import ConfigError

Role = Literal["scout", "analyst", "author"]
ROLES: tuple[Role, ...] = ("scout", "analyst", "author")


def role_marker(role: Role) -> str:
    """The marker string naming ``role`` inside its prompt."""
    return f"[[lane:{role}]]"


def shipped_prompt(role: Role) -> str:
    """The seed prompt for ``role`` that ships with Sergas."""
    return resources.files(__package__).joinpath(f"{role}.md").read_text(encoding="utf-8")


def load_prompt(role: Role, user_dir: Path | None = None) -> str:
    """The system prompt for ``role``: the user's override if present, else the shipped one."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    text: str | None = None
    if user_dir is not None:
        path = user_dir / f"{role}.md"
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise ConfigError(
                    f"The prompt override {path} cannot be read ({err}). Fix or delete it.",
                    title="Bad prompt override",
                ) from err
            if not text.strip():
                raise ConfigError(
                    f"The prompt override {path} is empty. Write a prompt or delete the file.",
                    title="Bad prompt override",
                )
    if text is None:
        text = shipped_prompt(role)
    if role_marker(role) not in text:
        text = f"<!-- {role_marker(role)} -->\n{text}"
    return text
