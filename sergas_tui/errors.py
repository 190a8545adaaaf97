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

``exit_code`` is what the CLI exits with: 2 for problems the user must fix in their set-up
(configuration, secrets, storage), 1 for everything else.
"""

from __future__ import annotations

from typing import Any


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
