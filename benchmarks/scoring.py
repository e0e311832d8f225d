"""Scoring speed: real-time factor of end-to-end scoring vs decode-only on the same files, same run.

    .venv/bin/python benchmarks/scoring.py [--model RUN_OR_MODEL_PT] [--threads 2] [FILES...]

Without --model a default-sized, randomly initialised model is used (the architecture defaults of
SyncModelConfig / ARModelConfig and the default PreprocessConfig with the CenterFace detector): speed does
not depend on the weights. Without FILES the shared real clips (../shared/data/real-av/real) are used.

Reports, per file and in total, video seconds per wall second for
  decode   iter_clip_chunks only (PyAV decode + resample), the floor for any scorer;
  score    Detector.anomaly_score end to end (decode, face tracking, mouth crops, log-mel, sync model, AR model);
and score/decode. Targets: score >= 10x real time on 2 cores and >= 0.5 of decode-only speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILES = REPO.parent / "shared" / "data" / "real-av" / "real"
TARGET_RTF = 10.0
TARGET_RATIO = 0.5


def default_detector(device: str, precision: str = "fp32"):
    from avanomaly.models import create_model
    from avanomaly.preprocess.config import PreprocessConfig
    from avanomaly.scoring.detector import Detector

    sync = create_model("sync")
    ar = create_model("ar", in_features=sync.feature_dim, n_offsets=sync.n_offsets)
    return Detector(sync, ar, PreprocessConfig(face_fallback="center"), device=device, precision=precision)


def decode_seconds(path, cfg, chunk_frames: int) -> tuple[float, float]:
    from avanomaly.io import iter_clip_chunks

    t0 = time.perf_counter()
    n = 0
    fps = cfg.fps
    for chunk in iter_clip_chunks(path, chunk_frames=chunk_frames, fps=cfg.fps, sample_rate=cfg.sample_rate,
                                  max_side=cfg.max_side):
        n += chunk.n_frames
        fps = chunk.fps
    return n / fps, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=1, help="passes over the files (best pass is reported)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="sync-model arithmetic")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from avanomaly.scoring.detector import Detector

    files = [Path(f) for f in args.files] or sorted(p for p in DEFAULT_FILES.iterdir() if p.is_file())
    det = (Detector.from_pretrained(args.model, device=args.device, precision=args.precision) if args.model
           else default_detector(args.device, args.precision))
    cfg = det.preprocess_cfg
    # warm-up (model first-call overheads, detector session) on the first file, not timed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det.anomaly_score(files[0], threshold=0.0)

    rows = []
    for f in files:
        best_dec, best_score, video_s = float("inf"), float("inf"), 0.0
        for _ in range(args.repeat):
            video_s, dec = decode_seconds(f, cfg, det.chunk_frames)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                det.anomaly_score(f, threshold=0.0)
            best_dec, best_score = min(best_dec, dec), min(best_score, time.perf_counter() - t0)
        rows.append({"file": f.name, "video_s": video_s, "decode_wall_s": best_dec, "score_wall_s": best_score,
                     "decode_rtf": video_s / best_dec, "score_rtf": video_s / best_score,
                     "ratio": best_dec / best_score})
        r = rows[-1]
        print(f"{r['file']:<40} {video_s:6.2f} s video  decode {r['decode_rtf']:7.1f}x  score {r['score_rtf']:6.1f}x  "
              f"score/decode {r['ratio']:.2f}", flush=True)
    total_v = sum(r["video_s"] for r in rows)
    total_d = sum(r["decode_wall_s"] for r in rows)
    total_s = sum(r["score_wall_s"] for r in rows)
    summary = {"threads": args.threads, "device": args.device, "model": args.model or "default-size random",
               "files": len(rows), "video_s": total_v, "decode_rtf": total_v / total_d,
               "score_rtf": total_v / total_s, "score_over_decode": total_d / total_s,
               "target_rtf": TARGET_RTF, "target_ratio": TARGET_RATIO, "rows": rows}
    print(f"TOTAL {total_v:.1f} s video: decode {summary['decode_rtf']:.1f}x real time, score "
          f"{summary['score_rtf']:.1f}x real time, score/decode {summary['score_over_decode']:.2f} "
          f"(targets >= {TARGET_RTF}x and >= {TARGET_RATIO})")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
