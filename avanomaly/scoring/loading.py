"""Assembling a detector's parts from a model file: the networks rebuilt through the model registry, the preprocess
config checked against the front ends and face detectors, and the calibration (the file's format itself:
avanomaly/postprocess/modelfile.py). Here, in scoring, because checking the parts needs ``preprocess``, which the
post-processing layer does not import."""

from __future__ import annotations

from avanomaly.errors import CheckpointError, shorten
from avanomaly.postprocess.modelfile import read_model_file


def load_model_file(path):
    """-> (sync_model, ar_model, PreprocessConfig, Calibration | None, raw dict) from a model file.

    A model file is data (docs/scoring.md "Trust model"): every name in it (model, backbones, temporal block,
    front end, face detector) must be a registered one, every value has its field's type, and the parts must
    fit together (``check_model_parts``); anything else is a CheckpointError naming the file, at load."""
    from avanomaly.errors import AvanomalyError
    from avanomaly.models import model_from_dict
    from avanomaly.preprocess.config import PreprocessConfig
    from avanomaly.postprocess.calibration import Calibration
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
