"""Compare `make demo` training runs / clip aggregations on the synthetic benchmark, fast, from cached features.

    python -m research.demo_tune --data SYNTH/FakeAVCeleb_v1.2 --features FEATCACHE --out tune.json RUN [RUN ...]

For every trained run (a `avanomaly train` run directory) this scores, from a feature cache (made once,
with `trim_leading_silence=True`, the evaluation's "trimmed" pass):

* **validation (real only, what choices are made on):** the run's own val real clips, and the same clips
  with the audio shifted by `--shifts` frames (self-made out-of-sync anomalies that need no fakes).
  Reported: `proxy_auc` (real val vs shifted real val), `local` (only a 1 s stretch shifted) and the spread (std / IQR) of real val scores.
* **test (reported, not chosen on):** the evaluation test split (default identity split of the root, as
  `avanomaly evaluate` uses): AUC of all real test clips vs each fake category, trimmed pass.

for every aggregation in `AGGREGATIONS`; `chosen_aggregation` is the one with the highest mean of the two
proxy AUCs (a choice made on real validation clips only; the test AUCs are printed beside it, not used). The per-frame NLL is computed once per clip and re-aggregated.
Test clips whose identity is in the run's train or val split are counted and reported (leakage check).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

#: clip aggregations compared (method, k, window); skip_seconds stays the default
AGGREGATIONS = [("mean", 0.25, 25), ("topk_mean", 0.5, 25), ("topk_mean", 0.25, 25), ("topk_mean", 0.1, 25),
                ("max_window_mean", 0.25, 25), ("max_window_mean", 0.25, 50)]
CATEGORIES = ("RealVideo-FakeAudio", "FakeVideo-RealAudio", "FakeVideo-FakeAudio")
#: audio shifts (video frames) of the real-only proxy anomalies; both signs
DEFAULT_SHIFTS = (1, 2)
#: frames (1 s) of the local proxy edit: the audio of a 1 s stretch is shifted, the rest stays in sync
DEFAULT_SPAN = 25


def auc(neg, pos) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(neg)), np.ones(len(pos))]
    return float(roc_auc_score(y, np.r_[neg, pos]))


def shifted(mouths: np.ndarray, mel: np.ndarray, shift: int):
    """Audio delayed (shift > 0) or advanced (< 0) by |shift| frames; both streams cut to the overlap."""
    t = mouths.shape[0]
    s = abs(shift)
    if shift > 0:  # video frame t meets audio of frame t - s
        return mouths[s:], mel[: 4 * (t - s)]
    return mouths[: t - s], mel[4 * s:]


def shifted_span(mouths: np.ndarray, mel: np.ndarray, shift: int, span: int):
    """Audio of a `span`-frame stretch in the middle of the clip taken from `shift` frames earlier (a local
    out-of-sync edit; the rest of the clip untouched)."""
    t = mouths.shape[0]
    a = max(abs(shift), (t - span) // 2)
    e = min(t - abs(shift), a + span)
    out = mel.copy()
    out[4 * a:4 * e] = mel[4 * (a - shift):4 * (e - shift)]
    return mouths, out


def curves(det, cache, key_of, paths, shifts=(), span=0):
    """{path: [(nll, times)]} with the unshifted curve first, then one per shift (whole clip, then, with
    ``span`` > 0, the same shifts over a ``span``-frame stretch only)."""
    out = {}
    for p in paths:
        c = cache.get(key_of[p])
        m, mel = np.asarray(c.mouths), np.asarray(c.mel, dtype=np.float32)
        trimmed = float(c.meta.get("trimmed_seconds", 0.0))
        items = []
        variants = [(0, 0)] + [(s, 0) for s in shifts] + ([(s, span) for s in shifts] if span else [])
        for s, sp in variants:
            mm, ml = (m, mel) if s == 0 else shifted(m, mel, s) if sp == 0 else shifted_span(m, mel, s, sp)
            r = det.score_features(mm, ml, None, path=p, trimmed_seconds=trimmed)
            times = np.asarray(r.frame_times) - trimmed
            items.append((np.asarray(r.frame_nll), times))
        out[p] = items
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--data", required=True, help="synthetic FakeAVCeleb_v1.2 root")
    ap.add_argument("--features", required=True, help="feature cache for the trimmed pass (made if missing)")
    ap.add_argument("--out", required=True, help="JSON with all numbers")
    ap.add_argument("--shifts", default=",".join(str(s) for s in DEFAULT_SHIFTS))
    ap.add_argument("--span", type=int, default=DEFAULT_SPAN, help="frames of the local shifted stretch")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import warnings

    warnings.filterwarnings("ignore")
    from avanomaly.data import read_manifest
    from avanomaly.preprocess import FeatureCache, preprocess_many
    from avanomaly.scoring import Detector
    from avanomaly.postprocess.aggregate import AggregationConfig, aggregate_curve
    from avanomaly.training import load_config

    shifts = [int(s) * sign for s in args.shifts.split(",") if s for sign in (1, -1)]
    test = read_manifest(args.data)
    test = test[test["split"] == "test"]
    results = {}
    for run in args.runs:
        run = Path(run)
        cfg = load_config(str(run / "config.yaml"))
        split = read_manifest(args.data, seed=cfg.data.split_seed, fractions=tuple(cfg.data.split_fractions))
        real = split[split["label"] == "real"]
        val = sorted(real.loc[real["split"] == "val", "path"])
        seen = set(real.loc[real["split"].isin(["train", "val"]), "identity"])
        leak = test[test["identity"].isin(seen) & (test["label"] == "real")]
        det = Detector.from_pretrained(str(run), device="cpu")
        pcfg = dataclasses.replace(det.preprocess_cfg, trim_leading_silence=True)
        cache = FeatureCache(args.features)
        paths = sorted(set(val) | set(test["path"]))
        rep = preprocess_many(paths, cache, pcfg, workers=1, progress=False)
        if rep.failed:
            print(f"{run}: {len(rep.failed)} clip(s) failed preprocessing: {rep.failed[:3]}")
        key_of = rep.keys
        val_c = curves(det, cache, key_of, [p for p in val if p in key_of], shifts, args.span)
        test_c = curves(det, cache, key_of, [p for p in test["path"] if p in key_of])
        row = {"val_real": len(val_c), "test_real": int((test["label"] == "real").sum()),
               "test_real_identity_seen_in_training": int(len(leak)), "aggregations": {}}
        for method, k, w in AGGREGATIONS:
            agg = AggregationConfig(method=method, k=k, window=w)

            def score(item):
                return aggregate_curve(item[0], item[1], agg)[0]

            vr = np.array([score(v[0]) for v in val_c.values()])
            ns = len(shifts)
            vs = np.array([score(x) for v in val_c.values() for x in v[1:1 + ns]])
            vl = np.array([score(x) for v in val_c.values() for x in v[1 + ns:]])
            tscore = {p: score(v[0]) for p, v in test_c.items()}
            t = test[test["path"].isin(tscore)]
            tr = [tscore[p] for p in t.loc[t["label"] == "real", "path"]]
            cats = {c: auc(tr, [tscore[p] for p in t.loc[(t["label"] == "fake") & (t["category"] == c), "path"]])
                    for c in CATEGORIES}
            cats["pooled"] = auc(tr, [tscore[p] for p in t.loc[t["label"] == "fake", "path"]])
            name = method if method == "mean" else f"{method}(k={k})" if method == "topk_mean" else f"{method}(w={w})"
            row["aggregations"][name] = {
                "val_proxy_auc": auc(vr, vs), "val_local_proxy_auc": auc(vr, vl) if len(vl) else None, "val_real_std": float(vr.std()),
                "val_real_iqr": float(np.subtract(*np.percentile(vr, [75, 25]))),
                "val_real_cv": float(vr.std() / abs(vr.mean())), "test_auc": cats}
        # the real-only rule: highest mean of the whole-clip and the local proxy AUC (val real clips only)
        row["chosen_aggregation"] = max(
            row["aggregations"],
            key=lambda n: np.mean([row["aggregations"][n]["val_proxy_auc"], row["aggregations"][n]["val_local_proxy_auc"]
                                   or row["aggregations"][n]["val_proxy_auc"]]))
        results[str(run)] = row
        print(f"== {run}  (val real {row['val_real']}, test real with a training identity: "
              f"{row['test_real_identity_seen_in_training']}/{row['test_real']})")
        print(f"{'aggregation':24s} {'proxyAUC':>8s} {'local':>6s} {'cv':>6s} | " + " ".join(f"{c[:14]:>14s}" for c in (*CATEGORIES, "pooled")))
        for name, a in row["aggregations"].items():
            print(f"{name:24s} {a['val_proxy_auc']:8.3f} {a['val_local_proxy_auc'] or float('nan'):6.3f} {a['val_real_cv']:6.3f} | "
                  + " ".join(f"{a['test_auc'][c]:14.3f}" for c in (*CATEGORIES, "pooled")))
        print(f"chosen on val real clips (mean of the two proxy AUCs): {row['chosen_aggregation']}")
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
