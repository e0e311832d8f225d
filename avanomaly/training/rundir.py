"""The run folder of a training run: its files, the saved config (and which keys a ``--resume`` may change), the
finished stages' summaries, and which DDP process this is."""

from __future__ import annotations

import json
import os
from pathlib import Path

from avanomaly.errors import ConfigError
from avanomaly.training.config import TrainConfig, config_to_dict, load_config, save_config

STAGES = ("stage1", "stage2")
DONE_FILE = "done.json"
METRICS_FILE = "metrics.csv"
CURVES_FILE = "training_curves.png"
CALIBRATION_FILE = "calibration.json"
#: config sections that may change when resuming (hardware / loader settings, not the model or data)
RESUMABLE_SECTIONS = ("trainer", "out")
RESUMABLE_KEYS = ("data.cache", "data.preprocess_workers", "data.shard_url", "stage1.num_workers", "stage2.num_workers",
                  "calibrate")
LAST_CKPT = "last.ckpt"
CONFIG_FILE = "config.yaml"


def global_rank() -> int:
    """This process's rank in a DDP run (0 without one), from the launcher's environment."""
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


def prepare_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool) -> TrainConfig:
    """Create ``run_dir`` and save the config there (rank 0); a ``--resume`` must keep every key outside
    RESUMABLE_SECTIONS / RESUMABLE_KEYS, and a folder holding a run needs ``--resume``."""
    cfg.validate()
    align_ar_config(cfg)
    saved = run_dir / CONFIG_FILE
    started = any((run_dir / s).exists() for s in STAGES)
    if resume and saved.exists():
        old = load_config(saved)
        changed = [k for k in _diff_keys(config_to_dict(old), config_to_dict(cfg))
                   if k.split(".")[0] not in RESUMABLE_SECTIONS and k not in RESUMABLE_KEYS]
        if changed:
            raise ConfigError(f"{saved}: --resume with a different config ({', '.join(changed)}); "
                              f"resume with the saved config or start a new --out")
    elif started and not resume and global_rank() == 0:  # other DDP ranks start after rank 0 created it
        raise ConfigError(f"{run_dir} already holds a training run; pass --resume to continue it or choose a new --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    if global_rank() == 0:
        save_config(cfg, saved)
    return cfg


def align_ar_config(cfg: TrainConfig) -> None:
    """The AR model's input size is the sync feature size (O delays + optional embedding): derived, never guessed."""
    from avanomaly.models import ar_config_for

    cfg.ar = ar_config_for(cfg.sync, cfg.ar)


def read_done(path: Path) -> dict:
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
