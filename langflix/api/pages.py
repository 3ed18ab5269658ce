"""The dashboard's templates: one Jinja2 environment, autoescaping everything, and the page context.

Every value a page shows goes through Jinja2's HTML escaping (``autoescape``
on for every template, whatever its name), so a file name or a subtitle line
holding ``<img onerror=...>`` is shown as text. Values handed to scripts go
as JSON in a ``<script type="application/json">`` block (``tojson`` escapes
``<``, ``>``, ``&`` and quotes), never as inline code: the pages' CSP allows no
inline script at all. Static files are linked with a hash of their content,
so a browser never runs yesterday's script against today's page.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from langflix.api.access import Access, Session
from langflix.api.errors import PLAIN_SENTENCES
from langflix.api.guard import set_session_cookie
from langflix.temp import human_bytes

__all__ = ["STATIC_DIR", "STATIC_PREFIX", "TEMPLATES_DIR", "render", "render_fragment", "static_url", "templates"]

WEB_DIR: Final[Path] = Path(__file__).with_name("web")
TEMPLATES_DIR: Final[Path] = WEB_DIR / "templates"
STATIC_DIR: Final[Path] = WEB_DIR / "static"
STATIC_PREFIX: Final[str] = "/static"


@lru_cache(maxsize=64)
def _content_hash(relative: str) -> str:
    return hashlib.sha256((STATIC_DIR / relative).read_bytes()).hexdigest()[:12]


def static_url(relative: str) -> str:
    """The URL of a static file, with its content hash as the cache key."""
    return f"{STATIC_PREFIX}/{relative}?v={_content_hash(relative)}"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def _bytes(value: float | None) -> str:
    return "none" if value is None else human_bytes(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name is an error in the tests, not a blank on a page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["bytes"] = _bytes
    env.globals["static"] = static_url
    return env


templates: Final[Jinja2Templates] = Jinja2Templates(env=_environment())


def _secure(request: Request) -> bool:
    services = request.app.state.services
    public_url = services.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    access: Access,
    session: Session,
    status_code: int = 200,
) -> HTMLResponse:
    """A page: the template with what every page needs (CSRF token, login state); sets a new session's cookie."""
    page = {
        "csrf_token": access.csrf_token(session),
        "access_enabled": access.enabled,
        "logged_in": access.enabled and session.authenticated,
        "path": request.url.path,
        "sentences": {str(status): text for status, text in PLAIN_SENTENCES.items()},
        **context,
    }
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    if session.new:
        set_session_cookie(response, access, session, secure=_secure(request))
    return response


def render_fragment(name: str, context: Mapping[str, Any]) -> str:
    """A partial template as text (an event stream's message, an htmx swap)."""
    return templates.get_template(name).render(context)
