"""A model's record: what the model file (avanomaly/postprocess/modelfile.py, the one model-file format) stores per
network, plain data only::

    {"format": "avanomaly-checkpoint", "format_version": 1, "avanomaly_version": "0.1.0",
     "model_name": registered name, "config": asdict(config), "state_dict": {...}, "extra": {}}

``checkpoint_dict`` builds it (tensors moved to CPU); ``model_from_dict`` rebuilds the model through the registry
from ``model_name`` + ``config`` (no guessing) and checks every weight name and shape; any problem is a
``CheckpointError`` naming the source and what differs. The ``format`` tag is kept in each record so that model
files written before and after read the same; there is no file of its own in this format any more.
"""

from __future__ import annotations

import dataclasses

import torch

from avanomaly.errors import AvanomalyError, CheckpointError

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
    """A model's record in the model file (tensors moved to CPU)."""
    name = getattr(model, "model_name", None) or getattr(type(model), "registered_name", None)
    config = getattr(model, "config", None)
    if name is None or not dataclasses.is_dataclass(config):
        raise CheckpointError(f"{type(model).__name__} is not a registered model with a dataclass .config")
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "avanomaly_version": _current_version(),
            "model_name": name, "config": dataclasses.asdict(config),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "extra": dict(extra or {})}


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
