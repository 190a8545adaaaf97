"""The org's people and reporting lines from Zoho's users API, for team roles.

``GET /users?type=ActiveUsers`` (200 per page) gives each user's e-mail, name, ``Reporting_To``
(``{name, id}``), ``role`` and ``profile``. A user someone reports to is a ``manager``; a user
on Zoho's ``Administrator`` profile is an ``admin``; everyone else an ``ae``. Managers are named
by e-mail (looked up from the same list by id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import aclosing
from typing import Any, Protocol, runtime_checkable

from sergas_tui.crm.rest.api import ZohoApi
from sergas_tui.domain.people import Person, Role

ADMIN_PROFILE = "Administrator"
"""Zoho's built-in profile of CRM administrators."""


@runtime_checkable
class PeopleDirectory(Protocol):
    """A CRM backend that can list its users with their reporting lines."""

    async def org_people(self) -> list[Person]: ...


def _name(value: Any) -> str | None:
    return value.get("name") if isinstance(value, Mapping) else None


def people_from_users(rows: Iterable[Mapping[str, Any]]) -> list[Person]:
    """Zoho user rows → people with roles and managers (inactive and e-mail-less rows left out)."""
    users = [r for r in rows if r.get("email") and r.get("status", "active") == "active"]
    email_of = {str(r.get("id")): str(r["email"]).lower() for r in users}
    managers: dict[str, str | None] = {}
    for row in users:
        boss = row.get("Reporting_To") or row.get("reporting_to")
        boss_id = str(boss.get("id")) if isinstance(boss, Mapping) else None
        managers[str(row["email"]).lower()] = email_of.get(boss_id) if boss_id else None
    has_reports = {m for m in managers.values() if m}
    people = []
    for row in users:
        email = str(row["email"]).lower()
        role: Role = "ae"
        if _name(row.get("profile")) == ADMIN_PROFILE:
            role = "admin"
        elif email in has_reports:
            role = "manager"
        name = row.get("full_name")
        people.append(
            Person(
                email=email,
                name=str(name) if name else None,
                role=role,
                manager_email=managers.get(email),
            )
        )
    return people


async def org_people(api: ZohoApi) -> list[Person]:
    """Every active user of the org as a person with a role."""
    rows: list[Mapping[str, Any]] = []
    params = {"type": "ActiveUsers"}
    async with aclosing(
        api.pages("/users", endpoint="GET /users", params=params, key="users")
    ) as pages:
        async for page in pages:
            rows.extend(page)
    return people_from_users(rows)
