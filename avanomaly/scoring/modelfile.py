"""Reading / writing the detector model file (``model.pt``; layout in avanomaly/training/export.py).

    {"format": "avanomaly-model", "format_version": 1, "avanomaly_version": ...,
     "sync": <checkpoint record>, "ar": <checkpoint record>, "preprocess": asdict(PreprocessConfig),
     "calibration": Calibration.to_dict() or None, "provenance": {...}, "training_config": {...}}
"""

from __future__ import annotations

import dataclasses
import io
import os
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
    from avanomaly.models.checkpoint import load_data_only

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


def load_model_file(path):
    """-> (sync_model, ar_model, PreprocessConfig, Calibration | None, raw dict) from a model file.

    A model file is data (docs/scoring.md "Trust model"): every name in it (model, backbones, temporal block,
    front end, face detector) must be a registered one, every value has its field's type, and the parts must
    fit together (``check_model_parts``); anything else is a CheckpointError naming the file, at load."""
    from avanomaly.errors import AvanomalyError
    from avanomaly.models import model_from_dict
    from avanomaly.preprocess.config import PreprocessConfig
    from avanomaly.scoring.calibration import Calibration
    from avanomaly.utils import dataclass_from_dict

    obj = read_model_file(path)
    sync = model_from_dict(obj["sync"], source=f"{path} [sync]")
    ar = model_from_dict(obj["ar"], source=f"{path} [ar]")
    try:
        pcfg = dataclass_from_dict(PreprocessConfig, obj["preprocess"], where="preprocess.")
    except AvanomalyError as exc:
        raise CheckpointError(f"{path}: preprocess config: {exc}") from exc
    check_model_parts(sync, ar, pcfg, str(path))
    cal = obj.get("calibration")
    calibration = Calibration.from_dict(cal, source=f"{path} [calibration]") if cal is not None else None
    return sync, ar, pcfg, calibration, obj


def check_model_parts(sync, ar, pcfg, source: str) -> None:
    """CheckpointError unless the sync model, the AR model and the preprocess config fit together: the face
    detector is a registered name, the front end gives what the visual backbone takes (pixel crops of the crop
    size, or lip features of the right size), the mel bins match, and the AR model takes the sync features."""
    from avanomaly.models.registry import backbone_input
    from avanomaly.preprocess.detectors import available_detectors, is_import_spec
    from avanomaly.preprocess.frontends import visual_frame_shape

    problems = []
    detector = pcfg.detector
    if is_import_spec(detector) and detector not in available_detectors():
        problems.append(f"face detector {shorten(repr(detector))} names code to import; a model file may only "
                        f"name a registered detector {available_detectors()}")
    elif pcfg.front_end == "pixels" and detector not in available_detectors():
        problems.append(f"unknown face detector {shorten(repr(detector))}; registered: {available_detectors()}")
    sc = getattr(sync, "config", None)
    if sc is not None and hasattr(sc, "visual_backbone"):
        takes = backbone_input("visual", sc.visual_backbone)
        if pcfg.front_end == "landmarks":
            want = visual_frame_shape(pcfg)[0]
            if takes != "features" or int(sc.in_features) != want:
                problems.append(f"front end 'landmarks' gives {want} lip features per frame but the visual backbone "
                                f"{sc.visual_backbone!r} takes {takes} (in_features={sc.in_features})")
        elif takes != "pixels" or int(sc.in_features) != 0:
            problems.append(f"front end {pcfg.front_end!r} gives {pcfg.crop_size}x{pcfg.crop_size} crops but the "
                            f"visual backbone {sc.visual_backbone!r} takes {takes} (in_features={sc.in_features})")
        elif int(sc.crop_size) != pcfg.crop_size:
            problems.append(f"preprocess crop_size {pcfg.crop_size} but the sync model was built for "
                            f"crop_size {sc.crop_size}")
        if int(sc.n_mels) != pcfg.n_mels:
            problems.append(f"preprocess n_mels {pcfg.n_mels} but the sync model takes n_mels {sc.n_mels}")
    feat = getattr(sync, "feature_dim", None)
    if feat is not None and int(feat) != int(ar.config.in_features):
        problems.append(f"sync model gives {feat} features but the AR model expects {ar.config.in_features}")
    offsets = getattr(sync, "n_offsets", None)
    if offsets is not None and int(offsets) != int(ar.config.n_offsets):
        problems.append(f"sync model gives {offsets} offsets but the AR model expects {ar.config.n_offsets}")
    if problems:
        raise CheckpointError(f"{source}: the model's parts do not fit together: " + "; ".join(problems))


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
    """Store ``calibration`` (a ``scoring.calibration.Calibration``) inside the model file (atomic rewrite) and as
    calibration.json beside it. Here, not in calibration.py: the model file knows the calibration, never the
    other way round (no import circle, issue 24)."""
    from avanomaly.scoring.calibration import CALIBRATION_JSON, CALIBRATION_KEY, save_calibration_json

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
