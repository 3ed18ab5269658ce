"""A request body read off the socket (``DirectBodyProtocol``) on a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from langflix.api.app import create_app
from langflix.api.direct_body import direct_body
from langflix.api.serving import uvicorn_config

from .helpers import make_settings

TUS = {"Tus-Resumable": "1.0.0"}


def read_socket(fd: int, count: int) -> bytes:
    """What a thread taking a body over does: wait for the non-blocking socket, read up to ``count`` bytes."""
    got = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while len(got) < count:
        try:
            data = os.read(fd, count - len(got))
        except BlockingIOError:
            poller.poll(1000)
            continue
        if not data:
            break
        got += data
    return bytes(got)


async def sink_app(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /direct?keep=N: takes the body over and reads N bytes of the rest (all without keep); answers JSON."""
    if scope["type"] != "http":
        return
    body = direct_body(scope)
    answer: dict[str, Any] = {"direct": body is not None}
    if scope["path"] == "/direct" and body is not None:
        buffered, remaining = body.start()
        keep = int(scope["query_string"].decode().partition("=")[2] or remaining)
        rest = read_socket(body.fileno(), min(keep, remaining)) if remaining else b""
        body.finish(len(rest))
        data = buffered + rest
        answer |= {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    else:
        data = b""
        while True:
            message = await receive()
            data += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer |= {"length": len(data)}
    payload = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(payload))]})
    await send({"type": "http.response.body", "body": payload})


@contextlib.contextmanager
def serving(app: Any) -> Iterator[int]:
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(sink_app) as bound:
        yield bound


def head(path: str, length: int, *, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n{extra}\r\n".encode()


def request(path: str, body: bytes) -> bytes:
    return head(path, len(body)) + body


def answers(sock: socket.socket, count: int, timeout: float = 20) -> tuple[list[dict[str, Any]], bool]:
    """``count`` answers read off ``sock`` (their JSON) and whether the server then closed the connection."""
    sock.settimeout(timeout)
    data, found = b"", []
    while len(found) < count:
        top, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            lines = top.split(b"\r\n")
            length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
            if len(rest) >= length:
                assert top.startswith(b"HTTP/1.1 200"), top
                found.append(json.loads(rest[:length]))
                data = rest[length:]
                continue
        chunk = sock.recv(1 << 20)
        assert chunk, f"the connection closed after {len(found)} answers"
        data += chunk
    sock.settimeout(2)
    try:
        closed = sock.recv(1) == b""
    except TimeoutError:
        closed = False
    return found, closed


def test_a_body_taken_over_arrives_whole_and_the_connection_serves_the_next_request(port: int) -> None:
    body = os.urandom(3 * 1024 * 1024 + 17)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head("/direct", len(body)))
        for start in range(0, len(body), 100_000):  # many small sends: the body comes in pieces
            sock.sendall(body[start : start + 100_000])
        sock.sendall(request("/plain", b"after"))  # the same connection, read by the server's own parser again
        (first, second), closed = answers(sock, 2)
    assert first == {"direct": True, "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    assert second == {"direct": True, "length": 5}
    assert not closed


def test_pipelined_requests_after_a_body_the_server_already_read_are_all_answered(port: int) -> None:
    small = b"x" * 1000  # arrives with its headers: nothing is left on the socket to take over
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request("/direct", small) + request("/direct", small) + request("/plain", b"end"))
        found, closed = answers(sock, 3)
    digest = hashlib.sha256(small).hexdigest()
    assert found == [{"direct": True, "length": 1000, "sha256": digest}] * 2 + [{"direct": True, "length": 3}]
    assert not closed


def test_a_body_read_in_part_closes_the_connection_after_the_answer(port: int) -> None:
    body = os.urandom(2 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head("/direct?keep=1000", len(body)) + body[:300_000])
        time.sleep(0.2)  # the server has taken the body over before the rest comes
        with contextlib.suppress(OSError):  # the server may close while this is sent: that is the point
            sock.sendall(body[300_000:])
        (answer,), closed = answers(sock, 1)
    assert answer["direct"] and answer["length"] < len(body)
    assert closed  # the unread rest of the body cannot be taken for a next request
    with socket.create_connection(("127.0.0.1", port)) as sock:  # and the server goes on
        sock.sendall(request("/plain", b"ok"))
        assert answers(sock, 1)[0] == [{"direct": True, "length": 2}]


def test_expect_100_continue_is_answered_when_the_body_is_taken_over(port: int) -> None:
    body = os.urandom(500_000)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head("/direct", len(body), extra="Expect: 100-continue\r\n"))
        sock.settimeout(20)
        assert sock.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"  # sent before any of the body
        sock.sendall(body)
        (answer,), _ = answers(sock, 1)
    assert answer == {"direct": True, "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_a_chunked_body_is_not_offered_and_goes_through_receive(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /direct HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
        (answer,), _ = answers(sock, 1)
    assert answer == {"direct": False, "length": 5}


class BodyMessages:
    """ASGI wrapper counting the body bytes the app took through ``receive()``."""

    def __init__(self, app: Any) -> None:
        self.app, self.bytes = app, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            self.bytes += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


def test_a_tus_patch_on_langflix_serves_uvicorn_never_goes_through_receive(tmp_path: Path) -> None:
    """The fast path is the one taken: a PATCH's bytes reach the file by splice, none as ASGI messages."""
    app = create_app(make_settings(tmp_path))
    watch = BodyMessages(app)
    data = os.urandom(6 * 1024 * 1024 + 3)
    with serving(watch) as bound, httpx.Client(base_url=f"http://127.0.0.1:{bound}/api/v1", timeout=60) as client:
        created = client.post("/uploads", headers={**TUS, "Upload-Length": str(len(data))})
        assert created.status_code == 201
        url = created.headers["location"].removeprefix("/api/v1")
        patch = client.patch(
            url,
            headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            content=data,
        )
        assert (patch.status_code, patch.headers["upload-offset"]) == (204, str(len(data)))
        assert client.head(url, headers=TUS).headers["upload-offset"] == str(len(data))  # same connection
        with app.state.services.uploads.claim(url.rsplit("/", 1)[1]) as claim:
            assert hashlib.sha256(claim.path.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert watch.bytes == 0
