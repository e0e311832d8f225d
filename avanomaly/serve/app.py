"""The FastAPI application: ``GET /health``, ``POST /score``, ``GET /`` (upload page). See docs/service.md.

``create_app(detector, ...)`` takes anything with ``anomaly_score(path) -> result`` (``result.to_dict()`` the
ScoreResult JSON; media problems raised as ``avanomaly.errors.MediaError``), so the service can be tested
with small stand-ins. Requires the ``serve`` extra (fastapi, uvicorn, python-multipart).
"""

from __future__ import annotations

import copy
import inspect
import logging
import queue
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from avanomaly._version import __version__
from avanomaly.errors import AvanomalyError, EmptyFileError, MediaError, NotMediaError, ScoringCancelled, TooLongError
from avanomaly.preprocess.frontends import face_model_name
from avanomaly.postprocess.basis import summary as basis_summary
from avanomaly.serve.settings import (DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_PER_CLIENT,
                             DEFAULT_MAX_QUEUE, DEFAULT_MAX_RECEIVING, DEFAULT_MAX_SECONDS, DEFAULT_MAX_UPLOAD_MB,
                             DEFAULT_MIN_UPLOAD_RATE, DEFAULT_RATE_GRACE_S)
from avanomaly.serve.guards import Guard, OriginHostGuard
from avanomaly.serve.limits import ClientCounter, ClientGone, ReceiveLimits, receive_body
from avanomaly.serve.uploads import BYTES_PER_MB, UploadError, UploadReceiver, check_content_length, safe_suffix

log = logging.getLogger(__name__)

#: seconds suggested to a client turned away with 503 or 429
RETRY_AFTER_SECONDS = 5
#: sent with answers given before the request body was read to the end: the rest of it is not drained
CLOSE = {"Connection": "close"}
#: temporary folders of uploads are named with this prefix (one folder per request, removed afterwards)
TMP_PREFIX = "avanomaly-upload-"
#: server-side name of the uploaded file inside its temporary folder (the client's name is never used)
UPLOAD_STEM = "upload"
STATIC_DIR = Path(__file__).with_name("static")
#: keyword arguments of ``anomaly_score`` through which the service enforces --max-seconds while decoding and
#: stops the work of a client that disconnected (``Detector.anomaly_score`` has both)
SCORING_HOOKS = ("max_seconds", "should_stop")
#: files served under /static/ (nothing else is reachable)
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
#: the page loads nothing from outside this server
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def error_response(status: int, reason: str, detail: str, headers: dict | None = None) -> JSONResponse:
    """Every error the service returns: ``{"error": reason, "detail": message}``."""
    return JSONResponse({"error": reason, "detail": detail}, status_code=status,
                        headers={**SECURITY_HEADERS, **(headers or {})})


def media_error_status(exc: MediaError) -> int:
    """415 not a media file, 400 empty upload, 413 longer than --max-seconds, 422 a media file that cannot be
    scored (no audio/face, corrupt...)."""
    if isinstance(exc, NotMediaError):
        return 415
    if isinstance(exc, EmptyFileError):
        return 400
    if isinstance(exc, TooLongError):
        return 413
    return 422


def accepts_hooks(detector) -> bool:
    """Whether ``detector.anomaly_score`` takes the SCORING_HOOKS keywords (or ``**kwargs``). Without them the
    duration limit is checked on the container's declared duration only and an abandoned request is scored
    to the end."""
    try:
        params = inspect.signature(detector.anomaly_score).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no introspection, call with the path only
        return False
    return all(h in params for h in SCORING_HOOKS) or any(p.kind is p.VAR_KEYWORD for p in params.values())


def make_pool(detector, n: int) -> list:
    """``n`` detectors for ``n`` concurrent jobs. An avanomaly ``Detector`` is shallow-copied: the torch models
    (read-only at inference) are shared, each copy gets its own face detector (cv2.dnn nets are not
    thread-safe). Any other object is reused as is and must then be thread-safe itself when ``n > 1``."""
    try:
        from avanomaly.scoring.detector import Detector
    except ImportError:  # pragma: no cover - torch missing
        Detector = ()  # noqa: N806
    pool = [detector]
    for _ in range(n - 1):
        if isinstance(detector, Detector):
            clone = copy.copy(detector)
            clone._face_detector = None  # created lazily, one per copy
            pool.append(clone)
        else:
            pool.append(detector)
    return pool


