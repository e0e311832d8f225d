"""Model files: one ``torch.save`` archive per model, plain data only (loaded with ``weights_only=True``)::

    {"format": "avanomaly-checkpoint", "format_version": 1, "avanomaly_version": "0.1.0",
     "model_name": registered name, "config": asdict(config), "state_dict": {...},
     "extra": {...}}            # optional: calibration, preprocess config, ... (plain python / tensors)

``save_checkpoint`` writes atomically (bytes to a temp file in the same folder, fsync, os.replace), so a
crash never leaves a half-written file under the final name. ``load_checkpoint`` rebuilds the model through
the registry from ``model_name`` + ``config`` (no guessing) and checks every weight name and shape; any
problem is a ``CheckpointError`` naming the file and what differs. ``checkpoint_dict`` / ``model_from_dict``
are the same record in memory, for files that bundle several models (training's model.pt).
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import torch

from avanomaly.errors import AvanomalyError, CheckpointError
from avanomaly.utils import atomic_write_bytes

FORMAT = "avanomaly-checkpoint"
FORMAT_VERSION = 1
RECORD_KEYS = ("model_name", "config", "state_dict", "avanomaly_version")
MAX_LISTED = 8  # names listed in an error message before "..."


def _current_version() -> str:
    from avanomaly._version import __version__

    return __version__


def _major(version, where: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        raise CheckpointError(f"{where}: unreadable avanomaly_version {version!r}") from None


def checkpoint_dict(model, extra: dict | None = None) -> dict:
    """The record save_checkpoint writes, in memory (tensors moved to CPU)."""
    name = getattr(model, "model_name", None) or getattr(type(model), "registered_name", None)
    config = getattr(model, "config", None)
    if name is None or not dataclasses.is_dataclass(config):
        raise CheckpointError(f"{type(model).__name__} is not a registered model with a dataclass .config")
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "avanomaly_version": _current_version(),
            "model_name": name, "config": dataclasses.asdict(config),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "extra": dict(extra or {})}


def save_checkpoint(path, model, extra: dict | None = None) -> Path:
    """Write ``model`` (+ ``extra``) to ``path`` atomically; returns the path."""
    path = Path(path)
    buf = io.BytesIO()
    torch.save(checkpoint_dict(model, extra), buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


#: sentences of torch.load's messages that advise loading the file as code (or allow-listing its classes):
#: dropped from every message we show, we never suggest it
_LOAD_ADVICE = re.compile(r"weights_only|safe_globals|\btrust|torch\.load|PyTorch 2\.6|^\(\d\)", re.IGNORECASE)
#: what torch.load's refusal of a pickled object means, in our words
NOT_DATA = "the file holds Python objects, not only tensors and plain data (refused; nothing in it was run)"


def load_error_reason(exc: BaseException) -> str:
    """torch.load's error as one short line, without its advice to retry with weights_only off."""
    from avanomaly.errors import shorten

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


def load_checkpoint(path, map_location="cpu"):
    """-> (model in eval mode, extra dict). CheckpointError names the file and the problem."""
    path = Path(path)
    blob = load_data_only(path, "checkpoint")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an avanomaly model checkpoint (no format={FORMAT!r} tag)")
    version = blob.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path}: checkpoint format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version} is newer than this avanomaly "
                              f"reads ({FORMAT_VERSION}); upgrade avanomaly")
    model = model_from_dict(blob, source=str(path))
    extra = blob.get("extra") or {}
    if not isinstance(extra, dict):
        raise CheckpointError(f"{path}: checkpoint 'extra' must be a mapping, got {type(extra).__name__}")
    return model, extra


def model_from_dict(record: dict, source: str = "<checkpoint>") -> torch.nn.Module:
    """Rebuild a model from a checkpoint record (checkpoint_dict's layout). ``source`` names it in errors."""
    from avanomaly.errors import shorten
    from avanomaly.models.registry import create_model, list_models, unknown_names

    if not isinstance(record, dict):
        raise CheckpointError(f"{source}: checkpoint record is a {type(record).__name__}, not a dict")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise CheckpointError(f"{source}: checkpoint lacks key(s) {missing}")
    written, current = str(record["avanomaly_version"]), _current_version()
    if _major(written, source) > _major(current, source):
        raise CheckpointError(f"{source}: written by avanomaly {written}, a newer major version than this one "
                              f"({current}); upgrade avanomaly to load it")
    name, config = record["model_name"], record["config"]
    # every name in the record selects a registered entry; nothing is imported or called from a string
    if not isinstance(name, str) or name not in list_models():
        raise CheckpointError(f"{source}: unknown model name {shorten(repr(name))}; this avanomaly knows "
                              f"{list_models()}")
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: checkpoint config must be a mapping, got {type(config).__name__}")
    problems = unknown_names(config)
    if problems:
        raise CheckpointError(f"{source}: " + "; ".join(problems))
    state = record["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: checkpoint state_dict must map weight names to tensors")
    try:
        model = create_model(name, **config)
    except AvanomalyError as exc:
        raise CheckpointError(f"{source}: config does not match model {name!r}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - e.g. a backbone that needs an uninstalled package
        raise CheckpointError(f"{source}: cannot build model {name!r} ({type(exc).__name__}: {exc})") from exc
    expected, got = model.state_dict(), record["state_dict"]
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
        raise CheckpointError(f"{source}: weights do not match model {name!r}: " + "; ".join(problems))
    model.load_state_dict(got)
    return model.eval()


def _short(items: list) -> str:
    more = f" ... (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return "[" + ", ".join(map(str, items[:MAX_LISTED])) + "]" + more
