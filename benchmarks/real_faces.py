"""Real faces of people the model never saw: audio shifts and swaps, the shared fakes, and generator fakes.

    python benchmarks/real_faces.py --out work/real_faces [--model starter] [--corpus /work/corpus/manifest.csv]

Held-out REAL clips: the 10 shared real clips (../shared/data/real-av, never trained on) plus the corpus's
``test`` split (speakers held out of training and calibration, scripts/corpus.py). Derived fakes, made
from the cached features of each clip (the same features a file gives):

- ``shift``: audio delayed / advanced by SHIFTS frames (+-3 = +-120 ms, +-5 = +-200 ms): video frames and audio
  frames are cropped to their overlap, as a re-muxed file with the audio track moved would be;
- ``swap``: the video of one clip with the audio of the next clip in the list (another speaker), cropped to the
  shorter one.

Scored with the model (``Detector.score_features``: fused score, each of its terms, |AV offset| alone, and the
``nll`` + ``sync`` fusion of the calibration's own means / stds, i.e. the score before the ``offset`` term) and
with the training-free ``sync-heuristic`` in the same run, on pixel crops (its default input) and on the lip
landmarks. Also scored as FILES: the 10 shared real clips (how many the calibrated threshold calls fake), the 4
shared fakes, and generator fakes found in public repos (``--generator`` folders). Writes OUT/real_faces.json and
OUT/real_faces.md.
"""

from __future__ import annotations

from avanomaly.conventions import MEL_PER_FRAME  # noqa: E402
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
REAL_AV = REPO.parent / "shared" / "data" / "real-av"
SHIFTS = (-5, -3, 3, 5)  # frames at 25 fps: -200, -120, +120, +200 ms (positive = audio later)
#: bootstrap resamples for the AUC confidence intervals
N_BOOT = 1000


def auc(neg, pos) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([0] * len(neg) + [1] * len(pos), list(neg) + list(pos)))


