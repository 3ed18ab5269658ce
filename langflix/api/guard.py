"""The HTTP side of access: who a request is, and what is refused before any route runs.

- :func:`authorize_api` is the API routers' dependency: the token, or a
  logged-in session cookie plus its CSRF token for a change (401/403).
- :class:`RequestGuard` (ASGI middleware) refuses, for every route, a change
  sent from another site (``Sec-Fetch-Site``/``Origin``: a cross-site form post
  never reaches a route, even on a server without a token) and, on a server
  without a token, a ``Host`` that is not this machine's (a DNS-rebinding page
  would otherwise be "same-origin" with it).
- :class:`SecurityHeaders` (ASGI middleware) puts the browser's defences on
  every answer: a Content-Security-Policy without inline script, frame denial,
  nosniff, no referrer to other sites, same-origin resources.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from langflix.api.access import (
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    Access,
    AuthenticationError,
    ForbiddenError,
    Session,
)
from langflix.api.errors import error_response

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "NEEDS_TOKEN",
    "RequestGuard",
    "SecurityHeaders",
    "authorize_api",
    "cross_site_reason",
    "is_loopback_host",
    "request_session",
    "set_session_cookie",
]

NEEDS_TOKEN: Final[str] = (
    "this server needs its token: send 'Authorization: Bearer <LANGFLIX_API_TOKEN>', "
    "or log in to the dashboard at /login"
)

CONTENT_SECURITY_POLICY: Final[str] = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "media-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
"""Scripts and styles only from this server's files: an injected ``<script>`` or ``onerror=`` does not run."""

_DOCS_PATHS: Final[frozenset[str]] = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
"""FastAPI's own API pages load their viewer from its CDN with inline script: framing and sniffing are
still denied, but their CSP is FastAPI's business (they sit behind the token like the API)."""

_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" would make Chrome send "Origin: null" on our own forms
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def request_session(request: Request, access: Access) -> Session | None:
    """The session of the request's cookie, when it holds a valid one."""
    return access.decode(request.cookies.get(SESSION_COOKIE))


def authorize_api(request: Request, access: Access) -> None:
    """Let the request through or raise 401/403 (see the module's doc for the rules).

    The bearer comparison runs for every request, header or not, so a missing
    and a wrong token take one path; a wrong header is refused even next to a
    valid cookie (whoever sent it meant the header).
    """
    header = request.headers.get("authorization")
    if access.bearer_matches(header):
        return
    if header is not None and access.enabled:
        raise AuthenticationError(NEEDS_TOKEN)
    session = request_session(request, access)
    if not access.allows(session):
        raise AuthenticationError(NEEDS_TOKEN)
    if session is not None and request.method not in SAFE_METHODS:
        # The cookie goes with every same-site request by itself: a change must
        # also show the token only this server's pages hold.
        if not access.csrf_matches(session, request.headers.get(CSRF_HEADER)):
            raise ForbiddenError(
                f"this change came with the dashboard's cookie but without its {CSRF_HEADER} header; "
                "reload the page and try again"
            )


def set_session_cookie(response: Response, access: Access, session: Session, *, secure: bool) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, whole site, for ``max_age`` seconds."""
    response.set_cookie(
        SESSION_COOKIE,
        access.encode(session),
        max_age=int(access.max_age),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header names this machine (``localhost``, ``127.0.0.0/8``, ``[::1]``), port or not."""
    name = _host_name(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def cross_site_reason(headers: Any, own_hosts: Iterable[str]) -> str | None:
    """Why a change is not from this site's own pages, or None when nothing says it is foreign.

    Browsers say where a request comes from (``Sec-Fetch-Site``, and ``Origin``
    on every POST); a client that is not a browser (curl) sends neither and is
    judged by its token alone.
    """
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"it came from another site (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is not None:
        netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
        if netloc not in {host.lower() for host in own_hosts}:
            return "its Origin is not this server"
    return None


@dataclass(frozen=True, slots=True)
class _Policy:
    access: Access
    public_host: str | None
    host_check: bool


def _policy(scope: Scope) -> _Policy | None:
    services = getattr(scope["app"].state, "services", None) if "app" in scope else None
    if services is None:
        return None
    settings = services.settings
    public_host = urlsplit(settings.public_url).netloc.lower() if settings.public_url else None
    access: Access = services.access
    return _Policy(access, public_host, host_check=not access.enabled and not settings.insecure_no_auth)


class RequestGuard:
    """Refuse cross-site changes everywhere, and foreign Host names on a server without a token (403)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (policy := _policy(scope)) is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = request.headers.get("host", "")
        refusal: str | None = None
        if policy.host_check and not (is_loopback_host(host) or host.lower() == policy.public_host):
            # Never echo the Host: the answer names the settings that fix it.
            refusal = (
                "this server has no LANGFLIX_API_TOKEN and so answers only to this machine's own names "
                "(localhost, 127.0.0.1, [::1]); set LANGFLIX_API_TOKEN, or LANGFLIX_PUBLIC_URL for its public name"
            )
        elif request.method not in SAFE_METHODS:
            own = [host] + ([policy.public_host] if policy.public_host else [])
            reason = cross_site_reason(request.headers, own)
            if reason is not None:
                refusal = f"a change sent from another site is refused: {reason}"
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await error_response(ForbiddenError(refusal))(scope, receive, send)


class SecurityHeaders:
    """Add the browser defences to every answer (an answer's own values win)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_csp = scope.get("path", "") not in _DOCS_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = list(_HEADERS)
                if with_csp:
                    extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    extra.append((b"cache-control", b"no-store"))  # pages carry CSRF tokens
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
