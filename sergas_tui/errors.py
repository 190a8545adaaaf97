"""One error hierarchy for everything Sergas reports to a person.

Every error carries a short ``title`` (shown as a notification title or a CLI heading) and a
``message`` that says what went wrong and what to do about it. Adapters convert third-party
exceptions at their boundary with ``raise ... from err`` so callers only see these types.

    SergasError
    ├── ConfigError                  bad or unreadable configuration
    ├── SecretError                  a credential is missing or the keyring is unusable
    ├── StorageError                 the local database cannot be used
    │   ├── DatabaseCorruptError
    │   └── DatabaseVersionError     written by a newer Sergas
    ├── WorkspaceError               unknown or missing workspace
    ├── AgentError                   an engine or subagent failed
    └── CrmError                     anything talking to the CRM
        ├── CrmConnectionError
        ├── CrmTimeoutError
        └── CrmStatusError(status_code, code, request_id)
            ├── CrmAuthError
            ├── CrmPermissionError
            ├── CrmNotFoundError
            ├── CrmValidationError
            ├── CrmConflictError     412 ALREADY_MODIFIED
            ├── CrmRateLimitedError  429 TOO_MANY_REQUESTS
            └── CrmServerError       5xx

The errors of one layer follow, each defined here and imported by the module named after it
(which re-exports it, so either import works):

    SergasError
    ├── AgentError
    │   └── OutputError                  agents/claude/schemas.py: the model's output
    ├── CrmError ── CrmStatusError ── CrmPermissionError
    │                                 └── ApprovalRefusedError  crm/approval_gate.py
    ├── StorageError
    │   ├── RemoteToolError              memory/remote.py: the memory server refused a call
    │   └── RemoteToolMissingError       memory/remote.py: ... or lacks a tool
    ├── ApprovalError                    approvals/errors.py, approvals/service.py
    │   ├── UnknownApprovalError         approvals/service.py
    │   ├── NotAllowedError              approvals/service.py
    │   ├── InvalidAdjustmentError       approvals/service.py
    │   ├── DecidedElsewhereError        approvals/team.py
    │   └── TeamUnavailableError         approvals/team.py
    ├── QueueError                       approvals/queue.py
    ├── CentralAuditError                audit/central/conn.py
    │   ├── CentralConnectionError
    │   ├── CentralAuthError
    │   ├── CentralSchemaError
    │   └── CentralPermissionError
    ├── JobQueueError                    team/db.py
    │   ├── JobQueueConnectionError
    │   ├── JobQueueSchemaError
    │   └── JobQueuePermissionError
    ├── ReviewIncomplete                 team/review_job.py
    ├── UnknownOwnerError                team/scheduling.py
    ├── MemoryToolError                  memory/mcp_tools.py
    ├── MuteError                        domain/mutes.py
    ├── UserInputError                   user_files.py
    ├── UnknownAccountError              cli/account.py
    └── RolesError                       cli/admin.py

Not part of the hierarchy: the Zoho simulator's own errors (``crm/simulator``: ``ZohoError``,
``ItemError``, ``UnknownField``, ``BadValue``), which never reach a person — the simulator
turns them into Zoho's JSON error responses, and a client sees those as ``CrmStatusError``.
``tests/unit/test_one_home.py`` fails when a module defines a ``SergasError`` elsewhere.

``exit_code`` is what the CLI exits with: 2 for problems the user must fix in their set-up
(configuration, secrets, storage), 1 for everything else.
"""

from __future__ import annotations

from typing import Any, Literal

from sergas_tui import __version__


class SergasError(Exception):
    """Base class: a message a person can act on, and a short title."""

    title: str = "Sergas error"
    exit_code: int = 1

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(SergasError):
    title = "Configuration error"
    exit_code = 2


class SecretError(SergasError):
    title = "Missing secret"
    exit_code = 2


class StorageError(SergasError):
    title = "Storage error"
    exit_code = 2


