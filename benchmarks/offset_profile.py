"""Which score terms to fuse: each term and each candidate fusion on audio-shifted / swapped copies of REAL clips,
on the calibration (val) people, where the choice is made, and on the test people, where it is only reported.

    python benchmarks/offset_profile.py --model starter --manifest /work/corpus22b/manifest.csv \\
        --cache /work/s22/cache --out work/offset_profile

For every clip of the manifest's ``val`` and ``test`` splits (all real) the cached features (``--cache``; missing
ones are preprocessed into it) are scored as they are and as derived fakes made from them
(``benchmarks/real_faces.py``: audio shifted by +-3 and +-5 frames, and the audio of the next clip of ANOTHER
person): the terms ``nll``, ``sync``, ``offset``, ``|peak offset|`` and the offset-profile term ``profile``
(postprocess/profile.py). The profile of a val clip (original or derived) is fit on the OTHER val people's
originals (leave-speaker-out, as calibration computes it); test clips use the profile of every val original.
Fusions (mean z-score, standardised on the val originals, as ``ScoreFusion``) of every candidate term set.

Nothing here looks at a fake video: the derived copies are made from real clips (the sync model's own kind of
negative). The choice of the shipped default terms reads the **val** table only; the test table is reported.
Writes OUT/offset_profile.json and OUT/offset_profile.md.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.real_faces import SHIFTS, auc, auc_ci, cached, shifted, swapped  # noqa: E402

#: candidate term sets (the shipped default before issue 22 item 4 first)
CANDIDATES = {
    "nll+sync+offset": ("nll", "sync", "offset"),
    "nll+sync+offset+profile": ("nll", "sync", "offset", "profile"),
    "nll+sync+profile": ("nll", "sync", "profile"),
    "sync+offset+profile": ("sync", "offset", "profile"),
    "sync+profile": ("sync", "profile"),
    "nll+profile": ("nll", "profile"),
    "profile": ("profile",),
}
SINGLE = ("nll", "sync", "offset", "abs_peak", "profile")
#: shortest derived copy scored (frames): the sync model needs context on both sides
MIN_FRAMES = 30


def frame_scores(det, vis, mel):
    """The detector's ``FrameScores`` (per-frame NLL, sync logits, mask) of one clip's features, pushed in chunks
    as the Detector reads a file."""
    from avanomaly.conventions import DECODE_CHUNK_FRAMES, MEL_PER_FRAME

    sc = det.model.scorer(det.sync_window, det.sync_margin, det.precision, det.device)
    t = len(vis)
    for s in range(0, t, DECODE_CHUNK_FRAMES):
        e = min(t, s + DECODE_CHUNK_FRAMES)
        sc.push(np.asarray(vis[s:e]), np.asarray(mel[MEL_PER_FRAME * s:MEL_PER_FRAME * e], dtype=np.float32))
    return sc.finish()


def clip_evidence(det, vis, mel, found):
    """(terms without profile, offset curve (O,), peak offset) of one clip's features, as the Detector scores."""
    from avanomaly.postprocess.terms import score_frames

    ev = score_frames(frame_scores(det, vis, mel), found, det.sync_model, det.model.max_offset, det.aggregation,
                      float(det.preprocess_cfg.fps), face_frames_only=det.face_frames_only, curve=det.curve)
    return ev.terms, ev.curve, ev.offset


def clip_copies(feats, man: pd.DataFrame, root: Path):
    """Every cached clip of ``man`` and its derived copies: yields (meta dict: clip, identity, split, domain, kind,
    shift), visual (T, ...), mel (4T, M), face_found (T,); copies shorter than MIN_FRAMES are left out. The swap
    takes the audio of the next clip of ANOTHER person."""
    from avanomaly.conventions import MEL_PER_FRAME

    keep = [(p, r) for p, r in zip([str(root / x) for x in man.path], man.itertuples()) if feats.get(p) is not None]
    for i, (p, r) in enumerate(keep):
        a = feats[p]
        n = a.n_frames
        vis, mel = a.mouths[:n], a.mel[:MEL_PER_FRAME * n]
        found = np.ones(n, bool) if a.face_found is None else np.asarray(a.face_found, bool)[:n]
        copies = [("original", 0, vis, mel, found)]
        for s in SHIFTS:
            v, m = shifted(vis, mel, s)
            copies.append(("shift", s, v, m, found[s:] if s >= 0 else found[:n + s]))
        j = next((k for k in list(range(i + 1, len(keep))) + list(range(i)) if keep[k][1].identity != r.identity), None)
        if j is not None:
            o = feats[keep[j][0]]
            v, m = swapped(vis, o.mel[:MEL_PER_FRAME * o.n_frames])
            copies.append(("swap", 0, v, m, found[:len(v)]))
        for kind, shift, v, m, f in copies:
            if len(v) >= MIN_FRAMES:
                meta = {"clip": Path(p).name, "identity": r.identity, "split": r.split, "domain": r.domain,
                        "kind": kind, "shift": shift}
                yield meta, v, m, f


