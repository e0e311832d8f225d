"""A real-only model of a clip's whole offset profile: the ``profile`` score term (issue 22, item 4).

The sync model gives, per clip, the mean audio-visual cosine similarity at every audio offset ``d`` in
``[-K, K]`` frames (``SyncModel.offset_curve``, (O,) with O = 2K + 1). The ``sync`` and ``offset`` terms read two
numbers off that curve (the height of the peak near 0, the peak's position); the curve's whole SHAPE says more:
a real, in-sync clip has one peak inside +-1 frame that falls off in a typical way on both sides; shifted audio
moves the peak; another person's voice leaves a flat, noisy curve with a peak anywhere.

``OffsetProfile`` is a Gaussian over a clip's profile features (:func:`profile_features`):

- the curve standardised over its offsets, ``(c - mean(c)) / std(c)`` (its shape, free of the clip's overall
  similarity level, which varies with the recording);
- ``log(max(c) - median(c))``: how far the peak stands out (SyncNet's confidence);

fitted on REAL clips only (mean and a Ledoit-Wolf shrunk covariance, so ~30 dimensions are fine with ~100 clips).
The ``profile`` term of a clip is the Mahalanobis distance of its features from that Gaussian, divided by the
square root of the dimension (about 1 for a typical real clip; larger = a curve real clips do not have).

The profile lives in the calibration (``Calibration.profile``, plain numbers: no pickles) and is fit by
``calibrate_terms`` on the calibration pool. The calibration clips' own ``profile`` values are computed
out of speaker (each speaker's clips under a profile fit on the other speakers: :func:`cross_fit_terms`), so the
threshold and the fusion's standardisation see the term as an unseen person's clip will have it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from avanomaly.errors import ConfigError

#: smallest std of a curve over its offsets (cosine units) before standardising it (a constant curve stays 0)
CURVE_STD_FLOOR = 1e-6
#: smallest peak height (max - median, cosine units) inside the log
PEAK_FLOOR = 1e-4
#: fewest real clips a profile is fit on (a covariance of ~30 dimensions from fewer is noise)
MIN_PROFILE_CLIPS = 10


def profile_features(curve, max_offset: int) -> np.ndarray:
    """curve (O,) mean cosine per offset (NaN where no frame is valid; O = 2 * max_offset + 1) -> features
    (O + 1,): the standardised curve and the log peak height (module doc). Offsets without a valid frame take
    the curve's median (they carry no evidence either way)."""
    c = np.asarray(curve, dtype=np.float64).ravel()
    if c.size != 2 * int(max_offset) + 1:
        raise ValueError(f"offset curve has {c.size} values, expected {2 * int(max_offset) + 1} (K={max_offset})")
    ok = np.isfinite(c)
    if not ok.any():
        return np.full(c.size + 1, np.nan)
    med = float(np.median(c[ok]))
    c = np.where(ok, c, med)
    z = (c - c.mean()) / max(float(c.std()), CURVE_STD_FLOOR)  # (O,)
    peak = np.log(max(float(c.max()) - med, PEAK_FLOOR))
    return np.concatenate([z, [peak]])  # (O + 1,)


@dataclass
class OffsetProfile:
    """Gaussian of real clips' profile features: ``mean`` (F,), ``precision`` (F, F) row-major, fit on
    ``n_clips`` real clips of ``n_speakers`` speakers (None: unknown)."""

    max_offset: int
    mean: list[float]
    precision: list[list[float]]
    n_clips: int
    n_speakers: int | None = None
    shrinkage: float = 0.0

    def distance(self, curve) -> float:
        """The ``profile`` term of one offset curve: Mahalanobis distance / sqrt(F); NaN for an all-NaN curve."""
        x = profile_features(curve, self.max_offset) - np.asarray(self.mean)
        if not np.isfinite(x).all():
            return float("nan")
        p = np.asarray(self.precision, dtype=np.float64)
        return float(np.sqrt(max(float(x @ p @ x), 0.0) / x.size))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "profile.") -> "OffsetProfile":
        """Checked: shapes agree with ``max_offset``, every number finite, the precision symmetric."""
        from avanomaly.utils import dataclass_from_dict

        prof = dataclass_from_dict(cls, d, where=where)
        f = 2 * int(prof.max_offset) + 2
        mean = np.asarray(prof.mean, dtype=np.float64)
        try:
            p = np.asarray(prof.precision, dtype=np.float64)
        except ValueError:
            raise ConfigError(f"{where}precision must be a {f} x {f} matrix") from None
        if prof.max_offset < 1 or mean.shape != (f,) or p.shape != (f, f):
            raise ConfigError(f"{where}mean must have {f} values and precision be {f} x {f} "
                              f"(max_offset {prof.max_offset}), got {mean.shape} and {p.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(p).all()):
            raise ConfigError(f"{where}mean and precision must be finite")
        if not np.allclose(p, p.T, atol=1e-8 * max(1.0, float(np.abs(p).max()))):
            raise ConfigError(f"{where}precision must be symmetric")
        if prof.n_clips < 1:
            raise ConfigError(f"{where}n_clips must be >= 1, got {prof.n_clips}")
        return prof

    @classmethod
    def fit(cls, curves, max_offset: int, speakers=None) -> "OffsetProfile":
        """Fit on the offset curves (n, O) of REAL clips (never fakes); ``speakers`` (one label per clip) only
        counts them. ConfigError when fewer than MIN_PROFILE_CLIPS usable curves."""
        from sklearn.covariance import LedoitWolf

        feats = np.stack([profile_features(c, max_offset) for c in curves]) if len(curves) else np.zeros((0, 1))
        ok = np.isfinite(feats).all(axis=1)
        if ok.sum() < MIN_PROFILE_CLIPS:
            raise ConfigError(f"an offset profile needs at least {MIN_PROFILE_CLIPS} real clips with an offset "
                              f"curve, got {int(ok.sum())}")
        x = feats[ok]
        lw = LedoitWolf().fit(x)
        precision = np.linalg.pinv(lw.covariance_, hermitian=True)
        precision = (precision + precision.T) / 2
        n_speakers = None if speakers is None else len({s for s, k in zip(speakers, ok) if k})
        return cls(max_offset=int(max_offset), mean=x.mean(axis=0).tolist(), precision=precision.tolist(),
                   n_clips=int(ok.sum()), n_speakers=n_speakers, shrinkage=float(lw.shrinkage_))


def cross_fit_terms(curves, max_offset: int, speakers=None, fallback: OffsetProfile | None = None) -> list[float]:
    """Each clip's ``profile`` term under a profile fit WITHOUT its speaker (``speakers`` None: without the clip
    itself): what the term is for a person the profile never saw. Clips whose left-out fit is impossible (too
    few other clips) get the in-sample term of ``fallback``, the fit on every clip (made here when not given)."""
    curves = list(curves)
    n = len(curves)
    groups = list(speakers) if speakers is not None else list(range(n))
    if len(groups) != n:
        raise ConfigError(f"need one speaker per curve ({n} curves, {len(groups)} speakers)")
    out = [float("nan")] * n
    for g in dict.fromkeys(groups):
        held = [i for i in range(n) if groups[i] == g]
        rest = [curves[i] for i in range(n) if groups[i] != g]
        try:
            prof = OffsetProfile.fit(rest, max_offset)
        except ConfigError:
            fallback = fallback or OffsetProfile.fit(curves, max_offset, speakers)
            prof = fallback
        for i in held:
            out[i] = prof.distance(curves[i])
    return out
