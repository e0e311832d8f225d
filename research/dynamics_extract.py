"""Stage 0 of the dynamics probe: run the face mesh once per clip and cache everything the probe reads.

    python -m research.dynamics_extract [--cache WORK/dyncache] [--groups corpus shared generator]

For every clip (corpus train/val/test, the shared reals and fakes, the generator fakes) this writes

- ``CACHE/lm/<key>/``: the landmark front end's cache entry (98 lip features, mel, meta), the same key and
  content ``avanomaly preprocess --front-end landmarks`` gives, so the shipped sync model can score it;
- ``CACHE/mesh/<key>.npz``: ``points`` (T, 478, 3) float32 pixel meshes (NaN frames without a face) and
  ``frame_hw`` (H, W) of the decoded frames, for the dynamics features of research/dynamics.py.

Clips are decoded and tracked exactly as ``preprocess_file`` does (same chunks, same ``LipTracker``); the tracker's
landmarker is wrapped to record the meshes it returns. Already cached clips are skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
#: the folder the probes read their inputs from and cache into: $AVANOMALY_RESEARCH_WORK, else REPO/work
#: (the starter corpus of scripts/corpus.py in WORK/corpus, loose generator fakes in WORK/corpus/generator)
WORK = Path(os.environ.get("AVANOMALY_RESEARCH_WORK", REPO / "work"))
CORPUS = WORK / "corpus" / "manifest.csv"
REAL_AV = Path(os.environ.get("AVANOMALY_REAL_AV", REPO.parent / "shared" / "data" / "real-av"))
GENERATOR = WORK / "corpus" / "generator"
CACHE = WORK / "dyncache"
N_MESH_POINTS = 478
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mpg")


#: real clips no probe fits anything on: the negatives every probe measures fakes against
HELD_OUT_REAL = ("shared_real", "corpus_val", "corpus_test", "extra_real")


def probe_parser(doc: str, steps: bool = False) -> argparse.ArgumentParser:
    """The command line the probes share: [step] --cache --manifest (repeatable) --groups."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    if steps:
        ap.add_argument("step", choices=("extract", "report"))
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--manifest", type=Path, action="append", default=[],
                    help="extra reals and generator fakes (scripts/generator_corpus.py's manifest); repeatable")
    ap.add_argument("--groups", nargs="*", default=None, help="only these groups (prefix match)")
    return ap


def select_groups(table: pd.DataFrame, groups) -> pd.DataFrame:
    """The rows of ``table`` whose group starts with one of ``groups`` (None or empty: all rows)."""
    return table[table.group.str.startswith(tuple(groups))] if groups else table


def landmark_config():
    from avanomaly.preprocess import PreprocessConfig

    return PreprocessConfig(front_end="landmarks")


def clip_table(corpus: Path = CORPUS, real_av: Path = REAL_AV, generator: Path = GENERATOR, extra=()) -> pd.DataFrame:
    """One row per clip: path, group (corpus_train / corpus_val / corpus_test / shared_real / shared_fake /
    generator_fake, and for each ``extra`` manifest (path,label,method,identity; e.g. the one
    scripts/generator_corpus.py writes) extra_real / extra_fake_<method>), identity (speaker or source)
    and label."""
    rows = []
    c = pd.read_csv(corpus)
    for r in c.itertuples():
        rows.append({"path": str(corpus.parent / r.path), "group": f"corpus_{r.split}", "identity": r.identity,
                     "label": "real"})
    man = pd.read_csv(real_av / "manifest.csv")
    for r in man[man.label.isin(["real", "fake"])].itertuples():
        rows.append({"path": str(real_av / r.path), "group": f"shared_{r.label}", "identity": Path(r.path).stem,
                     "label": r.label})
    for p in sorted(generator.glob("*")):
        if p.suffix.lower() in VIDEO_SUFFIXES:
            rows.append({"path": str(p), "group": "generator_fake", "identity": p.stem.rsplit("_", 1)[0],
                         "label": "fake"})
    for m in extra:
        e = pd.read_csv(m)
        for r in e[e.label.isin(["real", "fake"])].itertuples():
            group = "extra_real" if r.label == "real" else f"extra_fake_{r.method}"
            rows.append({"path": str(Path(m).parent / r.path), "group": group, "identity": r.identity,
                         "label": r.label})
    return pd.DataFrame(rows)


class RecordingLandmarker:
    """Wraps FaceMeshLandmarker: returns its points unchanged and keeps every frame's mesh (None = no face)."""

    def __init__(self, inner_cls=None):
        from avanomaly.preprocess.landmarks import FaceMeshLandmarker

        self.inner = (inner_cls or FaceMeshLandmarker)()
        self.meshes: list = []
        self.frame_hw = None

    def points(self, frame_rgb):
        self.frame_hw = frame_rgb.shape[:2]
        pts = self.inner.points(frame_rgb)
        self.meshes.append(pts)
        return pts

    def close(self):
        self.inner.close()


