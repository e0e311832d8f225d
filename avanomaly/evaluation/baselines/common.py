"""Shared pieces of the baseline scorers: cached features for paths, whole-clip sync logits, pooled features.

Every baseline reads the same preprocessed tensors as avanomaly (``FeatureCache`` entries: mouths (T,S,S)
uint8, mel (4T,M) float16), so a comparison differs only in the scoring, never in decoding or cropping.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from avanomaly.errors import ConfigError
from avanomaly.evaluation.registry import SCORE_COLUMNS, Scorer, failure_row

log = logging.getLogger(__name__)

#: folder under a cache root (``--cache``) holding the baselines' feature cache
FEATURE_CACHE_DIR = "features"
#: folder beside the model file holding fitted baseline models
FITTED_DIR = "baselines"
RUN_CONFIG = "config.yaml"


# ------------------------------------------------------------------------------------------ model files
def model_file_of(model) -> Path:
    """A shipped model's name, a model.pt or a run directory holding one -> the model file (CheckpointError when
    missing)."""
    from avanomaly.errors import CheckpointError
    from avanomaly.postprocess.modelfile import MODEL_FILENAME, resolve_model_path

    p = Path(model)
    f = resolve_model_path(model)
    if not f.is_file():
        raise CheckpointError(f"{f}: model file not found" + (f" (a run directory must contain {MODEL_FILENAME})"
                                                                if p.is_dir() else ""))
    return f


def load_sync_part(model):
    """-> (SyncModel in eval mode, PreprocessConfig, model file Path) from a model file / run directory."""
    from avanomaly.scoring.loading import load_model_file

    f = model_file_of(model)
    sync, _ar, pcfg, _cal, _raw = load_model_file(f)
    return sync.eval(), pcfg, f


def train_rows_of_run(model, train_data=None):
    """Training-split rows of the run that produced ``model`` (the same identity split training used).

    ``train_data``: a manifest DataFrame or path to use instead of the run's ``config.yaml``.
    """
    from avanomaly.data import read_manifest

    if isinstance(train_data, pd.DataFrame):
        df = train_data
    elif train_data is not None:
        df = read_manifest(train_data)
    else:
        cfg_file = model_file_of(model).parent / RUN_CONFIG
        if not cfg_file.is_file():
            raise ConfigError(f"{cfg_file}: not found; the fitted baselines need the training run's config.yaml "
                              "(its data.manifest and split) or an explicit train_data")
        manifest, split = run_data_split(cfg_file)
        df = read_manifest(manifest, **split)
    if "split" not in df.columns:
        raise ConfigError("the training manifest has no 'split' column")
    rows = df[df["split"].astype(str) == "train"]
    rows = rows[rows["label"].isin(("real", "fake"))]
    if rows.empty:
        raise ConfigError("no train-split clips in the training manifest")
    return rows.reset_index(drop=True)


def run_data_split(cfg_file: Path) -> tuple[str, dict]:
    """A training run's ``config.yaml`` -> (its ``data.manifest``, ``read_manifest`` keywords of its identity split).

    Read as plain YAML: a report needs no trainer. Split settings the file leaves out keep read_manifest's
    defaults (those of the data layer, which training's defaults are)."""
    import yaml

    try:
        cfg = yaml.safe_load(cfg_file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{cfg_file}: not valid YAML: {exc}") from exc
    data = cfg.get("data") if isinstance(cfg, dict) else None
    if not isinstance(data, dict) or not data.get("manifest"):
        raise ConfigError(f"{cfg_file}: data.manifest is empty; pass train_data")
    split = {}
    if data.get("split_seed") is not None:
        split["seed"] = int(data["split_seed"])
    if data.get("split_fractions") is not None:
        split["fractions"] = tuple(data["split_fractions"])
    return str(data["manifest"]), split


# ------------------------------------------------------------------------------------------ features
class FeatureSource:
    """paths -> cached features (preprocessing what is missing with ``preprocess_many``).

    ``cache``: folder for the FeatureCache (None: a temporary folder removed by :meth:`close`).
    """

    def __init__(self, cache, cfg, workers: int = 1, progress: bool = False):
        from avanomaly.preprocess import FeatureCache

        self._tmp = None
        if cache is None:
            self._tmp = tempfile.mkdtemp(prefix="avanomaly-baseline-")
            cache = self._tmp
        self.cache = FeatureCache(cache)
        self.cfg = cfg
        self.workers = max(1, int(workers))
        self.progress = progress

    def load(self, paths: Sequence) -> dict:
        """-> {path: CachedClip or (reason, message)} for every path."""
        from avanomaly.preprocess import preprocess_many

        paths = [str(p) for p in paths]
        report = preprocess_many(paths, self.cache, self.cfg, workers=self.workers, progress=self.progress)
        out: dict = {p: (reason, message) for p, reason, message in report.failed}
        for p in paths:
            if p in out:
                continue
            key = report.keys.get(p)
            if key is None:
                out[p] = ("error", "preprocessing gave no cache entry")
            else:
                out[p] = self.cache.get(key)
        return out

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __del__(self):  # the temporary cache never outlives the scorer
        self.close()


def clip_meta(clip) -> dict:
    meta = clip.meta or {}
    return {"face_rate": meta.get("face_rate"), "trimmed_seconds": float(meta.get("trimmed_seconds") or 0.0)}


def base_row(path, trimmed: bool, clip, score: float, offset=None, confidence=None, warnings=()) -> dict:
    m = clip_meta(clip)
    ok = math.isfinite(score)
    row = {"path": str(path), "score": float(score), "verdict": None, "threshold": None, "offset": offset,
           "confidence": confidence, "face_rate": m["face_rate"], "trimmed": bool(trimmed),
           "trimmed_seconds": m["trimmed_seconds"], "status": "ok" if ok else "failed",
           "error": "" if ok else "error: non-finite score", "warnings": "; ".join(warnings), "nll": None,
           "times": None}
    return row


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


# ------------------------------------------------------------------------------------------ sync model
def clip_sync_logits(sync_model, clip, device="cpu"):
    """Whole-clip sync logits of a cached clip -> (logits (T,O), mask (T,O)), computed by the scorer's own sync
    windows (:func:`avanomaly.models.composite.sync_logits`), so a baseline sees exactly the logits the
    Detector's offset estimate uses."""
    from avanomaly.models.composite import sync_logits

    return sync_logits(sync_model, clip.mouths, clip.mel, device=device)


#: names of the pooled per-clip sync features (after the O mean delay probabilities)
POOLED_NAMES = ("offset", "confidence", "abs_offset", "exp_delay_mean", "exp_delay_std", "argmax_std",
                "entropy_mean", "entropy_std", "pmax_mean", "pmax_std", "p_zero_mean", "frame_conf_mean",
                "frame_conf_std")


def pooled_sync_features(sync_model, logits, mask) -> np.ndarray:
    """(T,O) logits + mask -> one vector per clip: mean delay distribution (O) + POOLED_NAMES statistics."""
    import torch

    k = int(sync_model.config.max_offset)
    with torch.no_grad():
        offset, conf = sync_model.offset_confidence(logits[None], mask[None])
        fconf = sync_model.framewise_confidence(logits[None], mask[None])[0]  # (T,)
        p = logits.softmax(-1)  # (T, O)
    p = p.numpy().astype(np.float64)
    d = np.arange(-k, k + 1, dtype=np.float64)
    exp_d = p @ d  # (T,)
    argmax = p.argmax(-1) - k
    ent = -(p * np.log(p + 1e-12)).sum(-1)
    pmax = p.max(-1)
    fconf = fconf.numpy().astype(np.float64)
    fconf = fconf[np.isfinite(fconf)] if np.isfinite(fconf).any() else np.zeros(1)
    stats = [float(offset[0]), float(conf[0]), abs(float(offset[0])), exp_d.mean(), exp_d.std(), argmax.std(),
             ent.mean(), ent.std(), pmax.mean(), pmax.std(), p[:, k].mean(), fconf.mean(), fconf.std()]
    return np.concatenate([p.mean(0), np.asarray(stats, dtype=np.float64)])


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def trimmed_cfg(cfg, trim: bool):
    return dataclasses.replace(cfg, trim_leading_silence=bool(trim))


class CachedFeatureScorer(Scorer):
    """Base of the baselines: preprocess (cached) -> per-clip score; subclasses implement :meth:`score_clip`."""

    name = "cached-baseline"

    def __init__(self, cache=None, workers: int = 1, progress: bool = True):
        self.cache_root = Path(cache) / FEATURE_CACHE_DIR if cache else None
        self.workers = max(1, int(workers))
        self.progress = progress
        self._sources: dict = {}

    def preprocess_cfg(self):
        raise NotImplementedError

    def source(self, trim: bool) -> FeatureSource:
        if trim not in self._sources:
            self._sources[trim] = FeatureSource(self.cache_root, trimmed_cfg(self.preprocess_cfg(), trim),
                                                workers=self.workers, progress=self.progress)
        return self._sources[trim]

    def prepare(self, trim: bool) -> None:
        """Hook run before scoring a pass (fitting)."""

    def score_clip(self, clip, trim: bool) -> dict:
        """-> dict(score=..., offset=..., confidence=..., warnings=[...])"""
        raise NotImplementedError

    def score_many(self, paths: Sequence, trim_leading_silence: bool = False) -> pd.DataFrame:
        trim = bool(trim_leading_silence)
        self.prepare(trim)
        loaded = self.source(trim).load(paths)
        rows = []
        for p in paths:
            item = loaded[str(p)]
            if isinstance(item, tuple):
                rows.append(failure_row(p, item[0], item[1], trim))
                continue
            try:
                r = self.score_clip(item, trim)
            except (ValueError, RuntimeError) as exc:  # e.g. a clip too short for the windows: reported, not dropped
                rows.append(failure_row(p, type(exc).__name__, str(exc), trim))
                continue
            rows.append(base_row(p, trim, item, r["score"], r.get("offset"), r.get("confidence"),
                                 r.get("warnings", ())))
        return rows_frame(rows)

    def close(self) -> None:
        for s in self._sources.values():
            s.close()
