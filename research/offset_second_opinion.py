"""Is a real clip's large audio-visual offset the sync model's error, or is the file itself out of sync? A
second, model-free estimate of the offset, compared with the sync model's, on real clips and on their
audio-shifted copies.

    python benchmarks/offset_profile.py --model M.pt --manifest MAN --cache CACHE --out OP   # the model's curves
    python -m research.offset_second_opinion --model M.pt --manifest MAN --cache CACHE --op OP

The model-free estimate (``avanomaly.postprocess.offset_check.envelope_lag``, what a result's ``av_offset_check``
reports): the lag, within +-15 frames, that maximises the correlation between the frame-to-frame changes of the
mouth's inner opening (the lip features' ``INNER_OPEN_FEATURE``) and of the audio's log energy per video frame
(from the cached log-mel). Nothing is learned; positive = audio later than the lips (the sign of
``benchmarks/real_faces.shifted``). Alone it is noisy
(a weak correlation, 0.15-0.35 on real clips); the question is how often it AGREES (within +-1 frame) with the
sync model's peak offset, for originals whose model offset is large (>= ``LARGE`` frames) and for shifted copies.
Reads the clips and copies ``offset_profile.py`` scored (its rows CSV and curves, same order), so the model's
signed peak of every copy is the argmax of its stored curve.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from avanomaly.postprocess.offset_check import AGREE_FRAMES  # noqa: E402
from avanomaly.postprocess.offset_check import LARGE_OFFSET_FRAMES as LARGE  # noqa: E402  (160 ms at 25 fps)


def copies_lags(man: pd.DataFrame, cache: Path, cfg) -> pd.DataFrame:
    """The envelope lag of every clip and copy ``offset_profile.clip_copies`` yields (same order); ``cfg``: the
    model's PreprocessConfig (the cache keys)."""
    from avanomaly.conventions import MEL_PER_FRAME
    from avanomaly.postprocess.offset_check import envelope_lag, frame_energy
    from avanomaly.preprocess.landmarks import INNER_OPEN_FEATURE
    from benchmarks.offset_profile import clip_copies
    from benchmarks.real_faces import cached

    root = Path(man.attrs["root"])
    feats = cached([str(root / p) for p in man.path], cfg, cache, workers=1)
    rows = []
    for meta, v, m, _found in clip_copies(feats, man, root):
        lag, c = envelope_lag(np.asarray(v)[:, INNER_OPEN_FEATURE], frame_energy(m, MEL_PER_FRAME))
        rows.append({**meta, "env_lag": np.nan if lag is None else lag, "env_corr": c})
    return pd.DataFrame(rows)


def agreement_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per split and kind: copies, share with |model peak| >= LARGE, and share of those where the envelope agrees."""
    out = []
    for (split, kind, shift), g in df.groupby(["split", "kind", "shift"]):
        big = g[g.peak.abs() >= LARGE]
        agree = (big.env_lag - big.peak).abs() <= AGREE_FRAMES
        out.append({"split": split, "kind": kind, "shift": shift, "copies": len(g),
                    f"model |peak| >= {LARGE}": len(big), "envelope agrees": int(agree.sum()),
                    "agree share": round(float(agree.mean()), 3) if len(big) else np.nan,
                    "envelope within 1 of the shift":
                        round(float(((g.env_lag - g["shift"]).abs() <= AGREE_FRAMES).mean()), 3)
                    if kind != "swap" else np.nan})
    return pd.DataFrame(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--model", default="starter", help="the model offset_profile.py scored (its preprocessing)")
    ap.add_argument("--op", type=Path, required=True, help="offset_profile.py's --out folder (rows CSV + curves)")
    ap.add_argument("--out", type=Path, default=None, help="CSV of every clip and copy (default OP/second_opinion.csv)")
    args = ap.parse_args(argv)
    man = pd.read_csv(args.manifest)
    man = man[man.split.isin(["val", "test"])].reset_index(drop=True)
    man.attrs["root"] = str(args.manifest.parent)
    rows = pd.read_csv(args.op / "offset_profile_rows.csv")
    curves = np.load(args.op / "offset_profile_curves.npy")
    if len(rows) != len(curves):
        raise SystemExit("rows and curves of --op differ in length")
    k = (curves.shape[1] - 1) // 2
    rows["peak"] = np.nanargmax(np.where(np.isfinite(curves), curves, -np.inf), axis=1) - k
    from avanomaly.scoring.detector import Detector

    env = copies_lags(man, args.cache, Detector.from_pretrained(args.model).preprocess_cfg)
    key = ["clip", "kind", "shift"]
    df = rows.merge(env[key + ["env_lag", "env_corr"]], on=key, how="inner")
    if len(df) != len(rows):
        print(f"note: {len(rows) - len(df)} rows of --op had no envelope (not in the cache)", file=sys.stderr)
    out = args.out or args.op / "second_opinion.csv"
    df.to_csv(out, index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(agreement_table(df).to_string(index=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
