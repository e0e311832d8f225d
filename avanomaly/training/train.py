"""Real-only training: manifest -> real rows -> identity-disjoint split -> feature cache -> stage 1 -> stage 2
-> ``model.pt`` (+ calibration on the validation real clips). See docs/training.md.

Public API::

    train(cfg: TrainConfig, resume=False) -> TrainResult                  # from a manifest / FakeAVCeleb root
    train_on_clips(cfg, train_refs, val_refs, resume=False) -> TrainResult # from already cached clips

The steps, one module each: :mod:`~avanomaly.training.selection` (real rows, train / val split),
:mod:`~avanomaly.training.rundir` (run folder, saved config, resume rules), :mod:`~avanomaly.training.signals`
(SIGTERM), :mod:`~avanomaly.training.stages` (one Lightning stage) and :mod:`~avanomaly.training.calibrate`; this
module prepares the clips and runs them in order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from avanomaly.errors import ConfigError, DatasetError
from avanomaly.training.calibrate import calibrate_run
from avanomaly.training.config import TrainConfig
from avanomaly.training.rundir import CURVES_FILE, METRICS_FILE, global_rank, prepare_run_dir
from avanomaly.training.selection import select_real_rows, split_rows
from avanomaly.training.signals import StopOnSignal
from avanomaly.training.stages import one_log_handler, run_stage, seed_all
from avanomaly.training.windows import ClipRef, clip_n_frames, usable_clips
from avanomaly.utils import require_module

log = logging.getLogger(__name__)

#: the avanomaly extra that installs what training needs beyond the core (Lightning)
TRAIN_EXTRA = "train"


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path | None
    stage1: dict = field(default_factory=dict)  # best val metrics, epochs
    stage2: dict = field(default_factory=dict)
    n_train: int = 0
    n_val: int = 0
    skipped: list = field(default_factory=list)  # (name, reason) clips left out (too short, ...)
    failed: list = field(default_factory=list)  # (path, reason, message) preprocessing failures
    calibration: dict | None = None
    notes: list = field(default_factory=list)
    seconds: float = 0.0


# ----------------------------------------------------------------------------------------------- clips
def prepare_clips(paths, cache, pcfg, workers: int = 1, progress: bool = True, groups=None, augment=None):
    """Cached clips for ``paths`` (preprocessing missing entries first; ``groups``: the identity of each path).
    ``augment`` (an AugmentConfig with ``variants`` > 0): also the augmented variants of every clip that was
    preprocessed, as refs named ``PATH#augI`` with the clip's group (they stay real). Returns (refs, failed)."""
    from avanomaly.preprocess import preprocess_many

    keys: dict[str, str] = {}
    missing = []
    for p in paths:
        try:
            keys[p] = cache.key(p, pcfg)
        except OSError:  # unreadable / missing file: preprocess_many records the typed failure
            missing.append(p)
            continue
        if not cache.has(keys[p]):
            missing.append(p)
    failed = []
    if missing:
        log.info("preprocessing %d clip(s) missing from the cache %s", len(missing), cache.root)
        report = preprocess_many(missing, cache, pcfg, workers=workers, progress=progress)
        failed = [tuple(f) for f in report.failed]
        keys.update({str(k): v for k, v in getattr(report, "keys", {}).items()})
    refs = []
    group_of = {} if groups is None else {p: str(g) for p, g in zip(paths, groups)}
    bad = {str(f[0]) for f in failed}
    for p in paths:
        if str(p) in bad:
            continue
        if p not in keys or not cache.has(keys[p]):
            failed.append((str(p), "missing-cache-entry", "no cache entry after preprocessing"))
            continue
        clip = cache.get(keys[p])
        refs.append(ClipRef(name=str(p), clip=clip, n_frames=clip_n_frames(clip), group=group_of.get(p, "")))
    if augment is not None and augment.variants > 0 and refs:
        from avanomaly.preprocess.pipeline import variant_name

        clean = [r.name for r in refs]
        report = preprocess_many(clean, cache, pcfg, workers=workers, progress=progress, augment=augment, clean=False)
        failed += [tuple(f) for f in report.failed]
        for p in clean:
            for i, key in sorted(report.augmented.get(p, {}).items()):
                clip = cache.get(key)
                refs.append(ClipRef(name=variant_name(p, i), clip=clip, n_frames=clip_n_frames(clip),
                                    group=group_of.get(p, "")))
    return refs, failed


