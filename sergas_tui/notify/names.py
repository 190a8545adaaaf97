"""Who and what a notification names: people (the team's roles, the CRM's users) and the
records of the approvals it lists (accounts, deals, contacts).

Reads only what a message needs: the latest snapshot of each account concerned (a team device
that never reviewed an account has it from the team's records), the demo org's users, and
``team_people``. Blocking: call from a thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sergas_tui.domain import Approval
from sergas_tui.domain.money import currency_code
from sergas_tui.domain.names import CrmUser, RecordNames
from sergas_tui.domain.people import Person
from sergas_tui.domain.record_links import zoho_web
from sergas_tui.errors import SergasError
from sergas_tui.logs import get_logger
from sergas_tui.services import Services

log = get_logger("sergas.notify")


@dataclass(frozen=True)
class Directory:
    """The team's people by e-mail (lower case) and the CRM's names of the records concerned."""

    names: RecordNames
    people: Mapping[str, Person] = field(default_factory=dict)
    roles_error: str | None = None
    """Why the team's roles could not be read (then nobody has a known manager)."""

    def person(self, email: str) -> Person | None:
        return self.people.get(email.lower())

    def label(self, email: str) -> str:
        """'Dana Lee <dana@…>' from the team's roles, else the CRM's users, else the e-mail."""
        known = self.person(email)
        if known is not None and known.name:
            return known.label()
        return self.names.user(email)

    def first_name(self, email: str) -> str:
        """How a message greets someone: their name, else their address."""
        known = self.person(email)
        name = known.name if known is not None and known.name else None
        if name is None:
            user = self.names.user(email)
            name = user.split(" <", 1)[0] if " <" in user else None
        return name or email

    def manager_of(self, email: str) -> str | None:
        """The owner's manager by the team's roles (``manager_email``), None when unset."""
        known = self.person(email)
        return known.manager_email.lower() if known and known.manager_email else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _users(services: Services) -> list[CrmUser]:
    if services.demo is None:
        return []
    found = []
    for user in services.demo.users():
        manager = user.get("reporting_to")
        found.append(
            CrmUser(
                id=_text(user.get("id")),
                email=_text(user.get("email")),
                name=_text(user.get("full_name")),
                manager_id=_text(manager.get("id")) if isinstance(manager, dict) else None,
            )
        )
    return found


def record_names(services: Services, account_ids: Iterable[str]) -> RecordNames:
    """Names of the given accounts (their deals and contacts) and of the CRM's users."""
    zoho = services.settings.zoho
    web = zoho_web(
        zoho.data_centre, org_id=zoho.org_id, web_url=zoho.web_url, demo=services.is_demo
    )
    names = RecordNames(
        home_currency=currency_code(zoho.home_currency), web=web, people=zoho.people
    )
    for account_id in dict.fromkeys(account_ids):
        snapshot = services.store.latest_snapshot(account_id)
        if snapshot is not None:
            names.add_snapshot(account_id, snapshot.data)
    names.add_users(_users(services))
    return names


def directory(services: Services, approvals: Iterable[Approval]) -> Directory:
    """The people and the names the approvals' messages need (blocking). The team's roles
    only add names and managers: when they cannot be read, the CRM's names are used (and no
    one is escalated), which is logged."""
    store = services.people()
    people: dict[str, Person] = {}
    problem = None
    if store is not None:
        try:
            people = {p.email.lower(): p for p in store.all()}
        except SergasError as err:
            log.warning("team_roles_unreadable", error=err.message)
            problem = err.message
    names = record_names(services, (a.account_id for a in approvals))
    return Directory(names=names, people=people, roles_error=problem)
