"""The issue-17 research scripts lean on library internals (the landmark tracker, the cache, the decoder); a refactor
once broke dynamics_extract.py without any test noticing. These run their library-facing parts on a generated
video with a stub face mesh (no MediaPipe needed)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from avanomaly.io.testing import write_test_video
from avanomaly.preprocess.landmarks import EYE_LEFT, EYE_RIGHT, INNER_OPEN, LIPS_OUTER, NOSE_BASE

N_MESH = 478


def _load(name):
    """research.<name> (the repository root is on sys.path: ``pythonpath = .`` in setup.cfg's pytest section)."""
    return importlib.import_module(f"research.{name}")


def _mesh(frame_hw, opening: float) -> np.ndarray:
    """A face-like pixel mesh: eyes 20 px apart, nose below, a lip ring whose opening follows ``opening``."""
    h, w = frame_hw
    rng = np.random.default_rng(0)
    p = np.zeros((N_MESH, 3))
    p[:, :2] = rng.uniform(0.3, 0.7, (N_MESH, 2)) * (w, h)
    cx, cy = w / 2, h / 2 - 10
    p[list(EYE_LEFT), :2] = [[cx - 14, cy], [cx - 6, cy]]
    p[list(EYE_RIGHT), :2] = [[cx + 6, cy], [cx + 14, cy]]
    p[NOSE_BASE, :2] = [cx, cy + 12]
    ang = np.linspace(0, 2 * np.pi, len(LIPS_OUTER), endpoint=False)
    p[list(LIPS_OUTER), :2] = np.c_[cx + 8 * np.cos(ang), cy + 22 + (2 + opening) * np.sin(ang)]
    p[INNER_OPEN[0], :2] = [cx, cy + 22 - opening / 2]
    p[INNER_OPEN[1], :2] = [cx, cy + 22 + opening / 2]
    return p


class _StubMesh:
    """Stands in for FaceMeshLandmarker: a mesh whose mouth opening is the frame's mean brightness / 25."""

    def __init__(self):
        self.closed = False

    def points(self, frame_rgb):
        return _mesh(frame_rgb.shape[:2], float(frame_rgb.mean()) / 25.0)

    def close(self):
        self.closed = True


def test_dynamics_extract_writes_the_landmark_cache_entry_and_the_meshes(tmp_path, monkeypatch):
    from avanomaly.preprocess import FeatureCache, landmarks

    mod = _load("dynamics_extract")
    monkeypatch.setattr(landmarks, "FaceMeshLandmarker", _StubMesh)
    video = write_test_video(tmp_path / "clip.mp4", n_frames=30, size=(64, 64),
                             frame_fn=lambda i, size: np.full((size[1], size[0], 3), 40 + 5 * i, np.uint8))
    cfg = mod.landmark_config()
    cache = FeatureCache(tmp_path / "cache" / "lm")
    assert mod.extract_one(str(video), cfg, cache, tmp_path / "cache" / "mesh") == "done"
    key = cache.key(str(video), cfg)
    entry = cache.get(key)
    meshes = np.load(tmp_path / "cache" / "mesh" / f"{key}.npz")
    assert entry.n_frames == 30 and meshes["points"].shape == (30, N_MESH, 3)
    assert tuple(meshes["frame_hw"]) == (64, 64)
    # the recorded meshes are the ones the tracker turned into lip features: openings rise with brightness
    opening = meshes["points"][:, INNER_OPEN[1], 1] - meshes["points"][:, INNER_OPEN[0], 1]
    assert np.all(np.diff(opening) > 0)
    assert landmarks.FaceMeshLandmarker is _StubMesh  # the recording wrapper was taken off again
    assert mod.extract_one(str(video), cfg, cache, tmp_path / "cache" / "mesh") == "skipped"


def test_texture_warp_is_exact_for_a_mesh_already_in_canonical_place():
    mod = _load("texture_probe")
    rng = np.random.default_rng(1)
    canon = np.c_[rng.uniform(10, mod.CANVAS[1] - 10, N_MESH), rng.uniform(10, mod.CANVAS[0] - 10, N_MESH)]
    canon[:4] = [[5, 5], [mod.CANVAS[1] - 5, 5], [5, mod.CANVAS[0] - 5], [mod.CANVAS[1] - 5, mod.CANVAS[0] - 5]]
    warp = mod.Warper(canon)
    img = rng.uniform(0, 255, mod.CANVAS).astype(np.float32)
    out = warp(img, np.c_[canon, np.zeros(N_MESH)])
    inside = np.zeros(mod.CANVAS[0] * mod.CANVAS[1], bool)
    inside[warp.pixels] = True
    inside = inside.reshape(mod.CANVAS)
    np.testing.assert_allclose(out[inside], img[inside], atol=1e-2)
    # a mesh moved 3 px right samples the image 3 px further right
    moved = warp(img, np.c_[canon + [3, 0], np.zeros(N_MESH)])
    ys, xs = np.nonzero(inside & (np.arange(mod.CANVAS[1]) < mod.CANVAS[1] - 4)[None, :])
    np.testing.assert_allclose(moved[ys, xs], img[ys, xs + 3], atol=1e-2)


def test_texture_features_see_a_frozen_skin():
    mod = _load("texture_probe")
    rng = np.random.default_rng(2)
    masks = {"skin": np.zeros(mod.CANVAS, bool), "mouth": np.zeros(mod.CANVAS, bool)}
    masks["skin"][10:40] = True
    masks["mouth"][70:90, 20:60] = True
    base = rng.uniform(0, 255, mod.CANVAS).astype(np.float32)
    frozen = [base + np.where(masks["mouth"], rng.normal(0, 20, mod.CANVAS), 0).astype(np.float32) for _ in range(20)]
    alive = [f + rng.normal(0, 10, mod.CANVAS).astype(np.float32) for f in frozen]
    a, b = mod.texture_features(frozen, masks), mod.texture_features(alive, masks)
    assert a["skin_drift"] < 0.1 * b["skin_drift"] and a["skin_flicker"] < 0.1 * b["skin_flicker"]
    assert a["mouth_over_skin"] > b["mouth_over_skin"]
    assert mod.texture_features([None, base], masks) == {}


@pytest.mark.parametrize("group, expected", [("generator_fake", "VASA-1 / EMO (V-Express)"),
                                             ("extra_fake_Wav2Lip (wav2lip-HQ fork)", "Wav2Lip"),
                                             ("extra_fake_HyperLips", "HyperLips")])
def test_generator_benchmark_families(group, expected):
    assert _load("generator_benchmark").family(group) == expected


def test_offset_second_opinion_counts_agreement_on_large_offsets_only():
    """research/offset_second_opinion.agreement_table: of the copies whose model peak is >= LARGE frames, the share
    whose envelope lag is within 1 frame of it; the envelope-vs-shift share for shifted copies."""
    import pandas as pd

    from research.offset_second_opinion import LARGE, agreement_table

    rows = [  # split, kind, shift, model peak, envelope lag
        ("val", "original", 0, 0, 9), ("val", "original", 0, LARGE, LARGE + 1), ("val", "original", 0, -LARGE - 2, 3),
        ("val", "shift", 5, 5, 5), ("val", "shift", 5, 2, 5), ("val", "swap", 0, 7, -7),
    ]
    df = pd.DataFrame(rows, columns=["split", "kind", "shift", "peak", "env_lag"])
    t = agreement_table(df).set_index(["kind", "shift"])
    assert t.loc[("original", 0), "model |peak| >= 4"] == 2 and t.loc[("original", 0), "envelope agrees"] == 1
    assert t.loc[("shift", 5), "agree share"] == 1.0 and t.loc[("shift", 5), "envelope within 1 of the shift"] == 1.0
    assert t.loc[("swap", 0), "envelope agrees"] == 0 and pd.isna(t.loc[("swap", 0), "envelope within 1 of the shift"])
