"""`sergas admin`: team mode's roles — who is an AE, a manager or an admin, and who you are.

    sergas admin whoami                       the person this device acts for, and their team
    sergas admin roles list                   everyone, with role, manager and OS accounts
    sergas admin roles import                 people and reporting lines from the CRM's users
    sergas admin roles set EMAIL [--role R] [--manager EMAIL] [--os-user NAME ...] [--name N]
    sergas admin roles remove EMAIL

Only an admin may change roles; until the team has one, the first changes are open (that is
how the first admin is made) and say so. Every change is written to the local audit log
(``roles_changed``, with who made it and what changed) and synced centrally like the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import JsonValue
from rich.table import Table
from rich.text import Text

from sergas_tui.cli.common import err_console, out, state_of
from sergas_tui.errors import ConfigError
from sergas_tui.errors import RolesError as RolesError

if TYPE_CHECKING:
    from sergas_tui.audit.central.people import CentralPeopleStore
    from sergas_tui.domain.people import Person
    from sergas_tui.services import Services

admin_app = typer.Typer(
    help="Team roles: who is an AE, a manager or an admin (team mode).", no_args_is_help=True
)
roles_app = typer.Typer(help="Show or change the team's roles.", no_args_is_help=True)
admin_app.add_typer(roles_app, name="roles")


def _services(ctx: typer.Context) -> Services:
    from sergas_tui.services import open_services

    state = state_of(ctx)
    settings = state.settings()
    if not settings.central.dsn:
        raise ConfigError(
            "Roles belong to team mode: set [central] dsn (the team's PostgreSQL) first. A "
            "local-only workspace is one person's and has no roles.",
            title="Not in team mode",
        )
    return open_services(settings, state.locations, workspace=state.workspace)


def _people(services: Services) -> CentralPeopleStore:
    store = services.people()
    assert store is not None, "team mode (checked by _services)"
    return store


def _editor(services: Services, action: str) -> str:
    """Who changes the roles: an admin, or anyone while the team has no admin yet."""
    from sergas_tui.errors import IdentityError

    people = _people(services).all()
    admins = [p for p in people if p.role == "admin"]
    try:
        me = services.identity()
    except IdentityError:
        if admins:
            raise
        me = None
    if not admins:
        who = me.email if me is not None else "this device"
        err_console.print(
            Text(
                f"The team has no admin yet, so {who} may {action}. Make someone admin "
                "(`sergas admin roles set EMAIL --role admin --os-user NAME`) to close this.",
                style="yellow",
            )
        )
        return who
    if me is None or me.role != "admin":
        name = me.label() if me is not None else "this OS account"
        raise RolesError(
            f"Only an admin may {action}; {name} is not one. Admins: "
            f"{', '.join(p.label() for p in admins)}."
        )
    return me.email


def _audit(services: Services, editor: str, change: dict[str, JsonValue]) -> None:
    from sergas_tui.domain import AuditAction, AuditEvent

    services.store.append_audit(
        AuditEvent(
            timestamp=services.clock.now(),
            session_id="admin-roles",
            agent_name="admin",
            action_type=str(AuditAction.ROLES_CHANGED),
            owner_email=editor,
            tool_inputs=change,
        )
    )


@admin_app.command("whoami")
def whoami(ctx: typer.Context) -> None:
    """The person this device acts for in team mode, their role and whose queues they see."""
    services = _services(ctx)
    try:
        me = services.identity()
        if me is None:
            out.print(
                Text(
                    "The team has no roles yet, so nothing is restricted: anyone on a team "
                    "device may see and decide every owner's approvals. `sergas admin roles "
                    "import` reads the roles from the CRM."
                )
            )
            return
        out.print(Text(f"{me.label()} — {me.role}, identified by this OS account"))
        names = {p.email: p.label() for p in _people(services).all()}
        team = sorted(names.get(email, email) for email in me.team)
        if team:
            out.print(Text(f"sees and may decide for: {', '.join(team)}"))
        else:
            out.print(Text("sees and decides their own approvals only"))
    finally:
        services.close()


@roles_app.command("list")
def roles_list(ctx: typer.Context) -> None:
    """Everyone in the team's roles."""
    services = _services(ctx)
    try:
        people = _people(services).all()
        sources = _people(services).sources()
    finally:
        services.close()
    if not people:
        out.print(
            Text("No roles yet. `sergas admin roles import` reads them from the CRM's users.")
        )
        return
    names = {p.email: p.label() for p in people}
    table = Table(title=f"Team roles ({len(people)})")
    for column in ("person", "role", "reports to", "OS accounts", "from"):
        table.add_column(column)
    for p in people:
        manager = names.get(p.manager_email or "", p.manager_email or "—")
        table.add_row(
            Text(p.label()),
            p.role,
            Text(manager),
            Text(", ".join(p.os_users) or "—"),
            sources.get(p.email, "?"),
        )
    out.print(table)


