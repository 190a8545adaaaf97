"""Zoho's tool catalog: telling the flavours apart and mapping Zoho's tool names and schemas.

Zoho's hosted MCP server names its CRM tools ``ZohoCRM_<operation>`` in two families (camelCase
OpenAPI ids such as ``ZohoCRM_getRecords`` and older Title_Case names such as
``ZohoCRM_Get_Records``) and nests arguments as ``path_variables`` / ``query_params`` / ``body``
/ ``headers`` with key spellings that vary between tool generations. This module holds what is
learnt from ``tools/list`` alone: :func:`catalog_flavour` tells Zoho's catalog from ours,
:class:`ZohoCatalog` maps both naming families onto one operation name and says what Sergas must
do without the tools a server lacks, and :class:`ZohoTool` builds each call's arguments from the
tool's own input schema. It makes no calls, so connecting and calling code can both lean on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import mcp_types as types
from pydantic import JsonValue

ZOHO_TOOL_PREFIX = "ZohoCRM_"
"""Every Zoho CRM tool on Zoho's MCP servers starts with this."""
SERGAS_TOOL_PREFIX = "zoho_"
"""Our own catalog (``sergas mcp zoho``) names its tools ``zoho_*``."""

_OPERATIONS: dict[str, tuple[str, ...]] = {
    "get_records": ("getrecords",),
    "get_record": ("getrecord",),
    "search_records": ("searchrecords",),
    "coql": ("executecoqlquery", "getrecordsbyquery"),
    "related_records": ("getrelatedrecords",),
    "users": ("getusers",),
    "timeline": ("gettimelines", "gettimeline", "getrecordtimeline"),
    "create_records": ("createrecords", "insertrecords", "insertrecord", "createrecord"),
    "create_notes": ("createnotes",),
    "update_record": ("updaterecord",),
    "update_records": ("updaterecords",),
    "fields": ("getfields",),
}
"""Our operation → Zoho's normalised tool names (prefix dropped, no underscores, lower case),
best first. ``Get_Records_By_Query`` is the older console spelling of ``executeCOQLQuery``."""

TOOL_LABEL: dict[str, str] = {
    "get_records": "ZohoCRM_getRecords",
    "get_record": "ZohoCRM_getRecord",
    "search_records": "ZohoCRM_searchRecords",
    "coql": "ZohoCRM_executeCOQLQuery",
    "related_records": "ZohoCRM_getRelatedRecords",
    "users": "ZohoCRM_getUsers",
    "timeline": "ZohoCRM_getTimelines",
    "create_records": "ZohoCRM_createRecords",
    "create_notes": "ZohoCRM_createNotes",
    "update_record": "ZohoCRM_updateRecord",
    "update_records": "ZohoCRM_updateRecords",
    "fields": "ZohoCRM_getFields",
}

_GROUPS = ("path_variables", "query_params", "body", "headers")
_ALIASES: dict[str, tuple[str, ...]] = {
    "module": ("module", "module_api_name", "moduleApiName", "module_name"),
    "record_id": ("recordId", "recordID", "record_id", "id"),
    "parent_module": (
        "parentRecordModule",
        "parent_record_module",
        "moduleApiName",
        "module_api_name",
        "module",
    ),
    "parent_id": (
        "parentRecord",
        "parentRecordId",
        "parent_record_id",
        "recordId",
        "recordID",
        "record_id",
        "id",
    ),
    "related_list": ("relatedList", "related_list", "relatedListApiName", "related_list_api_name"),
    "per_page": ("per_page", "perPage"),
    "page_token": ("page_token", "pageToken"),
    "sort_by": ("sort_by", "sortBy"),
    "sort_order": ("sort_order", "sortOrder"),
}
"""Our key → the spellings seen in Zoho's schemas (the first one is zoho/crm-oas's)."""


def normalised_operation(tool_name: str) -> str | None:
    """``ZohoCRM_Get_Records`` and ``ZohoCRM_getRecords`` → ``getrecords``; None for others."""
    if not tool_name.startswith(ZOHO_TOOL_PREFIX):
        return None
    return tool_name[len(ZOHO_TOOL_PREFIX) :].replace("_", "").lower()


