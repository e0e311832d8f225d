"""Train the starter model shipped in avanomaly/pretrained/starter.pt, on public real clips only (CPU, 2 cores).

    python scripts/starter_model.py --mirrors /work/.mirror --work work/starter [--augment 1] [--install]

1. ``scripts/corpus_domains.py``: extract the real-only domain corpus from the fetched repositories (sources,
   commits and licences are listed there and in scripts/corpus.py) into WORK/corpus, split by person into
   train / val / test (test: whole repositories never trained or calibrated on; the shared real-av clips'
   sources and people left out);
2. ``avanomaly preprocess --front-end landmarks`` into WORK/cache (MediaPipe face mesh; resumable);
3. ``avanomaly train --real-only --config starter --augment N`` into WORK/run (N domain-augmented variants of
   every TRAINING clip: down-scaling, re-compression, frame-rate jitter, noise, reverb, band-limiting, gain; they
   stay real; stage 1 sync on lip landmarks + log-mel, stage 2 AR model; calibration on the val people, never
   trained on, with the offset-profile term); ``--resume`` continues a killed run;
4. ``--install``: copy WORK/run/model.pt to avanomaly/pretrained/starter.pt (the weights the package ships);
5. ``benchmarks/real_faces.py`` on the shared real clips and the corpus's test speakers -> WORK/real_faces.

``--recalibrate MANIFEST`` only re-calibrates the shipped starter.pt in place (default score terms, e.g. after a
new term): on the clips of MANIFEST whose identity is one of the model's own calibration speakers
(``provenance.val_identities``, never trained on), and nothing else; prints the old and new reference scores.
It refuses a starter.pt calibrated on another pool (since issue 22 the shipped one is: the domain corpus's val
split, by ``avanomaly calibrate``; avanomaly/pretrained/README.md).
It records what the calibration rests on (``Calibration.basis``: clips, speakers from the ``identity`` column,
domains from a ``domain`` column when there is one, the leave-speaker-out false-alarm rate, the clips' recording
facts). ``--basis-only`` keeps the stored threshold, fusion and reference scores exactly and only adds the basis;
it refuses unless the re-scored clips land on the stored reference scores (to 1e-3; 8e-5 measured), i.e. they
are its clips.

Every step skips what is already done, so re-running after a kill continues where it stopped.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from avanomaly.postprocess.modelfile import MODEL_FILENAME

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "avanomaly" / "pretrained" / "starter.pt"
#: the shared real-av clips: clips byte-identical to them are left out of the corpus
SHARED = REPO.parent / "shared" / "data" / "real-av"


def run(args: list[str]) -> None:
    print("$ " + " ".join(args), flush=True)
    rc = subprocess.call(args)
    if rc:
        sys.exit(f"step failed (exit {rc}): {' '.join(args)}")


def recalibrate(manifest: Path, threads: int, basis_only: bool = False) -> int:
    """Re-calibrate PRETRAINED on its own calibration speakers' clips (listed in MANIFEST) with the default terms
    (``basis_only``: keep the calibration, add its basis)."""
    import numpy as np
    import pandas as pd
    import torch

    from avanomaly.scoring import Detector
    from avanomaly.postprocess.basis import describe
    from avanomaly.postprocess.modelfile import read_model_file, update_model_file

    torch.set_num_threads(threads)
    obj = read_model_file(PRETRAINED)
    stored = obj.get("calibration") or {}
    if stored.get("n") != obj["provenance"]["n_val_clips"]:
        sys.exit(f"{PRETRAINED} is calibrated on {stored.get('n')} clips ({stored.get('notes', '')[:200]}), not on "
                 "its training's calibration speakers: re-calibrate it with `avanomaly calibrate` on a copy "
                 "(docs/results.md \"Domain corpus: the starter re-calibrated on val\"); nothing written")
    speakers = set(obj["provenance"]["val_identities"])
    man = pd.read_csv(manifest)
    clips = man[man.identity.isin(speakers) & (man.label == "real")]
    paths = [str(manifest.parent / p) for p in clips.path]
    if len(paths) != obj["provenance"]["n_val_clips"]:
        sys.exit(f"{manifest}: {len(paths)} clips of {sorted(speakers)}, the model was calibrated on "
                 f"{obj['provenance']['n_val_clips']}: not its calibration clips")
    det = Detector.from_pretrained(str(PRETRAINED), device="cpu")
    old = det.calibration
    terms = old.fusion["terms"] if old.fusion else ["nll"]
    cal, failed = det.calibrate(paths, target_fpr=old.target_fpr, terms=terms if basis_only else None,
                                speakers=list(clips.identity),
                                domains=list(clips.domain) if "domain" in clips else None,
                                notes=f"manifest {manifest}: the {len(paths)} clips of the calibration speakers "
                                      f"{sorted(speakers)} (never trained on)")
    if failed:
        sys.exit(f"could not score {[f.path for f in failed]}")
    if basis_only:
        gap = float(np.max(np.abs(np.subtract(cal.reference_scores, old.reference_scores))))
        if gap > 1e-3:  # different threads / machines move scores by ~1e-4; other clips by > 0.1
            sys.exit(f"re-scored clips are {gap:.3g} off the stored reference scores: not its calibration clips "
                     "(or the model changed); nothing written")
        print(f"re-scored clips within {gap:.2g} of the stored reference scores")
        old.basis = cal.basis  # threshold, fusion and reference scores untouched
        cal = old
    update_model_file(PRETRAINED, calibration=cal.to_dict())
    print(f"old: {old.score_definition}; threshold {old.threshold:.4f}; reference {old.reference_scores}")
    print(f"new: {cal.score_definition}; threshold {cal.threshold:.4f}; reference {cal.reference_scores}")
    print(f"basis: {describe(cal.basis)}; pool {cal.basis.get('pool')}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirrors", type=Path, default=None, help="folder of <owner>+<name>[/repo] git directories")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="preprocessing processes")
    ap.add_argument("--augment", type=int, default=1,
                    help="domain-augmented variants per training clip (0: none; the shipped starter: 1)")
    ap.add_argument("--install", action="store_true", help=f"copy the trained model to {PRETRAINED.relative_to(REPO)}")
    ap.add_argument("--recalibrate", type=Path, default=None, metavar="MANIFEST",
                    help="only re-calibrate the shipped starter.pt on MANIFEST's clips of its calibration speakers")
    ap.add_argument("--basis-only", action="store_true",
                    help="with --recalibrate: keep the stored calibration, only record what it rests on")
    ap.add_argument("overrides", nargs="*", help="training overrides, e.g. stage1.max_epochs=10")
    args = ap.parse_args(argv)
    if args.recalibrate:
        return recalibrate(args.recalibrate, args.threads, args.basis_only)
    py = sys.executable
    work = args.work
    t0 = time.time()
    if args.mirrors is None or args.work is None:
        ap.error("--mirrors and --work are required (unless --recalibrate)")
    corpus_cmd = [py, str(REPO / "scripts" / "corpus_domains.py"), "--mirrors", str(args.mirrors),
                  "--out", str(work / "corpus")]
    if SHARED.is_dir():
        corpus_cmd += ["--shared", str(SHARED)]
    run(corpus_cmd)
    manifest = work / "corpus" / "manifest.csv"
    run([py, "-m", "avanomaly", "preprocess", "--front-end", "landmarks", "--manifest", str(manifest),
         "--out", str(work / "cache"), "--workers", str(args.workers), "--no-progress"])
    t_pre = time.time()
    run_dir = work / "run"
    train = [py, "-m", "avanomaly", "train", "--real-only", "--out", str(run_dir), "--cache", str(work / "cache"),
             "--threads", str(args.threads), "--no-progress"]
    if (run_dir / "config.yaml").exists():
        train += ["--resume"]
    else:
        train += ["--config", "starter", "--data", str(manifest), "--augment", str(args.augment), *args.overrides]
    if not (run_dir / MODEL_FILENAME).exists():
        run(train)
    t_train = time.time()
    if args.install:
        PRETRAINED.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / MODEL_FILENAME, PRETRAINED)
        print(f"installed {PRETRAINED} ({PRETRAINED.stat().st_size / 1e6:.2f} MB)")
    run([py, str(REPO / "benchmarks" / "real_faces.py"), "--out", str(work / "real_faces"),
         "--model", str(run_dir), "--corpus", str(manifest), "--threads", str(args.threads)])
    print(f"corpus + preprocessing {t_pre - t0:.0f} s, training {t_train - t_pre:.0f} s, "
          f"benchmark {time.time() - t_train:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
