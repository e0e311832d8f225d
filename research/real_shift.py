"""Does a model trained on real clips only see audio shifts on REAL faces it never saw?

    python -m research.real_shift --out work/real_shift [--synth SYNTH_ROOT] [--epochs 60] [--model RUN]

The shared real clips (../shared/data/real-av, 10 talking heads from LRS2, VoxCeleb2, HDTF, ...) are split by
clip: HELD_OUT (never trained on, incl. the VGG clip whose 120 ms audio-delayed copy is a shared fake), VAL
(early stopping + calibration) and the rest for training. With ``--synth ROOT`` the real clips of a synthetic
set (``avanomaly synth``) are added to training ("mixed"). The `demo` preset is trained with stage 1 for
``--epochs`` epochs (unless ``--model`` gives a trained run), then every held-out clip is scored with its audio
rolled by SHIFTS frames (positive = audio later), plus the VGG pair as files. Prints and writes
OUT/real_shift.json and OUT/real_shift.md: per clip and shift the AV offset estimate and the score, the offset
error |offset(s) - offset(0) - s|, and the AUC of unshifted vs shifted copies.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from avanomaly.postprocess.modelfile import MODEL_FILENAME  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REAL_AV = REPO.parent / "shared" / "data" / "real-av"
HELD_OUT = ("real/vgg_syncnet_example.avi", "real/lrs2_00004.mp4", "real/vox2_681100216.mp4")
VAL = ("real/lrs2_00009.mp4",)
VGG_SHIFTED = "fake/avshift_vgg_syncnet_example_120ms.avi"
SHIFTS = (-6, -3, 0, 3, 6)


def build_manifest(real_av: Path, out: Path, synth: str | None) -> Path:
    man = pd.read_csv(real_av / "manifest.csv")
    real = man[man["label"] == "real"].copy()
    real["split"] = ["test" if p in HELD_OUT else "val" if p in VAL else "train" for p in real["path"]]
    real["path"] = [str((real_av / p).resolve()) for p in real["path"]]
    real["identity"] = [Path(p).stem for p in real["path"]]
    rows = real[["path", "label", "category", "method", "identity", "split"]]
    if synth:
        idx = out / "synth_index.csv"
        _avanomaly(["index", "fakeavceleb", synth, "--out", str(idx)])
        s = pd.read_csv(idx)
        s = s[s["label"] == "real"].copy()
        s["path"] = [str((idx.parent / p).resolve()) if not Path(p).is_absolute() else p for p in s["path"]]
        s["split"] = s["split"].replace({"test": "train"})  # the synthetic identities are never evaluated here
        rows = pd.concat([rows, s[["path", "label", "category", "method", "identity", "split"]]])
    path = out / "manifest.csv"
    rows.to_csv(path, index=False)
    return path


def _avanomaly(args: list[str]) -> None:
    print(f"$ avanomaly {' '.join(args)}", flush=True)
    rc = subprocess.call([sys.executable, "-m", "avanomaly", *args])
    if rc:
        sys.exit(f"avanomaly {args[0]} failed (exit {rc})")


def auc(neg, pos) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([0] * len(neg) + [1] * len(pos), list(neg) + list(pos)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--real-av", default=str(REAL_AV))
    ap.add_argument("--synth", default=None, help="FakeAVCeleb-layout synthetic root whose real clips join training")
    ap.add_argument("--epochs", type=int, default=60, help="stage-1 epochs (demo preset: 30)")
    ap.add_argument("--model", default=None, help="score with this trained run instead of training")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    real_av = Path(args.real_av)
    t0 = time.time()
    run = Path(args.model) if args.model else out / "run"
    if not args.model and not (run / MODEL_FILENAME).exists():
        manifest = build_manifest(real_av, out, args.synth)
        _avanomaly(["train", "--real-only", "--config", "demo", "--data", str(manifest), "--out", str(run),
                    "--cache", str(out / "cache"), "--threads", str(args.threads), "--no-progress",
                    f"stage1.max_epochs={args.epochs}", "stage1.early_stopping_patience=10"])
    train_s = time.time() - t0

    import torch

    from avanomaly.evaluation.report import markdown_table
    from avanomaly.io import load_clip
    from avanomaly.scoring import Detector

    torch.set_num_threads(args.threads)
    det = Detector.from_pretrained(run, device="cpu")
    spf = det.preprocess_cfg.samples_per_frame
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rel in HELD_OUT:
            clip = load_clip(real_av / rel, max_side=det.preprocess_cfg.max_side)
            for shift in SHIFTS:
                res = det.anomaly_score((clip.frames, np.roll(clip.audio, shift * spf)))
                rows.append({"clip": Path(rel).name, "shift": shift, "offset": res.av_offset_frames,
                             "confidence": round(res.av_offset_confidence, 4), "score": round(res.score, 4),
                             "percentile": res.percentile})
        vgg = [det.anomaly_score(real_av / p) for p in (HELD_OUT[0], VGG_SHIFTED)]
    df = pd.DataFrame(rows)
    base = df[df["shift"] == 0].set_index("clip")["offset"]
    df["offset_error"] = [abs(r.offset - base[r.clip] - r.shift) for r in df.itertuples()]
    shifted = df[df["shift"] != 0]
    summary = {
        "model": str(run), "train_seconds": round(train_s), "synth": args.synth, "epochs": args.epochs,
        "held_out": list(HELD_OUT), "shifts": list(SHIFTS),
        "offset_within_1_frame": float((shifted["offset_error"] <= 1).mean()),
        "auc_unshifted_vs_shifted": auc(df[df["shift"] == 0]["score"], shifted["score"]),
        "vgg_files": {"offset": [v.av_offset_frames for v in vgg], "score": [round(v.score, 4) for v in vgg]},
    }
    (out / "real_shift.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    how = "given" if args.model else f"trained here: stage 1 up to {args.epochs} epochs, synth: {args.synth or 'no'}"
    md = [f"model `{run}` ({how}), held-out real clips:", "",
          *markdown_table(df.columns, df.itertuples(index=False)), "",
          f"offset within 1 frame of the applied shift: {summary['offset_within_1_frame']:.2f} of shifted copies; "
          f"AUC unshifted vs shifted: {summary['auc_unshifted_vs_shifted']:.3f}; VGG files (original, 120 ms "
          f"delayed): offset {summary['vgg_files']['offset']}, score {summary['vgg_files']['score']}"]
    (out / "real_shift.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
