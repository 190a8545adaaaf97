"""Field metadata of a CRM module: which fields the org has and which values its picklists hold.

Zoho answers ``GET /crm/v8/settings/fields?module=Accounts`` (and its hosted MCP server's
``ZohoCRM_getFields`` tool, which forwards the same request) with ``{"fields": [{"api_name",
"field_label", "data_type", "json_type", "system_mandatory", "read_only", "field_read_only",
"custom_field", "lookup": {"module": {"api_name"}}, "pick_list_values": [{"display_value",
"actual_value", "type"}]}]}``. :func:`module_fields_from_zoho` is the one conversion of that JSON
into :class:`ModuleFields`, for every gateway.

A picklist's values here are its ``actual_value`` strings (what the API reads and writes), in
Zoho's order, without Zoho's ``-None-`` (it stands for an empty value) and without values Zoho
marks ``"type": "unused"`` (taken out of the picklist in the org's setup).

:func:`check_value` is the pure rule every writer-side check uses: may ``value`` be written to
``field`` of this org? Metadata Sergas could not read is :meth:`ModuleFields.unknown_for`: it
says why, and each caller decides how careful to be without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from sergas_tui.domain.common import Lenient, Timestamp
from sergas_tui.domain.zoho import ZohoModel, ZohoModuleRef

NONE_VALUE = "-None-"
"""Zoho's first entry of every picklist: no value."""
PICKLIST_TYPES = frozenset({"picklist", "multiselectpicklist"})
SHOWN_VALUES = 6
"""Picklist values a sentence names before it says how many more there are."""


# --- Zoho's JSON ---------------------------------------------------------------------------------


class ZohoPicklistValue(ZohoModel):
    """One entry of ``pick_list_values``."""

    display_value: Lenient[str] = None
    actual_value: Lenient[str] = None
    type: Lenient[str] = None


class ZohoFieldLookup(ZohoModel):
    """``lookup`` of a field: ``{}`` for non-lookups, else ``{"module": {"api_name", "id"}}``."""

    module: Lenient[ZohoModuleRef] = None


class ZohoFieldMeta(ZohoModel):
    """One entry of ``/settings/fields`` (the keys Sergas reads; the rest stay in extras)."""

    api_name: str
    field_label: Lenient[str] = None
    display_label: Lenient[str] = None
    data_type: Lenient[str] = None
    json_type: Lenient[str] = None
    system_mandatory: Lenient[bool] = None
    read_only: Lenient[bool] = None
    field_read_only: Lenient[bool] = None
    custom_field: Lenient[bool] = None
    lookup: Lenient[ZohoFieldLookup] = None
    pick_list_values: Lenient[list[ZohoPicklistValue]] = None


# --- the domain ----------------------------------------------------------------------------------


class FieldMeta(BaseModel):
    """One field of a module as the org defines it."""

    model_config = ConfigDict(frozen=True)

    api_name: str
    label: str
    data_type: str = ""
    """Zoho's ``data_type``: ``text``, ``picklist``, ``lookup``, ``currency``... (empty when not
    given)."""
    json_type: str | None = None
    read_only: bool = False
    mandatory: bool = False
    custom: bool = False
    lookup_module: str | None = None
    picklist: tuple[str, ...] | None = None
    """The picklist's actual values (no ``-None-``, no unused ones); None for other fields."""

    @property
    def is_picklist(self) -> bool:
        return self.picklist is not None


class ModuleFields(BaseModel):
    """The fields of one module, or why they are unknown."""

    model_config = ConfigDict(frozen=True)

    module: str
    fields: tuple[FieldMeta, ...] = ()
    fetched_at: Timestamp | None = None
    """When the CRM last confirmed this metadata (a fresh read or a 304)."""
    unknown: str | None = None
    """Why Sergas does not know this module's fields (a missing scope, a failed call, a tool the
    server lacks); None when it does."""

    @classmethod
    def unknown_for(cls, module: str, reason: str) -> ModuleFields:
        return cls(module=module, unknown=reason)

    @property
    def known(self) -> bool:
        return self.unknown is None

    def field(self, api_name: str) -> FieldMeta | None:
        """The field by API name (Zoho's API names are case-insensitive)."""
        wanted = api_name.casefold()
        exact = next((f for f in self.fields if f.api_name == api_name), None)
        return exact or next((f for f in self.fields if f.api_name.casefold() == wanted), None)


