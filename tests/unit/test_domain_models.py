"""Domain models: the seed's JSON formats round-trip, and Zoho records convert cleanly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from sergas_tui.domain import (
    AddNoteAction,
    CreateTaskAction,
    EscalationAction,
    FollowUpEmailAction,
    HistoricalContext,
    OwnerBrief,
    Recommendation,
    RecommendationSet,
    RecordRef,
    RiskSignal,
    ScoutReport,
    UpdateAccountAction,
    ZohoAccount,
    ZohoCall,
    ZohoContact,
    ZohoDeal,
    ZohoEvent,
    ZohoNote,
    ZohoStageHistory,
    ZohoTask,
    ZohoTimelineEntry,
    ZohoUser,
    account_from_zoho,
    activity_from_call,
    activity_from_event,
    activity_from_task,
    changes_from_timeline,
    contact_from_zoho,
    deal_from_zoho,
    note_from_zoho,
    owner_from_user,
)

# --- The seed's examples, as literal JSON ------------------------------------------------------

# §3.2, with the "[...]" placeholders replaced by realistic items.
SCOUT_REPORT_JSON = """
{
  "account_id": "123456789",
  "account_name": "Acme Corp",
  "owner": "john.doe@sergas.com",
  "last_modified": "2025-10-15T14:30:00Z",
  "changes_detected": true,
  "changes": [
    {"field": "Deal_Stage", "old": "Negotiation", "new": "Closed Won",
     "timestamp": "2025-10-15T10:00:00Z"}
  ],
  "open_deals": [
    {"id": "5550001", "name": "Acme Q4 renewal", "stage": "Negotiation/Review",
     "amount": 120000.0, "closing_date": "2025-12-15", "probability": 60.0,
     "account_id": "123456789",
     "contact": {"id": "4440001", "name": "Dana Reyes", "module": "Contacts"}}
  ],
  "recent_activities": [
    {"id": "7770001", "kind": "call", "subject": "Renewal check-in",
     "when": "2025-10-10T15:00:00Z", "status": "Completed",
     "who": {"id": "4440001", "name": "Dana Reyes", "module": "Contacts"}}
  ],
  "notes_count": 15,
  "risk_signals": ["No activity in 30 days", "Deal stalled in stage"]
}
"""

# §3.3, verbatim.
HISTORICAL_CONTEXT_JSON = """
{
  "account_id": "123456789",
  "historical_context": {
    "key_events": [
      {"date": "2025-09-01", "event": "Executive sponsor changed",
       "impact": "Delayed Q3 renewal"}
    ],
    "sentiment_trend": "declining",
    "prior_recommendations": [
      {"date": "2025-08-15", "recommendation": "Schedule exec briefing",
       "status": "completed", "outcome": "positive"}
    ],
    "relationship_strength": "strong",
    "commitment_tracking": ["Q4 renewal intent confirmed", "Budget approved"]
  }
}
"""

# §3.4; the seed wraps the rationale strings over two lines, which JSON does not allow.
RECOMMENDATIONS_JSON = """
{
  "account_id": "123456789",
  "recommendations": [
    {
      "type": "follow_up_email",
      "priority": "high",
      "confidence": "high",
      "rationale": "No activity in 35 days; prior pattern shows engagement drops before churn. Executive sponsor change increases risk.",
      "suggested_action": {
        "subject": "Checking in on Q4 renewal timeline",
        "draft_body": "Hi [Contact], I wanted to follow up on our Q3 conversation...",
        "next_steps": ["Schedule call within 5 days", "Confirm budget status"]
      },
      "data_references": ["zoho_account_123", "cognee_memory_ref_456"]
    },
    {
      "type": "escalation",
      "priority": "critical",
      "confidence": "medium",
      "rationale": "Deal stalled in Negotiation stage for 45 days; historical pattern shows 60-day threshold before loss.",
      "suggested_action": {
        "escalate_to": "sales_manager",
        "reason": "Potential deal risk requires manager intervention"
      }
    }
  ]
}
"""  # noqa: E501

# §8.2, with "[...]" replaced by one realistic recommendation.
OWNER_BRIEF_JSON = """
{
  "owner_email": "john.doe@sergas.com",
  "generated_at": "2025-10-18T06:00:00Z",
  "accounts_reviewed": 23,
  "high_priority_accounts": 3,
  "recommendations": [
    {
      "type": "create_task",
      "priority": "high",
      "confidence": "medium",
      "rationale": "Renewal closes in 30 days and no meeting is booked.",
      "suggested_action": {
        "subject": "Book renewal review with Acme",
        "due_date": "2025-10-24",
        "priority": "High",
        "description": "Agree the Q4 renewal scope and timeline."
      },
      "data_references": ["zoho:Accounts:123456789", "zoho:Deals:5550001"],
      "account_id": "123456789"
    }
  ]
}
"""


@pytest.mark.parametrize(
    ("model", "text"),
    [
        (ScoutReport, SCOUT_REPORT_JSON),
        (HistoricalContext, HISTORICAL_CONTEXT_JSON),
        (RecommendationSet, RECOMMENDATIONS_JSON),
        (OwnerBrief, OWNER_BRIEF_JSON),
    ],
    ids=["scout-report", "historical-context", "recommendations", "owner-brief"],
)
def test_seed_examples_round_trip(model: Any, text: str) -> None:
    data = json.loads(text)
    parsed = model.model_validate(data)
    assert parsed.model_dump(mode="json", exclude_unset=True) == data
    # And through the JSON parser too, as agents' structured output arrives.
    from_json = model.model_validate_json(text)
    assert from_json.model_dump(mode="json", exclude_unset=True) == data


def test_seed_recommendation_payloads_are_typed_by_recommendation_type() -> None:
    rec_set = RecommendationSet.model_validate_json(RECOMMENDATIONS_JSON)
    email, escalation = rec_set.recommendations
    assert isinstance(email.suggested_action, FollowUpEmailAction)
    assert email.suggested_action.next_steps == [
        "Schedule call within 5 days",
        "Confirm budget status",
    ]
    assert email.suggested_action.recipient is None
    assert isinstance(escalation.suggested_action, EscalationAction)
    assert escalation.data_references == []
    assert email.account_id is None
    assert [r.account_id for r in rec_set.resolved()] == ["123456789", "123456789"]


def test_historical_context_defaults_memory_stale_false_and_accepts_it() -> None:
    context = HistoricalContext.model_validate_json(HISTORICAL_CONTEXT_JSON)
    assert context.memory_stale is False
    assert context.historical_context.key_events[0].date == date(2025, 9, 1)
    stale = HistoricalContext.model_validate({"account_id": "1", "memory_stale": True})
    assert stale.memory_stale is True
    assert stale.historical_context.sentiment_trend == "unknown"


def test_scout_report_accepts_structured_and_string_risk_signals() -> None:
    signal = {
        "key": "no_recent_activity",
        "severity": "high",
        "message": "No activity in 35 days",
        "evidence": [{"system": "zoho", "module": "Accounts", "id": "1", "field": None}],
    }
    report = ScoutReport.model_validate(
        {
            "account_id": "1",
            "account_name": "Acme",
            "owner": "a@x.com",
            "risk_signals": [signal, "Deal stalled in stage"],
        }
    )
    structured, plain = report.risk_signals
    assert isinstance(structured, RiskSignal)
    assert plain == "Deal stalled in stage"
    assert report.model_dump(mode="json")["risk_signals"] == [signal, "Deal stalled in stage"]
    assert [s.key for s in report.signals()] == ["no_recent_activity", "note"]


@pytest.mark.parametrize(
    ("kind", "payload", "model"),
    [
        ("follow_up_email", {"subject": "Hi", "draft_body": "Body"}, FollowUpEmailAction),
        ("create_task", {"subject": "Call", "due_date": "2026-01-05"}, CreateTaskAction),
        ("add_note", {"title": "T", "content": "C"}, AddNoteAction),
        (
            "update_account",
            {"field_changes": [{"field": "Rating", "old": "Warm", "new": "Hot"}]},
            UpdateAccountAction,
        ),
        ("escalation", {"escalate_to": "sales_manager", "reason": "R"}, EscalationAction),
    ],
)
def test_suggested_action_model_follows_type(
    kind: str, payload: dict[str, Any], model: type
) -> None:
    rec = Recommendation.model_validate(
        {"type": kind, "priority": "low", "confidence": "low", "rationale": "r",
         "suggested_action": payload}
    )  # fmt: skip
    assert isinstance(rec.suggested_action, model)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("follow_up_email", {"escalate_to": "x", "reason": "y"}),
        ("escalation", {"subject": "Hi", "draft_body": "Body"}),
        ("update_account", {"field_changes": []}),
        ("add_note", {"title": "only a title"}),
    ],
)
def test_suggested_action_that_does_not_fit_the_type_is_rejected(
    kind: str, payload: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        Recommendation.model_validate(
            {"type": kind, "priority": "low", "confidence": "low", "rationale": "r",
             "suggested_action": payload}
        )  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", "send_gift"), ("priority", "urgent"), ("confidence", "certain")],
)
def test_recommendation_rejects_values_outside_the_seed_vocabulary(field: str, value: str) -> None:
    data = json.loads(RECOMMENDATIONS_JSON)["recommendations"][0] | {field: value}
    with pytest.raises(ValidationError):
        Recommendation.model_validate(data)


def test_recommendation_gets_our_fields_by_default() -> None:
    rec = Recommendation.model_validate(json.loads(RECOMMENDATIONS_JSON)["recommendations"][0])
    assert rec.status == "pending"
    assert rec.created_at.tzinfo is not None
    assert len(rec.id) == 36
    other = Recommendation.model_validate(json.loads(RECOMMENDATIONS_JSON)["recommendations"][0])
    assert other.id != rec.id


@pytest.mark.parametrize("model", [ScoutReport, HistoricalContext, RecommendationSet, OwnerBrief])
def test_output_models_have_json_schemas_for_structured_output(model: Any) -> None:
    schema = model.model_json_schema()
    assert schema["type"] == "object"
    assert set(schema["required"]) <= set(schema["properties"])


# --- RecordRef ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zoho:Accounts:123", RecordRef(module="Accounts", id="123")),
        ("zoho:Deals:456#Stage", RecordRef(module="Deals", id="456", field="Stage")),
        ("memory:notes:abc-1", RecordRef(system="memory", module="notes", id="abc-1")),
        ("zoho_account_123", RecordRef(module="Accounts", id="123")),
        ("zoho_deal_9", RecordRef(module="Deals", id="9")),
    ],
)
def test_record_ref_parses(text: str, expected: RecordRef) -> None:
    assert RecordRef.parse(text) == expected


@pytest.mark.parametrize("text", ["", "Accounts:1", "zoho:Accounts", "cognee_memory_ref_456"])
def test_record_ref_rejects_other_strings(text: str) -> None:
    with pytest.raises(ValueError, match="not a record reference"):
        RecordRef.parse(text)


@pytest.mark.parametrize(
    "ref",
    [
        RecordRef(module="Accounts", id="123"),
        RecordRef(module="Deals", id="456", field="Stage"),
        RecordRef(system="memory", module="notes", id="n1"),
    ],
)
def test_record_ref_string_form_is_stable(ref: RecordRef) -> None:
    assert RecordRef.parse(str(ref)) == ref
    assert str(RecordRef(module="Accounts", id="123")) == "zoho:Accounts:123"
    assert ref.record().field is None


# --- Wire → domain -----------------------------------------------------------------------------

OWNER = {"name": "John Doe", "id": "4876876000000225013", "email": "john.doe@sergas.com"}


def test_full_zoho_account_converts() -> None:
    raw = {
        "id": "4876876000000624001",
        "Account_Name": "Acme Corp",
        "Owner": OWNER,
        "Industry": "Manufacturing",
        "Annual_Revenue": 12500000,
        "Account_Type": "Customer",
        "Rating": "Active",
        "Employees": 420,
        "Website": "https://acme.example",
        "Parent_Account": {"name": "Acme Holdings", "id": "4876876000000624000"},
        "Last_Activity_Time": "2025-10-14T09:12:45-07:00",
        "Created_Time": "2023-01-03T10:00:00+05:30",
        "Modified_Time": "2025-10-15T14:30:00+00:00",
        "$approval_state": "approved",
        "Tag": [{"name": "Key", "id": "1"}],
    }
    wire = ZohoAccount.model_validate(raw)
    assert wire.model_extra is not None
    assert wire.model_extra["$approval_state"] == "approved"
    account = account_from_zoho(wire)
    assert account.name == "Acme Corp"
    assert account.owner is not None
    assert account.owner.email == "john.doe@sergas.com"
    assert account.annual_revenue == 12_500_000.0
    assert account.parent_account is not None
    assert account.parent_account.module == "Accounts"
    assert account.last_activity_time == datetime(2025, 10, 14, 16, 12, 45, tzinfo=UTC)
    assert account.last_activity_time.utcoffset() == timedelta(hours=-7)
    assert str(account.ref()) == "zoho:Accounts:4876876000000624001"


def test_sparse_and_messy_zoho_account_still_converts() -> None:
    raw = {
        "id": 4876876000000624002,  # a number where Zoho documents a string
        "Account_Name": None,
        "Owner": None,
        "Annual_Revenue": "not disclosed",
        "Employees": {"weird": True},
        "Last_Activity_Time": "yesterday",
        "Parent_Account": "4876876000000624000",  # bare id instead of a lookup object
    }
    account = account_from_zoho(ZohoAccount.model_validate(raw))
    assert account.id == "4876876000000624002"
    assert account.name == "(no name)"
    assert account.owner is None
    assert account.annual_revenue is None
    assert account.employees is None
    assert account.last_activity_time is None
    assert account.parent_account is not None
    assert account.parent_account.id.endswith("4000")


def test_account_without_id_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ZohoAccount.model_validate({"Account_Name": "No id"})


def test_deal_with_stage_history_converts_oldest_first() -> None:
    deal = ZohoDeal.model_validate(
        {
            "id": "5550001",
            "Deal_Name": "Acme Q4 renewal",
            "Account_Name": {"name": "Acme Corp", "id": "123"},
            "Contact_Name": {"name": "Dana Reyes", "id": "444"},
            "Stage": "Negotiation/Review",
            "Amount": "120000",
            "Closing_Date": "2025-12-15",
            "Probability": 60,
            "Type": "Existing Business",
            "Next_Step": "Send revised quote",
            "Owner": OWNER,
        }
    )
    history = [
        {"id": "2", "Stage": "Negotiation/Review", "Modified_Time": "2025-09-01T10:00:00Z",
         "Modified_By": OWNER, "Close_Date": "2025-12-15", "Amount": 120000},
        {"id": "1", "Stage": "Qualification", "Modified_Time": "2025-07-01T10:00:00+02:00",
         "Probability": 10},
        {"id": "3", "Stage": None},
    ]  # fmt: skip
    result = deal_from_zoho(deal, [ZohoStageHistory.model_validate(h) for h in history])
    assert result.account_id == "123"
    assert result.contact is not None
    assert result.contact.module == "Contacts"
    assert result.amount == 120_000.0
    assert result.closing_date == date(2025, 12, 15)
    assert [s.stage for s in result.stage_history] == ["Qualification", "Negotiation/Review"]
    assert result.stage_history[1].changed_by == "John Doe"
    assert result.stage_history[1].closing_date == date(2025, 12, 15)


def test_minimal_deal_converts() -> None:
    result = deal_from_zoho(ZohoDeal.model_validate({"id": "1", "Closing_Date": "soon"}))
    assert result.name == "(no name)"
    assert result.closing_date is None
    assert result.stage_history == []


@pytest.mark.parametrize(
    ("raw", "name", "role", "account_id"),
    [
        (
            {"id": "1", "First_Name": "Dana", "Last_Name": "Reyes", "Title": "CFO",
             "Account_Name": {"name": "Acme", "id": "123"}},
            "Dana Reyes", "CFO", "123",
        ),
        (
            {"id": "2", "Full_Name": "Lee Park", "Contact_Role": {"name": "Decision Maker",
             "id": "9"}, "Title": "VP"},
            "Lee Park", "Decision Maker", None,
        ),
        ({"id": "3", "Email": "anon@acme.example"}, "anon@acme.example", None, None),
        ({"id": "4", "Account_Name": "123"}, "(no name)", None, "123"),
    ],
)  # fmt: skip
def test_contacts_convert(
    raw: dict[str, Any], name: str, role: str | None, account_id: str | None
) -> None:
    contact = contact_from_zoho(ZohoContact.model_validate(raw))
    assert (contact.name, contact.role, contact.account_id) == (name, role, account_id)


def test_task_event_and_call_convert_to_activities() -> None:
    task = activity_from_task(
        ZohoTask.model_validate(
            {"id": "t1", "Subject": "Send quote", "Due_Date": "2025-10-20", "Status": "Not Started",
             "What_Id": {"name": "Acme Q4 renewal", "id": "5550001"}, "$se_module": "Deals",
             "Who_Id": {"name": "Dana Reyes", "id": "444"}}
        )
    )  # fmt: skip
    assert task.kind == "task"
    assert task.when == datetime(2025, 10, 20, tzinfo=UTC)
    assert task.what is not None
    assert task.what.ref() == RecordRef(module="Deals", id="5550001")
    assert task.who is not None
    assert task.who.module == "Contacts"
    assert str(task.ref()) == "zoho:Tasks:t1"

    event = activity_from_event(
        ZohoEvent.model_validate(
            {"id": "e1", "Event_Title": "QBR", "Start_DateTime": "2025-10-21T15:00:00+01:00",
             "End_DateTime": "2025-10-21T16:00:00+01:00", "What_Id": "123",
             "se_module": "Accounts"}
        )
    )  # fmt: skip
    assert (event.kind, event.subject) == ("event", "QBR")
    assert event.when == datetime(2025, 10, 21, 14, 0, tzinfo=UTC)
    assert event.what is not None
    assert event.what.module == "Accounts"

    call = activity_from_call(
        ZohoCall.model_validate(
            {"id": "c1", "Subject": None, "Call_Type": "Outbound", "Call_Start_Time": None,
             "Call_Status": "Completed", "What_Id": None}
        )
    )  # fmt: skip
    assert (call.kind, call.subject, call.when, call.what) == ("call", "(no name)", None, None)
    assert call.status == "Completed"


@pytest.mark.parametrize(
    ("raw", "parent"),
    [
        (
            {"Parent_Id": {"module": {"api_name": "Accounts", "id": "77"}, "id": "123",
                           "name": "Acme Corp"}},
            ("Accounts", "123", "Acme Corp"),
        ),
        ({"Parent_Id": "123", "$se_module": "Deals"}, ("Deals", "123", None)),
        ({"Parent_Id": "123", "se_module": "Contacts"}, ("Contacts", "123", None)),
        ({"Parent_Id": 123}, (None, "123", None)),
        ({"Parent_Id": {"module": "Accounts", "id": "5"}}, ("Accounts", "5", None)),
        ({"Parent_Id": None}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_notes_convert_with_either_parent_shape(
    raw: dict[str, Any], parent: tuple[str | None, str, str | None] | None
) -> None:
    raw = {"id": "n1", "Note_Title": "Call recap", "Note_Content": "Budget approved.",
           "Created_Time": "2025-10-01T09:00:00+05:30"} | raw  # fmt: skip
    note = note_from_zoho(ZohoNote.model_validate(raw))
    assert note.content == "Budget approved."
    assert note.created_time == datetime(2025, 10, 1, 9, 0, tzinfo=timezone(timedelta(hours=5.5)))
    if parent is None:
        assert note.parent is None
    else:
        assert note.parent is not None
        assert (note.parent.module, note.parent.id, note.parent.name) == parent


def test_note_wire_model_dumps_se_module_under_its_zoho_name() -> None:
    note = ZohoNote.model_validate({"id": "n1", "Parent_Id": "1", "$se_module": "Deals"})
    assert note.model_dump(by_alias=True, exclude_none=True) == {
        "id": "n1",
        "Parent_Id": "1",
        "$se_module": "Deals",
    }


def test_timeline_field_history_becomes_changes() -> None:
    entry = ZohoTimelineEntry.model_validate(
        {
            "audited_time": "2025-10-15T10:00:00+00:00",
            "action": "updated",
            "source": "crm_ui",
            "done_by": {"name": "John Doe", "id": "1"},
            "record": {"id": "5550001", "name": "Acme Q4 renewal",
                       "module": {"api_name": "Deals", "id": "2"}},
            "field_history": [
                {"api_name": "Stage", "field_label": "Stage", "data_type": "picklist",
                 "id": "9", "_value": {"old": "Negotiation/Review", "new": "Closed Won"}},
                {"api_name": "Amount", "_value": {"old": 100000, "new": None}},
                {"api_name": "Description"},
                "garbage",
            ],
        }
    )  # fmt: skip
    changes = changes_from_timeline(entry)
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("Stage", "Negotiation/Review", "Closed Won"),
        ("Amount", 100000, None),
        ("Description", None, None),
    ]
    assert {(c.module, c.record_id) for c in changes} == {("Deals", "5550001")}
    assert changes[0].timestamp == datetime(2025, 10, 15, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("field_history", [None, [], "oops"])
def test_timeline_entry_without_field_history_gives_no_changes(field_history: Any) -> None:
    entry = ZohoTimelineEntry.model_validate({"action": "added", "field_history": field_history})
    assert changes_from_timeline(entry, "Accounts", "1") == []


def test_zoho_user_becomes_owner() -> None:
    user = ZohoUser.model_validate(
        {"id": "1", "first_name": "John", "last_name": "Doe", "email": "john.doe@sergas.com",
         "role": {"name": "CEO", "id": "2"}, "status": "active", "profile": ["garbage"]}
    )  # fmt: skip
    assert user.profile is None
    owner = owner_from_user(user)
    assert (owner.name, owner.email) == ("John Doe", "john.doe@sergas.com")


def test_domain_records_make_naive_datetimes_utc() -> None:
    report = ScoutReport(
        account_id="1", account_name="A", owner="o@x", last_modified=datetime(2025, 1, 1, 12)
    )
    assert report.last_modified == datetime(2025, 1, 1, 12, tzinfo=UTC)
