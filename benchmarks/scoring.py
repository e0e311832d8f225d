"""Scoring speed: real-time factor of end-to-end scoring vs decode-only on the same files, same run.

    .venv/bin/python benchmarks/scoring.py [--model RUN_OR_MODEL_PT] [--threads 2] [FILES...]

Without --model a default-sized, randomly initialised model is used (the architecture defaults of
SyncModelConfig / ARModelConfig and the default PreprocessConfig with the CenterFace detector): speed does
not depend on the weights. Without FILES the shared real clips (../shared/data/real-av/real) are used.

Reports, per file and in total, video seconds per wall second for
  decode    iter_clip_chunks only (PyAV decode + resample), the floor for any scorer;
  frontend  decode + the front end only (face tracking / face mesh, mouth crops or lip features, log-mel; no
            model): preprocess.stream.stream_features, the extractor the Detector reads files through;
  score     Detector.anomaly_score end to end (decode, front end, sync model, AR model), sequential
            (``pipeline=False``: everything in this process, the mesh on one core);
  pipe      the same, pipelined (landmark models: the face mesh in a worker process beside decoding and the
            models, scores identical; docs/scoring.md "Pipelined scoring"), and with ``--mesh-workers N`` (N > 1)
  split     the face mesh split into 2 s tracks over N worker processes (scores change slightly: the largest
            per-clip score difference to the sequential path is printed);
and score/decode, score/frontend (how much of the ceiling the model leaves), and CPU time / wall time of each
stage (resource.getrusage, plus the live mesh workers' /proc times: 2.0 = both of 2 cores busy). ``--workers N`` (N > 1) adds a pass that scores all files
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


def worker_cpu_seconds() -> float:
    """User + system CPU seconds of this process's live child processes (the pipelined path's mesh workers,
    which RUSAGE_CHILDREN does not count until they end), from /proc (0 where there is none)."""
    import multiprocessing
    import os

    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for proc in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def timed(fn, *args):
    """(result of fn, wall seconds, CPU seconds of this process and its live workers, of the workers alone) of one
    call."""
    c0, w0, t0 = cpu_seconds(), worker_cpu_seconds(), time.perf_counter()
    out = fn(*args)
    wall, workers = time.perf_counter() - t0, worker_cpu_seconds() - w0
    return out, wall, cpu_seconds() - c0 + workers, workers


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
    ap.add_argument("--mesh-workers", type=int, default=1, help="> 1: also the split-track pipelined pass with "
                    "this many face-mesh processes")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from avanomaly.scoring.detector import Detector

    files = [Path(f) for f in args.files] or sorted(p for p in DEFAULT_FILES.iterdir() if p.is_file())
    def load(**kw):
        if args.model:
            return Detector.from_pretrained(args.model, device=args.device, precision=args.precision, **kw)

        d = default_detector(args.device, args.precision)
        return Detector(d.sync_model, d.ar_model, d.preprocess_cfg, device=args.device, precision=args.precision,
                        **kw)

    det = load(pipeline=False)
    cfg = det.preprocess_cfg
    passes = {"score": det}
    if cfg.front_end == "landmarks":
        passes["pipe"] = load(pipeline=True)
        if args.mesh_workers > 1:
            passes["split"] = load(pipeline=True, mesh_workers=args.mesh_workers)
    # warm-up (model first-call overheads, detector session, mesh worker start-up) on the first file, not timed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for d in passes.values():
            d.anomaly_score(files[0], threshold=0.0)

    torch.set_num_threads(args.threads)
    rows = []
    keys = ["decode", "frontend", *passes]
    wall0, cpu0 = time.perf_counter(), cpu_seconds() + worker_cpu_seconds()
    for f in files:
        best = {k: (float("inf"), 0.0) for k in keys}
        video_s = 0.0
        scores = {}
        for _ in range(args.repeat):
            (video_s, dec), _, dec_cpu, _ = timed(decode_seconds, f, cfg, det.chunk_frames)
            fe, _, fe_cpu, _ = timed(frontend_seconds, f, det)
            got = [("decode", dec, dec_cpu, 0.0), ("frontend", fe, fe_cpu, 0.0)]
            for key, d in passes.items():
                # pipelined: the mesh workers have their cores, torch takes the rest (as `avanomaly score` does)
                torch.set_num_threads(max(1, args.threads - d.mesh_workers) if d.pipeline else args.threads)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res, sc, sc_cpu, sc_workers = timed(d.anomaly_score, f, None, 0.0)
                scores[key] = res.score
                got.append((key, sc, sc_cpu, sc_workers))
            for key, wall, cpu, workers in got:
                if wall < best[key][0]:
                    best[key] = (wall, cpu, workers)
        row = {"file": f.name, "video_s": video_s}
        for key in keys:
            row[f"{key}_wall_s"], row[f"{key}_cpu_s"], row[f"{key}_worker_cpu_s"] = best[key]
            row[f"{key}_rtf"] = video_s / best[key][0]
        row["ratio"] = best["decode"][0] / best["score"][0]
        row["score_over_frontend"] = best["frontend"][0] / best["score"][0]
        row["scores"] = scores
        rows.append(row)
        r = rows[-1]
        extra = "".join(f"  {k} {r[f'{k}_rtf']:6.1f}x ({r[k + '_cpu_s'] / r[k + '_wall_s']:.2f} CPU/wall)"
                        for k in passes if k != "score")
        print(f"{r['file']:<34} {video_s:6.2f} s video  decode {r['decode_rtf']:7.1f}x  front end "
              f"{r['frontend_rtf']:6.1f}x  score {r['score_rtf']:6.1f}x{extra}", flush=True)
    total_v = sum(r["video_s"] for r in rows)
    tot = {k: sum(r[f"{k}_wall_s"] for r in rows) for k in keys}
    cpu = {k: sum(r[f"{k}_cpu_s"] for r in rows) for k in keys}
    worker_cpu = {k: sum(r[f"{k}_worker_cpu_s"] for r in rows) for k in keys}
    summary = {"threads": args.threads, "device": args.device, "model": args.model or "default-size random",
               "files": len(rows), "video_s": total_v, "decode_rtf": total_v / tot["decode"],
               "frontend_rtf": total_v / tot["frontend"], "score_rtf": total_v / tot["score"],
               "score_over_decode": tot["decode"] / tot["score"], "score_over_frontend": tot["frontend"] / tot["score"],
               "cpu_over_wall": {k: cpu[k] / tot[k] for k in tot},
               "process_cpu_over_wall": (cpu_seconds() + worker_cpu_seconds() - cpu0) / (time.perf_counter() - wall0),
               "target_rtf": TARGET_RTF, "target_ratio": TARGET_RATIO, "rows": rows}
    print(f"TOTAL {total_v:.1f} s video: decode {summary['decode_rtf']:.1f}x real time, front end (no model) "
          f"{summary['frontend_rtf']:.1f}x, score {summary['score_rtf']:.1f}x; score/decode "
          f"{summary['score_over_decode']:.2f}, score/front end {summary['score_over_frontend']:.2f} "
          f"(targets >= {TARGET_RTF}x and >= {TARGET_RATIO})")
    for key in passes:
        if key == "score":
            continue
        summary[f"{key}_rtf"] = total_v / tot[key]
        summary[f"{key}_over_decode"] = tot["decode"] / tot[key]
        summary[f"{key}_over_frontend"] = tot["frontend"] / tot[key]
        summary[f"{key}_max_score_change"] = max(abs(r["scores"][key] - r["scores"]["score"]) for r in rows)
        n_frames = total_v * cfg.fps
        summary[f"{key}_cpu_ms_per_frame"] = {"this process": 1e3 * (cpu[key] - worker_cpu[key]) / n_frames,
                                              "mesh workers": 1e3 * worker_cpu[key] / n_frames}
        print(f"{key.upper()} ({'exact' if key == 'pipe' else f'{args.mesh_workers} mesh workers'}): "
              f"{summary[key + '_rtf']:.1f}x real time, {key}/decode {summary[key + '_over_decode']:.2f}, "
              f"{key}/front end {summary[key + '_over_frontend']:.2f}, CPU/wall {cpu[key] / tot[key]:.2f}, "
              f"largest score change vs sequential {summary[key + '_max_score_change']:.2g}; CPU ms per frame: "
              + ", ".join(f"{k} {v:.2f}" for k, v in summary[f"{key}_cpu_ms_per_frame"].items()))
    for d in passes.values():
        d.close()
    torch.set_num_threads(args.threads)
    summary["cpu_ms_per_frame"] = {k: 1e3 * cpu[k] / (total_v * cfg.fps) for k in keys}
    print("CPU ms per frame (all processes; on a busy machine these hold better than wall times): "
          + ", ".join(f"{k} {v:.2f}" for k, v in summary["cpu_ms_per_frame"].items()))
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
