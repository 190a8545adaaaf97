"""Team mode's notifications: each owner's digest of their queue with single-use approval
links, and escalation and expiry notices, by e-mail and/or a Slack-compatible webhook.

    links.py     approval_links and team_notices in the central PostgreSQL (hashed tokens,
                 compare-and-set spending, notices claimed once)
    names.py     the people and record names a message uses
    compose.py   the words: digests and notices as text, HTML and mrkdwn (pure)
    channels.py  the set-up check and the senders (SMTP via aiosmtplib, webhook via httpx)
    digest.py    send_digest / send_all_digests
    notices.py   send_notices

The pages behind the links are served by :mod:`sergas_tui.web` (`sergas serve`). Import the
entry points from their modules (``sergas_tui.notify.digest.send_digest``); this package
imports nothing so that its modules load only when used.
"""