class DatabaseCorruptError(StorageError):
    title = "Database is damaged"


class DatabaseVersionError(StorageError):
    title = "Database is from a newer Sergas"


class WorkspaceError(SergasError):
    title = "Workspace error"
    exit_code = 2


class IdentityError(SergasError):
    """Team mode could not tell who is at the keyboard: this OS account is mapped to no person
    of the team's roles. Nothing is shown or decided until an admin maps it."""

    title = "Who are you?"
    exit_code = 2


class AgentError(SergasError):
    title = "Agent error"


class CrmError(SergasError):
    title = "CRM error"


class CrmConnectionError(CrmError):
    title = "Cannot reach the CRM"


class CrmTimeoutError(CrmError):
    title = "CRM timed out"


class CrmStatusError(CrmError):
    """The CRM answered with an error status; ``code`` is Zoho's error code."""

    title = "CRM refused the request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        details: object | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(message, title)
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.details = details


class CrmAuthError(CrmStatusError):
    title = "CRM sign-in failed"


class CrmPermissionError(CrmStatusError):
    title = "CRM permission denied"


class CrmNotFoundError(CrmStatusError):
    title = "CRM record or URL not found"


class CrmValidationError(CrmStatusError):
    title = "CRM rejected the data"


class CrmConflictError(CrmStatusError):
    title = "Record changed in the CRM"


class CrmRateLimitedError(CrmStatusError):
    """Zoho answered 429. ``retry_after`` (seconds) is set when the limit is a transient one
    that Sergas stopped waiting out (a caller with more patience may try again then); None when
    the org's credits are used up, which no short wait cures."""

    title = "CRM rate limit reached"

    def __init__(
        self, message: str, *, status_code: int, retry_after: float | None = None, **more: Any
    ) -> None:
        super().__init__(message, status_code=status_code, **more)
        self.retry_after = retry_after


class CrmServerError(CrmStatusError):
    title = "CRM server error"


# -- the approval gate of our Zoho MCP server (crm/approval_gate.py) ----------------------------

APPROVAL_REFUSED_CODE = "APPROVAL_REFUSED"
"""The ``code`` of every :class:`ApprovalRefusedError`."""


class ApprovalRefusedError(CrmPermissionError):
    """A write was refused because its approval does not allow it (nothing was sent).
    ``reason`` is one of ``crm.approval_gate.RefusalReason``."""

    title = "Write not approved"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, status_code=403, code=APPROVAL_REFUSED_CODE)
        self.reason = reason


# -- the Claude engine (agents/claude/schemas.py) ----------------------------------------------


class OutputError(AgentError):
    """The model's structured output is missing or not shaped like the schema."""

    title = "Invalid model output"


# -- approvals (approvals/service.py, team.py, queue.py) ---------------------------------------


class ApprovalError(SergasError):
    """An approval cannot be found, or cannot take the decision asked of it."""

    title = "Approval"
    exit_code = 1


class UnknownApprovalError(ApprovalError):
    """No approval has this id (or id prefix)."""


class NotAllowedError(ApprovalError):
    """The identified person may not see or decide this owner's approvals; nothing changed."""

    title = "Not allowed"
    exit_code = 2


class InvalidAdjustmentError(ApprovalError):
    """An edited action that is not its type's shape, or that Zoho would refuse; nothing was
    stored. Bad input, so the CLI exits with 2."""

    title = "Adjustment not saved"
    exit_code = 2


class DecidedElsewhereError(ApprovalError):
    """Another device (or person) moved the approval first; nothing was recorded here."""

    title = "Already decided"


class TeamUnavailableError(ApprovalError):
    """The central records could not be reached, so a decision could not be checked against
    the team's other devices; nothing was recorded."""

    title = "Team records unreachable"


class QueueError(SergasError):
    """A recommendation could not be pulled into the queue."""

    def __init__(self, message: str) -> None:
        super().__init__(message, title="Cannot pull that in")


