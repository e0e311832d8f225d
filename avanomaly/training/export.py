"""Model building adapters and the final ``model.pt`` export (layout: docs/architecture.md, "model.pt").

``model.pt`` is a ``torch.save`` d dict (loadable with ``weights_only=True``)::

    {
      "format": "avanomaly-model", "format_version": 1, "avanomaly_version": "...",
      "sync": <checkpoint dict of the SyncModel>,      # {"model_name", "config", "state_dict", "avanomaly_version"}
      "ar":   <checkpoint dict of the ARModel>,
      "preprocess": asdict(PreprocessConfig),
      "calibration": Calibration.to_dict() or None,    # filled by postprocess.calibration
      "provenance": {...},                               # data + training provenance (manifest, counts, metrics)
      "training_config": asdict(TrainConfig),
    }
"""

from __future__ import annotations

from pathlib import Path

import torch

from avanomaly.errors import CheckpointError
from avanomaly.postprocess.modelfile import MODEL_FILENAME

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
    """A network's record in the model file (models.checkpoint_dict)."""
    from avanomaly.models import checkpoint_dict as _cd

    return _cd(model)


#: keys every Lightning checkpoint written by a stage holds (read_stage_checkpoint checks them)
STAGE_CKPT_KEYS = ("state_dict", "epoch", "global_step")


def read_stage_checkpoint(ckpt_path) -> dict:
    """A Lightning stage checkpoint (``stage{1,2}/{best,last}.ckpt``) read as data only (nothing in it can run
    code) and checked: a dict with a ``state_dict`` of tensors and integer ``epoch`` / ``global_step``.
    CheckpointError naming the file otherwise (a truncated or crafted file in a run folder)."""
    from avanomaly.postprocess.modelfile import load_data_only

    ckpt_path = Path(ckpt_path)
    ckpt = load_data_only(ckpt_path, "stage checkpoint")
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{ckpt_path}: not a stage checkpoint (a {type(ckpt).__name__}, not a dict)")
    missing = [k for k in STAGE_CKPT_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{ckpt_path}: not a stage checkpoint (lacks {missing})")
    sd = ckpt["state_dict"]
    if not isinstance(sd, dict) or not sd or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                     for k, v in sd.items()):
        raise CheckpointError(f"{ckpt_path}: the stage checkpoint's state_dict is not a mapping of names to tensors")
    for key in ("epoch", "global_step"):
        if not isinstance(ckpt[key], int) or isinstance(ckpt[key], bool) or ckpt[key] < 0:
            raise CheckpointError(f"{ckpt_path}: stage checkpoint {key} must be an integer >= 0, got "
                                  f"{type(ckpt[key]).__name__}")
    return ckpt


def stage_state_dict(ckpt_path) -> dict:
    """Weights of the trained model (``self.model``) inside a Lightning stage checkpoint."""
    sd = read_stage_checkpoint(ckpt_path)["state_dict"]
    return {k[len(LIGHTNING_PREFIX):]: v for k, v in sd.items() if k.startswith(LIGHTNING_PREFIX)}


def load_stage_weights(model, ckpt_path) -> None:
    """``model.load_state_dict`` from a stage checkpoint; CheckpointError naming the file when they differ."""
    try:
        model.load_state_dict(stage_state_dict(ckpt_path))
    except RuntimeError as exc:  # missing / unexpected keys, shape mismatch
        from avanomaly.errors import shorten

        raise CheckpointError(f"{ckpt_path}: weights do not match the run's config ({shorten(exc, 300)})") from None


def load_trained_models(run_dir, cfg=None):
    """(sync_model, ar_model) from ``run_dir/stage{1,2}/best.ckpt`` (eval mode, CPU)."""
    from avanomaly.training.config import load_config

    run_dir = Path(run_dir)
    cfg = cfg or load_config(run_dir / "config.yaml")
    sync = build_sync(cfg.sync)
    load_stage_weights(sync, run_dir / "stage1" / "best.ckpt")
    ar = build_ar(cfg.ar)
    load_stage_weights(ar, run_dir / "stage2" / "best.ckpt")
    return sync.eval(), ar.eval()


def export_model(run_dir, provenance: dict | None = None, calibration: dict | None = None, cfg=None) -> Path:
    """Write ``run_dir/model.pt`` from the best checkpoints of both stages (through the one model-file writer,
    :func:`avanomaly.postprocess.modelfile.save_model_file`); returns its path."""
    from avanomaly.postprocess.modelfile import save_model_file
    from avanomaly.training.config import config_to_dict, load_config

    run_dir = Path(run_dir)
    cfg = cfg or load_config(run_dir / "config.yaml")
    sync, ar = load_trained_models(run_dir, cfg)
    return save_model_file(run_dir / MODEL_FILENAME, sync, ar, cfg.preprocess, calibration=calibration,
                           provenance=provenance, training_config=config_to_dict(cfg))
