"""Which OAuth scopes a Zoho request needs (reference §1.3), for OAUTH_SCOPE_MISMATCH advice.

Scopes read ``ZohoCRM.<scope>.<operation>``; module names are lowercase. COQL needs
``ZohoCRM.coql.READ`` plus read access to the module it selects from; search also needs
``ZohoSearch.securesearch.READ``; related lists need read access to the related module; the
metadata APIs need ``ZohoCRM.settings.<area>.READ`` (field metadata:
``ZohoCRM.settings.fields.READ``) and the org ``ZohoCRM.org.READ``.
"""

from __future__ import annotations

import re

_OPERATIONS = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "PATCH": "UPDATE"}
_COQL_MODULE = re.compile(r"\bfrom\s+(\w+)", re.IGNORECASE)


def required_scopes(method: str, path: str, body: bytes = b"") -> tuple[str, ...]:
    """The scopes ``method path`` needs; ``body`` names the module of a COQL query."""
    parts = [p for p in path.split("/") if p]
    while parts and (parts[0] in ("crm", "bulk") or re.fullmatch(r"v\d+", parts[0])):
        parts.pop(0)
    if not parts:
        return ("ZohoCRM.modules.ALL",)
    head = parts[0]
    operation = _OPERATIONS.get(method.upper(), "DELETE")
    if head == "coql":
        scopes = ["ZohoCRM.coql.READ"]
        if match := _COQL_MODULE.search(body.decode("utf-8", "replace")):
            scopes.append(f"ZohoCRM.modules.{match[1].lower()}.READ")
        return tuple(scopes)
    if head == "users":
        return (f"ZohoCRM.users.{operation}",)
    if head == "settings":
        area = parts[1].lower() if len(parts) > 1 else ""
        return (f"ZohoCRM.settings.{area}.READ",) if area else ("ZohoCRM.settings.READ",)
    if head == "org":
        return ("ZohoCRM.org.READ",)
    scopes = [f"ZohoCRM.modules.{head.lower()}.{operation}"]
    if len(parts) > 1 and parts[1] == "search":
        scopes.append("ZohoSearch.securesearch.READ")
    elif len(parts) > 2:
        related = parts[2]
        if related == "Stage_History":
            related = "deals"
        if related != "__timeline":
            scopes.append(f"ZohoCRM.modules.{related.lower()}.READ")
    return tuple(dict.fromkeys(scopes))
