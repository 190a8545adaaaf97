"""Constant word lists the demo generator combines into names, places and text.

Everything here is a tuple (immutable) so the generator stays a pure function of its seed.
"""

from __future__ import annotations

from collections.abc import Mapping

from sergas_tui.domain import picklists
from sergas_tui.domain.picklists import picklist_values

FIRST_NAMES: tuple[str, ...] = (
    "Aaliyah", "Aaron", "Abigail", "Adrian", "Aisha", "Alejandro", "Alice", "Amara", "Amir",
    "Ana", "Andre", "Anika", "Arjun", "Astrid", "Beatriz", "Ben", "Bianca", "Bruno", "Camila",
    "Carlos", "Chen", "Chloe", "Clara", "Daniel", "Daria", "David", "Diego", "Elena", "Elif",
    "Emeka", "Emma", "Farah", "Felix", "Fatima", "Gabriel", "Grace", "Hannah", "Hiroshi", "Ines",
    "Isaac", "Ivan", "Jamal", "James", "Jana", "Javier", "Julia", "Kai", "Kavya", "Kenji",
    "Laura", "Leila", "Liam", "Lucas", "Lucia", "Maya", "Mateo", "Mei", "Mohammed", "Nadia",
    "Naomi", "Nikhil", "Nina", "Noah", "Olga", "Omar", "Oscar", "Paula", "Pedro", "Quinn",
    "Rafael", "Rania", "Ravi", "Rosa", "Samuel", "Sara", "Sofia", "Tariq", "Theo", "Tomas",
    "Uma", "Valentina", "Victor", "Wei", "Yara", "Yusuf", "Zainab", "Zoe",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Abbott", "Adeyemi", "Alvarez", "Andersen", "Bakker", "Banerjee", "Barros", "Becker",
    "Bianchi", "Brennan", "Campbell", "Castillo", "Chowdhury", "Costa", "Dalton", "Dubois",
    "Eriksson", "Esposito", "Farrell", "Fischer", "Fonseca", "Garcia", "Gill", "Goldberg",
    "Haddad", "Hansen", "Hughes", "Ibrahim", "Ito", "Jensen", "Kaur", "Keller", "Kim",
    "Kowalski", "Larsen", "Lindqvist", "Lopez", "Mahmoud", "Marino", "Martins", "Mehta",
    "Moreau", "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Oliveira", "Osei", "Park",
    "Patel", "Pereira", "Petrov", "Quinn", "Ramos", "Reyes", "Rossi", "Sato", "Schmidt",
    "Silva", "Singh", "Sousa", "Tanaka", "Torres", "Van Dijk", "Vargas", "Walsh", "Weber",
    "Wong", "Yilmaz", "Zhang", "Zimmermann",
)  # fmt: skip

COMPANY_PREFIXES: tuple[str, ...] = (
    "Acorn", "Alder", "Alpine", "Amber", "Apex", "Arbor", "Argent", "Aspen", "Atlas", "Aurora",
    "Beacon", "Birch", "Blue Harbor", "Bluestone", "Boreal", "Brightline", "Canyon", "Cardinal",
    "Cascade", "Cedar", "Clearwater", "Cobalt", "Copper", "Coral", "Crescent", "Crown",
    "Cypress", "Delta", "Driftwood", "Eastgate", "Ember", "Evergreen", "Falcon", "Fieldstone",
    "Firefly", "Foxglove", "Granite", "Greenfield", "Harborview", "Hawthorne", "Highland",
    "Horizon", "Indigo", "Ironwood", "Juniper", "Keystone", "Kingfisher", "Lakeshore",
    "Lantern", "Larkspur", "Lighthouse", "Maple", "Marigold", "Meadow", "Meridian", "Monarch",
    "Northwind", "Oakridge", "Obsidian", "Orchard", "Pacific", "Paragon", "Pinnacle",
    "Polaris", "Prairie", "Quartz", "Redwood", "Ridgeline", "Riverbend", "Sable", "Saffron",
    "Sagebrush", "Sandstone", "Sequoia", "Sierra", "Silverleaf", "Skyline", "Sparrow",
    "Starling", "Summit", "Sunridge", "Tamarack", "Thistle", "Timberline", "Trident",
    "Tundra", "Union", "Vantage", "Verdant", "Vista", "Westbrook", "Willow", "Windward",
    "Zenith", "Zephyr",
)  # fmt: skip