def catalog_flavour(tool_names: Iterable[str]) -> Literal["sergas", "zoho"] | None:
    """Which catalog a tool list is: Zoho's ``ZohoCRM_*`` or our ``zoho_*``; None for neither."""
    names = list(tool_names)
    zoho = sum(name.startswith(ZOHO_TOOL_PREFIX) for name in names)
    ours = sum(name.startswith(SERGAS_TOOL_PREFIX) for name in names)
    if not zoho and not ours:
        return None
    return "zoho" if zoho > ours else "sergas"


def _properties(schema: object) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        return {}
    props = schema.get("properties")
    return dict(props) if isinstance(props, Mapping) else {}


@dataclass(frozen=True)
class ZohoTool:
    """One of Zoho's tools and the argument keys its input schema declares."""

    name: str
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Nested groups the schema declares → the property names each declares (maybe none)."""
    flat: frozenset[str] = frozenset()
    """Top-level properties that are not one of the nested groups."""

    @classmethod
    def from_tool(cls, tool: types.Tool) -> ZohoTool:
        top = _properties(tool.input_schema)
        groups = {group: frozenset(_properties(top[group])) for group in _GROUPS if group in top}
        return cls(tool.name, groups, frozenset(k for k in top if k not in _GROUPS))

    def spelling(self, key: str, group: str) -> str | None:
        names = self.groups.get(group, frozenset())
        header = group == "headers"
        for alias in _ALIASES.get(key, (key,)):
            for name in names:
                if name == alias or (header and name.lower() == alias.lower()):
                    return name
        return None

    def accepts(self, key: str, group: str = "query_params") -> bool:
        """Whether the schema lets ``key`` through (an undeclared schema lets anything)."""
        if group not in self.groups:
            return not self.groups and not self.flat
        return not self.groups[group] or self.spelling(key, group) is not None

    def arguments(
        self,
        *,
        path: Mapping[str, JsonValue] | None = None,
        query: Mapping[str, JsonValue] | None = None,
        body: Mapping[str, JsonValue] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], set[str]]:
        """The nested arguments for one call, spelled as the schema spells them, and the
        optional keys the schema has no room for (left out)."""
        arguments: dict[str, Any] = {}
        dropped: set[str] = set()

        def put(group: str, name: str, value: JsonValue) -> None:
            arguments.setdefault(group, {})[name] = value

        def place(key: str, value: JsonValue, preferred: str, essential: bool) -> None:
            for group in (
                preferred,
                *(g for g in ("path_variables", "query_params") if g != preferred),
            ):
                if (name := self.spelling(key, group)) is not None:
                    put(group, name, value)
                    return
            for alias in _ALIASES.get(key, (key,)):
                if alias in self.flat:
                    arguments[alias] = value
                    return
            declared = self.groups.get(preferred)
            undeclared = not self.groups and not self.flat  # no schema to go by: Zoho's nesting
            if essential or undeclared or declared == frozenset():
                put(preferred, _ALIASES.get(key, (key,))[0], value)
            else:
                dropped.add(key)

        for key, value in (path or {}).items():
            place(key, value, "path_variables", essential=True)
        for key, value in (query or {}).items():
            if value is not None:
                place(key, value, "query_params", essential=False)
        if body is not None:
            arguments["body"] = dict(body)
        for key, value in (headers or {}).items():
            if (name := self.spelling(key, "headers")) is not None:
                put("headers", name, value)
            else:
                dropped.add(key)
        return arguments, dropped


class ZohoCatalog:
    """What a Zoho MCP server offers, by our operation names (from its ``tools/list``)."""

    def __init__(self, tools: Sequence[types.Tool]) -> None:
        self.names: frozenset[str] = frozenset(tool.name for tool in tools)
        by_operation: dict[str, types.Tool] = {}
        for tool in tools:
            normalised = normalised_operation(tool.name)
            if normalised is not None:
                by_operation.setdefault(normalised, tool)
        self._tools: dict[str, ZohoTool] = {}
        for operation, candidates in _OPERATIONS.items():
            for candidate in candidates:
                if candidate in by_operation:
                    self._tools[operation] = ZohoTool.from_tool(by_operation[candidate])
                    break
        zoho = [n[len(ZOHO_TOOL_PREFIX) :] for n in self.names if n.startswith(ZOHO_TOOL_PREFIX)]
        title = sum(1 for n in zoho if "_" in n and n[:1].isupper())
        camel = sum(1 for n in zoho if "_" not in n and n[:1].islower())
        self.naming: Literal["Title_Case", "camelCase"] = (
            "Title_Case" if title > camel else "camelCase"
        )
        """The family most of the server's tool names belong to."""

    def get(self, operation: str) -> ZohoTool | None:
        return self._tools.get(operation)

    def has(self, operation: str) -> bool:
        return operation in self._tools

    def tool_name(self, operation: str) -> str:
        tool = self._tools.get(operation)
        return tool.name if tool else TOOL_LABEL[operation]

    def missing(self) -> list[str]:
        """Tools without which Sergas cannot review at all."""
        missing = []
        if not self.has("related_records"):
            missing.append(TOOL_LABEL["related_records"])
        if not self.has("get_records") and not self.has("coql"):
            missing.append(f"{TOOL_LABEL['get_records']} (or {TOOL_LABEL['coql']})")
        return missing

    def degraded(self) -> list[str]:
        """What Sergas does differently because of what this catalog lacks, in sentences."""
        notes: list[str] = []
        if not self.has("coql"):
            notes.append(
                "No COQL tool (ZohoCRM_executeCOQLQuery): the bulk sync, owner filters and the "
                "open-deals list read whole modules 200 records per call and filter them in "
                "Sergas, which costs more calls (and API credits) on a big org."
            )
        if not self.has("timeline"):
            notes.append(
                "No timeline tool (ZohoCRM_getTimelines): no field history, so executive-sponsor, "
                "amount and close-date changes are seen only by comparing snapshots between "
                "reviews."
            )
        if not self.has("users"):
            notes.append(
                "No users tool (ZohoCRM_getUsers): owners are learned from the Owner field of "
                "accounts, and Sergas cannot ask which user the server signs in as."
            )
        if not self.has("search_records"):
            notes.append(
                "No search tool (ZohoCRM_searchRecords): account search filters a listing of "
                "all accounts by name in Sergas, and Zoho criteria expressions are refused."
            )
        if not self.has("get_record"):
            notes.append(
                "No single-record tool (ZohoCRM_getRecord): account details come from "
                "ZohoCRM_getRecords with the account's id, without fields Zoho lists only "
                "for a single record."
            )
        if not self.has("create_records") and not self.has("create_notes"):
            notes.append(
                "No create tool (ZohoCRM_createRecords): approved tasks, notes, follow-up emails "
                "and escalations cannot be written; executing them fails."
            )
        elif not self.has("create_records"):
            notes.append(
                "No ZohoCRM_createRecords: approved notes are written with ZohoCRM_createNotes, "
                "but approved tasks, follow-up emails and escalations cannot be written."
            )
        if not self.has("fields"):
            notes.append(
                "No field metadata tool (ZohoCRM_getFields): the org's Accounts Rating picklist "
                "cannot be checked, so no Rating updates are proposed (except the demo org's own "
                "values) and approved account updates are sent unchecked."
            )
        update = self.get("update_record") or self.get("update_records")
        if update is None:
            notes.append(
                "No update tool (ZohoCRM_updateRecord): approved account updates cannot be "
                "written; executing them fails."
            )
        elif update.spelling("If-Unmodified-Since", "headers") is None:
            notes.append(
                f"{update.name} takes no If-Unmodified-Since header: before an approved account "
                "update Sergas reads the record and refuses if it changed since the approval's "
                "values were read, which leaves a moment in which another edit can slip in."
            )
        return notes


__all__ = [
    "SERGAS_TOOL_PREFIX",
    "TOOL_LABEL",
    "ZOHO_TOOL_PREFIX",
    "ZohoCatalog",
    "ZohoTool",
    "catalog_flavour",
    "normalised_operation",
]
