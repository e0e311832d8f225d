"""Slow and hostile clients cannot lock the service (issue 27): stalled uploads hold no scoring place and get 408
at their deadline (partial upload deleted), caps on uploads being received (503) and per client (429), and the
Origin / Host checks (403). A real uvicorn server on a free loopback port, a stand-in detector that answers at once.

Deadlines are short (seconds) so the tests are quick; every bound on a wait has a generous margin, so a slow or
busy machine makes them slower, not failing."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from avanomaly.scoring.result import ScoreResult  # noqa: E402
from avanomaly.serve import create_app  # noqa: E402
from avanomaly.serve.guards import Guard, default_allowed_hosts, host_name  # noqa: E402
from avanomaly.serve.limits import ClientCounter, ReceiveLimits  # noqa: E402
from avanomaly.serve.testing import background_server  # noqa: E402

#: the stall scenario of issue 27: as many stalled uploads as the default scoring places (1 + 8)
N_STALLED = 9
#: total seconds to receive an upload in the stall test (the other client must be served well within it) ...
STALL_TIMEOUT_S = 5.0
#: ... and in the tests where the deadline only frees places
BODY_TIMEOUT_S = 2.0
#: min-rate tests: after RATE_GRACE_S the 1 KB sent is far below MIN_RATE (bytes/s), so 408 comes at the grace
MIN_RATE = 64 * 1024
RATE_GRACE_S = 1.5
#: a stalled upload is answered no earlier than its deadline minus this (timer slack) ...
EARLY_S = 0.2
#: ... and no later than its deadline plus this (generous: shared, slow machines)
LATE_S = 15.0
#: generous bound on waits that normally take milliseconds
WAIT_S = 30.0
POLL_S = 0.02
BOUNDARY = "abuseTestBoundary"
DATA = b"\x00" * 2048


class Quick:
    """Answers at once; counts its calls; ``gate`` (when given) holds each call until set."""

    def __init__(self, gate: threading.Event | None = None):
        self.calls = 0
        self.started = threading.Event()
        self.gate = gate

    def anomaly_score(self, path, max_seconds=None, should_stop=None):
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S), "test gate never opened"
        return ScoreResult(path=str(path), score=1.0, verdict="real", threshold=2.0, percentile=50.0,
                           frame_nll=[1.0], frame_times=[0.04], av_offset_frames=0, av_offset_confidence=1.0,
                           face_rate=1.0, silent_fraction=0.0, duration=1.0, n_frames=2, fps=25.0)


def _app(det, tmp_path, **kw):
    kw = {"check_media": False, "tmp_dir": tmp_path / "up", "max_receiving": 16, "max_per_client": 16,
          "body_timeout_s": 60.0, "min_upload_rate": 0, **kw}
    return create_app(det, **kw)


def _hostport(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _stall(url: str, declared: int = 1024 * 1024) -> tuple[socket.socket, float]:
    """Headers + the first 1 KB of a multipart upload announcing ``declared`` bytes; then nothing. Returns the
    socket and the time the bytes were sent."""
    sock = socket.create_connection(_hostport(url), timeout=WAIT_S)
    head = (f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}"
            f"\r\nContent-Length: {declared}\r\n\r\n").encode()
    part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    sock.sendall(head + part + b"\x00" * (1024 - len(part)))
    return sock, time.monotonic()


def _read_reply(sock: socket.socket, timeout: float) -> tuple[float, int, dict, dict]:
    """(time the reply began, status, headers, JSON body) of the one answer on ``sock`` (closed after)."""
    sock.settimeout(timeout)
    raw = sock.recv(65536)
    got = time.monotonic()
    while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _length(raw):
        more = sock.recv(65536)
        if not more:
            break
        raw += more
    sock.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return got, int(lines[0].split()[1]), headers, json.loads(body)


def _length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=WAIT_S).json()


def _wait_until(cond, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_S)


def _post(url: str, name: str = "ok.mp4", **kw):
    return httpx.post(f"{url}/score", files={"file": (name, DATA, "video/mp4")}, timeout=WAIT_S, **kw)


def _assert_error(resp, status, reason):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "detail"} and body["error"] == reason and body["detail"], body
    return body


# ------------------------------------------------------------------------------------------- stalled uploads
def test_stalled_uploads_hold_no_scoring_place_and_get_408_at_the_deadline(tmp_path):
    """Issue 27: 9 stalled uploads (as many as the default scoring places). Another client is served while they
    stall; each stalled one gets 408 at the body deadline; their partial uploads are deleted."""
    det = Quick()
    app = _app(det, tmp_path, max_concurrency=1, max_queue=8, body_timeout_s=STALL_TIMEOUT_S)
    with background_server(app) as url:
        stalled = [_stall(url) for _ in range(N_STALLED)]
        _wait_until(lambda: _health(url)["receiving"] == N_STALLED, "the stalled uploads to be received")
        assert len(list((tmp_path / "up").iterdir())) == N_STALLED  # their partial files exist meanwhile
        t0 = time.monotonic()
        resp = _post(url)
        served_s = time.monotonic() - t0
        assert resp.status_code == 200, resp.text
        assert resp.json()["path"] == "ok.mp4" and det.calls == 1
        still = _health(url)
        assert still["receiving"] == N_STALLED, still  # ... while the stalled ones still stall
        replies = [(sent, _read_reply(sock, STALL_TIMEOUT_S + LATE_S)) for sock, sent in stalled]
        _wait_until(lambda: _health(url)["in_progress"] == 0, "every request to end")
    for sent, (got, status, headers, body) in replies:
        assert status == 408 and body["error"] == "upload-timeout", body
        assert f"{STALL_TIMEOUT_S:g} s" in body["detail"]
        assert headers["connection"] == "close" and headers["content-type"] == "application/json"
        assert STALL_TIMEOUT_S - EARLY_S <= got - sent <= STALL_TIMEOUT_S + LATE_S, got - sent
    assert det.calls == 1  # none of the stalled uploads was scored
    assert list((tmp_path / "up").iterdir()) == []  # partial uploads deleted
    print(f"normal request served in {served_s:.2f} s with {N_STALLED} stalled uploads; 408 after "
          + ", ".join(f"{got - sent:.2f}" for sent, (got, *_rest) in replies) + " s")


def test_an_upload_below_the_minimum_rate_gets_408_after_the_grace(tmp_path):
    app = _app(Quick(), tmp_path, min_upload_rate=MIN_RATE, rate_grace_s=RATE_GRACE_S, body_timeout_s=60.0)
    with background_server(app) as url:
        sock, sent = _stall(url)
        got, status, headers, body = _read_reply(sock, RATE_GRACE_S + LATE_S)
        _wait_until(lambda: _health(url)["in_progress"] == 0, "the request to end")
    assert status == 408 and body["error"] == "upload-too-slow" and f"{MIN_RATE:g} bytes/s" in body["detail"]
    assert RATE_GRACE_S - EARLY_S <= got - sent <= RATE_GRACE_S + LATE_S, got - sent
    assert list((tmp_path / "up").iterdir()) == []


def test_an_upload_that_keeps_up_with_the_rate_is_not_cut(tmp_path):
    """Sent in pieces across the grace period at well above the minimum rate: received whole, scored."""
    det = Quick()
    app = _app(det, tmp_path, min_upload_rate=1024, rate_grace_s=0.2, body_timeout_s=60.0)
    part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n").encode()
    body = part + b"\x01" * 40_000 + f"\r\n--{BOUNDARY}--\r\n".encode()
    with background_server(app) as url:
        sock = socket.create_connection(_hostport(url), timeout=WAIT_S)
        sock.sendall((f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                      f"boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        pieces = [body[i:i + 10_000] for i in range(0, len(body), 10_000)]
        for piece in pieces:  # 10 KB every 0.1 s: ~100 KB/s, 100x the minimum
            sock.sendall(piece)
            time.sleep(0.1)
        _, status, _, result = _read_reply(sock, WAIT_S)
    assert status == 200 and result["path"] == "a.mp4" and det.calls == 1


def test_a_client_leaving_mid_upload_frees_its_place(tmp_path):
    app = _app(Quick(), tmp_path, max_per_client=1)
    with background_server(app) as url:
        sock, _ = _stall(url)
        _wait_until(lambda: _health(url)["receiving"] == 1, "the upload to start")
        _assert_error(_post(url), 429, "too-many-requests")
        sock.close()
        _wait_until(lambda: _health(url)["in_progress"] == 0, "the abandoned upload to end")
        assert _post(url).status_code == 200
    assert list((tmp_path / "up").iterdir()) == []


# ------------------------------------------------------------------------------------------- caps
def test_per_client_cap_gives_429_with_retry_after(tmp_path):
    app = _app(Quick(), tmp_path, max_per_client=2, max_receiving=16, body_timeout_s=BODY_TIMEOUT_S)
    with background_server(app) as url:
        stalled = [_stall(url) for _ in range(2)]
        _wait_until(lambda: _health(url)["receiving"] == 2, "the stalled uploads to start")
        resp = _post(url)
        _assert_error(resp, 429, "too-many-requests")
        assert int(resp.headers["retry-after"]) > 0
        assert _health(url)["in_progress"] == 2  # the refused request left no count behind
        for sock, _ in stalled:  # at their deadline the places free up
            assert _read_reply(sock, BODY_TIMEOUT_S + LATE_S)[1] == 408
        _wait_until(lambda: _health(url)["in_progress"] == 0, "the stalled requests to end")
        assert _post(url).status_code == 200


def test_cap_on_uploads_being_received_gives_503(tmp_path):
    app = _app(Quick(), tmp_path, max_receiving=2, max_per_client=16)
    with background_server(app) as url:
        stalled = [_stall(url) for _ in range(2)]
        _wait_until(lambda: _health(url)["receiving"] == 2, "the stalled uploads to start")
        resp = _post(url)
        body = _assert_error(resp, 503, "busy")
        assert int(resp.headers["retry-after"]) > 0 and "being received" in body["detail"]
        for sock, _ in stalled:
            sock.close()
        _wait_until(lambda: _health(url)["in_progress"] == 0, "the abandoned uploads to end")
        assert _post(url).status_code == 200


def test_an_upload_takes_a_scoring_place_only_once_received(tmp_path):
    """One worker, no queue. A slow upload starts; a quick one arrives later, is received first and takes the
    worker; when the slow one is complete, there is no place: 503 (not before, while it was arriving)."""
    gate = threading.Event()
    det = Quick(gate=gate)
    app = _app(det, tmp_path, max_concurrency=1, max_queue=0)
    part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.mp4\"\r\n\r\n").encode()
    body = part + b"\x02" * 4096 + f"\r\n--{BOUNDARY}--\r\n".encode()
    with background_server(app) as url:
        slow = socket.create_connection(_hostport(url), timeout=WAIT_S)
        slow.sendall((f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                      f"boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body[:100])
        _wait_until(lambda: _health(url)["receiving"] == 1, "the slow upload to start")
        quick: dict = {}
        t = threading.Thread(target=lambda: quick.setdefault("resp", _post(url, "quick.mp4")))
        t.start()
        assert det.started.wait(WAIT_S), "the quick upload did not get the worker while the slow one arrived"
        slow.sendall(body[100:])
        _, status, headers, answer = _read_reply(slow, WAIT_S)
        gate.set()
        t.join(WAIT_S)
    assert status == 503 and answer["error"] == "busy" and int(headers["retry-after"]) > 0
    assert quick["resp"].status_code == 200 and det.calls == 1
    assert list((tmp_path / "up").iterdir()) == []


# ------------------------------------------------------------------------------------------- Origin / Host
def test_origin_and_host_checks(tmp_path):
    det = Quick()
    app = _app(det, tmp_path, allowed_hosts=default_allowed_hosts("127.0.0.1"),
               allow_origins=["https://Tools.Example.org/"])
    with background_server(app) as url:
        _, port = _hostport(url)
        own = f"http://127.0.0.1:{port}"
        body = _assert_error(_post(url, headers={"Origin": "http://evil.example"}), 403, "forbidden-origin")
        assert "evil.example" in body["detail"]
        _assert_error(_post(url, headers={"Origin": "null"}), 403, "forbidden-origin")
        _assert_error(_post(url, headers={"Origin": f"http://localhost:{port + 1}"}), 403, "forbidden-origin")
        assert det.calls == 0 and list((tmp_path / "up").iterdir()) == []  # refused before anything was read
        assert _post(url).status_code == 200  # no Origin (curl, scripts)
        assert _post(url, headers={"Origin": own}).status_code == 200  # the service's own page
        assert _post(url, headers={"Origin": "https://tools.example.org"}).status_code == 200  # --allow-origin
        # DNS rebinding: same-origin for the browser, but the Host is not ours; refused on every route
        rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        _assert_error(_post(url, headers=rebound), 403, "forbidden-host")
        _assert_error(httpx.get(f"{url}/health", headers={"Host": "evil.example"}, timeout=WAIT_S), 403,
                      "forbidden-host")
        for host in (f"localhost:{port}", f"[::1]:{port}", "127.0.0.1"):
            assert httpx.get(f"{url}/health", headers={"Host": host}, timeout=WAIT_S).status_code == 200, host
        assert _post(url, headers={"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}
                     ).status_code == 200
    assert det.calls == 4


def test_any_host_unless_told_and_guard_rules():
    assert create_app(Quick()).user_middleware  # the guard is installed
    open_guard = Guard(None)
    assert open_guard.problem("GET", "anything.example", None) is None
    assert open_guard.problem("POST", "x:1", "http://x:1") is None
    assert open_guard.problem("POST", "x:1", "http://y:1")[0] == "forbidden-origin"
    assert open_guard.problem("GET", "x:1", "http://y:1") is None  # reads are not POSTs
    assert Guard(["*"]).allowed_hosts is None and default_allowed_hosts("127.0.0.1", ["*"]) is None
    assert default_allowed_hosts("127.0.0.2", ["Box.LAN"]) == {"localhost", "127.0.0.1", "::1", "127.0.0.2",
                                                               "box.lan"}
    assert host_name("[::1]:8000") == "::1" and host_name("LocalHost:80") == "localhost" and host_name("::1") == "::1"
    with pytest.raises(ValueError):
        Guard(None, allow_origins=["tools.example.org"])  # not scheme://host


# ------------------------------------------------------------------------------------------- pure parts
def test_receive_limits_due_times_and_settings():
    lim = ReceiveLimits(timeout_s=10, min_rate=100, grace_s=2)
    assert lim.due(0.0, 0) == 2  # nothing after the grace: due at the grace
    assert lim.due(0.0, 500) == 5  # 500 bytes at 100 B/s last until t = 5
    assert lim.due(0.0, 10_000) == 10  # the total deadline caps it
    assert ReceiveLimits(0, 0, 0).due(0.0, 0) == float("inf")
    assert lim.error(0.0, 5, 10.0).reason == "upload-timeout" and lim.error(0.0, 5, 3.0).reason == "upload-too-slow"
    for bad in ({"timeout_s": -1}, {"min_rate": float("nan")}, {"grace_s": -0.5}):
        with pytest.raises(ValueError):
            ReceiveLimits(**{"timeout_s": 1, "min_rate": 1, "grace_s": 1, **bad})
    with pytest.raises(ValueError):
        create_app(Quick(), max_receiving=0)
    with pytest.raises(ValueError):
        create_app(Quick(), max_per_client=-1)
    with pytest.raises(ValueError):
        create_app(Quick(), body_timeout_s=-1)


def test_client_counter():
    c = ClientCounter(2)
    assert c.acquire("a") and c.acquire("a") and not c.acquire("a") and c.acquire("b")
    c.release("a")
    assert c["a"] == 1 and c.acquire("a")
    unlimited = ClientCounter(0)
    assert all(unlimited.acquire("a") for _ in range(100))
