"""Would another clip-level offset curve rank audio-shifted / swapped copies better than the mean cosine?

    python -m research.offset_curves --model starter --manifest /work/corpus22b/manifest.csv --cache CACHE

For every val and test clip of the manifest and its copies (audio shifted +-3 / +-5 frames, swapped for another
person's: ``benchmarks.offset_profile.clip_copies``), the sync model's per-frame cosines (T, O) are reduced to one curve (O,) in
several ways, and the curve's ``sync``, ``offset``, |peak| and ``profile`` (leave-speaker-out on val, as
benchmarks/offset_profile.py) terms are compared by AUC, originals vs copies:

- ``mean``: the mean cosine per offset over the valid face frames (the product's ``SyncModel.offset_curve``);
- ``confw``: frames weighted by their own peak height (max - median over offsets);
- ``zmean``: the mean of each frame's cosines standardised over its offsets;
- ``soft<tau>``: the mean of each frame's softmax over offsets at temperature tau (a vote per frame);
- ``tophalf``: the mean over the half of the frames with the highest peak height.

Result (2026-12-06, the starter retrained that day): docs/results.md "Domain corpus: the retrained starter".
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def curves(cos: np.ndarray, valid: np.ndarray) -> dict:
    """Per-frame cosines (T, O) and their validity (T, O) -> {name: curve (O,)} (module doc)."""
    from avanomaly.postprocess.fusion import vote_curve

    m = valid.astype(float)
    out = {"mean": (np.where(valid, cos, 0.0)).sum(0) / np.maximum(m.sum(0), 1e-9)}
    c = np.where(valid, cos, np.nan)
    c = c[np.isfinite(c).sum(1) >= 5]
    mv = np.isfinite(c).astype(float)
    cw = np.nan_to_num(c)
    mx, med = np.nanmax(c, 1), np.nanmedian(c, 1)
    w = np.clip(mx - med, 0, None)
    out["confw"] = (cw * w[:, None] * mv).sum(0) / np.maximum((w[:, None] * mv).sum(0), 1e-9)
    z = (c - np.nanmean(c, 1, keepdims=True)) / (np.nanstd(c, 1, keepdims=True) + 1e-6)
    out["zmean"] = np.nanmean(z, 0)
    for tau in (0.05, 0.1):  # the product's vote curve (postprocess/fusion.py), at two temperatures
        out[f"soft{tau}"] = vote_curve(cos, valid, temperature=tau)
    top = w >= np.median(w) if len(w) >= 4 else np.ones(len(w), bool)
    out["tophalf"] = (cw[top] * mv[top]).sum(0) / np.maximum(mv[top].sum(0), 1e-9)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="starter")
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    from avanomaly.postprocess.fusion import offset_term, sync_term
    from avanomaly.scoring import Detector
    from benchmarks.offset_profile import add_profile, clip_copies, frame_scores
    from benchmarks.real_faces import auc, cached

    torch.set_num_threads(args.threads)
    det = Detector.from_pretrained(args.model, device="cpu", pipeline=False)
    scale = float(det.sync_model.scale.detach())
    man = pd.read_csv(args.manifest)
    man = man[man.split.isin(["val", "test"])].reset_index(drop=True)
    root = args.manifest.parent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feats = cached([str(root / p) for p in man.path], det.preprocess_cfg, args.cache, 1)
    rows, named = [], {}
    for meta, v, m, f in clip_copies(feats, man, root):
        fr = frame_scores(det, v, m)
        valid = fr.mask & (f[:, None] if f.sum() >= 2 else True)
        rows.append(meta)
        for name, c in curves(fr.logits.astype(np.float64) / scale, valid).items():
            named.setdefault(name, []).append(c)
    df = pd.DataFrame(rows)
    out = []
    for name, cl in named.items():
        cl = np.array(cl)
        k = (cl.shape[1] - 1) // 2
        d = add_profile(df.assign(abs_peak=np.abs(np.nanargmax(cl, 1) - k), sync=[sync_term(c, k) for c in cl],
                                  offset=[offset_term(c, k) for c in cl]), cl)
        for split in ("val", "test"):
            s = d[d.split == split]
            o = s[s.kind == "original"]
            for group, mask in (("shift+swap", s.kind != "original"),
                                ("shift 3", (s.kind == "shift") & (s["shift"].abs() == 3))):
                out += [{"curve": name, "split": split, "fakes": group, "term": t, "auc": auc(o[t], s[mask][t])}
                        for t in ("abs_peak", "sync", "offset", "profile")]
    res = pd.DataFrame(out).pivot_table(index="curve", columns=["split", "fakes", "term"], values="auc")
    print(res.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
