"""Upload throughput of each HTTP server option against ``cp``, on one 2 GiB body, in one run.

Measured side by side, each ``--rounds`` times (medians printed):

* ``cp`` of the body to a file on the same disk (the baseline; not synced,
  like the uploads);
* bare uvicorn (httptools, uvloop), an ASGI app that discards the body: the
  ceiling of uvicorn's receive path;
* bare granian (Rust HTTP server, ASGI), the same app: granian's ceiling;
* bare granian with an app that only writes the body to a file (one ``pwrite``
  per chunk): the ceiling of any receive-and-store path on this server;
* a raw socket server with no HTTP framework, storing the body with
  ``recv_into`` + ``pwrite`` (4 MiB buffer), and with ``splice`` (socket ->
  pipe -> file, no copy through Python): the machine's ceilings for any server;
* the real LangFlix multipart ``POST /api/v1/jobs`` (``langflix serve``): the
  job is accepted (ffprobe passes on the MPEG-TS body), then cancelled;
* the real LangFlix tus path: ``POST /api/v1/uploads`` then one ``PATCH``
  carrying the whole body raw (``application/offset+octet-stream``);

each LangFlix path under both HTTP servers ``langflix serve`` offers
(``--http-server uvicorn``, the default, whose protocol hands a tus body to
the route to ``splice`` off the socket, and ``--http-server granian``, where it
comes as ASGI messages), the tus path also on stock uvicorn (ASGI messages:
what the default was before the direct body), and
each server's RSS growth during the upload (the server process and its
children, sampled from ``/proc`` every 10 ms). The client is the same for all:
a raw socket sending the headers and then the file with ``sendfile`` (zero
copy), so the client costs almost no CPU and the figures are the servers'.
The body is one short MPEG-TS clip repeated (a valid video), generated under
``--dir`` and removed after. Run::

    .venv/bin/python benchmarks/bench_upload_servers.py [--gib 2] [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BOUNDARY = "langflixbenchboundary"
SRT = "1\n00:00:00,500 --> 00:00:01,800\nLet's break the ice.\n"
# Both bare apps answer the lifespan protocol alike; each then handles the body its own way.
_LIFESPAN = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
"""
_DRAIN_APP = _LIFESPAN + """\
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""
_WRITE_APP = "import os\n" + _LIFESPAN + """\
    fd = os.open(os.environ["BENCH_SINK"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    offset = 0
    while True:
        message = await receive()
        body = message.get("body", b"")
        if body:
            offset += os.pwrite(fd, body, offset)
        if not message.get("more_body"):
            break
    os.close(fd)
    os.unlink(os.environ["BENCH_SINK"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""
_RAW_SERVER = """
import fcntl, os, select, socket, sys
mode, port, sink = sys.argv[1], int(sys.argv[2]), sys.argv[3]
server = socket.create_server(("127.0.0.1", port))
while True:
    conn, _ = server.accept()
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\\r\\n\\r\\n")
    length = next((int(v) for k, _, v in (l.partition(b":") for l in head.split(b"\\r\\n")[1:])
                   if k.strip().lower() == b"content-length"), 0)
    fd = os.open(sink, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    offset = os.pwrite(fd, rest, 0) if rest else 0
    if mode == "recv":
        view = memoryview(bytearray(4 << 20))
        while offset < length:
            n = conn.recv_into(view, min(len(view), length - offset))
            if not n:
                break
            done = 0
            while done < n:
                done += os.pwrite(fd, view[done:n], offset + done)
            offset += n
    else:
        reader, writer = os.pipe()
        fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 1 << 20)
        while offset < length:
            n = os.splice(conn.fileno(), writer, min(1 << 20, length - offset), flags=os.SPLICE_F_MOVE)
            if not n:
                break
            done = 0
            while done < n:
                done += os.splice(reader, fd, n - done, offset_dst=offset + done, flags=os.SPLICE_F_MOVE)
            offset += n
        os.close(reader)
        os.close(writer)
    os.close(fd)
    os.unlink(sink)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
    conn.close()
"""
_STOCK_UVICORN = """
import sys, uvicorn
from langflix.api.app import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools", log_level="warning")
"""
_UVICORN_MAIN = """
import sys, uvicorn
sys.path.insert(0, sys.argv[1])
from drain_app import app
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), loop="uvloop", http="httptools", log_level="warning")
"""
_LANGFLIX = "import langflix.cli.serve; from langflix.cli import app; app()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def granian_argv(app: str, port: int) -> list[str]:
    """One granian worker serving the bare ASGI ``app`` ("module:attr") on ``port``."""
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-ws", "--log-level", "warning", app,
    ]  # fmt: skip


def make_source(work: Path, size: int) -> Path:
    """A ``size``-byte MPEG-TS file: one short clip repeated (TS packets concatenate into a valid stream)."""
    clip = work / "clip.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15:duration=2",
         "-f", "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         "-shortest", "-f", "mpegts", str(clip)],
        check=True, timeout=120,
    )  # fmt: skip
    data = clip.read_bytes()
    source = work / "video.ts"
    with open(source, "wb") as out:
        written = 0
        block = data * max(1, (8 * 1024 * 1024) // len(data))
        while written < size:
            piece = block[: size - written]
            out.write(piece)
            written += len(piece)
    clip.unlink()
    return source


def tree_rss(pid: int) -> int:
    """RSS of ``pid`` and its descendants (granian runs its workers as child processes)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                match = re.search(r"VmRSS:\s+(\d+) kB", status.read())
            total += int(match.group(1)) * 1024 if match else 0
            with open(f"/proc/{current}/task/{current}/children") as kids:
                pids.extend(int(k) for k in kids.read().split())
        except OSError:
            continue
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.01)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send_request(port: int, head: str, source: Path | None, *, prefix: bytes = b"", suffix: bytes = b"") -> Answer:
    """One HTTP/1.1 request: ``head`` (request line + headers), then prefix, the file by sendfile, suffix."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        sock.sendall(head.encode() + b"\r\n" + prefix)
        if source is not None:
            with open(source, "rb") as f:
                sock.sendfile(f)
        if suffix:
            sock.sendall(suffix)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        header_blob, _, rest = data.partition(b"\r\n\r\n")
        lines = header_blob.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Answer(status, headers, rest)


def headers_block(method: str, path: str, headers: dict[str, str]) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n"


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise SystemExit(f"{server.name} died at start")
        try:
            send_request(server.port, headers_block("GET", path, {"Content-Length": "0"}), None)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{server.name} did not start")


def spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int, ready: str) -> Server:
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    server = Server(name, proc, port)
    wait_ready(server, ready)
    return server


def langflix_env(work: Path, tag: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LANGFLIX_TEMP_DIR=str(work / tag / "temp"),
        LANGFLIX_DATA_DIR=str(work / tag / "data"),
        LANGFLIX_OUTPUT_DIR=str(work / tag / "out"),
        LANGFLIX_MAX_UPLOAD_BYTES=str(64 * 1024**3),
        LANGFLIX_MIN_FREE_BYTES="0",
        LANGFLIX_WORKERS="1",
    )
    (work / tag / "temp").mkdir(parents=True, exist_ok=True)
    return env


def drain_once(port: int, source: Path, size: int) -> Callable[[], None]:
    def run() -> None:
        answer = send_request(port, headers_block("POST", "/", {"Content-Length": str(size)}), source)
        assert answer.status == 200, answer

    return run


def multipart_once(port: int, source: Path, size: int) -> Callable[[], None]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="subtitle"; filename="bench.srt"\r\n\r\n{SRT}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="max_expressions"\r\n\r\n1\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; filename="bench.ts"\r\n'
        "Content-Type: video/mp2t\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    total = len(head) + size + len(tail)

    def run() -> None:
        answer = send_request(
            port,
            headers_block(
                "POST",
                "/api/v1/jobs",
                {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(total)},
            ),
            source,
            prefix=head,
            suffix=tail,
        )
        assert answer.status == 202, answer
        job = re.search(rb'"job_id":"([0-9a-f]+)"', answer.body)
        assert job is not None
        send_request(
            port, headers_block("DELETE", f"/api/v1/jobs/{job.group(1).decode()}", {"Content-Length": "0"}), None
        )

    return run


def tus_once(port: int, source: Path, size: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """(prepare, run): the upload is created before the clock starts; the timed part is the PATCH."""
    state: dict[str, str] = {}

    def prepare() -> None:
        created = send_request(
            port,
            headers_block(
                "POST", "/api/v1/uploads", {"Tus-Resumable": "1.0.0", "Upload-Length": str(size), "Content-Length": "0"}
            ),
            None,
        )
        assert created.status == 201, created
        state["path"] = created.headers["location"]

    def run() -> None:
        answer = send_request(
            port,
            headers_block(
                "PATCH",
                state["path"],
                {
                    "Tus-Resumable": "1.0.0",
                    "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(size),
                },
            ),
            source,
        )
        assert answer.status == 204 and answer.headers["upload-offset"] == str(size), answer
        send_request(
            port, headers_block("DELETE", state["path"], {"Tus-Resumable": "1.0.0", "Content-Length": "0"}), None
        )

    return prepare, run


@dataclass
class Figures:
    name: str
    seconds: list[float] = field(default_factory=list)
    growth: list[int] = field(default_factory=list)


def measure(server: Server, figures: Figures, run: Callable[[], None], prepare: Callable[[], None] | None) -> None:
    if prepare is not None:
        prepare()
    settle()
    baseline = tree_rss(server.proc.pid)
    sampler = RssSampler(server.proc.pid)
    sampler.start()
    start = time.perf_counter()
    run()
    figures.seconds.append(time.perf_counter() - start)
    figures.growth.append(max(0, sampler.stop() - baseline))


def settle() -> None:
    """The same start for every measurement: dirty pages written back, then a pause for the disk to go idle."""
    os.sync()
    time.sleep(1.0)


def time_cp(source: Path, dest: Path) -> float:
    settle()
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(dest)], check=True)
    elapsed = time.perf_counter() - start
    dest.unlink()
    return elapsed


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of the body in GiB")
    parser.add_argument("--rounds", type=int, default=3, help="uploads per server (medians are printed)")
    parser.add_argument("--dir", type=Path, default=Path.cwd() / ".bench_upload_servers", help="work dir (removed)")
    parser.add_argument("--only", default="", help="comma-separated subset of server names to run")
    args = parser.parse_args(argv)
    work = args.dir.resolve()
    if work.exists():
        raise SystemExit(f"{work} exists; remove it or pass another --dir")
    work.mkdir(parents=True)
    (work / "drain_app.py").write_text(_DRAIN_APP)
    (work / "uvicorn_main.py").write_text(_UVICORN_MAIN)
    (work / "write_app.py").write_text(_WRITE_APP)
    (work / "raw_server.py").write_text(_RAW_SERVER)
    (work / "stock_uvicorn.py").write_text(_STOCK_UVICORN)
    print(f"load before: {uptime()}", flush=True)
    servers: list[Server] = []
    try:
        size = int(args.gib * 1024**3)
        source = make_source(work, size)
        cp = Figures("cp")
        py = sys.executable
        variants: list[tuple[str, Callable[[], Server], str]] = [
            *(
                (
                    f"raw socket, no HTTP framework: {how}",
                    (
                        lambda mode=mode: spawn(
                            "raw",
                            [py, "raw_server.py", mode, str(p := free_port()), str(work / f"raw-{mode}.bin")],
                            dict(os.environ),
                            work,
                            p,
                            "/",
                        )
                    ),
                    "drain",
                )
                for mode, how in (("recv", "recv_into + pwrite"), ("splice", "splice into a file"))
            ),
            (
                "uvicorn bare (httptools, uvloop), body discarded",
                lambda: spawn(
                    "uvicorn", [py, "uvicorn_main.py", str(work), str(p := free_port())], dict(os.environ), work, p, "/"
                ),
                "drain",
            ),
            (
                "granian bare (ASGI), body discarded",
                lambda: spawn(
                    "granian",
                    granian_argv("drain_app:app", p := free_port()),
                    dict(os.environ),
                    work,
                    p,
                    "/",
                ),  # fmt: skip
                "drain",
            ),
            (
                "granian bare (ASGI), body written (one pwrite per chunk)",
                lambda: spawn(
                    "granian-write",
                    granian_argv("write_app:app", p := free_port()),
                    dict(os.environ, BENCH_SINK=str(work / "sink.bin")),
                    work,
                    p,
                    "/",
                ),  # fmt: skip
                "drain",
            ),
            *(
                (
                    f"LangFlix {kind} ({server})",
                    (
                        lambda server=server, kind=kind: spawn(
                            "langflix",
                            [
                                py,
                                "-c",
                                _LANGFLIX,
                                "serve",
                                "--port",
                                str(p := free_port()),
                                "--log-level",
                                "warning",
                                "--http-server",
                                server,
                            ],
                            langflix_env(work, f"{kind}-{server}"),
                            work,
                            p,
                            "/api/v1/health",
                        )  # fmt: skip
                    ),
                    "multipart" if kind.startswith("multipart") else "tus",
                )
                for kind in ("multipart POST /jobs", "tus PATCH raw body")
                for server in ("granian", "uvicorn")
            ),
        ]
        variants.append(
            (
                "LangFlix tus PATCH raw body (stock uvicorn: ASGI messages)",
                lambda: spawn(
                    "langflix-stock",
                    [py, "stock_uvicorn.py", str(p := free_port())],
                    langflix_env(work, "tus-stock"),
                    work,
                    p,
                    "/api/v1/health",
                ),
                "tus",
            )
        )
        only = {name.strip() for name in args.only.split(",") if name.strip()}
        results: list[Figures] = []
        started = []
        for name, start, kind in variants:
            if only and not any(word in name for word in only):
                continue
            server = start()
            servers.append(server)
            started.append((name, server, kind))
        # Rounds interleave the variants (and cp), so a load change on the shared machine hits them all alike.
        table = {name: Figures(name) for name, _, _ in started}
        for _round in range(args.rounds):
            cp.seconds.append(time_cp(source, work / "cp-copy.ts"))
            for name, server, kind in started:
                prepare = None
                if kind == "drain":
                    run = drain_once(server.port, source, size)
                elif kind == "multipart":
                    run = multipart_once(server.port, source, size)
                else:
                    prepare, run = tus_once(server.port, source, size)
                measure(server, table[name], run, prepare)
        results = list(table.values())
        cp_rate = size / statistics.median(cp.seconds)
        rates = {figures.name: size / statistics.median(figures.seconds) for figures in results}
        # A ceiling: a server that stores or drops the body and does nothing else (no LangFlix).
        ceilings = {name for name, _, kind in started if kind == "drain"}
        best = max((rates[name] for name in ceilings), default=0.0)
        print(f"body: {size / 1024**3:.2f} GiB, {args.rounds} round(s), medians")
        print(f"{'cp':62s} {cp_rate / 1024**2:7.0f} MiB/s  1.00x cp")
        for figures in results:
            rate = rates[figures.name]
            of_best = "" if figures.name in ceilings or not best else f"  {rate / best:4.0%} of the best ceiling"
            print(
                f"{figures.name:62s} {rate / 1024**2:7.0f} MiB/s  {rate / cp_rate:4.2f}x cp  "
                f"RSS growth {max(figures.growth) / 1024**2:5.1f} MiB (max of rounds){of_best}"
            )
        print(f"load after: {uptime()}", flush=True)
        return 0
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