def _resolve_paths(df, manifest: str) -> list[str]:
    base = Path(manifest)
    base = base.parent if base.is_file() else base
    out = []
    for p in df["path"].astype(str):
        q = Path(p)
        out.append(str(q if q.is_absolute() else (base / q)))
    return out


# ----------------------------------------------------------------------------------------------- entry
def require_training_dependencies() -> None:
    """MissingDependencyError with the pip line unless Lightning is installed (it is the ``train`` extra): checked
    first, before any preprocessing."""
    require_module("lightning", TRAIN_EXTRA, "training")


def train(cfg: TrainConfig, resume: bool = False) -> TrainResult:
    """Train from ``cfg.data.manifest`` (manifest CSV or FakeAVCeleb root) into ``cfg.out``.

    A SIGTERM stops it with :class:`TrainingInterrupted` (run folder + resume command); see StopOnSignal."""
    require_training_dependencies()
    if not cfg.out:
        raise ConfigError("no output run directory (out / --out)")
    with StopOnSignal(Path(cfg.out)) as guard:
        return _train(cfg, resume, guard)


def _train(cfg: TrainConfig, resume: bool, guard: StopOnSignal) -> TrainResult:
    from avanomaly.data import read_manifest
    from avanomaly.preprocess import FeatureCache

    if cfg.data.shards:
        return _train_from_shards(cfg, resume, guard)
    if not cfg.data.manifest:
        raise ConfigError("no training data (data.manifest / --data)")
    run_dir = Path(cfg.out)
    cfg.validate()
    df = read_manifest(cfg.data.manifest, seed=cfg.data.split_seed, fractions=tuple(cfg.data.split_fractions))
    real, n_fakes = select_real_rows(df, cfg.data.drop_fakes, source=str(cfg.data.manifest))
    cfg = prepare_run_dir(cfg, run_dir, resume)  # only once the data is acceptable
    train_df, val_df, how = split_rows(real, cfg, run_dir)
    guard.stage = "preprocessing"
    cache = FeatureCache(cfg.data.cache or (run_dir / "cache"))
    is_zero = global_rank() == 0
    train_refs, f1 = prepare_clips(_resolve_paths(train_df, cfg.data.manifest), cache, cfg.preprocess,
                                   cfg.data.preprocess_workers, progress=cfg.trainer.progress and is_zero,
                                   groups=list(train_df["identity"]) if "identity" in train_df else None,
                                   augment=cfg.augment)  # only training clips: val / calibration stay as recorded
    val_refs, f2 = prepare_clips(_resolve_paths(val_df, cfg.data.manifest), cache, cfg.preprocess,
                                 cfg.data.preprocess_workers, progress=cfg.trainer.progress and is_zero,
                                 groups=list(val_df["identity"]) if "identity" in val_df else None)
    # val groups: the calibration's leave-speaker-out false-alarm rate and offset profile are by person
    failed = f1 + f2
    for f in failed:
        log.warning("preprocessing failed, clip left out: %s (%s: %s)", *f)
    if not train_refs:
        raise DatasetError(f"no training clip could be preprocessed ({len(failed)} failure(s): "
                           f"{'; '.join(f'{f[0]}: {f[2]}' for f in failed[:5])})")
    if not val_refs:
        raise DatasetError(f"no validation clip could be preprocessed ({len(failed)} failure(s))")
    provenance = {
        "manifest": str(cfg.data.manifest),
        "split": how,
        "n_manifest_rows": int(len(df)),
        "n_fake_rows_dropped": int(n_fakes),
        "n_train_clips": sum("#aug" not in r.name for r in train_refs),
        "n_augmented_train_clips": sum("#aug" in r.name for r in train_refs),  # augment.* in training_config
        "n_val_clips": len(val_refs),
        "n_preprocess_failures": len(failed),
        "train_identities": sorted(map(str, set(train_df["identity"]))) if "identity" in train_df else [],
        "val_identities": sorted(map(str, set(val_df["identity"]))) if "identity" in val_df else [],
    }
    result = train_on_clips(cfg, train_refs, val_refs, resume=resume, provenance=provenance, _prepared=True,
                            _guard=guard)
    result.failed = failed
    return result


