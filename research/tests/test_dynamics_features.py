"""Face-dynamics features (research/dynamics.py) on synthetic meshes with known pose and motion."""

import numpy as np
import pytest

from research.dynamics import (
    LIDS,
    N_POSE_FEATURES,
    POSE_COLUMNS,
    UPPER_FACE,
    dynamics_from_points,
    fill_missing,
    frame_pose_features,
    head_pose,
)
from avanomaly.preprocess.landmarks import EYE_LEFT, EYE_RIGHT, NOSE_BASE

N_MESH = 478
#: pixels per head-frame unit of the synthetic faces
PX = 100.0
COL = {c: i for i, c in enumerate(POSE_COLUMNS)}


def canonical_mesh(seed=0):
    """Head-frame mesh (unit = inter-ocular distance): eyes at x = -+0.5, nose base straight below, the rest random."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1, 1, (N_MESH, 3))
    for i in EYE_LEFT:
        p[i] = (-0.5, 0, 0)
    for i in EYE_RIGHT:
        p[i] = (0.5, 0, 0)
    p[NOSE_BASE] = (0, 1, 0)
    return p


def rot(yaw=0.0, pitch=0.0, roll=0.0):
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])  # about the image y axis: turns z towards x
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])  # in the image plane
    return rz @ ry @ rx


def to_pixels(q, r=np.eye(3), shift=(300.0, 200.0, 0.0), px=PX):
    return (q @ r.T) * px + np.asarray(shift)


@pytest.mark.parametrize("angle", [-0.4, 0.1, 0.3])
def test_head_pose_recovers_roll_and_yaw(angle):
    q = canonical_mesh()
    yaw, pitch, roll = head_pose(to_pixels(q, rot(roll=angle)))
    assert roll == pytest.approx(angle, abs=1e-6) and abs(yaw) < 1e-6 and abs(pitch) < 1e-6
    yaw, pitch, roll = head_pose(to_pixels(q, rot(yaw=angle)))
    assert yaw == pytest.approx(angle, abs=1e-6) and abs(roll) < 1e-6


def test_features_ignore_where_and_how_big_the_face_is_except_position_and_scale():
    q = canonical_mesh()
    a = frame_pose_features(to_pixels(q))
    b = frame_pose_features(to_pixels(q, shift=(50.0, 90.0, 3.0), px=2.5 * PX))
    same = [i for c, i in COL.items() if c not in ("x", "y", "scale")]
    np.testing.assert_allclose(a[same], b[same], atol=1e-9)
    assert b[COL["scale"]] == pytest.approx(2.5 * a[COL["scale"]])
    assert (a[COL["x"]], b[COL["x"]]) == pytest.approx((300.0, 50.0))


def test_closed_eye_has_zero_openness_and_open_eye_does_not():
    q = canonical_mesh()
    q[LIDS[0][0]] = q[LIDS[0][1]]  # image-left upper lid on the lower lid
    f = frame_pose_features(to_pixels(q))
    assert f[COL["eye_l"]] == pytest.approx(0.0, abs=1e-9)
    assert f[COL["eye_r"]] > 0.01


def test_rigid_motion_has_no_upper_face_residual_but_warping_does():
    q = canonical_mesh()
    angles = np.linspace(-0.3, 0.3, 10)
    rigid = [to_pixels(q, rot(yaw=a, roll=a / 2), shift=(300 + 10 * a, 200.0, 0.0)) for a in angles]
    rows = dynamics_from_points(np.array(rigid))
    assert rows.shape == (10, N_POSE_FEATURES)
    np.testing.assert_allclose(rows[:, COL["upper_residual"]], 0.0, atol=1e-4)
    rng = np.random.default_rng(1)
    warped = []
    for m in rigid:
        m = m.copy()
        m[list(UPPER_FACE)] += rng.normal(0, 0.05 * PX, (len(UPPER_FACE), 3))
        warped.append(m)
    assert dynamics_from_points(np.array(warped))[:, COL["upper_residual"]].mean() > 0.01


def test_missing_frames_are_nan_and_fill_missing_repeats_the_last_face():
    q = to_pixels(canonical_mesh())
    meshes = np.array([np.full_like(q, np.nan), q, np.full_like(q, np.nan), q * 1.01])
    rows = dynamics_from_points(meshes)
    assert np.isnan(rows[0]).all() and np.isnan(rows[2]).all() and np.isfinite(rows[[1, 3]]).all()
    filled = fill_missing(rows)
    np.testing.assert_array_equal(filled[0], rows[1])  # before the first face: the first face
    np.testing.assert_array_equal(filled[2], rows[1])  # a gap: the last face
    np.testing.assert_array_equal(filled[3], rows[3])
    assert np.isnan(fill_missing(np.full((3, 2), np.nan))).all()
