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


def run(step: str, args: list[str], allow: tuple[int, ...] = (0,)) -> int:
    cmd = [sys.executable, "-m", "avanomaly", *args]
    print(f"\n=== [{step}] avanomaly {' '.join(args)}", flush=True)
    t0 = time.time()
    rc = subprocess.call(cmd)
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
    run("4/4 score", ["score", *examples, "--model", str(run_dir), "--json", "--plot", str(out / "plots")],
        allow=(0, 3))
    print(f"\nDemo finished in {time.time() - t0:.0f} s.")
    metrics = report / "metrics.json"
    if metrics.exists():
        print(f"Report: {report / 'report.html'}  (also report.md, metrics.json, detailed_results.csv)")
        summary = json.loads(metrics.read_text())
        print(json.dumps(summary.get("summary", {}), indent=2)[:3000])


if __name__ == "__main__":
    main()
