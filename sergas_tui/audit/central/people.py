"""The team's people in the central PostgreSQL (``team_people``, central schema v4): who is an
AE, a manager or an admin, whom they report to, and which OS accounts sign in as them.

Rows come from the CRM's users (``source = 'crm'``: `sergas admin roles import`) or from an
admin's hand (``source = 'admin'``: `sergas admin roles set`); an import never overwrites what
an admin set by hand except the name. The store is synchronous, a connection per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import psycopg

from sergas_tui.audit.central.store import CentralTableStore
from sergas_tui.domain.people import Person, people_from_rows

PEOPLE_VERSION = 4
"""The central schema version that created ``team_people``."""

Source = Literal["crm", "admin"]
_COLUMNS = ("email", "name", "role", "manager_email", "os_users", "source")


class CentralPeopleStore(CentralTableStore):
    """``team_people`` in the central database."""

    needs = PEOPLE_VERSION
    what = "team roles"

    def all(self) -> list[Person]:
        """Everyone, by e-mail."""
        action = "read the team's roles"
        conn = self._connect(action)
        try:
            with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
                rows = cur.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM team_people ORDER BY email"
                ).fetchall()
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        return people_from_rows(rows)

    def sources(self) -> dict[str, str]:
        """Each person's source ('crm' or 'admin'), by e-mail."""
        action = "read the team's roles"
        conn = self._connect(action)
        try:
            rows = conn.execute("SELECT email, source FROM team_people").fetchall()
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        return {str(r[0]): str(r[1]) for r in rows}

    def save(self, people: Iterable[Person], *, source: Source, updated_by: str) -> int:
        """Insert or update people; a CRM import keeps what an admin set by hand (only the name
        follows the CRM). Returns how many rows changed."""
        values = [
            (
                p.email.lower(),
                p.name,
                p.role,
                None if p.manager_email is None else p.manager_email.lower(),
                list(p.os_users),
                source,
                updated_by,
            )
            for p in people
        ]
        if not values:
            return 0
        keep = "team_people.source = 'admin' AND excluded.source = 'crm'"
        action = "save the team's roles"
        conn = self._connect(action)
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO team_people (email, name, role, manager_email, os_users, source, "
                    "updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (email) DO UPDATE SET name = coalesce(excluded.name, "
                    "team_people.name), "
                    f"role = CASE WHEN {keep} THEN team_people.role ELSE excluded.role END, "
                    f"manager_email = CASE WHEN {keep} THEN team_people.manager_email "
                    "ELSE excluded.manager_email END, "
                    f"os_users = CASE WHEN {keep} THEN team_people.os_users "
                    "ELSE excluded.os_users END, "
                    f"source = CASE WHEN {keep} THEN team_people.source ELSE excluded.source END, "
                    "updated_by = excluded.updated_by, updated_at = clock_timestamp()",
                    values,
                    returning=False,
                )
                return max(cur.rowcount, 0)
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()

    def remove(self, email: str) -> bool:
        action = "remove a person from the team's roles"
        conn = self._connect(action)
        try:
            cursor = conn.execute("DELETE FROM team_people WHERE email = %s", (email.lower(),))
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        return cursor.rowcount == 1