def describe_detector(detector) -> dict:
    """Model facts for /health, from whatever the detector exposes."""
    cfg = getattr(detector, "preprocess_cfg", None)
    calibration = getattr(detector, "calibration", None)
    agg = getattr(detector, "aggregation", None)
    threshold = getattr(detector, "threshold", None)
    calibration_score = getattr(calibration, "score_definition", None)
    return {
        "model": getattr(detector, "model_name", None),  # a shipped model's name ("starter"), else None
        "source": Path(str(getattr(detector, "source", None) or "")).name or None,  # file name only, no paths
        "type": type(detector).__name__,
        "device": str(getattr(detector, "device", "cpu")),
        "calibrated": calibration is not None or threshold is not None,
        "threshold": float(threshold) if isinstance(threshold, (int, float)) else None,
        "front_end": getattr(cfg, "front_end", None),
        "face_detector": face_model_name(cfg),
        "score": calibration_score or None,
        "fps": getattr(cfg, "fps", None),
        "aggregation": getattr(agg, "method", None),
        "offset_curve": getattr(detector, "curve", None),  # the score terms' offset curve: "vote" | "cosine"
        "precision": getattr(detector, "precision", None),
        # what the threshold rests on: clips, speakers, domains, out-of-speaker false-alarm rate (postprocess/basis.py)
        "calibration_basis": basis_summary(getattr(calibration, "basis", None) or {}),
    }


@dataclass
class ServeState:
    pool: "queue.Queue"
    limiter: anyio.CapacityLimiter
    max_bytes: int
    max_concurrency: int
    max_queue: int
    max_seconds: float
    tmp_dir: str | None
    model_info: dict
    check_media: bool
    hooks: bool  # the detectors take max_seconds / should_stop (accepts_hooks)
    receive_limits: ReceiveLimits
    max_receiving: int
    clients: ClientCounter
    # (counters changed on the event loop only)
    receiving: int = 0  # uploads being received: they hold no scoring place
    admitted: int = 0  # received uploads waiting for a worker or being scored (at most capacity)

    @property
    def capacity(self) -> int:
        return self.max_concurrency + self.max_queue

    @property
    def pending(self) -> int:
        """Requests being received, waiting or scored."""
        return self.receiving + self.admitted

    def refusal(self, client: str) -> JSONResponse | None:
        """429 / 503 for a request arriving now, else None (then ``clients`` counts it: release it after)."""
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS), **CLOSE}
        if self.admitted >= self.capacity:
            return error_response(503, "busy", f"{self.admitted} requests waiting or being scored (limit "
                                               f"{self.capacity}); retry later", headers=retry)
        if self.receiving >= self.max_receiving:
            return error_response(503, "busy", f"{self.receiving} uploads being received (limit "
                                               f"{self.max_receiving}); retry later", headers=retry)
        if not self.clients.acquire(client):
            return error_response(429, "too-many-requests", f"this client already has {self.clients.limit} "
                                                            "requests in progress; retry later", headers=retry)
        return None


def _score_with_pool(state: ServeState, path: str, should_stop):
    det = state.pool.get_nowait()  # the limiter admits at most pool-size jobs, so one is always free
    try:
        if state.hooks:  # the length limit holds while decoding; a departed client stops the work
            return det.anomaly_score(path, max_seconds=state.max_seconds or None, should_stop=should_stop)
        return det.anomaly_score(path)  # ("uncalibrated" etc. are in the result's warnings too)
    finally:
        state.pool.put(det)


def _capture(fn, *args) -> tuple[bool, object]:
    """``(True, fn(*args))`` or ``(False, the exception)``: a worker's outcome, handed back without raising."""
    try:
        return True, fn(*args)
    except Exception as exc:  # noqa: BLE001 - re-raised by the caller, on the event loop
        return False, exc


async def run_while_connected(request: Request, fn, *args, limiter: anyio.CapacityLimiter):
    """``fn(*args, should_stop)`` in a worker thread, watching the client meanwhile.

    When the client disconnects, ``should_stop()`` turns True (the job stops at its next check and frees its
    worker) and a request still waiting for a worker stops waiting; either way ``ClientDisconnect`` is raised.
    Otherwise returns ``fn``'s value or raises its exception. The request body must have been read already.
    """
    gone = threading.Event()
    outcome: list[tuple[bool, object]] = []

    async def watch(scope: anyio.CancelScope) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # after the body only a disconnect (or the end of the response) arrives
        gone.set()
        scope.cancel()  # a running job is waited for (it stops at its next check); a queued one is dropped

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, tg.cancel_scope)
        outcome.append(await anyio.to_thread.run_sync(_capture, fn, *args, gone.is_set, limiter=limiter))
        tg.cancel_scope.cancel()  # the job is done: stop watching
    if not outcome or (gone.is_set() and isinstance(outcome[0][1], ScoringCancelled)):
        raise ClientDisconnect()  # (no outcome: the watcher cancelled the wait for a worker)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _probe(path: str, max_seconds: float) -> dict:
    """``probe`` + (with a length limit) ``check_length``: ``TooLongError`` from the declared duration or the
    video's packets (read up to just past the limit), so a stream that declares no duration (or a wrong one) is
    refused before scoring."""
    from avanomaly.io.length import check_length
    from avanomaly.io.probe import probe

    info = probe(path)
    check_length(path, max_seconds, scan=True)
    return info


