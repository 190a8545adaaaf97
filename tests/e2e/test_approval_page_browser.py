"""The approval page in a real headless browser: Debian's chromium, driven through Debian's
chromedriver by Selenium, against `sergas serve` started as a subprocess on a loopback port.

Two team devices share a fresh central schema: a worker reviews the AE's accounts and sends the
digest (to a loopback aiosmtpd server); the server device, which never reviewed anything, serves
the links from the e-mail. A click decides on the server, which then writes the approval to its
CRM once (the deciding device). Reused and expired links are refused with a clear page.

Without chromium and chromedriver the tests skip, saying how to install them; CI
(``SERGAS_REQUIRE_BROWSER=1``, set by ``.ci/run``) requires them.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from sergas_tui.clock import SystemClock
from sergas_tui.domain import Approval, ApprovalStatus, AuditEvent
from sergas_tui.locations import Locations
from sergas_tui.notify.digest import link_store, send_digest
from sergas_tui.notify.links import token_hash
from sergas_tui.storage import Repository
from tests.fakes.notify_kit import (
    AE,
    Mailbox,
    central_schema,
    free_port,
    make_device_org,
    notification_settings,
    review,
    save_roles,
    smtp_server,
    team_device,
    text_of,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REQUIRE_BROWSER = os.environ.get("SERGAS_REQUIRE_BROWSER") == "1"
WAIT_SECONDS = 30.0
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/a/([A-Za-z0-9_-]{43}))\?do=approve")
CHROMIUM_ARGS = (
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    # Nothing but loopback resolves: the browser cannot reach anything else.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    """Poll ``check`` until it returns something true (then return it), or fail at the
    deadline naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        message = (
            "Debian's chromium and chromedriver are needed for the approval page's browser "
            "tests: `sudo apt-get install chromium chromium-driver` (`make test` does it as root)."
        )
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    if os.geteuid() == 0:  # chromium refuses to run its sandbox as root (CI containers)
        options.add_argument("--no-sandbox")
    with tempfile.TemporaryDirectory(prefix="sergas-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        try:
            yield session
        finally:
            session.quit()


@dataclass
class World:
    """The worker (in this process), the server (a subprocess) and what they share."""

    dsn: str
    server: Locations
    mailbox: Mailbox
    links: dict[str, Approval]
    """Each approval's approve-link URL (without ``?do=``) → the approval, from the e-mail."""
    accounts: dict[str, str]
    """Account id → name, as the worker's review stored them."""
    process: subprocess.Popen[bytes]

    def approval(self, approval_id: str) -> Approval:
        with _repository(self.server) as repo:
            found = repo.get_approval(approval_id)
        assert found is not None, f"approval {approval_id} is not on the server device"
        return found

    def decisions(self, approval_id: str) -> list[AuditEvent]:
        with _repository(self.server) as repo:
            events = repo.audit_events(limit=5000)
        return [
            e
            for e in events
            if e.action_type == "approval_decided"
            and isinstance(e.tool_inputs, dict)
            and e.tool_inputs.get("approval_id") == approval_id
        ]

    def tasks(self, approval_id: str) -> list[str]:
        """The data of the server CRM's tasks carrying the approval's marker."""
        org = self.server.demo_crm_file("demo")
        with sqlite3.connect(f"file:{org}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT data FROM records WHERE module = 'Tasks' AND data LIKE ?",
                (f"%[sergas:{approval_id}]%",),
            ).fetchall()
        db.close()
        return [str(r[0]) for r in rows]

    def link_row(self, url: str) -> tuple[Any, ...]:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT used_at, used_action, used_ip, used_agent FROM approval_links "
                "WHERE token_hash = %s",
                (token_hash(url.rsplit("/", 1)[1]),),
            ).fetchone()
        assert row is not None
        return tuple(row)

    def log_tail(self) -> str:
        log = self.server.log_file
        return log.read_text(encoding="utf-8")[-3000:] if log.exists() else "(no log)"


class _repository:
    def __init__(self, locations: Locations) -> None:
        self._repo = Repository.open(locations.database_file("demo"))

    def __enter__(self) -> Repository:
        return self._repo

    def __exit__(self, *exc: object) -> None:
        self._repo.close()


