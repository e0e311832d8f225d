"""Scoring speed: real-time factor of end-to-end scoring vs decode-only on the same files, same run.

    .venv/bin/python benchmarks/scoring.py [--model RUN_OR_MODEL_PT] [--threads 2] [FILES...]

Without --model a default-sized, randomly initialised model is used (the architecture defaults of
SyncModelConfig / ARModelConfig and the default PreprocessConfig with the CenterFace detector): speed does
not depend on the weights. Without FILES the shared real clips (../shared/data/real-av/real) are used.

Reports, per file and in total, video seconds per wall second for
  decode    iter_clip_chunks only (PyAV decode + resample), the floor for any scorer;
  frontend  decode + the front end only (face tracking / face mesh, mouth crops or lip features, log-mel; no
            model): preprocess.stream.stream_features, the extractor the Detector reads files through;
  score     Detector.anomaly_score end to end (decode, front end, sync model, AR model);
and score/decode, score/frontend (how much of the ceiling the model leaves), and CPU time / wall time of each
stage (resource.getrusage: 2.0 = both of 2 cores busy). ``--workers N`` (N > 1) adds a pass that scores all files
in N processes (avanomaly.scoring.pool, the pool of ``avanomaly score DIR``): its real-time factor, CPU/wall
(children included) and the peak RSS of the largest worker. Targets: score >= 10x real time on 2 cores and
>= 0.5 of decode-only speed.
"""

from __future__ import annotations

import argparse
import json
import resource
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


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process (``children``: of its waited-for child processes)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def frontend_seconds(path, det) -> float:
    """Wall seconds of decode + front end (no model) on ``path``, the Detector's own streaming extractor."""
    from avanomaly.io import iter_clip_chunks
    from avanomaly.preprocess.stream import StreamState, stream_features

    cfg = det.preprocess_cfg
    t0 = time.perf_counter()
    chunks = iter_clip_chunks(path, chunk_frames=det.chunk_frames, fps=cfg.fps, sample_rate=cfg.sample_rate,
                              max_side=cfg.max_side)
    for _ in stream_features(chunks, cfg, det.face_detector, name=str(path), state=StreamState(),
                             face_fallback="center"):
        pass
    return time.perf_counter() - t0


def timed(fn, *args):
    """(result of fn, wall seconds, CPU seconds of this process) of one call."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0, cpu_seconds() - c0


def pool_pass(files, args) -> dict:
    """Score every file in ``args.workers`` processes (the pool of ``avanomaly score DIR``): wall, CPU, peak RSS."""
    from avanomaly.scoring.pool import load_detector, scoring_pool

    model = args.model or str(REPO / "avanomaly" / "pretrained" / "starter.pt")
    c0, cc0, t0 = cpu_seconds(), cpu_seconds(children=True), time.perf_counter()
    n_ok = 0
    with scoring_pool([str(f) for f in files], args.workers, load_detector,
                      (model, args.device, {"precision": args.precision}), threads=None,
                      score_kwargs={"threshold": 0.0}) as finished:
        for _, res in finished:
            n_ok += bool(res.ok)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - c0 + cpu_seconds(children=True) - cc0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB -> MiB, the largest worker
    return {"workers": args.workers, "files_ok": n_ok, "wall_s": wall, "cpu_over_wall": cpu / wall,
            "peak_rss_worker_mib": peak, "model": model}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=1, help="passes over the files (best pass is reported)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="sync-model arithmetic")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the numbers here")
    ap.add_argument("--workers", type=int, default=1, help="> 1: also score all files in this many processes "
                    "(needs --model, or scores with the starter model)")
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
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    for f in files:
        best = {"decode": (float("inf"), 0.0), "frontend": (float("inf"), 0.0), "score": (float("inf"), 0.0)}
        video_s = 0.0
        for _ in range(args.repeat):
            (video_s, dec), _, dec_cpu = timed(decode_seconds, f, cfg, det.chunk_frames)
            fe, _, fe_cpu = timed(frontend_seconds, f, det)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, sc, sc_cpu = timed(det.anomaly_score, f, None, 0.0)
            for key, wall, cpu in (("decode", dec, dec_cpu), ("frontend", fe, fe_cpu), ("score", sc, sc_cpu)):
                if wall < best[key][0]:
                    best[key] = (wall, cpu)
        (dec, dec_cpu), (fe, fe_cpu), (sc, sc_cpu) = best["decode"], best["frontend"], best["score"]
        rows.append({"file": f.name, "video_s": video_s, "decode_wall_s": dec, "frontend_wall_s": fe,
                     "score_wall_s": sc, "decode_cpu_s": dec_cpu, "frontend_cpu_s": fe_cpu, "score_cpu_s": sc_cpu,
                     "decode_rtf": video_s / dec, "frontend_rtf": video_s / fe, "score_rtf": video_s / sc,
                     "ratio": dec / sc, "score_over_frontend": fe / sc})
        r = rows[-1]
        print(f"{r['file']:<40} {video_s:6.2f} s video  decode {r['decode_rtf']:7.1f}x  front end "
              f"{r['frontend_rtf']:6.1f}x  score {r['score_rtf']:6.1f}x  score/decode {r['ratio']:.2f}  "
              f"score/frontend {r['score_over_frontend']:.2f}", flush=True)
    total_v = sum(r["video_s"] for r in rows)
    tot = {k: sum(r[f"{k}_wall_s"] for r in rows) for k in ("decode", "frontend", "score")}
    cpu = {k: sum(r[f"{k}_cpu_s"] for r in rows) for k in ("decode", "frontend", "score")}
    summary = {"threads": args.threads, "device": args.device, "model": args.model or "default-size random",
               "files": len(rows), "video_s": total_v, "decode_rtf": total_v / tot["decode"],
               "frontend_rtf": total_v / tot["frontend"], "score_rtf": total_v / tot["score"],
               "score_over_decode": tot["decode"] / tot["score"], "score_over_frontend": tot["frontend"] / tot["score"],
               "cpu_over_wall": {k: cpu[k] / tot[k] for k in tot},
               "process_cpu_over_wall": (cpu_seconds() - cpu0) / (time.perf_counter() - wall0),
               "target_rtf": TARGET_RTF, "target_ratio": TARGET_RATIO, "rows": rows}
    print(f"TOTAL {total_v:.1f} s video: decode {summary['decode_rtf']:.1f}x real time, front end (no model) "
          f"{summary['frontend_rtf']:.1f}x, score {summary['score_rtf']:.1f}x; score/decode "
          f"{summary['score_over_decode']:.2f}, score/front end {summary['score_over_frontend']:.2f} "
          f"(targets >= {TARGET_RTF}x and >= {TARGET_RATIO})")
    print("CPU time / wall time: " + ", ".join(f"{k} {v:.2f}" for k, v in summary["cpu_over_wall"].items())
          + f"; whole run {summary['process_cpu_over_wall']:.2f} (of {args.threads} thread(s))")
    if args.workers > 1:
        pool = summary["pool"] = pool_pass(files, args)
        pool["score_rtf"] = total_v / pool["wall_s"]
        print(f"POOL {args.workers} workers: score {pool['score_rtf']:.1f}x real time ({pool['files_ok']} files ok, "
              f"{pool['wall_s']:.1f} s), CPU/wall {pool['cpu_over_wall']:.2f} (children included), peak RSS of the "
              f"largest worker {pool['peak_rss_worker_mib']:.0f} MiB")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
