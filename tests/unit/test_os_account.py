"""Who a team device acts for comes from the process's user id, not from variables anyone sets."""

from __future__ import annotations

import os

import pytest

from sergas_tui.services import os_account


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX user ids")
def test_login_variables_do_not_change_the_os_account(monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    real = pwd.getpwuid(os.geteuid()).pw_name
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "dana-the-manager")
    assert os_account() == real
