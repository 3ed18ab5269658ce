"""Upload a 2 GiB body to a running ``langflix serve`` and compare with ``cp``.

Issue 5's figures, in one run:

* the server's peak RSS growth during the upload (sampled from
  ``/proc/<pid>/status`` every 10 ms; target under 64 MiB): the body is
  streamed to disk in chunks, never held in memory;
* upload throughput against ``cp`` of the same bytes on the same disk
  (target ratio >= 0.5).

The video part is a real MPEG-TS clip repeated to the size asked for (TS
packets concatenate into a valid stream), so the server's ffprobe check passes
and the measured request is a complete, accepted job submission; the job is
cancelled right after. Everything lives under ``--dir`` (removed after). Run::

    .venv/bin/python benchmarks/bench_upload.py [--gib 2] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CHUNK = 1024 * 1024
BOUNDARY = "langflixbenchboundary"
SRT = "1\n00:00:00,500 --> 00:00:01,800\nLet's break the ice.\n"
_LAUNCH = "import langflix.cli.serve; from langflix.cli import app; app()"
# The HTTP server's own ceiling: the same uvicorn, an ASGI app that discards the body.
_DRAIN_SERVER = """
import socket, sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
"""


def make_source(work: Path, size: int) -> Path:
    """A ``size``-byte MPEG-TS file: one short clip repeated."""
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
        while written < size:
            piece = data[: size - written]
            out.write(piece)
            written += len(piece)
    clip.unlink()
    return source


def time_cp(source: Path, dest: Path) -> float:
    os.sync()  # start from the same page-cache state as the upload; not timed
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(dest)], check=True)
    elapsed = time.perf_counter() - start  # no fsync: the upload is not synced either
    dest.unlink()
    return elapsed


def start_server(work: Path) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ)
    env.update(
        LANGFLIX_TEMP_DIR=str(work / "temp"),
        LANGFLIX_DATA_DIR=str(work / "data"),
        LANGFLIX_OUTPUT_DIR=str(work / "out"),
        LANGFLIX_MAX_UPLOAD_BYTES=str(64 * 1024**3),
        LANGFLIX_MIN_FREE_BYTES="0",
        LANGFLIX_WORKERS="1",
        PYTHONUNBUFFERED="1",
    )
    (work / "temp").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, "serve", "--port", "0", "--log-level", "warning"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    # --log-level warning hides uvicorn's banner; find the port from /proc instead.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        port = _listening_port(proc.pid)
        if port:
            url = f"http://127.0.0.1:{port}"
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=5).status_code in (200, 503):
                    return proc, url
            except httpx.TransportError:
                pass
        if proc.poll() is not None:
            raise SystemExit("server died:\n" + proc.stderr.read())
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def _listening_port(pid: int) -> int | None:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                return int(fields[1].split(":")[1], 16)
    return None


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        match = re.search(r"VmRSS:\s+(\d+) kB", status.read())
    return int(match.group(1)) * 1024 if match else 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.01)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def drain_seconds(source: Path) -> tuple[float, int]:
    """Upload the same body to a bare uvicorn app that discards it: the server's ceiling."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRAIN_SERVER], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        chunks, total = body(source)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        start = time.perf_counter()
        httpx.post(
            f"http://127.0.0.1:{port}/", content=chunks, headers={"Content-Length": str(total)}, timeout=600
        ).raise_for_status()
        return time.perf_counter() - start, total
    finally:
        proc.terminate()
        proc.wait(30)


def body(source: Path) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="subtitle"; filename="bench.srt"\r\n\r\n{SRT}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="max_expressions"\r\n\r\n1\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; filename="bench.ts"\r\n'
        "Content-Type: video/mp2t\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        with open(source, "rb", buffering=0) as f:
            while block := f.read(CHUNK):
                yield block
        yield tail

    return chunks(), len(head) + source.stat().st_size + len(tail)


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11, pure Python; httptools is not installed"
    return "httptools"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of the upload in GiB")
    parser.add_argument("--dir", type=Path, default=Path.cwd() / ".bench_upload", help="work dir (removed after)")
    args = parser.parse_args(argv)
    work = args.dir.resolve()
    if work.exists():
        raise SystemExit(f"{work} exists; remove it or pass another --dir")
    work.mkdir(parents=True)
    proc = None
    try:
        size = int(args.gib * 1024**3)
        print(f"making a {size / 1024**3:.2f} GiB source in {work} ...", flush=True)
        source = make_source(work, size)
        cp_seconds = min(time_cp(source, work / "temp-cp.ts") for _ in range(2))

        proc, url = start_server(work)
        chunks, total = body(source)
        os.sync()
        time.sleep(0.5)
        baseline = rss_bytes(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        start = time.perf_counter()
        with httpx.Client(timeout=600) as client:
            response = client.post(
                f"{url}/api/v1/jobs",
                content=chunks,
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(total)},
            )
            upload_seconds = time.perf_counter() - start
            peak = sampler.stop()
            if response.status_code != 202:
                raise SystemExit(f"upload refused: {response.status_code} {response.text}")
            client.delete(response.json()["url"])  # cancel the job: only the upload is measured

        drain_s, drain_total = drain_seconds(source)
        cp_rate = size / cp_seconds
        up_rate = total / upload_seconds
        drain_rate = drain_total / drain_s
        growth = max(0, peak - baseline)
        print(f"upload: {total / 1024**3:.2f} GiB in {upload_seconds:.2f} s = {up_rate / 1024**2:.0f} MiB/s")
        print(f"cp:     {size / 1024**3:.2f} GiB in {cp_seconds:.2f} s = {cp_rate / 1024**2:.0f} MiB/s (best of 2)")
        print(f"throughput ratio upload/cp: {up_rate / cp_rate:.2f} (target >= 0.5)")
        print(
            f"ceiling: bare uvicorn app discarding the same body: {drain_rate / 1024**2:.0f} MiB/s "
            f"= {drain_rate / cp_rate:.2f} of cp (HTTP parser: {_http_impl()})"
        )
        print(
            f"server RSS: {baseline / 1024**2:.1f} MiB before, peak {peak / 1024**2:.1f} MiB, "
            f"growth {growth / 1024**2:.1f} MiB (target < 64 MiB)"
        )
        ok = growth < 64 * 1024**2 and up_rate / cp_rate >= 0.5
        return 0 if ok else 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
