"""Field metadata: Zoho's JSON → ModuleFields, the value checks, the Rating policy decision, the
cache's rules and the executor's refusal, all without a CRM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sergas_tui.agents.author.rules import AuthorPolicy, rating_writes
from sergas_tui.agents.rating_guard import RatingGuard
from sergas_tui.approvals.write_plan import refusal_of
from sergas_tui.crm.gateway import fields_or_unknown
from sergas_tui.crm.metadata_cache import CachedFields, FieldsCache, cached_state
from sergas_tui.crm.scopes import required_scopes
from sergas_tui.crm.simulator.metadata_json import module_fields
from sergas_tui.domain.metadata import (
    FieldMeta,
    ModuleFields,
    check_value,
    module_fields_from_zoho,
)
from sergas_tui.errors import CrmAuthError, CrmConnectionError, CrmError
from tests.fakes.fake_gateway import FakeGateway
from tests.unit.author_kit import (
    DEAL,
    author,
    context,
    field,
    make_facts,
    signal,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

# The shape /settings/fields answers (the simulator's, after Zoho's SDK), trimmed.
BODY: dict[str, Any] = {
    "fields": [
        {
            "api_name": "Rating",
            "field_label": "Rating",
            "data_type": "picklist",
            "json_type": "string",
            "system_mandatory": False,
            "read_only": False,
            "custom_field": False,
            "lookup": {},
            "pick_list_values": [
                {"display_value": "-None-", "actual_value": "-None-", "type": "used"},
                {"display_value": "Active", "actual_value": "Active", "type": "used"},
                {"display_value": "At risk!", "actual_value": "At Risk", "type": "used"},
                {"display_value": "Old", "actual_value": "Old", "type": "unused"},
            ],
        },
        {
            "api_name": "Account_Name",
            "field_label": "Account Name",
            "data_type": "text",
            "system_mandatory": True,
            "read_only": False,
            "pick_list_values": [],
        },
        {
            "api_name": "Parent_Account",
            "field_label": "Parent Account",
            "data_type": "lookup",
            "lookup": {"module": {"api_name": "Accounts", "id": "1"}},
        },
        {"api_name": "Tax_ID", "data_type": "text", "custom_field": True},
        {"api_name": "Created_Time", "data_type": "datetime", "field_read_only": True},
        {"field_label": "no api name: skipped"},
        "not an object",
    ]
}


def fields_with(rating: FieldMeta | None) -> ModuleFields:
    name = FieldMeta(api_name="Account_Name", label="Account Name", data_type="text")
    return ModuleFields(
        module="Accounts", fields=(name, rating) if rating else (name,), fetched_at=NOW
    )


RATING = FieldMeta(
    api_name="Rating",
    label="Rating",
    data_type="picklist",
    picklist=("Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down", "At Risk"),
)
WITH_AT_RISK = fields_with(RATING)
assert RATING.picklist is not None
WITHOUT_AT_RISK = fields_with(RATING.model_copy(update={"picklist": RATING.picklist[:5]}))
READ_ONLY = fields_with(RATING.model_copy(update={"read_only": True}))
NO_RATING = fields_with(None)
UNKNOWN = ModuleFields.unknown_for("Accounts", "CRM sign-in failed: the token lacks the scope")
POLICY = AuthorPolicy(at_risk_rating="At Risk")


# --- conversion ------------------------------------------------------------------------------


def test_zoho_json_becomes_module_fields() -> None:
    converted = module_fields_from_zoho("Accounts", BODY, fetched_at=NOW)
    assert converted.known
    assert converted.fetched_at == NOW
    assert [f.api_name for f in converted.fields] == [
        "Rating",
        "Account_Name",
        "Parent_Account",
        "Tax_ID",
        "Created_Time",
    ]
    rating = converted.field("rating")  # Zoho's API names are case-insensitive
    assert rating is not None
    # Actual values, in Zoho's order, without -None- and without unused values.
    assert rating.picklist == ("Active", "At Risk")
    assert rating.is_picklist
    assert not rating.read_only
    name = converted.field("Account_Name")
    assert name is not None
    assert (name.label, name.mandatory, name.picklist) == ("Account Name", True, None)
    parent = converted.field("Parent_Account")
    assert parent is not None
    assert parent.lookup_module == "Accounts"
    tax = converted.field("Tax_ID")
    assert tax is not None
    assert tax.custom
    assert tax.label == "Tax_ID"
    created = converted.field("Created_Time")
    assert created is not None
    assert created.read_only
    assert module_fields_from_zoho("Accounts", None).fields == ()
    assert module_fields_from_zoho("Accounts", {"fields": "odd"}).fields == ()


def test_the_simulators_accounts_metadata_converts_with_the_demo_value() -> None:
    converted = module_fields_from_zoho("Accounts", {"fields": module_fields("Accounts")})
    rating = converted.field("Rating")
    assert rating is not None
    assert rating.picklist is not None
    assert "At Risk" in rating.picklist
    assert "Active" in rating.picklist
    assert "-None-" not in rating.picklist
    modified = converted.field("Modified_Time")
    assert modified is not None
    assert modified.read_only


def test_module_fields_round_trip_as_json() -> None:
    dumped = json.loads(WITH_AT_RISK.model_dump_json())
    assert ModuleFields.model_validate(dumped) == WITH_AT_RISK


# --- may a value be written? ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "name", "value", "verdict"),
    [
        (WITH_AT_RISK, "Rating", "At Risk", "ok"),
        (WITHOUT_AT_RISK, "Rating", "At Risk", "not_in_picklist"),
        (WITHOUT_AT_RISK, "Rating", None, "ok"),  # clearing a picklist
        (WITHOUT_AT_RISK, "Rating", "-None-", "ok"),
        (WITHOUT_AT_RISK, "Rating", 3, "not_in_picklist"),
        (READ_ONLY, "Rating", "Active", "read_only"),
        (NO_RATING, "Rating", "Active", "no_field"),
        (WITH_AT_RISK, "Account_Name", "Anything at all", "ok"),
        (UNKNOWN, "Rating", "At Risk", "unknown"),
    ],
)
def test_check_value(fields: ModuleFields, name: str, value: Any, verdict: str) -> None:
    assert check_value(fields, name, value).verdict == verdict


def test_a_value_missing_from_the_picklist_is_named_with_the_values() -> None:
    check = check_value(WITHOUT_AT_RISK, "Rating", "At Risk")
    assert check.reason == (
        "'At Risk' is not a value of the org's Accounts Rating picklist (Acquired, Active, "
        "Market Failed, Project Cancelled, Shut Down)"
    )
    multi = fields_with(RATING.model_copy(update={"data_type": "multiselectpicklist"}))
    assert check_value(multi, "Rating", ["Active", "At Risk"]).ok
    assert "'Nope'" in check_value(multi, "Rating", ["Active", "Nope"]).reason


def test_long_picklists_are_cut_in_sentences() -> None:
    many = fields_with(RATING.model_copy(update={"picklist": tuple(f"V{i}" for i in range(20))}))
    assert "(V0, V1, V2, V3, V4, V5, … 20 in all)" in check_value(many, "Rating", "X").reason


# --- the policy decision ------------------------------------------------------------------------


def test_rating_writes_when_the_org_has_the_value() -> None:
    decision = rating_writes(WITH_AT_RISK, POLICY)
    assert decision.allowed == {"At Risk", "Active"}
    assert decision.ok
    assert decision.notes == (
        "[review] at_risk_rating 'At Risk' is a value the org's Accounts Rating picklist "
        "takes: Rating updates are proposed.",
    )


def test_rating_writes_when_the_org_lacks_the_value() -> None:
    decision = rating_writes(WITHOUT_AT_RISK, POLICY)
    assert decision.allowed == {"Active"}  # the way back is still a value the org has
    assert not decision.ok
    assert decision.notes[0] == (
        "[review] at_risk_rating 'At Risk' is not a value of the org's Accounts Rating "
        "picklist (Acquired, Active, Market Failed, Project Cancelled, Shut Down): no Rating "
        "updates are proposed."
    )
    no_way_back = rating_writes(
        WITH_AT_RISK, AuthorPolicy(at_risk_rating="At Risk", recovered_rating="Fine")
    )
    assert no_way_back.allowed == {"At Risk"}
    assert "The recovered Rating 'Fine' is not a value" in no_way_back.notes[-1]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (READ_ONLY, "The org's Accounts Rating field is read-only: no Rating updates"),
        (NO_RATING, "The org's Accounts module has no field Rating: no Rating updates"),
    ],
)
def test_rating_writes_when_the_field_is_read_only_or_missing(
    fields: ModuleFields, words: str
) -> None:
    decision = rating_writes(fields, POLICY)
    assert decision.allowed == frozenset()
    assert words in decision.notes[0]


def test_rating_writes_without_metadata_trust_only_the_demo_values() -> None:
    careful = rating_writes(UNKNOWN, POLICY)
    assert careful.allowed == frozenset()
    assert "no Rating updates are proposed until it can be read" in careful.notes[0]
    assert "the token lacks the scope" in careful.notes[0]
    demo = rating_writes(UNKNOWN, POLICY, trusted=frozenset({"At Risk", "Active"}))
    assert demo.allowed == {"At Risk", "Active"}
    assert "proposed unchecked, as the demo org's own values" in demo.notes[0]
    other = AuthorPolicy(at_risk_rating="Nonexistent")
    assert rating_writes(UNKNOWN, other, trusted=frozenset({"At Risk", "Active"})).allowed == {
        "Active"
    }
    unset = rating_writes(WITH_AT_RISK, AuthorPolicy())
    assert unset.allowed == frozenset()
    assert unset.notes == ("[review] at_risk_rating is not set: no Rating updates are proposed.",)


def _rating_updates(
    policy: AuthorPolicy, rating: str = "Active", *, calm: bool = False
) -> list[Any]:
    sigs = [] if calm else [signal("close_date_pushed", "high", [field(DEAL, "Closing_Date")])]
    recs = author(policy).proposals(make_facts(sigs, rating=rating), context())
    return [r for r in recs if r.type == "update_account"]


@pytest.mark.parametrize(
    ("fields", "trusted", "proposed"),
    [
        (WITH_AT_RISK, frozenset(), True),
        (WITHOUT_AT_RISK, frozenset(), False),
        (READ_ONLY, frozenset(), False),
        (NO_RATING, frozenset(), False),
        (UNKNOWN, frozenset(), False),
        (UNKNOWN, frozenset({"At Risk", "Active"}), True),
    ],
)
def test_the_author_proposes_only_values_the_org_has(
    fields: ModuleFields, trusted: frozenset[str], proposed: bool
) -> None:
    allowed = rating_writes(fields, POLICY, trusted=trusted).allowed
    policy = AuthorPolicy(at_risk_rating="At Risk", rating_values=allowed)
    assert bool(_rating_updates(policy)) is proposed
    # The way back to "Active" needs "Active" in the picklist, and a writable field.
    restores = _rating_updates(policy, rating="At Risk", calm=True)
    assert bool(restores) is ("Active" in allowed)
    if proposed:
        change = _rating_updates(policy)[0].suggested_action.field_changes[0]
        assert change.new == "At Risk"


async def test_the_guard_narrows_the_policy_and_falls_back_without_metadata() -> None:
    fake = FakeGateway.seeded()
    fake.fields["Accounts"] = WITHOUT_AT_RISK
    narrowed = await RatingGuard(fake).narrow(POLICY)
    assert narrowed.rating_values == frozenset({"Active"})
    assert narrowed.at_risk_rating == "At Risk"
    fake.fields_error = CrmAuthError("lacks ZohoCRM.settings.fields.READ", status_code=401)
    guard = RatingGuard(fake, trusted=frozenset({"At Risk", "Active"}))
    assert (await guard.narrow(POLICY)).rating_values == frozenset({"At Risk", "Active"})
    assert guard.last is not None
    assert "lacks ZohoCRM.settings.fields.READ" in guard.last.notes[0]
    assert (await RatingGuard(fake).narrow(POLICY)).rating_values == frozenset()
    calls = fake.fields_calls
    assert await RatingGuard(fake).narrow(AuthorPolicy()) == AuthorPolicy()  # nothing to check
    assert fake.fields_calls == calls


async def test_fields_or_unknown_never_raises_a_crm_error() -> None:
    fake = FakeGateway.seeded()
    fake.fields_error = CrmConnectionError("Zoho is unreachable")
    unknown = await fields_or_unknown(fake, "Accounts")
    assert not unknown.known
    assert unknown.unknown == "Cannot reach the CRM: Zoho is unreachable"


# --- the executor's refusal ---------------------------------------------------------------------


def test_the_executor_refuses_values_the_org_lacks() -> None:
    assert refusal_of(WITH_AT_RISK, {"Rating": "At Risk"}) is None
    assert refusal_of(WITH_AT_RISK, {"Rating": "At Risk", "Account_Name": "New"}) is None
    refused = refusal_of(WITHOUT_AT_RISK, {"Rating": "At Risk"})
    assert refused is not None
    assert refused.message.startswith(
        "Not sent to Zoho: 'At Risk' is not a value of the org's Accounts Rating picklist"
    )
    assert "Adjust the approval" in refused.message
    read_only = refusal_of(READ_ONLY, {"Rating": "Active"})
    assert read_only is not None
    assert "read-only" in read_only.message
    missing = refusal_of(WITH_AT_RISK, {"Health__c": "Red"})
    assert missing is not None
    assert "has no field Health__c" in missing.message


# --- the cache's rules (no CRM: fetch is a stub) ------------------------------------------------


class Fetches:
    def __init__(self, answer: ModuleFields | Exception | None) -> None:
        self.answer = answer
        self.seen: list[ModuleFields | None] = []

    async def __call__(self, stale: ModuleFields | None) -> ModuleFields | None:
        self.seen.append(stale)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_the_cache_reads_once_a_day_and_keeps_a_304(tmp_path: Path) -> None:
    cache = FieldsCache(tmp_path / "zoho-metadata")
    fetch = Fetches(WITH_AT_RISK)
    first = await cache.read_through("Accounts", NOW, fetch)
    assert first.fields == WITH_AT_RISK.fields
    assert first.fetched_at == NOW
    stored = json.loads((tmp_path / "zoho-metadata" / "fields-Accounts.json").read_text())
    assert stored["fields"]["fetched_at"] == "2026-11-02T09:30:00Z"
    # Another process (a new cache over the same directory) within the day: no fetch.
    later = NOW + timedelta(hours=23)
    assert await FieldsCache(tmp_path / "zoho-metadata").read_through("Accounts", later, fetch)
    assert fetch.seen == [None]
    # After a day: fetched again with the stale entry; None (a 304) keeps it, dated now.
    unchanged = Fetches(None)
    day_later = NOW + timedelta(hours=25)
    kept = await cache.read_through("Accounts", day_later, unchanged)
    assert unchanged.seen == [first]
    assert kept.fields == first.fields
    assert kept.fetched_at == day_later
    assert cache.load("Accounts") == CachedFields(module="Accounts", fields=kept)


async def test_a_failed_read_is_recorded_and_stale_metadata_served(tmp_path: Path) -> None:
    cache = FieldsCache(tmp_path)
    with pytest.raises(CrmAuthError):
        await cache.read_through(
            "Accounts", NOW, Fetches(CrmAuthError("no scope", status_code=401))
        )
    state = cached_state(cache, "Accounts")
    assert (state.fields, state.failure, state.failed_at) == (None, "no scope", NOW)
    await cache.read_through("Accounts", NOW, Fetches(WITH_AT_RISK))
    assert cached_state(cache, "Accounts").failure is None
    stale_day = NOW + timedelta(days=2)
    served = await cache.read_through("Accounts", stale_day, Fetches(CrmError("offline")))
    assert served.fetched_at == NOW  # yesterday's metadata beats none
    assert cached_state(cache, "Accounts").failure == "offline"
    # Unknown metadata (a backend without the read) is returned, never kept.
    empty = FieldsCache()
    assert not (await empty.read_through("Deals", NOW, Fetches(UNKNOWN))).known
    assert empty.load("Deals") is None


async def test_module_names_are_checked_before_they_name_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a Zoho module name"):
        await FieldsCache(tmp_path).read_through("../x", NOW, Fetches(WITH_AT_RISK))
    (tmp_path / "fields-Accounts.json").write_text("{not json")
    assert FieldsCache(tmp_path).load("Accounts") is None  # a damaged file is a miss


def test_the_metadata_scope() -> None:
    assert required_scopes("GET", "/crm/v8/settings/fields") == ("ZohoCRM.settings.fields.READ",)
    assert required_scopes("GET", "/crm/v8/org") == ("ZohoCRM.org.READ",)
