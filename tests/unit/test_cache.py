"""FeatureCache: round trip, atomic writes (no half entry after a crash), keys, window padding."""

from __future__ import annotations

import numpy as np
import pytest

from avanomaly.errors import AvanomalyError
from avanomaly.preprocess import FeatureCache, Features, PreprocessConfig
from avanomaly.preprocess import cache as cache_mod

S, M = 8, 80


def _features(t=6):
    mouths = np.broadcast_to(np.arange(t, dtype=np.uint8)[:, None, None], (t, S, S)).copy()  # crop t filled with t
    mel = np.repeat(np.arange(t, dtype=np.float32), 4)[:, None] + np.tile(np.arange(4) / 10, t)[:, None]
    mel = np.broadcast_to(mel, (4 * t, M)).astype(np.float32).copy()  # row 4t+j holds t + j/10
    return Features(mouths=mouths, mel=mel, face_found=np.ones(t, bool), meta={"n_frames": t, "source": "x.mp4"})


def test_put_get_roundtrip_memmaps(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    assert cache.put("k1", _features()) is True
    assert cache.has("k1") and cache.entries() == ["k1"]
    entry = cache.get("k1")
    assert isinstance(entry.mouths, np.memmap) and isinstance(entry.mel, np.memmap)
    assert entry.mouths.dtype == np.uint8 and entry.mouths.shape == (6, S, S)
    assert entry.mel.dtype == np.float16 and entry.mel.shape == (24, M)
    assert entry.meta["source"] == "x.mp4" and entry.face_found.all()
    np.testing.assert_allclose(entry.mel[5], 1.1, atol=1e-2)
    assert cache.put("k1", _features()) is False  # existing entry is left alone
    with pytest.raises(AvanomalyError):
        cache.get("missing")


def test_crash_mid_write_leaves_no_entry(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    real_save = cache_mod._save_npy

    def crash_on_mel(path, array):
        if path.name == cache_mod.MEL_FILE:
            raise OSError("disk full (simulated)")
        real_save(path, array)

    monkeypatch.setattr(cache_mod, "_save_npy", crash_on_mel)
    with pytest.raises(OSError):
        cache.put("k", _features())
    assert not cache.has("k") and cache.entries() == [] and not (tmp_path / "k").exists()
    assert cache.temp_dirs() == []  # cleaned up after an exception


def test_killed_before_rename_is_invisible_and_cleanable(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)

    def killed(*args, **kwargs):  # the process dies: no rename, and no cleanup runs
        raise SystemExit("killed")

    monkeypatch.setattr(cache_mod.os, "replace", killed)
    monkeypatch.setattr(cache_mod.shutil, "rmtree", lambda *a, **k: None)
    with pytest.raises(SystemExit):
        cache.put("k", _features())
    monkeypatch.undo()
    leftovers = cache.temp_dirs()
    assert len(leftovers) == 1 and (leftovers[0] / cache_mod.MOUTHS_FILE).exists()
    assert cache.entries() == [] and not cache.has("k")
    assert cache.clean_temp(older_than=3600) == 0  # fresh temp dirs may belong to a live writer
    assert cache.clean_temp(older_than=0) == 1 and cache.temp_dirs() == []
    assert cache.put("k", _features()) and cache.has("k")


def test_key_depends_on_content_and_settings(tmp_path):
    a, b, c = tmp_path / "a.mp4", tmp_path / "sub" / "b.mp4", tmp_path / "c.mp4"
    b.parent.mkdir()
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"other bytes")
    cache = FeatureCache(tmp_path / "cache")
    cfg = PreprocessConfig()
    assert cache.key(a, cfg) == cache.key(b, cfg)
    assert cache.key(a, cfg) != cache.key(c, cfg)
    assert cache.key(a, cfg) != cache.key(a, PreprocessConfig(crop_size=96))
    sha, settings = cache.key(a, cfg).split("-")
    assert len(sha) == 16


def test_window_replicate_pads_both_edges(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.put("k", _features(t=6))
    entry = cache.get("k")
    mouths, mel = entry.window(0, 3)
    assert mouths.shape == (7, S, S) and mel.shape == (28, M) and mel.dtype == np.float32
    assert mouths[:, 0, 0].tolist() == [0, 0, 0, 1, 2, 3, 4]
    # each padded frame repeats the edge frame's 4 mel rows (t + j/10)
    np.testing.assert_allclose(mel[:8, 0], [0, 0.1, 0.2, 0.3] * 2, atol=1e-2)
    np.testing.assert_allclose(mel[8:12, 0], [0, 0.1, 0.2, 0.3], atol=1e-2)
    mouths, mel = entry.window(4, 2)
    assert mouths[:, 0, 0].tolist() == [2, 3, 4, 5, 5, 5]
    np.testing.assert_allclose(mel[-4:, 0], [5, 5.1, 5.2, 5.3], atol=1e-2)
    mouths, _ = entry.window(2, 2)  # interior: no padding
    assert mouths[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    for bad in [(-1, 2), (5, 2), (0, 0)]:
        with pytest.raises(ValueError):
            entry.window(*bad)
