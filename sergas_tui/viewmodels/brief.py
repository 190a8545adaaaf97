"""The owner's brief, as the TUI's `x` and `sergas export brief` write it.

The brief is the owner's current picture (:mod:`sergas_tui.briefs.current`), compiled when it
is exported: the queue as it stands now, not what the last review happened to add. Records are
named from the workspace's snapshots; the TUI's export does not look up memory items (it runs in
a thread, away from the app's memory session), so cited memory reads as "Key event from memory
(…)" there; `sergas export brief` describes them.
"""

from __future__ import annotations

import re
from pathlib import Path

from sergas_tui.briefs.current import read_current_brief
from sergas_tui.briefs.markdown import write_brief
from sergas_tui.domain.brief import CurrentBrief
from sergas_tui.errors import ConfigError, SergasError
from sergas_tui.services import Services
from sergas_tui.viewmodels.names import load_names

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def brief_path(services: Services, owner_email: str) -> Path:
    """``<workspace>/briefs/brief-<owner>-<YYYYmmdd-HHMM>.md`` at the clock's current minute."""
    stamp = services.clock.now().strftime("%Y%m%d-%H%M")
    owner = _UNSAFE.sub("_", owner_email.split("@", 1)[0]) or "owner"
    return services.locations.briefs_dir(services.workspace) / f"brief-{owner}-{stamp}.md"


def current_brief(services: Services, owner_email: str) -> CurrentBrief | None:
    """The owner's current picture at the clock's now; None before their first review
    (blocking reads: a thread or a command)."""
    return read_current_brief(services.store, owner_email, services.clock.now())


def export_current_brief(services: Services, owner_email: str | None = None) -> Path:
    """Write the owner's brief (blocking: run in a thread worker); returns the path."""
    email = owner_email or services.current_user_email()
    if email is None:
        raise ConfigError(
            "Sergas does not know which Zoho user you are, so it cannot tell whose brief to "
            "export. Set [zoho] user_email in the configuration.",
            title="No owner",
        )
    brief = current_brief(services, email)
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
