"""The configuration's sections: one pydantic model per ``[section]`` of the file, with each
setting's default, limits and meaning (its attribute docstring, which ``sergas config init``
writes as the comment above it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DataCentre = Literal["us", "eu", "in", "au", "jp", "cn", "ca", "sa"]
ZohoMode = Literal["auto", "demo", "rest", "mcp"]
McpFlavour = Literal["auto", "sergas", "zoho"]
EngineChoice = Literal["auto", "rules", "claude"]
MemoryBackend = Literal["local", "cognee"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# Zoho accounts servers and API domains per data centre (reference/zoho-crm.md §1.2).
ZOHO_ACCOUNTS_SERVERS: dict[str, str] = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}
ZOHO_API_DOMAINS: dict[str, str] = {
    "us": "https://www.zohoapis.com",
    "eu": "https://www.zohoapis.eu",
    "in": "https://www.zohoapis.in",
    "au": "https://www.zohoapis.com.au",
    "jp": "https://www.zohoapis.jp",
    "cn": "https://www.zohoapis.com.cn",
    "ca": "https://www.zohoapis.ca",
    "sa": "https://www.zohoapis.sa",
}


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, use_attribute_docstrings=True
    )


class ZohoSettings(Section):
    mode: ZohoMode = "auto"
    """How Sergas reaches Zoho: 'demo' (built-in simulator), 'rest' (Zoho REST API), 'mcp'
    (a Zoho MCP endpoint) or 'auto' (rest when client_id is set, mcp when an MCP endpoint or
    command is set or mcp_flavour is 'zoho', otherwise demo)."""
    data_centre: DataCentre = "us"
    """The Zoho data centre of your org; selects the accounts server and API domain."""
    client_id: str | None = Field(default=None, examples=["1000.ABCDEF123456"])
    """OAuth client id of your Zoho Self Client. The client secret and refresh token go in the
    keyring (`sergas auth set zoho_client_secret`, `sergas auth set zoho_refresh_token`)."""
    user_email: str | None = Field(default=None, examples=["you@example.com"])
    """Your Zoho user email: whose accounts are 'mine'. The demo uses its own local user."""
    accounts_url: str | None = Field(default=None, examples=["https://accounts.zoho.eu"])
    """Override of the accounts server URL (normally derived from data_centre)."""
    api_domain: str | None = Field(default=None, examples=["https://www.zohoapis.eu"])
    """Override of the API domain (normally taken from the token response)."""
    mcp_endpoint: str | None = Field(default=None, examples=["http://127.0.0.1:8765/mcp"])
    """Streamable-HTTP URL of a Zoho MCP server (ours or a shared one)."""
    mcp_command: list[str] | None = Field(default=None, examples=[["sergas", "mcp", "zoho"]])
    """Command that starts a Zoho MCP server on stdio, e.g. ["sergas", "mcp", "zoho"]."""
    mcp_flavour: McpFlavour = "auto"
    """Which tool catalog the MCP server speaks: 'sergas' (our `sergas mcp zoho`, tools
    zoho_*), 'zoho' (Zoho's own hosted MCP server, tools ZohoCRM_*; its URL, which holds a
    secret key, goes in the keyring with `sergas auth set zoho_mcp_url` unless mcp_endpoint is
    set) or 'auto' (told apart by the tools the server lists)."""
    extra_fields: dict[str, list[str]] = Field(default_factory=dict)
    """Custom fields to read per module in a sync, e.g. {"Contacts" = ["Contact_Role"]} when
    your org records buying roles in a custom Contacts field (it becomes the contact's role)."""
    requests_per_minute: int = Field(default=120, ge=1, le=10_000)
    """Client-side rate limit for Zoho API calls."""
    concurrent_requests: int = Field(default=5, ge=1, le=25)
    """Maximum Zoho API calls in flight at once."""
    retry_max_attempts: int = Field(default=3, ge=0, le=10)
    """Retries after a 429, 5xx, timeout or connection error."""
    retry_initial_delay_ms: int = Field(default=1000, ge=0, le=60_000)
    """First backoff delay; doubles on each retry, with jitter."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Timeout of one Zoho HTTP request."""
    org_id: str | None = Field(default=None, pattern=r"^(org)?\d{1,20}$", examples=["74822955"])
    """Your org's id in Zoho's web UI: the digits after 'crm/org' in the browser's address bar
    (the 'zgid' of GET /crm/v8/org). Links to records (briefs, the 'o' key) then open in that
    org; without it they open in your default org."""
    web_url: str | None = Field(default=None, examples=["https://crm.zoho.eu"])
    """Override of Zoho CRM's web address used for links to records (normally derived from
    data_centre, e.g. https://crm.zoho.eu for 'eu')."""
    home_currency: str = Field(default="USD", pattern=r"^[A-Za-z]{3}$")
    """Your org's home currency (ISO code): amounts of records without a Currency field are
    shown in it."""
    people: dict[str, str] = Field(default_factory=dict)
    """Who a role named by a recommendation is, e.g. {sales_manager = "Dana Whitfield
    <dana@example.com>"}: escalations then show the person instead of the role."""

    def resolved_mode(self) -> Literal["demo", "rest", "mcp"]:
        if self.mode != "auto":
            return self.mode
        if self.client_id:
            return "rest"
        if self.mcp_endpoint or self.mcp_command or self.mcp_flavour == "zoho":
            return "mcp"
        return "demo"

    def accounts_server(self) -> str:
        return self.accounts_url or ZOHO_ACCOUNTS_SERVERS[self.data_centre]


class AnthropicSettings(Section):
    engine: EngineChoice = "auto"
    """Which engine runs the subagents: 'rules' (deterministic, offline), 'claude' (Claude Agent
    SDK) or 'auto' (claude when an Anthropic API key is available, otherwise rules)."""
    model: str = "claude-sonnet-4-5"
    """Model used by the subagents."""
    model_simple: str | None = Field(default=None, examples=["claude-haiku-4-5"])
    """A cheaper model for simple accounts: no open deal and at most one risk signal, of
    severity info or warning. The others go to `model`. Unset: every account goes to
    `model`."""
    max_tokens: int = Field(default=8192, ge=256, le=64_000)
    """Maximum output tokens per model turn."""
    temperature: float | None = Field(default=None, ge=0.0, le=1.0, deprecated=True)
    """Deprecated, no effect: the Claude Code CLI that runs the engine offers no temperature
    option or setting. Still accepted in a config file; `deprecations()` says so."""
    base_url: str | None = Field(default=None, examples=["https://llm-gateway.example.com"])
    """Override of the Messages API URL (for a gateway or proxy)."""
    max_cost_usd: float | None = Field(default=None, gt=0, examples=[5.0])
    """Stop a review gracefully once its model cost reaches this many dollars."""


class MemorySettings(Section):
    backend: MemoryBackend = "local"
    """'local' (SQLite full-text memory in the workspace) or 'cognee' (needs sergas[cognee])."""
    endpoint: str | None = Field(default=None, examples=["http://memory.internal:8766/mcp"])
    """URL of a shared memory MCP server; when set, it is used instead of a local backend."""
    stale_after_days: int = Field(default=30, ge=1, le=3650)
    """Memory older than this is flagged for re-ingestion."""
    embedding_provider: Literal["offline", "openai", "ollama", "openai_compatible", "minilm"] = (
        "offline"
    )
    """Embedding provider for the Cognee backend; 'offline' is deterministic and local."""
    embedding_model: str | None = Field(default=None, examples=["text-embedding-3-small"])
    """Embedding model name for the chosen provider."""


class OrchestratorSettings(Section):
    schedule_cron: str = "0 6 * * *"
    """When the scheduled review runs (five cron fields): the workers' periodic task (`sergas
    worker`, team mode) then queues one review per owner, as `sergas schedule` does."""
    schedule_timezone: str | None = Field(default=None, examples=["Europe/Madrid"])
    """The time zone schedule_cron is read in (an IANA name); unset: the machine's own."""
    max_parallel_subagents: int = Field(default=10, ge=1, le=64)
    """Upper bound on concurrent subagent sessions (Claude CLI processes) and on the accounts the
    rules engine processes at once; the Claude engine keeps up to 3 × author_batch_size accounts
    in flight per model ([anthropic] model_simple makes two) so that its requests carry full
    batches."""
    session_timeout_minutes: int = Field(default=30, ge=1, le=1440)
    """A review run is stopped after this long."""
    approval_timeout_hours: int = Field(default=72, ge=1, le=24 * 30)
    """Pending approvals expire after this long."""
    stage_history_budget: int = Field(default=60, ge=0, le=2000)
    """Most per-deal stage-history reads a review spends on each owner's deals (Zoho has no
    bulk read for them): the owner's biggest open deals whose time in stage is uncertain go
    first. Reads of deals unchanged since are served from the workspace's cache. Per owner, so
    that reviewing one owner and reviewing everyone decide the same about that owner."""
    timeline_budget: int = Field(default=20, ge=0, le=2000)
    """Most timeline reads (contacts whose role may have changed, deals whose close date may
    have moved within a stage) a review spends on each owner's records; cached like stage
    histories."""
    author_batch_size: int = Field(default=8, ge=1, le=100)
    """Accounts per Recommendation Author request (Claude engine)."""
    full_sync_days: int = Field(default=7, ge=0, le=365)
    """A review syncs only what changed in the CRM since the last review of the same accounts
    (one owner's, or everyone's); every this many days it syncs in full instead, which is how
    records deleted in Zoho, and accounts moved to another owner, leave the review. 0 makes
    every review a full sync."""


class ReviewSettings(Section):
    daily_budget: int = Field(default=18, ge=1, le=500)
    """Most recommendations that land in an owner's approval queue per day, best expected value
    first; at most this many wait at once. The rest stay queued as "more, lower priority" (in
    the brief and on the account screen) until a slot frees up or the owner pulls one in. A
    critical one (a concrete near-term loss) always lands."""
    at_risk_rating: str | None = None
    """The value of your org's Accounts Rating picklist that means "at risk" (for example
    "At Risk"): reviews then propose setting it on high-risk accounts (and setting it back to
    "Active" once no risk is left). Zoho's default picklist has no such value, so nothing is
    proposed until you name one; the demo org has "At Risk"."""


class CentralSettings(Section):
    dsn: str | None = Field(default=None, examples=["postgresql://sergas@127.0.0.1:5432/sergas"])
    """The team's central PostgreSQL, e.g. 'postgresql://sergas@db.internal:5432/sergas': the
    audit copy, approval grants, and in team mode the shared recommendations and approvals
    (each AE's queue across devices). Put the password in the keyring (`sergas auth set
    postgres_password`), not in this string. Unset: everything stays local."""
    device: str | None = None
    """This device's name in the team's records (who decided where); default: the host name."""


class AuditingSettings(Section):
    log_level: LogLevel = "INFO"
    """Level of the JSON log file."""
    postgres_dsn: str | None = Field(default=None, deprecated=True)
    """Deprecated: use [central] dsn. Still read when [central] dsn is unset."""
    retention_days: int = Field(default=730, ge=1, le=36_500)
    """Audit rows older than this are purged (the purge is itself audited)."""
    sync_batch_size: int = Field(default=5000, ge=1, le=100_000)
    """Rows per batch when syncing the audit to PostgreSQL."""
    sync_interval_seconds: int = Field(default=60, ge=5, le=86_400)
    """How often the app sends new audit rows to the central database (when configured)."""


class ApprovalSettings(Section):
    escalate_after_hours: int = Field(default=24, ge=1, le=24 * 30)
    """Team mode: an approval nobody decided within this many hours is sent once to the
    owner's manager (an escalation); expiry ([orchestrator] approval_timeout_hours) is told to
    the owner."""


class NotificationSettings(Section):
    email: bool = False
    """Team mode: send each owner one e-mail digest of their queue after a scheduled review."""
    smtp_host: str | None = Field(default=None, examples=["smtp.example.com"])
    """The SMTP server for digests. Its password goes in the keyring (`sergas auth set
    smtp_password`)."""
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    """The SMTP server's port (587: submission with STARTTLS; 465: implicit TLS)."""
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    """How the SMTP connection is protected; 'none' only for a relay on this machine."""
    smtp_username: str | None = None
    """The SMTP login, if the server wants one."""
    from_address: str | None = Field(default=None, examples=["Sergas <sergas@example.com>"])
    """The digests' sender."""
    webhook: bool = False
    """Also post each digest to a Slack-compatible incoming webhook (its URL, a secret, goes in
    the keyring: `sergas auth set notify_webhook_url`)."""
    webhook_links: bool = False
    """Put the approval links in webhook posts too. Only for a webhook that reaches the owner
    alone (a direct message): anyone reading a shared channel could decide with them. Off,
    the webhook lists the queue and links go by e-mail only."""
    public_url: str | None = Field(default=None, examples=["https://sergas.example.com"])
    """Where `sergas serve` is reached from the team's browsers: the approval links' base."""
    serve_host: str = "127.0.0.1"
    """Where `sergas serve` listens (put it behind a TLS proxy to reach it from elsewhere)."""
    serve_port: int = Field(default=8780, ge=1, le=65_535)
    """The port `sergas serve` listens on."""


class MonitoringSettings(Section):
    metrics_enabled: bool = True
    """Record Prometheus metrics (runs, subagents, Zoho calls, memory queries, recommendations,
    decisions; see docs/operations.md "Metrics and alerts"); false records none, so nothing is
    served or written either."""
    cost_tracking_enabled: bool = True
    """Include the model's tokens and cost by model (anthropic_tokens_used_total,
    anthropic_api_cost_usd) in the metrics."""
    prometheus_port: int | None = Field(default=None, ge=0, le=65_535, examples=[9464])
    """Serve the metrics on http://127.0.0.1:<port>/metrics while a headless review (`sergas
    review`), a worker, `sergas serve` or an MCP server runs (0: any free port, shown when it
    starts); unset: not served."""
    prometheus_host: str = "127.0.0.1"
    """Where the metrics endpoint listens; keep it on loopback unless a firewall or proxy
    guards it (the metrics name no account, but tell how busy the team is)."""
    metrics_file: str | None = Field(
        default=None, examples=["/var/lib/node_exporter/textfile/sergas.prom"]
    )
    """After a one-shot `sergas review`, write its metrics to this file (the node exporter's
    textfile collector format) for reviews run from cron; unset: no file."""


class SignalSettings(Section):
    no_activity_warning_days: int = Field(default=14, ge=1)
    """Days without a customer touch (a call or meeting held, a task a person completed, a deal
    moving stage, won or lost) before a warning."""
    no_activity_critical_days: int = Field(default=30, ge=1)
    """Days without a customer touch before the signal is critical."""
    stalled_stage_factor: float = Field(default=1.5, gt=1.0)
    """A deal is stalled after this multiple of the typical days in its stage."""
    stage_limit_days: dict[str, int] = Field(
        default_factory=lambda: {
            "Qualification": 21,
            "Needs Analysis": 21,
            "Value Proposition": 21,
            "Identify Decision Makers": 21,
            "Proposal/Price Quote": 30,
            "Negotiation/Review": 30,
        }
    )
    """Fixed per-stage limits (days) used when there is too little history for a typical value."""
    close_date_push_high: int = Field(default=2, ge=1)
    """Close-date pushes that make the signal high risk."""
    renewal_window_days: int = Field(default=90, ge=1)
    """Renewals closing within this window are checked for declining sentiment."""
    recent_activity_days: int = Field(default=30, ge=1)
    """How far back 'recent activities' reach in a Scout report."""
    typical_stage_min_samples: int = Field(default=5, ge=1)
    """Completed stays in a stage (from other deals' history) needed to trust a typical value."""
    engaged_contact_days: int = Field(default=90, ge=1)
    """A contact is engaged when an activity within this many days involves them."""
    single_threaded_min_amount: float = Field(default=25_000, ge=0)
    """Open deals from this amount up are checked for single-threading (0: every open deal)."""
    sponsor_change_days: int = Field(default=45, ge=1)
    """How recent an Executive Sponsor change (role change or new sponsor) must be to count."""

    @field_validator("no_activity_critical_days")
    @classmethod
    def _critical_after_warning(cls, value: int, info: Any) -> int:
        warning = info.data.get("no_activity_warning_days")
        if isinstance(warning, int) and value < warning:
            raise ValueError("must be at least no_activity_warning_days")
        return value


class UiSettings(Section):
    theme: str = "textual-dark"
    """Textual theme name."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Key overrides by binding id, e.g. {"approvals.approve" = "y"}."""
    show_first_run_banner: bool = True
    """Show the 'connect Zoho, Claude and Postgres' banner on the demo workspace."""
    execute_delay_seconds: float = Field(default=8.0, ge=0.0, le=300.0)
    """Grace time between approving in the TUI and writing to the CRM, during which `u` undoes."""
