"""Readers and writers: what agents and screens get cannot write, by type or by reflection."""

from __future__ import annotations

import inspect

import pytest

from sergas_tui.crm.gateway import CrmReader, ReadOnlyCrm
from sergas_tui.crm.writer import (
    AccountUpdate,
    CrmGateway,
    CrmWriter,
    NoteDraft,
    TaskDraft,
    canonical_write,
    request_from_fields,
    write_digest,
    write_fields,
)
from sergas_tui.domain.grants import approval_marker
from tests.fakes.fake_gateway import FakeGateway

WRITES = ("create_task", "add_note", "update_account")


def test_a_read_only_crm_has_no_write_methods() -> None:
    reader = ReadOnlyCrm(FakeGateway.seeded())
    assert isinstance(reader, CrmReader)
    assert not isinstance(reader, CrmWriter)
    for name in WRITES:
        assert not hasattr(reader, name)


async def test_a_read_only_crm_reads_through() -> None:
    fake = FakeGateway.seeded()
    reader = ReadOnlyCrm(fake)
    assert await reader.get_notes("1001") == await fake.get_notes("1001")
    await reader.aclose()  # the backend belongs to whoever built it


def test_every_writer_method_requires_the_approval() -> None:
    assert isinstance(FakeGateway.seeded(), CrmGateway)
    for name in WRITES:
        parameter = inspect.signature(getattr(CrmWriter, name)).parameters["approval"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default is inspect.Parameter.empty


@pytest.mark.parametrize(
    "request_",
    [
        TaskDraft(account_id="1", subject="Call", description=approval_marker("a")),
        NoteDraft(parent_id="1", content=f"x {approval_marker('a')}", title="t"),
        AccountUpdate("1", {"Rating": "Hot", "Employees": 12}),
    ],
)
def test_writes_round_trip_through_their_canonical_fields(request_: object) -> None:
    assert isinstance(request_, TaskDraft | NoteDraft | AccountUpdate)
    again = request_from_fields(write_fields(request_))
    assert canonical_write(again) == canonical_write(request_)
    assert write_digest(again) == write_digest(request_)


def test_any_changed_argument_changes_the_digest() -> None:
    task = TaskDraft(account_id="1", subject="Call")
    variants = [
        TaskDraft(account_id="1", subject="Call", owner_id="2"),
        TaskDraft(account_id="1", subject="Call", contact_id="3"),
        TaskDraft(account_id="1", subject="Call", priority="High"),
        TaskDraft(account_id="2", subject="Call"),
    ]
    assert len({write_digest(v) for v in [task, *variants]}) == 5
    assert write_digest(AccountUpdate("1", {"N": 1})) != write_digest(
        AccountUpdate("1", {"N": 1.0})
    )


def test_request_from_fields_refuses_what_is_not_a_write() -> None:
    with pytest.raises(ValueError, match="unknown write operation"):
        request_from_fields({"op": "delete_account", "account_id": "1"})
    with pytest.raises(ValueError, match="priority"):
        request_from_fields(
            {"op": "create_task", "account_id": "1", "subject": "x", "priority": "!"}
        )
