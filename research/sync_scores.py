"""Starter-model (sync stream) scores of every clip the dynamics / appearance probes read, from their landmark cache.

    python -m research.sync_scores [--manifest EXTRA.csv] [--model starter]   # -> CACHE/sync_scores.csv

The cache entries are the ones ``avanomaly preprocess --front-end landmarks`` writes (same key), so these are
the scores ``avanomaly score FILE`` gives, without decoding the files again.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd

from research.dynamics_extract import clip_table, landmark_config, probe_parser, select_groups


def main(argv=None) -> int:
    ap = probe_parser(__doc__)
    ap.add_argument("--model", default="starter")
    args = ap.parse_args(argv)
    from avanomaly.preprocess import FeatureCache
    from avanomaly.scoring import Detector

    det = Detector.from_pretrained(args.model, device="cpu")
    cfg = landmark_config()
    fc = FeatureCache(args.cache / "lm")
    rows = []
    table = clip_table(extra=args.manifest)
    table = select_groups(table, args.groups)
    for r in table.itertuples():
        key = fc.key(r.path, cfg)
        if not fc.has(key):
            continue
        c = fc.get(key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = det.score_features(c.mouths, c.mel, c.face_found, path=r.path,
                                     trimmed_seconds=float(c.meta.get("trimmed_seconds", 0.0)))
        rows.append({"path": r.path, "group": r.group, "identity": r.identity, "label": r.label,
                     "sync_score": res.score, "sync_percentile": res.percentile, "sync_verdict": res.verdict,
                     **{f"term_{k}": v for k, v in res.score_terms.items()}})
    out = pd.DataFrame(rows)
    out.to_csv(args.cache / "sync_scores.csv", index=False)
    print(out.groupby("group").sync_score.describe().to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
