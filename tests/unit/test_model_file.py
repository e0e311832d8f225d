"""The model file (postprocess/modelfile.py, the one format): round trip of both networks' records, atomic write,
and a CheckpointError naming the problem for every bad file or record."""

from __future__ import annotations

import io
import os

import pytest
import torch

from avanomaly.errors import CheckpointError
from avanomaly.models import checkpoint_dict, create_model, model_from_dict
from avanomaly.postprocess.modelfile import read_model_file, save_model_file
from avanomaly.scoring.loading import load_model_file
from avanomaly.scoring.testing import tiny_models


pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = dict(dim=16, width=4, crop_size=32, temporal_heads=2, temporal_layers=1, max_offset=2)


def _tiny_sync(**kw):
    torch.manual_seed(0)
    return create_model("sync", **{**TINY, **kw})


def _write(path, blob):
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())


def _model_file(path, sync_record=None):
    """A model file of the tiny models (scoring.testing), its sync record replaced by ``sync_record``."""
    sync, ar, cfg = tiny_models(seed=0)
    save_model_file(path, sync, ar, cfg)
    if sync_record is not None:
        _write(path, {**read_model_file(path), "sync": sync_record})
    return path


def test_round_trip_restores_outputs_config_and_provenance(tmp_path):
    sync, ar, cfg = tiny_models(seed=0)
    path = save_model_file(tmp_path / "sub" / "model.pt", sync.eval(), ar, cfg, provenance={"run": "x"})
    sync2, ar2, cfg2, got_cal, raw = load_model_file(path)
    assert got_cal is None and raw["provenance"] == {"run": "x"} and cfg2 == cfg
    assert sync2.config == sync.config and sync2.model_name == "sync" and not sync2.training and not ar2.training
    assert ar2.config == ar.config
    assert all(torch.equal(a, b) for a, b in zip(ar.state_dict().values(), ar2.state_dict().values()))
    x = (torch.randint(0, 255, (1, 7, cfg.crop_size, cfg.crop_size), dtype=torch.uint8).float() / 255,
         torch.randn(1, 28, cfg.n_mels))
    with torch.no_grad():
        assert torch.equal(sync2(*x)["features"], sync(*x)["features"])
    m = _tiny_sync(temporal="mamba", feature_embed_dim=3).eval()  # a record of another configuration, in memory
    m2 = model_from_dict(checkpoint_dict(m), source="memory")
    assert m2.config == m.config and all(torch.equal(a, b) for a, b in zip(m.state_dict().values(),
                                                                           m2.state_dict().values()))


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"old")
    _model_file(path)
    assert os.listdir(tmp_path) == ["model.pt"]
    load_model_file(path)


def test_missing_empty_truncated_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model_file(tmp_path / "absent.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_model_file(tmp_path / "empty.pt")
    good = _model_file(tmp_path / "good.pt")
    data = good.read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"trunc\.pt: corrupt or not a model file"):
        load_model_file(trunc)
    (tmp_path / "junk.pt").write_bytes(b"this is not a model file" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model_file(tmp_path / "junk.pt")
    _write(tmp_path / "other.pt", {"state_dict": {}})
    with pytest.raises(CheckpointError, match="not an avanomaly detector model file"):
        load_model_file(tmp_path / "other.pt")
    _write(tmp_path / "fmt.pt", {**read_model_file(good), "format_version": 99})
    with pytest.raises(CheckpointError, match="format 99 is newer"):
        load_model_file(tmp_path / "fmt.pt")
    _write(tmp_path / "nosync.pt", {k: v for k, v in read_model_file(good).items() if k != "sync"})
    with pytest.raises(CheckpointError, match=r"lacks key\(s\) \['sync'\]"):
        load_model_file(tmp_path / "nosync.pt")


def test_missing_key_unknown_name_and_newer_version_of_a_record(tmp_path):
    rec = checkpoint_dict(tiny_models(seed=0)[0])
    _model_file(tmp_path / "nokey.pt", {k: v for k, v in rec.items() if k != "config"})
    with pytest.raises(CheckpointError, match=r"nokey\.pt \[sync\]: checkpoint lacks key\(s\) \['config'\]"):
        load_model_file(tmp_path / "nokey.pt")
    _model_file(tmp_path / "name.pt", {**rec, "model_name": "wav2vec9"})
    with pytest.raises(CheckpointError, match="unknown model name 'wav2vec9'"):
        load_model_file(tmp_path / "name.pt")
    _model_file(tmp_path / "new.pt", {**rec, "avanomaly_version": "99.0.0"})
    with pytest.raises(CheckpointError, match="newer major version"):
        load_model_file(tmp_path / "new.pt")
    _model_file(tmp_path / "cfg.pt", {**rec, "config": {**rec["config"], "no_such_field": 1}})
    with pytest.raises(CheckpointError, match="no_such_field"):
        load_model_file(tmp_path / "cfg.pt")


def test_weight_mismatches_are_named(tmp_path):
    rec = checkpoint_dict(_tiny_sync())
    sd = dict(rec["state_dict"])
    sd["audio.head.weight"] = torch.zeros(3, 3)
    del sd["logit_scale"]
    sd["stray.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        model_from_dict({**rec, "state_dict": sd}, source="w.pt [sync]")
    msg = str(err.value)
    assert "w.pt [sync]" in msg and "missing weights [logit_scale]" in msg and "stray.weight" in msg
    assert "audio.head.weight: file (3, 3) vs model (16, 32)" in msg
    # a config that disagrees with the weights (dim 16 saved, config says 32) is a shape mismatch
    with pytest.raises(CheckpointError, match="shape mismatch"):
        model_from_dict({**rec, "config": {**rec["config"], "dim": 32}}, source="memory")


class _Payload:
    """Pickling this object would run code on load (os.system-style); weights_only loading must refuse it."""

    def __reduce__(self):
        return (_touch, ("SENTINEL",))


def _touch(path):  # pragma: no cover - must never run
    open(path, "w").close()
    return {}


def test_a_crafted_stage_checkpoint_is_refused_without_running_code(tmp_path, monkeypatch):
    from avanomaly.errors import CheckpointError
    from avanomaly.training.export import stage_state_dict

    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "best.ckpt"
    torch.save({"state_dict": _Payload()}, ckpt)
    with pytest.raises(CheckpointError, match="data only"):
        stage_state_dict(ckpt)
    assert not (tmp_path / "SENTINEL").exists()
