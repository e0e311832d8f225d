"""Per-clip plot: per-frame NLL curve with the threshold line, and a strip of frames of the most anomalous span."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from avanomaly.postprocess.aggregate import most_anomalous_span, window_means
from avanomaly.scoring.result import ScoreResult

#: frames shown in the strip under the curve
STRIP_FRAMES = 6
#: the "most anomalous span" is the highest-mean run of this many seconds
SPAN_SECONDS = 1.0
FIG_WIDTH_IN = 11.0
FIG_HEIGHT_IN = 5.5
DPI = 100
#: the strip is decoded small (longest side, pixels)
STRIP_MAX_SIDE = 160


def _safe_name(path: str | None, index: int) -> str:
    stem = Path(path).name if path else f"clip{index}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)


def plot_result(result: ScoreResult, out_dir, index: int = 0) -> Path:
    """Write ``<out_dir>/<file name>.png`` for ``result`` and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nll = np.asarray(result.frame_nll, dtype=np.float64)
    t = np.asarray(result.frame_times, dtype=np.float64)
    window = max(1, int(round(SPAN_SECONDS * result.fps)))
    skip = float(result.aggregation.get("skip_seconds", 0.0))
    first = int(np.searchsorted(t, t[0] + skip - 1e-9)) if t.size else 0  # the span is looked for where scored
    first = first if t.size - first >= window else 0
    s0, s1 = most_anomalous_span(nll[first:], window)
    s0, s1 = s0 + first, s1 + first
    span = (t[s0], t[min(s1, t.size) - 1] + 1.0 / result.fps)
    strip = _strip_frames(result.path, span) if result.path else []

    fig = plt.figure(figsize=(FIG_WIDTH_IN, FIG_HEIGHT_IN), dpi=DPI)
    grid = fig.add_gridspec(2, max(1, len(strip)), height_ratios=[3, 1.4] if strip else [1, 0.01])
    ax = fig.add_subplot(grid[0, :])
    ax.plot(t, nll, lw=0.8, color="tab:blue", label="per-frame NLL")
    if nll.size >= window:
        wm = window_means(nll, window)
        ax.plot(t[window - 1:], wm, lw=1.5, color="tab:orange", label=f"{SPAN_SECONDS:g} s mean")
    if result.threshold is not None:
        ax.axhline(result.threshold, color="tab:red", ls="--", lw=1.2, label=f"threshold {result.threshold:.3g}")
    if skip > 0 and t.size:
        ax.axvspan(t[0] - 1.0 / result.fps, t[0] - 1.0 / result.fps + skip, color="0.85",
                   label=f"not scored (first {skip:g} s)")
    ax.axvspan(*span, color="tab:red", alpha=0.15, label="most anomalous span")
    verdict = result.verdict or "uncalibrated"
    pct = "" if result.percentile is None else f", percentile {result.percentile:.1f}"
    ax.set_title(f"{Path(result.path).name if result.path else 'clip'}: score {result.score:.3f} ({verdict}{pct}), "
                 f"AV offset {result.av_offset_frames:+d} frames")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("NLL")
    ax.legend(loc="upper right", fontsize=8)
    for i, (ts, img) in enumerate(strip):
        sub = fig.add_subplot(grid[1, i])
        sub.imshow(img)
        sub.set_title(f"{ts:.2f} s", fontsize=8)
        sub.axis("off")
    fig.tight_layout()
    out = out_dir / f"{_safe_name(result.path, index)}.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def _strip_frames(path: str, span: tuple[float, float]) -> list[tuple[float, np.ndarray]]:
    """A few frames of ``span`` (seconds) decoded on demand; empty when the file cannot be decoded."""
    from avanomaly.errors import AvanomalyError
    from avanomaly.io import load_clip

    start, end = span
    try:
        clip = load_clip(path, max_side=STRIP_MAX_SIDE, require_audio=False, start=max(0.0, start),
                         duration=max(end - start, 1e-3))
    except (AvanomalyError, ValueError, OSError):
        return []
    n = clip.n_frames
    if n == 0:
        return []
    idx = np.unique(np.linspace(0, n - 1, min(STRIP_FRAMES, n)).round().astype(int))
    return [(start + i / clip.fps, clip.frames[i]) for i in idx]
