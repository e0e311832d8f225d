"""Preprocessing throughput on the shared real clips (prints numbers; not a test).

    .venv/bin/python benchmarks/preprocess.py [--real-av ../shared/data/real-av] [--detector-stats]

Reports, for the real clips of the dev set:
  decode-only frames/s (load_clip at max_side), full preprocessing frames/s (decode + detection + crops +
  log-mel, one process), their ratio, and preprocess_many with 1 vs 2 worker processes (including process
  start-up). --detector-stats adds per-frame face detection rate and ms/frame of each registered detector
  when run on every frame.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import torch

from avanomaly.io import load_clip
from avanomaly.preprocess import PreprocessConfig, available_detectors, create_detector, preprocess_file, preprocess_many

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL_AV = Path(os.environ.get("AVANOMALY_REAL_AV", REPO.parent / "shared" / "data" / "real-av"))


def _real_clips(root: Path) -> list[Path]:
    return sorted(p for p in (root / "real").iterdir() if p.is_file())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-av", type=Path, default=DEFAULT_REAL_AV)
    ap.add_argument("--detector-stats", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch/OpenCV threads in this process")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    cfg = PreprocessConfig()
    clips = _real_clips(args.real_av)
    print(f"{len(clips)} real clips from {args.real_av}; config: detector={cfg.detector} detect_every={cfg.detect_every} "
          f"max_side={cfg.max_side}; threads={args.threads}; cpus={os.cpu_count()}")

    t0 = time.perf_counter()
    n_frames = 0
    for p in clips:
        n_frames += load_clip(p, fps=cfg.fps, sample_rate=cfg.sample_rate, max_side=cfg.max_side).n_frames
    decode_s = time.perf_counter() - t0
    decode_fps = n_frames / decode_s
    print(f"decode only:          {n_frames} frames in {decode_s:.2f} s = {decode_fps:.0f} frames/s")

    detector = create_detector(cfg.detector)
    t0 = time.perf_counter()
    for p in clips:
        preprocess_file(p, cfg, detector)
    full_s = time.perf_counter() - t0
    full_fps = n_frames / full_s
    print(f"full preprocessing:   {n_frames} frames in {full_s:.2f} s = {full_fps:.0f} frames/s")
    print(f"ratio full / decode:  {full_fps / decode_fps:.2f}  (target >= 0.5)")

    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            report = preprocess_many(clips, tmp, cfg, workers=workers, progress=False)
            s = time.perf_counter() - t0
        assert not report.failed, report.failed
        print(f"preprocess_many workers={workers}: {s:.2f} s = {n_frames / s:.0f} frames/s")

    if args.detector_stats:
        print("\nper-frame detection (detector run on every frame, frames at max_side):")
        for name in available_detectors():
            det = create_detector(name)
            found = total = 0
            t_det = 0.0
            per_clip = []
            for p in clips:
                clip = load_clip(p, max_side=cfg.max_side)
                f_clip = 0
                for frame in clip.frames:
                    t0 = time.perf_counter()
                    faces = det.detect(frame)
                    t_det += time.perf_counter() - t0
                    f_clip += bool(faces)
                found += f_clip
                total += clip.n_frames
                per_clip.append(f"{p.name}={f_clip}/{clip.n_frames}")
            print(f"  {name:12s} found {found}/{total} ({found / total:.1%}), {1000 * t_det / total:.1f} ms/frame")
            print("    " + ", ".join(per_clip))


if __name__ == "__main__":
    main()
