"""Baselines that use the trained sync model (stage 1) but not the AR model.

- ``sync-only``: SyncNet-style offset confidence of the stage-1 model (max - median of the mean similarity
  curve over offsets), negated so that higher = more fake. No fitting.
- ``iforest``: IsolationForest on pooled per-clip sync features, fitted on the train-split REAL clips only.
- ``supervised``: logistic regression on pooled sync features + the heuristic's correlation curve, fitted on
  train-split real AND fake clips. NOT real-only: a reference for the generalisation gap
  (``holdout_methods`` leaves fake generation methods out of its training set).

The fitted models are pickled beside the model file (``<run>/baselines/<name>-<raw|trimmed>.pkl``) with a
fingerprint of (model file, training clips, settings); a mismatch refits.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import asdict, dataclass, field

import numpy as np

from avanomaly.errors import ConfigError
from avanomaly.evaluation.baselines.common import (FITTED_DIR, POOLED_NAMES, CachedFeatureScorer, clip_sync_logits,
                                                   fingerprint, load_sync_part, pooled_sync_features,
                                                   train_rows_of_run)
from avanomaly.evaluation.baselines.heuristic import HeuristicConfig, heuristic_sync
from avanomaly.evaluation.scorers import register_scorer

log = logging.getLogger(__name__)

#: fewest training clips per class a fitted baseline accepts
MIN_FIT_CLIPS = 4
PICKLE_VERSION = 1


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
        fp = fingerprint({"v": PICKLE_VERSION, "name": self.name, "model": file_sha256(self.model_file)[:16],
                          "paths": paths, "fit": asdict(self.fit_cfg), "trim": trim})
        tag = "-".join(self.fit_cfg.holdout_methods) if self.fit_cfg.holdout_methods else ""
        file = self.fitted_dir / f"{self.name}{'-holdout-' + tag if tag else ''}-{'trimmed' if trim else 'raw'}.pkl"
        if file.is_file():
            try:
                with open(file, "rb") as fh:
                    rec = pickle.load(fh)
                if rec.get("fingerprint") == fp:
                    self._fitted[trim] = rec["model"]
                    self.fit_info[trim] = rec["info"]
                    return
            except (OSError, pickle.UnpicklingError, EOFError, KeyError):
                log.warning("%s: unreadable fitted baseline, refitting", file)
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
        x, y = np.asarray(x), np.asarray(y)
        model = self.fit(x, y)
        info = {"n_train": int(len(y)), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                "n_failed": len(failed), "file": str(file), "holdout_methods": list(self.fit_cfg.holdout_methods)}
        from avanomaly.utils import atomic_write_bytes

        atomic_write_bytes(file, pickle.dumps({"fingerprint": fp, "model": model, "info": info}))
        self._fitted[trim] = model
        self.fit_info[trim] = info

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
