"""Loopback load test: a real uvicorn server with a tiny detector answers every one of 50 uploads sent 4 at a
time, memory stays bounded, uploads are cleaned up, an oversize stream is cut off, and the server stops."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from avanomaly.io.testing import write_test_video  # noqa: E402
from avanomaly.serve import create_app  # noqa: E402
from avanomaly.serve.testing import background_server  # noqa: E402

#: tiny test models are uncalibrated; the result JSON carries that warning, the log need not
pytestmark = pytest.mark.filterwarnings("ignore:.*uncalibrated.*:UserWarning")

N_REQUESTS = 50
CLIENT_CONCURRENCY = 4
SERVER_CONCURRENCY = 2
WARMUP_REQUESTS = 3
MAX_RSS_GROWTH_MB = 200
REQUEST_TIMEOUT_S = 60
N_FRAMES = 25


def rss_mb() -> float:
    """Resident set size of this process (the server runs in it), from /proc/self/status."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no VmRSS in /proc/self/status (not Linux)")


@pytest.fixture(scope="module")
def detector():
    import torch

    from avanomaly.scoring.testing import tiny_detector

    torch.set_num_threads(1)
    return tiny_detector(seed=0)


@pytest.mark.slow  # a load test (50 uploads through a real server): the slow tier, `make test-slow`
def test_fifty_uploads_four_at_a_time(tmp_path, detector):
    clip = write_test_video(tmp_path / "clip.mp4", n_frames=N_FRAMES).read_bytes()
    uploads = tmp_path / "uploads"
    app = create_app(detector, max_concurrency=SERVER_CONCURRENCY, max_queue=CLIENT_CONCURRENCY, tmp_dir=uploads)
    with background_server(app) as url:
        def post(i):
            with httpx.Client(timeout=REQUEST_TIMEOUT_S) as c:
                r = c.post(f"{url}/score", files={"file": (f"clip{i}.mp4", clip, "video/mp4")})
                return r.status_code, r.json()

        for i in range(WARMUP_REQUESTS):
            assert post(i)[0] == 200
        before = rss_mb()
        t0 = time.monotonic()
        with ThreadPoolExecutor(CLIENT_CONCURRENCY) as ex:
            answers = list(ex.map(post, range(N_REQUESTS)))
        elapsed = time.monotonic() - t0
        growth = rss_mb() - before
        health = httpx.get(f"{url}/health").json()
    assert [s for s, _ in answers] == [200] * N_REQUESTS, [b for s, b in answers if s != 200][:3]
    assert [b["path"] for _, b in answers] == [f"clip{i}.mp4" for i in range(N_REQUESTS)]
    scores = {round(b["score"], 6) for _, b in answers}
    assert len(scores) == 1  # the same clip scores the same under concurrency
    assert growth < MAX_RSS_GROWTH_MB, f"RSS grew {growth:.0f} MB over {N_REQUESTS} requests"
    assert health["in_progress"] == 0
    assert list(uploads.iterdir()) == []
    print(f"{N_REQUESTS} requests in {elapsed:.1f} s ({N_REQUESTS / elapsed:.1f}/s), RSS growth {growth:.1f} MB")


def test_server_stops_reading_an_oversize_stream(tmp_path):
    """A chunked upload far over the limit gets its 413 early; the server does not swallow the rest."""
    class Never:
        def anomaly_score(self, path):  # pragma: no cover - must not be reached
            raise AssertionError("oversize upload reached the detector")

    limit_mb = 0.1
    offered = 64 * 1024 * 1024
    chunk = b"\x00" * 65536
    app = create_app(Never(), max_upload_mb=limit_mb, tmp_dir=tmp_path / "uploads")
    with background_server(app) as url:
        host, port = url.removeprefix("http://").split(":")
        sent = 0
        reply = b""
        with socket.create_connection((host, int(port)), timeout=10) as s:
            head = (f"POST /score HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Type: multipart/form-data; boundary=B\r\n\r\n").encode()
            part = b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
            s.sendall(head + b"%x\r\n%s\r\n" % (len(part), part))
            try:
                while sent < offered:
                    s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                    s.settimeout(0.001)
                    try:
                        reply += s.recv(4096)
                    except (TimeoutError, BlockingIOError):
                        pass
                    s.settimeout(10)
                    if reply:
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass
            s.settimeout(10)
            try:
                while b"\r\n\r\n" not in reply:
                    more = s.recv(4096)
                    if not more:
                        break
                    reply += more
            except (ConnectionResetError, TimeoutError):
                pass
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < offered / 4, f"sent {sent} bytes before the 413 (limit {limit_mb} MB)"
    assert list((tmp_path / "uploads").iterdir()) == []
