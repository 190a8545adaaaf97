"""Export the current owner's latest brief to Markdown (the TUI's `x`).

Records are named from the workspace's snapshots; memory items cited as evidence are not looked
up here (the export runs in a thread, away from the app's memory session), so they read as
"Key event from memory (…)"; `sergas export brief` describes them.
"""

from __future__ import annotations

import re
from pathlib import Path

from sergas_tui.briefs.markdown import write_brief
from sergas_tui.errors import ConfigError, SergasError
from sergas_tui.services import Services
from sergas_tui.viewmodels.names import load_names

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def brief_path(services: Services, owner_email: str) -> Path:
    """``<workspace>/briefs/brief-<owner>-<YYYYmmdd-HHMM>.md`` at the clock's current minute."""
    stamp = services.clock.now().strftime("%Y%m%d-%H%M")
    owner = _UNSAFE.sub("_", owner_email.split("@", 1)[0]) or "owner"
    return services.locations.briefs_dir(services.workspace) / f"brief-{owner}-{stamp}.md"


def export_current_brief(services: Services, owner_email: str | None = None) -> Path:
    """Write the owner's latest brief (blocking: run in a thread worker); returns the path."""
    email = owner_email or services.current_user_email()
    if email is None:
        raise ConfigError(
            "Sergas does not know which Zoho user you are, so it cannot tell whose brief to "
            "export. Set [zoho] user_email in the configuration.",
            title="No owner",
        )
    brief = services.store.latest_brief(email)
    if brief is None:
        raise SergasError(
            f"There is no review of {email} yet: press r to review your accounts, then x.",
            title="Nothing to export",
        )
    names = load_names(services, [email])
    return write_brief(
        brief,
        brief_path(services, email),
        user_templates=services.locations.templates_dir,
        names=names,
    )
