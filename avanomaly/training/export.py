"""Model building adapters and the final ``model.pt`` export (layout: docs/architecture.md, "model.pt").

``model.pt`` is a ``torch.save`` d dict (loadable with ``weights_only=True``)::

    {
      "format": "avanomaly-model", "format_version": 1, "avanomaly_version": "...",
      "sync": <checkpoint dict of the SyncModel>,      # {"model_name", "config", "state_dict", "avanomaly_version"}
      "ar":   <checkpoint dict of the ARModel>,
      "preprocess": asdict(PreprocessConfig),
      "calibration": Calibration.to_dict() or None,    # filled by scoring.calibration
      "provenance": {...},                               # data + training provenance (manifest, counts, metrics)
      "training_config": asdict(TrainConfig),
    }
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import torch

from avanomaly.errors import CheckpointError

from avanomaly.scoring.modelfile import MODEL_FILENAME, MODEL_FORMAT, MODEL_FORMAT_VERSION
SYNC_MODEL_NAME = "sync"
AR_MODEL_NAME = "ar"
#: prefix of the trained model's weights inside a Lightning stage checkpoint
LIGHTNING_PREFIX = "model."


def build_sync(config):
    from avanomaly.models import create_model

    return create_model(SYNC_MODEL_NAME, config=config)


def build_ar(config):
    from avanomaly.models import create_model

    return create_model(AR_MODEL_NAME, config=config)


def sync_features(sync_model, mouths: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """Per-frame sync features (B, T, F) fed to the AR model — the same function the scorer uses."""
    from avanomaly.models import sync_features as _features

    return _features(sync_model(mouths, mel))


def feature_dim(sync_model) -> int:
    return int(sync_model.feature_dim)


def checkpoint_dict(model) -> dict:
    """The record ``avanomaly.models.save_checkpoint`` writes, in memory (models.checkpoint_dict)."""
    from avanomaly.models import checkpoint_dict as _cd

    return _cd(model)


def stage_state_dict(ckpt_path) -> dict:
    """Weights of the trained model (``self.model``) inside a Lightning stage checkpoint."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise CheckpointError(f"{ckpt_path}: stage checkpoint not found")
    try:  # weights_only: tensors and plain containers only, so a crafted checkpoint in a run folder runs no code
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{ckpt_path}: cannot load stage checkpoint as data only ({exc})") from exc
    sd = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not sd:
        raise CheckpointError(f"{ckpt_path}: no state_dict in the stage checkpoint")
    return {k[len(LIGHTNING_PREFIX):]: v for k, v in sd.items() if k.startswith(LIGHTNING_PREFIX)}


def load_trained_models(run_dir, cfg=None):
    """(sync_model, ar_model) from ``run_dir/stage{1,2}/best.ckpt`` (eval mode, CPU)."""
    from avanomaly.training.config import load_config

    run_dir = Path(run_dir)
    cfg = cfg or load_config(run_dir / "config.yaml")
    sync = build_sync(cfg.sync)
    sync.load_state_dict(stage_state_dict(run_dir / "stage1" / "best.ckpt"))
    ar = build_ar(cfg.ar)
    ar.load_state_dict(stage_state_dict(run_dir / "stage2" / "best.ckpt"))
    return sync.eval(), ar.eval()


def export_model(run_dir, provenance: dict | None = None, calibration: dict | None = None, cfg=None) -> Path:
    """Write ``run_dir/model.pt`` from the best checkpoints of both stages; returns its path."""
    from avanomaly._version import __version__
    from avanomaly.training.config import config_to_dict, load_config
    from avanomaly.utils import atomic_write_bytes

    run_dir = Path(run_dir)
    cfg = cfg or load_config(run_dir / "config.yaml")
    sync, ar = load_trained_models(run_dir, cfg)
    obj = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "avanomaly_version": __version__,
        "sync": checkpoint_dict(sync),
        "ar": checkpoint_dict(ar),
        "preprocess": dataclasses.asdict(cfg.preprocess),
        "calibration": calibration,
        "provenance": provenance or {},
        "training_config": config_to_dict(cfg),
    }
    buf = io.BytesIO()
    torch.save(obj, buf)
    path = run_dir / MODEL_FILENAME
    atomic_write_bytes(path, buf.getvalue())
    return path