COMPANY_CORES: tuple[str, ...] = (
    "Aerospace", "Agritech", "Analytics", "Apparel", "Architects", "Automation", "Bank",
    "Biosciences", "Brewing", "Builders", "Capital", "Chemicals", "Clinics", "Cloud",
    "Communications", "Construction", "Consulting", "Dairy", "Data", "Dental", "Design",
    "Diagnostics", "Distribution", "Electric", "Energy", "Engineering", "Farms", "Fintech",
    "Fitness", "Foods", "Freight", "Furniture", "Games", "Health", "Hospitality", "Imaging",
    "Insurance", "Labs", "Learning", "Legal", "Logistics", "Machinery", "Marine", "Media",
    "Medical", "Metals", "Mining", "Motors", "Networks", "Optics", "Packaging", "Pharma",
    "Plastics", "Power", "Properties", "Publishing", "Retail", "Robotics", "Security",
    "Semiconductors", "Shipping", "Software", "Solar", "Sports", "Steel", "Systems",
    "Telecom", "Textiles", "Tools", "Travel", "Utilities", "Ventures", "Water", "Wellness",
    "Wines",
)  # fmt: skip

COMPANY_SUFFIXES: tuple[str, ...] = (
    "Inc.", "Ltd", "LLC", "GmbH", "S.A.", "Group", "Co.", "Corp.", "plc", "AG", "B.V.",
    "Pty Ltd", "S.r.l.", "Holdings", "Partners",
)  # fmt: skip

# (city, state or region, country)
PLACES: tuple[tuple[str, str, str], ...] = (
    ("Austin", "TX", "United States"), ("Boston", "MA", "United States"),
    ("Chicago", "IL", "United States"), ("Denver", "CO", "United States"),
    ("Seattle", "WA", "United States"), ("Atlanta", "GA", "United States"),
    ("Toronto", "ON", "Canada"), ("Vancouver", "BC", "Canada"),
    ("London", "England", "United Kingdom"), ("Manchester", "England", "United Kingdom"),
    ("Dublin", "Leinster", "Ireland"), ("Berlin", "Berlin", "Germany"),
    ("Munich", "Bavaria", "Germany"), ("Paris", "Ile-de-France", "France"),
    ("Lyon", "Auvergne-Rhone-Alpes", "France"), ("Madrid", "Madrid", "Spain"),
    ("Lisbon", "Lisboa", "Portugal"), ("Milan", "Lombardy", "Italy"),
    ("Amsterdam", "North Holland", "Netherlands"), ("Stockholm", "Stockholm", "Sweden"),
    ("Zurich", "Zurich", "Switzerland"), ("Warsaw", "Masovia", "Poland"),
    ("Sao Paulo", "SP", "Brazil"), ("Mexico City", "CDMX", "Mexico"),
    ("Bogota", "Cundinamarca", "Colombia"), ("Sydney", "NSW", "Australia"),
    ("Melbourne", "VIC", "Australia"), ("Auckland", "Auckland", "New Zealand"),
    ("Singapore", "Singapore", "Singapore"), ("Tokyo", "Tokyo", "Japan"),
    ("Bengaluru", "Karnataka", "India"), ("Dubai", "Dubai", "United Arab Emirates"),
    ("Cape Town", "Western Cape", "South Africa"), ("Nairobi", "Nairobi", "Kenya"),
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Market Street", "Harbour Road", "King Street", "Station Road", "Main Street",
    "Innovation Way", "Park Avenue", "Mill Lane", "Commerce Drive", "Riverside Walk",
)  # fmt: skip

