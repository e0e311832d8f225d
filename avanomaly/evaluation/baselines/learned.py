"""Baselines that use the trained sync model (stage 1) but not the AR model.

- ``sync-only``: SyncNet-style offset confidence of the stage-1 model (max - median of the mean similarity
  curve over offsets), negated so that higher = more fake. No fitting.
- ``iforest``: IsolationForest on pooled per-clip sync features, fitted on the train-split REAL clips only.
- ``supervised``: logistic regression on pooled sync features + the heuristic's correlation curve, fitted on
  train-split real AND fake clips. NOT real-only: a reference for the generalisation gap
  (``holdout_methods`` leaves fake generation methods out of its training set).

The training FEATURES (not the fitted model) are stored beside the model file as plain arrays
(``<run>/baselines/<name>-<raw|trimmed>.npz``, read with ``allow_pickle=False``) with a fingerprint of (model
file, training clips, settings); the sklearn model is refitted from them, deterministically (fixed seed), in well
under a second. Nothing in a run folder is unpickled, so a crafted file there cannot run code: an unreadable or
object-holding file is refused with a warning and the features are recomputed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

import numpy as np

from avanomaly.errors import ConfigError
from avanomaly.evaluation.baselines.common import (FITTED_DIR, POOLED_NAMES, CachedFeatureScorer, clip_sync_logits,
                                                   fingerprint, load_sync_part, pooled_sync_features,
                                                   train_rows_of_run)
from avanomaly.evaluation.baselines.heuristic import HeuristicConfig, heuristic_sync
from avanomaly.evaluation.registry import register_scorer

log = logging.getLogger(__name__)

#: fewest training clips per class a fitted baseline accepts
MIN_FIT_CLIPS = 4
#: version of the stored training-feature files (bump when their layout changes)
FEATURES_VERSION = 2
#: suffix of the stored training features (plain arrays; never a pickle)
FEATURES_SUFFIX = ".npz"


def save_fit_features(file, fingerprint: str, x: np.ndarray, y: np.ndarray, info: dict) -> None:
    """Training features as plain arrays + a JSON header (atomic write)."""
    import io

    from avanomaly.utils import atomic_write_bytes

    buf = io.BytesIO()
    header = json.dumps({"fingerprint": fingerprint, "info": info})
    np.savez(buf, x=np.asarray(x, dtype=np.float64), y=np.asarray(y, dtype=np.int64), header=np.array(header))
    atomic_write_bytes(file, buf.getvalue())


def load_fit_features(file):
    """-> (fingerprint, x, y, info) from :func:`save_fit_features`'s file. Data only: ``allow_pickle=False``,
    so an object array (a pickle inside the archive) raises ValueError instead of running code."""
    with np.load(file, allow_pickle=False) as z:
        header = json.loads(str(z["header"]))
        x, y = np.asarray(z["x"], dtype=np.float64), np.asarray(z["y"], dtype=np.int64)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(f"bad shapes x{x.shape} y{y.shape}")
    return header["fingerprint"], x, y, header["info"]


class _SyncModelScorer(CachedFeatureScorer):
    """Loads the sync part of a model file; per-clip logits/pooled features are memoised per pass."""

    def __init__(self, model=None, cache=None, workers: int = 1, progress: bool = True, device: str = "cpu",
                 **_ignored):
        if model is None:
            raise ConfigError(f"--method {self.name} needs --model (a model.pt or a training run directory)")
        super().__init__(cache=cache, workers=workers, progress=progress)
        self.model = model
        self.device = device
        self.sync_model, self._pcfg, self.model_file = load_sync_part(model)
        self.sync_model.to(device)
        self._memo: dict = {}

    def preprocess_cfg(self):
        return self._pcfg

    def clip_stats(self, clip, trim: bool) -> dict:
        key = (str(clip.path), trim)
        if key not in self._memo:
            logits, mask = clip_sync_logits(self.sync_model, clip, self.device)
            import torch

            with torch.no_grad():
                off, conf = self.sync_model.offset_confidence(logits[None], mask[None])
            self._memo[key] = {"offset": int(off[0]), "confidence": float(conf[0]),
                               "pooled": pooled_sync_features(self.sync_model, logits, mask)}
        return self._memo[key]

    def describe(self) -> dict:
        return {"method": self.name, "model": str(self.model_file)}


@register_scorer("sync-only")
class SyncOnlyScorer(_SyncModelScorer):
    """-(offset confidence) of the stage-1 sync model; the AR model is not used."""

    name = "sync-only"

    def describe(self) -> dict:
        return {**super().describe(), "training": "real-only (stage 1 only)"}

    def score_clip(self, clip, trim: bool) -> dict:
        s = self.clip_stats(clip, trim)
        return {"score": -s["confidence"], "offset": s["offset"], "confidence": s["confidence"]}


@dataclass
class FitConfig:
    seed: int = 0
    n_estimators: int = 200  # iforest
    C: float = 1.0  # supervised: inverse L2 strength of the logistic regression
    holdout_methods: list = field(default_factory=list)  # supervised: fake methods left out of training


class _FittedScorer(_SyncModelScorer):
    """Fits a sklearn model on the training split's features (lazily, once per pass; cached on disk)."""

    labels = ("real",)  # which training labels are used

    def __init__(self, model=None, cache=None, workers: int = 1, progress: bool = True, device: str = "cpu",
                 train_data=None, fit: FitConfig | dict | None = None, fitted_dir=None, **kw):
        super().__init__(model=model, cache=cache, workers=workers, progress=progress, device=device, **kw)
        self.train_data = train_data
        self.fit_cfg = FitConfig(**fit) if isinstance(fit, dict) else (fit or FitConfig())
        from pathlib import Path

        self.fitted_dir = Path(fitted_dir) if fitted_dir else self.model_file.parent / FITTED_DIR
        self._fitted: dict = {}
        self.fit_info: dict = {}

    def features(self, clip, trim: bool) -> np.ndarray:
        return self.clip_stats(clip, trim)["pooled"]

    def train_rows(self):
        rows = train_rows_of_run(self.model, self.train_data)
        rows = rows[rows["label"].isin(self.labels)]
        if self.fit_cfg.holdout_methods:
            rows = rows[~((rows["label"] == "fake") & rows["method"].isin(self.fit_cfg.holdout_methods))]
        return rows.reset_index(drop=True)

    def prepare(self, trim: bool) -> None:
        if trim in self._fitted:
            return
        from avanomaly.utils import file_sha256

        rows = self.train_rows()
        paths = sorted(rows["path"].astype(str))
        fp = fingerprint({"v": FEATURES_VERSION, "name": self.name, "model": file_sha256(self.model_file)[:16],
                          "paths": paths, "fit": asdict(self.fit_cfg), "trim": trim})
        tag = "-".join(self.fit_cfg.holdout_methods) if self.fit_cfg.holdout_methods else ""
        stem = f"{self.name}{'-holdout-' + tag if tag else ''}-{'trimmed' if trim else 'raw'}"
        file = self.fitted_dir / f"{stem}{FEATURES_SUFFIX}"
        stored = self._stored_features(file, fp)
        if stored is not None:
            x, y, info = stored
        else:
            x, y, info = self._training_features(rows, paths, trim)
            info["file"] = str(file)
            save_fit_features(file, fp, x, y, info)
        self._fitted[trim] = self.fit(x, y)
        self.fit_info[trim] = info

    @staticmethod
    def _stored_features(file, fp):
        """-> (x, y, info) when ``file`` holds features with fingerprint ``fp``; None to recompute."""
        if not file.is_file():
            return None
        try:
            stored_fp, x, y, info = load_fit_features(file)
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            log.warning("%s: not a readable feature file (%s); recomputing the training features", file, exc)
            return None
        return (x, y, info) if stored_fp == fp else None

    def _training_features(self, rows, paths, trim: bool):
        loaded = self.source(trim).load(paths)
        x, y, failed = [], [], []
        label_of = dict(zip(rows["path"].astype(str), rows["label"]))
        for p in paths:
            item = loaded[p]
            if isinstance(item, tuple):
                failed.append((p, *item))
                continue
            try:
                x.append(self.features(item, trim))
            except (ValueError, RuntimeError) as exc:
                failed.append((p, type(exc).__name__, str(exc)))
                continue
            y.append(1 if label_of[p] == "fake" else 0)
        for p, reason, msg in failed:
            log.warning("%s: training clip %s left out (%s: %s)", self.name, p, reason, msg)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)
        info = {"n_train": int(len(y)), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                "n_failed": len(failed), "holdout_methods": list(self.fit_cfg.holdout_methods)}
        return x, y, info

    def fit(self, x: np.ndarray, y: np.ndarray):
        raise NotImplementedError

    def describe(self) -> dict:
        return {**super().describe(), "fit": asdict(self.fit_cfg),
                "fitted": {("trimmed" if k else "raw"): v for k, v in self.fit_info.items()}}


