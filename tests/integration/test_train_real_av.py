"""`avanomaly train --real-only` on a few shared real clips (tiny epochs): cache, failures listed, model.pt loads."""

from __future__ import annotations

import csv

from click.testing import CliRunner

TINY = [
    "preprocess.max_side=256", "sync.dim=16", "sync.width=4", "sync.temporal_layers=1", "sync.temporal_heads=2",
    "ar.d_model=16", "ar.n_layers=1", "ar.n_heads=2", "ar.context=32", "stage1.window=20", "stage1.batch_size=4",
    "stage1.windows_per_epoch=8", "stage1.max_epochs=1", "stage2.window=20", "stage2.batch_size=4",
    "stage2.windows_per_epoch=8", "stage2.max_epochs=1", "data.val_windows_per_clip=2",
]
TRAIN = ["real/lrs2_00001.mp4", "real/lrs2_00004.mp4"]
VAL = ["real/vgg_syncnet_example.avi"]
BROKEN = "bad/truncated_vox2_00098.mp4"  # listed as a real training clip on purpose: must fail and be listed


def test_train_on_shared_real_clips(real_av, tmp_path):
    from avanomaly.scoring import Detector
    from avanomaly.training.commands import train

    man = tmp_path / "manifest.csv"
    with open(man, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "category", "method", "identity", "split"])
        for i, p in enumerate(TRAIN + [BROKEN]):
            w.writerow([str(real_av / p), "real", "RealVideo-RealAudio", "real", f"t{i}", "train"])
        for i, p in enumerate(VAL):
            w.writerow([str(real_av / p), "real", "RealVideo-RealAudio", "real", f"v{i}", "val"])
    run = tmp_path / "run"
    res = CliRunner().invoke(train, ["--real-only", "--data", str(man), "--out", str(run), "--cache",
                                     str(tmp_path / "cache"), "--threads", "2", "--no-progress", *TINY])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "1 failed preprocessing" in res.output and "truncated_vox2_00098.mp4" in res.output
    assert (run / "model.pt").is_file() and (run / "stage2" / "best.ckpt").is_file()
    det = Detector.from_pretrained(run, device="cpu")
    assert det.threshold is not None  # calibrated on the val real clip
    # the cache is reused: a second run (new out) preprocesses nothing and fails the same file again
    res2 = CliRunner().invoke(train, ["--real-only", "--data", str(man), "--out", str(tmp_path / "run2"),
                                      "--cache", str(tmp_path / "cache"), "--no-progress", *TINY])
    assert res2.exit_code == 0, (res2.output, res2.exception)
    assert "3 train" not in res2.output and "2 train, 1 val" in res2.output