TIME_ZONES: tuple[str, ...] = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "Europe/London", "Europe/Berlin", "Europe/Madrid", "Asia/Singapore", "Australia/Sydney",
)  # fmt: skip

INDUSTRIES: tuple[str, ...] = (
    "Communications", "Consulting", "Education", "Financial Services", "Government/Military",
    "Healthcare", "Manufacturing", "Retail", "Technology", "Transportation", "Energy",
    "Hospitality", "Real Estate", "Media", "Non-profit", "Large Enterprise",
    "Small/Medium Enterprise", "Systems Integrator", "Service Provider",
)  # fmt: skip

ACCOUNT_TYPES: tuple[str, ...] = (
    "Customer", "Prospect", "Partner", "Reseller", "Integrator", "Investor", "Vendor",
)  # fmt: skip
ACCOUNT_TYPE_WEIGHTS: tuple[int, ...] = (55, 25, 7, 6, 3, 2, 2)

# Accounts Rating values the demo draws (all Zoho defaults but Shut Down), in draw order.
RATINGS = picklist_values(
    picklists.RATINGS, "Active", "Acquired", "Market Failed", "Project Cancelled"
)
RATING_WEIGHTS: tuple[int, ...] = (80, 8, 6, 6)

OWNERSHIPS: tuple[str, ...] = ("Public", "Private", "Privately Held", "Partnership", "Other")

LEAD_SOURCES: tuple[str, ...] = (
    "Advertisement", "Cold Call", "Employee Referral", "External Referral", "Partner",
    "Public Relations", "Seminar Partner", "Trade Show", "Web Download", "Web Research",
    "Chat",
)  # fmt: skip

CONTACT_ROLES: tuple[str, ...] = (
    "Executive Sponsor", "Champion", "Economic Buyer", "Technical Evaluator", "End User",
    "Influencer",
)  # fmt: skip

# Job titles that go with each contact role.
ROLE_TITLES: Mapping[str, tuple[str, ...]] = {
    "Executive Sponsor": ("Chief Executive Officer", "Chief Operating Officer", "CFO", "CIO"),
    "Champion": ("Director of Operations", "Head of IT", "VP Engineering", "Program Manager"),
    "Economic Buyer": ("VP Finance", "Procurement Director", "Head of Purchasing"),
    "Technical Evaluator": ("Solutions Architect", "IT Manager", "Lead Engineer"),
    "End User": ("Operations Analyst", "Team Lead", "Coordinator", "Specialist"),
    "Influencer": ("Board Advisor", "Senior Consultant", "Regional Manager"),
}

# Departments that go with each contact role.
ROLE_DEPARTMENTS: Mapping[str, tuple[str, ...]] = {
    "Executive Sponsor": ("Executive",),
    "Champion": ("Operations", "IT", "Engineering"),
    "Economic Buyer": ("Finance", "Procurement"),
    "Technical Evaluator": ("IT", "Engineering"),
    "End User": ("Operations", "Sales", "Customer Service"),
    "Influencer": ("Executive", "Sales", "Operations"),
}

PRODUCTS: tuple[str, ...] = (
    "Platform Licence", "Analytics Add-on", "Fleet Telematics", "Support Upgrade",
    "Data Migration", "Onboarding Services", "Security Suite", "Field Service Module",
    "Enterprise Tier", "API Access", "Reporting Pack", "Training Programme",
    "Integration Bundle", "Managed Services", "Cold Chain Monitoring", "Mobile Rollout",
)  # fmt: skip

TASK_SUBJECTS: tuple[str, ...] = (
    "Send proposal", "Follow up on pricing", "Schedule QBR", "Share case study",
    "Prepare renewal quote", "Confirm security questionnaire", "Send contract redlines",
    "Book onboarding kickoff", "Check in after go-live", "Send ROI summary",
    "Update mutual action plan", "Chase signed order form", "Introduce support lead",
)  # fmt: skip
# Open task statuses (all but Completed), in the order the demo draws them.
TASK_STATUSES_OPEN = picklist_values(
    picklists.TASK_STATUSES, "Not Started", "In Progress", "Waiting for input", "Deferred"
)
PRIORITIES: tuple[str, ...] = picklists.TASK_PRIORITIES
PRIORITY_WEIGHTS: tuple[int, ...] = (5, 25, 50, 15, 5)

