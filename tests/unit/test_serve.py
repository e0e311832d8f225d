"""HTTP service: /score uploads (good, not media, truncated, no audio, oversize, missing field), errors as JSON,
temporary files removed, client file names never used as paths, /health, the page, 503 when busy."""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from avanomaly import __version__  # noqa: E402
from avanomaly.errors import NoFaceError  # noqa: E402
from avanomaly.io.testing import write_test_video  # noqa: E402
from avanomaly.scoring.result import RESULT_KEYS, SCHEMA_VERSION, ScoreResult  # noqa: E402
from avanomaly.serve import create_app  # noqa: E402
from avanomaly.serve.uploads import (MAX_DISPLAY_NAME, MULTIPART_OVERHEAD_BYTES, UploadError,  # noqa: E402
                                     UploadReceiver, display_name, safe_suffix)

#: tiny test models are uncalibrated; the result JSON carries that warning, the log need not
pytestmark = pytest.mark.filterwarnings("ignore:.*uncalibrated.*:UserWarning")

N_FRAMES = 25


class FakeDetector:
    """Scores a file by its size (so the test can tell the upload arrived intact); records the paths it saw."""

    def __init__(self, raise_exc: Exception | None = None, gate: threading.Event | None = None):
        self.paths: list[str] = []
        self.raise_exc = raise_exc
        self.gate = gate
        self.threads: set[str] = set()

    def anomaly_score(self, path):
        self.paths.append(str(path))
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            assert self.gate.wait(30), "test gate never opened"
        if self.raise_exc is not None:
            raise self.raise_exc
        size = Path(path).stat().st_size
        return ScoreResult(path=str(path), score=float(size), verdict="real", threshold=1e12, percentile=50.0,
                           frame_nll=[1.0, 2.0], frame_times=[0.04, 0.08], av_offset_frames=0,
                           av_offset_confidence=1.0, face_rate=1.0, silent_fraction=0.0, duration=1.0, n_frames=3,
                           fps=25.0, warnings=[f"decoded {path} fine"])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_test_video(tmp_path_factory.mktemp("clips") / "clip.mp4", n_frames=N_FRAMES,
                            container_options={"movflags": "faststart"})


@pytest.fixture
def tmp_uploads(tmp_path) -> Path:
    return tmp_path / "uploads"


def _client(det, tmp_uploads, **kw) -> TestClient:
    return TestClient(create_app(det, tmp_dir=tmp_uploads, **kw))


def _post(client, data: bytes, filename="clip.mp4", field="file"):
    return client.post("/score", files={field: (filename, data, "video/mp4")})


def _assert_error(resp, status, reason):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "detail"} and body["error"] == reason and body["detail"], body
    return body


# ------------------------------------------------------------------------------------------- /score
def test_good_upload_returns_the_score_json_and_cleans_up(clip, tmp_uploads):
    det = FakeDetector()
    client = _client(det, tmp_uploads)
    data = clip.read_bytes()
    resp = _post(client, data, filename="my interview.mp4")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert tuple(body) == RESULT_KEYS
    assert body["score"] == len(data)  # the whole file arrived, byte for byte
    assert body["path"] == "my interview.mp4"  # display name, not the server path
    scored = Path(det.paths[0])
    assert scored.parent.parent == tmp_uploads and scored.suffix == ".mp4" and scored.stem == "upload"
    assert not scored.exists() and list(tmp_uploads.iterdir()) == []  # removed after the request
    assert str(tmp_uploads) not in resp.text  # no server path leaks (warnings are scrubbed)
    assert body["warnings"] == ["decoded my interview.mp4 fine"]
    assert resp.headers["content-security-policy"].startswith("default-src 'self'")


def test_client_file_name_is_never_a_path(clip, tmp_uploads):
    det = FakeDetector()
    client = _client(det, tmp_uploads)
    resp = _post(client, clip.read_bytes(), filename="../../../etc/evil<script>.mp4")
    assert resp.status_code == 200, resp.text
    assert resp.json()["path"] == "evil_script_.mp4"
    assert Path(det.paths[0]).parent.parent == tmp_uploads
    assert list(tmp_uploads.iterdir()) == []


def test_text_file_named_mp4_is_refused_before_scoring(tmp_uploads):
    det = FakeDetector()
    resp = _post(_client(det, tmp_uploads), b"hello, this is not a video\n" * 100, filename="fake.mp4")
    body = _assert_error(resp, 415, "not-media")
    assert det.paths == [] and "fake.mp4" in body["detail"] and str(tmp_uploads) not in body["detail"]
    assert list(tmp_uploads.iterdir()) == []


@pytest.fixture(scope="module")
def tiny_det():
    import torch

    from avanomaly.scoring.testing import tiny_detector

    torch.set_num_threads(1)
    return tiny_detector(seed=0)


def test_real_detector_scores_an_upload(clip, tmp_uploads, tiny_det):
    resp = _post(_client(tiny_det, tmp_uploads), clip.read_bytes())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "ok" and body["n_frames"] == N_FRAMES and len(body["frame_nll"]) == N_FRAMES - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = tiny_det.anomaly_score(str(clip)).to_dict()
    assert body["score"] == pytest.approx(direct["score"])  # same as scoring the file directly
    assert list(tmp_uploads.iterdir()) == []


