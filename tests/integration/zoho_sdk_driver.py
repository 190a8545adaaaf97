"""Drive Zoho's official Python SDK (``zohocrmsdk8_0``), unmodified, against a Zoho endpoint.

Run as a separate process (the SDK keeps global state and writes files in its resource
path): ``python zoho_sdk_driver.py BASE_URL WORKDIR STEP [ARG]`` prints one JSON object with
what the SDK returned. Steps: ``tour`` (OAuth, list with paging to the end, get, related
lists, COQL with an aggregate, create Task, add Note, update Account, read back),
``bad_token`` (a wrong access token), ``bad_refresh`` (a revoked refresh token) and
``until_429`` (read until Zoho answers 429). The SDK gets only the environment URLs and the
OAuth client: nothing in its caches is seeded by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.coql import BodyWrapper as CoqlBody
from zohocrmsdk.src.com.zoho.crm.api.coql import CoqlOperations
from zohocrmsdk.src.com.zoho.crm.api.coql import ResponseWrapper as CoqlRows
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.notes import BodyWrapper as NotesBody
from zohocrmsdk.src.com.zoho.crm.api.notes import Note, NotesOperations, ParentId
from zohocrmsdk.src.com.zoho.crm.api.record import (
    ActionWrapper,
    BodyWrapper,
    Field,
    GetRecordsParam,
    Record,
    RecordOperations,
    ResponseWrapper,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.related_records import (
    GetRelatedRecordsParam,
    RelatedRecordsOperations,
)
from zohocrmsdk.src.com.zoho.crm.api.related_records import (
    ResponseWrapper as RelatedRows,
)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.users import GetUsersParam, UsersOperations
from zohocrmsdk.src.com.zoho.crm.api.util import Choice

CLIENT_ID = "1000.SERGASDEMO"
CLIENT_SECRET = "5e2ga5d3m0c1ie27s3cre7000000000000000000ab"
REFRESH_TOKEN = "1000.5e2ga5d3m0aa0000000000000000refresh.000000000000000000000000demo"


def init(base: str, work: Path, token: OAuthToken) -> None:
    environment = DataCenter.Environment(base, f"{base}/oauth/v2/token", base)
    Initializer.initialize(
        environment=environment,
        token=token,
        store=FileStore(file_path=str(work / "sdk_tokens.txt")),
        sdk_config=SDKConfig(
            auto_refresh_fields=False,
            pick_list_validation=True,
            connect_timeout=10.0,
            read_timeout=60.0,
        ),
        resource_path=str(work),
        logger=Logger.get_instance(level=Logger.Levels.INFO, file_path=str(work / "sdk.log")),
    )


def refresh_token() -> OAuthToken:
    return OAuthToken(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)


def error_of(obj: Any) -> dict[str, Any]:
    """An SDK APIException (or a per-record ActionResponse) as plain data."""
    code = obj.get_code()
    status = obj.get_status()
    return {
        "type": type(obj).__name__,
        "code": code.get_value() if isinstance(code, Choice) else code,
        "status": status.get_value() if isinstance(status, Choice) else status,
        "message": str(obj.get_message().get_value())
        if isinstance(obj.get_message(), Choice)
        else obj.get_message(),
        "details": obj.get_details(),
    }


def plain(value: Any) -> Any:
    if isinstance(value, Choice):
        return value.get_value()
    if isinstance(value, Record):
        return {"id": value.get_id(), "name": value.get_key_value("name")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "get_id") and hasattr(value, "get_name"):
        return {"id": value.get_id(), "name": value.get_name()}
    return value


def list_all(module: str, fields: str) -> dict[str, Any]:
    """Every record of ``module`` through ``page`` then ``page_token``, as the SDK pages."""
    ops = RecordOperations(module)
    ids: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        params = ParameterMap()
        params.add(GetRecordsParam.fields, fields)
        params.add(GetRecordsParam.per_page, 200)
        if token is not None:
            params.add(GetRecordsParam.page_token, token)
        response = ops.get_records(params, HeaderMap())
        pages += 1
        if response.get_status_code() == 204:
            break
        body = response.get_object()
        if not isinstance(body, ResponseWrapper):
            return {"error": error_of(body), "pages": pages, "ids": len(ids)}
        ids += [str(r.get_id()) for r in body.get_data()]
        info = body.get_info()
        if not info.get_more_records():
            break
        token = info.get_next_page_token()
    return {"pages": pages, "ids": len(ids), "unique": len(set(ids)), "first": ids[:3]}


def get_one(module: str, record_id: str) -> dict[str, Any]:
    response = RecordOperations(module).get_record(int(record_id), ParameterMap(), HeaderMap())
    body = response.get_object()
    if not isinstance(body, ResponseWrapper):
        return {"status": response.get_status_code(), "error": error_of(body)}
    record = body.get_data()[0]
    values = {k: plain(v) for k, v in record.get_key_values().items()}
    return {"status": response.get_status_code(), "record": values}


def related(module: str, record_id: str, related_list: str, fields: str) -> dict[str, Any]:
    ops = RelatedRecordsOperations(related_list, module)
    params = ParameterMap()
    params.add(GetRelatedRecordsParam.fields, fields)
    response = ops.get_related_records(int(record_id), params, HeaderMap())
    if response.get_status_code() == 204:
        return {"status": 204, "records": []}
    body = response.get_object()
    if not isinstance(body, RelatedRows):
        return {"status": response.get_status_code(), "error": error_of(body)}
    rows = [{k: plain(v) for k, v in r.get_key_values().items()} for r in body.get_data()]
    return {"status": response.get_status_code(), "records": rows}


def coql(query: str) -> dict[str, Any]:
    body = CoqlBody()
    body.set_select_query(query)
    response = CoqlOperations().get_records(body)
    if response.get_status_code() == 204:
        return {"status": 204, "rows": []}
    result = response.get_object()
    if not isinstance(result, CoqlRows):
        return {"status": response.get_status_code(), "error": error_of(result)}
    rows = [{k: plain(v) for k, v in r.get_key_values().items()} for r in result.get_data()]
    info = result.get_info()
    return {
        "status": response.get_status_code(),
        "rows": rows,
        "count": info.get_count(),
        "more": info.get_more_records(),
    }


def write_result(response: Any) -> dict[str, Any]:
    body = response.get_object()
    if not isinstance(body, ActionWrapper) and not hasattr(body, "get_data"):
        return {"status": response.get_status_code(), "error": error_of(body)}
    items = []
    for item in body.get_data():
        if isinstance(item, SuccessResponse) or type(item).__name__ == "SuccessResponse":
            items.append(
                {"ok": True, "code": item.get_code().get_value(), "id": item.get_details()["id"]}
            )
        else:
            items.append({"ok": False, **error_of(item)})
    return {"status": response.get_status_code(), "items": items}


def tour(base: str, work: Path) -> dict[str, Any]:
    init(base, work, refresh_token())
    out: dict[str, Any] = {}
    users = UsersOperations().get_users(_params(GetUsersParam.type, "CurrentUser"), HeaderMap())
    me = users.get_object().get_users()[0]
    out["me"] = {"email": me.get_email(), "id": str(me.get_id()), "role": me.get_role().get_name()}
    out["accounts"] = list_all("Accounts", "Account_Name,Owner,Rating")
    mine = coql(
        "select id, Account_Name from Accounts where Owner = "
        f"'{out['me']['id']}' order by id limit 5"
    )
    out["my_accounts"] = mine
    account_id = str(mine["rows"][0]["id"])
    out["get"] = get_one("Accounts", account_id)
    out["deals"] = related("Accounts", account_id, "Deals", "Deal_Name,Stage,Amount,Closing_Date")
    out["notes"] = related("Accounts", account_id, "Notes", "Note_Title,Note_Content")
    out["coql_aggregate"] = coql(
        "select Stage, COUNT(id), SUM(Amount) from Deals where Amount is not null group by Stage"
    )
    out["coql_count"] = coql("select COUNT(id) from Accounts where Account_Name is not null")

    task = Record()
    task.add_field_value(Field.Tasks.subject(), "Call the sponsor about the renewal")
    task.add_field_value(Field.Tasks.priority(), Choice("High"))
    task.add_field_value(Field.Tasks.status(), Choice("Not Started"))
    what = Record()
    what.set_id(int(account_id))
    task.add_field_value(Field.Tasks.what_id(), what)
    task.add_key_value("$se_module", "Accounts")
    wrapper = BodyWrapper()
    wrapper.set_data([task])
    out["create_task"] = write_result(
        RecordOperations("Tasks").create_records(wrapper, HeaderMap())
    )

    note = Note()
    note.set_note_title("Renewal call")
    note.set_note_content("The sponsor asked for a proposal by Friday.")
    parent = ParentId()
    parent.set_id(int(account_id))
    module = _module("Accounts")
    parent.set_module(module)
    note.set_parent_id(parent)
    notes = NotesBody()
    notes.set_data([note])
    out["add_note"] = write_result(NotesOperations().create_notes(notes))

    update = Record()
    update.add_field_value(Field.Accounts.description(), "Updated through the official SDK")
    update.add_field_value(Field.Accounts.rating(), Choice("Active"))
    body = BodyWrapper()
    body.set_data([update])
    out["update_account"] = write_result(
        RecordOperations("Accounts").update_record(int(account_id), body, HeaderMap())
    )
    out["after_update"] = get_one("Accounts", account_id)
    out["related_tasks"] = related("Accounts", account_id, "Tasks", "Subject,Priority,Status")
    out["files"] = sorted(p.name for p in work.rglob("*") if p.is_file())
    return out


def _params(param: Any, value: Any) -> ParameterMap:
    params = ParameterMap()
    params.add(param, value)
    return params


def _module(api_name: str) -> Any:
    from zohocrmsdk.src.com.zoho.crm.api.modules import MinifiedModule

    module = MinifiedModule()
    module.set_api_name(api_name)
    return module


def sdk_error(err: Exception) -> dict[str, Any]:
    """An SDKException as plain data: its code and the Zoho answer it carries."""
    return {
        "raised": type(err).__name__,
        "code": getattr(err, "code", None),
        "details": getattr(err, "details", None),
        "text": str(err),
    }


def bad_token(base: str, work: Path) -> dict[str, Any]:
    """An access token Zoho does not know: the SDK reports Zoho's 401 INVALID_TOKEN."""
    token = OAuthToken(access_token="1000.notatoken.notatoken", find_user=False)
    try:
        init(base, work, token)
        params = ParameterMap()
        params.add(GetRecordsParam.fields, "Account_Name")
        response = RecordOperations("Accounts").get_records(params, HeaderMap())
    except Exception as err:  # the SDK's SDKException
        return sdk_error(err)
    return {"status": response.get_status_code(), "error": error_of(response.get_object())}


