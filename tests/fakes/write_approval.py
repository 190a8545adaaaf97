"""A :class:`WriteApproval` for tests that call a CRM writer directly (REST, simulator, fakes):
those backends record the approval but do not check it; the executor and our MCP server do."""

from __future__ import annotations

from datetime import UTC, datetime

from sergas_tui.crm.writer import WriteApproval

TEST_APPROVAL = WriteApproval(
    approval_id="test-approval",
    token="test-token",
    account_id="",
    owner_email="ana@example.com",
    action_type="create_task",
    decided_by="tester",
    expires_at=datetime(2100, 1, 1, tzinfo=UTC),
)
