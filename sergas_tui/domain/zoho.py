"""Wire models: Zoho CRM v8 records exactly as the API sends them.

Attribute names are Zoho's API names (``Account_Name``, ``Closing_Date``); keys Python cannot
spell (``$se_module``, ``_value``) are aliases. Unknown keys are kept (``extra="allow"``) so
nothing a caller asked for is lost, and every optional field is :data:`Lenient`, so one odd value
never sinks a page of records. Turn these into domain records with :mod:`.convert`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
)

from sergas_tui.domain.common import Lenient

_SE_MODULE = Field(
    default=None,
    alias="$se_module",
    validation_alias=AliasChoices("$se_module", "se_module"),
)


class ZohoModel(BaseModel):
    """Base of every wire model: keep unknown keys, accept names or aliases, ids as strings."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


def _lookup_from_scalar(value: Any) -> Any:
    """Zoho sometimes sends a bare id where a lookup object is documented."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return {"id": str(value)}
    return value


class ZohoUserRef(ZohoModel):
    """``Owner``, ``Created_By``, ``Modified_By``: ``{"name", "id", "email"}``."""

    id: str
    name: Lenient[str] = None
    email: Lenient[str] = None


class ZohoLookup(ZohoModel):
    """A lookup field such as ``Account_Name`` on a deal: ``{"name", "id"}``."""

    id: str
    name: Lenient[str] = None


ZohoLookupField = Lenient[Annotated[ZohoLookup, BeforeValidator(_lookup_from_scalar)]]
"""An optional lookup that also accepts a bare id and turns garbage into ``None``."""


class ZohoModuleRef(ZohoModel):
    """``{"api_name": "Accounts", "id": "..."}`` as used in note parents and timelines."""

    api_name: Lenient[str] = None
    id: Lenient[str] = None


class ZohoUser(ZohoModel):
    """A row of ``GET /crm/v8/users`` (Zoho uses lowercase keys here)."""

    id: str
    full_name: Lenient[str] = None
    first_name: Lenient[str] = None
    last_name: Lenient[str] = None
    email: Lenient[str] = None
    status: Lenient[str] = None
    role: ZohoLookupField = None
    profile: ZohoLookupField = None
    time_zone: Lenient[str] = None


class _Record(ZohoModel):
    """Fields every CRM record carries."""

    id: str
    Owner: Lenient[ZohoUserRef] = None
    Created_Time: Lenient[datetime] = None
    Modified_Time: Lenient[datetime] = None
    Created_By: Lenient[ZohoUserRef] = None
    Modified_By: Lenient[ZohoUserRef] = None


class ZohoAccount(_Record):
    """An Accounts record (the fields Sergas reads; everything else stays in extras)."""

    Account_Name: Lenient[str] = None
    Account_Number: Lenient[str] = None
    Account_Type: Lenient[str] = None
    Industry: Lenient[str] = None
    Annual_Revenue: Lenient[float] = None
    Rating: Lenient[str] = None
    Employees: Lenient[int] = None
    Phone: Lenient[str] = None
    Website: Lenient[str] = None
    Description: Lenient[str] = None
    Billing_City: Lenient[str] = None
    Billing_Country: Lenient[str] = None
    Parent_Account: ZohoLookupField = None
    Last_Activity_Time: Lenient[datetime] = None


class ZohoContact(_Record):
    """A Contacts record. ``Contact_Role`` appears on a deal's Contact Roles related list."""

    First_Name: Lenient[str] = None
    Last_Name: Lenient[str] = None
    Full_Name: Lenient[str] = None
    Email: Lenient[str] = None
    Phone: Lenient[str] = None
    Mobile: Lenient[str] = None
    Title: Lenient[str] = None
    Department: Lenient[str] = None
    Contact_Role: Lenient[str] = None
    Account_Name: ZohoLookupField = None
    Last_Activity_Time: Lenient[datetime] = None

    @field_validator("Contact_Role", mode="before")
    @classmethod
    def _role_name(cls, value: Any) -> Any:
        # The role may come as a lookup object ({"name": "Decision Maker", "id": ...}).
        return value.get("name") if isinstance(value, dict) else value


class ZohoDeal(_Record):
    """A Deals record."""

    Deal_Name: Lenient[str] = None
    Account_Name: ZohoLookupField = None
    Contact_Name: ZohoLookupField = None
    Stage: Lenient[str] = None
    Amount: Lenient[float] = None
    Closing_Date: Lenient[date] = None
    Probability: Lenient[float] = None
    Expected_Revenue: Lenient[float] = None
    Type: Lenient[str] = None
    Next_Step: Lenient[str] = None
    Lead_Source: Lenient[str] = None
    Pipeline: Lenient[str] = None
    Description: Lenient[str] = None
    Last_Activity_Time: Lenient[datetime] = None


