"""Reading / writing the detector model file (``model.pt``; layout in avanomaly/training/export.py).

    {"format": "avanomaly-model", "format_version": 1, "avanomaly_version": ...,
     "sync": <checkpoint record>, "ar": <checkpoint record>, "preprocess": asdict(PreprocessConfig),
     "calibration": Calibration.to_dict() or None, "provenance": {...}, "training_config": {...}}
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
from pathlib import Path

import torch

from avanomaly.errors import CheckpointError, shorten

#: the model file's name inside a training run directory
MODEL_FILENAME = "model.pt"
#: models shipped inside the package: name -> file under avanomaly/pretrained/ (model card: its README.md)
PRETRAINED = {"starter": "starter.pt"}
#: the model used when none is named (``avanomaly score`` without --model, ``Detector()``)
DEFAULT_PRETRAINED = "starter"
#: environment variable naming the default model (before DEFAULT_PRETRAINED)
ENV_MODEL = "AVANOMALY_MODEL"
MODEL_FORMAT = "avanomaly-model"
MODEL_FORMAT_VERSION = 1
REQUIRED_KEYS = ("sync", "ar", "preprocess")


#: sentences of torch.load's messages that advise loading the file as code (or allow-listing its classes):
#: dropped from every message we show, we never suggest it
_LOAD_ADVICE = re.compile(r"weights_only|safe_globals|\btrust|torch\.load|PyTorch 2\.6|^\(\d\)", re.IGNORECASE)
#: what torch.load's refusal of a pickled object means, in our words
NOT_DATA = "the file holds Python objects, not only tensors and plain data (refused; nothing in it was run)"


def load_error_reason(exc: BaseException) -> str:
    """torch.load's error as one short line, without its advice to retry with weights_only off."""
    text = str(exc)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
    kept = [s for s in sentences if not _LOAD_ADVICE.search(s)]
    if kept and kept[0].lower().startswith("weights only load failed"):
        kept[0] = NOT_DATA + ":"
    line = " ".join(kept) or type(exc).__name__
    return shorten(f"{type(exc).__name__}: {line}", 300)


def load_data_only(path, what: str = "checkpoint", problem: str = "corrupt or truncated"):
    """``torch.load(path, weights_only=True)`` (tensors and plain containers only: nothing in the file can run
    code) -> the object; CheckpointError "PATH: <what> file not found / is empty / <problem> (reason)" otherwise.
    The one place avanomaly reads a torch file (model files, checkpoints, Lightning stage checkpoints)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} file not found" + (" (it is a folder)" if path.is_dir() else ""))
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: {what} file is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad archive
        if str(exc).lower().startswith("weights only load failed"):  # a pickled object, not a broken archive
            problem = "cannot read as data only the"
        raise CheckpointError(f"{path}: {problem} {what} file ({load_error_reason(exc)})") from None


def default_model_path():
    """The model used when --model is not given (score, serve, evaluate): $AVANOMALY_MODEL, else the shipped
    starter model."""
    env = os.environ.get(ENV_MODEL)
    return Path(env).expanduser() if env else DEFAULT_PRETRAINED

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
    """The raw dict of a model file (read as data only); CheckpointError naming the file and the problem."""
    path = Path(path)
    obj = load_data_only(path, "model", problem="corrupt or not a")
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        tag = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: not an avanomaly detector model file (format {shorten(repr(tag))}, "
                              f"expected {MODEL_FORMAT!r}); pass RUN_DIR/model.pt written by `avanomaly train`")
    version = obj.get("format_version", MODEL_FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path}: model format_version must be an integer, got {shorten(repr(version))}")
    if version > MODEL_FORMAT_VERSION:
        raise CheckpointError(f"{path}: model format {version} is newer than this avanomaly reads "
                              f"({MODEL_FORMAT_VERSION}); upgrade avanomaly")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"{path}: model file lacks key(s) {missing}")
    return obj


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


def write_calibration(model_path, calibration) -> tuple[Path, Path]:
    """Store ``calibration`` (a ``postprocess.calibration.Calibration``) inside the model file (atomic rewrite) and as
    calibration.json beside it. Here, not in calibration.py: the model file knows the calibration, never the
    other way round (no import circle, issue 24)."""
    from avanomaly.postprocess.calibration import CALIBRATION_JSON, CALIBRATION_KEY, save_calibration_json

    model_path = resolve_model_path(model_path)
    update_model_file(model_path, **{CALIBRATION_KEY: calibration.to_dict()})
    json_path = save_calibration_json(model_path.parent / CALIBRATION_JSON, calibration)
    return model_path, json_path


def _write_model_file(path, obj: dict) -> Path:
    """The one place a model file is written: ``torch.save`` to memory, then an atomic replace."""
    from avanomaly.utils import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(obj, buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