@roles_app.command("import")
def roles_import(ctx: typer.Context) -> None:
    """Read people, managers (Zoho's reporting lines) and admins (Zoho's Administrator
    profile) from the CRM's users; what an admin set by hand is kept."""
    from sergas_tui.crm.people import PeopleDirectory

    services = _services(ctx)

    async def read() -> list[Person]:
        try:
            backend = await services.crm_gateway()
            inner = getattr(backend, "inner", backend)
            if not isinstance(inner, PeopleDirectory):
                raise RolesError(
                    "This CRM connection cannot list the org's users (Zoho's MCP endpoints "
                    "do not offer it): set the roles with `sergas admin roles set`."
                )
            return list(await inner.org_people())
        finally:
            await services.aclose()

    try:
        editor = _editor(services, "import the roles")
        people = asyncio.run(read())
        changed = _people(services).save(people, source="crm", updated_by=editor)
        _audit(services, editor, {"import": len(people), "changed": changed})
    finally:
        services.close()
    managers = sum(1 for p in people if p.role == "manager")
    out.print(
        Text(
            f"Imported {len(people)} {'person' if len(people) == 1 else 'people'} from the CRM "
            f"({managers} {'manager' if managers == 1 else 'managers'}); roles set by "
            "an admin were kept. Map OS accounts with `sergas admin roles set EMAIL --os-user "
            "NAME`."
        )
    )


@roles_app.command("set")
def roles_set(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person's CRM e-mail.")],
    role: Annotated[str | None, typer.Option(help="ae, manager or admin.")] = None,
    manager: Annotated[str | None, typer.Option(help="Whom they report to (e-mail).")] = None,
    os_user: Annotated[
        list[str] | None,
        typer.Option("--os-user", help="An OS account that signs in as them (repeatable)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Their name as shown.")] = None,
) -> None:
    """Add a person or change their role, manager, OS accounts or name."""
    from sergas_tui.domain.people import ROLE_OF, ROLES, Person

    if role is not None and role not in ROLES:
        raise RolesError(f"--role must be one of {', '.join(ROLES)}, not {role!r}.")
    if "@" not in email:
        raise RolesError(f"{email!r} is not an e-mail address; people are named by CRM e-mail.")
    services = _services(ctx)
    try:
        editor = _editor(services, "change roles")
        found = {p.email: p for p in _people(services).all()}
        old = found.get(email.lower())
        person = Person(
            email=email.lower(),
            name=name if name is not None else (old.name if old else None),
            role=ROLE_OF.get(role or "", old.role if old else "ae"),
            manager_email=(manager.lower() if manager else (old.manager_email if old else None)),
            os_users=tuple(os_user) if os_user else (old.os_users if old else ()),
        )
        _check_os_users(person, found.values())
        _people(services).save([person], source="admin", updated_by=editor)
        _audit(
            services,
            editor,
            {
                "person": person.email,
                "role": person.role,
                "manager": person.manager_email,
                "os_users": list(person.os_users),
                "before": None if old is None else old.role,
            },
        )
    finally:
        services.close()
    out.print(Text(f"{person.label()}: {person.role}" + _details(person)))


def _details(person: Person) -> str:
    manager, users = person.manager_email, person.os_users
    parts = []
    if manager:
        parts.append(f"reports to {manager}")
    if users:
        parts.append(f"OS accounts {', '.join(users)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _check_os_users(person: Person, others: Iterable[Person]) -> None:
    """An OS account signs in as one person only."""
    mine = set(person.os_users)
    for other in others:
        if other.email != person.email and mine & set(other.os_users):
            taken = ", ".join(sorted(mine & set(other.os_users)))
            raise RolesError(
                f"OS account {taken} already signs in as {other.label()}; remove it there first."
            )


@roles_app.command("remove")
def roles_remove(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="The person's CRM e-mail.")]
) -> None:
    """Take a person out of the team's roles (their approvals stay)."""
    services = _services(ctx)
    try:
        editor = _editor(services, "change roles")
        removed = _people(services).remove(email)
        if removed:
            _audit(services, editor, {"removed": email.lower()})
    finally:
        services.close()
    if not removed:
        raise RolesError(f"{email} is not in the team's roles (`sergas admin roles list`).")
    out.print(Text(f"Removed {email.lower()} from the team's roles."))