def _server_env(server: Locations, dsn: str, public: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERGAS_", "ANTHROPIC_"))}
    env.update(
        SERGAS_CONFIG_DIR=str(server.config_dir),
        SERGAS_DATA_DIR=str(server.data_dir),
        SERGAS_LOG_DIR=str(server.log_dir),
        SERGAS_CENTRAL__DSN=dsn,
        SERGAS_CENTRAL__DEVICE="link-server",
        SERGAS_NOTIFICATIONS__PUBLIC_URL=public,
        SERGAS_ZOHO__REQUESTS_PER_MINUTE="10000",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


@dataclass
class Sent:
    """The worker's part: the digest sent, its links, the account names it used."""

    dsn: str
    public: str
    port: int
    mailbox: Mailbox
    links: dict[str, Approval]
    accounts: dict[str, str]
    now: datetime


@pytest.fixture
async def sent(tmp_path: Path, postgres_dsn: str) -> AsyncIterator[Sent]:
    """A worker device reviews the AE's accounts and sends their digest to a loopback SMTP
    server; the links point at the port the server will listen on."""
    now = datetime.now(UTC).replace(microsecond=0)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    with central_schema(postgres_dsn) as dsn, smtp_server() as mailbox:
        worker = team_device(
            tmp_path / "worker",
            "worker-1",
            dsn,
            now=now,
            clock=SystemClock(),
            notifications={**notification_settings(mailbox, public), "webhook": False},
        )
        try:
            save_roles(worker)
            await review(worker, AE)
            report = await send_digest(worker, AE)
            assert report.ok, report.text()
            links: dict[str, Approval] = {}
            accounts: dict[str, str] = {}
            store = link_store(worker)
            for url, token in LINK.findall(text_of(mailbox.to(AE)[0])):
                link = store.find(token_hash(token))
                assert link is not None
                approval = worker.store.get_approval(link.approval_id)
                assert approval is not None
                links[url] = approval
                snapshot = worker.store.latest_snapshot(approval.account_id)
                assert snapshot is not None
                accounts[approval.account_id] = str(snapshot.data["Account_Name"])
        finally:
            await worker.aclose()
            worker.close()
        yield Sent(dsn, public, port, mailbox, links, accounts, now)


@pytest.fixture
def world(tmp_path: Path, sent: Sent) -> Iterator[World]:
    """`sergas serve` on the server device (its own copy of the demo org, nothing reviewed)."""
    server = make_device_org(tmp_path / "server", sent.now)
    process = subprocess.Popen(
        [sys.executable, "-m", "sergas_tui", "serve", "--port", str(sent.port)],
        env=_server_env(server, sent.dsn, sent.public),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:

        def up() -> bool:
            if process.poll() is not None:
                _, err = process.communicate()
                pytest.fail(f"sergas serve exited {process.returncode}: {err.decode()}")
            try:
                return httpx.get(f"{sent.public}/healthz", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_for("sergas serve to answer", up)
        yield World(sent.dsn, server, sent.mailbox, sent.links, sent.accounts, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _pick(world: World, *kinds: str) -> tuple[str, Approval]:
    """An approval link of the first of ``kinds`` found (the link's URL and its approval)."""
    for kind in kinds:
        for url, approval in world.links.items():
            if approval.action_type == kind:
                world.links.pop(url)
                return url, approval
    raise AssertionError(f"no {kinds} approval in the digest: {world.links}")


def _account_name(world: World, approval: Approval) -> str:
    return world.accounts[approval.account_id]


_HEADING_SCRIPT = """
if (window.sergasLeft) { return null; }
var title = document.getElementById('title');
return title ? title.innerText.trim() : null;
"""


def _heading(browser: Any) -> str | None:
    """The heading of the page now shown, or None while a page is loading or while the
    page a click is leaving is still on screen.

    One script reads it, so a navigation between finding the element and reading its
    text cannot leave a dangling node; any driver error during a navigation counts as
    "not yet"."""
    from selenium.common.exceptions import WebDriverException

    try:
        text = browser.execute_script(_HEADING_SCRIPT)
    except WebDriverException:
        return None
    return str(text) if text else None


def _open(browser: Any, url: str) -> str:
    """Open ``url`` and return the page's heading once it is shown."""
    browser.get(url)
    return str(wait_for(f"the page {url}", lambda: _heading(browser)))


def _click(browser: Any, element_id: str, then: str) -> str:
    """Click a button and wait until the next page's heading contains ``then``.

    The page being left is marked first, so the old heading is never taken for the new."""
    from selenium.webdriver.common.by import By

    browser.execute_script("window.sergasLeft = true;")
    browser.find_element(By.ID, element_id).click()

    def arrived() -> str | None:
        heading = _heading(browser)
        return heading if heading is not None and then in heading else None

    return str(wait_for(f"a page saying {then!r}", arrived))


def test_approve_via_link_writes_once_and_the_link_then_refuses(browser: Any, world: World) -> None:
    from selenium.webdriver.common.by import By

    url, approval = _pick(world, "create_task", "follow_up_email", "escalation")
    name = _account_name(world, approval)
    assert _open(browser, f"{url}?do=approve") == "Approve this CRM write?"
    assert browser.find_element(By.ID, "account").text == name
    preview = browser.find_element(By.ID, "write").text
    assert f"Account: {name}" in preview
    assert "Write: a new Tasks record on" in preview
    assert "Jordan Avery" in browser.find_element(By.ID, "owner").text
    agent = browser.execute_script("return navigator.userAgent")

    _click(browser, "approve", then="Approved")
    assert "written" in browser.find_element(By.ID, "title").text, world.log_tail()
    done = world.approval(approval.id)
    assert done.status == ApprovalStatus.EXECUTED
    assert done.decided_by == AE
    assert len(world.tasks(approval.id)) == 1, "the approved task is written once"
    [decision] = world.decisions(approval.id)
    assert isinstance(decision.tool_inputs, dict)
    assert decision.tool_inputs["ip"] == "127.0.0.1"
    assert decision.tool_inputs["user_agent"] == agent
    assert decision.tool_inputs["identified_by"] == "link"
    assert decision.decision == "approved"
    used_at, action, ip, used_agent = world.link_row(url)
    assert (action, ip, used_agent) == ("approve", "127.0.0.1", agent)
    assert used_at is not None

    assert _open(browser, f"{url}?do=approve") == "This link was already used"
    assert "approve" in browser.find_element(By.TAG_NAME, "main").text
    assert httpx.get(url).status_code == 410
    assert len(world.tasks(approval.id)) == 1, "a reused link writes nothing"

    url, other = _pick(world, "create_task", "follow_up_email", "add_note", "update_account")
    with psycopg.connect(world.dsn) as conn:
        conn.execute(
            "UPDATE approval_links SET expires_at = now() - interval '1 minute' "
            "WHERE token_hash = %s",
            (token_hash(url.rsplit("/", 1)[1]),),
        )
    assert _open(browser, f"{url}?do=approve") == "This link has expired"
    assert httpx.get(url).status_code == 410
    assert world.approval(other.id).status == ApprovalStatus.PENDING
    assert world.tasks(other.id) == []


def test_reject_and_adjust_via_links(browser: Any, world: World) -> None:
    from selenium.webdriver.common.by import By

    url, rejected = _pick(world, "follow_up_email", "escalation", "add_note", "update_account")
    assert _open(browser, f"{url}?do=reject") == "Reject this CRM write?"
    browser.find_element(By.ID, "reason").send_keys("not this week")
    _click(browser, "reject", then="Rejected")
    stored = world.approval(rejected.id)
    assert stored.status == ApprovalStatus.REJECTED
    assert stored.decision_rationale == "not this week"
    assert world.tasks(rejected.id) == []
    assert world.decisions(rejected.id)[0].tool_inputs["ip"] == "127.0.0.1"  # type: ignore[index,call-overload]

    url, task = _pick(world, "create_task")
    assert _open(browser, f"{url}?do=adjust").startswith("Adjust this CRM write")
    priority = browser.find_element(By.NAME, "f.priority")
    assert priority.is_displayed(), "the adjust form is open"
    priority.clear()
    priority.send_keys("Urgent")
    _click(browser, "save-adjusted", then="Adjust this CRM write")
    errors = browser.find_element(By.ID, "errors").text
    assert "priority" in errors.lower()
    assert "Urgent" in errors
    assert browser.find_element(By.NAME, "f.priority").get_attribute("value") == "Urgent"
    assert world.approval(task.id).status == ApprovalStatus.PENDING, "nothing changed"
    assert world.link_row(url)[0] is None, "the link is not spent"
    assert world.tasks(task.id) == []

    priority = browser.find_element(By.NAME, "f.priority")
    priority.clear()
    priority.send_keys("Low")
    subject = browser.find_element(By.NAME, "f.subject")
    subject.clear()
    subject.send_keys("Call the sponsor about the renewal")
    _click(browser, "save-adjusted", then="Approved with your changes")
    adjusted = world.approval(task.id)
    assert adjusted.status == ApprovalStatus.EXECUTED
    assert adjusted.payload.model_dump()["subject"] == "Call the sponsor about the renewal"
    [written] = world.tasks(task.id)
    assert "Call the sponsor about the renewal" in written
    assert '"Priority": "Low"' in written or "Low" in written
    [decision] = world.decisions(task.id)
    assert decision.decision == "adjusted"