EVENT_TITLES: tuple[str, ...] = (
    "Quarterly business review", "Product demo", "Discovery workshop", "Pricing discussion",
    "Executive alignment", "Technical deep dive", "Renewal planning", "Onboarding kickoff",
    "Roadmap preview", "Contract walkthrough",
)  # fmt: skip

CALL_SUBJECTS: tuple[str, ...] = (
    "Check-in call", "Pricing follow-up", "Renewal call", "Intro call", "Support escalation",
    "Budget discussion", "Reference call", "Implementation update",
)  # fmt: skip
CALL_PURPOSES: tuple[str, ...] = (
    "Prospecting", "Administrative", "Negotiation", "Demo", "Project", "Desk",
)  # fmt: skip
CALL_RESULTS: tuple[str, ...] = (
    "Interested", "Requested more info", "Requested call back", "No response/Busy",
    "Not interested",
)  # fmt: skip

COMPETITORS: tuple[str, ...] = (
    "Quillsoft", "Brackenridge Systems", "Orbital CRM", "Nimbus Works", "Vectra Suite",
)  # fmt: skip

NOTE_TOPICS: tuple[str, ...] = (
    "the rollout plan", "renewal terms", "support response times", "the pricing proposal",
    "the integration roadmap", "user adoption", "the security review", "the Q1 budget",
    "the expansion to the second site", "training needs", "the data migration",
)  # fmt: skip

NOTE_POSITIVE: tuple[str, ...] = (
    "They are very happy with the rollout so far.",
    "Budget approved for Q1.",
    "Renewal intent confirmed.",
    "The champion is actively selling internally for us.",
    "Adoption is up across every team this quarter.",
    "Great feedback from the operations team on the new dashboards.",
    "They asked us to quote for two more sites.",
    "Executive sponsor joined the call and was enthusiastic.",
    "Security review passed without findings.",
    "They want to present a joint case study at their conference.",
)
NOTE_NEUTRAL: tuple[str, ...] = (
    "Walked through the current usage numbers.",
    "They need another week to review internally.",
    "Procurement will come back with questions on the terms.",
    "No change in headcount expected this year.",
    "Agreed to revisit after their planning cycle.",
    "Shared the updated documentation links.",
    "Their fiscal year starts in April.",
    "IT is reviewing the integration requirements.",
)
NOTE_NEGATIVE: tuple[str, ...] = (
    "Raised concerns about support response times.",
    "They are evaluating {competitor} as an alternative.",
    "Budget freeze announced; project on hold.",
    "Adoption has dropped since the reorganisation.",
    "The champion has gone quiet and missed our last two calls.",
    "Complained about the last invoice and the price increase.",
    "Procurement is pushing for a 20% discount or they will not renew.",
    "Escalated an outage that affected their month-end close.",
    "New leadership is questioning the value of the platform.",
)
NOTE_COMMITMENTS: tuple[str, ...] = (
    "Budget approved for Q1.",
    "Renewal intent confirmed.",
    "Verbal commitment to sign by month end.",
    "They committed to a pilot with 50 users.",
    "Legal review to be completed within two weeks.",
)
NEXT_STEPS: tuple[str, ...] = (
    "Send revised proposal", "Book executive alignment call", "Chase procurement",
    "Run technical deep dive", "Agree mutual action plan", "Confirm legal review date",
    "Share ROI analysis", "Schedule pilot kickoff", "Get signature on order form",
)  # fmt: skip
NOTE_TITLES: tuple[str, ...] = (
    "Meeting recap", "Call notes", "QBR summary", "Account update", "Renewal check-in",
    "Pricing discussion", "Internal note", "Site visit",
)  # fmt: skip
