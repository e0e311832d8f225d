"""Evidence measures for the detector's abstain rules, fed the decoded chunks on the way (``StreamState.meters``).

They are measured here (preprocessing computes) and judged in :mod:`avanomaly.postprocess.abstain` (scoring decides).
Each has ``push(chunk)`` (an ``avanomaly.io.Clip`` chunk: the frames and audio that are scored, after any
leading-silence trim), ``value()`` and ``close()``; none changes the features.

- :class:`SpeechEvidence`: seconds of speech (Silero VAD, :mod:`avanomaly.preprocess.speech`);
- :class:`FaceCountEvidence`: the fraction of checked frames (every ``COUNT_EVERY``-th) that show two or more
  faces of comparable size (the second at least ``SECOND_FACE_MIN_WIDTH`` of the widest face's width), so that
  a small face in the background does not count. The landmark front end counts with MediaPipe's full-range face
  detector (:class:`~avanomaly.preprocess.landmarks.MediaPipeFaceBoxes`, ~10 ms a checked frame); the pixel front
  end with its own face detector (CenterFace by default; stateless, so the extra calls change no crop).
"""

from __future__ import annotations

import numpy as np

#: a face count every this many frames (0.4 s at 25 fps: 3 counts in a 1-s clip, ~1 ms per frame on average)
COUNT_EVERY = 10
#: a second face counts when its width is at least this fraction of the widest face's (measured 2026-12-04:
#: the only second face CenterFace found in the 10 shared real clips was a spurious 0.25-width box in kim_7s_raw)
SECOND_FACE_MIN_WIDTH = 0.5


class SpeechEvidence:
    """Seconds of speech in the scored audio (Silero VAD)."""

    def __init__(self, sample_rate: int):
        from avanomaly.preprocess.speech import SpeechMeter

        self.meter = SpeechMeter(sample_rate)

    def push(self, chunk) -> None:
        self.meter.push(np.asarray(chunk.audio, dtype=np.float32).reshape(-1))

    def value(self) -> float:
        return self.meter.seconds()

    def close(self) -> None:
        self.meter.close()


class DetectorWidths:
    """A :class:`~avanomaly.preprocess.detectors.FaceDetector` as a face-width counter: ``widths(frame)``."""

    def __init__(self, detector):
        self.detector = detector

    def widths(self, frame_rgb: np.ndarray) -> list[float]:
        return sorted((f.width for f in self.detector.detect(frame_rgb)), reverse=True)


def face_counter(cfg, detector=None):
    """The face-width counter for ``cfg``'s front end (see the module docstring): ``widths(frame) -> [px]``.
    ``detector``: the pixel front end's face detector instance (default: a new ``cfg.detector``)."""
    if cfg.front_end == "landmarks":
        from avanomaly.preprocess.landmarks import MediaPipeFaceBoxes

        return MediaPipeFaceBoxes()
    from avanomaly.preprocess.detectors import create_detector

    return DetectorWidths(detector if detector is not None else create_detector(cfg.detector))


def comparable_faces(widths) -> int:
    """How many faces in one frame count: those at least SECOND_FACE_MIN_WIDTH of the widest one's width."""
    widths = [float(w) for w in widths if w > 0]
    if not widths:
        return 0
    top = max(widths)
    return sum(w >= SECOND_FACE_MIN_WIDTH * top for w in widths)


class FaceCountEvidence:
    """Fraction of checked frames with two or more comparable faces (NaN before any frame is checked).

    ``counter``: an object with ``widths(frame_rgb) -> [face widths]`` (:func:`face_counter`), or a callable that
    makes one on the first frame (so a clip that fails before its first frame builds nothing)."""

    def __init__(self, counter, every: int = COUNT_EVERY):
        if every < 1:
            raise ValueError(f"every must be >= 1 frame, got {every}")
        self._counter = counter
        self.every = int(every)
        self._seen = 0  # frames pushed so far
        self.n_checked = 0
        self.n_multiple = 0

    def push(self, chunk) -> None:
        frames = np.asarray(chunk.frames)
        first = (-self._seen) % self.every  # the first frame of this chunk on the global every-th grid
        for k in range(first, len(frames), self.every):
            if callable(self._counter) and not hasattr(self._counter, "widths"):
                self._counter = self._counter()
            self.n_checked += 1
            self.n_multiple += comparable_faces(self._counter.widths(frames[k])) >= 2
        self._seen += len(frames)

    def value(self) -> float:
        return self.n_multiple / self.n_checked if self.n_checked else float("nan")

    def close(self) -> None:
        close = getattr(self._counter, "close", None)
        if close is not None and hasattr(self._counter, "widths"):
            close()
