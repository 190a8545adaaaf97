"""Checking and normalising written field values against the catalogue.

Every failure is an :class:`ItemError` for one record of a write batch, shaped like Zoho's
per-record errors (``details.api_name`` and ``details.json_path``): INVALID_DATA for a bad value,
MANDATORY_NOT_FOUND for a missing mandatory field, DUPLICATE_DATA (with the existing record under
``details.duplicate_record``) for a clash on a duplicate-check field. Lookups are written as
``{"id"}`` (or a bare id) and stored expanded to ``{"name","id"}`` (users also get ``email``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sergas_tui.crm.simulator.errors import JsonDict, item_error
from sergas_tui.crm.simulator.orgdb import ParentRow, Writer
from sergas_tui.crm.simulator.picklists import RESTRICTED, values_of
from sergas_tui.crm.simulator.schema import CATALOGUE, NAME_FIELDS, Field
from sergas_tui.crm.simulator.sqlexpr import parse_datetime, utc_text
from sergas_tui.demo.zoho import MODULE_IDS

MAX_TEXT = 255
_EXPECTED = {
    "text": "string",
    "textarea": "string",
    "email": "email",
    "phone": "string",
    "website": "string",
    "picklist": "string",
    "integer": "integer",
    "bigint": "long",
    "double": "double",
    "currency": "double",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "lookup": "jsonobject",
    "owner": "jsonobject",
    "multi": "jsonobject",
    "object": "jsonobject",
    "list": "jsonarray",
}


class ItemError(Exception):
    """One record of a batch failed; ``status`` is what the call answers if all fail so."""

    def __init__(self, code: str, message: str, status: int = 400, **details: Any) -> None:
        super().__init__(message)
        self.body = item_error(code, message, **details)
        self.status = status


def invalid(field: str, path: str, message: str = "invalid data", **details: Any) -> ItemError:
    return ItemError("INVALID_DATA", message, api_name=field, json_path=path, **details)


def mandatory(field: str, path: str) -> ItemError:
    return ItemError(
        "MANDATORY_NOT_FOUND", "required field not found", api_name=field, json_path=path
    )


def missing(value: Any) -> bool:
    """Whether a mandatory field's value counts as not given (absent, null or blank)."""
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def check_mandatory(
    module: str, record: JsonDict, path: str, names: Iterable[str] | None = None
) -> None:
    """MANDATORY_NOT_FOUND for the first of the module's mandatory fields ``record`` lacks
    (only those in ``names`` when given: an update checks just the fields it sends)."""
    wanted = None if names is None else set(names)
    for field in CATALOGUE[module].values():
        if not field.mandatory or field.read_only:
            continue
        if wanted is not None and field.api_name not in wanted:
            continue
        if missing(record.get(field.api_name)):
            raise mandatory(field.api_name, f"{path}.{field.api_name}")


def duplicate(module: str, name: str, path: str, existing: ParentRow) -> ItemError:
    """DUPLICATE_DATA naming the record that already holds the value (Kaizen #177 shape)."""
    owner = existing.data.get("Owner") or {}
    return ItemError(
        "DUPLICATE_DATA",
        "duplicate data",
        api_name=name,
        json_path=path,
        duplicate_record={
            "Owner": {"name": owner.get("name"), "id": owner.get("id")},
            "module": {"api_name": module, "id": MODULE_IDS.get(module)},
            "id": existing.id,
        },
        more_records=False,
    )


def check_probability(value: Any, path: str) -> None:
    """A deal's ``Probability`` is a percentage (Zoho: "Given Probability is not valid")."""
    if value is not None and not 0 <= value <= 100:
        raise invalid("Probability", path, "Given Probability is not valid")


def user_ref(user: JsonDict) -> JsonDict:
    return {"name": user.get("full_name"), "id": user["id"], "email": user.get("email")}


def lookup_ref(module: str, record: JsonDict) -> JsonDict:
    return {"name": record.get(NAME_FIELDS.get(module, "id")), "id": record["id"]}


def lookup_id(value: Any) -> str | None:
    """The id of a written lookup: ``{"id": ...}`` or a bare id."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value.strip().isdigit() else None


def resolve_lookup(w: Writer, module: str, value: Any, name: str, path: str) -> JsonDict:
    """An existing record of ``module`` as a stored lookup, or INVALID_DATA."""
    record_id = lookup_id(value)
    row = None if record_id is None else w.row(module, record_id)
    if row is None:
        raise invalid(
            name, path, "the id given seems to be invalid", expected_data_type="jsonobject"
        )
    return user_ref(row.data) if module == "Users" else lookup_ref(module, row.data)


def check_value(w: Writer, field: Field, value: Any, path: str) -> Any:
    """``value`` normalised for storing in ``field``, or an :class:`ItemError`."""
    name, kind = field.api_name, field.type
    if field.read_only:
        raise invalid(name, path, "the field is read only")
    if value is None:
        return None
    bad = invalid(name, path, expected_data_type=_EXPECTED.get(kind, kind))
    if kind in ("text", "textarea", "email", "phone", "website", "picklist"):
        if not isinstance(value, str):
            raise bad
        if kind != "textarea" and len(value) > MAX_TEXT:
            raise invalid(name, path, "the value is too long", maximum_length=MAX_TEXT)
        if kind == "email" and value and "@" not in value:
            raise bad
        allowed = values_of(field.module, name)
        if allowed and (field.module, name) in RESTRICTED and value not in allowed:
            raise invalid(name, path, "invalid picklist value", supported_values=list(allowed))
        return value
    if kind in ("integer", "bigint"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if kind in ("double", "currency"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "date":
        try:
            if isinstance(value, str) and len(value) == 10:
                return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        raise bad
    if kind == "datetime":
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise bad
        return utc_text(moment.replace(microsecond=0))
    if kind in ("lookup", "owner") and field.target is not None:
        return resolve_lookup(w, field.target, value, name, path)
    if kind == "object" and isinstance(value, dict):
        return value
    if kind == "list" and isinstance(value, list):
        return value
    raise bad


def timeline_data_type(field: Field) -> str:
    return "ownerlookup" if field.type == "owner" else field.type


__all__ = [
    "ItemError",
    "check_mandatory",
    "check_probability",
    "check_value",
    "duplicate",
    "invalid",
    "lookup_id",
    "lookup_ref",
    "mandatory",
    "missing",
    "resolve_lookup",
    "timeline_data_type",
    "user_ref",
]