@register_scorer("iforest")
class IsolationForestScorer(_FittedScorer):
    """IsolationForest on pooled sync features of the train-split REAL clips; score = -score_samples."""

    name = "iforest"
    labels = ("real",)

    def fit(self, x, y):
        from sklearn.ensemble import IsolationForest
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if (y != 0).any():
            raise ConfigError("iforest must be fitted on real clips only")
        if len(y) < MIN_FIT_CLIPS:
            raise ConfigError(f"iforest: {len(y)} usable real training clip(s); need >= {MIN_FIT_CLIPS}")
        return make_pipeline(StandardScaler(), IsolationForest(n_estimators=self.fit_cfg.n_estimators,
                                                               random_state=self.fit_cfg.seed)).fit(x)

    def describe(self) -> dict:
        return {**super().describe(), "training": "real-only", "features": ["mean_p[d]"] + list(POOLED_NAMES)}

    def score_clip(self, clip, trim: bool) -> dict:
        s = self.clip_stats(clip, trim)
        score = -float(self._fitted[trim].score_samples(self.features(clip, trim)[None])[0])
        return {"score": score, "offset": s["offset"], "confidence": s["confidence"]}


@register_scorer("supervised")
class SupervisedScorer(_FittedScorer):
    """Logistic regression on [pooled sync features, heuristic correlation curve], trained on train-split
    real AND fake clips. NOT real-only (reference upper bound / generalisation-gap baseline)."""

    name = "supervised"
    labels = ("real", "fake")

    def features(self, clip, trim: bool) -> np.ndarray:
        h = heuristic_sync(clip.mouths, clip.mel, HeuristicConfig())
        curve = np.nan_to_num(h["curve"], nan=0.0)
        hs = 0.0 if not np.isfinite(h["score"]) else h["score"]
        return np.concatenate([super().features(clip, trim), curve, [hs]])

    def fit(self, x, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        for cls, name in ((0, "real"), (1, "fake")):
            if (y == cls).sum() < MIN_FIT_CLIPS:
                raise ConfigError(f"supervised: {(y == cls).sum()} {name} training clip(s); need >= {MIN_FIT_CLIPS}")
        clf = LogisticRegression(C=self.fit_cfg.C, class_weight="balanced", max_iter=2000,
                                 random_state=self.fit_cfg.seed)
        return make_pipeline(StandardScaler(), clf).fit(x, y)

    def describe(self) -> dict:
        return {**super().describe(), "training": "SUPERVISED (real and fake clips) - not real-only"}

    def score_clip(self, clip, trim: bool) -> dict:
        s = self.clip_stats(clip, trim)
        score = float(self._fitted[trim].decision_function(self.features(clip, trim)[None])[0])
        return {"score": score, "offset": s["offset"], "confidence": s["confidence"]}
