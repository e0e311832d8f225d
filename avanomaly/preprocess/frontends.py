"""The per-frame visual front end chosen by ``PreprocessConfig.front_end``, behind one tracker interface.

- ``pixels``: :class:`~avanomaly.preprocess.mouths.MouthTracker` -> grayscale mouth crops, uint8 (T, S, S);
- ``landmarks``: :class:`~avanomaly.preprocess.landmarks.LipTracker` -> lip features, float32 (T, F).

Both take decoded chunks with ``push(frames)`` and hand back final frames with ``take()`` / ``finish()`` as
``(visual, face_found)``; ``preprocess_file`` and the ``Detector`` both build theirs here, so a scored file gets
exactly its cache entry's features.
"""

from __future__ import annotations

import numpy as np


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
