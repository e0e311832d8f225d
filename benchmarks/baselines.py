"""avanomaly vs the baselines, per FakeAVCeleb category (AUC), raw and silence-trimmed, + the supervised
baseline's leave-one-method-out generalisation gap.

    .venv/bin/python benchmarks/baselines.py --data DIR/FakeAVCeleb_v1.2 --model RUN --out reports/baselines \
        [--cache CACHE] [--methods avanomaly,sync-heuristic,sync-only,iforest,supervised] [--bootstrap 200] \
        [--no-trimmed] [--no-lomo] [--threads 1] [--docs docs/results.md]

Every method is run through ``avanomaly.evaluation.evaluate_model`` (the same code as
``avanomaly evaluate --method NAME``), so each gets a full report in OUT/<method>/. Then:
  OUT/baselines_auc.csv / .md   AUC per (method, pass, comparison: each category + all fakes pooled);
  OUT/lomo.csv / .md            supervised AUC per held-out fake method: trained with that method's fakes
                                (seen) vs without them (held out), on the same test clips;
  --docs FILE                   rewrites the section between the BASELINES markers of FILE with both tables,
                                the command line and the date.
The iforest / supervised baselines fit on the training split of RUN's config.yaml (same identity split).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_METHODS = ("avanomaly", "sync-heuristic", "sync-only", "iforest", "supervised")
REAL_ONLY = {"avanomaly": "yes", "sync-heuristic": "no training", "sync-only": "yes (stage 1)", "iforest": "yes",
             "supervised": "**NO** (real + fake)"}
CATEGORIES = ("RealVideo-FakeAudio", "FakeVideo-RealAudio", "FakeVideo-FakeAudio", "all fakes")
BEGIN = "<!-- BASELINES:BEGIN -->"
END = "<!-- BASELINES:END -->"


def auc_rows(method: str, metrics: dict) -> list[dict]:
    rows = []
    for pass_name, p in metrics["passes"].items():
        for c in p["comparisons"]:
            if c["kind"] not in ("category", "pooled"):
                continue
            name = "all fakes" if c["kind"] == "pooled" else c["name"]
            rows.append({"method": method, "pass": pass_name, "comparison": name, "auc": c["auc"],
                         "auc_ci": c.get("auc_ci"), "n_real": c["n_real"], "n_fake": c["n_fake"],
                         "n_failed": p["n_failed"]})
    return rows


def markdown_auc(df: pd.DataFrame) -> str:
    passes = list(dict.fromkeys(df["pass"]))
    comps = [c for c in CATEGORIES if c in set(df["comparison"])]
    head = "| method | real-only | " + " | ".join(f"{c} ({p})" for p in passes for c in comps) + " |"
    lines = [head, "|" + "---|" * (2 + len(passes) * len(comps))]
    for m in dict.fromkeys(df["method"]):
        cells = []
        for p in passes:
            for c in comps:
                r = df[(df["method"] == m) & (df["pass"] == p) & (df["comparison"] == c)]
                v = r["auc"].iloc[0] if len(r) else None
                cells.append("–" if v is None or pd.isna(v) else f"{v:.3f}")
        lines.append(f"| {m} | {REAL_ONLY.get(m, '?')} | " + " | ".join(cells) + " |")
    counts = df.drop_duplicates(["pass", "comparison"]).set_index(["pass", "comparison"])
    n = "; ".join(f"{c}: {int(counts.loc[(passes[0], c), 'n_fake'])} fake" for c in comps
                  if (passes[0], c) in counts.index)
    lines.append("")
    lines.append(f"Test clips: {int(counts['n_real'].iloc[0])} real; {n}.")
    return "\n".join(lines)


def lomo(model, data, cache, trimmed: bool, progress: bool) -> pd.DataFrame:
    """Supervised baseline: per fake method of the test split, AUC (test reals vs that method's test fakes)
    when trained on every method (seen) and with that method's training fakes left out (held out)."""
    from sklearn.metrics import roc_auc_score

    from avanomaly.data import read_manifest
    from avanomaly.evaluation.pipeline import select_split
    from avanomaly.evaluation.scorers import create_scorer

    test = select_split(read_manifest(data), "test")
    paths = list(test["path"].astype(str))
    seen = create_scorer("supervised", model=model, cache=cache, progress=progress).score_many(paths, trimmed)
    test = test.assign(seen=seen["score"].to_numpy(), seen_ok=(seen["status"] == "ok").to_numpy())
    rows = []
    fake_methods = sorted(set(test.loc[test["label"] == "fake", "method"]))
    for m in fake_methods:
        held = create_scorer("supervised", model=model, cache=cache, progress=progress,
                             fit={"holdout_methods": [m]})
        sel = test[(test["label"] == "real") | (test["method"] == m)]
        out = held.score_many(list(sel["path"].astype(str)), trimmed)
        ok = (out["status"] == "ok").to_numpy() & sel["seen_ok"].to_numpy()
        y = (sel["label"] == "fake").to_numpy()[ok].astype(int)
        a_seen = roc_auc_score(y, sel["seen"].to_numpy()[ok])
        a_held = roc_auc_score(y, out["score"].to_numpy()[ok])
        rows.append({"pass": "trimmed" if trimmed else "raw", "held_out_method": m, "n_real": int((y == 0).sum()),
                     "n_fake": int((y == 1).sum()), "auc_seen": a_seen, "auc_held_out": a_held,
                     "gap": a_seen - a_held, "n_train_fake_held_out": held.fit_info[trimmed]["n_fake"],
                     "n_train_fake_seen": None})
    return pd.DataFrame(rows)


def markdown_lomo(df: pd.DataFrame) -> str:
    lines = ["| pass | held-out method | test real / fake | AUC trained with it | AUC held out | gap |",
             "|---|---|---|---|---|---|"]
    for r in df.to_dict("records"):
        lines.append(f"| {r['pass']} | {r['held_out_method']} | {r['n_real']} / {r['n_fake']} | "
                     f"{r['auc_seen']:.3f} | {r['auc_held_out']:.3f} | {r['gap']:+.3f} |")
    return "\n".join(lines)


def write_docs(path: Path, body: str) -> None:
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        _, post = rest.split(END, 1)
        text = pre + block + post
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    path.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True, help="training run directory (model.pt + config.yaml)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=None, help="cache folder (features + scores); default OUT/cache")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    ap.add_argument("--split", default="test")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--no-trimmed", action="store_true")
    ap.add_argument("--no-lomo", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--docs", default=None, help="markdown file whose BASELINES section is rewritten")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from avanomaly.evaluation import evaluate_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else out / "cache"
    t0 = time.time()
    rows, seconds = [], {}
    for m in [s.strip() for s in args.methods.split(",") if s.strip()]:
        t = time.time()
        metrics = evaluate_model(args.model, args.data, out / m, split=args.split, method=m,
                                 bootstrap=args.bootstrap, trimmed_pass=not args.no_trimmed, cache=cache,
                                 progress=not args.quiet)
        seconds[m] = time.time() - t
        rows.extend(auc_rows(m, metrics))
        print(f"{m}: done in {seconds[m]:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out / "baselines_auc.csv", index=False)
    table = markdown_auc(df)
    (out / "baselines_auc.md").write_text(table + "\n")
    print(table)
    lomo_md = ""
    if not args.no_lomo:
        parts = [lomo(args.model, args.data, cache, trim, not args.quiet)
                 for trim in ([False] if args.no_trimmed else [False, True])]
        ldf = pd.concat(parts, ignore_index=True)
        ldf.to_csv(out / "lomo.csv", index=False)
        lomo_md = markdown_lomo(ldf)
        (out / "lomo.md").write_text(lomo_md + "\n")
        print(lomo_md)
    total = time.time() - t0
    if args.docs:
        cmd = "python benchmarks/baselines.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        body = (f"Produced {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by\n\n```bash\n{cmd}\n```\n\n"
                f"({total / 60:.1f} min on this shared 2-core CPU; per method: "
                + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()) + ")\n\n"
                "ROC AUC, fake = positive, each category vs all real test clips:\n\n" + table + "\n")
        if lomo_md:
            body += ("\nSupervised baseline, leave-one-method-out (trained on the training split's real clips "
                     "and every fake method but the held-out one):\n\n" + lomo_md + "\n")
        write_docs(Path(args.docs), body)
        print(f"wrote {args.docs}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