def derived_rows(det, feats, man: pd.DataFrame, root: Path):
    """Rows (clip, identity, split, domain, kind, shift, terms, peak) and curves (n, O) of every clip and copy."""
    rows, curves = [], []
    for meta, v, m, f in clip_copies(feats, man, root):
        terms, curve, peak = clip_evidence(det, v, m, f)
        rows.append({**meta, "frames": len(v), **terms, "abs_peak": abs(peak)})
        curves.append(curve)
    return pd.DataFrame(rows), np.stack(curves)


def add_profile(df: pd.DataFrame, curves: np.ndarray) -> pd.DataFrame:
    """The ``profile`` term: val rows under a profile of the OTHER val people's originals, test rows under the
    profile of every val original."""
    from avanomaly.postprocess.profile import OffsetProfile

    k = (curves.shape[1] - 1) // 2
    val, orig = (df.split == "val").values, (df.kind == "original").values
    prof = np.full(len(df), np.nan)
    for g in df[val].identity.unique():
        held = val & (df.identity == g).values
        fit = OffsetProfile.fit(list(curves[val & orig & ~held]), k)
        prof[held] = [fit.distance(c) for c in curves[held]]
    full = OffsetProfile.fit(list(curves[val & orig]), k)
    prof[~val] = [full.distance(c) for c in curves[~val]]
    return df.assign(profile=prof)


def fused(df: pd.DataFrame, terms) -> np.ndarray:
    from avanomaly.postprocess.fusion import ScoreFusion

    ref = df[(df.split == "val") & (df.kind == "original")]
    f = ScoreFusion.fit(ref[list(terms)].to_dict("records"), terms)
    return np.array([f.combine(r) for r in df[list(terms)].to_dict("records")])


def tables(df: pd.DataFrame, target_fpr: float = 0.05) -> dict:
    from avanomaly.postprocess.calibration import _threshold

    cols = list(SINGLE) + [f"fused:{n}" for n in CANDIDATES]
    out = {}
    for split in ("val", "test"):
        d = df[df.split == split]
        o = d[d.kind == "original"]
        groups = {"shift+swap": d.kind != "original", "shift 3": (d.kind == "shift") & (d["shift"].abs() == 3),
                  "shift 5": (d.kind == "shift") & (d["shift"].abs() == 5), "swap": d.kind == "swap"}
        res = {"n_real": int(len(o)), "people": int(o.identity.nunique()), "auc": {}}
        for g, mask in groups.items():
            f = d[mask]
            res["auc"][g] = {c: {"auc": auc(o[c], f[c]), **({"ci95": auc_ci(o[c], f[c])} if split == "test" else {})}
                             for c in cols}
        # each fusion's 5 % threshold on the val originals, and how many of this split's originals exceed it
        val_o = df[(df.split == "val") & (df.kind == "original")]
        res["false_alarms"] = {}
        for n in CANDIDATES:
            c = f"fused:{n}"
            thr = _threshold(np.sort(val_o[c].values), target_fpr)
            called = d[c] > thr
            res["false_alarms"][n] = {"originals": int((called & (d.kind == "original")).sum()),
                                      "of": int(len(o)), "derived_caught": float(called[d.kind != "original"].mean())}
        out[split] = res
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="starter")
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=None, help="feature cache (default OUT/cache)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="preprocessing processes for uncached clips")
    args = ap.parse_args(argv)

    import torch

    from avanomaly.scoring import Detector

    torch.set_num_threads(args.threads)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    det = Detector.from_pretrained(args.model, device="cpu", pipeline=False)
    man = pd.read_csv(args.manifest)
    man = man[man.split.isin(["val", "test"])].reset_index(drop=True)
    root = args.manifest.parent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feats = cached([str(root / p) for p in man.path], det.preprocess_cfg, args.cache or args.out / "cache",
                       args.workers)
        df, curves = derived_rows(det, feats, man, root)
    df = add_profile(df, curves)
    for n, terms in CANDIDATES.items():
        df[f"fused:{n}"] = fused(df, terms)
    res = tables(df)
    res["model"] = str(det.source)
    res["seconds"] = round(time.time() - t0, 1)
    df.to_csv(args.out / "offset_profile_rows.csv", index=False)
    np.save(args.out / "offset_profile_curves.npy", curves)
    (args.out / "offset_profile.json").write_text(json.dumps(res, indent=2, default=float))
    md = [f"model `{res['model']}`; {res['seconds']} s", ""]
    for split in ("val", "test"):
        r = res[split]
        md += [f"## {split}: {r['n_real']} real clips of {r['people']} people "
               f"({'the choice is made here' if split == 'val' else 'reported only'})", "",
               "| term / fusion | " + " | ".join(r["auc"]) + " | originals over the val 5 % threshold | "
               "derived copies over it |", "|---" * (len(r["auc"]) + 3) + "|"]
        for c in next(iter(r["auc"].values())):
            name = c.replace("fused:", "")
            cells = []
            for g in r["auc"]:
                a = r["auc"][g][c]
                cells.append(f"{a['auc']:.3f}" + (f" [{a['ci95'][0]:.2f}, {a['ci95'][1]:.2f}]" if "ci95" in a else ""))
            fa = r["false_alarms"].get(name)
            tail = [f"{fa['originals']}/{fa['of']}", f"{fa['derived_caught']:.2f}"] if c.startswith("fused:") else ["", ""]
            md.append(f"| {name} | " + " | ".join(cells + tail) + " |")
        md.append("")
    (args.out / "offset_profile.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
