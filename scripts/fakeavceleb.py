"""The FakeAVCeleb protocol of scripts/fakeavceleb.md, as one resumable script (GPU recommended).

    python scripts/fakeavceleb.py --root /data/FakeAVCeleb_v1.2 --out work/favc [--train-data real.csv]
        [--temporal transformer|mamba] [--seed 0] [--workers 8] [--baselines] [--dry-run] [-- TRAIN_OVERRIDES...]

Steps (each an `avanomaly` command run in-process through its click entry point, no shell; a step whose
output exists is skipped, so an interrupted run resumes):
  1. index      avanomaly index fakeavceleb ROOT --out OUT/favc.csv --seed SEED   (identity split 314/35/151)
  2. train      avanomaly train --real-only --config fakeavceleb --data OUT/favc.csv (--drop-fakes) or
                --data TRAIN_DATA (protocol 2: a manifest of external real clips), --out OUT/run
  3. evaluate   avanomaly evaluate --model OUT/run --data OUT/favc.csv --split test --out OUT/report
                (raw and leading-silence-trimmed passes side by side)
  4. baselines  (with --baselines) the same evaluation for sync-heuristic, sync-only and iforest
``--dry-run`` prints the commands and exits. Not run by the project itself (no FakeAVCeleb, no GPU here).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from avanomaly.postprocess.modelfile import MODEL_FILENAME  # noqa: E402

BASELINES = ("sync-heuristic", "sync-only", "iforest")


def plan(args) -> list[tuple[str, list[str], Path]]:
    """[(step name, avanomaly argv, output that marks the step done)]."""
    out = Path(args.out)
    manifest = out / "favc.csv"
    run = out / "run"
    cache = out / "cache"
    steps = [("index", ["index", "fakeavceleb", str(args.root), "--out", str(manifest), "--seed", str(args.seed)],
              manifest)]
    train = ["train", "--real-only", "--config", "fakeavceleb", "--out", str(run), "--cache", str(cache / "train"),
             "--seed", str(args.seed), "--temporal", args.temporal, f"data.preprocess_workers={args.workers}"]
    train += ["--data", str(args.train_data)] if args.train_data else ["--data", str(manifest), "--drop-fakes"]
    steps.append(("train", train + list(args.overrides), run / MODEL_FILENAME))
    evaluate = ["evaluate", "--model", str(run), "--data", str(manifest), "--split", "test", "--cache",
                str(cache / "eval"), "--workers", str(max(1, args.workers // 2)), "--seed", str(args.seed)]
    steps.append(("evaluate", [*evaluate, "--out", str(out / "report")], out / "report" / "metrics.json"))
    if args.baselines:
        for name in BASELINES:
            steps.append((f"baseline {name}", [*evaluate, "--method", name, "--out", str(out / f"report-{name}")],
                          out / f"report-{name}" / "metrics.json"))
    return steps


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="FakeAVCeleb_v1.2 folder (category folders + meta_data.csv)")
    ap.add_argument("--out", required=True, help="work folder: manifest, caches, run, reports")
    ap.add_argument("--train-data", default=None, help="protocol 2: manifest of external real clips to train on")
    ap.add_argument("--temporal", choices=["transformer", "mamba"], default="transformer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--baselines", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("overrides", nargs="*", help="extra TrainConfig overrides, e.g. stage1.max_epochs=60")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    steps = plan(args)
    if args.dry_run:
        for name, cmd, _ in steps:
            print(f"# {name}\navanomaly {shlex.join(cmd)}")
        return 0
    import click

    from avanomaly.cli import cli

    for name, cmd, done in steps:
        if done.exists():
            print(f"[{name}] done already ({done}), skipped", flush=True)
            continue
        print(f"[{name}] avanomaly {shlex.join(cmd)}", flush=True)
        t0 = time.time()
        try:
            cli.main(args=cmd, prog_name="avanomaly", standalone_mode=False)
        except click.ClickException as exc:
            exc.show()
            return 2
        except SystemExit as exc:  # click commands exit with their status
            if exc.code not in (0, None):
                print(f"[{name}] failed with exit code {exc.code}", file=sys.stderr)
                return int(exc.code) if isinstance(exc.code, int) else 1
        print(f"[{name}] {time.time() - t0:.0f} s", flush=True)
    print(f"report: {Path(args.out) / 'report' / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
