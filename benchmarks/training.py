"""Training throughput: windows/s per stage (forward + backward + optimizer step), CPU or GPU.

    python benchmarks/training.py [--config demo] [--threads 2] [--steps 10] [--cache DIR] [key=value ...]

Data: the clips of a feature cache (``--cache``, e.g. RUN_DIR/cache) or, without it, synthetic in-memory clips
(avanomaly.training.testing) of the configured crop size. The first ``--warmup`` steps are not timed.
Prints one line per stage: windows/s, video frames/s (windows x window), seconds per optimizer step.
"""

from __future__ import annotations

import argparse
import time

import torch


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="demo", help="TrainConfig YAML or preset name (default demo)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cache", default=None, help="feature cache folder (default: synthetic clips)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from avanomaly.training.config import apply_overrides, load_config
    from avanomaly.training.datamodule import WindowDataModule
    from avanomaly.training.modules import ARStage, SyncStage
    from avanomaly.training.testing import synthetic_clips
    from avanomaly.training.rundir import align_ar_config
    from avanomaly.training.windows import ClipRef, clip_n_frames

    cfg = apply_overrides(load_config(args.config), args.overrides)
    align_ar_config(cfg)
    if args.cache:
        from avanomaly.preprocess import FeatureCache

        cache = FeatureCache(args.cache)
        refs = [ClipRef(k, c, clip_n_frames(c)) for k in cache.entries() for c in [cache.get(k)]]
    else:
        n = max(cfg.stage1.window, cfg.stage2.window) * 2
        refs = synthetic_clips(16, n, seed=0, crop_size=cfg.preprocess.crop_size, n_mels=cfg.preprocess.n_mels)
    dev = torch.device(args.device)
    print(f"config {args.config}; {len(refs)} clips; threads {args.threads}; device {dev}")
    for name, st, make in (("stage1 (sync)", cfg.stage1, lambda: SyncStage(cfg.sync, cfg.stage1)),
                           ("stage2 (AR, frozen sync)", cfg.stage2, lambda: ARStage(cfg.sync, cfg.ar, cfg.stage2))):
        module = make().to(dev)
        module.train()
        opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=st.lr)
        st_ = type(st)(**{**st.__dict__, "windows_per_epoch": st.batch_size * (args.steps + args.warmup)})
        dm = WindowDataModule([r for r in refs if r.n_frames >= st.window], [], st_)
        loader = dm.train_dataloader()
        t0, n = None, 0
        for i, batch in enumerate(loader):
            if i == args.warmup:
                t0 = time.perf_counter()
            batch = {k: v.to(dev) for k, v in batch.items()}
            loss = _loss(module, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if t0 is not None:
                n += batch["mouths"].shape[0]
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(f"{name:28s} window {st.window:3d} batch {st.batch_size:3d}: {n / dt:8.1f} windows/s "
              f"({n * st.window / dt:9.0f} frames/s, {dt / args.steps:.3f} s/step)")


def _loss(module, batch):
    from avanomaly.training.modules import ARStage, _mouths_float, stage1_loss

    if isinstance(module, ARStage):
        return module._nll(batch)
    out = module.model(_mouths_float(batch["mouths"]), batch["mel"])
    return stage1_loss(module.model, out)[0]


if __name__ == "__main__":
    main()
