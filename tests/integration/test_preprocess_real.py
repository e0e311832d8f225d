"""Preprocessing the shared real / bad clips (../shared/data/real-av; skipped when absent)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from avanomaly.io import load_clip
from avanomaly.preprocess import FeatureCache, PreprocessConfig, create_detector, preprocess_many

pytestmark = pytest.mark.integration

MIN_FACE_RATE = 0.95
FRAMES_CHECKED = 4
MAX_SIDE = 512


def _rows(real_av, label):
    with open(real_av / "manifest.csv", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["label"] == label]


def test_centerface_finds_the_face_with_plausible_landmarks(real_av):
    detector = create_detector("centerface")
    for row in _rows(real_av, "real"):
        clip = load_clip(real_av / row["path"], max_side=MAX_SIDE, duration=2.0)
        for t in np.linspace(0, clip.n_frames - 1, FRAMES_CHECKED).astype(int):
            faces = detector.detect(clip.frames[t])
            assert faces, f"{row['path']} frame {t}: no face"
            face = max(faces, key=lambda f: f.area)
            x0, y0, x1, y1 = face.box
            lm = face.landmarks  # eyes, nose, mouth corners
            assert face.score > 0.5 and lm.shape == (5, 2)
            assert (lm[:, 0] >= x0 - 2).all() and (lm[:, 0] <= x1 + 2).all(), row["path"]
            assert lm[[3, 4], 1].mean() > lm[[0, 1], 1].mean(), f"{row['path']}: mouth not below the eyes"
            assert lm[3, 0] < lm[4, 0] and lm[0, 0] < lm[1, 0]


def test_every_real_clip_has_a_face_and_bad_files_are_listed(real_av, tmp_path, capsys):
    real = [real_av / r["path"] for r in _rows(real_av, "real")]
    bad = [real_av / r["path"] for r in _rows(real_av, "bad")]
    cache = FeatureCache(tmp_path / "cache")
    report = preprocess_many([*real, *bad], cache, PreprocessConfig(), workers=2, progress=False)

    assert len(report.done) == len(real)
    rates = {p.split("/")[-1]: r for p, r in report.face_rates.items()}
    with capsys.disabled():
        print("\nface rate per real clip:", {k: round(v, 3) for k, v in sorted(rates.items())})
    assert all(r >= MIN_FACE_RATE for r in rates.values()), rates
    for path in real:
        entry = cache.get(report.keys[str(path)])
        t = entry.n_frames
        assert entry.mouths.shape == (t, 64, 64) and entry.mel.shape == (4 * t, 80)
        assert entry.meta["sha256"] and entry.meta["face_rate"] >= MIN_FACE_RATE
        assert abs(entry.meta["duration"] - t / 25) < 1e-9
        assert np.isfinite(entry.mel).all() and entry.mouths.std() > 5  # real image content, not a flat fill

    failed = {p: r for p, r, _ in report.failed}
    assert set(failed) == {str(p) for p in bad}
    with open(cache.root / "failures.csv", newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(failed)
    for path, row in rows.items():
        expected = "no-audio" if "noaudio" in path else "corrupt"
        assert row["reason"] == expected and row["message"], row

    again = preprocess_many(real, cache, PreprocessConfig(), workers=1, progress=False)
    assert len(again.skipped) == len(real) and not again.done


def test_streamed_file_equals_in_memory_clip_across_chunks(real_av):
    from avanomaly.preprocess import preprocess_clip, preprocess_file

    path = real_av / "real" / "vgg_syncnet_example.avi"  # 317 frames: two chunks of 250
    cfg = PreprocessConfig()
    detector = create_detector(cfg.detector)
    streamed = preprocess_file(path, cfg, detector)
    in_memory = preprocess_clip(load_clip(path, max_side=cfg.max_side), cfg, detector)
    assert streamed.n_frames == in_memory.n_frames == 317
    np.testing.assert_array_equal(streamed.mouths, in_memory.mouths)
    np.testing.assert_array_equal(streamed.mel, in_memory.mel)
