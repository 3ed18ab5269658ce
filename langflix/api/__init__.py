"""The LangFlix job service (FastAPI): :func:`create_app` builds it.

``app`` (life cycle), ``routes/`` (one router per resource), ``deps`` (what a
route may ask for), ``errors`` (the one error-to-status mapping), ``uploads``
(streamed multipart), ``store`` (SQLite job store), ``runner`` (the worker
pool), ``tools`` (the external tools' versions for ``/health``).
"""

from __future__ import annotations

from langflix.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
