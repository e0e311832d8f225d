"""A second, model-free opinion on a clip's audio-visual offset (landmark front end).

The sync model's peak offset (``av_offset_frames``) is learned; when it is large, the question a user has is
whether the file itself is out of sync (a shifted track, or a real clip edited or re-encoded out of sync) or
whether the model is wrong about this face. :func:`envelope_lag` answers it without any learned weight: the lag,
within ±K frames, that maximises the correlation between the frame-to-frame changes of the mouth's inner opening
(the lip features' ``INNER_OPEN_FEATURE``, head pose removed) and of the audio's log energy per video frame (from
the log-mel). Positive = audio later than the lips, the sign of ``av_offset_frames``.

Alone it is weak (correlations of 0.15-0.35 on real talking faces; on a clip without a clear relation its lag is
anywhere in ±K), so the result only says whether it AGREES with the sync model (within ``AGREE_FRAMES``) on an
offset of at least ``LARGE_OFFSET_FRAMES`` (160 ms at 25 fps: beyond the broadcast tolerances of audio-video
timing, e.g. ATSC IS-191's +15 / -45 ms and EBU R37's +40 / -60 ms). When both say so, the result carries a
warning naming the offset: the evidence is an out-of-sync track, which a deliberately shifted fake and a badly
edited real clip share, so the warning names both. Measured on real clips, their shifted copies and copies with
another person's audio in docs/results.md ("Session 32"): it fires on about half of the
copies whose audio was shifted by 120-200 ms and the model saw it, on 9-12 % of the swapped copies (a chance
agreement: their lags are noise), and on 2 % of the calibration clips.
"""

from __future__ import annotations

import numpy as np

#: lags searched, frames (the starter's offset range)
MAX_LAG = 15
#: an offset at least this large (frames) is worth a second opinion
LARGE_OFFSET_FRAMES = 4
#: the two estimates agree when they differ by at most this many frames
AGREE_FRAMES = 1
#: fewest frame pairs a lag is correlated over
MIN_PAIRS = 25
#: how the warning of a clip whose two estimates agree begins (benchmarks count the clips by it)
WARNING_PREFIX = "audio out of sync with the lips"


def frame_energy(mel: np.ndarray, mel_per_frame: int) -> np.ndarray:
    """(n * mel_per_frame, M) log-mel -> (n,) log of the summed mel power of each video frame."""
    p = np.exp(np.asarray(mel, dtype=np.float64)).sum(axis=1)
    n = len(p) // mel_per_frame
    return np.log(p[:n * mel_per_frame].reshape(n, mel_per_frame).sum(axis=1) + 1e-10)


def lag_correlations(v: np.ndarray, a: np.ndarray, max_lag: int, min_pairs: int) -> np.ndarray:
    """Pearson correlation of ``v[t]`` with ``a[t + d]`` for d in [-max_lag, max_lag] -> (2 max_lag + 1,); NaN where
    fewer than ``min_pairs`` pairs overlap or a signal is constant there. (The sync-heuristic baseline's curve too:
    ``evaluation/baselines/heuristic.xcorr_curve``.)"""
    t = min(len(v), len(a))
    v, a = v[:t], a[:t]
    out = np.full(2 * max_lag + 1, np.nan)
    for i, d in enumerate(range(-max_lag, max_lag + 1)):
        lo, hi = max(0, -d), min(t, t - d)
        if hi - lo < min_pairs:
            continue
        x, y = v[lo:hi], a[lo + d:hi + d]
        sx, sy = x.std(), y.std()
        if sx <= 0 or sy <= 0:
            continue
        out[i] = float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))
    return out


def envelope_lag(mouth: np.ndarray, energy: np.ndarray, max_lag: int = MAX_LAG) -> tuple[int | None, float]:
    """(lag, correlation) maximising the correlation of the changes of ``mouth`` (T,) and ``energy`` (T,)
    (:func:`lag_correlations`); lag > 0: the audio is later (``energy[t + lag]`` pairs with ``mouth[t]``). (None,
    NaN) when no lag has ``MIN_PAIRS`` pairs with some variation on both sides."""
    t = min(len(mouth), len(energy))
    curve = lag_correlations(np.diff(np.asarray(mouth[:t], dtype=np.float64)),
                             np.diff(np.asarray(energy[:t], dtype=np.float64)), max_lag, MIN_PAIRS)
    if not np.isfinite(curve).any():
        return None, float("nan")
    best = int(np.nanargmax(curve))
    return best - max_lag, float(curve[best])


class OffsetCheck:
    """Streaming :func:`envelope_lag` of one clip: ``push(visual, mel)`` per chunk (the front end's per-frame
    features (T, F) and the chunk's log-mel). ``mouth_column``: the feature holding the mouth's opening (the landmark
    front end's ``INNER_OPEN_FEATURE``); None for a front end without one (no opinion)."""

    def __init__(self, mouth_column: int | None, mel_per_frame: int):
        self.mouth_column = mouth_column
        self.mel_per_frame = int(mel_per_frame)
        self._mouth: list[np.ndarray] = []
        self._energy: list[np.ndarray] = []

    def push(self, visual: np.ndarray, mel: np.ndarray) -> None:
        if self.mouth_column is None:
            return
        v = np.asarray(visual)
        self._mouth.append(np.asarray(v[:, self.mouth_column], dtype=np.float64))
        self._energy.append(frame_energy(mel, self.mel_per_frame)[:len(v)])

    def result(self, model_offset: int) -> dict:
        """``{"frames": lag or None, "correlation": c, "agrees": bool}``: ``agrees`` when the model's offset is
        at least LARGE_OFFSET_FRAMES and the lag is within AGREE_FRAMES of it; ``{}`` for a front end without lip
        features (no opinion)."""
        if self.mouth_column is None:
            return {}
        lag, c = (None, float("nan"))
        if self._mouth:
            lag, c = envelope_lag(np.concatenate(self._mouth), np.concatenate(self._energy))
        agrees = lag is not None and abs(int(model_offset)) >= LARGE_OFFSET_FRAMES and \
            abs(lag - int(model_offset)) <= AGREE_FRAMES
        return {"frames": lag, "correlation": c, "agrees": bool(agrees)}


def describe(check: dict, model_offset: int, fps: float) -> str | None:
    """The warning of a clip whose two offset estimates agree on a large offset (None otherwise)."""
    if not check.get("agrees"):
        return None
    ms = 1000.0 * abs(int(model_offset)) / fps
    side = "late" if model_offset > 0 else "early"
    return (f"{WARNING_PREFIX}: {ms:.0f} ms {side} ({int(model_offset):+d} frames) by two independent "
            f"measures (the sync model's peak; mouth opening against loudness: {check['frames']:+d}); audio shifted by "
            "a forger and a real clip edited or re-encoded out of sync look the same")