def _scrub(text: str, tmp_path: str, name: str) -> str:
    """Server paths never leave the server: the temporary file's path becomes the client's display name."""
    text = str(text).replace(tmp_path, name)
    return text.replace(str(Path(tmp_path).parent), "<upload>")


def create_app(detector, *, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
               max_concurrency: int = DEFAULT_MAX_CONCURRENCY, max_queue: int = DEFAULT_MAX_QUEUE,
               max_seconds: float = DEFAULT_MAX_SECONDS, tmp_dir: str | Path | None = None,
               model_info: dict | None = None, check_media: bool = True,
               body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S, min_upload_rate: float = DEFAULT_MIN_UPLOAD_RATE,
               rate_grace_s: float = DEFAULT_RATE_GRACE_S, max_receiving: int = DEFAULT_MAX_RECEIVING,
               max_per_client: int = DEFAULT_MAX_PER_CLIENT, allowed_hosts=None, allow_origins=()) -> FastAPI:
    """Build the service around ``detector`` (or a list of detectors, one per concurrent job).

    max_upload_mb: uploads larger than this get 413 (reading stops at the limit).
    max_concurrency: clips scored at the same time (worker threads; the event loop never scores).
    max_queue: further received uploads that may wait for a worker; beyond concurrency + queue -> 503 +
        Retry-After (checked on arrival and again once the upload is received).
    max_seconds: videos longer than this get 413: before decoding, from the declared duration and from the
        video packets' timestamps (``scan_duration``, read up to the limit); and while decoding, the moment the
        decoded video passes the limit (the authority, whatever the file claims); 0 = no limit.
    tmp_dir: where uploads are written (default the system temp dir); each request's folder is removed after.
    check_media: probe the upload (magic bytes, streams, codecs) before scoring.
    body_timeout_s: seconds to receive the whole upload (0 = no limit); min_upload_rate: bytes/s it must average
        once rate_grace_s have passed (0 = no minimum). Missing either -> 408, the partial upload is deleted.
    max_receiving: uploads received at the same time (all clients; they hold no scoring place) -> 503 beyond.
    max_per_client: /score requests in progress per client address (0 = no cap) -> 429 + Retry-After beyond.
    allowed_hosts: Host names (port ignored) the service answers to, 403 for others (DNS-rebinding defence);
        None or ``"*"`` in it = any Host. ``avanomaly serve`` sets it when bound to loopback.
    allow_origins: origins (``https://host[:port]``) besides the service's own whose POSTs are accepted; a POST
        with any other ``Origin`` gets 403 (no ``Origin``, as from curl: accepted).
    """
    if max_upload_mb <= 0:
        raise ValueError(f"max_upload_mb must be > 0, got {max_upload_mb}")
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
    if max_queue < 0:
        raise ValueError(f"max_queue must be >= 0, got {max_queue}")
    if max_seconds < 0:
        raise ValueError(f"max_seconds must be >= 0, got {max_seconds}")
    if max_receiving < 1:
        raise ValueError(f"max_receiving must be >= 1, got {max_receiving}")
    receive_limits = ReceiveLimits(body_timeout_s, min_upload_rate, rate_grace_s)  # ValueError when < 0
    clients = ClientCounter(max_per_client)
    guard = Guard(allowed_hosts, allow_origins)
    detectors = list(detector) if isinstance(detector, (list, tuple)) else make_pool(detector, max_concurrency)
    if not detectors or not all(callable(getattr(d, "anomaly_score", None)) for d in detectors):
        raise TypeError("detector must have an anomaly_score(path) method")
    max_concurrency = min(max_concurrency, len(detectors))
    pool: queue.Queue = queue.Queue()
    for d in detectors[:max_concurrency]:
        pool.put(d)
    if tmp_dir is not None:
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    state = ServeState(pool=pool, limiter=anyio.CapacityLimiter(max_concurrency),
                       max_bytes=int(max_upload_mb * BYTES_PER_MB), max_concurrency=max_concurrency,
                       max_queue=max_queue, max_seconds=float(max_seconds),
                       tmp_dir=None if tmp_dir is None else str(tmp_dir),
                       model_info=model_info if model_info is not None else describe_detector(detectors[0]),
                       check_media=check_media, hooks=all(accepts_hooks(d) for d in detectors),
                       receive_limits=receive_limits, max_receiving=max_receiving, clients=clients)
    if not state.hooks:
        log.warning("%s.anomaly_score takes no %s: the length limit uses the container's declared duration only "
                    "and abandoned requests are scored to the end", type(detectors[0]).__name__,
                    "/".join(SCORING_HOOKS))

    app = FastAPI(title="avanomaly", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.serve = state
    app.add_middleware(OriginHostGuard, guard=guard, respond=lambda *a: error_response(*a, headers=CLOSE))
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    static = {name: (STATIC_DIR / name).read_bytes() for name in STATIC_FILES}

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        reason = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return error_response(exc.status_code, reason, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc):
        return error_response(422, "invalid-request", str(exc.errors()))

    @app.exception_handler(Exception)
    async def _unexpected_error(request, exc):  # any route: JSON, never Starlette's plain-text 500
        log.error("unexpected error on %s: %s: %s", request.url.path, type(exc).__name__, exc)
        return error_response(500, "internal-error", f"{type(exc).__name__} (see the server log)")

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    @app.get("/static/{name}")
    async def static_file(name: str):
        if name not in static:
            return error_response(404, "not-found", f"no static file {name!r}")
        return Response(static[name], media_type=STATIC_FILES[name], headers=SECURITY_HEADERS)

    @app.get("/health")
    async def health():
        return JSONResponse({
            "status": "ok", "model_loaded": True, "avanomaly_version": __version__, "model": state.model_info,
            "limits": {"max_upload_mb": state.max_bytes / BYTES_PER_MB, "max_concurrency": state.max_concurrency,
                       "max_queue": state.max_queue, "max_seconds": state.max_seconds or None,
                       "body_timeout_s": receive_limits.timeout_s or None,
                       "min_upload_rate": receive_limits.min_rate or None, "rate_grace_s": receive_limits.grace_s,
                       "max_receiving": state.max_receiving, "max_per_client": clients.limit or None},
            "in_progress": state.pending, "receiving": state.receiving,
        }, headers=SECURITY_HEADERS)

    @app.post("/score")
    async def score(request: Request):
        client = request.client.host if request.client else "unknown"
        refused = state.refusal(client)
        if refused is not None:
            return refused
        state.receiving += 1
        stage = "receiving"  # -> "admitted" once the body is in and a scoring place is taken
        workdir: Path | None = None
        tmp_path, name = "", "upload"
        try:
            check_content_length(request.headers.get("content-length"), state.max_bytes)
            workdir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=state.tmp_dir))
            receiver = UploadReceiver(request.headers.get("content-type"), workdir / UPLOAD_STEM, state.max_bytes)
            try:  # bounded in time and rate: a stalled client gets 408 and holds no scoring place meanwhile
                await receive_body(request.receive, receiver.feed, state.receive_limits)
                received = receiver.finish()
            finally:
                receiver.close()
            state.receiving -= 1
            stage = ""
            if state.admitted >= state.capacity:  # filled up while this upload was arriving
                return error_response(503, "busy", f"{state.admitted} requests waiting or being scored (limit "
                                                   f"{state.capacity}); retry later",
                                      headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            state.admitted += 1
            stage = "admitted"
            name = received.filename
            path = received.path.rename(received.path.with_suffix(safe_suffix(name)))
            tmp_path = str(path)
            if state.check_media:
                await anyio.to_thread.run_sync(_probe, tmp_path, state.max_seconds)  # too long: 413 below
            result = await run_while_connected(request, _score_with_pool, state, tmp_path, limiter=state.limiter)
            if getattr(result, "ok", True) is False:  # a ScoreFailure-like object
                return error_response(422, getattr(result, "reason", "error"),
                                      _scrub(getattr(result, "message", ""), tmp_path, name))
            out = result.to_dict() if hasattr(result, "to_dict") else dict(result)
            out["path"] = name
            out["warnings"] = [_scrub(w, tmp_path, name) for w in out.get("warnings", [])]
            return JSONResponse(out, headers=SECURITY_HEADERS)
        except UploadError as exc:
            if exc.status == 408:
                log.info("upload from %s refused: %s", client, exc.message)
            return error_response(exc.status, exc.reason, exc.message, headers=CLOSE)
        except MediaError as exc:
            return error_response(media_error_status(exc), exc.reason, f"{name}: {_scrub(exc.message, tmp_path, name)}")
        except (ClientDisconnect, ClientGone):  # while uploading, waiting or being scored: the work was dropped
            log.info("client disconnected; request for %s abandoned", name)
            return error_response(400, "client-disconnected", "the client disconnected; the request was abandoned")
        except AvanomalyError as exc:
            log.error("scoring %s failed: %s", name, exc)
            return error_response(500, "scoring-error", _scrub(str(exc), tmp_path, name))
        except Exception as exc:  # noqa: BLE001 - the service stays up; the reason is logged and returned
            log.exception("unexpected error scoring %s", name)
            return error_response(500, "internal-error", f"{type(exc).__name__}: {_scrub(str(exc), tmp_path, name)}")
        finally:
            if stage == "receiving":
                state.receiving -= 1
            elif stage == "admitted":
                state.admitted -= 1
            state.clients.release(client)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    return app
