"""One training stage under Lightning: its trainer (precision, callbacks, early stopping, checkpoints), the fit,
a resume from ``last.ckpt``, and the stage's ``done.json`` summary (a finished stage is skipped)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from avanomaly.errors import ConfigError
from avanomaly.training.config import TrainConfig
from avanomaly.training.rundir import DONE_FILE, LAST_CKPT, METRICS_FILE, global_rank, read_done
from avanomaly.training.signals import STOP_SIGNAL, StopOnSignal

log = logging.getLogger(__name__)


def one_log_handler() -> None:
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


def seed_all(seed: int, stage: int) -> None:
    import lightning as L

    L.seed_everything(seed * 10 + stage, workers=True, verbose=False)


def trainer_precision(cfg: TrainConfig) -> str:
    """Lightning's precision string for ``trainer.precision`` (auto: bf16 / fp16 mixed on CUDA, else fp32)."""
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


def run_stage(name, index, module, train_refs, val_refs, st, cfg: TrainConfig, run_dir: Path, resume: bool,
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
        return read_done(done), global_rank()
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
        precision=trainer_precision(cfg), deterministic=tr.deterministic, max_epochs=st.max_epochs,
        accumulate_grad_batches=st.accumulate_grad_batches,
        gradient_clip_val=st.gradient_clip_val if st.gradient_clip_val > 0 else None,
        reload_dataloaders_every_n_epochs=1, num_sanity_val_steps=0, logger=False,
        enable_progress_bar=tr.progress, enable_model_summary=False, callbacks=callbacks,
        default_root_dir=str(stage_dir), log_every_n_steps=tr.log_every_n_steps,
    )
    if cfg.data.streaming and cfg.data.shards:  # training windows streamed shard by shard (docs/scale.md)
        from avanomaly.training.datamodule import StreamingDataModule
        from avanomaly.training.streaming import shard_paths

        dm = StreamingDataModule(shard_paths(cfg.data.shards, cfg.data.shard_url), val_refs, st,
                                 seed=cfg.trainer.seed * 10 + index, val_per_clip=cfg.data.val_windows_per_clip)
    else:
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
