"""Issue 17 research, third cue: does the SKIN of a generated talking head change over time like real skin?

    python -m research.texture_probe extract [--manifest EXTRA.csv]   # needs dynamics_extract.py's meshes
    python -m research.texture_probe report [--manifest EXTRA.csv]

Every frame's face is warped onto one canonical face shape (a piecewise-affine warp through the 478-point mesh,
the "shape-free texture" of active appearance models), so head motion, expression and face size are taken out
and what is left is how the texture itself changes. Hypotheses, fixed before looking at any fake:

- one-shot animators (SadTalker, AniTalker, EDTalk, ...) warp ONE photo: their skin texture barely changes, while
  the mouth (teeth, inner mouth) is generated -> a high ratio of mouth change to skin change;
- lip-sync inpainters (Wav2Lip, ...) regenerate the mouth every frame and keep the real upper face -> the same
  direction, through the mouth's flicker.

Per clip: medians over frames of log(mouth change / skin change) (``mouth_over_skin``), the skin's frame-to-frame
change relative to its own detail (``skin_flicker``) and its drift from the clip's median texture
(``skin_drift``). Nothing is fitted on a fake.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from research.dynamics_extract import HELD_OUT_REAL, clip_table, landmark_config, probe_parser, select_groups

#: canonical face: inter-ocular distance (px), eye centres' height, canvas size (H, W)
IOD = 32.0
EYE_Y = 36.0
CANVAS = (100, 80)
EPS = 1e-3
#: mesh points of the skin regions (forehead, cheeks, nose bridge): their convex hulls are the skin masks
FOREHEAD = (10, 67, 109, 338, 297, 151, 108, 337, 69, 299, 9)
CHEEK_L = (50, 101, 118, 117, 123, 187, 205, 36, 142)
CHEEK_R = (280, 330, 347, 346, 352, 411, 425, 266, 371)
NOSE = (6, 197, 195, 5, 4, 45, 275, 168)
CANON_CLIPS = 30


def _norm(points: np.ndarray) -> np.ndarray:
    """(P, 2) pixel points -> canonical frame (eye centres at fixed places)."""
    from avanomaly.preprocess.landmarks import EYE_LEFT, EYE_RIGHT

    el, er = points[list(EYE_LEFT)].mean(0), points[list(EYE_RIGHT)].mean(0)
    v = er - el
    s = IOD / max(np.hypot(*v), EPS)
    a = -np.arctan2(v[1], v[0])
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = np.array([CANVAS[1] / 2, EYE_Y])
    return (points - (el + er) / 2) @ rot.T + centre


def _eye_distance(points: np.ndarray) -> float:
    from avanomaly.preprocess.landmarks import EYE_LEFT, EYE_RIGHT

    return float(np.hypot(*(points[list(EYE_RIGHT)].mean(0) - points[list(EYE_LEFT)].mean(0))))


def canonical_shape(mesh_files: list[Path]) -> np.ndarray:
    """Mean normalised (478, 2) mesh of a few frames of real training clips."""
    acc = []
    for f in mesh_files[:CANON_CLIPS]:
        pts = np.load(f)["points"][:, :, :2]
        for p in pts[::10]:
            if np.isfinite(p).all():
                acc.append(_norm(p.astype(np.float64)))
    return np.mean(acc, axis=0)


class Warper:
    """Piecewise-affine warp of a frame onto the canonical shape through the mesh (Delaunay of the canonical)."""

    def __init__(self, canon: np.ndarray):
        from matplotlib.path import Path as MplPath
        from scipy.spatial import Delaunay

        self.canon = canon
        tri = Delaunay(canon)
        ys, xs = np.mgrid[0:CANVAS[0], 0:CANVAS[1]]
        grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
        simplex = tri.find_simplex(grid)
        inside = simplex >= 0
        t = tri.transform[simplex[inside]]
        b = np.einsum("nij,nj->ni", t[:, :2], grid[inside] - t[:, 2])
        self.weights = np.c_[b, 1 - b.sum(1)].astype(np.float32)  # (n, 3)
        self.vertices = tri.simplices[simplex[inside]]  # (n, 3)
        self.pixels = np.flatnonzero(inside)
        self.masks = {}
        for name, idx in (("forehead", FOREHEAD), ("cheek_l", CHEEK_L), ("cheek_r", CHEEK_R), ("nose", NOSE)):
            self.masks[name] = self._hull_mask(canon[list(idx)], grid, MplPath)
        from avanomaly.preprocess.landmarks import LIPS_OUTER

        self.masks["mouth"] = self._hull_mask(canon[list(LIPS_OUTER)], grid, MplPath)
        self.masks["skin"] = self.masks["forehead"] | self.masks["cheek_l"] | self.masks["cheek_r"] | self.masks["nose"]

    @staticmethod
    def _hull_mask(pts, grid, mpl_path) -> np.ndarray:
        from scipy.spatial import ConvexHull

        hull = pts[ConvexHull(pts).vertices]
        return mpl_path(hull).contains_points(grid).reshape(CANVAS)

    def __call__(self, grey: np.ndarray, points: np.ndarray) -> np.ndarray:
        import cv2

        src = np.einsum("nk,nkd->nd", self.weights, points[self.vertices, :2].astype(np.float32))
        mx = np.full(CANVAS[0] * CANVAS[1], -1.0, np.float32)
        my = np.full(CANVAS[0] * CANVAS[1], -1.0, np.float32)
        mx[self.pixels], my[self.pixels] = src[:, 0], src[:, 1]
        return cv2.remap(grey, mx.reshape(CANVAS), my.reshape(CANVAS), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def texture_features(textures: list, masks: dict) -> dict:
    """Shape-free textures (None where no face) -> clip features (see the module docstring)."""
    import cv2

    skin, mouth = masks["skin"], masks["mouth"]
    ratio, flicker, detail = [], [], []
    valid = [t for t in textures if t is not None]
    if len(valid) < 3:
        return {}
    med = np.median(np.stack(valid), axis=0)
    drift = []
    prev = None
    for t in textures:
        if t is None:
            prev = None
            continue
        lap = np.abs(cv2.Laplacian(t, cv2.CV_32F))
        d_skin_detail = float(lap[skin].mean())
        detail.append(d_skin_detail)
        drift.append(float(np.abs(t - med)[skin].mean()) / (d_skin_detail + EPS))
        if prev is not None:
            diff = np.abs(t - prev)
            ds, dm = float(diff[skin].mean()), float(diff[mouth].mean())
            ratio.append(np.log((dm + EPS) / (ds + EPS)))
            flicker.append(ds / (d_skin_detail + EPS))
        prev = t
    return {"mouth_over_skin": float(np.median(ratio)), "skin_flicker": float(np.median(flicker)),
            "skin_drift": float(np.median(drift)), "skin_detail": float(np.median(detail))}


def extract(table: pd.DataFrame, cache: Path, train_paths: list) -> pd.DataFrame:
    import cv2

    from avanomaly.io import iter_clip_chunks
    from avanomaly.preprocess import FeatureCache
    from avanomaly.preprocess.pipeline import CHUNK_FRAMES

    cfg = landmark_config()
    fc = FeatureCache(cache / "lm")
    out_dir = cache / "texture"
    out_dir.mkdir(parents=True, exist_ok=True)
    canon_file = out_dir / "canonical.npy"
    if not canon_file.exists():
        train = train_paths[::8]
        np.save(canon_file, canonical_shape([cache / "mesh" / f"{fc.key(p, cfg)}.npz" for p in train]))
    warp = Warper(np.load(canon_file))
    rows = []
    for i, r in enumerate(table.itertuples()):
        key = fc.key(r.path, cfg)
        f_out, mesh = out_dir / f"{key}.json", cache / "mesh" / f"{key}.npz"
        if f_out.exists():
            rows.append({**r._asdict(), **json.loads(f_out.read_text())})
            continue
        if not mesh.exists():
            continue
        points = np.load(mesh)["points"]
        textures, t = [], 0
        for chunk in iter_clip_chunks(r.path, CHUNK_FRAMES, cfg.fps, cfg.sample_rate, cfg.max_side):
            for fr in chunk.frames:
                if t >= len(points):
                    break
                p = points[t]
                t += 1
                if not np.isfinite(p).all():
                    textures.append(None)
                    continue
                grey = fr.astype(np.float32).mean(-1)
                iod = _eye_distance(p[:, :2])
                f = min(1.0, 2 * IOD / max(iod, EPS))  # shrink big faces first: remap samples, it does not average
                if f < 1.0:
                    grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                    p = p * f
                textures.append(warp(grey, p))
        feats = texture_features(textures, warp.masks)
        f_out.write_text(json.dumps(feats))
        rows.append({**r._asdict(), **feats})
        print(f"[{i + 1}/{len(table)}] {r.group} {Path(r.path).name}: {feats}", flush=True)
    return pd.DataFrame(rows).drop(columns=["Index"], errors="ignore")


def head_pose_spread(mesh_file: Path) -> float:
    """Sum of the clip's yaw, pitch and roll standard deviations (radians), from its meshes."""
    from research.dynamics import POSE_COLUMNS, dynamics_from_points, fill_missing

    rows = fill_missing(dynamics_from_points(np.load(mesh_file)["points"]))
    return float(sum(np.nanstd(rows[:, POSE_COLUMNS.index(c)]) for c in ("yaw", "pitch", "roll")))


