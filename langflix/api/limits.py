"""What one upload and one client may hold, and for how long: body deadlines and per-client caps.

An upload claims disk (its declared length) and a queue slot before its first
byte, so that a full disk or queue is refused at once. That makes a silent
socket expensive: it holds its claim for as long as it stays open. Two guards:

- :func:`paced_body` gives the body a deadline: no chunk for
  ``idle_timeout`` seconds, or an average rate below ``min_rate``, and the
  upload fails with :class:`UploadTimeoutError` (the caller drops the claim and
  the partial file);
- :class:`ClientLedger` caps what one client (one peer address) holds at once:
  uploads in flight and the bytes they claim or have sent; :class:`OpenUploads`
  counts a resumable upload there from its creation to its end.

Nothing here knows about HTTP: a client is a string, a body an async iterator.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import anyio

from langflix.errors import LangFlixError

__all__ = [
    "BodyPace",
    "ClientHold",
    "ClientLedger",
    "ClientLimitError",
    "OpenUploads",
    "UploadTimeoutError",
    "charged_body",
    "paced_body",
]

_IDLE_SETTING: Final[str] = "LANGFLIX_UPLOAD_IDLE_TIMEOUT"
_RATE_SETTING: Final[str] = "LANGFLIX_UPLOAD_MIN_RATE"
_BYTES_SETTING: Final[str] = "LANGFLIX_UPLOAD_CLIENT_MAX_BYTES"
_UPLOADS_SETTING: Final[str] = "LANGFLIX_UPLOAD_CLIENT_MAX_UPLOADS"


class UploadTimeoutError(LangFlixError):
    """The request body stalled or arrived slower than the minimum rate."""


class ClientLimitError(LangFlixError):
    """One client would hold more uploads or bytes at once than its cap."""


@dataclass(frozen=True, slots=True)
class BodyPace:
    """How fast a body must arrive: ``min_rate`` bytes/s on average, no pause over ``idle_timeout`` s.

    The rate is measured the way Apache's mod_reqtimeout does: the body may take
    ``idle_timeout + received / min_rate`` seconds so far, so a fast start
    earns time for a slow patch, while a trickle of a few bytes a second runs
    out of time however steady it is.
    """

    min_rate: float
    idle_timeout: float
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if not (self.min_rate > 0 and self.idle_timeout > 0):
            raise ValueError(f"min_rate and idle_timeout must be positive, got {self.min_rate}, {self.idle_timeout}")

    def time_left(self, started: float, received: int, now: float) -> float:
        """Seconds a body that began at ``started`` and has ``received`` bytes may still take at ``now``."""
        return started + self.idle_timeout + received / self.min_rate - now


async def paced_body(chunks: AsyncIterator[bytes], pace: BodyPace) -> AsyncIterator[bytes]:
    """``chunks`` as they come, or :class:`UploadTimeoutError` when the body is too slow or stalls."""
    iterator = chunks.__aiter__()
    started = pace.clock()
    received = 0
    while True:
        budget = pace.time_left(started, received, pace.clock())
        wait = min(pace.idle_timeout, budget)
        stalled = wait == pace.idle_timeout
        chunk: bytes | None = None
        if wait > 0:
            with anyio.move_on_after(wait):
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    return
        if chunk is None:
            if stalled:
                raise UploadTimeoutError(
                    f"the upload stalled: no data for {pace.idle_timeout:g} s after {received} bytes "
                    f"({_IDLE_SETTING}); send the body without pausing"
                )
            raise UploadTimeoutError(
                f"the upload is too slow: {received} bytes in {pace.clock() - started:.1f} s, under the "
                f"minimum of {pace.min_rate:g} bytes/s ({_RATE_SETTING}); send it over a faster link"
            )
        received += len(chunk)
        yield chunk


async def charged_body(chunks: AsyncIterator[bytes], hold: ClientHold, ceiling: int) -> AsyncIterator[bytes]:
    """``chunks``, each charged to ``hold`` as it arrives (ClientLimitError when the client is over its cap).

    No upload is charged more than ``ceiling``, the most one body may hold:
    past it, the upload's own limit refuses it, and that is the error to give.
    """
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        hold.grow_to(min(received, ceiling))
        yield chunk


@dataclass(slots=True)
class _Holdings:
    uploads: int = 0
    bytes: int = 0


@dataclass(eq=False)
class ClientHold:
    """One upload's share of its client's caps; :meth:`grow_to` as its bytes arrive."""

    ledger: ClientLedger
    client: str
    charged: int
    released: bool = field(default=False)

    def grow_to(self, received: int) -> None:
        """Charge ``received`` bytes when it passes what was declared (a body of unknown length)."""
        if received > self.charged:
            self.ledger.charge(self, received)

    def release(self) -> None:
        """Give the client's share back; safe to call twice."""
        self.ledger.give_back(self)