# -- the central PostgreSQL (audit/central/conn.py) --------------------------------------------


class CentralAuditError(SergasError):
    title = "Central audit error"


class CentralConnectionError(CentralAuditError):
    title = "Cannot reach the central audit database"


class CentralAuthError(CentralAuditError):
    title = "Central audit login refused"
    exit_code = 2


class CentralSchemaError(CentralAuditError):
    title = "Central audit schema not ready"
    exit_code = 2


class CentralPermissionError(CentralAuditError):
    title = "Central audit permission denied"
    exit_code = 2


# -- the workers' job queue (team/db.py, review_job.py, scheduling.py) -------------------------


class JobQueueError(SergasError):
    title = "Job queue error"


class JobQueueConnectionError(JobQueueError):
    title = "Cannot reach the job queue"
    exit_code = 2


class JobQueueSchemaError(JobQueueError):
    title = "Job queue not ready"
    exit_code = 2


class JobQueuePermissionError(JobQueueError):
    title = "Job queue permission denied"
    exit_code = 2


class ReviewIncomplete(SergasError):
    """Some of the owner's accounts failed: the job fails so that the owner is tried again."""

    title = "Review incomplete"


class UnknownOwnerError(SergasError):
    title = "Unknown owner"
    exit_code = 2


# -- memory tools and the memory server (memory/mcp_tools.py, memory/remote.py) ----------------

MemoryErrorCode = Literal[
    "unknown_tool",
    "invalid_arguments",
    "unknown_account",
    "unknown_recommendation",
    "too_large",
    "failed",
]
"""``error.code`` of a memory tool's is_error result: ``failed`` is anything else (storage, a
bug)."""


class MemoryToolError(SergasError):
    """An expected failure of a memory tool (reported to the caller as an ``is_error`` result)."""

    def __init__(self, message: str, code: MemoryErrorCode = "invalid_arguments") -> None:
        super().__init__(message, title="Memory tool error")
        self.code: MemoryErrorCode = code


class RemoteToolError(StorageError):
    """The memory server answered a tool call with an error (``code`` as in ``mcp_tools``)."""

    def __init__(self, tool: str, message: str, code: str | None = None) -> None:
        super().__init__(f"The memory server refused {tool}: {message}", title="Memory error")
        self.tool = tool
        self.detail = message
        self.code = code

    @property
    def unknown_account(self) -> bool:
        # servers before error codes said it only in the message
        return self.code == "unknown_account" or (
            self.code is None and "knows no account" in self.detail
        )

    @property
    def unknown_recommendation(self) -> bool:
        return self.code == "unknown_recommendation" or (
            self.code is None and "knows no recommendation" in self.detail
        )


class RemoteToolMissingError(StorageError):
    """The memory server does not offer a tool this client needs."""

    def __init__(self, url: str, tool: str) -> None:
        super().__init__(
            f"The memory server {url} has no tool {tool}, which the app needs to use it as "
            f"its memory. Upgrade Sergas where the server runs to {__version__} or later and "
            "restart `sergas mcp memory --http PORT` without --read-only.",
            title="Memory server too old",
        )
        self.tool = tool


# -- a person's input (domain/mutes.py, user_files.py, cli/account.py, cli/admin.py) -----------


class MuteError(SergasError):
    """A mute cannot be made, found or lifted as asked; nothing was changed."""

    title = "Snooze or dismiss"
    exit_code = 1


class UserInputError(SergasError):
    """A path, file or argument given on the command line cannot be used; nothing was done."""

    title = "Bad input"
    exit_code = 2


class UnknownAccountError(SergasError):
    """ACCOUNT names no account of the workspace, or several; nothing was written."""

    title = "Unknown account"
    exit_code = 2


class RolesError(SergasError):
    title = "Roles not changed"
    exit_code = 2
