"""Real-only training: manifest -> real rows -> identity-disjoint split -> feature cache -> stage 1 -> stage 2
-> ``model.pt`` (+ calibration on the validation real clips). See docs/training.md.

Public API::

    train(cfg: TrainConfig, resume=False) -> TrainResult                  # from a manifest / FakeAVCeleb root
    train_on_clips(cfg, train_refs, val_refs, resume=False) -> TrainResult # from already cached clips
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avanomaly.errors import ConfigError, DatasetError, TrainingInterrupted
from avanomaly.training.config import TrainConfig, config_to_dict, load_config, save_config
from avanomaly.training.windows import ClipRef, clip_n_frames, usable_clips
from avanomaly.utils import require_module

log = logging.getLogger(__name__)

REAL_LABEL = "real"
REAL_CATEGORY = "RealVideo-RealAudio"
TRAIN_SPLITS = ("train", "val")
STAGES = ("stage1", "stage2")
DONE_FILE = "done.json"
SPLIT_FILE = "split.csv"
METRICS_FILE = "metrics.csv"
CURVES_FILE = "training_curves.png"
CALIBRATION_FILE = "calibration.json"
#: config sections that may change when resuming (hardware / loader settings, not the model or data)
RESUMABLE_SECTIONS = ("trainer", "out")
RESUMABLE_KEYS = ("data.cache", "data.preprocess_workers", "stage1.num_workers", "stage2.num_workers", "calibrate")
#: signal that stops a training run gracefully (a cluster's / container's stop request); Ctrl-C is Lightning's
STOP_SIGNAL = signal.SIGTERM
LAST_CKPT = "last.ckpt"
CONFIG_FILE = "config.yaml"
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


# ----------------------------------------------------------------------------------------------- manifest
def select_real_rows(df, drop_fakes: bool = False, source: str = "manifest"):
    """Real rows of ``df``; a fake row raises DatasetError (how many, which categories) unless ``drop_fakes``."""
    if len(df) == 0:
        raise DatasetError(f"{source}: the manifest is empty")
    if "label" not in df.columns and "category" not in df.columns:
        raise DatasetError(f"{source}: manifest has neither a 'label' nor a 'category' column")
    is_real = np.ones(len(df), dtype=bool)
    if "label" in df.columns:
        is_real &= df["label"].astype(str).str.lower().eq(REAL_LABEL).to_numpy()
    if "category" in df.columns:
        cat = df["category"].astype(str)
        is_real &= (cat.eq(REAL_CATEGORY) | cat.eq("nan") | cat.eq("")).to_numpy()
    fakes = df[~is_real]
    if len(fakes):
        by = fakes["category"] if "category" in fakes.columns else fakes["label"]
        counts = ", ".join(f"{k}: {v}" for k, v in by.astype(str).value_counts().sort_index().items())
        if not drop_fakes:
            raise DatasetError(
                f"{source}: avanomaly trains on real clips only, but the manifest has {len(fakes)} non-real row(s) "
                f"({counts}); pass --drop-fakes to leave them out"
            )
        log.warning("dropping %d non-real row(s) (%s)", len(fakes), counts)
    real = df[is_real].copy()
    if len(real) == 0:
        raise DatasetError(f"{source}: no real (RealVideo-RealAudio) rows to train on")
    return real, len(fakes)


def split_rows(df, cfg: TrainConfig, run_dir: Path):
    """(train_df, val_df, how). Uses the manifest's ``split`` column, else an identity-disjoint split saved to
    ``run_dir/split.csv``. Test rows are never returned."""
    if "split" in df.columns and df["split"].astype(str).isin(TRAIN_SPLITS).any():
        how = "manifest split column"
        split = df
    else:
        from avanomaly.data import identity_split

        work = df.copy()
        if "identity" not in work.columns or work["identity"].isna().all():
            # no identity information: each clip is its own identity (split by clip)
            work["identity"] = [Path(str(p)).stem for p in work["path"]]
            how = "clip-disjoint split (manifest has no identity column)"
        else:
            how = "identity-disjoint split"
        split = identity_split(work, fractions=tuple(cfg.data.split_fractions), seed=cfg.data.split_seed)
        split.to_csv(run_dir / SPLIT_FILE, index=False)
        how += f" saved to {run_dir / SPLIT_FILE}"
    s = split["split"].astype(str)
    train_df, val_df = split[s.eq("train")], split[s.eq("val")]
    if len(train_df) == 0:
        raise DatasetError(f"no training rows after the split ({how}); check the split column / data.split_fractions")
    if len(val_df) == 0:
        raise DatasetError(
            f"no validation rows after the split ({how}); training needs held-out real identities: "
            f"raise the val fraction (data.split_fractions=[0.8,0.2,0.0]) or add a 'val' split"
        )
    if "identity" in split.columns and how.startswith("identity"):
        overlap = set(train_df["identity"]) & set(val_df["identity"])
        if overlap:
            raise DatasetError(f"identities in both train and val: {sorted(map(str, overlap))[:10]}")
    return train_df, val_df, how


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


# ----------------------------------------------------------------------------------------------- SIGTERM
class StopOnSignal:
    """SIGTERM during a training run -> :class:`TrainingInterrupted` naming the run folder and the resume command.

    Without it a SIGTERM inside ``trainer.fit`` ended the process with status 0 and no message: Lightning's
    handler stops the fit at the end of the current batch by raising ``SIGTERMException``, a ``SystemExit``
    whose code is None. Here, outside ``fit`` (reading the manifest, preprocessing, export, calibration; their
    writes are atomic) the handler raises at once; inside ``fit`` Lightning's handler runs first and calls this
    one, which only records the signal (so checkpoints are never cut half-way), and ``_run_stage`` raises once
    Lightning has stopped. The unfinished stage resumes from its ``last.ckpt`` (the last finished epoch).
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.stage = "preparation"
        self.in_fit = False
        self.received: str | None = None
        self._previous = None
        self._installed = False

    def __call__(self, signum, frame) -> None:
        self.received = signal.Signals(signum).name
        if not self.in_fit:
            raise self.interrupted()

    def interrupted(self) -> TrainingInterrupted:
        ckpt = self.run_dir / self.stage / LAST_CKPT
        done = [s for s in STAGES if (self.run_dir / s / DONE_FILE).exists()]
        detail = []
        if done:
            detail.append(f"Finished stage(s) kept: {', '.join(done)}.")
        if self.stage in STAGES:
            detail.append(f"{self.stage} continues from {ckpt} (its last finished epoch)." if ckpt.exists() else
                          f"{self.stage} had no finished epoch and starts again.")
        resume = None if (self.run_dir / CONFIG_FILE).exists() else "the same command again (nothing was saved yet)"
        return TrainingInterrupted(self.run_dir, self.stage, self.received or STOP_SIGNAL.name, " ".join(detail),
                                   resume_command=resume)

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
            self._previous = signal.signal(STOP_SIGNAL, self)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(STOP_SIGNAL, self._previous)
            self._installed = False


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

    if not cfg.data.manifest:
        raise ConfigError("no training data (data.manifest / --data)")
    run_dir = Path(cfg.out)
    cfg.validate()
    df = read_manifest(cfg.data.manifest, seed=cfg.data.split_seed, fractions=tuple(cfg.data.split_fractions))
    real, n_fakes = select_real_rows(df, cfg.data.drop_fakes, source=str(cfg.data.manifest))
    cfg = _prepare_run_dir(cfg, run_dir, resume)  # only once the data is acceptable
    train_df, val_df, how = split_rows(real, cfg, run_dir)
    guard.stage = "preprocessing"
    cache = FeatureCache(cfg.data.cache or (run_dir / "cache"))
    is_zero = _global_rank() == 0
    train_refs, f1 = prepare_clips(_resolve_paths(train_df, cfg.data.manifest), cache, cfg.preprocess,
                                   cfg.data.preprocess_workers, progress=cfg.trainer.progress and is_zero,
                                   groups=list(train_df["identity"]) if "identity" in train_df else None,
                                   augment=cfg.augment)  # only training clips: val / calibration stay as recorded
    val_refs, f2 = prepare_clips(_resolve_paths(val_df, cfg.data.manifest), cache, cfg.preprocess,
                                 cfg.data.preprocess_workers, progress=cfg.trainer.progress and is_zero)
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


