"""Which recording domains move the starter model's score of REAL clips: each augmentation of
avanomaly.preprocess.augment at fixed strengths, applied to held-out real clips exactly as training would cache them.

    python experiments/augment_domains.py --out work/augment_domains [--model starter] [--corpus MANIFEST] [--threads 1]

Held-out real clips: the shared real clips (../shared/data/real-av, never trained or calibrated on) and, with
``--corpus``, the ``test`` split of experiments/corpus.py's manifest. Every clip is preprocessed clean and under
every spec of SPECS (``preprocess_to_cache(..., augment=spec)``: video operations before the face mesh, audio ones
before the log-mel; entries cached in OUT/cache, so a rerun only scores), then scored with
``Detector.score_features``. Per spec it prints: the mean / min / max change of the clip score against the clean
clip (and in units of the calibration threshold's margin), how many clips the calibrated threshold calls fake,
the mean |AV offset|, and the AUC of the clips against their own audio-shifted copies (+-3, +-5 frames) in that
domain (does the domain erase the sync evidence?). Writes OUT/augment_domains.json and OUT/augment_domains.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from avanomaly.conventions import MEL_PER_FRAME

REPO = Path(__file__).resolve().parents[1]
REAL_AV = REPO.parent / "shared" / "data" / "real-av"
SHIFTS = (-5, -3, 3, 5)
#: fixed-strength domains (name -> steps); "clean" is the reference
SPECS = {
    "clean": (),
    "downscale 240p": (("downscale", {"height": 240}),),
    "downscale 144p": (("downscale", {"height": 144}),),
    "H.264 CRF 32": (("reencode", {"crf": 32}),),
    "H.264 CRF 42": (("reencode", {"crf": 42}),),
    "15 fps": (("fps_jitter", {"rate": 15, "drop": 0.0}),),
    "24 fps + 5 % drops": (("fps_jitter", {"rate": 24, "drop": 0.05}),),
    "white noise 20 dB": (("noise", {"snr_db": 20.0, "color": "white"}),),
    "white noise 10 dB": (("noise", {"snr_db": 10.0, "color": "white"}),),
    "pink noise 10 dB": (("noise", {"snr_db": 10.0, "color": "pink"}),),
    "reverb RT60 0.6 s": (("reverb", {"rt60": 0.6, "drr_db": 3.0}),),
    "telephone band": (("bandlimit", {"mode": "telephone"}),),
    "8 kHz": (("bandlimit", {"mode": "8k"}),),
    "gain -15 dB": (("gain", {"gain_db": -15.0}),),
    "gain +10 dB": (("gain", {"gain_db": 10.0}),),
    "web: 144p + CRF 38": (("downscale", {"height": 144}), ("reencode", {"crf": 38})),
    "phone: CRF 35 + telephone + pink 15 dB": (("reencode", {"crf": 35}), ("noise", {"snr_db": 15.0, "color": "pink"}),
                                                ("bandlimit", {"mode": "telephone"})),
}


def shifted(visual, mel, s: int):
    t = len(visual)
    if s >= 0:
        return visual[s:], mel[:MEL_PER_FRAME * (t - s)]
    return visual[:t + s], mel[MEL_PER_FRAME * -s:]


def auc(neg, pos) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([0] * len(neg) + [1] * len(pos), list(neg) + list(pos)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--model", default="starter")
    ap.add_argument("--real-av", default=str(REAL_AV), type=Path)
    ap.add_argument("--corpus", default=None, type=Path, help="corpus manifest.csv whose 'test' split joins the reals")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--specs", default=None, help="comma-separated subset of the SPECS names")
    args = ap.parse_args(argv)

    import torch

    from avanomaly.evaluation.report import markdown_table
    from avanomaly.preprocess import FeatureCache
    from avanomaly.preprocess.augment import augmented_key, make_spec
    from avanomaly.preprocess.pipeline import preprocess_to_cache
    from avanomaly.scoring import Detector

    torch.set_num_threads(args.threads)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    det = Detector.from_pretrained(args.model, device="cpu")
    cfg = det.preprocess_cfg
    man = pd.read_csv(args.real_av / "manifest.csv")
    reals = [str(args.real_av / p) for p in man[man.label == "real"].path]
    if args.corpus:
        c = pd.read_csv(args.corpus)
        reals += [str(args.corpus.parent / p) for p in c[(c.split == "test") & (c.label == "real")].path]
    names = list(SPECS) if not args.specs else ["clean", *[s.strip() for s in args.specs.split(",")]]
    cache = FeatureCache(args.out / "cache")
    rows, timing = [], {}
    for spec_name in names:
        spec = make_spec(*SPECS[spec_name], seed=0) if SPECS[spec_name] else None
        t_spec = time.time()
        for path in reals:
            key = cache.key(path, cfg)
            key = key if spec is None else augmented_key(key, spec)
            try:
                if not cache.has(key):
                    preprocess_to_cache(path, cache, key, cfg, augment=spec)
            except Exception as exc:  # noqa: BLE001 - a clip that fails in one domain is reported, not fatal
                print(f"  {spec_name}: {Path(path).name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            entry = cache.get(key)
            vis, mel = np.asarray(entry.mouths), np.asarray(entry.mel, dtype=np.float32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = det.score_features(vis, mel, entry.face_found, path=path)
                shift_scores = [det.score_features(*shifted(vis, mel, s), path=path).score for s in SHIFTS]
            rows.append({"spec": spec_name, "clip": Path(path).name, "score": r.score, "verdict": r.verdict,
                         "abs_offset": abs(r.av_offset_frames), "face_rate": r.face_rate,
                         **{f"term_{t}": v for t, v in r.score_terms.items()}, "shift_scores": shift_scores})
        timing[spec_name] = round(time.time() - t_spec, 1)
        print(f"{spec_name}: {timing[spec_name]} s", flush=True)
    df = pd.DataFrame(rows)
    clean = df[df.spec == "clean"].set_index("clip")
    thr = det.threshold
    ref = clean.score
    margin = float(np.median(thr - ref)) if thr is not None else float("nan")
    summary = []
    for spec_name in names:
        d = df[df.spec == spec_name].set_index("clip")
        common = d.index.intersection(clean.index)
        delta = d.score[common] - clean.score[common]
        pos = [s for lst in d.shift_scores for s in lst]
        summary.append({
            "domain": spec_name, "n": int(len(d)),
            "mean_delta": float(delta.mean()), "min_delta": float(delta.min()), "max_delta": float(delta.max()),
            "delta_in_margins": float(delta.mean() / margin) if margin == margin and margin else float("nan"),
            "called_fake": int((d.verdict == "fake").sum()), "mean_abs_offset": float(d.abs_offset.mean()),
            "auc_vs_shifted": auc(d.score.values, pos) if len(d) and pos else float("nan"),
            **{f"mean_{c}": float(d[c].mean()) for c in d.columns if c.startswith("term_")},
            "seconds": timing.get(spec_name),
        })
    out = {"model": str(det.source), "threshold": thr, "median_clean_margin": margin,
           "clips": [Path(p).name for p in reals],
           "summary": summary, "rows": rows, "seconds": round(time.time() - t0, 1)}
    (args.out / "augment_domains.json").write_text(json.dumps(out, indent=2, default=float))
    terms = [c for c in summary[0] if c.startswith("mean_term_")]
    table = markdown_table(
        ["domain", "clips", "mean Δscore [min, max]", "Δ / median margin", "called fake", "mean |offset|",
         "AUC vs own ±3/±5 shifts", *[t.replace("mean_term_", "") for t in terms]],
        [[s["domain"], s["n"], f"{s['mean_delta']:+.3f} [{s['min_delta']:+.2f}, {s['max_delta']:+.2f}]",
          f"{s['delta_in_margins']:+.2f}", f"{s['called_fake']} / {s['n']}", f"{s['mean_abs_offset']:.1f}",
          f"{s['auc_vs_shifted']:.3f}", *[f"{s[t]:.3f}" for t in terms]] for s in summary])
    md = [f"model `{out['model']}`, threshold {thr}; median margin of the clean clips below it {margin:.3f}", "",
          *table, "", f"({out['seconds']} s)"]
    (args.out / "augment_domains.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