def test_truncated_video_gives_422_with_its_reason(clip, tmp_uploads, tiny_det):
    data = clip.read_bytes()
    resp = _post(_client(tiny_det, tmp_uploads), data[: len(data) // 2], filename="cut.mp4")
    body = _assert_error(resp, 422, "corrupt")
    assert "cut.mp4" in body["detail"] and str(tmp_uploads) not in body["detail"]
    assert list(tmp_uploads.iterdir()) == []


def test_video_without_audio_gives_422_no_audio(tmp_path, tmp_uploads, tiny_det):
    silent = write_test_video(tmp_path / "mute.mp4", n_frames=N_FRAMES, audio_rate=None)
    _assert_error(_post(_client(tiny_det, tmp_uploads), silent.read_bytes(), filename="mute.mp4"), 422, "no-audio")


def test_scoring_media_error_maps_to_422(clip, tmp_uploads):
    det = FakeDetector(raise_exc=NoFaceError("/somewhere/upload.mp4", "no face found in any frame"))
    _assert_error(_post(_client(det, tmp_uploads), clip.read_bytes()), 422, "no-face")
    assert list(tmp_uploads.iterdir()) == []


def test_unexpected_error_is_500_json_and_service_keeps_serving(clip, tmp_uploads):
    det = FakeDetector(raise_exc=RuntimeError("boom"))
    client = _client(det, tmp_uploads)
    _assert_error(_post(client, clip.read_bytes()), 500, "internal-error")
    det.raise_exc = None
    assert _post(client, clip.read_bytes()).status_code == 200
    assert list(tmp_uploads.iterdir()) == []


def test_oversize_upload_is_413_and_never_scored(clip, tmp_uploads):
    det = FakeDetector()
    client = _client(det, tmp_uploads, max_upload_mb=0.01)  # 10 KiB; the clip is bigger
    data = clip.read_bytes()
    assert len(data) > 0.01 * 1024 * 1024
    _assert_error(_post(client, data), 413, "too-large")
    assert det.paths == [] and list(tmp_uploads.iterdir()) == []


def test_oversize_without_content_length_stops_reading(tmp_uploads):
    """A chunked body (no Content-Length) is cut at the limit: the server stops consuming the stream."""
    det = FakeDetector()
    client = _client(det, tmp_uploads, max_upload_mb=0.05)
    boundary = "xyzBOUNDARY"
    chunk = b"\x00" * 8192

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
               "Content-Type: video/mp4\r\n\r\n").encode()
        for _ in range(1000):  # 8 MB offered
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    resp = client.post("/score", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    _assert_error(resp, 413, "too-large")
    assert det.paths == [] and list(tmp_uploads.iterdir()) == []
    # (TestClient buffers the whole body; test_serve_load checks over a socket that the server stops reading)


def test_receiver_raises_at_the_limit_and_writes_no_more(tmp_path):
    limit = 10_000
    dest = tmp_path / "upload"
    rec = UploadReceiver("multipart/form-data; boundary=B", dest, max_bytes=limit)
    rec.feed(b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n")
    fed = 0
    with pytest.raises(UploadError) as info:
        for _ in range(100):
            rec.feed(b"a" * 1000)
            fed += 1000
    rec.close()
    assert info.value.status == 413 and info.value.reason == "too-large"
    assert fed <= limit + 1000  # stopped within one chunk of the limit
    assert dest.stat().st_size <= limit


def test_content_length_over_the_limit_is_refused_up_front(tmp_uploads):
    det = FakeDetector()
    client = _client(det, tmp_uploads, max_upload_mb=1)
    limit = 1024 * 1024
    resp = client.post("/score", content=b"x", headers={
        "content-type": "multipart/form-data; boundary=B", "content-length": str(limit + MULTIPART_OVERHEAD_BYTES + 1)})
    _assert_error(resp, 413, "too-large")


def test_missing_file_field(clip, tmp_uploads):
    client = _client(FakeDetector(), tmp_uploads)
    _assert_error(client.post("/score", files={"comment": (None, "no file here")}), 400, "missing-field")
    _assert_error(_post(client, clip.read_bytes(), field="video"), 400, "missing-field")
    assert list(tmp_uploads.iterdir()) == []


def test_not_multipart_and_malformed_and_empty(tmp_uploads):
    client = _client(FakeDetector(), tmp_uploads)
    _assert_error(client.post("/score", json={"file": "x"}), 415, "unsupported-media-type")
    _assert_error(client.post("/score", content=b"--B\r\ngarbage", headers={
        "content-type": "multipart/form-data; boundary=B"}), 400, "bad-request")
    _assert_error(_post(client, b""), 400, "empty-file")
    two = [("file", ("a.mp4", b"x" * 10, "video/mp4")), ("file", ("b.mp4", b"y" * 10, "video/mp4"))]
    _assert_error(client.post("/score", files=two), 400, "too-many-files")
    assert list(tmp_uploads.iterdir()) == []


def test_too_long_video_is_413_before_decoding(tmp_path, tmp_uploads):
    det = FakeDetector()
    long_clip = write_test_video(tmp_path / "long.mp4", n_frames=50)  # 2 s
    _assert_error(_post(_client(det, tmp_uploads, max_seconds=1.0), long_clip.read_bytes()), 413, "too-long")
    assert det.paths == []


def test_busy_service_answers_503_with_retry_after(clip, tmp_uploads):
    gate = threading.Event()
    det = FakeDetector(gate=gate)
    client = _client(det, tmp_uploads, max_concurrency=1, max_queue=0)
    data = clip.read_bytes()
    first: dict = {}
    t = threading.Thread(target=lambda: first.setdefault("resp", _post(client, data)))
    t.start()
    try:
        deadline = time.monotonic() + 20
        while not det.paths and time.monotonic() < deadline:
            time.sleep(0.01)
        assert det.paths, "first request never reached the detector"
        resp = _post(client, data)
        _assert_error(resp, 503, "busy")
        assert int(resp.headers["retry-after"]) > 0
        assert client.get("/health").json()["in_progress"] == 1
    finally:
        gate.set()
        t.join(30)
    assert first["resp"].status_code == 200
    assert "MainThread" not in det.threads  # scored in a worker thread, off the event loop
    assert list(tmp_uploads.iterdir()) == []


# ------------------------------------------------------------------------------------------- other routes
def test_health_reports_model_and_limits(tmp_uploads, tiny_det):
    client = _client(tiny_det, tmp_uploads, max_upload_mb=12, max_concurrency=2, max_queue=3)
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model_loaded"] is True and h["avanomaly_version"] == __version__
    assert h["model"]["type"] == "Detector" and h["model"]["calibrated"] is False and h["model"]["device"] == "cpu"
    assert h["model"]["front_end"] == "pixels" and h["model"]["model"] is None  # not a shipped model
    assert h["limits"] == {"max_upload_mb": 12, "max_concurrency": 2, "max_queue": 3, "max_seconds": 600.0,
                           "body_timeout_s": 300.0, "min_upload_rate": 16384, "rate_grace_s": 10.0,
                           "max_receiving": 8, "max_per_client": 4}
    assert h["in_progress"] == 0 and h["receiving"] == 0


def test_concurrent_detectors_get_their_own_face_detector(tiny_det):
    from avanomaly.serve.app import make_pool

    pool = make_pool(tiny_det, 3)
    assert len(pool) == 3 and len({id(d) for d in pool}) == 3
    assert all(d.sync_model is tiny_det.sync_model for d in pool)  # weights shared
    assert pool[1].face_detector is not pool[2].face_detector


def test_page_is_self_contained(tmp_uploads):
    client = _client(FakeDetector(), tmp_uploads)
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/static/style.css").status_code == 200
    for text in (page.text, js.text, client.get("/static/style.css").text):
        for ref in ("src=\"http", "href=\"http", "url(http", "fetch(\"http", "import "):
            assert ref not in text
    assert 'name="file"' in page.text and 'id="plot"' in page.text
    _assert_error(client.get("/static/../app.py"), 404, "not-found")
    _assert_error(client.get("/nope"), 404, "not-found")
    _assert_error(client.get("/score"), 405, "method-not-allowed")


def test_display_name_and_suffix():
    assert display_name("C:\\Users\\x\\clip.MP4") == "clip.MP4"
    assert display_name("/etc/passwd") == "passwd"
    assert display_name("..") == "upload" and display_name(None) == "upload" and display_name("") == "upload"
    assert display_name("vidéo\x00\n.mp4") == "video__.mp4"
    long = display_name("a" * 500 + ".mp4")
    assert len(long) <= MAX_DISPLAY_NAME and long.endswith(".mp4")
    assert safe_suffix("x.mkv") == ".mkv" and safe_suffix("x.m p4") == "" and safe_suffix("noext") == ""


def test_create_app_rejects_bad_settings():
    with pytest.raises(ValueError):
        create_app(FakeDetector(), max_upload_mb=0)
    with pytest.raises(ValueError):
        create_app(FakeDetector(), max_concurrency=0)
    with pytest.raises(TypeError):
        create_app(object())


def test_docs_service_md_matches_the_service(tmp_uploads):
    """docs/service.md's examples and options table say what the service returns and takes."""
    import re

    from avanomaly.serve.commands import serve

    doc = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text(encoding="utf-8")
    assert set(re.findall(r'"schema_version": (\d+)', doc)) == {str(SCHEMA_VERSION)}
    example = doc.split("### `POST /score`")[1].split("```json")[1].split("```")[0]
    top_keys = [k for k in RESULT_KEYS if f'"{k}":' in example]
    assert top_keys == list(RESULT_KEYS)  # every key of the result, in the example
    health = _client(FakeDetector(), tmp_uploads).get("/health").json()
    health_doc = doc.split("### `GET /health`")[1].split("```json")[1].split("```")[0]
    for key in (*health, *health["limits"]):
        assert f'"{key}":' in health_doc, key
    for param in serve.params:
        flag = max(param.opts, key=len)
        assert f"`{flag}" in doc, flag  # in the options table
