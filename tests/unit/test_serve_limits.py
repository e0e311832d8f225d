"""Service limits that hold under abuse: the duration limit is enforced while decoding (a piped MKV declares
no duration), a client that disconnects frees its worker, and requests the HTTP parser rejects (a negative
Content-Length) get the service's JSON error like every other error."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from avanomaly.errors import ScoringCancelled, TooLongError  # noqa: E402
from avanomaly.io import iter_clip_chunks, probe  # noqa: E402
from avanomaly.io.decode import scan_duration  # noqa: E402
from avanomaly.io.testing import write_test_video  # noqa: E402
from avanomaly.scoring.result import ScoreResult  # noqa: E402
from avanomaly.serve import create_app  # noqa: E402
from avanomaly.serve.app import accepts_hooks  # noqa: E402
from avanomaly.serve.testing import background_server, write_piped_copy  # noqa: E402

#: tiny test models are uncalibrated; the result JSON carries that warning, the log need not
pytestmark = pytest.mark.filterwarnings("ignore:.*uncalibrated.*:UserWarning")

FPS = 25
#: the long clip and the limit it breaks (the clip is LONG_S / LIMIT_S times longer)
LONG_S = 10
LIMIT_S = 2
#: decode / score in chunks of this many frames, so stopping early is visible in whole chunks
CHUNK_FRAMES = 25
SHORT_FRAMES = 25
#: one frame (a packet's end may lie up to one frame past the first timestamp over the limit)
FRAME_S = 1 / FPS
#: generous bounds on waits that normally take milliseconds (shared 2-core machines), never the thing measured
EVENT_TIMEOUT_S = 30.0
#: a disconnected client's worker must be free within this many seconds (it is freed in ~ 0.1 s)
FREE_WITHIN_S = 5.0
#: the stand-in detector polls should_stop this often, and would hold its worker this long if never stopped
POLL_S = 0.01
HOLD_S = 60.0
REQUEST_TIMEOUT_S = 60.0


def _assert_error(resp, status, reason):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "detail"} and body["error"] == reason and body["detail"], body
    return body


def _result(path) -> ScoreResult:
    return ScoreResult(path=str(path), score=1.0, verdict="real", threshold=2.0, percentile=50.0,
                       frame_nll=[1.0], frame_times=[0.04], av_offset_frames=0, av_offset_confidence=1.0,
                       face_rate=1.0, silent_fraction=0.0, duration=1.0, n_frames=2, fps=float(FPS))


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("limit_clips")
    long_mkv = write_test_video(d / "long.mkv", n_frames=LONG_S * FPS, fps=FPS, video_codec="mpeg4")
    return {"long": long_mkv, "piped": write_piped_copy(long_mkv, d / "piped.mkv"),
            "short": write_test_video(d / "short.mp4", n_frames=SHORT_FRAMES, fps=FPS)}


@pytest.fixture(scope="module")
def tiny_det():
    import torch

    from avanomaly.scoring.testing import tiny_detector

    torch.set_num_threads(1)
    return tiny_detector(seed=0, chunk_frames=CHUNK_FRAMES)


# ------------------------------------------------------------------------------------------- duration limit
def test_piped_mkv_really_declares_no_duration(clips):
    assert probe(clips["long"])["duration"] == pytest.approx(LONG_S, abs=0.1)  # the source does
    info = probe(clips["piped"])
    assert info["duration"] is None and all(s["duration"] is None for s in info["streams"])
    import av

    with av.open(str(clips["piped"])) as c:
        assert c.duration is None and not any((s.metadata or {}).get("DURATION") for s in c.streams)
    # ... yet every frame is there
    assert sum(c.n_frames for c in iter_clip_chunks(clips["piped"], chunk_frames=CHUNK_FRAMES)) == LONG_S * FPS


def test_decoder_stops_at_the_limit(clips):
    seen = 0
    with pytest.raises(TooLongError) as info:
        for chunk in iter_clip_chunks(clips["piped"], chunk_frames=CHUNK_FRAMES, max_seconds=LIMIT_S):
            seen += chunk.n_frames
    assert info.value.reason == "too-long" and f"{LIMIT_S:g} s" in info.value.message
    assert seen == LIMIT_S * FPS  # every frame up to the limit, none past it
    # exactly the limit is allowed
    assert sum(c.n_frames for c in iter_clip_chunks(clips["piped"], max_seconds=LONG_S)) == LONG_S * FPS
    with pytest.raises(ValueError):
        next(iter_clip_chunks(clips["piped"], max_seconds=0))


def test_detector_max_seconds_for_files_and_arrays(clips, tiny_det):
    from avanomaly.scoring.testing import synthetic_clip

    with pytest.raises(TooLongError):
        tiny_det.anomaly_score(str(clips["piped"]), max_seconds=LIMIT_S)
    frames, audio = synthetic_clip(n_frames=(LIMIT_S + 1) * FPS)
    with pytest.raises(TooLongError):
        tiny_det.anomaly_score((frames, audio), max_seconds=LIMIT_S)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tiny_det.anomaly_score((frames, audio), max_seconds=LIMIT_S + 1).n_frames == (LIMIT_S + 1) * FPS


def test_scan_duration_reads_packets_only_up_to_the_limit(clips):
    assert scan_duration(clips["piped"]) == pytest.approx(LONG_S, abs=FRAME_S)  # no declared duration needed
    early = scan_duration(clips["piped"], stop_after=LIMIT_S)
    assert LIMIT_S < early <= LIMIT_S + 2 * FRAME_S  # the latest packet read is just past the limit
    assert scan_duration(clips["piped"], stop_after=LONG_S + 1) == pytest.approx(LONG_S, abs=FRAME_S)
    assert scan_duration(write_test_video(clips["long"].with_name("mute.mp4"), n_frames=2, video_codec=None,
                                          audio_rate=16000)) is None  # no video stream


def test_piped_upload_over_the_limit_is_refused_before_decoding(clips, tiny_det, tmp_path, decoded_frames):
    """The container declares no duration; the packet scan finds the length, nothing is decoded or scored."""
    client = TestClient(create_app(tiny_det, tmp_dir=tmp_path / "up", max_seconds=LIMIT_S))
    resp = client.post("/score", files={"file": ("stream.mkv", clips["piped"].read_bytes(), "video/x-matroska")})
    body = _assert_error(resp, 413, "too-long")
    assert body["detail"].startswith("stream.mkv:") and f"{LIMIT_S:g} s" in body["detail"]
    assert decoded_frames == []
    assert list((tmp_path / "up").iterdir()) == []


def test_decoding_enforces_the_limit_without_the_probe(clips, tiny_det, tmp_path, decoded_frames):
    """The decoder is the authority (packet timestamps may lie): with no probe at all it stops at the limit."""
    client = TestClient(create_app(tiny_det, tmp_dir=tmp_path / "up", max_seconds=LIMIT_S, check_media=False))
    resp = client.post("/score", files={"file": ("stream.mkv", clips["piped"].read_bytes(), "video/x-matroska")})
    body = _assert_error(resp, 413, "too-long")
    assert body["detail"].startswith("stream.mkv:") and "decoding stopped" in body["detail"]
    assert str(tmp_path) not in body["detail"]
    assert 0 < sum(decoded_frames) <= LIMIT_S * FPS < LONG_S * FPS  # stopped at the limit, not after scoring
    assert list((tmp_path / "up").iterdir()) == []


def test_piped_upload_within_the_limit_is_scored(clips, tiny_det, tmp_path, decoded_frames):
    client = TestClient(create_app(tiny_det, tmp_dir=tmp_path / "up", max_seconds=LONG_S))
    resp = client.post("/score", files={"file": ("stream.mkv", clips["piped"].read_bytes(), "video/x-matroska")})
    assert resp.status_code == 200, resp.text
    assert resp.json()["n_frames"] == LONG_S * FPS == sum(decoded_frames)


def test_the_service_passes_its_hooks_only_to_detectors_that_take_them(tiny_det):
    class PathOnly:
        def anomaly_score(self, path):
            return _result(path)

    class Kwargs:
        def anomaly_score(self, path, **kwargs):
            return _result(path)

    assert accepts_hooks(tiny_det) and accepts_hooks(Kwargs()) and not accepts_hooks(PathOnly())
    assert create_app(PathOnly()).state.serve.hooks is False
    assert create_app(tiny_det).state.serve.hooks is True


# ------------------------------------------------------------------------------------------- disconnects
class StoppableDetector:
    """Holds its worker (up to HOLD_S) on every call until ``release`` is set or ``should_stop()`` turns True;
    ``release`` set from the start lets calls through at once."""

    def __init__(self):
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.stopped_at: float | None = None

    def anomaly_score(self, path, max_seconds=None, should_stop=None):
        self.calls += 1
        self.started.set()
        deadline = time.monotonic() + HOLD_S
        while not self.release.is_set():
            if should_stop is not None and should_stop():
                self.stopped_at = time.monotonic()
                self.stopped.set()
                raise ScoringCancelled(f"{path}: cancelled")
            assert time.monotonic() < deadline, "should_stop never turned True"
            time.sleep(POLL_S)
        return _result(path)


def _raw_request(data: bytes, filename: str = "clip.mp4") -> bytes:
    boundary = "avanomalyTestBoundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary={boundary}"
            f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    return head + body


def _connect(url: str) -> socket.socket:
    host, port = url.rsplit("/", 1)[-1].split(":")
    return socket.create_connection((host, int(port)), timeout=EVENT_TIMEOUT_S)


def _wait_until(cond, what: str) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_S)


def _in_progress(url: str) -> int:
    return httpx.get(f"{url}/health", timeout=REQUEST_TIMEOUT_S).json()["in_progress"]


def test_disconnected_client_frees_its_worker(clips, tmp_path):
    """Capacity 1: the first client leaves mid-scoring; its job stops and a second request is served."""
    det = StoppableDetector()
    uploads = tmp_path / "up"
    app = create_app(det, max_concurrency=1, max_queue=0, tmp_dir=uploads)
    data = clips["short"].read_bytes()
    with background_server(app) as url:
        sock = _connect(url)
        sock.sendall(_raw_request(data))
        assert det.started.wait(EVENT_TIMEOUT_S), "the first request never reached the detector"
        busy = httpx.post(f"{url}/score", files={"file": ("b.mp4", data, "video/mp4")}, timeout=REQUEST_TIMEOUT_S)
        _assert_error(busy, 503, "busy")  # the capacity really is used up
        left_at = time.monotonic()
        sock.close()
        assert det.stopped.wait(EVENT_TIMEOUT_S), "the abandoned job was never told to stop"
        _wait_until(lambda: _in_progress(url) == 0, "the abandoned request to end")
        freed_s = time.monotonic() - left_at
        assert freed_s < FREE_WITHIN_S, f"worker freed only {freed_s:.1f} s after the client left"
        det.release.set()
        resp = httpx.post(f"{url}/score", files={"file": ("next.mp4", data, "video/mp4")},
                          timeout=REQUEST_TIMEOUT_S)
        assert resp.status_code == 200, resp.text
        assert resp.json()["path"] == "next.mp4" and det.calls == 2
    assert list(uploads.iterdir()) == []


def test_disconnect_while_queued_gives_up_the_place(clips, tmp_path):
    """A request waiting for the worker stops waiting when its client leaves; the running job is unaffected."""
    det = StoppableDetector()
    app = create_app(det, max_concurrency=1, max_queue=1, tmp_dir=tmp_path / "up")
    data = clips["short"].read_bytes()
    with background_server(app) as url:
        running = _connect(url)
        running.sendall(_raw_request(data, "running.mp4"))
        assert det.started.wait(EVENT_TIMEOUT_S)
        queued = _connect(url)
        queued.sendall(_raw_request(data, "queued.mp4"))
        _wait_until(lambda: _in_progress(url) == 2, "the second request to queue")
        queued.close()
        _wait_until(lambda: _in_progress(url) == 1, "the queued request to give up its place")
        assert det.calls == 1 and not det.stopped.is_set()  # the queued one never ran, the running one runs on
        det.release.set()
        reply = running.makefile("rb").read()  # "Connection: close": the server closes after answering
        running.close()
    assert reply.startswith(b"HTTP/1.1 200")


def test_real_detector_stops_between_chunks(clips, tiny_det, decoded_frames):
    checks: list[int] = []

    def stop_after_first_chunk() -> bool:
        checks.append(sum(decoded_frames))
        return sum(decoded_frames) > 0

    with pytest.raises(ScoringCancelled):
        tiny_det.anomaly_score(str(clips["long"]), should_stop=stop_after_first_chunk)
    # stopped at the first check after a chunk arrived; the prefetcher decodes at most one chunk ahead
    assert 0 < sum(decoded_frames) <= 2 * CHUNK_FRAMES < LONG_S * FPS


# ------------------------------------------------------------------------------------------- JSON errors
@pytest.mark.parametrize("value", ["-1", "abc"])
def test_unparsable_content_length_gets_json_over_a_socket(value):
    """uvicorn's own parser rejects these before the app runs; the answer is still the service's JSON."""
    app = create_app(StoppableDetector())
    with background_server(app) as url:
        sock = _connect(url)
        sock.sendall(f"POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Length: {value}\r\n\r\n".encode())
        raw = sock.makefile("rb").read()  # the server closes the connection after the error
        sock.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert lines[0].startswith("HTTP/1.1 400")
    assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body)
    assert headers["x-content-type-options"] == "nosniff"
    parsed = json.loads(body)
    assert set(parsed) == {"error", "detail"} and parsed["error"] == "bad-request"
    assert "Content-Length" in parsed["detail"]


def test_negative_content_length_reaching_the_app_is_json(tmp_path):
    client = TestClient(create_app(StoppableDetector(), tmp_dir=tmp_path / "up"))
    resp = client.post("/score", content=b"x", headers={"content-type": "multipart/form-data; boundary=B",
                                                          "content-length": "-5"})
    assert "'-5'" in _assert_error(resp, 400, "bad-request")["detail"]


def test_an_unexpected_error_on_any_route_is_json():
    app = create_app(StoppableDetector())

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret server detail")

    resp = TestClient(app, raise_server_exceptions=False).get("/boom")
    body = _assert_error(resp, 500, "internal-error")
    assert "RuntimeError" in body["detail"] and "secret" not in body["detail"]