def _global_rank() -> int:
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if var in os.environ:
            try:
                return int(os.environ[var])
            except ValueError:
                pass
    return 0


def _diff_keys(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys += _diff_keys(va, vb, f"{prefix}{k}.")
        elif va != vb:
            keys.append(f"{prefix}{k}")
    return keys


def _prepare_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool) -> TrainConfig:
    cfg.validate()
    _align_ar_config(cfg)
    saved = run_dir / "config.yaml"
    started = any((run_dir / s).exists() for s in STAGES)
    if resume and saved.exists():
        old = load_config(saved)
        changed = [k for k in _diff_keys(config_to_dict(old), config_to_dict(cfg))
                   if k.split(".")[0] not in RESUMABLE_SECTIONS and k not in RESUMABLE_KEYS]
        if changed:
            raise ConfigError(f"{saved}: --resume with a different config ({', '.join(changed)}); "
                              f"resume with the saved config or start a new --out")
    elif started and not resume and _global_rank() == 0:  # other DDP ranks start after rank 0 created it
        raise ConfigError(f"{run_dir} already holds a training run; pass --resume to continue it or choose a new --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    if _global_rank() == 0:
        save_config(cfg, saved)
    return cfg


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

    _one_log_handler()
    t0 = time.time()
    run_dir = Path(cfg.out)
    if not _prepared:
        cfg = _prepare_run_dir(cfg, run_dir, resume)
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
    _seed_all(seed, 1)
    s1 = SyncStage(cfg.sync, cfg.stage1)
    result.stage1, rank = _run_stage("stage1", 1, s1, s1_train, s1_val, cfg.stage1, cfg, run_dir, resume,
                                     callbacks, guard)
    # ---- stage 2
    from avanomaly.training.export import stage_state_dict

    sync_state = stage_state_dict(run_dir / "stage1" / "best.ckpt")
    _seed_all(seed, 2)
    s2 = ARStage(cfg.sync, cfg.ar, cfg.stage2, sync_state=sync_state)
    result.stage2, rank = _run_stage("stage2", 2, s2, s2_train, s2_val, cfg.stage2, cfg, run_dir, resume,
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
        result.calibration, note = _calibrate(run_dir, cfg, val_refs)
        if note:
            result.notes.append(note)
    result.seconds = time.time() - t0
    return result


def _one_log_handler() -> None:
    """``import lightning`` attaches a console handler to the "lightning" logger, which also propagates to the
    root logger: with the root configured (the CLI, scripts calling logging.basicConfig) every Lightning INFO
    line was printed twice. When the root has a handler, drop Lightning's own console handlers so each line
    is printed once, in the root's format; without one, Lightning's stay (its messages still show)."""
    import lightning  # noqa: F401 - its handlers exist from here on

    if not logging.getLogger().hasHandlers():
        return
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if type(h) is logging.StreamHandler:
                lg.removeHandler(h)
        lg.propagate = True


def _align_ar_config(cfg: TrainConfig) -> None:
    """The AR model's input size is the sync feature size (O delays + optional embedding): derived, never guessed."""
    from avanomaly.models import ar_config_for

    cfg.ar = ar_config_for(cfg.sync, cfg.ar)


def _seed_all(seed: int, stage: int) -> None:
    import lightning as L

    L.seed_everything(seed * 10 + stage, workers=True, verbose=False)


def _precision(cfg: TrainConfig) -> str:
    import torch

    p = str(cfg.trainer.precision)
    acc = cfg.trainer.accelerator
    cuda = torch.cuda.is_available() and acc in ("auto", "gpu", "cuda")
    if p == "auto":
        if cuda:
            return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        return "32-true"
    if p in ("bf16-mixed", "16-mixed") and not cuda:
        raise ConfigError(f"trainer.precision={p}: mixed precision (AMP) is used on CUDA only; use 32 on CPU")
    return "32-true" if p == "32" else p


def _read_done(path: Path) -> dict:
    """A finished stage's summary (``done.json``); CheckpointError naming the file when it is not a JSON object."""
    from avanomaly.errors import CheckpointError, shorten

    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read the stage summary ({shorten(exc, 300)}); delete it to "
                              "train the stage again") from None
    if not isinstance(summary, dict):
        raise CheckpointError(f"{path}: the stage summary is not a JSON object; delete it to train the stage again")
    return summary


def _run_stage(name, index, module, train_refs, val_refs, st, cfg: TrainConfig, run_dir: Path, resume: bool,
               extra_callbacks=(), guard: StopOnSignal | None = None):
    """Fit one stage; returns (summary dict, global rank). A finished stage (done.json) is skipped."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from avanomaly.training.callbacks import EpochReseed, MetricsCSV, NonFiniteLossGuard, StopRequested
    from avanomaly.training.datamodule import WindowDataModule

    stage_dir = run_dir / name
    done = stage_dir / DONE_FILE
    if done.exists():
        log.info("%s already finished (%s): skipped", name, done)
        return _read_done(done), _global_rank()
    ckpt_path = None
    if resume and (stage_dir / LAST_CKPT).exists():
        from avanomaly.training.export import read_stage_checkpoint

        read_stage_checkpoint(stage_dir / LAST_CKPT)  # a corrupt or crafted file: one CheckpointError, here
        ckpt_path = str(stage_dir / LAST_CKPT)
        log.info("%s: resuming from %s", name, ckpt_path)
    stage_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = ModelCheckpoint(dirpath=stage_dir, filename="best", monitor=module.monitor, mode=module.mode,
                                 save_top_k=1, save_last=True, enable_version_counter=False)
    guard = guard or StopOnSignal(run_dir)
    callbacks = [NonFiniteLossGuard(name, stage_dir), EpochReseed(cfg.trainer.seed, index), checkpoint,
                 MetricsCSV(run_dir / METRICS_FILE, name), StopRequested(lambda: guard.received is not None),
                 *extra_callbacks]
    if st.early_stopping_patience > 0:
        callbacks.append(EarlyStopping(monitor=module.monitor, mode=module.mode, patience=st.early_stopping_patience))
    tr = cfg.trainer
    trainer = L.Trainer(
        accelerator=tr.accelerator, devices=tr.devices, num_nodes=tr.num_nodes, strategy=tr.strategy,
        precision=_precision(cfg), deterministic=tr.deterministic, max_epochs=st.max_epochs,
        accumulate_grad_batches=st.accumulate_grad_batches,
        gradient_clip_val=st.gradient_clip_val if st.gradient_clip_val > 0 else None,
        reload_dataloaders_every_n_epochs=1, num_sanity_val_steps=0, logger=False,
        enable_progress_bar=tr.progress, enable_model_summary=False, callbacks=callbacks,
        default_root_dir=str(stage_dir), log_every_n_steps=tr.log_every_n_steps,
    )
    dm = WindowDataModule(train_refs, val_refs, st, seed=cfg.trainer.seed * 10 + index,
                          val_per_clip=cfg.data.val_windows_per_clip, balance=cfg.data.balance_identities)
    with warnings.catch_warnings():  # scoped: the caller's warning filters are left as they were
        # lightning 2.6 with torch 2.13 warns about its own pytree use on every fit: nothing a user can act on
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
        # stage 2 keeps the frozen stage-1 sync model in eval mode on purpose (no dropout/BN updates in features)
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
        guard.stage = name
        guard.in_fit = True  # Lightning stops the fit at the end of a batch; nothing is raised mid-checkpoint
        try:
            trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)  # data only
        except SIGTERMException:  # a SystemExit(None): left alone, the process would end with status 0
            guard.received = guard.received or STOP_SIGNAL.name
        finally:
            guard.in_fit = False
    if guard.received:
        raise guard.interrupted()
    if trainer.interrupted:
        raise KeyboardInterrupt(f"{name} interrupted; rerun with --resume to continue from {stage_dir / 'last.ckpt'}")
    best = checkpoint.best_model_score
    summary = {
        "monitor": module.monitor,
        "best": None if best is None else float(best),
        "best_checkpoint": str(stage_dir / "best.ckpt"),
        "epochs": int(trainer.current_epoch),
        "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1},
    }
    if trainer.is_global_zero:
        from avanomaly.utils import atomic_write_json

        atomic_write_json(done, summary)
    trainer.strategy.barrier()
    guard.stage = f"after {name}"
    return summary, trainer.global_rank


# ----------------------------------------------------------------------------------------------- calibration
def _calibrate(run_dir: Path, cfg: TrainConfig, val_refs) -> tuple[dict | None, str]:
    """Calibrate on the validation REAL clips: each is scored by a ``Detector`` exactly as a file is
    (``Detector.score_features``), then the score fusion and the threshold are fit (``calibrate_terms``)."""
    from avanomaly.scoring.calibration import calibrate_terms
    from avanomaly.scoring.modelfile import MODEL_FILENAME, write_calibration
    from avanomaly.scoring.detector import Detector
    from avanomaly.training.export import load_trained_models

    sync, ar = load_trained_models(run_dir, cfg)
    detector = Detector(sync, ar, cfg.preprocess, device="cpu", prefetch=False)
    rows, speakers = [], []
    for r in val_refs:
        if r.n_frames < 2:
            continue
        speakers.append(getattr(r, "group", ""))
        meta = getattr(r.clip, "meta", None) or {}
        res = detector.score_features(r.clip.mouths, r.clip.mel, getattr(r.clip, "face_found", None), path=r.name,
                                      threshold=float("inf"), trimmed_seconds=float(meta.get("trimmed_seconds", 0.0)))
        rows.append(res.score_terms)
    if not rows:
        return None, "calibration skipped: no validation clip with >= 2 frames"
    cal = calibrate_terms(rows, aggregation=dataclasses.asdict(detector.aggregation), speakers=speakers,
                          notes=f"set at the end of training on {len(rows)} validation real clip(s)")
    write_calibration(run_dir / MODEL_FILENAME, cal)
    return cal.to_dict(), ""
