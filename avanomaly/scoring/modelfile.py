"""Reading / writing the detector model file (``model.pt``; layout in avanomaly/training/export.py).

    {"format": "avanomaly-model", "format_version": 1, "avanomaly_version": ...,
     "sync": <checkpoint record>, "ar": <checkpoint record>, "preprocess": asdict(PreprocessConfig),
     "calibration": Calibration.to_dict() or None, "provenance": {...}, "training_config": {...}}
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import torch

from avanomaly.errors import CheckpointError

#: the model file's name inside a training run directory
MODEL_FILENAME = "model.pt"
#: models shipped inside the package: name -> file under avanomaly/pretrained/ (model card: its README.md)
PRETRAINED = {"starter": "starter.pt"}
#: the model used when none is named (``avanomaly score`` without --model, ``Detector()``)
DEFAULT_PRETRAINED = "starter"
MODEL_FORMAT = "avanomaly-model"
MODEL_FORMAT_VERSION = 1
REQUIRED_KEYS = ("sync", "ar", "preprocess")


def pretrained_path(name: str, check: bool = True) -> Path:
    """The file of a shipped model (``PRETRAINED``); CheckpointError naming the known ones otherwise, or when the
    file is missing (``check``)."""
    if name not in PRETRAINED:
        raise CheckpointError(f"unknown pretrained model {name!r}; shipped: {sorted(PRETRAINED)}")
    path = Path(__file__).resolve().parents[1] / "pretrained" / PRETRAINED[name]
    if check and not path.is_file():
        raise CheckpointError(f"{path}: the shipped {name!r} model is missing from this installation")
    return path


def shipped_name(spec) -> str | None:
    """``spec`` when it names a shipped model (and no file or folder of that name exists here), else None."""
    return str(spec) if str(spec) in PRETRAINED and not Path(spec).exists() else None


def resolve_model_path(spec) -> Path:
    """A shipped model's name (``"starter"``), a model file, or a run directory holding ``model.pt`` -> the file."""
    name = shipped_name(spec)
    if name is not None:
        return pretrained_path(name)
    path = Path(spec)
    return path / MODEL_FILENAME if path.is_dir() else path


def read_model_file(path) -> dict:
    """The raw dict of a model file; CheckpointError naming the file and the problem otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: model file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: model file is empty")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad archive
        raise CheckpointError(f"{path}: corrupt or not a model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        tag = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: not an avanomaly detector model file (format {tag!r}, expected "
                              f"{MODEL_FORMAT!r}); pass RUN_DIR/model.pt written by `avanomaly train`")
    if int(obj.get("format_version", MODEL_FORMAT_VERSION)) > MODEL_FORMAT_VERSION:
        raise CheckpointError(f"{path}: model format {obj['format_version']} is newer than this avanomaly reads "
                              f"({MODEL_FORMAT_VERSION}); upgrade avanomaly")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"{path}: model file lacks key(s) {missing}")
    return obj


def load_model_file(path):
    """-> (sync_model, ar_model, PreprocessConfig, Calibration | None, raw dict) from a model file."""
    from avanomaly.errors import AvanomalyError
    from avanomaly.models import model_from_dict
    from avanomaly.preprocess.config import PreprocessConfig
    from avanomaly.scoring.calibration import Calibration
    from avanomaly.utils import dataclass_from_dict

    obj = read_model_file(path)
    sync = model_from_dict(obj["sync"], source=f"{path} [sync]")
    ar = model_from_dict(obj["ar"], source=f"{path} [ar]")
    feat = getattr(sync, "feature_dim", None)
    if feat is not None and int(feat) != int(ar.config.in_features):
        raise CheckpointError(f"{path}: sync model gives {feat} features but the AR model expects "
                              f"{ar.config.in_features}")
    try:
        pcfg = dataclass_from_dict(PreprocessConfig, dict(obj["preprocess"]))
    except AvanomalyError as exc:
        raise CheckpointError(f"{path}: preprocess config: {exc}") from exc
    cal = obj.get("calibration")
    calibration = Calibration.from_dict(cal) if cal else None
    return sync, ar, pcfg, calibration, obj


def save_model_file(path, sync_model, ar_model, preprocess_cfg, calibration=None, provenance=None,
                    training_config=None) -> Path:
    """Write a model file (the one writer: training's ``export_model``, calibration tools and tests use it)."""
    from avanomaly._version import __version__
    from avanomaly.models import checkpoint_dict

    obj = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "avanomaly_version": __version__,
        "sync": checkpoint_dict(sync_model),
        "ar": checkpoint_dict(ar_model),
        "preprocess": dataclasses.asdict(preprocess_cfg),
        "calibration": calibration.to_dict() if hasattr(calibration, "to_dict") else calibration,
        "provenance": dict(provenance or {}),
        "training_config": dict(training_config or {}),
    }
    return _write_model_file(path, obj)


def update_model_file(path, **fields) -> Path:
    """Rewrite a model file with some top-level fields replaced (e.g. ``calibration``), atomically."""
    obj = read_model_file(path)
    obj.update(fields)
    return _write_model_file(path, obj)


def _write_model_file(path, obj: dict) -> Path:
    """The one place a model file is written: ``torch.save`` to memory, then an atomic replace."""
    from avanomaly.utils import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(obj, buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
