"""Plausible field values for demo records: working-hours times, phones, company and contact fields.

Shared by the random filler and the hand-written scenario accounts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

from sergas_tui.demo import text, words
from sergas_tui.demo.model import JsonDict

_EMPLOYEES: tuple[int, ...] = (12, 35, 80, 150, 250, 480, 900, 1_500, 3_200, 8_000, 25_000)


def office_hours(moment: datetime, ceiling: datetime) -> datetime:
    """Move ``moment`` into 08:00-17:59 UTC of its day (or the day before, to stay <= ceiling)."""
    moved = moment.replace(hour=8 + moment.hour % 10)
    return moved if moved <= ceiling else moved - timedelta(days=1)


def back(rng: Random, now: datetime, low_days: float, high_days: float) -> datetime:
    """A working-hours moment about ``low_days`` to ``high_days`` before ``now``."""
    seconds = rng.randint(int(low_days * 86_400), int(high_days * 86_400))
    ceiling = now - timedelta(days=low_days)
    return office_hours(now - timedelta(seconds=seconds), ceiling)


def between(rng: Random, start: datetime, end: datetime) -> datetime:
    """A moment in ``[start, end]``, to the second."""
    return start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds())))


def phone(rng: Random) -> str:
    """A fictional phone number in the 555-01xx range reserved for fiction."""
    return f"+1 {rng.randint(201, 989)} 555 01{rng.randint(0, 99):02d}"


def company_fields(
    rng: Random, name: str, number: int, account_type: str, *, sensitive: bool
) -> JsonDict:
    """Every optional account field, filled with plausible values."""
    city, state, country = rng.choice(words.PLACES)
    industry = rng.choice(words.INDUSTRIES)
    employees = rng.choice(_EMPLOYEES)
    fields: JsonDict = {
        "Account_Number": f"AC-{number:06d}",
        "Account_Type": account_type,
        "Account_Site": "Headquarters",
        "Industry": industry,
        "Annual_Revenue": employees * rng.randint(60, 420) * 1_000,
        "Employees": employees,
        "Rating": rng.choices(words.RATINGS, words.RATING_WEIGHTS)[0],
        "Ownership": rng.choice(words.OWNERSHIPS),
        "Phone": phone(rng),
        "Website": f"https://www.{text.slug(name)}.example",
        "Parent_Account": None,
        "Billing_Street": f"{rng.randint(1, 480)} {rng.choice(words.STREETS)}",
        "Billing_City": city,
        "Billing_State": state,
        "Billing_Code": f"{rng.randint(10_000, 99_999)}",
        "Billing_Country": country,
        "Description": text.company_description(rng, industry, city, country),
    }
    if sensitive:
        fields["Tax_ID"] = f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}"
        fields["Bank_Account"] = (
            f"GB{rng.randint(10, 99)} DEMO {rng.randint(1000, 9999)} "
            f"{rng.randint(1000, 9999)} {rng.randint(10, 99)}"
        )
    return fields


def contact_fields(
    rng: Random, first: str, last: str, domain: str, role: str, *, sensitive: bool
) -> JsonDict:
    """Every optional contact field for a person in ``role`` at ``domain``."""
    city, _, country = rng.choice(words.PLACES)
    local = f"{first}.{last}".lower().replace(" ", "")
    fields: JsonDict = {
        "Email": f"{local}@{domain}",
        "Phone": phone(rng),
        "Mobile": phone(rng),
        "Title": rng.choice(words.ROLE_TITLES[role]),
        "Department": rng.choice(words.ROLE_DEPARTMENTS[role]),
        "Contact_Role": role,
        "Lead_Source": rng.choice(words.LEAD_SOURCES),
        "Mailing_City": city,
        "Mailing_Country": country,
        "Email_Opt_Out": False,
    }
    if sensitive:
        fields["Personal_Email"] = f"{local.replace('.', '')}{rng.randint(1, 99)}@mail.example"
        fields["Date_of_Birth"] = f"{rng.randint(1958, 2000)}-{rng.randint(1, 12):02d}-" + (
            f"{rng.randint(1, 28):02d}"
        )
        fields["Home_Address"] = f"{rng.randint(1, 200)} {rng.choice(words.STREETS)}, {city}"
    return fields
