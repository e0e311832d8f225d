"""False alarms of a model on the REAL clips of the domain corpus (scripts/corpus_domains.py), per split and
domain, with Clopper-Pearson 95 % intervals.

Every clip of the corpus is real, so every ``fake`` verdict at the model's calibrated threshold is a false alarm.
Score the clips with the CLI first (resumable; the default model is the shipped starter)::

    python -c "import pandas as pd; m = pd.read_csv('/work/corpus22/manifest.csv'); \\
      print('\\n'.join('/work/corpus22/' + p for p in m[m.split.isin(['test', 'val'])].path))" > /tmp/list.txt
    xargs -d '\\n' -a /tmp/list.txt avanomaly score --workers 1 --csv /work/corpus22/starter_scores.csv
    python benchmarks/domain_false_alarms.py --manifest /work/corpus22/manifest.csv \\
        --scores /work/corpus22/starter_scores.csv [--out OUT.md]

Clips whose result carries the out-of-sync warning (the sync model and the model-free lag of
``avanomaly/postprocess/offset_check.py`` both find the audio >= 160 ms off: a file edited or re-encoded out of sync
looks like shifted audio) are counted apart, with the rate over the other clips beside the plain one.
Rates are over the clips that got a verdict (``real`` or ``fake``): clips the detector abstained on (``unknown``)
and files it could not score (no face, ...) are counted in their own columns, not as alarms. The interval treats
clips as independent, which clips of one person are not: "people with an alarm" shows how the alarms spread.
``--unseen-by-starter`` leaves out the people the shipped starter was trained or calibrated on
(``starter_people``: every speaker of scripts/corpus.py but its test speakers), who may sit in this corpus's
val or test split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

SPLITS = ("test", "val")


def starter_people() -> set[str]:
    """Person ids (corpus_domains' naming) of the starter's training and calibration speakers."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # corpus.py, corpus_domains.py
    import corpus
    import corpus_domains

    return {corpus_domains.ALIASES.get(s, s) for s in corpus_domains.BASE_LABELS} - set(corpus.TEST_SPEAKERS)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for ``k`` successes in ``n`` trials (``(0, 1)`` when ``n == 0``)."""
    from scipy.stats import beta

    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def join(manifest: Path, scores: Path) -> pd.DataFrame:
    """Manifest rows of ``SPLITS`` with the score CSV's status / verdict / reason (``missing`` where not scored)."""
    man = pd.read_csv(manifest)
    man = man[man.split.isin(SPLITS)].copy()
    man["abs_path"] = [str((manifest.parent / p).resolve()) for p in man.path]
    sc = pd.read_csv(scores)
    sc["abs_path"] = [str(Path(p).resolve()) for p in sc.path]
    sc = sc.drop_duplicates("abs_path", keep="last").set_index("abs_path")
    for col in ("status", "verdict", "reason", "score", "warnings"):
        man[col] = man.abs_path.map(sc[col]) if col in sc else None
    man["status"] = man.status.fillna("missing")
    from avanomaly.postprocess.offset_check import WARNING_PREFIX  # both measures find the audio >= 160 ms off

    man["out_of_sync"] = man.warnings.fillna("").astype(str).str.contains(WARNING_PREFIX, regex=False)
    return man


def table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per split (domain ``all``) and per split x domain: clips, people, verdicts, false-alarm rate + CI."""
    rows = []
    for split in SPLITS:
        s = df[df.split == split]
        groups = [("all", s)] + [(d, g) for d, g in s.groupby("domain")]
        for domain, g in groups:
            ok = g[g.status == "ok"]
            fake = int((ok.verdict == "fake").sum())
            judged = int(ok.verdict.isin(["real", "fake"]).sum())
            lo, hi = clopper_pearson(fake, judged)
            rest = ok[ok.verdict.isin(["real", "fake"]) & ~ok.out_of_sync.astype(bool)]
            rest_fake = int((rest.verdict == "fake").sum())
            rlo, rhi = clopper_pearson(rest_fake, len(rest))
            rows.append({"split": split, "domain": domain, "clips": len(g), "people": g.identity.nunique(),
                         "judged": judged, "fake": fake, "rate": fake / judged if judged else float("nan"),
                         "ci_lo": lo, "ci_hi": hi, "out_of_sync": judged - len(rest),
                         "fake_out_of_sync": fake - rest_fake, "rest": len(rest), "rest_fake": rest_fake,
                         "rest_ci_lo": rlo, "rest_ci_hi": rhi, "unknown": int((ok.verdict == "unknown").sum()),
                         "failed": int((g.status == "failed").sum()), "missing": int((g.status == "missing").sum()),
                         "people_alarmed": ok[ok.verdict == "fake"].identity.nunique()})
    return pd.DataFrame(rows)


def markdown(t: pd.DataFrame) -> str:
    head = ("| split | domain | clips | people | with a verdict | called fake | false-alarm rate [95 % CI] | "
            "out of sync by both measures (of them fake) | rate without them [95 % CI] | unknown | not scored | "
            "people with an alarm |")
    lines = [head, "|" + "---|" * 12]
    for r in t.itertuples():
        rate = "-" if r.judged == 0 else f"{r.rate:.1%} [{r.ci_lo:.1%}, {r.ci_hi:.1%}]"
        rest = "-" if r.rest == 0 else f"{r.rest_fake}/{r.rest} = {r.rest_fake / r.rest:.1%} [{r.rest_ci_lo:.1%}, " \
                                       f"{r.rest_ci_hi:.1%}]"
        name = f"**{r.domain}**" if r.domain == "all" else r.domain
        lines.append(f"| {r.split} | {name} | {r.clips} | {r.people} | {r.judged} | {r.fake} | {rate} | "
                     f"{r.out_of_sync} ({r.fake_out_of_sync}) | {rest} | {r.unknown} | {r.failed + r.missing} | "
                     f"{r.people_alarmed} of {r.people} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--scores", type=Path, required=True, help="CSV written by `avanomaly score --csv`")
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown table and reasons here")
    ap.add_argument("--unseen-by-starter", action="store_true",
                    help="leave out the people the shipped starter was trained or calibrated on")
    args = ap.parse_args(argv)
    df = join(args.manifest, args.scores)
    if args.unseen_by_starter:
        seen = starter_people()
        print(f"left out (starter train/calibration people): {sorted(set(df.identity) & seen)}")
        df = df[~df.identity.isin(seen)]
    md = markdown(table(df))
    failed = df[df.status != "ok"].groupby(["split", "domain", "reason"], dropna=False).size()
    text = md + "\n\nNot scored (split, domain, reason -> clips):\n\n" + failed.to_string() + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
