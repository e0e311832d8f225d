"""Lightning callbacks: non-finite loss guard, per-epoch reseeding (reproducible resume), metrics.csv rows,
stop requests."""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

from avanomaly.errors import AvanomalyError

METRICS_COLUMNS = ("epoch", "stage", "train_loss", "val_loss", "val_sync_acc", "val_nll", "lr", "time",
                   "val_sync_acc_window")
#: spreads (seed, stage, epoch, rank) over distinct torch seeds
_SEED_STRIDE = 1_000_003


class NonFiniteLossError(AvanomalyError):
    """The training loss became NaN/inf; the run stopped and the last good checkpoint was kept."""


class NonFiniteLossGuard(L.Callback):
    """Stop before the backward pass of a NaN/inf loss (weights never see it; last.ckpt stays the last good one)."""

    def __init__(self, stage: str, ckpt_dir: Path):
        self.stage = stage
        self.ckpt_dir = Path(ckpt_dir)

    def on_before_backward(self, trainer, pl_module, loss):
        if not torch.isfinite(loss.detach()).all():
            last = self.ckpt_dir / "last.ckpt"
            kept = f"last good checkpoint: {last}" if last.exists() else "no checkpoint was written yet"
            raise NonFiniteLossError(
                f"{self.stage}: training loss became {loss.detach().float().item()} at epoch {trainer.current_epoch}, "
                f"step {trainer.global_step}; stopped ({kept}). Lower {self.stage}.lr, keep gradient clipping on, "
                f"or use precision=32; then rerun with --resume"
            )


class EpochReseed(L.Callback):
    """Reseed torch/numpy/random at every epoch start from (seed, stage, epoch, rank): an epoch's dropout and
    any other randomness do not depend on whether the run was resumed."""

    def __init__(self, seed: int, stage_index: int):
        self.seed = int(seed)
        self.stage_index = int(stage_index)

    def on_train_epoch_start(self, trainer, pl_module):
        s = ((self.seed * 7 + self.stage_index) * _SEED_STRIDE + trainer.current_epoch * 1009 + trainer.global_rank)
        s %= 2**31 - 1
        torch.manual_seed(s)
        np.random.seed(s)
        random.seed(s)


def _metric(metrics: dict, *names):
    for n in names:
        if n in metrics:
            v = metrics[n]
            return float(v.item() if hasattr(v, "item") else v)
    return None


class MetricsCSV(L.Callback):
    """Appends one row per finished epoch to ``metrics.csv`` (rank 0); rows of re-run epochs are replaced."""

    def __init__(self, path: Path, stage: str):
        self.path = Path(path)
        self.stage = stage
        self._t0 = None

    def on_train_start(self, trainer, pl_module):  # after a checkpoint restore (current_epoch is restored)
        if trainer.is_global_zero and self.path.exists():
            # a resumed stage re-runs from trainer.current_epoch: drop its rows from then on
            rows = read_metrics(self.path)
            keep = [r for r in rows if not (r["stage"] == self.stage and int(r["epoch"]) >= trainer.current_epoch)]
            if len(keep) != len(rows):
                _write_rows(self.path, keep)

    def on_train_epoch_start(self, trainer, pl_module):
        self._t0 = time.time()

    def on_train_epoch_end(self, trainer, pl_module):
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        m = trainer.callback_metrics
        row = {
            "epoch": trainer.current_epoch,
            "stage": self.stage,
            "train_loss": _metric(m, "train_loss_epoch", "train_loss"),
            "val_loss": _metric(m, "val_loss"),
            "val_sync_acc": _metric(m, "val_sync_acc"),
            "val_nll": _metric(m, "val_nll"),
            "lr": _metric(m, "lr"),
            "time": round(time.time() - (self._t0 or time.time()), 3),
            "val_sync_acc_window": _metric(m, "val_sync_acc_window"),
        }
        new = not self.path.exists()
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=METRICS_COLUMNS)
            if new:
                w.writeheader()
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})


def read_metrics(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path: Path, rows: list[dict]) -> None:
    from avanomaly.utils import atomic_write_text
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRICS_COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_text(path, buf.getvalue())


class StopRequested(L.Callback):
    """Stop the fit at the next batch end (as Lightning does on SIGTERM) once ``requested()`` is true.

    Covers a SIGTERM that Lightning's own handler missed: one arriving while ``fit`` starts, before Lightning
    installs its handler (training.signals.StopOnSignal records it)."""

    def __init__(self, requested):
        self.requested = requested

    def _check(self) -> None:
        if self.requested():
            from lightning.pytorch.utilities.exceptions import SIGTERMException

            raise SIGTERMException

    def on_train_batch_end(self, *args, **kwargs) -> None:
        self._check()

    def on_validation_batch_end(self, *args, **kwargs) -> None:
        self._check()