def auc_ci(neg, pos, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    neg, pos = np.asarray(neg), np.asarray(pos)
    vals = []
    for _ in range(N_BOOT):
        n, p = rng.choice(neg, len(neg)), rng.choice(pos, len(pos))
        if len(set(n) | set(p)) > 1:
            vals.append(auc(n, p))
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def shifted(visual, mel, s: int):
    """Audio delayed by ``s`` frames (s < 0: advanced): video frame t meets the audio of original frame t - s."""
    t = len(visual)
    if s >= 0:
        return visual[s:], mel[:MEL_PER_FRAME * (t - s)]
    return visual[:t + s], mel[MEL_PER_FRAME * -s:]


def swapped(visual, mel_other):
    t = min(len(visual), len(mel_other) // MEL_PER_FRAME)
    return visual[:t], mel_other[:MEL_PER_FRAME * t]


def cached(paths, cfg, root: Path, workers: int):
    from avanomaly.preprocess import FeatureCache, preprocess_many

    cache = FeatureCache(root)
    rep = preprocess_many(paths, cache, cfg, workers=workers, progress=False)
    for path, reason, msg in rep.failed:
        print(f"  preprocessing failed: {path}: [{reason}] {msg}", file=sys.stderr)
    return {p: cache.get(k) for p, k in rep.keys.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--model", default="starter", help="model file, run directory or 'starter'")
    ap.add_argument("--real-av", default=str(REAL_AV), type=Path)
    ap.add_argument("--corpus", default=None, type=Path, help="corpus manifest.csv whose 'test' split joins the reals")
    ap.add_argument("--generator", action="append", default=[], type=Path,
                    help="folder of generator fakes (talking heads) scored as files; repeatable")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sync-window", type=int, default=None, help="Detector sync_window (frames per sync pass)")
    args = ap.parse_args(argv)

    import torch

    from avanomaly.evaluation.baselines.heuristic import heuristic_sync
    from avanomaly.evaluation.report import markdown_table
    from avanomaly.preprocess import PreprocessConfig
    from avanomaly.scoring import Detector

    torch.set_num_threads(args.threads)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    det = Detector.from_pretrained(args.model, device="cpu",
                                   **({"sync_window": args.sync_window} if args.sync_window else {}))
    man = pd.read_csv(args.real_av / "manifest.csv")
    shared_real = [str(args.real_av / p) for p in man[man.label == "real"].path]
    shared_fake = [str(args.real_av / p) for p in man[man.label == "fake"].path]
    reals = list(shared_real)
    if args.corpus:
        c = pd.read_csv(args.corpus)
        reals += [str(args.corpus.parent / p) for p in c[c.split == "test"].path]
    lm = cached(reals, det.preprocess_cfg, args.out / "cache_model", args.workers)
    px = cached(reals, PreprocessConfig(), args.out / "cache_pixels", args.workers)
    names = [p for p in reals if p in lm and p in px]

    rows = []
    fusion = det.calibration.score_fusion if det.calibration else None

    def nll_sync(terms) -> float:
        """The nll + sync fusion (mean z) with this calibration's stats: the score without the offset term."""
        if fusion is None or not {"nll", "sync"} <= set(fusion.terms):
            return float("nan")
        ms = {t: (m, s) for t, m, s in zip(fusion.terms, fusion.mean, fusion.std)}
        return float(np.mean([(terms[t] - ms[t][0]) / ms[t][1] for t in ("nll", "sync")]))

    def score(name, kind, shift, vis, mel, pvis, pmel):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = det.score_features(np.asarray(vis), np.asarray(mel, dtype=np.float32), path=name)
        h_px = heuristic_sync(np.asarray(pvis), np.asarray(pmel, dtype=np.float32))
        h_lm = heuristic_sync(np.asarray(vis), np.asarray(mel, dtype=np.float32))
        rows.append({"clip": Path(name).name, "kind": kind, "shift": shift, "score": r.score,
                     "score_nll_sync": nll_sync(r.score_terms), **{f"term_{t}": v for t, v in r.score_terms.items()},
                     "nll": r.score_terms["nll"], "sync": r.score_terms["sync"], "offset": r.av_offset_frames,
                     "abs_offset": abs(r.av_offset_frames),
                     "confidence": r.av_offset_confidence, "verdict": r.verdict,
                     "heuristic_pixels": h_px["score"], "heuristic_landmarks": h_lm["score"]})

    for i, name in enumerate(names):
        a, b = lm[name], px[name]
        n = min(a.n_frames, b.n_frames)
        vis, mel, pvis = a.mouths[:n], a.mel[:MEL_PER_FRAME * n], b.mouths[:n]
        score(name, "original", 0, vis, mel, pvis, mel)
        for s in SHIFTS:
            v, m = shifted(vis, mel, s)
            pv, _ = shifted(pvis, mel, s)
            score(name, "shift", s, v, m, pv, m)
        other = lm[names[(i + 1) % len(names)]]
        v, m = swapped(vis, other.mel)
        pv, _ = swapped(pvis, other.mel)
        score(name, "swap", 0, v, m, pv, m)
    df = pd.DataFrame(rows)
    orig = df[df.kind == "original"].set_index("clip")
    sh = df[df.kind == "shift"].copy()
    sh["offset_error_abs"] = (sh.offset - sh["shift"]).abs()
    sh["offset_error_rel"] = [abs(r.offset - orig.offset[r.clip] - r.shift) for r in sh.itertuples()]

    methods = ("score", "score_nll_sync", "nll", "sync", "term_offset", "abs_offset", "heuristic_pixels",
               "heuristic_landmarks")
    summary = {"model": str(det.source), "score_definition": det.calibration.score_definition if det.calibration else "",
               "threshold": det.threshold, "n_real": len(names), "n_shift": len(sh),
               "n_swap": int((df.kind == "swap").sum()),
               "offset_within_1_abs": float((sh.offset_error_abs <= 1).mean()),
               "offset_within_1_rel": float((sh.offset_error_rel <= 1).mean()), "auc": {}}
    for group, fakes in (("shift+swap", df[df.kind != "original"]), ("shift", df[df.kind == "shift"]),
                         ("swap", df[df.kind == "swap"])):
        summary["auc"][group] = {}
        for m in methods:
            neg, pos = orig[m].dropna().values, fakes[m].dropna().values
            if len(neg) and len(pos):
                summary["auc"][group][m] = {"auc": auc(neg, pos), "ci95": auc_ci(neg, pos)}

    # files: shared reals and fakes, generator fakes
    files = []
    gen = [str(p) for d in args.generator for p in sorted(d.rglob("*")) if p.suffix.lower() in (".mp4", ".mkv", ".avi")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for group, paths in (("shared real", shared_real), ("shared fake", shared_fake), ("generator fake", gen)):
            for p in paths:
                r = det.score_one_safe(p)
                if not r.ok:
                    files.append({"group": group, "file": Path(p).name, "status": f"failed: {r.reason}"})
                    continue
                files.append({"group": group, "file": Path(p).name, "status": "ok", "score": r.score,
                              "verdict": r.verdict, "percentile": r.percentile, "nll": r.score_terms["nll"],
                              "sync": r.score_terms["sync"], "offset_term": r.score_terms.get("offset"),
                              "score_nll_sync": nll_sync(r.score_terms), "offset": r.av_offset_frames})
    fdf = pd.DataFrame(files)
    ok = fdf[fdf.status == "ok"]
    summary["shared_real_called_fake"] = int((ok[ok.group == "shared real"].verdict == "fake").sum())
    real_scores = ok[ok.group == "shared real"].score
    gen_scores = ok[ok.group == "generator fake"].score
    if len(gen_scores) and len(real_scores):
        summary["auc_generator_vs_shared_real"] = auc(real_scores, gen_scores)
    summary["seconds"] = round(time.time() - t0, 1)
    (args.out / "real_faces.json").write_text(json.dumps({"summary": summary, "rows": rows, "files": files},
                                                        indent=2, default=float))

    def f3(x):
        return f"{x:.3f}"

    auc_rows = [[g] + [f"{v[m]['auc']:.3f} [{v[m]['ci95'][0]:.2f}, {v[m]['ci95'][1]:.2f}]" if m in v else "-"
                       for m in methods] for g, v in summary["auc"].items()]
    md = [f"model `{summary['model']}`; score: {summary['score_definition']}", "",
          f"{summary['n_real']} held-out real clips, {summary['n_shift']} shifted copies (+-3, +-5 frames), "
          f"{summary['n_swap']} swapped-audio copies.", "",
          "AUC (95 % bootstrap CI), originals vs derived fakes:", "",
          *markdown_table(["fakes", "avanomaly score", "nll + sync fused", "nll term", "sync term", "offset term",
                           "abs(AV offset)", "heuristic (pixels)", "heuristic (landmarks)"], auc_rows), "",
          f"AV offset within +-1 frame of the applied shift: {f3(summary['offset_within_1_abs'])} (absolute), "
          f"{f3(summary['offset_within_1_rel'])} (relative to the original's offset).", "",
          f"Shared real clips called fake at the calibrated threshold ({summary['threshold']}): "
          f"{summary['shared_real_called_fake']} of {len(real_scores)}.", "",
          *markdown_table(list(fdf.columns), [[f3(v) if isinstance(v, float) else v for v in r]
                                              for r in fdf.fillna("").itertuples(index=False)]), "",
          f"({summary['seconds']} s)"]
    if "auc_generator_vs_shared_real" in summary:
        md.insert(-2, f"Generator fakes vs shared real clips (files): AUC {summary['auc_generator_vs_shared_real']:.3f}")
        md.insert(-2, "")
    (args.out / "real_faces.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
