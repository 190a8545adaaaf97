"""Who is who in team mode: account executives, their managers and admins, and the person a
command, the app or an approval link acts for.

A :class:`Person` is a CRM user with a role: ``ae`` (owns accounts; sees and decides their own
approvals), ``manager`` (also sees and may decide for everyone who reports to them, directly or
further down) or ``admin`` (edits the roles; as a decider, only their own and their reports').
Teams come from the CRM's reporting lines (Zoho's users API, ``reporting_to``) or from the
central ``team_people`` table an admin edits with ``sergas admin roles``.

An :class:`Identity` is the person Sergas acts for, established by how they reached it (the OS
account mapped to a CRM user, an approval link's token, or a local-only workspace's single user)
— never a name typed on the command line. :meth:`Identity.may_act_for` is the one check the
services make before showing or deciding an owner's approvals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sergas_tui.errors import IdentityError

Role = Literal["ae", "manager", "admin"]
ROLES: tuple[Role, ...] = ("ae", "manager", "admin")

How = Literal["os_account", "link"]
"""How the person was established: an OS account mapped to a CRM user in team mode, or an
approval link's token."""


@dataclass(frozen=True)
class Person:
    """A CRM user with a role in Sergas."""

    email: str
    name: str | None = None
    role: Role = "ae"
    manager_email: str | None = None
    """Whom they report to (the CRM's ``reporting_to``), by email."""
    os_users: tuple[str, ...] = ()
    """Operating-system account names that sign in as this person on team devices."""

    def label(self) -> str:
        """'Dana Lee <dana@…>' (or the e-mail alone)."""
        return f"{self.name} <{self.email}>" if self.name else self.email


def reports_of(manager_email: str, people: Iterable[Person]) -> frozenset[str]:
    """Everyone who reports to ``manager_email``, directly or further down (not the manager)."""
    under: dict[str, list[str]] = {}
    for person in people:
        if person.manager_email:
            under.setdefault(person.manager_email.lower(), []).append(person.email.lower())
    found: set[str] = set()
    todo = [manager_email.lower()]
    while todo:
        for email in under.get(todo.pop(), []):
            if email not in found and email != manager_email.lower():
                found.add(email)
                todo.append(email)
    return frozenset(found)


@dataclass(frozen=True)
class Identity:
    """The person Sergas acts for, and whose approvals they may see and decide."""

    email: str
    name: str | None = None
    role: Role = "ae"
    how: How = "os_account"
    team: frozenset[str] = field(default_factory=frozenset)
    """Owners (e-mails, lower case) besides themself whose approvals they may see and decide."""

    @classmethod
    def of(cls, person: Person, people: Iterable[Person], how: How) -> Identity:
        team = reports_of(person.email, people) if person.role != "ae" else frozenset()
        return cls(email=person.email, name=person.name, role=person.role, how=how, team=team)

    def may_act_for(self, owner_email: str | None) -> bool:
        """True when this person may see and decide ``owner_email``'s approvals."""
        if not owner_email:
            return False
        owner = owner_email.lower()
        return owner == self.email.lower() or owner in self.team

    def owners(self) -> frozenset[str]:
        """The owners (lower case) this person may act for: themself and their team."""
        return frozenset({self.email.lower(), *self.team})

    def label(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def refusal(self, owner_email: str | None, what: str) -> str:
        """Why this person may not ``what`` (e.g. 'decide') the owner's approvals."""
        whose = owner_email or "an unowned account"
        role = {"ae": "an account executive", "manager": "a manager", "admin": "an admin"}[
            self.role
        ]
        return (
            f"{self.label()} is {role} and may not {what} approvals of {whose}: only the owner "
            "and the managers they report to may. Ask an admin (`sergas admin roles`) if "
            "that is wrong."
        )


def identify(people: Sequence[Person], os_user: str) -> Identity | None:
    """The person at the keyboard of a team device: the one whose ``os_users`` name this OS
    account. None while the team has no roles at all (nothing is restricted until an admin
    sets them up; `sergas doctor` warns).

    Raises :class:`IdentityError` when roles exist but none maps this OS account.
    """
    if not people:
        return None
    for person in people:
        if os_user in person.os_users:
            return Identity.of(person, people, "os_account")
    mapped = ", ".join(sorted(p.email for p in people if p.os_users)) or "nobody yet"
    raise IdentityError(
        f"The OS account {os_user!r} is not mapped to anyone in the team's roles (mapped: "
        f"{mapped}). Ask an admin to run `sergas admin roles set YOUR_EMAIL --os-user {os_user}`."
    )


def people_from_rows(rows: Iterable[Mapping[str, object]]) -> list[Person]:
    """People from ``team_people`` rows (or the same keys from a file)."""
    out = []
    for row in rows:
        role = str(row.get("role") or "ae")
        os_users = row.get("os_users")
        name, manager = row.get("name"), row.get("manager_email")
        out.append(
            Person(
                email=str(row["email"]),
                name=None if name is None else str(name),
                role=ROLE_OF.get(role, "ae"),
                manager_email=None if manager is None else str(manager),
                os_users=tuple(str(u) for u in os_users) if isinstance(os_users, list) else (),
            )
        )
    return out


ROLE_OF: dict[str, Role] = {r: r for r in ROLES}
"""Each role by its name (a typed lookup of untrusted text)."""
