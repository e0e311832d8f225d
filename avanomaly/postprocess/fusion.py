"""Clip score from several real-only evidence terms, each standardised on held-out REAL clips.

Terms a ``Detector`` computes for every clip (higher = less like a real, in-sync talking face):

- ``nll``: the AR model's aggregated per-frame negative log-likelihood (``postprocess.aggregate``);
- ``sync``: ``median(curve) - max(curve[-1..+1])``, where ``curve[d]`` is the clip's offset curve at audio offset
  ``d`` frames (CURVES: the mean audio-visual cosine similarity, ``SyncModel.offset_curve``, or the mean of each
  frame's softmax vote over offsets, :func:`vote_curve`; the calibration says which): minus SyncNet's confidence measured *at
  zero offset*, within ``SYNC_TOLERANCE_FRAMES`` (recordings are often 1 frame = 40 ms off; broadcast practice
  accepts about that, EBU R37: +40 / -60 ms). An in-sync real clip has its peak there (strongly negative term);
  shifted audio moves the peak away and swapped audio flattens the curve (both near 0 or above).
  (A third term, the gap ``max(curve) - max(curve[-1..+1])``, was tried and left out: real clips that are a few
  frames off by themselves get huge z-scores from it; docs/results.md "Real faces".)
- ``offset``: where the curve's peak is, in frames beyond the tolerance, softened by the peak's sharpness:
  ``sum_d p(d) * max(|d| - tol, 0)`` with ``p = softmax((curve - max(curve)) / tau)`` over the valid offsets and
  ``tau = OFFSET_SHARPNESS * (max(curve) - median(curve))`` (scale-free: only the curve's shape matters). A sharp
  peak at ``+-n`` gives about ``n - 1``; a peak inside ``+-1`` gives about 0; a flat curve (another voice) spreads
  ``p`` over every offset and gives several frames. It keeps the evidence the ``sync`` term drops once the peak
  has left ``+-1`` (|AV offset| alone beat the nll + sync score on shifted audio: issue 22).
- ``profile``: how unlike real clips' offset curves the WHOLE curve is (its standardised shape and peak height):
  the Mahalanobis distance under a Gaussian of real clips' curves (``postprocess.profile.OffsetProfile``, fit at
  calibration and stored in it). Only a calibration with a profile gives this term.

``ScoreFusion.fit`` takes the terms of real validation clips only (never fakes) and stores each term's mean and
std; the fused score is the mean of the terms' z-scores. Fit and threshold live in the calibration, so the model
file states what its score is (``Calibration.fusion``); without a fusion the score is the ``nll`` term alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from avanomaly.errors import ConfigError

#: terms a score can fuse; every Detector result carries the first three (ScoreResult.score_terms), ``profile``
#: when its calibration has an offset profile
TERMS = ("nll", "sync", "offset", "profile")
#: the terms computed from the frame scores alone (no fitted profile needed)
CURVE_TERMS = ("nll", "sync", "offset")
#: default terms of a new calibration (chosen on real validation clips and shifted / swapped copies of them only:
#: docs/results.md "Domain corpus: the retrained starter"); a pool of < 10 clips leaves ``profile`` out
DEFAULT_TERMS = ("nll", "sync", "offset", "profile")
#: offsets (frames) either side of 0 that still count as in sync for the ``sync`` and ``offset`` terms
SYNC_TOLERANCE_FRAMES = 1
#: softmax temperature of the ``offset`` term, as a fraction of the curve's peak height (max - median); chosen on
#: real validation clips (0.1; 0.25 and 0.5 blur the peak position and separate shifted copies less)
OFFSET_SHARPNESS = 0.1
#: what the score is without a fusion (uncalibrated, or calibrated with terms=["nll"])
NLL_DEFINITION = "aggregated AR negative log-likelihood (nll term)"
#: floor of a term's std (its units: nats for nll, cosine similarity for sync), so a term that barely varies
#: over the reference clips cannot dominate the fused score
STD_FLOOR = 1e-2
#: per-term floors where the unit differs: ``offset`` is in frames, and most real clips have it near 0, so its std
#: on a few reference clips can be tiny (a quarter frame: chosen on real validation clips)
TERM_STD_FLOORS = {"offset": 0.25}
#: how a clip's per-frame sync similarities (T, O) become its offset curve (O,), the input of the sync, offset
#: and profile terms (``Calibration.curve``; docs/scoring.md "The offset curve"):
#: ``cosine``: the mean cosine similarity per offset over the kept frames (``SyncModel.offset_curve``; model files
#: calibrated before 2026-12-06); ``vote``: the mean over the kept frames of each frame's softmax over its valid
#: offsets at temperature VOTE_TEMPERATURE, so every frame has one vote however large its cosines are
CURVES = ("cosine", "vote")
#: the curve of a model with no calibration, and of every calibration written before ``vote`` existed. A
#: re-calibration keeps the model's curve unless told otherwise; ``vote`` was validated for the starter (+0.025 AUC
#: on shifted / swapped copies of its val people's clips, docs/results.md "The offset curve: a per-frame vote"),
#: whose calibration and training preset use it
DEFAULT_CURVE = "cosine"
#: the vote's softmax temperature, in cosine units
VOTE_TEMPERATURE = 0.05
#: a frame votes only when at least this many of its offsets are valid (frames at a short clip's edges see few)
VOTE_MIN_OFFSETS = 5


@dataclass
class ScoreFusion:
    terms: list[str]
    mean: list[float]
    std: list[float]

    def combine(self, values: dict) -> float:
        """Mean z-score of ``values[term]`` over the terms."""
        z = [(float(values[t]) - m) / s for t, m, s in zip(self.terms, self.mean, self.std)]
        return float(np.mean(z))

    def describe(self) -> str:
        parts = [f"({t} - {m:.4g}) / {s:.4g}" for t, m, s in zip(self.terms, self.mean, self.std)]
        return f"mean of [{', '.join(parts)}] (z-scores on real validation clips; see avanomaly.postprocess.fusion)"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ScoreFusion":
        return cls(terms=list(d["terms"]), mean=[float(x) for x in d["mean"]], std=[float(x) for x in d["std"]])

    @classmethod
    def fit(cls, term_rows: list[dict], terms=None) -> "ScoreFusion":
        """Standardise ``terms`` (None: the DEFAULT_TERMS the rows have) on the term dicts of REAL reference clips."""
        if not term_rows:
            raise ConfigError("score fusion needs at least one real clip")
        terms = list(terms) if terms is not None else default_terms(term_rows)
        unknown = [t for t in terms if t not in TERMS]
        if unknown or not terms:
            raise ConfigError(f"score terms must be a non-empty subset of {TERMS}, got {terms}")
        x = np.array([[float(r[t]) for t in terms] for r in term_rows], dtype=np.float64)  # (n, terms)
        if not np.isfinite(x).all():
            raise ConfigError("score fusion: a reference clip has a non-finite term")
        floors = np.array([TERM_STD_FLOORS.get(t, STD_FLOOR) for t in terms])
        std = np.maximum(x.std(axis=0, ddof=1) if len(x) > 1 else np.zeros(len(terms)), floors)
        return cls(terms=terms, mean=x.mean(axis=0).tolist(), std=std.tolist())


def default_terms(term_rows) -> list[str]:
    """The DEFAULT_TERMS that the term dicts ``term_rows`` carry (``profile`` only where a profile gave it)."""
    rows = list(term_rows)
    return [t for t in DEFAULT_TERMS if not rows or t in rows[0]]


def clip_score(fusion: ScoreFusion | None, terms: dict) -> float:
    """The clip score of a result's ``score_terms``: the fused z-score, or the ``nll`` term without a fusion."""
    return float(terms["nll"]) if fusion is None else fusion.combine(terms)


