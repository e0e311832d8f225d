"""`make demo`: the main job end to end on built-in data, on a laptop CPU.

    avanomaly synth (demo size) -> avanomaly train --real-only -> avanomaly evaluate -> avanomaly score

Every step is the public CLI, run as a subprocess so its output (progress bars included) streams through.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def run(step: str, args: list[str], allow: tuple[int, ...] = (0,), stdout: Path | None = None) -> int:
    """One CLI step as a subprocess; ``stdout``: write its standard output to this file instead of the terminal."""
    cmd = [sys.executable, "-m", "avanomaly", *args]
    print(f"\n=== [{step}] avanomaly {' '.join(args)}" + (f" > {stdout}" if stdout else ""), flush=True)
    t0 = time.time()
    if stdout is None:
        rc = subprocess.call(cmd)
    else:
        with open(stdout, "w") as fh:
            rc = subprocess.call(cmd, stdout=fh)
    print(f"=== [{step}] exit {rc} in {time.time() - t0:.1f} s", flush=True)
    if rc not in allow:
        sys.exit(f"demo failed at step '{step}' (exit {rc})")
    return rc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="demo_output", help="folder for everything the demo writes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default="demo", help="synthetic benchmark size")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    out = Path(args.out).resolve()
    data, cache, run_dir, report = out / "synth", out / "cache", out / "run", out / "report"
    t0 = time.time()
    run("1/4 synth", ["synth", "--out", str(data), "--seed", str(args.seed), "--size", args.size,
                      "--workers", str(args.workers)])
    root = data / "FakeAVCeleb_v1.2"
    run("2/4 train", ["train", "--real-only", "--drop-fakes", "--data", str(root), "--out", str(run_dir),
                      "--cache", str(cache), "--seed", str(args.seed), "--config", "demo"])
    run("3/4 evaluate", ["evaluate", "--model", str(run_dir), "--data", str(root), "--out", str(report),
                         "--cache", str(cache), "--workers", str(args.workers)])
    detailed = report / "detailed_results.csv"
    examples = []
    if detailed.exists():
        import csv

        rows = list(csv.DictReader(detailed.open()))
        seen = set()
        for row in rows:  # one clip per category
            if row.get("category") not in seen:
                seen.add(row.get("category"))
                examples.append(row["path"])
    scores_json, plots = out / "scores.json", out / "plots"
    # the JSON (per-frame NLL curves: hundreds of lines) goes to a file, not the terminal
    run("4/4 score", ["score", *examples, "--model", str(run_dir), "--json", "--plot", str(plots)],
        allow=(0, 3), stdout=scores_json)
    print(f"\nDemo finished in {time.time() - t0:.0f} s.")
    metrics = report / "metrics.json"
    if metrics.exists():
        from avanomaly.evaluation.report import per_category_table

        try:
            print(per_category_table(json.loads(metrics.read_text())))
        except (KeyError, TypeError, ValueError) as exc:  # e.g. a metric that is null in the JSON: the report has it
            print(f"(no per-category table: {type(exc).__name__}: {exc})")
        print(f"Report: {report / 'report.html'}  (also report.md, metrics.json, detailed_results.csv)")
    if scores_json.exists():
        try:
            results = json.loads(scores_json.read_text()).get("results", [])
        except ValueError:
            results = []
        for r in results:
            score = f"{r['score']:.4f} ({r.get('verdict')})" if r.get("status") == "ok" else f"FAILED ({r.get('reason')})"
            print(f"  {Path(str(r.get('path'))).name}: {score}")
        print(f"Scores of one clip per category (JSON, per-frame NLL included): {scores_json}")
    print(f"Plots: {plots}")

if __name__ == "__main__":
    main()
