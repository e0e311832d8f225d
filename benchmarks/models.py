"""Model size and CPU cost: parameters, GFLOPs per second of video, forward frames/s.

    python benchmarks/models.py [--threads 2] [--frames 100] [--reps 3] [--markdown]

GFLOPs come from torch.utils.flop_counter.FlopCounterMode (matmul / conv / attention only: element-wise ops,
the Mamba scan and softmaxes are not counted), for FPS video frames = one second at 25 fps, batch 1.
Speed: median wall time of `reps` no-grad forwards over `frames` frames (batch 1), eval mode.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from avanomaly.models import create_model

FPS = 25
CONFIGS = {  # name -> (model, kwargs)
    "sync (syncnet_small + audio_small, transformer x2)": ("sync", {}),
    "sync (syncnet_small + audio_small, mamba x2)": ("sync", {"temporal": "mamba"}),
    "sync (efficientnet_b0 + audio_efficientnet_b0)": ("sync", {"visual_backbone": "efficientnet_b0",
                                                                "audio_backbone": "audio_efficientnet_b0"}),
    "ar (6 layers, d_model 128)": ("ar", {"in_features": 31, "n_offsets": 31}),  # O = 2K + 1 for the default K = 15
}


def _inputs(model_name, model, T):
    if model_name == "sync":
        c = model.config
        return (torch.rand(1, T + 4, c.crop_size, c.crop_size), torch.randn(1, 4 * (T + 4), c.n_mels))
    return (torch.rand(1, T, model.config.in_features).softmax(-1),)


def measure(model_name, kwargs, frames, reps):
    torch.manual_seed(0)
    model = create_model(model_name, **kwargs).eval()
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        with FlopCounterMode(display=False) as fc:
            model(*_inputs(model_name, model, FPS))
        gflops = fc.get_total_flops() / 1e9
        x = _inputs(model_name, model, frames)
        model(*x)  # warm-up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            model(*x)
            times.append(time.perf_counter() - t0)
    return params, gflops, frames / statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default=None, help="substring of the config names to run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.frames} frames, batch 1")
    print("| model | params | GFLOPs / s of video | forward frames/s |")
    print("|---|---:|---:|---:|")
    for name, (model_name, kwargs) in CONFIGS.items():
        if args.only and args.only not in name:
            continue
        params, gflops, fps = measure(model_name, kwargs, args.frames, args.reps)
        print(f"| {name} | {params / 1e6:.2f} M | {gflops:.2f} | {fps:.0f} |", flush=True)


if __name__ == "__main__":
    main()