class OpenUploads:
    """Resumable uploads counted against the client that made them, from creation until they end.

    A resumable upload claims its whole length on disk for up to its expiry,
    whether or not its client is sending: so it counts against its client's
    caps (the same :class:`ClientLedger` a multipart upload counts in) from
    :meth:`opening` until it is complete or deleted (:meth:`forget`), or
    expired or made into a job (:meth:`prune` asks ``still_open(upload_id)``).
    The count lives in this process: uploads made before a restart are not
    counted after it.
    """

    def __init__(self, ledger: ClientLedger, still_open: Callable[[str], bool]) -> None:
        self._ledger = ledger
        self._still_open = still_open
        self._lock = threading.Lock()
        self._holds: dict[str, contextlib.ExitStack] = {}

    @contextlib.contextmanager
    def opening(self, client: str, length: int) -> Iterator[Callable[[str], None]]:
        """Hold ``length`` bytes and one upload for ``client`` (ClientLimitError when over its caps).

        The block creates the upload and calls the function it is given with
        the new id: the hold then stays until the upload ends. A block left
        without that call (the creation failed) gives the hold back. Call
        :meth:`prune` first (it reads the uploads' state: in a worker thread).
        """
        stack = contextlib.ExitStack()
        stack.enter_context(self._ledger.hold(client, length))
        kept = False

        def keep(upload_id: str) -> None:
            nonlocal kept
            with self._lock:
                self._holds[upload_id] = stack
            kept = True

        try:
            yield keep
        finally:
            if not kept:
                stack.close()

    def forget(self, upload_id: str) -> None:
        """The upload ended (complete, deleted): its client's share goes back."""
        with self._lock:
            stack = self._holds.pop(upload_id, None)
        if stack is not None:
            stack.close()

    def prune(self) -> None:
        """Forget every upload that ended by itself (expired, reclaimed, made into a job)."""
        with self._lock:
            ids = list(self._holds)
        for upload_id in ids:
            if not self._still_open(upload_id):
                self.forget(upload_id)


class ClientLedger:
    """What each client holds at once: uploads in flight and the bytes they claim or have sent.

    A client's bytes are, per upload, the larger of its declared length and
    what it has sent so far, so a body without a length counts too.
    """

    def __init__(self, *, max_bytes: int, max_uploads: int) -> None:
        if max_bytes < 1 or max_uploads < 1:
            raise ValueError(f"client caps must be at least 1, got {max_bytes} bytes, {max_uploads} uploads")
        self.max_bytes, self.max_uploads = max_bytes, max_uploads
        self._lock = threading.Lock()
        self._clients: dict[str, _Holdings] = {}

    @contextlib.contextmanager
    def hold(self, client: str, declared: int) -> Iterator[ClientHold]:
        """Count one upload of ``declared`` bytes against ``client`` for the block; ClientLimitError when over."""
        with self._lock:
            held = self._clients.get(client, _Holdings())
            if held.uploads >= self.max_uploads:
                raise ClientLimitError(
                    f"client {client} already has {held.uploads} uploads in flight, the most one client may "
                    f"have at once ({_UPLOADS_SETTING}); wait for one to finish"
                )
            self._check(client, held, declared)
            held.uploads += 1
            held.bytes += declared
            self._clients[client] = held
        entry = ClientHold(self, client, declared)
        try:
            yield entry
        finally:
            entry.release()

    def charge(self, entry: ClientHold, received: int) -> None:
        """Raise ``entry``'s bytes to ``received``; ClientLimitError (and no change) when over."""
        with self._lock:
            if entry.released:
                return
            held = self._clients[entry.client]
            self._check(entry.client, held, received - entry.charged)
            held.bytes += received - entry.charged
            entry.charged = received

    def give_back(self, entry: ClientHold) -> None:
        with self._lock:
            if entry.released:
                return
            entry.released = True
            held = self._clients[entry.client]
            held.uploads -= 1
            held.bytes -= entry.charged
            if held.uploads == 0:
                del self._clients[entry.client]

    def held(self, client: str) -> tuple[int, int]:
        """(uploads, bytes) ``client`` holds now."""
        with self._lock:
            held = self._clients.get(client, _Holdings())
            return held.uploads, held.bytes

    def _check(self, client: str, held: _Holdings, extra: int) -> None:
        if held.bytes + extra > self.max_bytes:
            raise ClientLimitError(
                f"client {client} would hold {held.bytes + extra} bytes of uploads at once, more than "
                f"{_BYTES_SETTING} ({self.max_bytes} bytes); wait for its other uploads to finish"
            )
