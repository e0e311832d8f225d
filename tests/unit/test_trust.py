"""Trust model: model files, calibration.json and run folders are DATA (docs/scoring.md "Trust model").

Nothing named in a file is imported or called, parts that do not fit are refused at load, malformed values give
one typed error (rc 2 from the command line), and no message suggests loading a file with weights_only off."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from avanomaly.cli import main
from avanomaly.errors import CheckpointError
from avanomaly.models import create_model
from avanomaly.preprocess.config import PreprocessConfig
from avanomaly.postprocess.calibration import Calibration, calibrate
from avanomaly.scoring.detector import Detector
from avanomaly.postprocess.modelfile import read_model_file, save_model_file, update_model_file
from avanomaly.scoring.loading import load_model_file
from avanomaly.scoring.testing import TINY_CROP, tiny_models

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: a module the crafted model files name: importing it and calling ``make`` writes MARKER_NAME in its folder
MARKER_MODULE = "trust_marker_mod"
MARKER_NAME = "marker.txt"


def cli(args, capsys) -> tuple[int, str, str]:
    """``avanomaly ARGS`` in this process, the way the console script runs it -> (rc, stdout, stderr)."""
    try:
        main(list(map(str, args)))
        rc = 0
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_error(rc: int, out: str, err: str, *needles: str) -> None:
    assert rc == 2, (rc, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err + out, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "weights_only" not in err + out and "safe_globals" not in err + out


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from avanomaly.io.testing import moving_mouth_frame_fn, write_test_video

    root = tmp_path_factory.mktemp("trust_clip")
    return write_test_video(root / "v.mp4", n_frames=30, size=(48, 48), frame_fn=moving_mouth_frame_fn)


@pytest.fixture
def marker(tmp_path, monkeypatch):
    """A module whose ``make`` writes a marker file; its path is returned (it must never appear)."""
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    path = mod_dir / MARKER_NAME
    (mod_dir / f"{MARKER_MODULE}.py").write_text(
        f"def make(**kwargs):\n    open({str(path)!r}, 'w').write('ran')\n"
        "    raise SystemExit(0)\n")
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.setenv("HOME", str(tmp_path))  # a stray write to ~ lands here, not in the real home
    return path


def _good_model(path: Path, calibration=None, **pcfg) -> Path:
    sync, ar, cfg = tiny_models(seed=0)
    cfg = PreprocessConfig(**{**_asdict(cfg), **pcfg})
    return save_model_file(path, sync, ar, cfg, calibration=calibration)


def _asdict(cfg) -> dict:
    import dataclasses

    return dataclasses.asdict(cfg)


# --------------------------------------------------------------------------- names in a model file
@pytest.mark.parametrize("detector", [f"{MARKER_MODULE}:make", "os:system", "sys:exit", "no_such_detector"])
def test_a_detector_named_in_a_model_file_is_never_imported(tmp_path, marker, clip, capsys, monkeypatch, detector):
    model = _good_model(tmp_path / "run" / "model.pt", detector=detector)
    rc, out, err = cli(["score", clip, "--model", model, "--json", "--threads", "1"], capsys)
    assert_one_error(rc, out, err, str(model), "detector")
    assert out == "" and not marker.exists()
    with pytest.raises(CheckpointError, match="detector"):
        Detector.from_pretrained(model, device="cpu")
    assert not marker.exists()
    # the same string through the AVANOMALY_MODEL route
    monkeypatch.setenv("AVANOMALY_MODEL", str(model))
    rc, out, err = cli(["score", clip, "--threads", "1"], capsys)
    assert_one_error(rc, out, err, "detector")
    assert not marker.exists()


def _with_sync_config(path: Path, **changes) -> Path:
    obj = read_model_file(path)
    record = dict(obj["sync"])
    record["config"] = {**record["config"], **changes}
    return update_model_file(path, sync=record)


@pytest.mark.parametrize("field, value, layers", [
    ("temporal", f"{MARKER_MODULE}:make", 0),  # not even looked up by the model when it has no temporal layers
    ("temporal", "no_such_block", 0),
    ("visual_backbone", f"{MARKER_MODULE}:make", 1),
    ("audio_backbone", "no_such_backbone", 1),
])
def test_unknown_part_names_are_refused(tmp_path, marker, clip, capsys, field, value, layers):
    sync, ar, cfg = tiny_models(seed=0)
    if layers == 0:
        c = _asdict(sync.config)
        sync = create_model("sync", **{**c, "temporal_layers": 0})
    model = save_model_file(tmp_path / "model.pt", sync, ar, cfg)
    _with_sync_config(model, **{field: value})
    rc, out, err = cli(["score", clip, "--model", model, "--threads", "1"], capsys)
    assert_one_error(rc, out, err, str(model), field)
    with pytest.raises(CheckpointError, match=field):
        Detector.from_pretrained(model, device="cpu")
    assert not marker.exists()


def test_a_config_value_of_the_wrong_type_is_refused(tmp_path):
    model = _good_model(tmp_path / "model.pt")
    _with_sync_config(model, dim="16")
    with pytest.raises(CheckpointError, match=r"dim must be an integer"):
        load_model_file(model)
    model = _good_model(tmp_path / "model2.pt")
    obj = read_model_file(model)
    update_model_file(model, preprocess={**obj["preprocess"], "crop_size": float(TINY_CROP)})
    with pytest.raises(CheckpointError, match=r"crop_size must be an integer"):
        load_model_file(model)


# --------------------------------------------------------------------------- parts that do not fit
def _lips_models():
    torch.manual_seed(0)
    sync = create_model("sync", visual_backbone="lips_tcn", in_features=98, dim=16, width=4, temporal_layers=1,
                        temporal_heads=2, max_offset=3, crop_size=TINY_CROP, dropout=0.0)
    ar = create_model("ar", in_features=7, n_offsets=7, d_model=16, n_layers=1, n_heads=2, dropout=0.0, context=16)
    return sync.eval(), ar.eval()


def test_front_end_and_networks_that_disagree_are_refused(tmp_path):
    sync, ar, cfg = tiny_models(seed=0)  # a pixel-crop visual backbone ...
    bad = save_model_file(tmp_path / "a.pt", sync, ar, PreprocessConfig(**{**_asdict(cfg), "front_end": "landmarks"}))
    with pytest.raises(CheckpointError, match=r"a\.pt: .*front end 'landmarks'"):
        load_model_file(bad)  # ... with the landmark front end
    lsync, lar = _lips_models()  # a lip-feature backbone with the pixel front end
    bad = save_model_file(tmp_path / "b.pt", lsync, lar, cfg)
    with pytest.raises(CheckpointError, match=r"b\.pt: .*front end 'pixels'.*lips_tcn"):
        load_model_file(bad)
    bad = save_model_file(tmp_path / "c.pt", sync, ar, PreprocessConfig(**{**_asdict(cfg), "crop_size": 2 * TINY_CROP}))
    with pytest.raises(CheckpointError, match=r"crop_size"):
        load_model_file(bad)
    bad = save_model_file(tmp_path / "d.pt", sync, ar, PreprocessConfig(**{**_asdict(cfg), "n_mels": 40}))
    with pytest.raises(CheckpointError, match=r"n_mels"):
        load_model_file(bad)
    good = save_model_file(tmp_path / "e.pt", lsync, lar, PreprocessConfig(**{**_asdict(cfg), "front_end": "landmarks"}))
    assert load_model_file(good)[2].front_end == "landmarks"  # the matching pair loads


# --------------------------------------------------------------------------- calibration
def _cal_dict(**changes) -> dict:
    d = calibrate(np.linspace(0, 4, 11), target_fpr=0.1).to_dict()
    d["fusion"] = {"terms": ["nll", "sync"], "mean": [1.0, -0.2], "std": [0.5, 0.1]}
    d.update(changes)
    return d


@pytest.mark.parametrize("changes, field", [
    ({"threshold": "abc"}, "threshold"),
    ({"threshold": float("nan")}, "threshold"),
    ({"reference_scores": [0.0, float("nan"), 1.0], "n": 3}, "reference_scores"),
    ({"fusion": {"terms": ["nll", "sync"], "mean": [1.0, -0.2], "std": [0.0, 0.1]}}, "std"),
    ({"n": 5}, "n must be"),
    ({"target_fpr": 1.5}, "target_fpr"),
    ({"aggregation": {"method": "mean", "k": "all"}}, "aggregation.k"),
    ({"surprise": 1}, "surprise"),
])
def test_malformed_calibration_json_is_one_model_error(tmp_path, clip, capsys, changes, field):
    model = _good_model(tmp_path / "run" / "model.pt")  # no calibration inside: calibration.json is read
    text = json.dumps(_cal_dict(**changes))  # NaN is written as the NaN literal Python's json reads back
    (model.parent / "calibration.json").write_text(text)
    rc, out, err = cli(["score", clip, "--model", model.parent, "--threads", "1"], capsys)
    assert_one_error(rc, out, err, "calibration.json", field)
    with pytest.raises(CheckpointError, match="calibration"):
        Detector.from_pretrained(model.parent, device="cpu")


def test_calibration_inside_the_model_file_is_checked_too(tmp_path):
    model = _good_model(tmp_path / "model.pt")
    update_model_file(model, calibration=_cal_dict(fusion={"terms": ["nll"], "mean": [0.0], "std": [0.0]}))
    with pytest.raises(CheckpointError, match=r"model\.pt \[calibration\].*std"):
        load_model_file(model)
    good = _cal_dict()
    assert Calibration.from_dict(good).to_dict() == good  # a written calibration reads back unchanged


# --------------------------------------------------------------------------- torch's advice is never shown
class _Pickled:
    """An object torch.save pickles; loading it as data only must refuse it (nothing in it runs)."""

    def __reduce__(self):
        return (os.system, ("echo SHOULD-NOT-RUN",))


def test_a_pickled_object_in_a_model_file_is_refused_without_weights_only_advice(tmp_path, clip, capsys):
    model = tmp_path / "model.pt"
    torch.save({"format": "avanomaly-model", "sync": _Pickled()}, model)
    rc, out, err = cli(["score", clip, "--model", model, "--threads", "1"], capsys)
    assert_one_error(rc, out, err, str(model), "Python objects")
    assert "SHOULD-NOT-RUN" not in out + err
    with pytest.raises(CheckpointError) as info:
        load_model_file(model)
    assert "weights_only" not in str(info.value) and "safe_globals" not in str(info.value)


# --------------------------------------------------------------------------- train --resume
def _resume_run(tmp_path) -> tuple[Path, list[str]]:
    """A run folder (config.yaml + a stage-1 last.ckpt to corrupt) and the `train --resume` arguments for it."""
    import pandas as pd

    from avanomaly.io.testing import write_test_video
    from avanomaly.training.config import apply_overrides, save_config, TrainConfig

    rows = []
    for i, split in enumerate(["train", "train", "val"]):
        write_test_video(tmp_path / f"c{i}.mp4", n_frames=20, size=(48, 48))
        rows.append((f"c{i}.mp4", "real", "RealVideo-RealAudio", "real", f"id{i}", split))
    manifest = tmp_path / "m.csv"
    pd.DataFrame(rows, columns=["path", "label", "category", "method", "identity", "split"]).to_csv(manifest,
                                                                                                     index=False)
    run = tmp_path / "run"
    cfg = apply_overrides(TrainConfig(), [f"out={run}", f"data.manifest={manifest}", "preprocess.crop_size=16",
                                          "sync.crop_size=16", "sync.dim=8", "sync.width=4", "sync.max_offset=2",
                                          "sync.temporal_layers=0", "ar.d_model=8", "ar.n_layers=1", "ar.n_heads=2",
                                          "preprocess.face_fallback=center", "preprocess.detector=center",
                                          "trainer.progress=false", "trainer.accelerator=cpu",
                                          "stage1.window=8", "stage2.window=8"])
    from avanomaly.models import ar_config_for

    cfg.ar = ar_config_for(cfg.sync, cfg.ar)  # as training saves it
    (run / "stage1").mkdir(parents=True)
    save_config(cfg, run / "config.yaml")
    args = ["train", "--real-only", "--data", manifest, "--out", run, "--resume", "--threads", "1", "--no-progress"]
    return run, args


@pytest.mark.parametrize("content", ["truncated", "garbage", "pickle", "not-a-checkpoint"])
def test_corrupt_last_ckpt_on_resume_is_one_typed_error(tmp_path, capsys, content):
    run, args = _resume_run(tmp_path)
    last = run / "stage1" / "last.ckpt"
    if content == "truncated":
        torch.save({"state_dict": {"model.w": torch.zeros(3)}, "epoch": 0, "global_step": 1}, last)
        last.write_bytes(last.read_bytes()[:40])
    elif content == "garbage":
        last.write_bytes(b"\x00garbage" * 64)
    elif content == "pickle":
        torch.save({"state_dict": _Pickled(), "epoch": 0}, last)
    else:
        torch.save({"epoch": "zero"}, last)
    rc, out, err = cli(args, capsys)
    assert rc == 2, (rc, out, err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(last) in errors[0] and "Traceback" not in err, err
    assert "weights_only" not in err and "SHOULD-NOT-RUN" not in out + err
    assert not (run / "model.pt").exists()
