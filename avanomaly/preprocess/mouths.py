"""Mouth crops: sparse face detection, track selection, interpolation + smoothing, crop, grayscale, resize.

Per video frame ``t`` the output is a ``crop_size x crop_size`` uint8 grayscale mouth crop and a flag
``face_found[t]``. The geometry of a crop is ``(cx, cy, side)``:

- with landmarks: centre = midpoint of the two mouth corners; side = ``MOUTH_SIDE_PER_FACE_WIDTH`` x the
  face box width (the face width is steadier than the mouth width, which changes while speaking);
- without landmarks (e.g. Haar / centre detector): centre = ``LOWER_FACE_Y`` of the way down the face box,
  horizontally centred; same side.

The detector runs on frames ``0, detect_every, 2*detect_every, ...`` and on the last frame. Geometry is
linearly interpolated between frames where a face was found, held constant before the first / after the
last, then smoothed with a centred moving average of ``SMOOTH_FRAMES`` frames. ``face_found[t]`` is the
result of the detection frame nearest to ``t``.

The main face: at the first detection with any face, the largest box; afterwards the face that overlaps
the previous main face most (IoU >= ``TRACK_MIN_IOU``), else the largest again (track restarted).

Speed: while a face is tracked, detectors that declare ``supports_roi = True`` (CenterFace, Haar) search
only a region of interest (a square of ``ROI_SCALE`` x the previous face size around it) shrunk so that the
face is about ``ROI_SIDE / ROI_SCALE`` pixels: several times fewer pixels than a 512-pixel frame. When that
gives no face overlapping the track, the full frame is searched again, so a lost track is recovered at once.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from avanomaly.errors import NoFaceError
from avanomaly.preprocess.config import PreprocessConfig
from avanomaly.preprocess.detectors import Face, FaceDetector, center_face

#: crop side as a fraction of the face box width
MOUTH_SIDE_PER_FACE_WIDTH = 0.6
#: without landmarks, the mouth centre is this fraction of the face box height below its top
LOWER_FACE_Y = 0.78
#: landmark indices of the mouth corners (CenterFace / RetinaFace order)
MOUTH_LEFT, MOUTH_RIGHT = 3, 4
#: IoU needed to continue the track of the main face
TRACK_MIN_IOU = 0.3
#: moving-average length (frames) applied to the interpolated geometry
SMOOTH_FRAMES = 5
#: ROI around the previous face: side = ROI_SCALE x max(face width, height), shrunk to <= ROI_SIDE pixels
ROI_SCALE = 2.0
ROI_SIDE = 160
#: use the full frame instead when the ROI would cover more than this fraction of it
ROI_MAX_FRAME_FRACTION = 0.5
#: streaming: frames kept while waiting for the first face (60 s at 25 fps); older ones get centre crops
PENDING_MAX_FRAMES = 1500


def box_iou(a, b) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    w = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    h = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = w * h
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def select_main_face(faces: list[Face], previous: Face | None) -> Face | None:
    """The continuing track (best IoU with ``previous``) if any overlaps enough, else the largest face."""
    if not faces:
        return None
    if previous is not None:
        ious = [box_iou(f.box, previous.box) for f in faces]
        best = int(np.argmax(ious))
        if ious[best] >= TRACK_MIN_IOU:
            return faces[best]
    return max(faces, key=lambda f: f.area)


def mouth_geometry(face: Face) -> np.ndarray:
    """(cx, cy, side) of the mouth crop for one face."""
    x0, y0, x1, y1 = face.box
    side = MOUTH_SIDE_PER_FACE_WIDTH * max(1.0, x1 - x0)
    if face.landmarks is not None and np.all(np.isfinite(face.landmarks)):
        cx, cy = (face.landmarks[MOUTH_LEFT] + face.landmarks[MOUTH_RIGHT]) / 2.0
    else:
        cx, cy = (x0 + x1) / 2.0, y0 + LOWER_FACE_Y * (y1 - y0)
    return np.array([cx, cy, side], dtype=np.float64)


def detection_frames(n_frames: int, every: int) -> np.ndarray:
    idx = list(range(0, n_frames, every))
    if n_frames and idx[-1] != n_frames - 1:
        idx.append(n_frames - 1)
    return np.asarray(idx, dtype=int)


def _shift_face(face: Face, x0: float, y0: float, scale: float) -> Face:
    """Map a face found in an ROI (resized by ``scale``, top-left at (x0, y0)) back to frame pixels."""
    bx0, by0, bx1, by1 = face.box
    box = (x0 + bx0 / scale, y0 + by0 / scale, x0 + bx1 / scale, y0 + by1 / scale)
    lms = None if face.landmarks is None else face.landmarks / scale + np.array([x0, y0], np.float32)
    return Face(box=box, score=face.score, landmarks=lms)


def detect_main_face(frame: np.ndarray, detector: FaceDetector, previous: Face | None) -> Face | None:
    """The main face in ``frame``: searched around ``previous`` at reduced size when possible, else the full frame.

    With a tracked face and a detector that ``supports_roi``, the search region is a square of ``ROI_SCALE``
    x the previous face size (or the whole frame when that square would cover more than
    ``ROI_MAX_FRAME_FRACTION`` of it), resized so that the previous face is ``ROI_SIDE / ROI_SCALE`` pixels.
    """
    h, w = frame.shape[:2]
    if previous is not None and getattr(detector, "supports_roi", False):
        face_size = max(previous.width, previous.height, 1.0)
        side = ROI_SCALE * face_size
        if side * side < ROI_MAX_FRAME_FRACTION * h * w:
            cx, cy = (previous.box[0] + previous.box[2]) / 2, (previous.box[1] + previous.box[3]) / 2
            x0, y0 = int(max(0, round(cx - side / 2))), int(max(0, round(cy - side / 2)))
            x1, y1 = int(min(w, round(cx + side / 2))), int(min(h, round(cy + side / 2)))
        else:
            x0, y0, x1, y1 = 0, 0, w, h
        scale = min(1.0, ROI_SIDE / side)
        if x1 - x0 >= 2 and y1 - y0 >= 2 and (scale < 1.0 or (x0, y0, x1, y1) != (0, 0, w, h)):
            region = np.ascontiguousarray(frame[y0:y1, x0:x1])
            if scale < 1.0:
                size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
                region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
            faces = [_shift_face(f, x0, y0, scale) for f in detector.detect(region)]
            face = select_main_face(faces, previous)
            if face is not None and box_iou(face.box, previous.box) >= TRACK_MIN_IOU:
                return face
    return select_main_face(detector.detect(np.ascontiguousarray(frame)), previous)


def track_geometry(frames: np.ndarray, detector: FaceDetector, detect_every: int, previous: Face | None = None):
    """Run the detector sparsely on one run of frames.

    Returns geometry (T, 3) float64 (all NaN if no face was found), found (T,) bool, and the last main face
    (or ``previous`` when none was found), which continues the track into the next chunk.
    """
    n = len(frames)
    keys = detection_frames(n, detect_every)
    key_geom = np.full((len(keys), 3), np.nan)
    key_found = np.zeros(len(keys), dtype=bool)
    for k, t in enumerate(keys):
        face = detect_main_face(frames[t], detector, previous)
        if face is not None:
            key_geom[k] = mouth_geometry(face)
            key_found[k] = True
            previous = face
    geom = np.full((n, 3), np.nan)
    if key_found.any():
        t_all = np.arange(n)
        for c in range(3):
            geom[:, c] = np.interp(t_all, keys[key_found], key_geom[key_found, c])
        geom = smooth(geom, SMOOTH_FRAMES)
    nearest = np.abs(np.arange(n)[:, None] - keys[None, :]).argmin(axis=1)  # (T,) index into keys
    return geom, key_found[nearest], previous


def smooth(x: np.ndarray, length: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge replication (same length)."""
    if length <= 1 or len(x) < 2:
        return x
    half = length // 2
    padded = np.concatenate([np.repeat(x[:1], half, 0), x, np.repeat(x[-1:], half, 0)])
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(x.shape[1])], axis=1)


