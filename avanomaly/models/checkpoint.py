"""Model files: one ``torch.save`` archive holding plain data only (loaded with ``weights_only=True``):

    {"format": "avanomaly-checkpoint", "format_version": 1, "avanomaly_version": "0.1.0",
     "models": {key: {"name": registered model name, "config": asdict(config), "state_dict": {...}}},
     "extra": {...}}            # e.g. calibration, preprocess config (plain python / tensors)

``save_checkpoint(path, model)`` stores one model under key "model"; ``save_models(path, {"sync": m1, "ar": m2})``
stores several (e.g. the final detector file). Writes are atomic (bytes to a temp file in the same folder,
fsync, os.replace). Loading rebuilds every model through the registry from its name and config and checks
every weight name and shape; any mismatch is a CheckpointError that names the file and what differs.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import torch

from avanomaly.errors import AvanomalyError, CheckpointError
from avanomaly.utils import atomic_write_bytes

FORMAT = "avanomaly-checkpoint"
FORMAT_VERSION = 1
SINGLE_KEY = "model"
REQUIRED_KEYS = ("format", "format_version", "avanomaly_version", "models", "extra")
MODEL_KEYS = ("name", "config", "state_dict")
MAX_LISTED = 8  # names listed in an error message before "..."


def _current_version() -> str:
    from avanomaly import __version__

    return __version__


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        raise CheckpointError(f"unreadable avanomaly_version {version!r}") from None


def _model_record(model) -> dict:
    name = getattr(model, "model_name", None) or getattr(type(model), "registered_name", None)
    config = getattr(model, "config", None)
    if name is None or not dataclasses.is_dataclass(config):
        raise CheckpointError(f"{type(model).__name__} is not a registered model with a dataclass .config")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"name": name, "config": dataclasses.asdict(config), "state_dict": state}


def save_models(path, models: dict, extra: dict | None = None) -> Path:
    """Write several registered models (+ extra) to ``path`` atomically."""
    path = Path(path)
    blob = {"format": FORMAT, "format_version": FORMAT_VERSION, "avanomaly_version": _current_version(),
            "models": {key: _model_record(m) for key, m in models.items()}, "extra": dict(extra or {})}
    buf = io.BytesIO()
    torch.save(blob, buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


def save_checkpoint(path, model, extra: dict | None = None) -> Path:
    return save_models(path, {SINGLE_KEY: model}, extra)


def load_models(path, map_location="cpu") -> tuple[dict, dict]:
    """-> ({key: model (eval mode)}, extra). CheckpointError names the file and the problem."""
    path = Path(path)
    blob = _read(path, map_location)
    models = {}
    for key, rec in blob["models"].items():
        models[key] = _build(path, key, rec)
    return models, blob["extra"]


def load_checkpoint(path, map_location="cpu"):
    """-> (model, extra) for a file written by save_checkpoint (or any file holding exactly one model)."""
    models, extra = load_models(path, map_location)
    if len(models) != 1:
        raise CheckpointError(f"{path}: holds {len(models)} models {sorted(models)}; use load_models")
    return next(iter(models.values())), extra


def _read(path: Path, map_location) -> dict:
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad archive
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an avanomaly checkpoint (no format={FORMAT!r} tag)")
    missing = [k for k in REQUIRED_KEYS if k not in blob]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks key(s) {missing}")
    if blob["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {blob['format_version']} is newer than this avanomaly "
                              f"reads ({FORMAT_VERSION}); upgrade avanomaly")
    written, current = str(blob["avanomaly_version"]), _current_version()
    if _major(written) > _major(current):
        raise CheckpointError(f"{path}: written by avanomaly {written}, a newer major version than this one "
                              f"({current}); upgrade avanomaly to load it")
    if not isinstance(blob["models"], dict) or not blob["models"]:
        raise CheckpointError(f"{path}: checkpoint holds no models")
    return blob


def _build(path: Path, key: str, rec) -> torch.nn.Module:
    from avanomaly.models.registry import create_model, list_models

    where = f"{path} [{key}]"
    if not isinstance(rec, dict):
        raise CheckpointError(f"{where}: model record is not a dict")
    missing = [k for k in MODEL_KEYS if k not in rec]
    if missing:
        raise CheckpointError(f"{where}: model record lacks key(s) {missing}")
    if rec["name"] not in list_models():
        raise CheckpointError(f"{where}: unknown model name {rec['name']!r}; this avanomaly knows {list_models()}")
    try:
        model = create_model(rec["name"], **rec["config"])
    except AvanomalyError as exc:
        raise CheckpointError(f"{where}: config does not match model {rec['name']!r}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - e.g. a backbone needing an uninstalled package
        raise CheckpointError(f"{where}: cannot build model {rec['name']!r} ({type(exc).__name__}: {exc})") from exc
    expected = model.state_dict()
    got = rec["state_dict"]
    missing_w = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [f"{k}: file {tuple(got[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in expected if k in got and tuple(got[k].shape) != tuple(expected[k].shape)]
    problems = []
    if missing_w:
        problems.append(f"missing weights {_short(missing_w)}")
    if unexpected:
        problems.append(f"unexpected weights {_short(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch {_short(shapes)}")
    if problems:
        raise CheckpointError(f"{where}: weights do not match model {rec['name']!r}: " + "; ".join(problems))
    model.load_state_dict(got)
    return model.eval()


def _short(items: list) -> str:
    more = f" ... (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return "[" + ", ".join(map(str, items[:MAX_LISTED])) + "]" + more
