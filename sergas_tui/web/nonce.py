"""The approval form's nonce: proof that a POST comes from a page this server made for that
very link, a little while ago.

``nonce = HMAC-SHA256(key, "<link hash>:<issued>")`` with ``issued`` the page's time (whole
seconds) and ``key`` random per serving process (never stored). A POST is accepted only with
the nonce of its own link, issued at most :data:`NONCE_TTL_SECONDS` ago and not in the future.
A form on another site cannot carry one, and a restarted server asks for the page again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NONCE_TTL_SECONDS = 3600
"""How long a page's form may be submitted."""
CLOCK_SKEW_SECONDS = 5


class Nonces:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def make(self, hashed: str, issued: int) -> str:
        return hmac.new(self._key, f"{hashed}:{issued}".encode(), hashlib.sha256).hexdigest()

    def check(self, hashed: str, issued: str | None, nonce: str | None, now: int) -> bool:
        """Whether ``nonce`` was made here for the link ``hashed`` at ``issued``, recently."""
        if not issued or not nonce or not issued.isdigit() or len(issued) > 12:
            return False
        when = int(issued)
        if when > now + CLOCK_SKEW_SECONDS or now - when > NONCE_TTL_SECONDS:
            return False
        return hmac.compare_digest(self.make(hashed, when), nonce)
