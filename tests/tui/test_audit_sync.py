"""The app's background sync of the audit to the central PostgreSQL, and its header status."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo

from sergas_tui.app import make_app
from sergas_tui.config import Settings
from sergas_tui.services import Services
from sergas_tui.widgets.header import ShellHeader
from tests.tui.waiting import settle, until


async def test_the_app_sends_the_audit_and_says_so(
    settings: Settings, reviewed: Services, central_dsn: str
) -> None:
    settings.central.dsn = central_dsn
    local = len(reviewed.store.audit_rows())
    assert local > 0
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:

        def header() -> str:
            return str(app.screen.query_one(ShellHeader).render())

        # The first sync runs in the background once the app is up: wait for it to say so.
        await until(pilot, lambda: "audit sent just now" in header(), "the audit to be sent")
        with psycopg.connect(central_dsn) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT id) FROM audit_logs").fetchone()
        assert row is not None
        # The app's own CRM reads since opening are audited too, and sent in a later round.
        assert row[0] == row[1] >= local
        assert not [n for n in app._notifications if n.severity != "information"]


async def test_a_failing_sync_warns_once_and_keeps_the_rows(
    settings: Settings, reviewed: Services, postgres_dsn: str
) -> None:
    settings.central.dsn = make_conninfo(postgres_dsn, dbname="no_such_db_sergas")
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.sync_audit()

        def header() -> str:
            return str(app.screen.query_one(ShellHeader).render())

        await until(pilot, lambda: "audit sync failing" in header(), "the failure to show")
        warnings = [n for n in app._notifications if n.severity == "warning"]
        assert len(warnings) == 1, [n.message for n in warnings]
        assert "kept locally" in warnings[0].message
    assert reviewed.store.outbox_counts()[0] > 0


async def test_the_app_applies_the_local_audit_retention_once_a_day(
    settings: Settings, reviewed: Services
) -> None:
    from datetime import timedelta

    from sergas_tui.audit.verify import verify_database
    from sergas_tui.clock import FixedClock
    from tests.conftest import FIXED_NOW

    settings.auditing.retention_days = 30
    # The review's rows were written at FIXED_NOW; the app opens 40 days later.
    reviewed.clock = FixedClock(FIXED_NOW + timedelta(days=40))
    old = len(reviewed.store.audit_rows())
    app = make_app(settings, reviewed)
    async with app.run_test(size=(120, 40)) as pilot:

        def purged() -> list[str]:
            return [n.message for n in app._notifications if n.title == "Audit retention"]

        await until(pilot, lambda: bool(purged()), "the retention's notification")
        assert purged()[0].startswith(f"Purged {old:,} audit rows older than")
    assert verify_database(reviewed.store).ok
    assert reviewed.audit_retention() is None, "once a day"
