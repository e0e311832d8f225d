"""Choose a calibration pool on validation clips only: all clips, or at most N per speaker (issue 22 item 3).

    avanomaly score $(cat val_list.txt) --json > val_terms.json      # the val clips' score_terms (any calibration)
    python benchmarks/calibration_pool.py --manifest MANIFEST --scores val_terms.json --split val --caps 0,20,10,5

For each cap (0 = every clip) the pool is ``scoring.calibration.cap_per_speaker`` of the manifest's clips in the
split (the rows ``avanomaly calibrate --max-per-speaker N`` would use), and three false-alarm rates at a 5 %
threshold are estimated out of speaker (for each speaker, fusion + threshold fit on the OTHER speakers' pool
clips, ``calibration.leave_speaker_out``'s rule):

- ``pool``: over the pool's own clips (what ``Calibration.basis.far`` records);
- ``all clips``: over every clip of the split, i.e. the held-out speaker's clips beyond the cap count too;
- ``per person``: the mean over speakers of each one's alarm rate on all their clips (every person weighs
  the same, however many clips they have: the rate to expect for a new person).

The score terms (nll, sync, offset; not the fitted `profile` term) do not depend on a model's calibration, so one scoring run serves every
pool. Only clips scored ``ok`` join (as in ``Detector.calibrate``). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from avanomaly.postprocess.basis import rate
from avanomaly.postprocess.calibration import (_fit_scores, _threshold, calibrate_terms, cap_per_speaker,
                                           leave_speaker_out)
from avanomaly.postprocess.fusion import CURVE_TERMS, clip_score


def load(manifest: Path, scores: Path, split: str | None) -> pd.DataFrame:
    """Manifest rows (real, of ``split``) joined with the score JSON's terms -> rows with ``terms``; the
    manifest's order is kept (it sets which clips a cap keeps)."""
    man = pd.read_csv(manifest)
    if split:
        man = man[man.split == split]
    man = man[man.label.astype(str).str.lower() == "real"].copy()
    man["abs_path"] = [str((manifest.parent / p).resolve()) for p in man.path]
    doc = json.loads(scores.read_text())
    res = {str(Path(r["path"]).resolve()): r for r in doc["results"] if r.get("status") == "ok"}
    man["terms"] = [res[p]["score_terms"] if p in res else None for p in man.abs_path]
    missing = int(man.terms.isna().sum())
    if missing:
        print(f"{missing} clip(s) of the manifest not scored ok: left out", file=sys.stderr)
    return man[man.terms.notna()].reset_index(drop=True)


def evaluate(df: pd.DataFrame, cap: int, target_fpr: float = 0.05, terms=CURVE_TERMS) -> dict:
    speakers = df.identity.astype(str).tolist()
    keep = list(range(len(df))) if cap <= 0 else cap_per_speaker(speakers, cap)
    pool = df.iloc[keep]
    rows, spk, dom = list(pool.terms), pool.identity.astype(str).tolist(), pool.domain.astype(str).tolist()
    far = leave_speaker_out(rows, spk, dom, target_fpr, terms)
    alarms, per_person = np.zeros(len(df), dtype=bool), []
    for g in dict.fromkeys(speakers):
        rest = [r for r, s in zip(rows, spk) if s != g]
        fusion, rest_scores = _fit_scores(rest, rest, terms)
        thr = _threshold(np.sort(np.asarray(rest_scores, dtype=np.float64)), target_fpr)
        own = [i for i, s in enumerate(speakers) if s == g]
        hit = np.asarray([clip_score(fusion, df.terms[i]) for i in own]) > thr
        alarms[own] = hit
        per_person.append(float(hit.mean()))
    cal = calibrate_terms(rows, target_fpr, terms=terms, speakers=spk, domains=dom)
    return {"cap": cap, "n_pool": len(pool), "n_speakers": len(set(spk)),
            "largest_share": float(pool.identity.value_counts(normalize=True).iloc[0]),
            "far_pool": far["overall"], "far_all": rate(int(alarms.sum()), len(df)),
            "far_per_person": float(np.mean(per_person)), "people_alarmed": int(sum(p > 0 for p in per_person)),
            "threshold": cal.threshold, "score_definition": cal.score_definition}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", required=True, type=Path)
    ap.add_argument("--scores", required=True, type=Path, help="avanomaly score --json output of the clips")
    ap.add_argument("--split", default="val")
    ap.add_argument("--caps", default="0,20,10,5", help="clips per speaker, comma-separated; 0 = all")
    ap.add_argument("--target-fpr", type=float, default=0.05)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    df = load(args.manifest, args.scores, args.split)
    print(f"{len(df)} clips of {df.identity.nunique()} speakers; domains {df.domain.value_counts().to_dict()}; "
          f"largest speaker {df.identity.value_counts().iloc[0]} clips")
    out = [evaluate(df, int(c), args.target_fpr) for c in args.caps.split(",")]

    def r(x):
        return f"{x['rate']:.1%} ({x['k']}/{x['n']}) [{x['ci_low']:.1%}, {x['ci_high']:.1%}]"

    print("| clips per speaker | pool clips | speakers | largest speaker's share | threshold | "
          "out-of-speaker FAR: pool | all clips | per person (mean) | people with an alarm |")
    print("|" + "---|" * 9)
    for o in out:
        print(f"| {o['cap'] or 'all'} | {o['n_pool']} | {o['n_speakers']} | {o['largest_share']:.0%} | "
              f"{o['threshold']:.4f} | {r(o['far_pool'])} | {r(o['far_all'])} | {o['far_per_person']:.1%} | "
              f"{o['people_alarmed']} of {o['n_speakers']} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
