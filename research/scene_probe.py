"""Issue 17 research, fourth cue: does anything outside the face move like in camera footage?

    python -m research.scene_probe [--manifest EXTRA.csv]    # needs dynamics_extract.py's meshes -> CACHE/scene.csv

One-shot animators warp ONE photo: outside the head (background, torso) nothing but the codec changes, while a
camera sees noise, breathing, shoulders and lighting. Per frame, at the file's own resolution (not shrunk, so
sensor noise survives): ``bg_motion`` = mean |frame difference| outside the face box (mesh box grown by
``FACE_GROW`` on each side), ``bg_over_face`` = log of that over the same inside the mesh box, ``noise`` = mean
|frame - 3x3 median| over the flattest ``FLAT_PERCENTILE`` % of the background (the noise floor). Clip feature =
median over frames; hypothesis fixed before looking: fakes are LOWER on all three. Frames whose face box leaves
less than ``MIN_BACKGROUND`` of the frame outside are skipped. Nothing is fitted on a fake.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from research.dynamics_extract import clip_table, landmark_config, probe_parser, select_groups

FACE_GROW = 0.3
MIN_BACKGROUND = 0.2
FLAT_PERCENTILE = 30
EPS = 1e-3
FEATURES = ("bg_motion", "bg_over_face", "noise")


def frame_stats(grey: np.ndarray, prev: np.ndarray | None, box: tuple) -> dict | None:
    """Statistics of one (H, W) float32 grey frame; ``box`` = (x0, y0, x1, y1) of the face mesh in its pixels."""
    import cv2

    h, w = grey.shape
    x0, y0, x1, y1 = box
    mx, my = FACE_GROW * (x1 - x0), FACE_GROW * (y1 - y0)
    face = np.zeros((h, w), bool)
    face[int(max(0, y0 - my)):int(max(0, y1 + my)), int(max(0, x0 - mx)):int(max(0, x1 + mx))] = True
    if (~face).mean() < MIN_BACKGROUND:
        return None
    inner = np.zeros((h, w), bool)
    inner[int(max(0, y0)):int(max(0, y1)), int(max(0, x0)):int(max(0, x1))] = True
    out = {}
    residual = np.abs(grey - cv2.medianBlur(np.clip(grey, 0, 255).astype(np.uint8), 3).astype(np.float32))
    detail = np.abs(cv2.Laplacian(cv2.GaussianBlur(grey, (0, 0), 2), cv2.CV_32F))
    flat = (~face) & (detail <= np.percentile(detail[~face], FLAT_PERCENTILE))
    if flat.any():
        out["noise"] = float(residual[flat].mean())
    if prev is not None and inner.any():
        d = np.abs(grey - prev)
        out["bg_motion"] = float(d[~face].mean())
        out["bg_over_face"] = float(np.log((d[~face].mean() + EPS) / (d[inner].mean() + EPS)))
    return out


def clip_scene(path: str, points: np.ndarray, mesh_hw) -> dict:
    from avanomaly.io import iter_clip_chunks
    from avanomaly.preprocess.pipeline import CHUNK_FRAMES

    cfg = landmark_config()
    acc = {k: [] for k in FEATURES}
    prev, t = None, 0
    for chunk in iter_clip_chunks(path, CHUNK_FRAMES, cfg.fps, cfg.sample_rate, None):  # full resolution
        for fr in chunk.frames:
            if t >= len(points):
                break
            p, t = points[t], t + 1
            grey = fr.astype(np.float32).mean(-1)
            if not np.isfinite(p).all():
                prev = None
                continue
            s = grey.shape[1] / mesh_hw[1]  # the meshes were found on frames shrunk to cfg.max_side
            (x0, y0), (x1, y1) = p[:, :2].min(0) * s, p[:, :2].max(0) * s
            st = frame_stats(grey, prev, (x0, y0, x1, y1))
            prev = grey
            for k, v in (st or {}).items():
                acc[k].append(v)
    return {k: float(np.median(v)) if v else None for k, v in acc.items()}


def main(argv=None) -> int:
    ap = probe_parser(__doc__, steps=False)
    args = ap.parse_args(argv)
    import cv2

    from avanomaly.preprocess import FeatureCache

    cv2.setNumThreads(1)
    cfg = landmark_config()
    fc = FeatureCache(args.cache / "lm")
    table = clip_table(extra=args.manifest)
    table = table[table.group != "corpus_train"]
    table = select_groups(table, args.groups)
    out_dir = args.cache / "scene"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, r in enumerate(table.itertuples()):
        key = fc.key(r.path, cfg)
        f_out, mesh = out_dir / f"{key}.json", args.cache / "mesh" / f"{key}.npz"
        if not f_out.exists():
            if not mesh.exists():
                continue
            z = np.load(mesh)
            f_out.write_text(json.dumps(clip_scene(r.path, z["points"], tuple(z["frame_hw"]))))
            print(f"[{i + 1}/{len(table)}] {r.group} {Path(r.path).name}", flush=True)
        rows.append({"path": r.path, "group": r.group, **json.loads(f_out.read_text())})
    pd.DataFrame(rows).to_csv(args.cache / "scene.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