def report(df: pd.DataFrame, cache: Path) -> None:
    """AUC of each feature (fake higher) per fake group, and of the skin drift with head motion regressed out."""
    from avanomaly.preprocess import FeatureCache
    from real_faces import auc

    df = df.dropna(subset=["skin_drift"]).copy()
    fc, cfg = FeatureCache(cache / "lm"), landmark_config()
    df["pose_spread"] = [head_pose_spread(cache / "mesh" / f"{fc.key(p, cfg)}.npz") for p in df.path]
    reals = df[df.group.isin(HELD_OUT_REAL)]
    fakes = df[(df.label == "fake") & ~df.group.str.contains("AniPortrait")]
    # real-only: how much of the skin's drift is head motion? (log-log fit on the held-out reals)
    x, y = np.log(df.pose_spread), np.log(df.skin_drift)
    fit = np.polyfit(x[reals.index], y[reals.index], 1)
    df["drift_given_pose"] = y - np.polyval(fit, x)
    reals, fakes = df.loc[reals.index], df.loc[fakes.index]
    print(f"held-out reals {len(reals)}, fakes {len(fakes)}; among reals corr(log pose spread, log skin drift) = "
          f"{np.corrcoef(x[reals.index], y[reals.index])[0, 1]:.2f}")
    for c in ("mouth_over_skin", "skin_flicker", "skin_drift", "drift_given_pose", "pose_spread"):
        print(f"\n{c}: all fakes AUC (fake higher) {auc(reals[c], fakes[c]):.3f}")
        for g, f in fakes.groupby("group"):
            if len(f) >= 3:
                print(f"   {g[:40]:40s} n={len(f):2d} {auc(reals[c], f[c]):.3f}")


def main(argv=None) -> int:
    ap = probe_parser(__doc__, steps=True)
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    table = clip_table(extra=args.manifest)
    train_paths = table[table.group == "corpus_train"].path.tolist()
    table = select_groups(table, args.groups)
    df = extract(table, args.cache, train_paths)
    df.to_csv(args.cache / "texture.csv", index=False)
    if args.step == "report":
        report(df, args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
