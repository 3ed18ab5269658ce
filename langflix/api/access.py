"""Who may use the service: the API token, the dashboard's session cookie and its CSRF token.

With ``LANGFLIX_API_TOKEN`` (or ``LANGFLIX_API_TOKEN_FILE``) set, a request
gets in by either

- ``Authorization: Bearer <token>`` (API clients; no ambient credential, so no
  CSRF question), or
- the dashboard's session cookie, set by its login form: HttpOnly (no script
  reads it), SameSite=Strict (no other site's page sends it) and signed. A
  cookie-borne request that changes state must also carry the session's CSRF
  token (the ``X-CSRF-Token`` header or the ``csrf_token`` form field).

Tokens are compared in constant time and along one path: a missing header is
compared as the empty string, so "no token" and "a wrong token" cost the same
and answer the same bytes.

The signing key is derived from the token (HMAC-SHA256 of a fixed label keyed
by the token): nothing secret is written anywhere (the temp dir least of all),
a restart keeps logins, every server sharing the token accepts the same
cookies, and changing the token logs everyone out. Without a token the key is
random per process: the cookie then only carries the CSRF token of the pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from langflix.errors import LangFlixError

__all__ = [
    "Access",
    "AuthenticationError",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "ForbiddenError",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "Session",
]

SESSION_COOKIE: Final[str] = "langflix_session"
CSRF_HEADER: Final[str] = "X-CSRF-Token"
CSRF_FIELD: Final[str] = "csrf_token"
SAFE_METHODS: Final[frozenset[str]] = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: they need access but no CSRF token."""

_KEY_LABEL: Final[bytes] = b"langflix dashboard session signing key v1"
_COOKIE_VERSION: Final[int] = 1
_SKEW_SECONDS: Final[float] = 60.0


class AuthenticationError(LangFlixError):
    """No valid token or session came with a request that needs one (401)."""


class ForbiddenError(LangFlixError):
    """A request refused whoever sent it: cross-site, without its CSRF token, or to a foreign Host (403)."""


@dataclass(frozen=True, slots=True)
class Session:
    """What the signed cookie says: a random id, whether it logged in, and when it was issued."""

    nonce: str
    authenticated: bool
    issued_at: float
    new: bool = False
    """Made by this request: the response must set the cookie."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Access:
    """The token check, the session cookie's signature and the CSRF tokens of one server.

    ``compare`` and ``clock`` are parameters so a test can see that a missing
    and a wrong token take the same comparison, and expire a session without waiting.
    """

    def __init__(
        self,
        token: str | None,
        *,
        max_age: float,
        clock: Callable[[], float] = time.time,
        compare: Callable[[bytes, bytes], bool] = hmac.compare_digest,
    ) -> None:
        self.enabled = token is not None
        self.max_age = max_age
        self._clock = clock
        self._compare = compare
        # Without a token nothing may match: the digest of 32 random bytes nobody knows.
        secret = token.encode("utf-8") if token is not None else secrets.token_bytes(32)
        self._token_digest = hashlib.sha256(secret).digest()
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()

    # -- the token ---------------------------------------------------------------

    def token_matches(self, presented: str | None) -> bool:
        """Whether ``presented`` is the token; None (nothing sent) takes the very same path.

        Both sides are hashed first, so the comparison sees two 32-byte strings
        whatever was sent: its time tells neither the token's length nor how
        much of a guess was right.
        """
        given = hashlib.sha256((presented or "").encode("utf-8", "surrogatepass")).digest()
        return self._compare(given, self._token_digest) and self.enabled

    def bearer_matches(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value is ``Bearer <the token>``."""
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        presented = credentials.strip() if scheme.lower() == "bearer" else None
        return self.token_matches(presented)

    # -- the session cookie ----------------------------------------------------------

    def new_session(self, *, authenticated: bool) -> Session:
        """A fresh session (a new id: logging in never keeps the id a visitor had before)."""
        return Session(_b64(secrets.token_bytes(18)), authenticated, self._clock(), new=True)

    def encode(self, session: Session) -> str:
        """The cookie's value: the session as compact JSON, then its HMAC."""
        body = json.dumps(
            [_COOKIE_VERSION, session.nonce, session.authenticated, round(session.issued_at, 3)],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._sign(b'session:' + body))}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None when it is missing, forged, or older than ``max_age``."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 512:
            return None
        body_text, signature_text = cookie.split(".")
        try:
            body, signature = _unb64(body_text), _unb64(signature_text)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(signature, self._sign(b"session:" + body)):
            return None
        try:
            version, nonce, authenticated, issued_at = json.loads(body)
        except (ValueError, TypeError):
            return None
        if version != _COOKIE_VERSION or not isinstance(nonce, str) or not isinstance(issued_at, (int, float)):
            return None
        age = self._clock() - float(issued_at)
        if not -_SKEW_SECONDS <= age <= self.max_age + _SKEW_SECONDS:  # servers sharing the token disagree a little
            return None
        # A session that logged in while there was no token is no login once there is one.
        return Session(nonce, bool(authenticated) and self.enabled, float(issued_at))

    def allows(self, session: Session | None) -> bool:
        """Whether a session (or none) may use the service: any when there is no token, a logged-in one else."""
        return not self.enabled or (session is not None and session.authenticated)

    # -- CSRF ----------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        """The CSRF token of ``session``: derived from its id, so nothing is stored per session."""
        return _b64(self._sign(b"csrf:" + session.nonce.encode()))

    def csrf_matches(self, session: Session, presented: str | None) -> bool:
        return hmac.compare_digest(
            (presented or "").encode("utf-8", "surrogatepass"), self.csrf_token(session).encode()
        )

    def _sign(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()