def crop_square(frame: np.ndarray, cx: float, cy: float, side: float, out_size: int) -> np.ndarray:
    """Grayscale (out_size, out_size) uint8 crop of the square centred at (cx, cy); edges replicate-padded."""
    h, w = frame.shape[:2]
    s = max(1, int(round(side)))
    x0 = int(round(cx - s / 2.0))
    y0 = int(round(cy - s / 2.0))
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + s), min(h, y0 + s)
    if xa >= xb or ya >= yb:  # entirely outside: clamp to the nearest pixel row/column
        xa, xb = min(max(x0, 0), w - 1), min(max(x0, 0), w - 1) + 1
        ya, yb = min(max(y0, 0), h - 1), min(max(y0, 0), h - 1) + 1
    patch = frame[ya:yb, xa:xb]
    if patch.ndim == 3:
        patch = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_RGB2GRAY)
    pad = (ya - y0, y0 + s - yb, xa - x0, x0 + s - xb)
    if any(p > 0 for p in pad):
        patch = cv2.copyMakeBorder(patch, *[max(0, p) for p in pad], borderType=cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if patch.shape[0] > out_size else cv2.INTER_LINEAR
    return cv2.resize(patch, (out_size, out_size), interpolation=interp)


def _crop_all(frames: np.ndarray, geom: np.ndarray, size: int) -> np.ndarray:
    mouths = np.empty((len(frames), size, size), np.uint8)  # (T, S, S)
    for t in range(len(frames)):
        cx, cy, side = geom[t]
        mouths[t] = crop_square(frames[t], cx, cy, side, size)
    return mouths


class MouthTracker:
    """Streaming mouth extraction: ``push(frames)`` chunk by chunk, then ``finish() -> (mouths, face_found)``.

    Memory holds the crops (S*S bytes per frame) and one chunk of frames; frames are kept longer only while
    no face has been found yet (so the first face's geometry can be applied to them), at most
    ``PENDING_MAX_FRAMES``; older pending frames get centre crops (``face_found`` is False for them anyway).
    The track, and the geometry held across frames without a face, continue across chunks; smoothing
    and interpolation are per chunk.
    """

    def __init__(self, detector: FaceDetector, cfg: PreprocessConfig | None = None, source=None):
        self.detector = detector
        self.cfg = cfg or PreprocessConfig()
        self.source = source
        self.previous: Face | None = None
        self.last_geom: np.ndarray | None = None
        self.pending: list[np.ndarray] = []
        self.mouths: list[np.ndarray] = []
        self.found: list[np.ndarray] = []
        self.n_checked = 0
        self.frame_shape: tuple[int, int] | None = None
        self.face_px: list[float] = []  # face-box width (pixels of the frames pushed) of each frame with a face

    def push(self, frames: np.ndarray) -> None:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        if len(frames) == 0:
            return
        self.frame_shape = frames.shape[1:3]
        size = self.cfg.crop_size
        geom, found, self.previous = track_geometry(frames, self.detector, self.cfg.detect_every, self.previous)
        self.n_checked += len(detection_frames(len(frames), self.cfg.detect_every))
        self.face_px.extend((geom[found, 2] / MOUTH_SIDE_PER_FACE_WIDTH).tolist())
        if not found.any():
            if self.last_geom is None:  # no face yet: wait for the first one
                self.pending.append(frames)
                self.mouths.append(None)
                self.found.append(found)
                self._limit_pending()
                return
            geom = np.tile(self.last_geom, (len(frames), 1))  # hold the last known geometry
        elif self.pending:
            self._flush_pending(geom[0])
        self.mouths.append(_crop_all(frames, geom, size))
        self.found.append(found)
        self.last_geom = geom[-1].copy()

    def _flush_pending(self, geom_row: np.ndarray) -> None:
        it = iter(self.pending)
        for i, m in enumerate(self.mouths):
            if m is None:
                frames = next(it)
                self.mouths[i] = _crop_all(frames, np.tile(geom_row, (len(frames), 1)), self.cfg.crop_size)
        self.pending = []

    def _centre_geom(self) -> np.ndarray:
        h, w = self.frame_shape
        return mouth_geometry(center_face(h, w))

    def _limit_pending(self) -> None:
        while sum(len(f) for f in self.pending) > PENDING_MAX_FRAMES:
            frames = self.pending.pop(0)
            i = next(i for i, m in enumerate(self.mouths) if m is None)
            self.mouths[i] = _crop_all(frames, np.tile(self._centre_geom(), (len(frames), 1)), self.cfg.crop_size)

    def take(self):
        """Crops that are final, in frame order, and forget them -> (mouths (n, S, S) uint8, face_found (n,)).

        A streaming consumer (``Detector``) calls this after every ``push`` so memory stays bounded; frames
        still waiting for the first face are not final and come with a later ``take`` or with ``finish``.
        ``finish`` returns what was not taken yet.
        """
        n = 0
        while n < len(self.mouths) and self.mouths[n] is not None:
            n += 1
        size = self.cfg.crop_size
        if n == 0:
            return np.zeros((0, size, size), np.uint8), np.zeros(0, bool)
        mouths, found = np.concatenate(self.mouths[:n]), np.concatenate(self.found[:n])
        del self.mouths[:n], self.found[:n]
        return mouths, found

    def finish(self):
        """-> (mouths uint8 (T, S, S), face_found bool (T,)) of every frame not yet ``take``n; raises NoFaceError
        when no face was found at all and ``face_fallback == "error"``."""
        size = self.cfg.crop_size
        if not self.found:
            return np.zeros((0, size, size), np.uint8), np.zeros(0, bool)
        if self.last_geom is None:
            if self.cfg.face_fallback != "center":
                raise NoFaceError(
                    self.source if self.source is not None else "<frames>",
                    f"no face found in any of the {self.n_checked} frames checked (detector "
                    f"{getattr(self.detector, 'name', type(self.detector).__name__)})",
                    hint="PreprocessConfig(face_fallback='center') falls back to centre crops",
                )
            self._flush_pending(self._centre_geom())
        return np.concatenate(self.mouths), np.concatenate(self.found)


def extract_mouths(frames: np.ndarray, detector: FaceDetector, cfg: PreprocessConfig | None = None, source=None,
                   chunk_frames: int | None = None):
    """frames (T, H, W, 3) uint8 RGB -> (mouths uint8 (T, S, S), face_found bool (T,)).

    No face in any detection frame: ``NoFaceError`` naming ``source`` when ``cfg.face_fallback == "error"``,
    or centre crops (a centred box of the frame, mouth in its lower part) with ``face_found`` all False
    when ``cfg.face_fallback == "center"``. ``chunk_frames`` processes the frames in runs of that length,
    exactly as the streaming file path does (``MouthTracker``); default: one run.
    """
    from avanomaly.preprocess.frontends import track_frames

    cfg = dataclasses.replace(cfg or PreprocessConfig(), front_end="pixels")
    return track_frames(frames, cfg, detector, source, chunk_frames)