def extract_one(path: str, cfg, cache, mesh_dir: Path) -> str:
    """Cache one clip (see the module docstring); returns 'done' or 'skipped'."""
    from avanomaly.preprocess import landmarks
    from avanomaly.preprocess.pipeline import preprocess_to_cache

    key = cache.key(path, cfg)
    mesh_file = mesh_dir / f"{key}.npz"
    if cache.has(key) and mesh_file.exists():
        return "skipped"
    made: list[RecordingLandmarker] = []
    inner_cls = landmarks.FaceMeshLandmarker

    def recording():  # the tracker builds its landmarker from this module attribute: record what it returns
        made.append(RecordingLandmarker(inner_cls))
        return made[-1]

    landmarks.FaceMeshLandmarker = recording
    try:
        preprocess_to_cache(path, cache, key, cfg)
    finally:
        landmarks.FaceMeshLandmarker = inner_cls
    lm = made[-1]
    pts = np.full((len(lm.meshes), N_MESH_POINTS, 3), np.nan, np.float32)
    for i, m in enumerate(lm.meshes):
        if m is not None:
            pts[i] = m[:N_MESH_POINTS]
    mesh_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(mesh_file, points=pts, frame_hw=np.array(lm.frame_hw))
    return "done"


def extract_resized(path: str, cfg, cache, mesh_dir: Path, out_dir: Path, target_iod: float) -> str:
    """Meshes of ``path`` with every frame shrunk so the clip's median inter-ocular distance (from its full-size
    mesh in ``mesh_dir``) becomes ``target_iod`` pixels (never enlarged): all clips then have the face at about
    the same pixel size, so landmark tracking noise no longer tells the sources apart. -> OUT_DIR/<key>.npz."""
    import cv2

    from avanomaly.io import iter_clip_chunks
    from research.dynamics import dynamics_from_points, fill_missing
    from avanomaly.preprocess.landmarks import FaceMeshLandmarker
    from avanomaly.preprocess.pipeline import CHUNK_FRAMES

    key = cache.key(path, cfg)
    out = out_dir / f"{key}.npz"
    if out.exists():
        return "skipped"
    full = np.load(mesh_dir / f"{key}.npz")["points"]
    iod = float(np.median(fill_missing(dynamics_from_points(full))[:, 5]))
    factor = min(1.0, target_iod / iod)
    lm = FaceMeshLandmarker()
    meshes, hw = [], None
    for chunk in iter_clip_chunks(path, CHUNK_FRAMES, cfg.fps, cfg.sample_rate, cfg.max_side):
        for frame in chunk.frames:
            h, w = frame.shape[:2]
            size = (max(2, int(round(w * factor))), max(2, int(round(h * factor))))
            small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if factor < 1 else frame
            hw = small.shape[:2]
            pts = lm.points(small)
            meshes.append(np.full((N_MESH_POINTS, 3), np.nan, np.float32) if pts is None else pts[:N_MESH_POINTS])
    lm.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, points=np.array(meshes, np.float32), frame_hw=np.array(hw), factor=factor)
    return "done"


def main(argv=None) -> int:
    ap = probe_parser(__doc__)
    ap.add_argument("--target-iod", type=float, default=None,
                    help="second pass: meshes of frames shrunk to this inter-ocular distance (px) -> CACHE/mesh_iod<N>")
    args = ap.parse_args(argv)
    import cv2
    import torch

    from avanomaly.preprocess import FeatureCache

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    cfg = landmark_config()
    cache = FeatureCache(args.cache / "lm")
    table = clip_table(extra=args.manifest)
    table = select_groups(table, args.groups)
    # small groups first, so the probe can start on them while the corpus finishes
    order = {"generator_fake": 0, "shared_real": 1, "shared_fake": 2, "corpus_test": 3, "corpus_val": 4}
    table = table.assign(o=table.group.map(order).fillna(len(order))).sort_values(["o", "path"])
    t0 = time.time()
    for i, r in enumerate(table.itertuples()):
        try:
            if args.target_iod:
                status = extract_resized(r.path, cfg, cache, args.cache / "mesh",
                                         args.cache / f"mesh_iod{args.target_iod:g}", args.target_iod)
            else:
                status = extract_one(r.path, cfg, cache, args.cache / "mesh")
        except Exception as exc:  # noqa: BLE001 - report and go on with the other clips
            status = f"failed: {type(exc).__name__}: {exc}"
        print(f"[{i + 1}/{len(table)} {time.time() - t0:.0f}s] {r.group} {Path(r.path).name}: {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
