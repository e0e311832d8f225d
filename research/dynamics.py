"""Face-dynamics features: how a face moves over time, from the MediaPipe face mesh of each frame.

Per frame (``N_POSE_FEATURES`` = 12 numbers, float32, NaN where no face was found):

- head pose: yaw, pitch, roll (radians) of the head frame of :func:`~avanomaly.preprocess.landmarks.head_frame_points`;
- head position: eye midpoint x, y and the inter-ocular distance, all in pixels (their frame-to-frame *changes*,
  divided by the inter-ocular distance, are the head's translation and zoom; the absolute values depend on the
  framing and are not used as features);
- eye openness, left and right: lid gap / eye width (blinks);
- brow height, left and right: mean brow point below the eye line, inter-ocular units (negative = above);
- jaw drop: chin (152) below the eye line, inter-ocular units;
- upper-face non-rigidity: RMS of the nose-bridge/forehead/cheek points around their median position
  over the clip, inter-ocular units: a rigid upper face has a constant value; tracker jitter and
  face warping move it.

:func:`dynamics_from_points` turns a clip's meshes (T, P, 3) into these rows; :func:`motion_features` turns rows plus
the 98 lip features of :mod:`avanomaly.preprocess.landmarks` into the per-frame *motion* vector a dynamics model
reads (velocities in head-relative units, so frame size and face size cancel).
"""

from __future__ import annotations

import numpy as np

from avanomaly.preprocess.landmarks import EYE_LEFT, EYE_RIGHT, head_frame_points

#: eyelid pairs (upper, lower) and eye corner pairs of the canonical mesh, image-left eye first
LIDS = ((159, 145), (386, 374))
EYE_CORNERS = (EYE_LEFT, EYE_RIGHT)
#: brow points above each eye (image-left, image-right)
BROWS = ((70, 63, 105, 66, 107), (336, 296, 334, 293, 300))
CHIN_TIP = 152
#: nose bridge, forehead and cheek points: rigid in a real head, so their head-frame spread measures warping/jitter
UPPER_FACE = (6, 168, 197, 195, 10, 151, 9, 234, 454, 127, 356)
#: (yaw, pitch, roll, x, y, scale, eye_l, eye_r, brow_l, brow_r, jaw, upper_residual)
POSE_COLUMNS = ("yaw", "pitch", "roll", "x", "y", "scale", "eye_l", "eye_r", "brow_l", "brow_r", "jaw",
                "upper_residual")
N_POSE_FEATURES = len(POSE_COLUMNS)
#: smallest eye width (inter-ocular units) used as a denominator
EYE_WIDTH_EPS = 1e-3
#: columns of the pose rows whose per-frame change is a motion feature as is (angles, openness, heights)
_DIRECT = ("yaw", "pitch", "roll", "eye_l", "eye_r", "brow_l", "brow_r", "jaw")


def _rotation(points: np.ndarray) -> np.ndarray | None:
    """(3, 3) head axes (rows x, y, z) of a (P, 3) pixel mesh, as in ``head_frame_points``; None if degenerate."""
    p = np.asarray(points, dtype=np.float64)
    e_l, e_r = p[list(EYE_LEFT)].mean(0), p[list(EYE_RIGHT)].mean(0)
    ex = e_r - e_l
    scale = float(np.linalg.norm(ex))
    if scale <= 0 or not np.isfinite(scale):
        return None
    xh = ex / scale
    down = p[2] - 0.5 * (e_l + e_r)
    yh = down - float(down @ xh) * xh
    n = float(np.linalg.norm(yh))
    if n <= 0:
        return None
    yh = yh / n
    return np.stack([xh, yh, np.cross(xh, yh)])


def head_pose(points: np.ndarray) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) radians of a (P, 3) pixel mesh: roll = the eye line's angle in the image, yaw / pitch =
    the face normal's tilt left-right / up-down. None for a degenerate mesh."""
    rot = _rotation(points)
    if rot is None:
        return None
    xh, _, zh = rot
    roll = float(np.arctan2(xh[1], xh[0]))
    yaw = float(np.arctan2(zh[0], zh[2]))  # z = x cross y points away from the camera (image x right, y down)
    pitch = float(np.arctan2(zh[1], zh[2]))
    return yaw, pitch, roll


def frame_pose_features(points: np.ndarray) -> np.ndarray | None:
    """(P >= 468, 3) pixel mesh -> (N_POSE_FEATURES,) float64 with ``upper_residual`` = 0 (filled per clip by
    :func:`dynamics_from_points`), or None for a degenerate mesh."""
    p = np.asarray(points, dtype=np.float64)
    q = head_frame_points(p)
    pose = head_pose(p)
    if q is None or pose is None:
        return None
    e_l, e_r = p[list(EYE_LEFT)].mean(0), p[list(EYE_RIGHT)].mean(0)
    mid = 0.5 * (e_l + e_r)
    scale = float(np.linalg.norm(e_r - e_l))
    eyes = []
    for (up, lo), (a, b) in zip(LIDS, EYE_CORNERS):
        width = max(float(np.linalg.norm(q[a] - q[b])), EYE_WIDTH_EPS)
        eyes.append(float(np.linalg.norm(q[up] - q[lo])) / width)
    brows = [float(q[list(idx), 1].mean()) for idx in BROWS]  # y grows towards the nose: brows are negative
    jaw = float(q[CHIN_TIP, 1])
    return np.array([*pose, mid[0], mid[1], scale, *eyes, *brows, jaw, 0.0])


def dynamics_from_points(meshes) -> np.ndarray:
    """A clip's meshes -> (T, N_POSE_FEATURES) float32 pose rows, NaN rows where the mesh is missing or degenerate.

    ``meshes``: (T, P, 3) array with NaN frames for no face, or a list of (P, 3) arrays / None. The
    ``upper_residual`` column is the RMS distance of the ``UPPER_FACE`` points (head frame) from their median over
    the clip's valid frames."""
    rows, upper = [], []
    for pts in meshes:
        f = None
        if pts is not None and np.all(np.isfinite(pts)):
            f = frame_pose_features(pts)
        if f is None:
            rows.append(np.full(N_POSE_FEATURES, np.nan))
            upper.append(np.full((len(UPPER_FACE), 3), np.nan))
            continue
        rows.append(f)
        upper.append(head_frame_points(pts)[list(UPPER_FACE)])
    out = np.array(rows, dtype=np.float64).reshape(-1, N_POSE_FEATURES)
    if len(out):
        up = np.array(upper)  # (T, U, 3)
        ok = np.isfinite(up).all(axis=(1, 2))
        if ok.any():
            centre = np.median(up[ok], axis=0)
            out[:, -1] = np.sqrt(((up - centre) ** 2).sum(-1).mean(-1))
    return out.astype(np.float32)


def fill_missing(rows: np.ndarray) -> np.ndarray:
    """(T, F) with NaN rows -> the last valid row repeated (the first valid one before it), as LipTracker does.
    All-NaN input stays NaN."""
    x = np.array(rows, dtype=np.float32, copy=True)
    ok = np.isfinite(x).all(axis=1)
    if not ok.any():
        return x
    idx = np.where(ok, np.arange(len(x)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = int(np.argmax(ok))
    return x[idx]