def check_curve(kind: str) -> str:
    """``kind`` if it names a curve (CURVES), else ConfigError."""
    from avanomaly.errors import ConfigError

    if kind not in CURVES:
        raise ConfigError(f"unknown offset curve {kind!r}; one of {list(CURVES)}")
    return kind


def vote_curve(cos: np.ndarray, valid: np.ndarray, temperature: float = VOTE_TEMPERATURE,
               min_offsets: int = VOTE_MIN_OFFSETS) -> np.ndarray:
    """Per-frame cosines (T, O) and their validity (T, O) -> the ``vote`` curve (O,): the mean over the frames with
    >= ``min_offsets`` valid offsets of each frame's softmax (temperature ``temperature``) over its valid offsets;
    NaN at an offset no voting frame sees (and everywhere when no frame votes)."""
    cos = np.asarray(cos, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    voters = valid.sum(1) >= min_offsets  # (T,)
    c, v = cos[voters], valid[voters]  # (N, O)
    if not len(c):
        return np.full(cos.shape[1], np.nan)
    top = np.where(v, c, -np.inf).max(1, keepdims=True)  # (N, 1)
    e = np.where(v, np.exp((np.where(v, c, 0.0) - top) / temperature), 0.0)  # (N, O)
    curve = (e / e.sum(1, keepdims=True)).mean(0)  # (O,)
    return np.where(v.any(0), curve, np.nan)


def sync_term(curve: np.ndarray, max_offset: int, tolerance: int = SYNC_TOLERANCE_FRAMES) -> float:
    """curve (O,) mean cosine per offset (NaN where no frame is valid) -> median(curve) - max(curve[K-tol..K+tol])."""
    c = np.asarray(curve, dtype=np.float64)
    near = c[max(0, max_offset - tolerance): max_offset + tolerance + 1]
    return float(np.nanmedian(c) - np.nanmax(near))


def offset_term(curve: np.ndarray, max_offset: int, tolerance: int = SYNC_TOLERANCE_FRAMES,
                sharpness: float = OFFSET_SHARPNESS) -> float:
    """curve (O,) mean cosine per offset (NaN where no frame is valid) -> expected |offset| beyond ``tolerance``
    (frames) under a softmax of the curve whose temperature is ``sharpness`` times the peak height (module doc)."""
    c = np.asarray(curve, dtype=np.float64)
    d = np.arange(c.size) - max_offset
    ok = np.isfinite(c)
    if not ok.any():
        return float("nan")
    c, d = c[ok], d[ok]
    tau = max(sharpness * (c.max() - np.median(c)), 1e-9)
    p = np.exp((c - c.max()) / tau)
    return float((p * np.maximum(np.abs(d) - tolerance, 0)).sum() / p.sum())


def clip_terms(nll: float, curve: np.ndarray, max_offset: int, profile=None) -> dict:
    """Every term of one clip (TERMS), from its aggregated NLL and its offset curve (O,): THE place terms are made.
    ``profile`` (an ``OffsetProfile``) adds the ``profile`` term."""
    terms = {"nll": float(nll), "sync": sync_term(curve, max_offset), "offset": offset_term(curve, max_offset)}
    if profile is not None:
        terms["profile"] = profile.distance(curve)
    return terms
