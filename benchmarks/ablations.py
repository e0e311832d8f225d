"""Ablations over seeds: each variant is trained (real clips only) and scored on the test split.

    .venv/bin/python benchmarks/ablations.py --data DIR/FakeAVCeleb_v1.2 --out reports/ablations \
        [--groups temporal,backbone,offset,family,aggregation] [--seeds 0,1,2] [--trim] [--threads 1] \
        [--docs docs/results.md] [--dry-run]

Groups (one setting changed from BASE at a time; BASE = the first value of every group):
  temporal     sync encoders' temporal block: transformer | mamba
  backbone     visual backbone: syncnet_small | efficientnet_b0 (audio_efficientnet_b0 with it)
  offset       offset range K: 15 | 10 | 5 (AR input = 2K+1 delay probabilities)
  family       AR likelihood: categorical | categorical + Gaussian embed head (sync.feature_embed_dim=8)
  aggregation  clip score from per-frame NLL: topk_mean | mean | max_window_mean (scoring only: reuses the
               BASE models, no extra training)
Each (variant, seed) is one ``avanomaly.training.train`` run in OUT/runs/<variant>-s<seed>/ (skipped when its
model.pt exists, so an interrupted sweep resumes), all sharing one feature cache. Test clips are
preprocessed once and scored from the cache with ``Detector.score_features``.

Outputs: OUT/ablations_runs.csv (variant, seed, comparison, auc, train seconds), OUT/ablations.csv and
OUT/ablations.md (mean ± std over seeds of the AUC per comparison: the three categories + all fakes).

Settings (SMALL, below) are sized for a 2-core CPU: crop 32, D 32, width 8, 1 temporal layer, AR d_model 32
x 1 layer, 4 + 3 epochs of 128 windows of 20 frames. Measured cost: see docs/results.md (the time of each
training run is also written to ablations_runs.csv). These are plumbing-scale models: differences between
variants on the synthetic set say little about FakeAVCeleb.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from avanomaly.postprocess.modelfile import MODEL_FILENAME  # noqa: E402

SMALL = [
    "preprocess.crop_size=32", "sync.crop_size=32", "sync.dim=32", "sync.width=8", "sync.temporal_layers=1",
    "ar.d_model=32", "ar.n_layers=1", "ar.n_heads=2", "ar.context=64",
    "stage1.window=20", "stage1.batch_size=16", "stage1.windows_per_epoch=128", "stage1.max_epochs=4",
    "stage1.lr=0.003", "stage1.warmup_steps=5",
    "stage2.window=20", "stage2.batch_size=16", "stage2.windows_per_epoch=128", "stage2.max_epochs=3",
    "stage2.lr=0.003", "stage2.warmup_steps=5", "trainer.progress=false",
]
EMBED_DIM = 8


def _k(k: int) -> list[str]:
    o = 2 * k + 1
    return [f"sync.max_offset={k}", f"ar.in_features={o}", f"ar.n_offsets={o}"]


#: group -> [(variant name, training overrides or None = BASE model, aggregation method or None)]
GROUPS = {
    "temporal": [("base", [], None), ("mamba", ["sync.temporal=mamba"], None)],
    "backbone": [("base", [], None), ("efficientnet_b0", ["sync.visual_backbone=efficientnet_b0",
                                                          "sync.audio_backbone=audio_efficientnet_b0"], None)],
    "offset": [("base", [], None), ("K10", _k(10), None), ("K5", _k(5), None)],
    "family": [("base", [], None), ("gauss-embed", [f"sync.feature_embed_dim={EMBED_DIM}", "ar.embed_head=true",
                                                   f"ar.in_features={31 + EMBED_DIM}"], None)],
    "aggregation": [("base", [], None), ("agg-mean", [], "mean"), ("agg-max-window", [], "max_window_mean")],
}
BASE_K = _k(15)
COMPARISONS = ("RealVideo-FakeAudio", "FakeVideo-RealAudio", "FakeVideo-FakeAudio", "all fakes")
BEGIN = "<!-- ABLATIONS:BEGIN -->"
END = "<!-- ABLATIONS:END -->"


def train_variant(data, run_dir: Path, cache: Path, overrides: list[str], seed: int, threads: int) -> float:
    from avanomaly.training.config import TrainConfig, apply_overrides
    from avanomaly.training.train import train

    if (run_dir / MODEL_FILENAME).is_file():
        return float("nan")
    sets = [f"out={run_dir}", f"data.manifest={data}", f"data.cache={cache}", "data.drop_fakes=true",
            f"trainer.seed={seed}", f"trainer.threads={threads}", *SMALL, *BASE_K, *overrides]
    cfg = apply_overrides(TrainConfig(), sets)
    t0 = time.time()
    train(cfg)
    return time.time() - t0


def test_features(data, split, cfg, cache: Path, trim: bool):
    from avanomaly.data import read_manifest
    from avanomaly.evaluation.baselines import FeatureSource
    from avanomaly.evaluation.pipeline import select_split

    clips = select_split(read_manifest(data), split)
    src = FeatureSource(cache, dataclasses.replace(cfg, trim_leading_silence=trim), progress=False)
    loaded = src.load(list(clips["path"].astype(str)))
    return clips, loaded


def score_run(run_dir: Path, clips, loaded, aggregation: str | None) -> dict:
    from sklearn.metrics import roc_auc_score

    from avanomaly.scoring.detector import Detector

    det = Detector.from_pretrained(run_dir, device="cpu")
    agg = None if aggregation is None else {**dataclasses.asdict(det.aggregation), "method": aggregation}
    scores = []
    for p in clips["path"].astype(str):
        item = loaded[p]
        if isinstance(item, tuple):
            scores.append(np.nan)
            continue
        scores.append(det.score_features(item.mouths, item.mel, item.face_found, path=p, aggregation=agg,
                                         threshold=0.0).score)
    s = np.asarray(scores)
    out = {}
    real = (clips["label"] == "real").to_numpy()
    for comp in COMPARISONS:
        fake = (clips["label"] == "fake").to_numpy() if comp == "all fakes" else (clips["category"] == comp).to_numpy()
        sel = (real | fake) & np.isfinite(s)
        y = fake[sel].astype(int)
        out[comp] = float(roc_auc_score(y, s[sel])) if 0 < y.sum() < len(y) else float("nan")
    out["n_failed"] = int((~np.isfinite(s)).sum())
    return out


def markdown(summary: pd.DataFrame) -> str:
    lines = ["| group | variant | " + " | ".join(COMPARISONS) + " | seeds |", "|---|---|" + "---|" * (len(COMPARISONS) + 1)]
    for r in summary.to_dict("records"):
        cells = [f"{r[c + '_mean']:.3f} ± {r[c + '_std']:.3f}" for c in COMPARISONS]
        lines.append(f"| {r['group']} | {r['variant']} | " + " | ".join(cells) + f" | {r['n_seeds']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--groups", default=",".join(GROUPS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--split", default="test")
    ap.add_argument("--trim", action="store_true", help="score with the leading silence trimmed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--docs", default=None)
    ap.add_argument("--dry-run", action="store_true", help="list the training runs and exit")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        sys.exit(f"unknown group(s) {bad}; known: {list(GROUPS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    cache = out / "cache" / "features"
    variants = {}  # variant -> (overrides, aggregation, group)
    for g in groups:
        for name, ov, agg in GROUPS[g]:
            variants.setdefault(name, (ov, agg, []))[2].append(g)
    trainings = sorted({(("base" if agg else name), s) for name, (ov, agg, _) in variants.items() for s in seeds})
    print(f"{len(trainings)} training run(s): " + ", ".join(f"{v}-s{s}" for v, s in trainings))
    if args.dry_run:
        return 0
    t0 = time.time()
    overrides_of = {name: ov for name, (ov, agg, _) in variants.items()}
    overrides_of.setdefault("base", [])
    secs = {}
    for v, s in trainings:
        secs[(v, s)] = train_variant(args.data, out / "runs" / f"{v}-s{s}", cache, overrides_of[v], s, args.threads)
        print(f"trained {v}-s{s} ({secs[(v, s)]:.0f} s)", flush=True)
    from avanomaly.scoring.loading import load_model_file

    rows = []
    feats = {}
    for name, (ov, agg, gs) in variants.items():
        for s in seeds:
            run = out / "runs" / f"{'base' if agg else name}-s{s}"
            pcfg = load_model_file(run / MODEL_FILENAME)[2]
            key = (dataclasses.astuple(pcfg), args.trim)
            if key not in feats:
                feats[key] = test_features(args.data, args.split, pcfg, cache, args.trim)
            res = score_run(run, *feats[key], agg)
            for g in gs:
                rows.append({"group": g, "variant": name, "seed": s, **res,
                             "train_seconds": secs.get(("base" if agg else name, s))})
    runs = pd.DataFrame(rows)
    runs.to_csv(out / "ablations_runs.csv", index=False)
    agg_rows = []
    for (g, v), d in runs.groupby(["group", "variant"], sort=False):
        r = {"group": g, "variant": v, "n_seeds": len(d)}
        for c in COMPARISONS:
            r[c + "_mean"], r[c + "_std"] = float(d[c].mean()), float(d[c].std(ddof=1)) if len(d) > 1 else 0.0
        agg_rows.append(r)
    summary = pd.DataFrame(agg_rows)
    summary.to_csv(out / "ablations.csv", index=False)
    table = markdown(summary)
    (out / "ablations.md").write_text(table + "\n")
    print(table)
    total = time.time() - t0
    print(f"{total / 60:.1f} min")
    if args.docs:
        cmd = "python benchmarks/ablations.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        body = (f"Produced {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by\n\n```bash\n{cmd}\n```\n\n"
                f"({total / 60:.1f} min on this shared 2-core CPU, {len(trainings)} training runs; AUC mean ± std "
                f"over seeds {seeds}, {'trimmed' if args.trim else 'raw'} pass)\n\n{table}\n")
        path = Path(args.docs)
        text = path.read_text() if path.exists() else ""
        block = f"{BEGIN}\n{body}\n{END}"
        if BEGIN in text and END in text:
            pre, rest = text.split(BEGIN, 1)
            text = pre + block + rest.split(END, 1)[1]
        else:
            text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
