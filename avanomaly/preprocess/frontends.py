"""The per-frame visual front end chosen by ``PreprocessConfig.front_end``, behind one tracker interface.

- ``pixels``: :class:`~avanomaly.preprocess.mouths.MouthTracker` -> grayscale mouth crops, uint8 (T, S, S)
  (``extract_mouths``: the same on in-memory frames);
- ``landmarks``: :class:`~avanomaly.preprocess.landmarks.LipTracker` -> lip features, float32 (T, F).

Both take decoded chunks with ``push(frames)`` and hand back final frames with ``take()`` / ``finish()`` as
``(visual, face_found)``; ``preprocess_file`` and the ``Detector`` both build theirs here, so a scored file gets
exactly its cache entry's features.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avanomaly.conventions import PIXEL_MAX


def visual_frame_shape(cfg) -> tuple[int, ...]:
    """Shape of one frame's visual input: (S, S) crops or (F,) lip features."""
    if cfg.front_end == "landmarks":
        from avanomaly.preprocess.landmarks import N_LIP_FEATURES

        return (N_LIP_FEATURES,)
    return (cfg.crop_size, cfg.crop_size)


def face_model_name(cfg) -> str:
    """What finds the face: the pixel front end's detector name, or the landmark front end's face mesh."""
    if getattr(cfg, "front_end", "pixels") == "landmarks":
        return "mediapipe_face_mesh"
    return getattr(cfg, "detector", None)


def create_tracker(cfg, detector=None, source=None):
    """A fresh streaming tracker for one clip. ``detector``: the face detector of the pixel front end
    (default: ``cfg.detector``); the landmark front end builds its own face mesh per clip."""
    if cfg.front_end == "landmarks":
        from avanomaly.preprocess.landmarks import LipTracker

        return LipTracker(cfg, source=source)
    from avanomaly.preprocess.detectors import create_detector
    from avanomaly.preprocess.mouths import MouthTracker

    return MouthTracker(detector if detector is not None else create_detector(cfg.detector), cfg, source=source)


def track_frames(frames: np.ndarray, cfg, detector=None, source=None, chunk_frames: int | None = None):
    """frames (T, H, W, 3) uint8 -> (visual (T, ...), face_found (T,)), pushed in runs of ``chunk_frames`` exactly
    as a streamed file is."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
    tracker = create_tracker(cfg, detector, source)
    step = chunk_frames or max(1, len(frames))
    for i in range(0, len(frames), step):
        tracker.push(frames[i: i + step])
    return tracker.finish()



def extract_mouths(frames: np.ndarray, detector, cfg=None, source=None, chunk_frames: int | None = None):
    """frames (T, H, W, 3) uint8 RGB -> (mouths uint8 (T, S, S), face_found bool (T,)): the pixel front end on
    in-memory frames (``detector``: a :class:`~avanomaly.preprocess.detectors.FaceDetector`).

    No face in any detection frame: ``NoFaceError`` naming ``source`` when ``cfg.face_fallback == "error"``,
    or centre crops (a centred box of the frame, mouth in its lower part) with ``face_found`` all False
    when ``cfg.face_fallback == "center"``. ``chunk_frames`` processes the frames in runs of that length,
    exactly as the streaming file path does (``MouthTracker``); default: one run.
    """
    from avanomaly.preprocess.config import PreprocessConfig

    cfg = dataclasses.replace(cfg or PreprocessConfig(), front_end="pixels")
    return track_frames(frames, cfg, detector, source, chunk_frames)

#: how much a mouth must move for a clip to show visible speech, per front end (below it the verdict abstains):
#: ``landmarks``: 5-95 % range of the inner lip opening (inter-ocular units; real talking clips measured
#: 2026-12-02: 0.07-0.5, median 0.18 over 530 clips); ``pixels``: median absolute frame-to-frame change of the
#: mouth crop (0-1 scale; real clips: 0.0085-0.09). A still photo gives about a tenth of the smallest real value.
MIN_MOUTH_ACTIVITY = {"landmarks": 0.03, "pixels": 0.003}
#: percentiles of the inner opening whose difference is the landmark front end's activity
ACTIVITY_PERCENTILES = (5.0, 95.0)


class MouthActivity:
    """Streaming measure of visible mouth motion over the frames where a face was found (see
    ``MIN_MOUTH_ACTIVITY`` for the unit of each front end). Feed ``push(visual, found)`` per chunk."""

    def __init__(self, front_end: str):
        self.front_end = front_end
        self._values: list[np.ndarray] = []
        self._last = None  # pixels: the previous face frame

    def push(self, visual: np.ndarray, found: np.ndarray) -> None:
        found = np.asarray(found, dtype=bool)
        if not found.any():
            return
        v = np.asarray(visual)[found]
        if self.front_end == "landmarks":
            from avanomaly.preprocess.landmarks import INNER_OPEN_FEATURE

            self._values.append(np.asarray(v[:, INNER_OPEN_FEATURE], dtype=np.float64))
            return
        frames = v.astype(np.float32) / PIXEL_MAX
        if self._last is not None:
            frames = np.concatenate([self._last[None], frames])
        if len(frames) > 1:
            self._values.append(np.abs(np.diff(frames, axis=0)).reshape(len(frames) - 1, -1).mean(1))
        self._last = frames[-1]

    def value(self) -> float:
        """The clip's activity (NaN when no frame had a face)."""
        if not self._values:
            return float("nan")
        x = np.concatenate(self._values)
        if self.front_end == "landmarks":
            lo, hi = np.percentile(x, ACTIVITY_PERCENTILES)
            return float(hi - lo)
        return float(np.median(x))

    @property
    def minimum(self) -> float:
        return MIN_MOUTH_ACTIVITY[self.front_end]


#: landmark front end: the face's height from the eyes' midpoint to the chin (mesh point 152), inter-ocular units,
#: median over the frames with a face. Outside this range the picture is probably stretched or squeezed (measured
#: 2026-12-04 on the 10 shared real clips: 1.51-1.80 as they are; 1.11-1.29 stretched 1.33x wide, 0.98-1.17 at
#: 1.5x, 1.94-2.29 squeezed to 0.75x); the score then moves by up to ~1.5 (benchmarks/verdict_inputs.py large)
FACE_HEIGHT_RANGE = (1.35, 2.0)


class FaceShape:
    """Streaming median face height (see ``FACE_HEIGHT_RANGE``) of the landmark front end; NaN for the pixel one
    (crops carry no face geometry) or when no frame had a face. Feed ``push(visual, found)`` per chunk."""

    def __init__(self, front_end: str):
        self.front_end = front_end
        self._values: list[np.ndarray] = []

    def push(self, visual: np.ndarray, found: np.ndarray) -> None:
        found = np.asarray(found, dtype=bool)
        if self.front_end != "landmarks" or not found.any():
            return
        from avanomaly.preprocess.landmarks import CHIN_HEIGHT_FEATURE

        self._values.append(np.asarray(np.asarray(visual)[found][:, CHIN_HEIGHT_FEATURE], dtype=np.float64))

    def value(self) -> float:
        return float(np.median(np.concatenate(self._values))) if self._values else float("nan")

    def out_of_range(self) -> bool:
        v = self.value()
        return bool(np.isfinite(v) and not FACE_HEIGHT_RANGE[0] <= v <= FACE_HEIGHT_RANGE[1])
