"""Leading-silence detection and trimming (the FakeAVCeleb "silent start" shortcut, see docs/data.md).

Fake clips in FakeAVCeleb and AV-Deepfake1M start with a brief silence; that alone separates real from
fake almost perfectly (AVH-Align, arXiv 2412.00175). To measure a detector without that shortcut, the
leading silence is detected by audio-onset detection and cut from video and audio together.

Onset detection works on short-time RMS energy in dB **relative to the clip's robust peak** (a high
percentile of the frame levels, so one click does not set the reference): speech starts at the first
analysis frame whose level is within ``threshold_db`` of that reference and stays there for at least
``min_sound_seconds``. The result is clamped to ``[0, max_seconds]`` and never removes the whole clip.
"""

from __future__ import annotations

import numpy as np

#: analysis window / hop of the energy envelope (seconds)
FRAME_SECONDS = 0.020
HOP_SECONDS = 0.010
#: percentile of the frame levels (dB) taken as the clip's robust peak level
REFERENCE_PERCENTILE = 95.0
#: a frame is "sound" when its level is within this many dB of the reference level
THRESHOLD_DB = 30.0
#: sound must last this long (consecutive frames) to count as the onset (ignores clicks)
MIN_SOUND_SECONDS = 0.050
#: never report more leading silence than this (seconds)
MAX_SECONDS = 2.0
#: always leave at least this much of the clip after trimming (seconds)
MIN_REMAINING_SECONDS = 0.5
#: a clip whose reference level is below this (dBFS) is treated as silent throughout: nothing is trimmed
SILENT_CLIP_DBFS = -60.0
#: floor added before log10 to avoid log(0)
_EPS = 1e-10


def frame_levels_db(audio: np.ndarray, sample_rate: int, frame_seconds: float = FRAME_SECONDS,
                    hop_seconds: float = HOP_SECONDS) -> np.ndarray:
    """RMS level (dBFS) of each analysis frame: (N,) -> (F,), frame ``i`` starts at sample ``i * hop``.

    The last partial frame is zero-padded so every sample belongs to at least one frame.
    """
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (N,), got shape {audio.shape}")
    frame = max(1, int(round(frame_seconds * sample_rate)))
    hop = max(1, int(round(hop_seconds * sample_rate)))
    if audio.size == 0:
        return np.zeros(0, dtype=np.float64)
    n_frames = max(1, int(np.ceil(max(audio.size - frame, 0) / hop)) + 1)
    padded = np.zeros((n_frames - 1) * hop + frame, dtype=np.float64)
    padded[: audio.size] = audio
    # (F, frame) strided view; squares summed per frame
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop][:n_frames]
    rms = np.sqrt(np.mean(windows * windows, axis=1))
    return 20.0 * np.log10(rms + _EPS)


def detect_leading_silence(
    audio: np.ndarray,
    sample_rate: int,
    *,
    threshold_db: float = THRESHOLD_DB,
    reference_percentile: float = REFERENCE_PERCENTILE,
    min_sound_seconds: float = MIN_SOUND_SECONDS,
    max_seconds: float = MAX_SECONDS,
    min_remaining_seconds: float = MIN_REMAINING_SECONDS,
    silent_clip_dbfs: float = SILENT_CLIP_DBFS,
    frame_seconds: float = FRAME_SECONDS,
    hop_seconds: float = HOP_SECONDS,
) -> float:
    """Seconds of leading silence in ``audio`` (N,) float in [-1, 1] at ``sample_rate``.

    Returns the start of the first sound: the start time of the first analysis frame whose RMS level is
    at least ``reference - threshold_db`` dB (reference = ``reference_percentile`` of all frame levels)
    and stays so for ``min_sound_seconds``. Returns ``0.0`` when the clip starts with sound, when it is
    silent throughout (reference below ``silent_clip_dbfs``) or has no sustained sound. The result is
    at most ``max_seconds`` and leaves at least ``min_remaining_seconds`` of the clip (or nothing is
    trimmed when the clip is shorter than that), so it never covers the whole clip.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not 0 < reference_percentile <= 100:
        raise ValueError(f"reference_percentile must be in (0, 100], got {reference_percentile}")
    if threshold_db <= 0:
        raise ValueError(f"threshold_db must be positive, got {threshold_db}")
    audio = np.asarray(audio)
    duration = audio.shape[0] / sample_rate if audio.ndim >= 1 else 0.0
    levels = frame_levels_db(audio, sample_rate, frame_seconds, hop_seconds)  # (F,)
    if levels.size == 0:
        return 0.0
    reference = float(np.percentile(levels, reference_percentile))
    if reference < silent_clip_dbfs:
        return 0.0
    loud = levels >= reference - threshold_db  # (F,) bool
    hop = max(1, int(round(hop_seconds * sample_rate))) / sample_rate
    need = max(1, int(round(min_sound_seconds / hop)))
    onset_frame = _first_run(loud, need)
    if onset_frame is None:
        return 0.0
    onset = onset_frame * hop
    limit = min(max_seconds, duration - min_remaining_seconds)
    if limit <= 0:
        return 0.0
    return float(min(onset, limit))


def _first_run(mask: np.ndarray, length: int) -> int | None:
    """Index of the first run of ``length`` consecutive True values in ``mask``, or None."""
    run = 0
    for i, value in enumerate(mask):
        run = run + 1 if value else 0
        if run >= length:
            return i - length + 1
    return None


def trim_leading(frames: np.ndarray, audio: np.ndarray, fps: float, sample_rate: int, seconds: float):
    """Drop the first ``seconds`` from video and audio together, on a whole-video-frame boundary.

    ``frames`` (T, ...) at ``fps``, ``audio`` (N,) at ``sample_rate``. The cut is rounded **down** to a
    whole number of video frames ``n = floor(seconds * fps)`` (never cutting into the detected onset);
    the audio loses exactly the samples of those frames (``round(n * sample_rate / fps)``), so A/V
    alignment is kept. Returns ``(frames[n:], audio[samples:], trimmed_seconds)`` with
    ``trimmed_seconds = n / fps``. Raises ``ValueError`` if the cut would leave no video frame.
    """
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    if fps <= 0 or sample_rate <= 0:
        raise ValueError(f"fps and sample_rate must be positive, got fps={fps}, sample_rate={sample_rate}")
    # tolerance so that e.g. 0.12 s at 25 fps gives 3 frames despite float error
    n = int(np.floor(seconds * fps + 1e-6))
    if n >= len(frames):
        raise ValueError(f"trimming {seconds:.3f} s ({n} frames) would remove the whole clip of {len(frames)} frames")
    samples = int(round(n * sample_rate / fps))
    return frames[n:], audio[samples:], n / fps