class ZohoStageHistory(ZohoModel):
    """A row of a deal's ``Stage_History`` related list."""

    id: Lenient[str] = None
    Stage: Lenient[str] = None
    Amount: Lenient[float] = None
    Probability: Lenient[float] = None
    Expected_Revenue: Lenient[float] = None
    Close_Date: Lenient[date] = Field(
        default=None, validation_alias=AliasChoices("Close_Date", "Closing_Date")
    )
    Modified_Time: Lenient[datetime] = None
    Modified_By: Lenient[ZohoUserRef] = None


class _Activity(_Record):
    """Fields shared by Tasks, Events and Calls: the related contact and record."""

    Subject: Lenient[str] = None
    Description: Lenient[str] = None
    Who_Id: ZohoLookupField = None
    What_Id: ZohoLookupField = None
    se_module: Lenient[str] = _SE_MODULE


class ZohoTask(_Activity):
    """A Tasks record; ``$se_module`` names the module of ``What_Id``."""

    Due_Date: Lenient[date] = None
    Status: Lenient[str] = None
    Priority: Lenient[str] = None
    Closed_Time: Lenient[datetime] = None


class ZohoEvent(_Activity):
    """An Events (meetings) record; Zoho titles events ``Event_Title``, not ``Subject``."""

    Event_Title: Lenient[str] = None
    Start_DateTime: Lenient[datetime] = None
    End_DateTime: Lenient[datetime] = None
    Venue: Lenient[str] = None
    All_day: Lenient[bool] = None


class ZohoCall(_Activity):
    """A Calls record."""

    Call_Type: Lenient[str] = None
    Call_Start_Time: Lenient[datetime] = None
    Call_Duration: Lenient[str] = None
    Call_Status: Lenient[str] = None
    Call_Result: Lenient[str] = None


class ZohoNoteParent(ZohoModel):
    """The current ``Parent_Id`` shape: ``{"module": {"api_name": ...}, "id", "name"}``."""

    id: str
    name: Lenient[str] = None
    module: Lenient[ZohoModuleRef] = None

    @field_validator("module", mode="before")
    @classmethod
    def _module_name(cls, value: Any) -> Any:
        return {"api_name": value} if isinstance(value, str) else value


class ZohoNote(_Record):
    """A Notes record. ``Parent_Id`` is either :class:`ZohoNoteParent` or (legacy) a bare id
    with the parent module in ``$se_module``/``se_module``."""

    Note_Title: Lenient[str] = None
    Note_Content: Lenient[str] = None
    Parent_Id: Lenient[ZohoNoteParent | str] = None
    se_module: Lenient[str] = _SE_MODULE

    def parent(self) -> tuple[str | None, str | None, str | None]:
        """The parent as ``(module, id, name)``, whichever shape Zoho sent."""
        match self.Parent_Id:
            case ZohoNoteParent() as p:
                module = p.module.api_name if p.module is not None else None
                return (module or self.se_module, p.id, p.name)
            case str() as record_id:
                return (self.se_module, record_id, None)
            case _:
                return (self.se_module, None, None)


class ZohoFieldValue(ZohoModel):
    """``_value`` of a timeline field change."""

    old: JsonValue = None
    new: JsonValue = None


class ZohoFieldHistory(ZohoModel):
    """One changed field in a timeline entry."""

    api_name: Lenient[str] = None
    field_label: Lenient[str] = None
    data_type: Lenient[str] = None
    id: Lenient[str] = None
    value: Lenient[ZohoFieldValue] = Field(default=None, alias="_value")


class ZohoTimelineRecord(ZohoModel):
    """``record``/``related_record`` of a timeline entry."""

    id: Lenient[str] = None
    name: Lenient[str] = None
    module: Lenient[ZohoModuleRef] = None


class ZohoTimelineEntry(ZohoModel):
    """One entry of ``GET /crm/v8/{module}/{id}/__timeline``."""

    audited_time: Lenient[datetime] = None
    action: Lenient[str] = None
    source: Lenient[str] = None
    type: Lenient[str] = None
    done_by: Lenient[ZohoUserRef] = None
    record: Lenient[ZohoTimelineRecord] = None
    related_record: Lenient[ZohoTimelineRecord] = None
    field_history: list[ZohoFieldHistory] = Field(default_factory=list)

    @field_validator("field_history", mode="before")
    @classmethod
    def _history_list(cls, value: Any) -> Any:
        # Null or an unexpected shape means "no field changes", and bad items are dropped.
        if not isinstance(value, list):
            return []
        return [item for item in value if isinstance(item, dict)]
