"""``sync-heuristic``: training-free A/V synchrony from cached mouth crops and log-mel.

Visual signal per frame (``visual_signal``):
  - ``"motion"`` (default): frame-difference energy of the crop (mean absolute difference to the previous
    frame), correlated with the absolute first difference of the audio envelope (onsets move the mouth);
  - ``"darkness"``: minus the mean intensity of the lower-central region of the mouth crop (an open
    mouth shows the dark cavity), high-pass filtered, correlated with the audio envelope itself.
Audio envelope per frame: log of the mel power summed over the frame's 4 mel frames; both signals have a
25-frame moving average removed. The default signal was chosen on the synthetic set's TRAIN split
(all-fakes AUC 0.70 motion vs 0.56 darkness, tolerance 2, raw pass).

Cross-correlation over offsets ``d`` in ``[-K, K]`` (video frame t vs audio frame t + d, the architecture's
convention: audio delayed by n frames peaks at d = +n), Pearson on the overlapping frames. Like SyncNet,
``offset = argmax`` and ``confidence = max - median``; the score is
``-(max_{|d| <= tolerance} c(d) - median_d c(d))``: in-sync evidence near zero offset, negated so that higher
= more fake (out of sync or unrelated). No training at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avanomaly.conventions import DEFAULT_MAX_OFFSET, MEL_PER_FRAME
from avanomaly.errors import ConfigError
from avanomaly.evaluation.baselines.common import CachedFeatureScorer
from avanomaly.evaluation.registry import register_scorer
from avanomaly.postprocess.offset_check import frame_energy, lag_correlations

VISUAL_SIGNALS = ("darkness", "motion")
#: the lower-central region of the mouth crop: rows [ROW0, ROW1) and columns [COL0, COL1) as fractions of S
REGION_ROWS = (0.35, 0.9)
REGION_COLS = (0.25, 0.75)
#: moving-average length (frames) removed from each signal (high-pass: drops head motion / slow gain drift)
DETREND_FRAMES = 25
#: fewest overlapping frames for a correlation at an offset
MIN_OVERLAP = 10


@dataclass
class HeuristicConfig:
    max_offset: int = DEFAULT_MAX_OFFSET  # K
    tolerance: int = 2  # frames around 0 where a peak counts as in sync
    visual_signal: str = "motion"
    detrend_frames: int = DETREND_FRAMES

    def __post_init__(self):
        if self.visual_signal not in VISUAL_SIGNALS:
            raise ConfigError(f"visual_signal must be one of {VISUAL_SIGNALS}, got {self.visual_signal!r}")
        if self.max_offset < 1 or not 0 <= self.tolerance <= self.max_offset:
            raise ConfigError(f"need max_offset >= 1 and 0 <= tolerance <= max_offset, got {self}")


def _detrend(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1 or len(x) < 2:
        return x - x.mean()
    n = min(n, len(x))
    kernel = np.ones(n) / n
    pad = np.pad(x, (n // 2, n - 1 - n // 2), mode="edge")
    return x - np.convolve(pad, kernel, mode="valid")


def visual_signal(mouths: np.ndarray, kind: str = "motion") -> np.ndarray:
    """mouths (T,S,S) uint8 crops, or (T,F) lip features of the landmarks front end -> (T,) float64.

    Lip features: the inner mouth opening (``darkness``: the opening itself, ``motion``: its absolute change)."""
    landmarks = np.ndim(mouths) == 2
    if landmarks:
        from avanomaly.preprocess.landmarks import INNER_OPEN_FEATURE

        m = np.asarray(mouths, dtype=np.float64)[:, INNER_OPEN_FEATURE:INNER_OPEN_FEATURE + 1]  # (T, 1)
    else:
        m = np.asarray(mouths, dtype=np.float64) / 255.0  # (T, S, S)
    if kind == "motion":
        diff = np.abs(np.diff(m, axis=0)).reshape(len(m) - 1, -1).mean(axis=1) if len(m) else m  # (T-1,)
        return np.concatenate([diff[:1], diff]) if len(diff) else np.zeros(len(m))
    if landmarks:
        return m[:, 0]
    s = m.shape[1]
    r0, r1 = int(REGION_ROWS[0] * s), max(int(REGION_ROWS[0] * s) + 1, int(REGION_ROWS[1] * s))
    c0, c1 = int(REGION_COLS[0] * s), max(int(REGION_COLS[0] * s) + 1, int(REGION_COLS[1] * s))
    return -m[:, r0:r1, c0:c1].mean(axis=(1, 2))


def audio_envelope(mel: np.ndarray, kind: str = "motion") -> np.ndarray:
    """mel (4T,M) natural-log mel power -> (T,) log energy per video frame (abs first difference for motion)."""
    env = frame_energy(mel, MEL_PER_FRAME)
    t = len(env)
    if kind == "motion":
        d = np.abs(np.diff(env))
        return np.concatenate([d[:1], d]) if len(d) else np.zeros(t)
    return env


def xcorr_curve(v: np.ndarray, a: np.ndarray, max_offset: int) -> np.ndarray:
    """Pearson correlation of v[t] with a[t + d] for d in [-K, K] -> (2K+1,), NaN where the overlap is too short
    (< MIN_OVERLAP frames) or a signal is constant there (``postprocess.offset_check.lag_correlations``)."""
    return lag_correlations(v, a, max_offset, MIN_OVERLAP)


def heuristic_sync(mouths, mel, cfg: HeuristicConfig | None = None) -> dict:
    """-> dict(score, offset, confidence, curve) for one clip; score NaN when no offset could be correlated."""
    cfg = cfg or HeuristicConfig()
    v = _detrend(visual_signal(mouths, cfg.visual_signal), cfg.detrend_frames)
    a = _detrend(audio_envelope(mel, cfg.visual_signal), cfg.detrend_frames)
    curve = xcorr_curve(v, a, cfg.max_offset)
    if not np.isfinite(curve).any():
        return {"score": float("nan"), "offset": None, "confidence": None, "curve": curve}
    k = cfg.max_offset
    med = float(np.nanmedian(curve))
    best = int(np.nanargmax(curve))
    near = curve[k - cfg.tolerance:k + cfg.tolerance + 1]
    near_best = float(np.nanmax(near)) if np.isfinite(near).any() else med
    return {"score": -(near_best - med), "offset": best - k, "confidence": float(curve[best] - med), "curve": curve}


@register_scorer("sync-heuristic")
class SyncHeuristicScorer(CachedFeatureScorer):
    """Training-free baseline (no model). ``model`` is optional: when given, its preprocessing settings are used
    (so the feature cache is shared with avanomaly); otherwise the default PreprocessConfig."""

    name = "sync-heuristic"

    def __init__(self, model=None, cache=None, workers: int = 1, progress: bool = True, preprocess=None,
                 config: HeuristicConfig | dict | None = None, **_ignored):
        super().__init__(cache=cache, workers=workers, progress=progress)
        self.model = model
        self._pcfg = preprocess
        self.config = HeuristicConfig(**config) if isinstance(config, dict) else (config or HeuristicConfig())

    def preprocess_cfg(self):
        if self._pcfg is None:
            if self.model is not None:
                from avanomaly.evaluation.baselines.common import model_file_of
                from avanomaly.postprocess.modelfile import read_model_file
                from avanomaly.preprocess import PreprocessConfig
                from avanomaly.utils import dataclass_from_dict

                self._pcfg = dataclass_from_dict(PreprocessConfig,
                                                 dict(read_model_file(model_file_of(self.model))["preprocess"]))
            else:
                from avanomaly.preprocess import PreprocessConfig

                self._pcfg = PreprocessConfig()
        return self._pcfg

    def describe(self) -> dict:
        from dataclasses import asdict

        return {"method": self.name, "training": "none", "heuristic": asdict(self.config),
                "model": None if self.model is None else str(self.model)}

    def score_clip(self, clip, trim: bool) -> dict:
        r = heuristic_sync(clip.mouths, clip.mel, self.config)
        return {"score": r["score"], "offset": r["offset"], "confidence": r["confidence"]}
