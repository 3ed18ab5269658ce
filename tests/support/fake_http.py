"""A fake HTTP service: a ``ThreadingHTTPServer`` on 127.0.0.1, port 0, in a thread.

It plays a script of replies (status, headers, body, delay), one per request in
order, and records every request as the server saw it, so tests check exactly
what went over the wire, retries included. Once the script is used up it answers
with its ``default`` reply (HTTP 599 "unscripted" unless told otherwise).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeServer", "Reply", "Request", "json_reply"]


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def json_reply(status: int, data: Any, *, delay: float = 0.0) -> Reply:
    """A reply whose body is ``data`` as JSON, with its Content-Type."""
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json"}, delay)


@dataclass
class Request:
    """What the client sent, as the server saw it (header names in lower case)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeServer:
    """A scripted HTTP server; ``url`` is its base URL, ``requests`` what it received.

    It serves from construction until ``close()`` (or the end of a ``with`` block),
    which also ends a handler still sleeping out a delayed reply and joins every
    handler thread, so nothing outlives a test.
    """

    def __init__(self, *, default: Reply | None = None, name: str = "fake-http") -> None:
        self.replies: list[Reply] = []
        self.requests: list[Request] = []
        self.default = default if default is not None else Reply(599, b"unscripted")
        self._lock = threading.Lock()
        # Set at teardown so a handler sleeping out a "timeout" reply ends at once.
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                split = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(Request("POST", split.path, parse_qs(split.query), headers, body))
                    reply = fake.replies.pop(0) if fake.replies else fake.default
                if reply.delay and fake._stop.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = False  # server_close() joins them
        self.server.block_on_close = True
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}"
        # A short poll interval: shutdown() waits for it, once per test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.02,), name=name, daemon=True
        )
        self.thread.start()

    def add(
        self,
        status: int = 200,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> FakeServer:
        """Queue one reply; replies are used in order, one per request."""
        with self._lock:
            self.replies.append(Reply(status, body, dict(headers or {}), delay))
        return self

    def add_json(self, status: int, data: Any, *, delay: float = 0.0) -> FakeServer:
        reply = json_reply(status, data, delay=delay)
        return self.add(reply.status, reply.body, headers=reply.headers, delay=delay)

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()  # joins the handler threads
        self.thread.join(5)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
