"""A request body read straight off the socket: uvicorn's HTTP protocol with one ASGI extension.

Why: through ASGI, every chunk of a body is copied three times in Python
(the parser's bytes, uvicorn's buffer, the message) and costs an event-loop
round trip, and uvicorn pauses the socket after each 64 KiB until the app asks
for more; that receive path, not the disk, is what bounds an upload
(``benchmarks/bench_upload_servers.py``). :class:`DirectBodyProtocol` is
uvicorn's httptools protocol that also offers each request with a
``Content-Length`` a :class:`DirectBody` in ``scope["extensions"]``
(:data:`DIRECT_BODY`). An app that wants the body as bytes simply never looks
at it: ``receive()`` works as before. An app that takes it over
(:meth:`DirectBody.start`) gets the bytes the server already read plus the
socket's descriptor, paused in the event loop, to move the rest itself (a
worker thread ``splice``-ing it into a file); :meth:`DirectBody.finish` gives
the connection back: after the whole body, ready for the next request on it;
after part of it, closed once the answer is sent (the rest cannot be told
from the next request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

import httptools
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["DIRECT_BODY", "DirectBody", "DirectBodyProtocol", "direct_body"]

DIRECT_BODY: Final[str] = "langflix.direct_body"
"""The key of :class:`DirectBody` in an ASGI scope's ``extensions``."""


class DirectBody:
    """One request's body, offered to the app to read off the socket itself (see the module's doc).

    Used from the event loop's thread: :meth:`start`, then any reading of
    :meth:`fileno` (from any thread), then :meth:`finish` once.
    """

    def __init__(self, protocol: DirectBodyProtocol, cycle: RequestResponseCycle, length: int) -> None:
        self._protocol = protocol
        self._cycle = cycle
        self.length = length
        self._remaining: int | None = None
        self._started = False
        self._fd = -1

    def start(self) -> tuple[bytes, int]:
        """Take the body over: (bytes the server already read, bytes still to read from :meth:`fileno`).

        The event loop stops reading the socket until :meth:`finish`. Bytes an
        earlier ``receive()`` returned are not given again. A client that is
        already gone raises ``ClientDisconnect``; a second start is a RuntimeError.
        """
        protocol, cycle = self._protocol, self._cycle
        if self._started:
            raise RuntimeError("the request body was already taken over")
        if cycle.disconnected:
            raise ClientDisconnect()
        self._started = True
        buffered = bytes(cycle.body)
        cycle.body = bytearray()
        if not cycle.more_body:
            # The parser read all of it (a small or pipelined body): nothing is left on the socket.
            self._remaining = 0
            return buffered, 0
        # Mid-body, the parser is still in this request: this cycle is the protocol's current one.
        assert protocol.cycle is cycle
        if cycle.waiting_for_100_continue:
            protocol.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        protocol.flow.pause_reading()
        self._remaining = self.length - protocol.body_seen
        self._fd = protocol.transport.get_extra_info("socket").fileno()
        return buffered, self._remaining

    def fileno(self) -> int:
        """The socket (non-blocking) to read the rest of the body from, between start and finish."""
        if self._fd < 0:
            raise RuntimeError("start() the direct body before reading its socket")
        return self._fd

    def finish(self, consumed: int) -> None:
        """Give the connection back after ``consumed`` of the bytes :meth:`start` said were left were read."""
        if self._remaining is None:
            return
        remaining, self._remaining, self._fd = self._remaining, None, -1
        if remaining and consumed == remaining:
            self._protocol.body_read_directly()
        elif consumed != remaining:
            # The rest of this body is still on the socket: nothing after it can be parsed.
            self._cycle.keep_alive = False


def direct_body(scope: Mapping[str, Any]) -> DirectBody | None:
    """The request's :class:`DirectBody`, when the server offers one."""
    extension = scope.get("extensions", {}).get(DIRECT_BODY)
    return extension if isinstance(extension, DirectBody) else None


class DirectBodyProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering each body with a Content-Length as a :class:`DirectBody`."""

    body_seen = 0
    """Body bytes of the current request the parser has handed over so far."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.body_seen = 0

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.parser.should_upgrade():
            return
        length: int | None = None
        for name, value in self.headers:
            if name == b"transfer-encoding":
                return  # chunked: the length is not known up front
            if name == b"content-length" and value.isdigit():
                length = int(value)
        if length:
            scope = cast(dict[str, Any], self.scope)
            scope.setdefault("extensions", {})[DIRECT_BODY] = DirectBody(self, self.cycle, length)

    def on_body(self, body: bytes) -> None:
        self.body_seen += len(body)
        super().on_body(body)

    def body_read_directly(self) -> None:
        """The rest of the current body was read off the socket: the parser starts afresh at the next request."""
        self.parser = httptools.HttpRequestParser(self)
        try:
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        except AttributeError:  # httptools < 0.6.3, as uvicorn does
            pass
        self.on_message_complete()
