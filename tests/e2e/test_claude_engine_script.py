"""A scripted model for the Claude engine (helpers, no tests): request-dependent turns per lane.

The engine's prompts list each account of a batch as ``## account_id <id>``; these steps read
the ids from the request and answer for exactly those accounts, so a script does not depend on
how accounts were batched. Shared by the e2e tests and ``bench/claude_engine.py``.
"""

from __future__ import annotations