def _train_from_shards(cfg: TrainConfig, resume: bool, guard: StopOnSignal) -> TrainResult:
    """``data.shards`` / ``data.val_shards``: train on shard stores (already split, already preprocessed)."""
    from avanomaly.training.streaming import store_refs

    if not cfg.data.val_shards:
        raise ConfigError("data.shards needs data.val_shards (the validation clips' store)")
    # streaming reads the training shards itself (possibly remote): only their index is needed here
    train_refs = store_refs(cfg.data.shards, open_clips=not cfg.data.streaming)
    val_refs = store_refs(cfg.data.val_shards)
    provenance = {"shards": str(cfg.data.shards), "val_shards": str(cfg.data.val_shards),
                  "streaming": bool(cfg.data.streaming), "n_train_clips": len(train_refs),
                  "n_val_clips": len(val_refs)}
    return train_on_clips(cfg, train_refs, val_refs, resume=resume, provenance=provenance, _guard=guard)


# ----------------------------------------------------------------------------------------------- stages
def train_on_clips(cfg: TrainConfig, train_refs, val_refs, resume: bool = False, provenance: dict | None = None,
                   callbacks=(), _prepared: bool = False, _guard: StopOnSignal | None = None) -> TrainResult:
    """Run both stages on cached clips (``ClipRef`` lists) into ``cfg.out``; export ``model.pt``.

    ``callbacks``: extra Lightning callbacks added to both stages' trainers (hooks, tests). A SIGTERM stops it
    with :class:`TrainingInterrupted` (see StopOnSignal)."""
    require_training_dependencies()
    if _guard is not None:
        return _train_on_clips(cfg, train_refs, val_refs, resume, provenance, callbacks, _prepared, _guard)
    with StopOnSignal(Path(cfg.out)) as guard:
        return _train_on_clips(cfg, train_refs, val_refs, resume, provenance, callbacks, _prepared, guard)


def _train_on_clips(cfg: TrainConfig, train_refs, val_refs, resume: bool, provenance: dict | None, callbacks,
                    _prepared: bool, guard: StopOnSignal) -> TrainResult:
    import torch

    one_log_handler()
    t0 = time.time()
    run_dir = Path(cfg.out)
    if not _prepared:
        cfg = prepare_run_dir(cfg, run_dir, resume)
    if cfg.trainer.threads:
        torch.set_num_threads(int(cfg.trainer.threads))
    result = TrainResult(run_dir=run_dir, model_path=None)
    s1_train, short1 = usable_clips(train_refs, cfg.stage1.window, "training")
    s1_val, shortv1 = usable_clips(val_refs, cfg.stage1.window, "validation")
    s2_train, short2 = usable_clips(train_refs, cfg.stage2.window, "training")
    s2_val, shortv2 = usable_clips(val_refs, cfg.stage2.window, "validation")
    seen = set()
    for r in short1 + shortv1 + short2 + shortv2:
        if r.name not in seen:
            seen.add(r.name)
            result.skipped.append((r.name, f"too-short: {r.n_frames} frames < window"))
            log.warning("clip shorter than a training window, left out: %s (%d frames)", r.name, r.n_frames)
    result.n_train, result.n_val = len(train_refs), len(val_refs)

    from avanomaly.training.modules import ARStage, SyncStage

    seed = cfg.trainer.seed
    # ---- stage 1
    seed_all(seed, 1)
    s1 = SyncStage(cfg.sync, cfg.stage1)
    result.stage1, rank = run_stage("stage1", 1, s1, s1_train, s1_val, cfg.stage1, cfg, run_dir, resume,
                                     callbacks, guard)
    # ---- stage 2
    from avanomaly.training.export import stage_state_dict

    sync_state = stage_state_dict(run_dir / "stage1" / "best.ckpt")
    seed_all(seed, 2)
    s2 = ARStage(cfg.sync, cfg.ar, cfg.stage2, sync_state=sync_state)
    result.stage2, rank = run_stage("stage2", 2, s2, s2_train, s2_val, cfg.stage2, cfg, run_dir, resume,
                                     callbacks, guard)
    if rank != 0:
        return result
    guard.stage = "export"
    # ---- outputs (rank 0)
    from avanomaly.training.export import export_model
    from avanomaly.training.plots import plot_curves

    prov = dict(provenance or {})
    prov.update({
        "stage1": result.stage1, "stage2": result.stage2,
        "skipped_clips": [list(s) for s in result.skipped],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    result.model_path = export_model(run_dir, provenance=prov, cfg=cfg)
    if (run_dir / METRICS_FILE).exists():
        plot_curves(run_dir / METRICS_FILE, run_dir / CURVES_FILE)
    if cfg.calibrate:
        result.calibration, note = calibrate_run(run_dir, cfg, val_refs)
        if note:
            result.notes.append(note)
    result.seconds = time.time() - t0
    return result
