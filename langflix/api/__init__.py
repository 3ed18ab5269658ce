"""The LangFlix job service (FastAPI) and its dashboard: :func:`create_app` builds both.

``app`` (life cycle), ``routes/`` (one router per resource: jobs, downloads,
temp, health, and the dashboard's pages and event stream), ``deps`` (what a
route may ask for), ``errors`` (the one error-to-status mapping), ``access``
and ``guard`` (the token, the session cookie, CSRF, cross-site refusals,
security headers), ``report`` (the figures of ``/health``, ``/metrics`` and the
temp panel), ``uploads`` (streamed multipart), ``store`` (SQLite job store),
``events`` (job changes for the event streams), ``runner`` (the worker pool),
``pages``/``web/`` (templates and static files), ``tools`` (the external
tools' versions for ``/health``).
"""

from __future__ import annotations

from langflix.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
