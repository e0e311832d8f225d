"""What the face-mesh options buy and cost (issue 23 item 4): speed vs the starter's scores and shift/swap AUC.

    PYTHONPATH=. .venv/bin/python benchmarks/mesh_options.py [--model starter] [--out mesh_options.json]

On the 10 shared real clips (../shared/data/real-av/real, decoded as the model's PreprocessConfig says): each
variant of the landmark front end recomputes the lip features of every frame from the same decoded frames, and
the model scores them (``Detector.score_features``, the log-mel of the file's own stream) as they are, with the
audio shifted by +-3 / +-5 frames and with the next clip's audio (benchmarks/real_faces.py ``shifted`` /
``swapped``). Reported per variant: face-mesh CPU ms per frame (time.process_time of the mesh + lip features,
one process: the speed the pipelined path's critical path runs at), the largest and median |score change| of the
real clips against the default variant (the shipped front end), and the AUC of real vs shifted and real vs
swapped clips (10 real clips: 40 shifted, 10 swapped, so a difference of one pair moves the AUC by 0.0025 /
0.01).

Variants: ``default`` (tracking mode, refined landmarks, the decode size: long side <= max_side 512);
``no_refine`` (refine_landmarks=False: the 468-point mesh without the attention lips); ``static`` (no tracking:
detection on every frame); ``track_conf_0.3`` / ``det_conf_0.3`` (min_tracking / min_detection confidence 0.3
instead of 0.5); ``side_384`` / ``side_320`` / ``side_256`` (frames down-scaled, INTER_AREA, to this long side
before the mesh); ``skip_silent`` (no mesh on frames whose audio is silent by the stream's SILENCE_DBFS: the
previous frame's points stand in); ``split`` (what ``--mesh-workers N >= 2`` computes: face tracks of
MESH_SEGMENT_FRAMES, each warmed up on the MESH_WARMUP_FRAMES before it, here one after the other).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real-av" / "real"
sys.path.insert(0, str(Path(__file__).resolve().parent))
SHIFTS = (-5, -3, 3, 5)


class Mesh:
    """FaceMeshLandmarker with the variant's settings (and down-scaling)."""

    def __init__(self, static=False, refine=True, det_conf=0.5, track_conf=0.5, side=None):
        from mediapipe.python.solutions import face_mesh

        self.side = side
        self.mesh = face_mesh.FaceMesh(static_image_mode=static, max_num_faces=1, refine_landmarks=refine,
                                       min_detection_confidence=det_conf, min_tracking_confidence=track_conf)

    def points(self, frame):
        import cv2

        from avanomaly.preprocess.landmarks import mesh_points

        h, w = frame.shape[:2]
        if self.side and max(h, w) > self.side:
            k = self.side / max(h, w)
            frame = cv2.resize(frame, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
            h, w = frame.shape[:2]
        res = self.mesh.process(np.ascontiguousarray(frame))
        if not res.multi_face_landmarks:
            return None
        return mesh_points(res.multi_face_landmarks[0], w, h)

    def close(self):
        self.mesh.close()


VARIANTS = {
    "default": {}, "no_refine": {"refine": False}, "static": {"static": True},
    "track_conf_0.3": {"track_conf": 0.3}, "det_conf_0.3": {"det_conf": 0.3},
    "side_384": {"side": 384}, "side_320": {"side": 320}, "side_256": {"side": 256}, "skip_silent": {},
    "split": {},
}


def lip_track(frames, silent, cfg, variant):
    """frames (T,H,W,3) -> (features (T,F), found (T,), CPU seconds of the mesh + features)."""
    from avanomaly.preprocess.landmarks import LipTracker

    mesh = Mesh(**VARIANTS[variant])
    tracker = LipTracker(cfg, landmarker_factory=lambda: mesh)
    t0 = time.process_time()
    if variant == "split":
        from avanomaly.scoring.streams import MESH_SEGMENT_FRAMES as seg, MESH_WARMUP_FRAMES as warm

        pts = []
        for s in range(0, len(frames), seg):
            track = Mesh()
            start = max(0, s - warm)
            pts.extend([track.points(f) for f in frames[start:s + seg]][s - start:])
            track.close()
        tracker.push_points(pts)
    elif variant == "skip_silent":
        pts, last = [], None
        for f, s in zip(frames, silent):
            if not s or last is None:
                last = mesh.points(f)
            pts.append(last)
        tracker.push_points(pts)
    else:
        tracker.push(frames)
    feats, found = tracker.finish()
    return feats, found, time.process_time() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="starter")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import dataclasses

    import torch

    torch.set_num_threads(1)
    from avanomaly.io import iter_clip_chunks
    from avanomaly.preprocess.stream import StreamState, stream_features
    from real_faces import auc, shifted, swapped

    from avanomaly.scoring.detector import Detector

    det = Detector.from_pretrained(args.model, device="cpu", pipeline=False)
    cfg = dataclasses.replace(det.preprocess_cfg, face_fallback="center")
    variants = args.variants.split(",")
    files = sorted(p for p in REAL.iterdir() if p.is_file())
    feats = {v: [] for v in variants}
    cpu = {v: 0.0 for v in variants}
    mels, n_frames = [], 0
    for f in files:
        chunks = list(iter_clip_chunks(f, chunk_frames=det.chunk_frames, fps=cfg.fps, sample_rate=cfg.sample_rate,
                                       max_side=cfg.max_side))
        frames = np.concatenate([c.frames for c in chunks])
        runs = list(stream_features(iter(chunks), cfg, name=str(f), state=StreamState(), face_fallback="center"))
        mel = np.concatenate([r[1] for r in runs])
        silent = np.concatenate([r[3] for r in runs])
        mels.append(mel)
        n_frames += len(frames)
        for v in variants:
            vis, found, secs = lip_track(frames, silent, cfg, v)
            feats[v].append((vis, found))
            cpu[v] += secs
        print(f"{f.name}: {len(frames)} frames", file=sys.stderr, flush=True)
        del frames, chunks

    def score(vis, mel, found=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return det.score_features(vis, mel, face_found=found, threshold=0.0).score

    rows, ref = {}, None
    for v in variants:
        real = [score(vis, mel, found) for (vis, found), mel in zip(feats[v], mels)]
        shift = [score(*shifted(vis, mel, s)) for (vis, _), mel in zip(feats[v], mels) for s in SHIFTS]
        swap = [score(*swapped(vis, mels[(i + 1) % len(mels)])) for i, (vis, _) in enumerate(feats[v])]
        if ref is None:
            ref = np.array(real)
        change = np.abs(np.array(real) - ref)
        rows[v] = {"mesh_cpu_ms_per_frame": 1e3 * cpu[v] / n_frames, "max_score_change": float(change.max()),
                   "median_score_change": float(np.median(change)), "shift_auc": auc(real, shift),
                   "swap_auc": auc(real, swap), "face_rate": float(np.mean(np.concatenate([f for _, f in feats[v]]))),
                   "real_scores": real}
        r = rows[v]
        print(f"{v:<16} mesh {r['mesh_cpu_ms_per_frame']:5.2f} ms/frame  |score change| max {r['max_score_change']:.3f} "
              f"median {r['median_score_change']:.3f}  shift AUC {r['shift_auc']:.3f}  swap AUC {r['swap_auc']:.3f}  "
              f"face rate {r['face_rate']:.3f}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"model": args.model, "frames": n_frames, "variants": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
