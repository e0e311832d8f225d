"""Per-frame NLL curve -> one clip score.

The AR model gives one negative log-likelihood per predicted frame (higher = less like real talking
people). A clip score summarises that curve. Three methods:

- ``mean``            plain mean over the scored frames; most stable, but a short manipulated span in a long
                      clip is diluted by the real frames around it. **Default.**
- ``topk_mean``       mean of the highest ``k`` fraction of frames (at least one frame); robust to a single
                      spike, still sensitive to a manipulated span covering >= k of the clip.
- ``max_window_mean`` the highest mean over any run of ``window`` consecutive frames; localises a span but
                      is noisier on short clips (fewer frames to average).

The first ``skip_seconds`` of the curve are excluded (``skip_seconds``, default 0.5 s): the AR model has
little context there and, in FakeAVCeleb-style data, the first half second carries a dataset shortcut
(leading silence in fakes), so the verdict must not hinge on it. When a clip is too short to leave
``MIN_SCORED_FRAMES`` after the skip, every frame is used and the caller gets a warning.

Why ``mean`` is the default (it was ``topk_mean`` k = 0.25, chosen a priori): on the demo models' real
validation clips it separated real clips from the same clips with shifted audio (whole clip or a 1 s stretch,
``research/demo_tune.py``) best; see docs/scoring.md and docs/results.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avanomaly.errors import ConfigError

METHODS = ("mean", "topk_mean", "max_window_mean")
DEFAULT_METHOD = "mean"  # chosen on real validation clips only, see docs/scoring.md
DEFAULT_TOPK_FRACTION = 0.25
DEFAULT_WINDOW_FRAMES = 25  # 1 s at 25 fps
DEFAULT_SKIP_SECONDS = 0.5
#: fewer scored frames than this after the skip -> use the whole curve (and warn)
MIN_SCORED_FRAMES = 10


@dataclass
class AggregationConfig:
    method: str = DEFAULT_METHOD
    k: float = DEFAULT_TOPK_FRACTION  # topk_mean: fraction of frames in (0, 1]
    window: int = DEFAULT_WINDOW_FRAMES  # max_window_mean: frames per window
    skip_seconds: float = DEFAULT_SKIP_SECONDS  # leading seconds of the NLL curve left out

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"aggregation method {self.method!r} unknown; choose one of {list(METHODS)}")
        if not 0.0 < float(self.k) <= 1.0:
            raise ConfigError(f"aggregation k must be in (0, 1], got {self.k}")
        if int(self.window) < 1:
            raise ConfigError(f"aggregation window must be >= 1 frame, got {self.window}")
        if float(self.skip_seconds) < 0:
            raise ConfigError(f"skip_seconds must be >= 0, got {self.skip_seconds}")


def aggregate(nll: np.ndarray, method: str = DEFAULT_METHOD, k: float = DEFAULT_TOPK_FRACTION,
              window: int = DEFAULT_WINDOW_FRAMES) -> float:
    """Clip score of a 1-D per-frame NLL array (already restricted to the frames to score)."""
    x = np.asarray(nll, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite per-frame NLL values to aggregate")
    if method == "mean":
        return float(x.mean())
    if method == "topk_mean":
        n = max(1, int(np.ceil(k * x.size)))
        return float(np.sort(x)[-n:].mean())
    if method == "max_window_mean":
        return float(window_means(x, window).max())
    raise ConfigError(f"aggregation method {method!r} unknown; choose one of {list(METHODS)}")


def window_means(x: np.ndarray, window: int) -> np.ndarray:
    """Means of every run of ``window`` consecutive values (one value if ``x`` is shorter than the window)."""
    x = np.asarray(x, dtype=np.float64)
    w = min(int(window), x.size)
    c = np.concatenate([[0.0], np.cumsum(x)])
    return (c[w:] - c[:-w]) / w


def scored_mask(timestamps: np.ndarray, skip_seconds: float) -> tuple[np.ndarray, bool]:
    """Boolean mask of curve points to score and whether the skip had to be dropped (clip too short)."""
    t = np.asarray(timestamps, dtype=np.float64)
    mask = t >= skip_seconds
    if mask.sum() < MIN_SCORED_FRAMES:
        return np.ones_like(mask, dtype=bool), bool(skip_seconds > 0 and t.size > 0)
    return mask, False


def aggregate_curve(nll: np.ndarray, timestamps: np.ndarray, cfg: AggregationConfig,
                    keep: np.ndarray | None = None) -> tuple[float, bool]:
    """Clip score of a full NLL curve with its timestamps (seconds); returns (score, skip_dropped).

    ``keep`` (bool, like ``nll``): only these points are scored (the Detector passes "the frame has a face"),
    unless fewer than ``MIN_SCORED_FRAMES`` of them are left after the skip: then every point after the skip is
    (such a clip abstains on ``no-face`` anyway)."""
    mask, dropped = scored_mask(timestamps, cfg.skip_seconds)
    if keep is not None:
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != mask.shape:
            raise ValueError(f"keep has shape {keep.shape}, the curve {mask.shape}")
        if (mask & keep).sum() >= MIN_SCORED_FRAMES:
            mask = mask & keep
    return aggregate(np.asarray(nll)[mask], cfg.method, cfg.k, cfg.window), dropped


def most_anomalous_span(nll: np.ndarray, window: int) -> tuple[int, int]:
    """(start, end) indices into ``nll`` of the run of ``window`` points with the highest mean."""
    x = np.nan_to_num(np.asarray(nll, dtype=np.float64), nan=-np.inf)
    w = min(int(window), x.size)
    means = window_means(np.where(np.isfinite(x), x, 0.0), w)
    start = int(np.argmax(means))
    return start, start + w
