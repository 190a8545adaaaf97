"""The demo org builder: determinism, Zoho shapes, referential integrity and scenarios."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sergas_tui.demo import HOSTILE_KEYS, SCENARIO_KEYS, TOUCH_KEYS, build_org
from sergas_tui.demo.model import DemoOrg, JsonDict
from sergas_tui.domain.picklists import DEAL_STAGES, OPEN_STAGES, STAGE_PROBABILITY

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ID = re.compile(r"^\d{18,19}$")
ACTIVITY_MODULES = ("Tasks", "Events", "Calls")


class Org:
    """Index over a built org so tests can follow lookups."""

    def __init__(self, org: DemoOrg) -> None:
        self.org = org
        self.by_module: dict[str, list[JsonDict]] = defaultdict(list)
        self.by_id: dict[tuple[str, str], JsonDict] = {}
        self.account_of: dict[tuple[str, str], str | None] = {}
        for row in org.records:
            self.by_module[row.module].append(row.data)
            self.by_id[(row.module, row.id)] = row.data
            self.account_of[(row.module, row.id)] = row.account_id
        self.scenarios = {s.key: s for s in org.scenarios}

    def get(self, module: str, record_id: str) -> JsonDict:
        return self.by_id[(module, record_id)]

    def of_account(self, module: str, account_id: str) -> list[JsonDict]:
        return [
            r for r in self.by_module[module] if self.account_of[(module, r["id"])] == account_id
        ]

    def scenario_account(self, key: str) -> JsonDict:
        return self.get("Accounts", self.scenarios[key].account_id)

    def timeline(self, module: str, record_id: str) -> list[JsonDict]:
        entries = [
            t.entry for t in self.org.timeline if (t.module, t.record_id) == (module, record_id)
        ]
        return sorted(entries, key=lambda e: e["audited_time"])

    def stage_history(self, deal_id: str) -> list[JsonDict]:
        rows = [r for r in self.by_module["Stage_History"] if r["$deal_id"] == deal_id]
        return sorted(rows, key=lambda r: r["Modified_Time"])


def dump(org: DemoOrg) -> list[str]:
    rows = [
        json.dumps([r.module, r.id, r.account_id, r.owner_id, r.data], sort_keys=True)
        for r in org.records
    ]
    rows += [json.dumps([t.module, t.record_id, t.entry], sort_keys=True) for t in org.timeline]
    rows += [repr(s) for s in org.scenarios]
    return [*rows, repr(org.info)]


def when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def changes(entries: list[JsonDict], api_name: str) -> list[dict[str, Any]]:
    return [
        {"at": when(e["audited_time"]), **f["_value"]}
        for e in entries
        for f in e["field_history"] or []
        if f["api_name"] == api_name
    ]


@pytest.fixture(scope="module")
def org() -> Org:
    return Org(build_org(accounts=300, owners=6, seed=7, now=NOW))


def test_same_inputs_give_identical_orgs() -> None:
    first = build_org(accounts=120, owners=4, seed=11, now=NOW)
    second = build_org(accounts=120, owners=4, seed=11, now=NOW)
    assert dump(first) == dump(second)


def test_different_seed_gives_different_org() -> None:
    first = build_org(accounts=120, owners=4, seed=11, now=NOW)
    other = build_org(accounts=120, owners=4, seed=12, now=NOW)
    assert dump(first) != dump(other)


def test_generated_at_is_the_anchor_not_wall_time() -> None:
    info = build_org(accounts=20, owners=2, now=NOW + timedelta(microseconds=5)).info
    assert info.generated_at == info.anchor == NOW


def test_rejects_naive_now_and_too_few_accounts() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_org(accounts=100, owners=2, now=datetime(2026, 11, 2))
    with pytest.raises(ValueError, match="at least"):
        build_org(accounts=5, owners=2, now=NOW)


def test_single_owner_owns_everything() -> None:
    built = Org(build_org(accounts=20, owners=1, now=NOW))
    (me,) = built.by_module["Users"]
    assert me["reporting_to"] is None
    assert all(a["Owner"]["id"] == me["id"] for a in built.by_module["Accounts"])


def test_counts_and_ownership(org: Org) -> None:
    info = org.org.info
    assert len(org.by_module["Accounts"]) == 300
    assert len(org.by_module["Users"]) == 6
    mine = [a for a in org.by_module["Accounts"] if a["Owner"]["id"] == info.current_user_id]
    assert len(mine) == 50
    names = [a["Account_Name"] for a in org.by_module["Accounts"]]
    assert len(set(names)) == len(names)
    for module in ("Contacts", "Deals", "Stage_History", "Tasks", "Events", "Calls", "Notes"):
        assert org.by_module[module], module


def test_users(org: Org) -> None:
    users = org.by_module["Users"]
    me = users[0]
    assert me["id"] == org.org.info.current_user_id
    assert me["email"] == org.org.info.current_user_email
    managers = {u["id"] for u in users if u["role"]["name"] == "Sales Manager"}
    assert len(managers) == 1
    for user in users:
        assert user["email"].endswith("@demo.sergas.test")
        assert user["status"] == "active"
        assert set(user["profile"]) == {"name", "id"}
        if user["id"] not in managers:
            assert user["reporting_to"]["id"] in managers
    assert len({u["email"] for u in users}) == len(users)


def test_ids_are_zoho_numeric_strings_and_unique(org: Org) -> None:
    seen = set()
    for row in org.org.records:
        assert ID.match(row.id), row.id
        assert row.id == row.data["id"]
        assert row.id not in seen
        seen.add(row.id)


def test_datetimes_and_dates_parse_and_are_not_in_the_future(org: Org) -> None:
    for row in org.org.records:
        for key, value in row.data.items():
            if value is None:
                continue
            if key.endswith(("_Time", "_DateTime")) or key == "created_time":
                moment = when(value)
                if key not in {"Start_DateTime", "End_DateTime"}:
                    assert moment <= NOW, (row.module, key, value)
            elif key in {"Closing_Date", "Close_Date", "Due_Date", "Date_of_Birth"}:
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
                date.fromisoformat(value)
        if "Created_Time" in row.data:
            assert row.data["Created_Time"] <= row.data["Modified_Time"], row.id


def test_owner_shapes(org: Org) -> None:
    users = {u["id"]: u for u in org.by_module["Users"]}
    for row in org.org.records:
        for key in ("Owner", "Created_By", "Modified_By"):
            if key in row.data:
                ref = row.data[key]
                assert set(ref) == {"name", "id", "email"}, (row.module, key)
                assert users[ref["id"]]["full_name"] == ref["name"]
                assert users[ref["id"]]["email"] == ref["email"]
        if row.module not in {"Users", "Stage_History"}:
            assert row.owner_id == row.data["Owner"]["id"]


def _resolve(org: Org, module: str, ref: JsonDict, name_key: str) -> JsonDict:
    target = org.get(module, ref["id"])
    assert set(ref) >= {"name", "id"}
    assert target[name_key] == ref["name"]
    return target


def test_every_lookup_points_at_a_real_record(org: Org) -> None:
    names = {"Accounts": "Account_Name", "Deals": "Deal_Name", "Contacts": "Full_Name"}
    for contact in org.by_module["Contacts"]:
        account = _resolve(org, "Accounts", contact["Account_Name"], "Account_Name")
        assert org.account_of[("Contacts", contact["id"])] == account["id"]
    for account in org.by_module["Accounts"]:
        if account.get("Parent_Account"):
            _resolve(org, "Accounts", account["Parent_Account"], "Account_Name")
    for deal in org.by_module["Deals"]:
        account = _resolve(org, "Accounts", deal["Account_Name"], "Account_Name")
        if deal.get("Contact_Name"):
            contact = _resolve(org, "Contacts", deal["Contact_Name"], "Full_Name")
            assert contact["Account_Name"]["id"] == account["id"]
    for row in org.by_module["Stage_History"]:
        deal = org.get("Deals", row["$deal_id"])
        assert org.account_of[("Stage_History", row["id"])] == deal["Account_Name"]["id"]
    for module in ACTIVITY_MODULES:
        for activity in org.by_module[module]:
            se_module = activity["$se_module"]
            target = _resolve(org, se_module, activity["What_Id"], names[se_module])
            account_id = target["id"] if se_module == "Accounts" else target["Account_Name"]["id"]
            assert org.account_of[(module, activity["id"])] == account_id
            if activity.get("Who_Id"):
                who = _resolve(org, "Contacts", activity["Who_Id"], "Full_Name")
                assert who["Account_Name"]["id"] == account_id
            for participant in activity.get("Participants", []):
                assert org.get("Contacts", participant["participant"])
    for note in org.by_module["Notes"]:
        parent = note["Parent_Id"]
        module = parent["module"]["api_name"]
        _resolve(org, module, parent, names[module])


def test_last_activity_time_is_the_latest_activity(org: Org) -> None:
    latest: dict[str, str] = {}
    for module in ACTIVITY_MODULES:
        for activity in org.by_module[module]:
            stamp = activity["Modified_Time"]
            targets = [org.account_of[(module, activity["id"])]]
            if activity["$se_module"] == "Deals":
                targets.append(activity["What_Id"]["id"])
            for target in targets:
                assert target is not None
                latest[target] = max(latest.get(target, ""), stamp)
    for account in org.by_module["Accounts"]:
        assert account["Last_Activity_Time"] == latest[account["id"]], account["Account_Name"]
    for deal in org.by_module["Deals"]:
        assert deal["Last_Activity_Time"] == latest.get(deal["id"])


def test_stage_history_matches_deal_and_timeline(org: Org) -> None:
    for deal in org.by_module["Deals"]:
        rows = org.stage_history(deal["id"])
        assert rows
        assert rows[-1]["Stage"] == deal["Stage"]
        assert deal["Probability"] == STAGE_PROBABILITY[deal["Stage"]]
        assert rows[0]["Modified_Time"] == deal["Created_Time"]
        for row, following in itertools.pairwise(rows):
            days = (when(following["Modified_Time"]) - when(row["Modified_Time"])).days
            assert row["Duration"] == days
        assert rows[-1]["Duration"] is None
        stage_moves = changes(org.timeline("Deals", deal["id"]), "Stage")
        assert [m["new"] for m in stage_moves] == [r["Stage"] for r in rows[1:]]
        assert [m["at"] for m in stage_moves] == [when(r["Modified_Time"]) for r in rows[1:]]
        assert all(stage in DEAL_STAGES for stage in (r["Stage"] for r in rows))


def test_portfolio_mixes_healthy_and_at_risk_accounts(org: Org) -> None:
    ages = [NOW - when(a["Last_Activity_Time"]) for a in org.by_module["Accounts"]]
    assert sum(age <= timedelta(days=7) for age in ages) > 60
    assert sum(age >= timedelta(days=30) for age in ages) > 15
    open_deals = [d for d in org.by_module["Deals"] if d["Stage"] in OPEN_STAGES]
    won = [d for d in org.by_module["Deals"] if d["Stage"] == "Closed Won"]
    assert len(open_deals) > 100
    assert len(won) > 30
    sensitive = [a for a in org.by_module["Accounts"] if "Tax_ID" in a and "Bank_Account" in a]
    assert sensitive
    assert any("Personal_Email" in c and "Home_Address" in c for c in org.by_module["Contacts"])


def test_emails_and_sites_use_reserved_domains(org: Org) -> None:
    for contact in org.by_module["Contacts"]:
        for key in ("Email", "Personal_Email"):
            if contact.get(key):
                assert contact[key].endswith((".example", ".test")), contact[key]
    for account in org.by_module["Accounts"]:
        if account.get("Website"):
            assert re.fullmatch(r"https://www\.[a-z0-9-]+\.example", account["Website"])


def test_every_scenario_is_present_and_owned_by_the_local_user(org: Org) -> None:
    assert list(org.scenarios) == [*SCENARIO_KEYS, *HOSTILE_KEYS, *TOUCH_KEYS]
    for key, scenario in org.scenarios.items():
        account = org.scenario_account(key)
        assert account["Owner"]["id"] == org.org.info.current_user_id
        assert scenario.title
        assert scenario.description
        assert None not in scenario.expected_signals
    signals = {k: s.expected_signals for k, s in org.scenarios.items()}
    assert signals["stalled_negotiation"] == ("stalled_in_stage",)
    assert signals["exec_sponsor_changed"] == ("executive_sponsor_change",)
    assert signals["no_activity_35d"] == ("no_activity_critical",)
    assert signals["close_date_pushed_twice"] == ("close_date_pushed",)
    assert signals["amount_cut"] == ("amount_decreased",)
    assert signals["single_threaded"] == ("single_threaded",)
    assert signals["renewal_declining_sentiment"] == ("renewal_declining_sentiment",)
    assert signals["healthy_expansion"] == ()
    assert signals["own_task_only"] == ("no_activity_critical",)
    assert signals["deal_won_recently"] == ()
    assert signals["stage_move_recently"] == ()
    assert signals["completed_call_recently"] == ()


def _open_deal(org: Org, key: str) -> JsonDict:
    account = org.scenario_account(key)
    deals = [d for d in org.of_account("Deals", account["id"]) if d["Stage"] in OPEN_STAGES]
    assert len(deals) == 1
    return deals[0]


def _activities(org: Org, account_id: str) -> list[JsonDict]:
    return [a for m in ACTIVITY_MODULES for a in org.of_account(m, account_id)]


def test_stalled_negotiation(org: Org) -> None:
    deal = _open_deal(org, "stalled_negotiation")
    last = org.stage_history(deal["id"])[-1]
    assert last["Stage"] == deal["Stage"] == "Negotiation/Review"
    assert when(last["Modified_Time"]) == NOW - timedelta(days=45)
    assert last["Duration"] is None
    account = org.scenario_account("stalled_negotiation")
    assert NOW - when(account["Last_Activity_Time"]) <= timedelta(days=7)


def test_exec_sponsor_changed(org: Org) -> None:
    account = org.scenario_account("exec_sponsor_changed")
    contacts = org.of_account("Contacts", account["id"])
    sponsors = [c for c in contacts if c["Contact_Role"] == "Executive Sponsor"]
    assert len(sponsors) == 1
    changed_at = NOW - timedelta(days=20)
    assert when(sponsors[0]["Created_Time"]) == changed_at
    role_changes = [
        (c, change)
        for c in contacts
        for change in changes(org.timeline("Contacts", c["id"]), "Contact_Role")
    ]
    assert len(role_changes) == 1
    old_sponsor, change = role_changes[0]
    assert change["old"] == "Executive Sponsor"
    assert change["new"] == old_sponsor["Contact_Role"]
    assert change["at"] == changed_at
    added = [e for e in org.timeline("Accounts", account["id"]) if e["related_record"]]
    assert added[0]["related_record"]["id"] == sponsors[0]["id"]
    notes = org.of_account("Notes", account["id"])
    mention = [n for n in notes if "executive sponsor" in n["Note_Content"].lower()]
    assert mention
    assert when(mention[0]["Created_Time"]) == changed_at


def test_no_activity_35d(org: Org) -> None:
    account = org.scenario_account("no_activity_35d")
    assert when(account["Last_Activity_Time"]) == NOW - timedelta(days=35)
    for record in [*_activities(org, account["id"]), *org.of_account("Notes", account["id"])]:
        assert when(record["Modified_Time"]) <= NOW - timedelta(days=35)


def test_close_date_pushed_twice(org: Org) -> None:
    deal = _open_deal(org, "close_date_pushed_twice")
    pushes = changes(org.timeline("Deals", deal["id"]), "Closing_Date")
    assert len(pushes) == 2
    assert all(date.fromisoformat(p["new"]) > date.fromisoformat(p["old"]) for p in pushes)
    assert pushes[1]["old"] == pushes[0]["new"]
    assert pushes[1]["new"] == deal["Closing_Date"]
    rows = org.stage_history(deal["id"])
    assert rows[0]["Close_Date"] == pushes[0]["old"]
    assert rows[-1]["Close_Date"] == pushes[0]["new"]


def test_amount_cut(org: Org) -> None:
    deal = _open_deal(org, "amount_cut")
    cuts = changes(org.timeline("Deals", deal["id"]), "Amount")
    assert len(cuts) == 1
    assert cuts[0]["new"] < cuts[0]["old"]
    assert deal["Amount"] == cuts[0]["new"] == 210_000
    rows = org.stage_history(deal["id"])
    assert rows[-1]["Amount"] < rows[-2]["Amount"]
    assert rows[-1]["Expected_Revenue"] == 210_000 * rows[-1]["Probability"] / 100


def test_single_threaded(org: Org) -> None:
    account = org.scenario_account("single_threaded")
    (contact,) = org.of_account("Contacts", account["id"])
    deal = _open_deal(org, "single_threaded")
    assert deal["Amount"] >= 500_000
    activities = _activities(org, account["id"])
    assert len(activities) >= 4
    for activity in activities:
        assert activity["Who_Id"]["id"] == contact["id"]
        for participant in activity.get("Participants", []):
            assert participant["participant"] == contact["id"]


def test_renewal_declining_sentiment(org: Org) -> None:
    account = org.scenario_account("renewal_declining_sentiment")
    deal = _open_deal(org, "renewal_declining_sentiment")
    assert deal["Type"] == "Renewal"
    assert date.fromisoformat(deal["Closing_Date"]) == (NOW + timedelta(days=60)).date()
    notes = sorted(org.of_account("Notes", account["id"]), key=lambda n: n["Created_Time"])
    assert len(notes) >= 5
    assert when(notes[-1]["Created_Time"]) - when(notes[0]["Created_Time"]) >= timedelta(days=120)
    assert "great" in notes[0]["Note_Content"].lower()
    assert "risk" in notes[-1]["Note_Content"].lower()


def test_healthy_expansion(org: Org) -> None:
    account = org.scenario_account("healthy_expansion")
    assert NOW - when(account["Last_Activity_Time"]) <= timedelta(days=3)
    deal = _open_deal(org, "healthy_expansion")
    assert deal["Next_Step"]
    assert date.fromisoformat(deal["Closing_Date"]) > NOW.date()
    timeline = org.timeline("Deals", deal["id"])
    assert not changes(timeline, "Closing_Date")
    assert not changes(timeline, "Amount")
    recent = [
        a
        for a in _activities(org, account["id"])
        if NOW - when(a["Modified_Time"]) <= timedelta(days=30)
    ]
    engaged = {p["participant"] for a in recent for p in a.get("Participants", [])}
    engaged |= {a["Who_Id"]["id"] for a in recent if a.get("Who_Id")}
    assert len(engaged) >= 4
    assert len(org.of_account("Contacts", account["id"])) >= 4


def test_own_task_only(org: Org) -> None:
    account = org.scenario_account("own_task_only")
    # Zoho's stamp follows Sergas's own open task (2 days ago); the account was edited after.
    assert when(account["Last_Activity_Time"]) == NOW - timedelta(days=2)
    assert when(account["Modified_Time"]) == NOW - timedelta(days=1)
    tasks = org.of_account("Tasks", account["id"])
    (ours,) = [t for t in tasks if "[sergas:" in (t["Description"] or "")]
    assert ours["Status"] == "Not Started"
    assert ours["Closed_Time"] is None
    calls = sorted(org.of_account("Calls", account["id"]), key=lambda c: c["Modified_Time"])
    assert [c["Call_Result"] for c in calls] == ["Interested", "No response/Busy"]
    assert when(calls[0]["Modified_Time"]) == NOW - timedelta(days=40)
    for deal in org.of_account("Deals", account["id"]):
        assert deal["Stage"] == "Closed Won"
        assert date.fromisoformat(deal["Closing_Date"]) <= (NOW - timedelta(days=300)).date()


def test_deal_won_recently(org: Org) -> None:
    account = org.scenario_account("deal_won_recently")
    (deal,) = org.of_account("Deals", account["id"])
    assert deal["Stage"] == "Closed Won"
    assert date.fromisoformat(deal["Closing_Date"]) == (NOW - timedelta(days=12)).date()
    assert org.stage_history(deal["id"])[-1]["Stage"] == "Closed Won"
    assert when(account["Last_Activity_Time"]) == NOW - timedelta(days=50)


def test_stage_move_recently(org: Org) -> None:
    account = org.scenario_account("stage_move_recently")
    deal = _open_deal(org, "stage_move_recently")
    rows = org.stage_history(deal["id"])
    assert [r["Stage"] for r in rows] == ["Qualification", "Needs Analysis"]
    assert when(rows[-1]["Modified_Time"]) == NOW - timedelta(days=6)
    assert when(account["Last_Activity_Time"]) == NOW - timedelta(days=45)


def test_completed_call_recently(org: Org) -> None:
    account = org.scenario_account("completed_call_recently")
    assert when(account["Last_Activity_Time"]) == NOW - timedelta(days=3)
    (task,) = org.of_account("Tasks", account["id"])
    assert task["Status"] == "In Progress"
    assert date.fromisoformat(task["Due_Date"]) < NOW.date()


def test_quiet_scenarios_come_last_and_change_nothing_before_them() -> None:
    built = build_org(accounts=100, owners=1, seed=7, now=NOW)
    accounts = [r for r in built.records if r.module == "Accounts"]
    keyed = {s.key: s.account_id for s in built.scenarios}
    assert [a.id for a in accounts[-len(TOUCH_KEYS) :]] == [keyed[k] for k in TOUCH_KEYS]
    assert len(accounts) == 100


def _notes_text(org: Org, key: str) -> list[str]:
    account = org.scenario_account(key)
    return [n.get("Note_Content") or "" for n in org.of_account("Notes", account["id"])]


def test_hostile_markup_and_ansi_are_stored_verbatim(org: Org) -> None:
    markup = _notes_text(org, "hostile_markup")
    assert any("[bold red]URGENT[/bold red]" in t for t in markup)
    assert any("[link=https://evil.example]click[/link]" in t for t in markup)
    assert "[bold]" in org.scenario_account("hostile_markup")["Account_Name"]
    ansi = _notes_text(org, "hostile_ansi")
    for sequence in ("\x1b[31m", "\x1b]0;title\x07", "\x1b[2J"):
        assert any(sequence in t for t in ansi), repr(sequence)


def test_hostile_injection_and_huge_note(org: Org) -> None:
    injection = _notes_text(org, "hostile_injection")
    assert any(t.startswith("Ignore all previous instructions") for t in injection)
    assert any("'Shutdown'" in t for t in injection)
    huge = max(_notes_text(org, "hostile_huge_note"), key=len)
    assert len(huge) >= 1_048_576


def test_hostile_unicode(org: Org) -> None:
    name = org.scenario_account("hostile_unicode")["Account_Name"]
    assert re.search("[\u0600-\u06ff]", name)
    assert re.search("[\u0590-\u05ff]", name)
    assert "🚀" in name
    assert "\u0337" in name
    notes = " ".join(_notes_text(org, "hostile_unicode"))
    assert "\u202e" in notes
    assert "\u0301" in notes
    assert "👨‍👩‍👧‍👦" in notes


def test_hostile_sparse_fields_are_absent_not_null(org: Org) -> None:
    account = org.scenario_account("hostile_sparse")
    for key in ("Phone", "Industry", "Website", "Rating", "Annual_Revenue"):
        assert key not in account
    contacts = org.of_account("Contacts", account["id"])
    assert any("Email" not in c and "Contact_Role" not in c for c in contacts)
    (deal,) = org.of_account("Deals", account["id"])
    assert "Amount" not in deal
    assert "Closing_Date" not in deal
    notes = org.of_account("Notes", account["id"])
    assert any("Note_Title" not in n for n in notes)
    assert any("Note_Content" not in n for n in notes)
    tasks = org.of_account("Tasks", account["id"])
    assert any("Due_Date" not in t for t in tasks)
