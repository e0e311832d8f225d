"""Speed of the default model, one run: size, compute, and per-stage throughput on this machine.

    .venv/bin/python benchmarks/speed.py [--model RUN_OR_MODEL_PT] [--threads 1] [--max-files 6] [--json OUT]
                                         [FILES...]

Without --model: a default-sized, randomly initialised detector (SyncModelConfig() / ARModelConfig() defaults,
default PreprocessConfig with the CenterFace detector; speed does not depend on the weights). Without FILES:
the shared real clips (../shared/data/real-av/real), the first --max-files of them.

Reported:
  params            sync model and AR model parameters;
  GFLOPs / s video  torch.utils.flop_counter.FlopCounterMode on one second of video (25 frames + context, batch
                    1): sync model + AR model (matmul / conv / attention only; element-wise ops are not counted);
  decode            iter_clip_chunks only (PyAV decode + resample to 25 fps / 16 kHz): the floor of any scorer;
  preprocess        preprocess_file (decode + face detection/tracking + mouth crops + log-mel);
  models            sync + AR forward on the preprocessed tensors (no decoding);
  end-to-end        Detector.anomaly_score (decode -> score);
each as video frames per wall second and real-time factor (video seconds / wall second), plus the ratio of
end-to-end to decode-only throughput measured in the same run, on the same files.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILES = REPO.parent / "shared" / "data" / "real-av" / "real"
FPS = 25
CONTEXT = 4  # the sync windows need 2 frames of context on each side


def default_models():
    from avanomaly.models import create_model
    from avanomaly.preprocess.config import PreprocessConfig

    sync = create_model("sync").eval()
    ar = create_model("ar", in_features=sync.feature_dim, n_offsets=sync.n_offsets).eval()
    return sync, ar, PreprocessConfig(face_fallback="center")


def flops_per_second(sync, ar) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    c = sync.config
    mouths = torch.rand(1, FPS + CONTEXT, c.crop_size, c.crop_size)  # (1, T+4, S, S)
    mel = torch.randn(1, 4 * (FPS + CONTEXT), c.n_mels)  # (1, 4(T+4), M)
    with torch.no_grad():
        with FlopCounterMode(display=False) as fc:
            out = sync(mouths, mel)
        sync_flops = fc.get_total_flops()
        with FlopCounterMode(display=False) as fc:
            ar(out["features"])
        ar_flops = fc.get_total_flops()
    return {"sync_gflops_per_s": sync_flops / 1e9, "ar_gflops_per_s": ar_flops / 1e9,
            "total_gflops_per_s": (sync_flops + ar_flops) / 1e9}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--model", default=None, help="model.pt or run dir (default: default-size random model)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-files", type=int, default=6)
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from avanomaly.io import iter_clip_chunks
    from avanomaly.preprocess import create_detector, preprocess_file
    from avanomaly.scoring.detector import Detector

    if args.model:
        from avanomaly.postprocess.modelfile import resolve_model_path
        from avanomaly.scoring.loading import load_model_file

        f = resolve_model_path(args.model)
        sync, ar, pcfg, _cal, _ = load_model_file(f)
        sync, ar = sync.eval(), ar.eval()
    else:
        sync, ar, pcfg = default_models()
    files = [Path(p) for p in args.files] or sorted(p for p in DEFAULT_FILES.iterdir() if p.suffix == ".mp4")
    files = files[: args.max_files]
    det = Detector(sync, ar, pcfg, device="cpu")
    face = create_detector(pcfg.detector)

    n_sync = sum(p.numel() for p in sync.parameters())
    n_ar = sum(p.numel() for p in ar.parameters())
    fl = flops_per_second(sync, ar)
    with warnings.catch_warnings():  # warm-up (first-call overheads), not timed
        warnings.simplefilter("ignore")
        det.anomaly_score(files[0], threshold=0.0)

    tot = {"frames": 0, "decode": 0.0, "preprocess": 0.0, "models": 0.0, "end_to_end": 0.0}
    for f in files:
        def decode():
            n = 0
            for chunk in iter_clip_chunks(f, chunk_frames=det.chunk_frames, fps=pcfg.fps, sample_rate=pcfg.sample_rate,
                                          max_side=pcfg.max_side):
                n += chunk.n_frames
            return n

        n, t_dec = _timed(decode)
        feats, t_pre = _timed(lambda: preprocess_file(f, pcfg, face))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, t_mod = _timed(lambda: det.score_features(feats.mouths, feats.mel, threshold=0.0))
            _, t_e2e = _timed(lambda: det.anomaly_score(f, threshold=0.0))
        tot["frames"] += n
        for k, v in (("decode", t_dec), ("preprocess", t_pre), ("models", t_mod), ("end_to_end", t_e2e)):
            tot[k] += v
        print(f"{f.name:<36} {n:5d} frames  decode {n / t_dec:7.1f} fps  preprocess {n / t_pre:6.1f} fps  "
              f"models {n / t_mod:7.1f} fps  end-to-end {n / t_e2e:6.1f} fps", flush=True)

    frames = tot["frames"]
    fps_of = {k: frames / tot[k] for k in ("decode", "preprocess", "models", "end_to_end")}
    summary = {
        "model": args.model or "default-size random (SyncModelConfig(), ARModelConfig())",
        "threads": args.threads, "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "files": len(files), "video_seconds": frames / FPS,
        "params": {"sync": n_sync, "ar": n_ar, "total": n_sync + n_ar}, **fl,
        "frames_per_s": fps_of, "real_time_factor": {k: v / FPS for k, v in fps_of.items()},
        "end_to_end_over_decode": fps_of["end_to_end"] / fps_of["decode"],
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    print(f"params: sync {n_sync:,}  ar {n_ar:,}  total {n_sync + n_ar:,}")
    print(f"GFLOPs per second of video: sync {fl['sync_gflops_per_s']:.2f}  ar {fl['ar_gflops_per_s']:.3f}  "
          f"total {fl['total_gflops_per_s']:.2f}")
    for k, v in fps_of.items():
        print(f"{k:<11} {v:8.1f} frames/s  = {v / FPS:6.1f}x real time")
    print(f"end-to-end / decode-only throughput: {summary['end_to_end_over_decode']:.2f} "
          f"({len(files)} files, {frames / FPS:.1f} s of video, {args.threads} thread(s))")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