def field_from_zoho(wire: ZohoFieldMeta) -> FieldMeta:
    data_type = (wire.data_type or "").strip()
    picklist: tuple[str, ...] | None = None
    if data_type in PICKLIST_TYPES or (not data_type and wire.pick_list_values):
        values: list[str] = []
        for entry in wire.pick_list_values or ():
            value = entry.actual_value if entry.actual_value is not None else entry.display_value
            if value is None or value == NONE_VALUE or (entry.type or "").lower() == "unused":
                continue
            if value not in values:
                values.append(value)
        picklist = tuple(values)
    lookup = wire.lookup.module if wire.lookup is not None else None
    return FieldMeta(
        api_name=wire.api_name,
        label=wire.field_label or wire.display_label or wire.api_name,
        data_type=data_type,
        json_type=wire.json_type,
        read_only=bool(wire.read_only) or bool(wire.field_read_only),
        mandatory=bool(wire.system_mandatory),
        custom=bool(wire.custom_field),
        lookup_module=lookup.api_name if lookup is not None else None,
        picklist=picklist,
    )


def module_fields_from_zoho(
    module: str, body: Mapping[str, Any] | None, *, fetched_at: Timestamp | None = None
) -> ModuleFields:
    """``/settings/fields`` JSON → :class:`ModuleFields`. An entry without ``api_name`` is
    skipped; a body without a ``fields`` list is a module without fields."""
    entries = body.get("fields") if body is not None else None
    fields: list[FieldMeta] = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        try:
            fields.append(field_from_zoho(ZohoFieldMeta.model_validate(entry)))
        except ValidationError:
            continue
    return ModuleFields(module=module, fields=tuple(fields), fetched_at=fetched_at)


# --- may this value be written? ------------------------------------------------------------------

Verdict = Literal["ok", "unknown", "no_field", "read_only", "not_in_picklist"]


@dataclass(frozen=True)
class ValueCheck:
    """Whether the org takes a value in a field, with the reason in words (no final period)."""

    verdict: Verdict
    reason: str

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


def list_values(values: Sequence[str], shown: int = SHOWN_VALUES) -> str:
    """``Acquired, Active, Market Failed, …`` — the first few values, then an ellipsis."""
    if not values:
        return "no values"
    head = ", ".join(values[:shown])
    return head if len(values) <= shown else f"{head}, … {len(values)} in all"


def _values_of(value: JsonValue) -> list[str] | None:
    """The picklist values a written value stands for; None when it is not text."""
    if value is None:
        return []
    if isinstance(value, str):
        return [] if value in ("", NONE_VALUE) else [value]
    if isinstance(value, list):
        found: list[str] = []
        for item in value:
            inner = _values_of(item)
            if inner is None:
                return None
            found += inner
        return found
    return None


def check_value(fields: ModuleFields, field: str, value: JsonValue) -> ValueCheck:
    """Whether writing ``value`` to ``field`` uses what the org has: the field exists, is not
    read-only and, for a picklist, every value is one of its values (clearing one is fine)."""
    module = fields.module
    if not fields.known:
        return ValueCheck(
            "unknown", f"the org's {module} field metadata is unknown ({fields.unknown})"
        )
    meta = fields.field(field)
    if meta is None:
        return ValueCheck("no_field", f"the org's {module} module has no field {field}")
    if meta.read_only:
        return ValueCheck("read_only", f"the org's {module} {meta.api_name} field is read-only")
    if meta.picklist is None:
        return ValueCheck("ok", f"the org's {module} {meta.api_name} field takes any value")
    wanted = _values_of(value)
    picklist = meta.picklist
    missing = [v for v in wanted if v not in picklist] if wanted is not None else [str(value)]
    if missing:
        shown = ", ".join(f"'{v}'" for v in missing)
        return ValueCheck(
            "not_in_picklist",
            f"{shown} {'is' if len(missing) == 1 else 'are'} not "
            f"{'a value' if len(missing) == 1 else 'values'} of the org's {module} "
            f"{meta.api_name} picklist ({list_values(picklist)})",
        )
    return ValueCheck("ok", f"the org's {module} {meta.api_name} picklist has it")


def check_changes(fields: ModuleFields, changes: Mapping[str, JsonValue]) -> list[ValueCheck]:
    """:func:`check_value` for every field of an update, in the update's order."""
    return [check_value(fields, name, value) for name, value in changes.items()]


__all__ = [
    "NONE_VALUE",
    "FieldMeta",
    "ModuleFields",
    "ValueCheck",
    "Verdict",
    "ZohoFieldMeta",
    "ZohoPicklistValue",
    "check_changes",
    "check_value",
    "field_from_zoho",
    "list_values",
    "module_fields_from_zoho",
]
