"""ZohoRestGateway writes against scripted Zoho answers: bodies, headers, 412, per-record errors."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from sergas_tui.clock import FixedClock
from sergas_tui.crm.writer import NoteDraft, TaskDraft
from sergas_tui.errors import CrmConflictError, CrmServerError, CrmValidationError
from tests.conftest import FIXED_NOW
from tests.fakes.write_approval import TEST_APPROVAL
from tests.fakes.zoho_http import FakeTime, FakeZoho, body_of, make_gateway, page, zoho_error


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(FixedClock(FIXED_NOW))


@pytest.fixture
def zoho() -> FakeZoho:
    return FakeZoho()


def account(n: int, **extra: object) -> dict[str, object]:
    return {"id": f"{n:019d}", "Account_Name": f"Account {n}", **extra}


def _success(record_id: str, message: str = "record updated", status: int = 200) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "data": [
                {
                    "code": "SUCCESS",
                    "details": {
                        "Modified_Time": "2026-11-02T10:00:00+01:00",
                        "id": record_id,
                        "Modified_By": {"name": "Ann", "id": "u1"},
                    },
                    "message": message,
                    "status": "success",
                }
            ]
        },
    )


async def test_update_account_sends_partial_data_and_if_unmodified_since(
    zoho: FakeZoho, time: FakeTime
) -> None:
    zoho.route("PUT", r"/Accounts/42", _success("42"))
    async with make_gateway(zoho, time) as gateway:
        result = await gateway.update_account(
            "42", {"Rating": "Hot"}, if_unmodified_since=FIXED_NOW, approval=TEST_APPROVAL
        )
    assert result.module == "Accounts"
    assert result.record_id == "42"
    assert result.action == "updated"
    assert result.modified_time is not None
    assert result.modified_time.utcoffset() == timedelta(hours=1)
    sent = zoho.requests[0]
    assert body_of(sent) == {"data": [{"Rating": "Hot"}]}
    assert sent.headers["if-unmodified-since"] == "2026-11-02T09:30:00+00:00"


async def test_412_becomes_a_conflict_with_the_current_values(
    zoho: FakeZoho, time: FakeTime
) -> None:
    zoho.route("PUT", r"/Accounts/42", zoho_error(412, "ALREADY_MODIFIED", "record modified"))
    current = account(
        42,
        Rating="Cold",
        Tax_ID="12-3456789",
        Modified_Time="2026-11-02T09:45:00+00:00",
        Modified_By={"name": "Bob", "id": "u2"},
    )
    zoho.route("GET", r"/Accounts/42", page([current]))
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmConflictError, match="ALREADY_MODIFIED") as caught:
            await gateway.update_account(
                "42",
                {"Rating": "Hot", "Tax_ID": "x"},
                if_unmodified_since=FIXED_NOW,
                approval=TEST_APPROVAL,
            )
        assert gateway.stats.retries == 0
    err = caught.value
    assert err.status_code == 412
    assert err.code == "ALREADY_MODIFIED"
    assert isinstance(err.details, dict)
    assert err.details["current"] == {"Rating": "Cold", "Tax_ID": "[REDACTED]"}
    assert err.details["modified_by"] == {"name": "Bob", "id": "u2"}
    assert [r.method for r in zoho.requests] == ["PUT", "GET"]


async def test_create_task_on_a_deal(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.route("POST", r"/Tasks", _success("900", "record added", 201))
    task = TaskDraft(
        account_id="1",
        deal_id="2",
        contact_id="3",
        owner_id="u1",
        subject="Call back",
        due_date=date(2026, 11, 9),
        priority="High",
        description="[sergas:abc] follow up",
    )
    async with make_gateway(zoho, time) as gateway:
        result = await gateway.create_task(task, approval=TEST_APPROVAL)
    assert (result.module, result.record_id, result.action) == ("Tasks", "900", "created")
    assert body_of(zoho.requests[0]) == {
        "data": [
            {
                "Subject": "Call back",
                "What_Id": {"id": "2"},
                "$se_module": "Deals",
                "Status": "Not Started",
                "Priority": "High",
                "Due_Date": "2026-11-09",
                "Who_Id": {"id": "3"},
                "Owner": {"id": "u1"},
                "Description": "[sergas:abc] follow up",
            }
        ]
    }


async def test_create_task_on_the_account(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.route("POST", r"/Tasks", _success("901", "record added", 201))
    async with make_gateway(zoho, time) as gateway:
        await gateway.create_task(
            TaskDraft(account_id="1", subject="Check in"), approval=TEST_APPROVAL
        )
    record = body_of(zoho.requests[0])["data"][0]
    assert record["What_Id"] == {"id": "1"}
    assert record["$se_module"] == "Accounts"
    assert "Due_Date" not in record
    assert "Who_Id" not in record


async def test_add_note_uses_the_parent_object(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.route("POST", r"/Notes", _success("77", "record added", 201))
    note = NoteDraft(parent_id="5", content="Met the CFO", title="Visit", parent_module="Deals")
    async with make_gateway(zoho, time) as gateway:
        result = await gateway.add_note(note, approval=TEST_APPROVAL)
    assert result.record_id == "77"
    assert body_of(zoho.requests[0]) == {
        "data": [
            {
                "Note_Content": "Met the CFO",
                "Parent_Id": {"module": {"api_name": "Deals"}, "id": "5"},
                "Note_Title": "Visit",
            }
        ]
    }


@pytest.mark.parametrize("status", [201, 207, 400])
async def test_a_failed_record_is_a_typed_error(
    zoho: FakeZoho, time: FakeTime, status: int
) -> None:
    item = {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Subject", "json_path": "$.data[0].Subject"},
        "message": "required field not found",
        "status": "error",
    }
    zoho.route("POST", r"/Tasks", httpx.Response(status, json={"data": [item]}))
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmValidationError, match="Subject") as caught:
            await gateway.create_task(TaskDraft(account_id="1", subject=""), approval=TEST_APPROVAL)
    assert caught.value.code == "MANDATORY_NOT_FOUND"
    assert len(zoho.requests) == 1


async def test_writes_are_never_resent_blindly(zoho: FakeZoho, time: FakeTime) -> None:
    # A failed write may still have landed; the executor retries after checking the CRM.
    zoho.sequence("POST", r"/Notes", [httpx.Response(503), _success("78", "record added", 201)])
    async with make_gateway(zoho, time) as gateway:
        with pytest.raises(CrmServerError):
            await gateway.add_note(NoteDraft(parent_id="1", content="x"), approval=TEST_APPROVAL)
    assert len(zoho.requests) == 1


async def test_record_ids_cannot_escape_their_path_segment(zoho: FakeZoho, time: FakeTime) -> None:
    zoho.route("GET", r"/Accounts/.+", httpx.Response(204))
    async with make_gateway(zoho, time) as gateway:
        await gateway.get_account_details("../users")
    assert zoho.requests[0].url.raw_path.startswith(b"/crm/v8/Accounts/..%2Fusers")
