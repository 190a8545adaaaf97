"""Team-mode workers against the real PostgreSQL: real `sergas worker` and `sergas schedule`
processes, a generated demo workspace, each test in its own PostgreSQL schema.

Each test waits for conditions with a deadline (:func:`wait_for`), never for a fixed time.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from sergas_tui.audit.central.conn import CentralTarget
from sergas_tui.config import load_settings
from sergas_tui.demo import DemoStore, generate
from sergas_tui.locations import Locations
from sergas_tui.secrets import SecretStore
from sergas_tui.team.cron import parse_schedule
from sergas_tui.team.review_job import WorkerRuntime
from sergas_tui.team.runner import WorkerOptions, run_worker
from sergas_tui.team.status import worker_checks
from tests.helpers.waiting import wait_for
from tests.integration.simkit import NOW

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REVIEW_TASK = "sergas.review_owner"
NEVER = "0 0 29 2 *"
"""A schedule that is not due while the tests run (29 February, midnight)."""
STARTUP = 180.0
"""How long a worker process may take to start and register: an interpreter importing the
review stack, which on a busy 2-core CI machine took more than 45 s."""


@dataclass
class Team:
    """A fresh PostgreSQL schema, a demo workspace and the worker processes started on it."""

    admin_dsn: str
    schema: str
    locations: Locations
    cron: str = NEVER
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return make_conninfo(self.admin_dsn, options=f"-c search_path={self.schema}")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
        env.update(
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
            SERGAS_CENTRAL__DSN=self.dsn,
            SERGAS_ZOHO__REQUESTS_PER_MINUTE="10000",
            SERGAS_ORCHESTRATOR__SCHEDULE_CRON=self.cron,
        )
        env.update(extra)
        return env

    def generate(self, *, accounts: int, owners: int) -> list[str]:
        """The demo org of the workspace; returns its owners' e-mails."""
        org = self.locations.demo_crm_file("demo")
        org.parent.mkdir(parents=True, exist_ok=True)
        generate(org, accounts=accounts, owners=owners, seed=11, now=NOW)
        store = DemoStore.open(org)
        try:
            return [str(user["email"]) for user in store.users()]
        finally:
            store.close()

    def sergas(
        self, *args: str, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sergas_tui", *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sergas_tui", "worker", *args],
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes.append(proc)
        return proc

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def table_exists(self, name: str) -> bool:
        return bool(self.query("SELECT to_regclass(%s) IS NOT NULL AS x", name)[0]["x"])

    def review_jobs(self) -> list[dict[str, Any]]:
        if not self.table_exists("procrastinate_jobs"):
            return []
        return self.query(
            "SELECT id, status::text AS status, args, attempts, priority, lock, queueing_lock "
            "FROM procrastinate_jobs WHERE task_name = %s ORDER BY id",
            REVIEW_TASK,
        )

    def attempts(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM sergas_review_attempts ORDER BY id")

    def live_workers(self) -> int:
        if not self.table_exists("procrastinate_workers"):
            return 0
        return int(self.query("SELECT count(*) AS n FROM procrastinate_workers")[0]["n"])

    def workspace(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Read the workspace database (SQLite, read-only) as the workers write it."""
        path = self.locations.database_file("demo")
        if not path.exists():
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []
            raise
        finally:
            conn.close()

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


@pytest.fixture
def team(postgres_dsn: str) -> Iterator[Team]:
    made = Team(postgres_dsn, f"sergas_w_{uuid4().hex[:12]}", Locations.from_env())
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {made.schema}")
    try:
        yield made
    finally:
        made.stop_all()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {made.schema} CASCADE")
            for role in made.roles:
                conn.execute(f"DROP OWNED BY {role}")
                conn.execute(f"DROP ROLE {role}")


def _stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM a worker and return its output (it must stop cleanly)."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    return out


def _overlapping(runs: list[tuple[str, str | None]]) -> bool:
    ordered = sorted(runs)
    return any(
        end is None or end > start_next
        for (_start, end), (start_next, _end) in itertools.pairwise(ordered)
    )


def test_two_workers_review_ten_owners_each_exactly_once(team: Team) -> None:
    owners = team.generate(accounts=400, owners=10)
    first = team.start_worker("--concurrency", "2")  # two reviews at once in one process
    second = team.start_worker()
    wait_for(lambda: team.live_workers() == 2, "both workers to register", timeout=STARTUP)

    scheduled = team.sergas("schedule")
    assert scheduled.returncode == 0, scheduled.stderr
    assert "Queued 10 of 10 owners' reviews" in scheduled.stdout
    for email in owners:  # every line names the owner
        assert email in scheduled.stdout

    def all_done() -> bool:
        jobs = team.review_jobs()
        return len(jobs) == 10 and all(j["status"] == "succeeded" for j in jobs)

    wait_for(all_done, "the ten review jobs to succeed")
    jobs = team.review_jobs()
    assert sorted(j["args"]["owner"] for j in jobs) == sorted(owners)
    assert all(
        j["lock"] == j["queueing_lock"] == f"sergas-review:{j['args']['owner']}" for j in jobs
    )

    attempts = team.attempts()
    assert [a["outcome"] for a in attempts] == ["ok"] * 10
    assert Counter(a["owner_email"] for a in attempts) == Counter(owners)
    workers = {a["worker"] for a in attempts}
    assert workers == {f"{os.uname().nodename}:{first.pid}", f"{os.uname().nodename}:{second.pid}"}

    # The workspace agrees: one successful sync run per owner, none overlapping another of
    # the same owner, and no run left unfinished.
    runs = team.workspace("SELECT owner_email, started_at, finished_at, status FROM sync_runs")
    assert Counter(r["owner_email"] for r in runs if r["status"] == "ok") == Counter(owners)
    assert all(r["status"] == "ok" for r in runs)
    by_owner: dict[str, list[tuple[str, str | None]]] = {}
    for r in runs:
        by_owner.setdefault(r["owner_email"], []).append((r["started_at"], r["finished_at"]))
    assert not any(_overlapping(spans) for spans in by_owner.values())

    # Every owner's queue is in the team's records, as the AE's app pulls it.
    local = team.workspace(
        "SELECT owner_email, count(*) AS n FROM approvals WHERE status = 'pending' "
        "GROUP BY owner_email"
    )
    central = team.query(
        "SELECT owner_email, count(*) AS n FROM team_approvals WHERE status = 'pending' "
        "GROUP BY owner_email"
    )
    assert {r["owner_email"]: r["n"] for r in central} == {r["owner_email"]: r["n"] for r in local}
    assert central

    doctor = team.sergas("doctor")
    text = " ".join(doctor.stdout.split())
    assert "workers 2 running" in text, doctor.stdout
    assert "0 waiting, 0 being reviewed" in text
    assert "10 owners, 10 queued" in text
    assert "of its reviews 10 done" in text
    assert "failed reviews none in the last 7 days" in text

    for proc in (first, second):
        out = _stop(proc)
        assert "Stopping: the running reviews finish first" in out
    assert team.live_workers() == 0


def test_a_killed_workers_review_is_retried_without_duplicate_approvals(team: Team) -> None:
    owners = team.generate(accounts=1600, owners=2)
    owner = owners[0]
    fast = ("--stalled-after", "4")
    workers = [team.start_worker(*fast), team.start_worker(*fast)]
    wait_for(lambda: team.live_workers() == 2, "both workers to register", timeout=STARTUP)
    scheduled = team.sergas("schedule", "--owner", owner)
    assert scheduled.returncode == 0, scheduled.stderr

    # Wait until the review is well under way: its run has stored whole accounts already.
    def stored_part() -> list[sqlite3.Row]:
        return team.workspace(
            "SELECT r.id, count(s.id) AS n FROM sync_runs r JOIN account_snapshots s "
            "ON s.run_id = r.id WHERE r.owner_email = ? AND r.status = 'running' "
            "GROUP BY r.id HAVING count(s.id) > 0",
            owner,
        )

    killed_run = wait_for(stored_part, "the review to store its first accounts", every=0.01)
    holder = wait_for(lambda: team.attempts(), "the attempt record")[0]["worker"]
    victim = next(p for p in workers if holder.endswith(f":{p.pid}"))
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    accounts = int(team.workspace("SELECT count(*) AS n FROM account_snapshots")[0]["n"])
    assert 0 < accounts < 800, "killed in the middle of the owner's 800 accounts"

    def retried() -> bool:
        jobs = team.review_jobs()
        return bool(jobs) and jobs[0]["status"] == "succeeded"

    wait_for(retried, "another worker to retry and finish the review", timeout=50)
    attempts = team.attempts()
    assert [a["outcome"] for a in attempts] == ["interrupted", "ok"]
    assert "stopped answering" in attempts[0]["detail"]
    survivor = next(p for p in workers if p is not victim)
    assert attempts[1]["worker"].endswith(f":{survivor.pid}")
    assert team.review_jobs()[0]["attempts"] >= 1

    # The killed run stays unfinished in the workspace; the retry's run completed.
    runs = team.workspace("SELECT id, status FROM sync_runs WHERE owner_email = ?", owner)
    assert {r["id"]: r["status"] for r in runs}[killed_run[0]["id"]] == "running"
    assert [r["status"] for r in runs].count("ok") == 1

    # No problem of an account waits twice: same account, same action, same signals.
    pending = team.workspace(
        "SELECT a.account_id, a.action_type, r.payload FROM approvals a JOIN recommendations r "
        "ON r.id = a.recommendation_id WHERE a.status = 'pending' AND a.owner_email = ?",
        owner,
    )
    assert pending, "the owner's review proposed something"
    keys = Counter(
        (p["account_id"], p["action_type"], tuple(sorted(json.loads(p["payload"])["signals"])))
        for p in pending
    )
    assert [key for key, n in keys.items() if n > 1] == []

    out = _stop(survivor)
    assert "was interrupted: its worker stopped answering" in out


def test_scheduling_twice_while_jobs_wait_queues_no_duplicates(team: Team) -> None:
    owners = team.generate(accounts=100, owners=10)
    # Two at once (each checks what is queued, then the queueing lock decides), then a third.
    both = [
        subprocess.Popen(
            [sys.executable, "-m", "sergas_tui", "schedule"],
            env=team.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in both]
    assert [p.returncode for p in both] == [0, 0], results
    again = team.sergas("schedule")
    assert again.returncode == 0, again.stderr
    assert "Queued 0 of 10 owners' reviews: 10 already queued." in again.stdout

    jobs = team.review_jobs()
    assert len(jobs) == 10
    assert all(j["status"] == "todo" for j in jobs)
    assert sorted(j["args"]["owner"] for j in jobs) == sorted(owners)
    runs = team.query("SELECT deferred, skipped FROM sergas_schedule_runs ORDER BY id")
    assert sum(r["deferred"] for r in runs) == 10
    assert runs[-1] == {"deferred": 0, "skipped": 10}


def test_the_periodic_task_queues_every_owner_once_per_scheduled_time(team: Team) -> None:
    team.cron = "* * * * *"  # due every minute: the first tick comes as the workers start
    owners = team.generate(accounts=100, owners=10)
    workers = [team.start_worker(), team.start_worker()]

    def first_run_done() -> bool:
        if not team.table_exists("sergas_schedule_runs"):
            return False
        runs = team.query("SELECT id FROM sergas_schedule_runs ORDER BY id LIMIT 1")
        jobs = [j for j in team.review_jobs() if runs and j["args"]["run"] == runs[0]["id"]]
        return len(jobs) == 10 and all(j["status"] == "succeeded" for j in jobs)

    wait_for(first_run_done, "the scheduled run's ten reviews")
    runs = team.query("SELECT id, slot, source, deferred FROM sergas_schedule_runs ORDER BY id")
    assert all(r["source"] == "periodic" and r["slot"] is not None for r in runs)
    assert len({r["slot"] for r in runs}) == len(runs), "one run per scheduled time"
    assert runs[0]["deferred"] == 10
    for run in runs:
        owners_of_run = [
            j["args"]["owner"] for j in team.review_jobs() if j["args"]["run"] == run["id"]
        ]
        assert len(owners_of_run) == len(set(owners_of_run))
    assert set(owners) == {j["args"]["owner"] for j in team.review_jobs()}
    # Ticks delete their finished predecessors: at most a few remain.
    ticks = team.query(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE task_name = 'sergas.schedule_tick'"
    )
    assert ticks[0]["n"] <= 3
    out = _stop(workers[0])
    assert "Scheduled run of" in out or "Scheduled run of" in _stop(workers[1])


async def test_a_review_that_cannot_run_fails_at_once_and_doctor_names_the_owner(
    team: Team,
) -> None:
    owners = team.generate(accounts=60, owners=3)
    assert team.sergas("schedule", "--owner", owners[0]).returncode == 0
    # A worker (here in-process) whose configuration cannot open the CRM: Zoho REST without its
    # refresh token. Another attempt cannot cure that, so the job fails at once and says why.
    broken = load_settings(
        team.locations,
        overrides={"central": {"dsn": team.dsn}, "zoho": {"mode": "rest", "client_id": "1000.X"}},
    )
    said: list[str] = []
    runtime = WorkerRuntime(
        settings=broken,
        locations=team.locations,
        workspace="demo",
        target=CentralTarget(team.dsn),
        schedule=parse_schedule(NEVER),
        worker_name="test:1",
        say=said.append,
    )
    await run_worker(runtime, WorkerOptions(until_idle=True))
    assert any(
        f"<{owners[0]}> FAILED (first attempt, not retried): Missing secret" in line
        for line in said
    ), said
    assert [j["status"] for j in team.review_jobs()] == ["failed"]
    attempts = team.attempts()
    assert [a["outcome"] for a in attempts] == ["failed"]
    assert attempts[0]["worker"] == "test:1"

    settings = load_settings(team.locations, overrides={"central": {"dsn": team.dsn}})
    checks = {c.name: c for c in worker_checks(settings, SecretStore(environ={}))}
    failed = checks["failed reviews"]
    assert failed.status == "warn"
    assert failed.detail.startswith("1 in the last 7 days: ")
    assert f"<{owners[0]}>" in failed.detail
    assert "after 1 attempts: Missing secret" in failed.detail
    assert checks["workers"].detail == "none running"
    assert checks["queue"].detail == "0 waiting, 0 being reviewed"
    assert checks["last scheduled run"].status == "warn"  # its one review failed


def test_bad_set_ups_are_one_clear_paragraph(team: Team, tmp_path: Path) -> None:
    team.generate(accounts=20, owners=2)
    no_dsn = team.sergas("worker", SERGAS_CENTRAL__DSN="")
    assert no_dsn.returncode == 2
    assert "No job queue: Workers and `sergas schedule` keep their job queue" in " ".join(
        no_dsn.stderr.split()
    )
    bad_cron = team.sergas("worker", SERGAS_ORCHESTRATOR__SCHEDULE_CRON="every morning")
    assert bad_cron.returncode == 2
    assert "schedule_cron 'every morning' is not a cron expression" in bad_cron.stderr
    bad_zone = team.sergas("worker", SERGAS_ORCHESTRATOR__SCHEDULE_TIMEZONE="Mars/Olympus")
    assert bad_zone.returncode == 2
    assert "'Mars/Olympus' is not a time zone" in bad_zone.stderr
    down = team.sergas(
        "schedule", SERGAS_CENTRAL__DSN="postgresql://sergas@127.0.0.1:1/none?connect_timeout=2"
    )
    assert down.returncode == 2
    assert "Cannot reach the job queue" in down.stderr
    assert "127.0.0.1:1/none" in down.stderr
    for result in (no_dsn, bad_cron, bad_zone, down):
        assert "Traceback" not in result.stderr + result.stdout


def test_a_worker_role_without_create_runs_jobs_once_the_owner_migrated(team: Team) -> None:
    owners = team.generate(accounts=40, owners=2)
    role = f"sergas_worker_{uuid4().hex[:8]}"
    team.roles.append(role)
    with psycopg.connect(team.admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA {team.schema} TO {role}")
    as_worker = make_conninfo(team.dsn, user=role)

    refused = team.sergas("schedule", SERGAS_CENTRAL__DSN=as_worker)
    assert refused.returncode == 2
    assert "Run `sergas worker --migrate-only` once as the schema's owner" in " ".join(
        refused.stderr.split()
    )

    owner = team.sergas("worker", "--migrate-only", "--grant-to", role)
    assert owner.returncode == 0, owner.stderr
    assert "Job queue tables at version 1 (was none)" in owner.stdout
    assert f"The role '{role}' may now run workers" in owner.stdout

    assert team.sergas("schedule", SERGAS_CENTRAL__DSN=as_worker).returncode == 0
    worker = team.sergas("worker", "--until-idle", SERGAS_CENTRAL__DSN=as_worker)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert sorted(j["args"]["owner"] for j in team.review_jobs()) == sorted(owners)
    assert {j["status"] for j in team.review_jobs()} == {"succeeded"}
    # It may not change the schema (the owner's business).
    with (
        psycopg.connect(as_worker, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("DROP TABLE sergas_review_attempts")


def test_after_each_review_a_worker_sends_the_owner_one_digest(team: Team) -> None:
    from tests.fakes.notify_kit import smtp_server, text_of

    owners = team.generate(accounts=120, owners=3)
    with smtp_server() as mailbox:
        notify: dict[str, Any] = {
            "SERGAS_NOTIFICATIONS__EMAIL": "true",
            "SERGAS_NOTIFICATIONS__SMTP_HOST": mailbox.host,
            "SERGAS_NOTIFICATIONS__SMTP_PORT": str(mailbox.port),
            "SERGAS_NOTIFICATIONS__SMTP_SECURITY": "none",
            "SERGAS_NOTIFICATIONS__FROM_ADDRESS": "Sergas <sergas@demo.sergas.test>",
            "SERGAS_NOTIFICATIONS__PUBLIC_URL": "https://sergas.example.test",
        }
        worker = team.start_worker(**notify)
        scheduled = team.sergas("schedule", **notify)
        assert scheduled.returncode == 0, scheduled.stderr

        def reviewed() -> bool:
            jobs = team.review_jobs()
            return len(jobs) == 3 and all(j["status"] == "succeeded" for j in jobs)

        wait_for(reviewed, "the three reviews")
        pending = {
            r["owner_email"]: r["n"]
            for r in team.query(
                "SELECT owner_email, count(*) AS n FROM team_approvals "
                "WHERE status = 'pending' GROUP BY owner_email"
            )
        }
        wait_for(lambda: all(len(mailbox.to(o)) == 1 for o in pending), "one digest per owner")
        for owner, count in pending.items():
            [message] = mailbox.to(owner)
            body = text_of(message)
            assert body.count("https://sergas.example.test/a/") == count * 3, body
        out = _stop(worker)
    assert "Digest:" in out
    assert set(pending) <= set(owners)


def test_a_worker_serves_its_metrics_while_it_runs(team: Team) -> None:
    from tests.helpers.metrics import follow, scrape

    owners = team.generate(accounts=60, owners=2)
    worker = team.start_worker(SERGAS_MONITORING__PROMETHEUS_PORT="0")
    output = follow(worker.stdout)

    url = wait_for(output.metrics_url, "the worker to say where its metrics are", timeout=STARTUP)
    scheduled = team.sergas("schedule")
    assert scheduled.returncode == 0, scheduled.stderr

    def reviewed() -> Any:
        figures = scrape(url)
        return figures if figures.total("orchestrator_runs_total") == len(owners) else None

    figures = wait_for(reviewed, "both owners' reviews in the worker's metrics", timeout=120)
    assert figures.total("orchestrator_run_failures_total") == 0
    assert figures.total("accounts_processed_total") == 60
    assert figures.total("zoho_api_requests_total", tool_name="zoho_sync") > 0
    assert figures.total("subagent_invocations_total", agent_name="zoho_scout") == 2
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    assert "Traceback" not in output.join()
