"""Team roles through the real CLI on the real PostgreSQL: an AE sees and decides their own
approvals only, a manager their team's, the decider is the person the OS account maps to (never
a typed name), and only an admin changes roles once there is one."""

from __future__ import annotations

import json
import re
import subprocess

import psycopg
import pytest

from sergas_tui.domain.people import Person, identify, reports_of
from sergas_tui.errors import IdentityError
from sergas_tui.locations import Locations
from sergas_tui.services import os_account
from tests.helpers.cli import run_cli

pytestmark = pytest.mark.postgres

ME = os_account()
WRITE_VERBS = ("POST", "PUT", "UPSERT", "DELETE")
"""The simulator's counter kinds of writes start with these ("POST Tasks", ...)."""


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def refused(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return " ".join((result.stdout + result.stderr).split())


def _people(dsn: str) -> dict[str, tuple[str, str | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT email, role, manager_email FROM team_people").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _pending(dsn: str) -> dict[str, list[str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT owner_email, approval_id FROM team_approvals WHERE status = 'pending' "
            "ORDER BY approval_id"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for owner, ident in rows:
        out.setdefault(owner, []).append(ident)
    return out


@pytest.fixture
def team(central_dsn: str) -> dict[str, str]:
    """A demo org of 24 owners in two managers' teams, reviewed, roles imported from the CRM."""
    locations = Locations.from_env()
    locations.config_dir.mkdir(parents=True)
    locations.config_file.write_text(
        f"[central]\ndsn = {json.dumps(central_dsn)}\ndevice = 'laptop'\n"
        "[zoho]\nrequests_per_minute = 10000\n"
    )
    ok("demo", "generate", "--accounts", "240", "--owners", "24", "--seed", "5")
    imported = ok("admin", "roles", "import")
    assert "Imported 24 people from the CRM (2 managers)" in imported.stdout
    assert "no admin yet" in imported.stderr
    people = _people(central_dsn)
    managers = sorted(e for e, (role, _) in people.items() if role == "manager")
    assert len(managers) == 2
    ae = next(e for e, (role, boss) in people.items() if role == "ae" and boss == managers[0])
    other = next(e for e, (role, boss) in people.items() if role == "ae" and boss == managers[1])
    ok("review", "--all")
    return {"dsn": central_dsn, "ae": ae, "other": other, "manager": managers[0]}


def test_an_ae_sees_and_decides_only_their_own_approvals(team: dict[str, str]) -> None:
    ae, other, dsn = team["ae"], team["other"], team["dsn"]
    ok("admin", "roles", "set", ae, "--os-user", ME)
    assert ae in ok("admin", "whoami").stdout
    doctor = " ".join(run_cli("doctor").stdout.split())
    assert "24 people (2 managers, 0 admins); you are" in doctor
    assert "already signs in as" in refused("admin", "roles", "set", other, "--os-user", ME)
    pending = _pending(dsn)
    mine, theirs = pending[ae][0], pending[other][0]

    text = refused("approvals", "list", "--owner", other)
    assert f"may not see approvals of {other}" in text
    listed = ok("approvals", "list", "--all").stdout
    assert other not in listed
    assert f"{len(pending[ae])} approvals pending" in listed
    text = refused("approvals", "show", theirs)
    assert "may not see" in text
    text = refused("approvals", "approve", theirs, "--no-execute")
    assert f"may not see approvals of {other}" in text
    text = refused("approvals", "approve", mine, "--no-execute", "--as", other)
    assert "recorded under the person Sergas identified" in text

    with psycopg.connect(dsn) as conn:
        their_account = conn.execute(
            "SELECT account_id FROM team_approvals WHERE approval_id = %s", (theirs,)
        ).fetchone()
    assert their_account is not None
    out = Locations.from_env().data_dir / "export.json"
    text = refused("account", "export", their_account[0], "--out", str(out))
    assert f"may not export the data and approvals of {other}" in text
    assert not out.exists()

    ok("approvals", "approve", mine, "--no-execute")
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT status, decided_by FROM team_approvals WHERE approval_id = %s", (mine,)
        ).fetchone()
    assert row == ("approved", ae)
    with psycopg.connect(dsn) as conn:
        untouched = conn.execute(
            "SELECT status FROM team_approvals WHERE approval_id = %s", (theirs,)
        ).fetchone()
    assert untouched == ("pending",)


def test_a_manager_decides_for_their_team_only(team: dict[str, str]) -> None:
    manager, ae, other, dsn = team["manager"], team["ae"], team["other"], team["dsn"]
    ok("admin", "roles", "set", manager, "--os-user", ME)
    who = ok("admin", "whoami").stdout
    assert "manager" in who
    assert ae in who
    pending = _pending(dsn)
    ok("approvals", "list", "--owner", ae)
    assert "may not see" in refused("approvals", "list", "--owner", other)
    ok("approvals", "reject", pending[ae][0], "--reason", "not this quarter")
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT status, decided_by FROM team_approvals WHERE approval_id = %s",
            (pending[ae][0],),
        ).fetchone()
    assert row == ("rejected", manager)
    assert "may not see" in refused("approvals", "reject", pending[other][0])


def test_roles_change_only_by_an_admin_once_there_is_one(team: dict[str, str]) -> None:
    ae, manager = team["ae"], team["manager"]
    ok("admin", "roles", "set", ae, "--os-user", ME)  # no admin yet: open, and it says so
    made = ok(
        "admin", "roles", "set", "ops@demo.sergas.test", "--role", "admin", "--os-user", "ops"
    )
    assert "no admin yet" in made.stderr
    text = refused("admin", "roles", "set", manager, "--role", "admin")
    assert "Only an admin may change roles" in text
    assert "ops@demo.sergas.test" in text
    ok("admin", "roles", "list")
    with psycopg.connect(team["dsn"]) as conn:
        row = conn.execute("SELECT role FROM team_people WHERE email = %s", (manager,)).fetchone()
    assert row == ("manager",)


def test_an_unmapped_os_account_is_told_how_to_get_mapped(team: dict[str, str]) -> None:
    ok("admin", "roles", "set", team["ae"], "--os-user", "somebody-else")
    text = refused("approvals", "list")
    assert f"The OS account {ME!r} is not mapped" in text
    assert f"--os-user {ME}" in text


def test_everyone_outside_the_roles_of_a_team_device_is_refused_in_words() -> None:
    people = [
        Person("m@x.test", "Mia", "manager"),
        Person("a@x.test", "Al", "ae", "m@x.test", ("al",)),
        Person("b@x.test", "Bo", "ae", "a@x.test"),
    ]
    assert reports_of("m@x.test", people) == {"a@x.test", "b@x.test"}
    me = identify(people, "al")
    assert me is not None
    assert me.email == "a@x.test"
    assert me.role == "ae"
    assert me.may_act_for("A@X.test")
    assert not me.may_act_for("b@x.test")  # an AE has no team, whatever the reporting lines
    assert re.search(r"may not decide approvals of b@x\.test", me.refusal("b@x.test", "decide"))
    with pytest.raises(IdentityError, match="not mapped"):
        identify(people, "zed")
    assert identify([], "zed") is None  # no roles yet: nothing restricted


async def test_the_mcp_server_offers_no_way_to_decide_or_write_another_owners_item(
    team: dict[str, str],
) -> None:
    """Our Zoho MCP server in team mode: no tool lists or decides approvals, clients may not
    register grants, and a write citing an approval nobody decided (here another team's) is
    refused and writes nothing."""
    from sergas_tui.config import load_settings
    from sergas_tui.crm.approval_gate import ApprovalGate
    from sergas_tui.crm.mcp.server import build_zoho_server
    from sergas_tui.crm.mcp.tools import REGISTER_TOOL
    from sergas_tui.domain.grants import approval_marker
    from sergas_tui.services import open_services
    from tests.fakes.mcp_harness import connected

    locations = Locations.from_env()
    services = open_services(load_settings(locations), locations, serving=True)
    try:
        grants = services.grant_publisher()
        assert grants is not None
        gate = ApprovalGate(
            grants,
            clock=services.clock,
            audit=services.store.append_audit,
            accepts_registration=False,
        )
        theirs = _pending(team["dsn"])[team["other"]][0]
        approval = services.store.get_approval(theirs)
        assert approval is not None
        server = build_zoho_server(await services.crm_gateway(), gate)
        async with connected(server) as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert REGISTER_TOOL not in names
            assert not any("approv" in name for name in names)
            result = await session.call_tool(
                "zoho_create_task",
                {
                    "account_id": approval.account_id,
                    "subject": "Follow up",
                    "description": approval_marker(theirs),
                    "approval_id": theirs,
                    "approval_token": "a-guess-of-someone-elses-token",
                },
            )
        assert result.is_error
        assert services.simulator is not None
        writes = [k for k in services.simulator.counters.calls if k.split()[0] in WRITE_VERBS]
        assert writes == []
    finally:
        await services.aclose()
        services.close()
    with psycopg.connect(team["dsn"]) as conn:
        row = conn.execute(
            "SELECT status FROM team_approvals WHERE approval_id = %s", (theirs,)
        ).fetchone()
    assert row == ("pending",)
