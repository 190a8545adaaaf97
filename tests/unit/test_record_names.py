"""Names, evidence, links and money as people read them (domain.names, .evidence, .money,
.record_links) and the brief's Markdown filters that use them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import JsonValue

from sergas_tui.briefs.markdown import change_text, mdlink, render_brief
from sergas_tui.domain import (
    Change,
    HistoricalContext,
    HistoryDetails,
    KeyEvent,
    OwnerBrief,
    PriorRecommendation,
    Recommendation,
    RecordRef,
    Snapshot,
)
from sergas_tui.domain.evidence import describe_evidence, describe_ref, memory_descriptions
from sergas_tui.domain.money import currency_code, format_money, record_currency
from sergas_tui.domain.names import CrmUser, RecordNames, short_id
from sergas_tui.domain.outputs import BriefAccount
from sergas_tui.domain.record_links import NO_WEB, WEB_DOMAINS, org_segment, zoho_web

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ACCOUNT = "5725767000001007306"
DEAL = "5725767000001007310"
CLOSED = "5725767000001007311"
CONTACT = "5725767000001007308"
OWNER = "jordan@example.test"
LONG_ID = re.compile(r"\d{15,}")


def snapshot(data: dict[str, Any], account_id: str = ACCOUNT) -> Snapshot:
    return Snapshot(
        account_id=account_id, owner_email=OWNER, taken_at=NOW, content_hash="h", data=data
    )


ATLAS = {
    "Account_Name": "Atlas Farms",
    "Currency": "eur",
    "Deals": {
        DEAL: {
            "Deal_Name": "Atlas Farms – Data Migration",
            "Stage": "Negotiation/Review",
            "Amount": 120_000.0,
            "Closing_Date": "2027-01-30",
        },
        CLOSED: {"Deal_Name": "Atlas Farms – Pilot", "Stage": "Closed Won", "Amount": 5_000.0},
    },
    "Contacts": {
        CONTACT: {"Full_Name": "José Núñez", "Title": "CFO", "role": "Economic Buyer"},
        "5725767000001007309": {"Full_Name": "Rosa Rossi", "role": "Champion"},
    },
}


@pytest.fixture
def names() -> RecordNames:
    built = RecordNames.from_snapshots(
        [snapshot(ATLAS)],
        home_currency="USD",
        web=zoho_web("eu", org_id="74822955"),
        people={"vp_sales": "Ana Costa <ana@example.test>"},
    )
    built.add_users(
        [
            CrmUser("u1", OWNER, "Jordan Avery", manager_id="u2"),
            CrmUser("u2", "jamal@example.test", "Jamal Fischer"),
        ]
    )
    built.add_changes(
        ACCOUNT,
        [
            Change(
                field="Closing_Date",
                old="2026-12-20",
                new="2027-01-30",
                module="Deals",
                record_id=DEAL,
                timestamp=NOW,
            )
        ],
    )
    return built


# -- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (36000, "USD", "USD 36,000"),
        (36000.0, "eur", "EUR 36,000"),
        (1250.5, "GBP", "GBP 1,250.50"),
        (-500, "USD", "USD -500"),
        (0, "JPY", "JPY 0"),
        (None, "USD", "—"),
        ("36000", "USD", "—"),
        (True, "USD", "—"),
        (10, "not a code", "USD 10"),
    ],
)
def test_format_money(amount: object, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


def test_record_currency_falls_back_to_the_home_currency() -> None:
    assert record_currency({"Currency": "chf"}, "USD") == "CHF"
    assert record_currency({"Currency": None}, "EUR") == "EUR"
    assert record_currency(None, "EUR") == "EUR"
    assert currency_code("€") == "USD"


def test_amounts_use_the_record_currency(names: RecordNames) -> None:
    assert names.money(120_000, "Deals", DEAL) == "EUR 120,000"  # inherits the account's
    names.add_snapshot("other", {"Account_Name": "Plain", "Deals": {"d": {"Amount": 10}}})
    assert names.money(10, "Deals", "d") == "USD 10"  # no Currency: the home currency
    assert names.money(10, "Deals", "unknown") == "USD 10"


# -- names ------------------------------------------------------------------------------------


def test_labels_put_the_name_first_and_the_id_short(names: RecordNames) -> None:
    assert names.account(ACCOUNT) == "Atlas Farms (…7306)"
    assert names.label("Deals", DEAL) == "Atlas Farms – Data Migration (…7310)"
    assert names.label("Contacts", CONTACT) == "José Núñez (…7308)"
    assert names.account("5725767000009999999") == "Account …9999"
    assert names.label("Calls", "5725767000001000123") == "Call …0123"
    assert short_id("42") == "42"
    for text in (names.account(ACCOUNT), names.account("5725767000009999999")):
        assert not LONG_ID.search(text)


def test_value_at_stake_counts_open_deals_only(names: RecordNames) -> None:
    assert names.open_deal_value(ACCOUNT) == 120_000.0
    assert names.value_at_stake(ACCOUNT) == "EUR 120,000"
    assert names.value_at_stake("unknown") == "—"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("jose.nunez@atlas.example", "José Núñez <jose.nunez@atlas.example>"),
        ("josenunez@atlas.example", "José Núñez <josenunez@atlas.example>"),
        ("rosa_rossi@atlas.example", "Rosa Rossi <rosa_rossi@atlas.example>"),
        ("j.nunez@atlas.example", "j.nunez@atlas.example"),  # no guessing from initials
        (OWNER, f"Jordan Avery <{OWNER}>"),
        (None, "(recipient to confirm)"),
    ],
)
def test_recipients_are_named_when_the_contact_is_certain(
    names: RecordNames, address: str | None, expected: str
) -> None:
    assert names.recipient(address, ACCOUNT) == expected


def test_two_contacts_with_the_same_name_name_no_one() -> None:
    names = RecordNames()
    twins: dict[str, JsonValue] = {"c1": {"Full_Name": "Sam Lee"}, "c2": {"Full_Name": "Sam Lee"}}
    names.add_snapshot("a", {"Account_Name": "A", "Contacts": twins})
    assert names.recipient("sam.lee@a.example", "a") == "sam.lee@a.example"


def test_escalation_targets_resolve_to_people(names: RecordNames) -> None:
    assert names.person("vp_sales") == "Ana Costa <ana@example.test> (vp sales)"
    assert names.person("sales_manager", OWNER) == (
        "Jamal Fischer <jamal@example.test> (sales manager)"
    )
    assert names.person("sales_manager") == "your sales manager (not named in [zoho] people)"
    assert names.person("jamal@example.test") == "Jamal Fischer <jamal@example.test>"
    assert names.user("stranger@example.test") == "stranger@example.test"


# -- evidence ---------------------------------------------------------------------------------


def test_a_field_reference_shows_the_change_found(names: RecordNames) -> None:
    item = describe_ref(f"zoho:Deals:{DEAL}#Closing_Date", names)
    assert item.text == "Deal 'Atlas Farms – Data Migration' · Closing date 2026-12-20 → 2027-01-30"
    assert item.url == f"https://crm.zoho.eu/crm/org74822955/tab/Potentials/{DEAL}"


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (
            f"zoho:Deals:{DEAL}#Stage",
            "Deal 'Atlas Farms – Data Migration' · Stage now Negotiation/Review",
        ),
        (
            f"zoho:Deals:{DEAL}#Amount",
            "Deal 'Atlas Farms – Data Migration' · Amount now EUR 120,000",
        ),
        (f"zoho:Contacts:{CONTACT}#Contact_Role", "Contact 'José Núñez' · Role now Economic Buyer"),
        (f"zoho:Accounts:{ACCOUNT}#Last_Activity_Time", "Account 'Atlas Farms' · Last activity"),
        (f"zoho:Accounts:{ACCOUNT}", "Account 'Atlas Farms'"),
        ("zoho:Notes:5725767000001000555", "Note …0555"),
        ("zoho:Deals:5725767000009999999", "Deal …9999"),
        ("memory:key_events:84a16eed1234abcd", "Key event from memory (84a16eed)"),
        ("not a reference", "not a reference"),
    ],
)
def test_references_in_words(names: RecordNames, ref: str, text: str) -> None:
    assert describe_ref(ref, names).text == text


def test_notes_and_the_demo_have_no_links(names: RecordNames) -> None:
    assert describe_ref("zoho:Notes:5725767000001000555", names).url is None
    demo = RecordNames.from_snapshots([snapshot(ATLAS)], web=zoho_web("us", demo=True))
    assert describe_ref(f"zoho:Accounts:{ACCOUNT}", demo).url is None


def test_a_record_cited_with_a_field_is_listed_once(names: RecordNames) -> None:
    items = describe_evidence(
        [f"zoho:Deals:{DEAL}", f"zoho:Deals:{DEAL}#Stage", f"zoho:Accounts:{ACCOUNT}"], names
    )
    assert [i.ref for i in items] == [f"zoho:Deals:{DEAL}#Stage", f"zoho:Accounts:{ACCOUNT}"]


def test_memory_items_are_described_from_the_recollection() -> None:
    context = HistoricalContext(
        account_id=ACCOUNT,
        historical_context=HistoryDetails(
            key_events=[
                KeyEvent(date=date(2026, 10, 1), event="Stage moved", impact="positive"),
                KeyEvent(date=date(2026, 9, 1), event="Sponsor left"),
            ],
            commitment_tracking=["Send pricing"],
            prior_recommendations=[
                PriorRecommendation(
                    date=date(2026, 8, 1), recommendation="Call", status="executed", outcome="won"
                )
            ],
        ),
    )
    refs = [
        RecordRef(system="memory", module="key_events", id="e1"),
        RecordRef(system="memory", module="key_events", id="e2"),
        RecordRef(system="memory", module="key_events", id="e3"),  # more refs than items
        RecordRef(system="memory", module="commitments", id="c1"),
        RecordRef(system="memory", module="commitments", id="c2"),  # counts differ: left out
        RecordRef(system="memory", module="recommendations", id="r1"),
    ]
    said = memory_descriptions(context, refs)
    assert said == {
        "memory:key_events:e1": "Key event 2026-10-01: Stage moved (positive)",
        "memory:key_events:e2": "Key event 2026-09-01: Sponsor left",
        "memory:recommendations:r1": "Earlier recommendation 2026-08-01: Call (executed, won)",
    }
    names = RecordNames()
    names.add_memory(said)
    assert describe_ref("memory:key_events:e2", names).text == "Key event 2026-09-01: Sponsor left"


# -- links ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dc", "base"),
    [
        ("us", "https://crm.zoho.com"),
        ("eu", "https://crm.zoho.eu"),
        ("in", "https://crm.zoho.in"),
        ("au", "https://crm.zoho.com.au"),
        ("jp", "https://crm.zoho.jp"),
        ("cn", "https://crm.zoho.com.cn"),
        ("ca", "https://crm.zohocloud.ca"),
        ("sa", "https://crm.zoho.sa"),
    ],
)
def test_links_follow_the_data_centre(dc: str, base: str) -> None:
    web = zoho_web(dc, org_id="org74822955")
    assert web.url("Accounts", ACCOUNT) == f"{base}/crm/org74822955/tab/Accounts/{ACCOUNT}"
    assert web.url("Deals", DEAL) == f"{base}/crm/org74822955/tab/Potentials/{DEAL}"
    assert zoho_web(dc).url("Contacts", CONTACT) == f"{base}/crm/tab/Contacts/{CONTACT}"


def test_links_cover_every_configurable_data_centre() -> None:
    from sergas_tui.config import ZOHO_ACCOUNTS_SERVERS

    assert set(WEB_DOMAINS) == set(ZOHO_ACCOUNTS_SERVERS)


def test_no_links_for_the_demo_odd_ids_or_pageless_modules() -> None:
    assert zoho_web("us", demo=True) == NO_WEB
    assert NO_WEB.url("Accounts", ACCOUNT) is None
    web = zoho_web("us")
    assert web.url("Notes", "1") is None
    assert web.url("Accounts", "../../evil") is None
    assert zoho_web("us", web_url="http://plain.example").url("Accounts", "1") is None
    custom = zoho_web("us", web_url="https://crm.example.com/", org_id="12")
    assert custom.url("Accounts", "1") == "https://crm.example.com/crm/org12/tab/Accounts/1"
    assert org_segment("bogus") is None


# -- the brief --------------------------------------------------------------------------------


def test_brief_filters_name_records_and_link_them(names: RecordNames) -> None:
    change = Change(field="Amount", old=100_000, new=120_000, module="Deals", record_id=DEAL)
    assert change_text(change, ACCOUNT, names) == (
        "Deal 'Atlas Farms – Data Migration' · Amount EUR 100,000 → EUR 120,000"
    )
    item = describe_ref(f"zoho:Deals:{DEAL}#Stage", names)
    assert mdlink(item) == (
        "[Deal 'Atlas Farms – Data Migration' · Stage now Negotiation/Review]"
        f"(<https://crm.zoho.eu/crm/org74822955/tab/Potentials/{DEAL}>)"
    )


def test_rendered_brief_has_names_links_and_no_bare_ids(names: RecordNames) -> None:
    rec = Recommendation.model_validate(
        {
            "type": "escalation",
            "priority": "critical",
            "confidence": "high",
            "rationale": "Closing date pushed.",
            "suggested_action": {"escalate_to": "sales_manager", "reason": "Pushed twice"},
            "data_references": [f"zoho:Deals:{DEAL}#Closing_Date", f"zoho:Accounts:{ACCOUNT}"],
            "account_id": ACCOUNT,
        }
    )
    brief = OwnerBrief(
        owner_email=OWNER,
        generated_at=NOW,
        accounts_reviewed=1,
        high_priority_accounts=1,
        recommendations=[rec],
        accounts=[
            BriefAccount(
                account_id=ACCOUNT,
                account_name="Atlas Farms",
                risk_level="high",
                recommendation_ids=[rec.id],
            )
        ],
    )
    text = render_brief(brief, names=names)
    assert "# Account brief — Jordan Avery \\<jordan@example.test\\>" in text
    assert "Escalation to Jamal Fischer" in text
    assert "Deal 'Atlas Farms – Data Migration' · Closing date 2026-12-20 → 2027-01-30" in text
    assert f"[Atlas Farms](<https://crm.zoho.eu/crm/org74822955/tab/Accounts/{ACCOUNT}>)" in text
    assert "EUR 120,000 in open deals" in text
    assert not LONG_ID.search(re.sub(r"<https://[^>]*>", "", text))