def bad_refresh(base: str, work: Path) -> dict[str, Any]:
    """A refresh token Zoho does not know: the SDK raises its token error."""
    token = OAuthToken(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token="1000.nope")
    try:
        init(base, work, token)
        RecordOperations("Accounts").get_records(_params(GetRecordsParam.fields, "id"), HeaderMap())
    except Exception as err:  # the SDK's SDKException
        return sdk_error(err)
    return {"raised": None}


def until_429(base: str, work: Path, limit: int) -> dict[str, Any]:
    """Read one page at a time until Zoho refuses; report how the SDK shows the refusal."""
    init(base, work, refresh_token())
    for call in range(1, limit + 1):
        params = ParameterMap()
        params.add(GetRecordsParam.fields, "Account_Name")
        params.add(GetRecordsParam.per_page, 1)
        response = RecordOperations("Accounts").get_records(params, HeaderMap())
        if response.get_status_code() == 429:
            headers = {k.lower(): v for k, v in response.get_headers().items()}
            return {
                "call": call,
                "status": 429,
                "error": error_of(response.get_object()),
                "credits_remaining": headers.get("x-api-credits-remaining"),
            }
    return {"call": limit, "status": None}


def main() -> None:
    base, work, step = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    work.mkdir(parents=True, exist_ok=True)
    if step == "tour":
        result = tour(base, work)
    elif step == "bad_token":
        result = bad_token(base, work)
    elif step == "bad_refresh":
        result = bad_refresh(base, work)
    elif step == "until_429":
        result = until_429(base, work, int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown step {step}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
