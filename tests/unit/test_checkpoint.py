"""Checkpoints: round trip, atomic write, and a CheckpointError naming the problem for every bad file."""

from __future__ import annotations

import io
import os

import pytest
import torch

from avanomaly.errors import CheckpointError
from avanomaly.models import checkpoint_dict, create_model, load_checkpoint, model_from_dict, save_checkpoint


pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = dict(dim=16, width=4, crop_size=32, temporal_heads=2, temporal_layers=1, max_offset=2)


def _tiny_sync(**kw):
    torch.manual_seed(0)
    return create_model("sync", **{**TINY, **kw})


def _write(path, blob):
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())


def test_round_trip_restores_outputs_config_and_extra(tmp_path):
    m = _tiny_sync(temporal="mamba", feature_embed_dim=3).eval()
    extra = {"calibration": {"threshold": 1.25}, "preprocess": {"crop_size": 32}}
    path = save_checkpoint(tmp_path / "sub" / "sync.ckpt", m, extra)
    loaded, got_extra = load_checkpoint(path)
    assert got_extra == extra and loaded.config == m.config and loaded.model_name == "sync" and not loaded.training
    x = (torch.rand(1, 7, 32, 32), torch.randn(1, 28, 80))
    with torch.no_grad():
        assert torch.equal(loaded(*x)["features"], m(*x)["features"])
    ar = create_model("ar", in_features=5, n_offsets=5, d_model=16, n_layers=1, n_heads=2)
    ar2, _ = load_checkpoint(save_checkpoint(tmp_path / "ar.ckpt", ar))
    assert ar2.config == ar.config
    assert all(torch.equal(a, b) for a, b in zip(ar.state_dict().values(), ar2.state_dict().values()))


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "m.ckpt"
    path.write_bytes(b"old")
    save_checkpoint(path, _tiny_sync())
    assert os.listdir(tmp_path) == ["m.ckpt"]
    load_checkpoint(path)


def test_missing_empty_truncated_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.ckpt")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(tmp_path / "empty.ckpt")
    good = save_checkpoint(tmp_path / "good.ckpt", _tiny_sync())
    data = good.read_bytes()
    trunc = tmp_path / "trunc.ckpt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"trunc\.ckpt: corrupt or truncated"):
        load_checkpoint(trunc)
    (tmp_path / "junk.ckpt").write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "junk.ckpt")
    _write(tmp_path / "other.ckpt", {"state_dict": {}})
    with pytest.raises(CheckpointError, match="not an avanomaly model checkpoint"):
        load_checkpoint(tmp_path / "other.ckpt")


def test_missing_key_unknown_name_and_newer_version(tmp_path):
    rec = checkpoint_dict(_tiny_sync())
    bad = {k: v for k, v in rec.items() if k != "config"}
    _write(tmp_path / "nokey.ckpt", bad)
    with pytest.raises(CheckpointError, match=r"lacks key\(s\) \['config'\]"):
        load_checkpoint(tmp_path / "nokey.ckpt")
    _write(tmp_path / "name.ckpt", {**rec, "model_name": "wav2vec9"})
    with pytest.raises(CheckpointError, match="unknown model name 'wav2vec9'"):
        load_checkpoint(tmp_path / "name.ckpt")
    _write(tmp_path / "new.ckpt", {**rec, "avanomaly_version": "99.0.0"})
    with pytest.raises(CheckpointError, match="newer major version"):
        load_checkpoint(tmp_path / "new.ckpt")
    _write(tmp_path / "fmt.ckpt", {**rec, "format_version": 99})
    with pytest.raises(CheckpointError, match="format 99 is newer"):
        load_checkpoint(tmp_path / "fmt.ckpt")
    _write(tmp_path / "cfg.ckpt", {**rec, "config": {**rec["config"], "no_such_field": 1}})
    with pytest.raises(CheckpointError, match="no_such_field"):
        load_checkpoint(tmp_path / "cfg.ckpt")


def test_weight_mismatches_are_named(tmp_path):
    rec = checkpoint_dict(_tiny_sync())
    sd = dict(rec["state_dict"])
    sd["audio.head.weight"] = torch.zeros(3, 3)
    del sd["logit_scale"]
    sd["stray.weight"] = torch.zeros(1)
    _write(tmp_path / "w.ckpt", {**rec, "state_dict": sd})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "w.ckpt")
    msg = str(err.value)
    assert "w.ckpt" in msg and "missing weights [logit_scale]" in msg and "stray.weight" in msg
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
