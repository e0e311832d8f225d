"""Training layer: config/overrides, real-only selection, windows, end-to-end tiny runs, resume, NaN guard, CLI."""

from __future__ import annotations

import dataclasses

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from avanomaly.errors import ConfigError, DatasetError
from avanomaly.training.callbacks import METRICS_COLUMNS, NonFiniteLossError, read_metrics
from avanomaly.training.config import TrainConfig, apply_overrides, load_config, save_config
from avanomaly.training.testing import MemoryClip, synthetic_clips
from avanomaly.training.train import select_real_rows, train_on_clips
from avanomaly.training.windows import ClipRef, FixedWindows, RandomWindows, usable_clips

CROP = 16
TINY = [
    f"preprocess.crop_size={CROP}", f"sync.crop_size={CROP}", "sync.dim=16", "sync.width=4", "sync.max_offset=3",
    "sync.temporal_layers=1", "sync.temporal_heads=2", "ar.d_model=16", "ar.n_layers=1", "ar.n_heads=2",
    "ar.context=32", "stage1.window=12", "stage1.batch_size=8", "stage1.windows_per_epoch=16",
    "stage1.max_epochs=2", "stage2.window=12", "stage2.batch_size=8", "stage2.windows_per_epoch=16",
    "stage2.max_epochs=2", "stage1.warmup_steps=1", "stage2.warmup_steps=1", "trainer.progress=false",
    "data.val_windows_per_clip=2", "trainer.accelerator=cpu",
]


def tiny_cfg(out, *extra) -> TrainConfig:
    return apply_overrides(TrainConfig(), [f"out={out}", *TINY, *extra])


@pytest.fixture(scope="module")
def clips():
    return synthetic_clips(6, 30, seed=1, crop_size=CROP), synthetic_clips(2, 30, seed=2, crop_size=CROP, prefix="v")


# ------------------------------------------------------------------------------------------------ config
def test_overrides_set_nested_values_with_types(tmp_path):
    cfg = apply_overrides(TrainConfig(), ["stage1.max_epochs=3", "sync.dim=64", "stage2.lr=1e-4",
                                          "trainer.deterministic=true", "data.split_fractions=[0.8,0.2,0.0]"])
    assert cfg.stage1.max_epochs == 3 and cfg.sync.dim == 64 and cfg.stage2.lr == pytest.approx(1e-4)
    assert cfg.trainer.deterministic is True and cfg.data.split_fractions == [0.8, 0.2, 0.0]
    assert cfg.stage2.max_epochs == TrainConfig().stage2.max_epochs  # untouched


@pytest.mark.parametrize("item, msg", [
    ("stage1.nope=3", "unknown config key"),
    ("nosection.x=1", "unknown config key"),
    ("stage1=3", "is a section"),
    ("stage1.max_epochs=abc", "must be an integer"),
    ("trainer.deterministic=3", "true/false"),
    ("stage1.max_epochs", "key=value"),
])
def test_bad_overrides_are_config_errors(item, msg):
    with pytest.raises(ConfigError, match=msg):
        apply_overrides(TrainConfig(), [item])


def test_config_yaml_round_trip_and_unknown_key(tmp_path):
    cfg = apply_overrides(TrainConfig(), ["stage1.window=33", "sync.temporal=mamba"])
    save_config(cfg, tmp_path / "c.yaml")
    back = load_config(tmp_path / "c.yaml")
    assert back.stage1.window == 33 and back.sync.temporal == "mamba" and back == cfg
    (tmp_path / "bad.yaml").write_text("stage1:\n  windw: 3\n")
    with pytest.raises(ConfigError, match="stage1.windw"):
        load_config(tmp_path / "bad.yaml")


def test_mixed_precision_on_cpu_is_refused(tmp_path, clips):
    cfg = tiny_cfg(tmp_path / "run", "trainer.precision=bf16-mixed")
    with pytest.raises(ConfigError, match="CUDA only"):
        train_on_clips(cfg, *clips)


# ------------------------------------------------------------------------------------------------ real-only
def _manifest(rows):
    return pd.DataFrame(rows, columns=["path", "label", "category", "method", "identity", "split"])


def test_fakes_are_refused_with_counts_and_categories():
    df = _manifest([("a.mp4", "real", "RealVideo-RealAudio", "real", "id1", "train"),
                    ("b.mp4", "fake", "FakeVideo-RealAudio", "wav2lip", "id1", "train"),
                    ("c.mp4", "fake", "FakeVideo-RealAudio", "faceswap", "id2", "train"),
                    ("d.mp4", "fake", "RealVideo-FakeAudio", "rtvc", "id2", "val")])
    with pytest.raises(DatasetError) as exc:
        select_real_rows(df, drop_fakes=False)
    text = str(exc.value)
    assert "3 non-real" in text and "FakeVideo-RealAudio: 2" in text and "RealVideo-FakeAudio: 1" in text
    real, n = select_real_rows(df, drop_fakes=True)
    assert n == 3 and list(real["path"]) == ["a.mp4"]


def test_empty_or_fake_only_manifest_is_an_error():
    with pytest.raises(DatasetError, match="empty"):
        select_real_rows(_manifest([]))
    with pytest.raises(DatasetError, match="no real"):
        select_real_rows(_manifest([("b.mp4", "fake", "FakeVideo-FakeAudio", "x", "i", "train")]), drop_fakes=True)


# ------------------------------------------------------------------------------------------------ windows
def test_random_windows_are_reproducible_per_epoch_and_shaped(clips):
    train, _ = clips
    a = RandomWindows(train, window=10, length=8, seed=3, epoch=0)
    b = RandomWindows(train, window=10, length=8, seed=3, epoch=0)
    c = RandomWindows(train, window=10, length=8, seed=3, epoch=1)
    x, y = a[5], b[5]
    assert x["mouths"].shape == (14, CROP, CROP) and x["mouths"].dtype == torch.uint8
    assert x["mel"].shape == (4 * 14, 80) and x["mel"].dtype == torch.float32
    assert torch.equal(x["mouths"], y["mouths"]) and int(x["start"]) == int(y["start"])
    draws0 = [(int(a[i]["clip"]), int(a[i]["start"])) for i in range(8)]
    draws1 = [(int(c[i]["clip"]), int(c[i]["start"])) for i in range(8)]
    assert draws0 != draws1
    assert all(0 <= s <= 30 - 10 for _, s in draws0)


def test_mel_shift_augmentation_moves_the_spectrum_and_leaves_timing():
    from avanomaly.training.config import StageConfig
    from avanomaly.training.modules import augment_sync_batch

    torch.manual_seed(0)
    mel = torch.zeros(64, 8, 80)
    mel[:, 3, 40] = 1.0  # one time-frequency point per window
    feats = torch.randn(64, 2, 98)
    st = StageConfig(augment_mel_shift=3)
    f2, m2 = augment_sync_batch(feats, mel, st)
    assert torch.equal(f2, feats)  # lip features untouched without augment_lip_scale
    rows = m2[:, 3].argmax(-1) - 40  # (B,) applied shifts
    assert set(rows.tolist()) <= set(range(-3, 4)) and len(set(rows.tolist())) > 3
    assert (m2[:, [0, 1, 2, 4, 5, 6, 7]] == 0).all()  # time frames without the point stay empty
    f3, _ = augment_sync_batch(feats, mel, StageConfig(augment_lip_scale=0.2))
    assert not torch.equal(f3, feats) and f3.shape == feats.shape


def test_balanced_windows_draw_every_identity_equally_often():
    """One long-recorded speaker (4 clips x 200 frames) and two short ones (1 clip x 30 frames each): by length,
    the long one gets ~93 % of the windows; balanced, each speaker gets a third."""
    def ref(name, n, group):
        return ClipRef(name, MemoryClip(np.zeros((n, 4, 4), np.uint8), np.zeros((4 * n, 8), np.float16)), n, group)

    refs = [ref(f"long{i}", 200, "long") for i in range(4)] + [ref("a", 30, "a"), ref("b", 30, "b")]
    by_length = RandomWindows(refs, window=10, length=10, seed=0)
    balanced = RandomWindows(refs, window=10, length=10, seed=0, balance=True)
    assert by_length.p[:4].sum() == pytest.approx(4 * 191 / (4 * 191 + 2 * 21))
    assert balanced.p[:4].sum() == pytest.approx(1 / 3) and balanced.p[4] == pytest.approx(1 / 3)
    groups = [refs[int(balanced[i]["clip"])].group for i in range(600)]
    assert 150 < groups.count("a") < 250 and 150 < groups.count("long") < 250


def test_window_mel_matches_video_frames():
    mouths = np.arange(6, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2)
    mel = np.repeat(np.arange(6, dtype=np.float16), 4)[:, None].repeat(3, 1)
    m, a = MemoryClip(mouths, mel).window(0, 3)  # frames -2..4 -> replicate 0,0,0,1,2,3,4
    assert list(m[:, 0, 0]) == [0, 0, 0, 1, 2, 3, 4]
    assert list(a[::4, 0]) == [0, 0, 0, 1, 2, 3, 4] and a.shape == (28, 3)


def test_fixed_windows_and_too_short_clips(clips):
    train, _ = clips
    short = ClipRef("short.mp4", train[0].clip, n_frames=5)
    ok, skipped = usable_clips(train + [short], window=12, what="training")
    assert len(ok) == len(train) and [r.name for r in skipped] == ["short.mp4"]
    with pytest.raises(DatasetError, match="short.mp4"):
        usable_clips([short], window=12, what="training")
    fw = FixedWindows(train[:2], window=12, per_clip=3)
    assert len(fw) == 6 and {int(fw[i]["start"]) for i in range(3)} == {0, 9, 18}


# ------------------------------------------------------------------------------------------------ end to end
def test_tiny_run_writes_the_run_directory(tmp_path, clips):
    from avanomaly.models import model_from_dict

    run = tmp_path / "run"
    res = train_on_clips(tiny_cfg(run), *clips)
    for f in ("config.yaml", "stage1/best.ckpt", "stage1/last.ckpt", "stage2/best.ckpt", "stage2/last.ckpt",
              "metrics.csv", "training_curves.png", "model.pt", "calibration.json"):
        assert (run / f).is_file(), f
    rows = read_metrics(run / "metrics.csv")
    assert tuple(rows[0].keys()) == METRICS_COLUMNS
    assert [(r["stage"], r["epoch"]) for r in rows] == [("stage1", "0"), ("stage1", "1"), ("stage2", "0"),
                                                         ("stage2", "1")]
    assert all(0.0 <= float(r["val_sync_acc"]) <= 1.0 for r in rows[:2]) and all(r["val_nll"] for r in rows[2:])
    blob = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    assert blob["format"] == "avanomaly-model" and blob["preprocess"]["crop_size"] == CROP
    sync, ar = model_from_dict(blob["sync"]), model_from_dict(blob["ar"])
    assert sync.config.dim == 16 and ar.config.in_features == 7  # 2*3+1 offsets
    assert blob["calibration"]["n"] == 2 and np.isfinite(blob["calibration"]["threshold"])
    basis = blob["calibration"]["basis"]  # synthetic val clips carry no identity: each its own speaker
    assert basis["n_clips"] == 2 and basis["n_speakers"] is None and basis["far"]["method"] == "leave-one-clip-out"
    assert blob["provenance"]["stage1"]["monitor"] == "val_loss"
    assert res.calibration["threshold"] == blob["calibration"]["threshold"]
    # a second run into the same directory without --resume is refused
    with pytest.raises(ConfigError, match="--resume"):
        train_on_clips(tiny_cfg(run), *clips)


def test_every_cli_temporal_choice_validates_and_none_trains_without_temporal_blocks(tmp_path, clips):
    """`--temporal none` (offered by the CLI and the registry) passes validation and trains end to end; its sync
    encoders have no temporal block: the same model as sync.temporal_layers=0 (the starter preset's choice)."""
    from avanomaly.models import create_model, list_temporal, model_from_dict
    from avanomaly.training.commands import train

    choices = next(p for p in train.params if p.name == "temporal").type.choices
    assert sorted(choices) == list_temporal()
    for name in choices:
        apply_overrides(TrainConfig(), [f"sync.temporal={name}"]).validate()
    with pytest.raises(ConfigError, match="sync.temporal"):
        apply_overrides(TrainConfig(), ["sync.temporal=lstm"]).validate()

    run = tmp_path / "run"
    train_on_clips(tiny_cfg(run, "sync.temporal=none"), *clips)
    sync = model_from_dict(torch.load(run / "model.pt", map_location="cpu", weights_only=True)["sync"])
    assert sync.config.temporal == "none"
    assert isinstance(sync.visual_temporal, torch.nn.Identity) and isinstance(sync.audio_temporal, torch.nn.Identity)
    no_layers = create_model("sync", dataclasses.replace(sync.config, temporal="transformer", temporal_layers=0))
    assert sync.state_dict().keys() == no_layers.state_dict().keys()


def test_training_without_lightning_names_the_train_extra_before_anything_runs(tmp_path, clips, monkeypatch):
    import sys

    from avanomaly.errors import MissingDependencyError
    from avanomaly.training.train import TRAIN_EXTRA, train

    monkeypatch.setitem(sys.modules, "lightning", None)
    run = tmp_path / "run"
    with pytest.raises(MissingDependencyError, match=rf"pip install 'avanomaly\[{TRAIN_EXTRA}\]'"):
        train_on_clips(tiny_cfg(run), *clips)
    with pytest.raises(MissingDependencyError, match=rf"avanomaly\[{TRAIN_EXTRA}\]"):
        train(tiny_cfg(run, "data.manifest=does-not-matter.csv"))
    assert not run.exists()


class _Interrupt(L.Callback):
    """Raise in the middle of (stage, epoch) to simulate a crash."""

    def __init__(self, stage_index: int, epoch: int, batch: int = 1):
        self.stage_index, self.epoch, self.batch = stage_index, epoch, batch
        self.seen_stage = 0

    def on_fit_start(self, trainer, pl_module):
        self.seen_stage += 1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.seen_stage == self.stage_index and trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise RuntimeError("simulated crash")


def _final(run):
    rows = read_metrics(run / "metrics.csv")
    return [(r["stage"], r["epoch"]) for r in rows], np.array([float(r["val_loss"]) for r in rows])


def test_resume_mid_epoch_and_after_stage1_matches_uninterrupted(tmp_path, clips):
    ref = tmp_path / "ref"
    train_on_clips(tiny_cfg(ref), *clips)
    # crash in the middle of stage-1 epoch 1, resume; then crash in stage 2 epoch 0, resume again
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated"):
        train_on_clips(tiny_cfg(run), *clips, callbacks=[_Interrupt(1, 1)])
    assert (run / "stage1" / "last.ckpt").exists() and not (run / "stage1" / "done.json").exists()
    with pytest.raises(RuntimeError, match="simulated"):
        train_on_clips(tiny_cfg(run), *clips, resume=True, callbacks=[_Interrupt(2, 0)])
    assert (run / "stage1" / "done.json").exists()
    train_on_clips(tiny_cfg(run), *clips, resume=True)
    (keys_run, loss_run), (keys_ref, loss_ref) = _final(run), _final(ref)
    assert keys_run == keys_ref == [("stage1", "0"), ("stage1", "1"), ("stage2", "0"), ("stage2", "1")]
    np.testing.assert_allclose(loss_run, loss_ref, rtol=1e-4)  # same up to float summation order
    a = torch.load(ref / "model.pt", weights_only=True)["ar"]["state_dict"]
    b = torch.load(run / "model.pt", weights_only=True)["ar"]["state_dict"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-4) for k in a)


def test_resume_with_a_changed_model_config_is_refused(tmp_path, clips):
    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        train_on_clips(tiny_cfg(run), *clips, callbacks=[_Interrupt(1, 0)])
    with pytest.raises(ConfigError, match="sync.dim"):
        train_on_clips(tiny_cfg(run, "sync.dim=8"), *clips, resume=True)


def test_nan_loss_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path, clips, monkeypatch):
    import avanomaly.training.modules as modules

    real = modules.stage1_loss
    calls = {"n": 0}

    def poisoned(model, out):
        loss, acc = real(model, out)
        if model.training:  # count training batches only (2 per epoch): NaN from the first batch of epoch 1
            calls["n"] += 1
            if calls["n"] > 2:
                loss = loss * float("nan")
        return loss, acc

    monkeypatch.setattr(modules, "stage1_loss", poisoned)
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match="stage1: training loss became nan at epoch 1") as exc:
        train_on_clips(tiny_cfg(run), *clips)
    assert "last.ckpt" in str(exc.value)
    ckpt = torch.load(run / "stage1" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["epoch"] == 0 and all(torch.isfinite(v).all() for v in ckpt["state_dict"].values()
                                      if v.is_floating_point())


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_requires_real_only(tmp_path):
    from avanomaly.training.commands import train

    res = CliRunner().invoke(train, ["--data", str(tmp_path), "--out", str(tmp_path / "r")])
    assert res.exit_code != 0 and "REAL videos only" in res.output


def test_cli_refuses_a_manifest_with_fakes(tmp_path):
    from avanomaly.training.commands import train

    man = tmp_path / "m.csv"
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    _manifest([("a.mp4", "real", "RealVideo-RealAudio", "real", "id1", "train"),
               ("b.mp4", "fake", "FakeVideo-FakeAudio", "wav2lip", "id2", "val")]).to_csv(man, index=False)
    res = CliRunner().invoke(train, ["--real-only", "--data", str(man), "--out", str(tmp_path / "r")])
    assert res.exit_code != 0
    assert isinstance(res.exception, DatasetError) and "FakeVideo-FakeAudio: 1" in str(res.exception)
    res = CliRunner().invoke(train, ["--real-only", "--data", str(man), "--out", str(tmp_path / "r2"),
                                     "stage1.bogus=1"])
    assert isinstance(res.exception, ConfigError) and "stage1.bogus" in str(res.exception)


def test_stage1_augmentation_off_is_identity_and_on_keeps_shapes_and_range():
    from avanomaly.training.config import StageConfig
    from avanomaly.training.modules import augment_sync_batch

    g = torch.Generator().manual_seed(0)
    mouths = torch.rand(8, 12, 16, 16, generator=g)  # (B, T+4, S, S)
    mel = torch.randn(8, 48, 80, generator=g)  # (B, 4(T+4), M)
    m0, l0 = augment_sync_batch(mouths, mel, StageConfig())
    assert torch.equal(m0, mouths) and torch.equal(l0, mel)

    torch.manual_seed(1)
    stage = StageConfig(augment_contrast=0.5, augment_flip=True, augment_mel_noise=0.5)
    m1, l1 = augment_sync_batch(mouths, mel, stage)
    assert m1.shape == mouths.shape and l1.shape == mel.shape
    assert float(m1.min()) >= 0.0 and float(m1.max()) <= 1.0
    assert not torch.equal(m1, mouths)
    noise = (l1 - mel).std().item()
    assert 0.4 < noise < 0.6  # the requested log-mel noise level
    # a mirror only: with contrast off, every window is either unchanged or exactly flipped left-right
    torch.manual_seed(2)
    m2, _ = augment_sync_batch(mouths, mel, StageConfig(augment_flip=True))
    same = [torch.equal(m2[i], mouths[i]) for i in range(8)]
    flipped = [torch.equal(m2[i], mouths[i].flip(-1)) for i in range(8)]
    assert all(s or f for s, f in zip(same, flipped)) and any(flipped) and any(same)


@pytest.mark.parametrize("name", __import__("avanomaly.training.config", fromlist=["list_presets"]).list_presets())
def test_every_builtin_preset_builds_models_that_run(name):
    """Presets are plain YAML: a typo in a key, or models that cannot be built or chained, must fail here, not
    hours into a GPU job. Builds both models as training does and runs 10 frames through them."""
    from avanomaly.training.config import load_config
    from avanomaly.training.export import build_ar, build_sync, sync_features
    from avanomaly.training.train import _align_ar_config

    from avanomaly.preprocess.frontends import visual_frame_shape

    cfg = load_config(name)
    cfg.validate()
    assert cfg.sync.crop_size == cfg.preprocess.crop_size and cfg.sync.n_mels == cfg.preprocess.n_mels
    _align_ar_config(cfg)
    sync, ar = build_sync(cfg.sync).eval(), build_ar(cfg.ar).eval()
    t = 10
    visual = torch.rand(1, t + 4, *visual_frame_shape(cfg.preprocess))  # the preset's front end's input
    with torch.no_grad():
        feats = sync_features(sync, visual, torch.randn(1, 4 * (t + 4), cfg.sync.n_mels))
        nll = ar(feats)
    assert feats.shape == (1, t, 2 * cfg.sync.max_offset + 1 + cfg.sync.feature_embed_dim)
    assert nll.shape == (1, t - 1) and torch.isfinite(nll).all()


def test_lightning_lines_are_logged_once_when_the_root_logger_is_configured():
    import logging

    from avanomaly.training.train import _one_log_handler

    root = logging.getLogger()
    saved = root.handlers[:]
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    try:
        root.addHandler(Collect())
        _one_log_handler()
        assert not [h for h in logging.getLogger("lightning").handlers if type(h) is logging.StreamHandler]
        from lightning.pytorch.utilities import rank_zero_info

        rank_zero_info("avanomaly-log-probe")
        assert records.count("avanomaly-log-probe") == 1
    finally:
        root.handlers[:] = saved


# ------------------------------------------------------------------------------------------------ SIGTERM
#: seconds the SIGTERM subprocess test may take in all (start, preprocessing, one epoch, the stop)
SIGTERM_TEST_TIMEOUT_S = 120
#: seconds between polls for the run's first checkpoint
POLL_S = 0.05
#: stage-1 epochs of the SIGTERM subprocess run: more than it can finish before it is stopped
ENDLESS_EPOCHS = 100_000
#: frames of the test videos of the subprocess run (> the 12-frame training window)
SUBPROCESS_FRAMES = 30


class _SigtermAt(L.Callback):
    """Send this process a SIGTERM at (stage, epoch, batch), as a cluster's stop request would."""

    def __init__(self, stage_index: int, epoch: int, batch: int = 0):
        self.stage_index, self.epoch, self.batch = stage_index, epoch, batch
        self.seen_stage = 0

    def on_fit_start(self, trainer, pl_module):
        self.seen_stage += 1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if (self.seen_stage, trainer.current_epoch, batch_idx) == (self.stage_index, self.epoch, self.batch):
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_stops_with_the_resume_command_and_resume_finishes(tmp_path, clips):
    import signal

    from avanomaly.errors import TrainingInterrupted

    run = tmp_path / "run"
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as exc:
        train_on_clips(tiny_cfg(run), *clips, callbacks=[_SigtermAt(1, 1)])
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    e = exc.value
    assert e.stage == "stage1" and e.signal_name == "SIGTERM" and str(run) in str(e)
    assert e.resume_command.endswith("--resume") and str(run / "stage1" / "last.ckpt") in str(e)
    assert not (run / "model.pt").exists() and not (run / "stage1" / "done.json").exists()
    assert torch.load(run / "stage1" / "last.ckpt", map_location="cpu", weights_only=False)["epoch"] == 0
    res = train_on_clips(tiny_cfg(run), *clips, resume=True)
    assert res.model_path is not None and res.model_path.exists()
    keys, _ = _final(run)
    assert keys == [("stage1", "0"), ("stage1", "1"), ("stage2", "0"), ("stage2", "1")]


def test_cli_sigterm_exits_non_zero_and_says_where_to_resume(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from avanomaly.io.testing import write_test_video
    from avanomaly.training.commands import EXIT_TERMINATED

    rows = []
    for i, split in enumerate(["train", "train", "val"]):
        write_test_video(tmp_path / f"c{i}.mp4", n_frames=SUBPROCESS_FRAMES, size=(48, 48))
        rows.append((f"c{i}.mp4", "real", "RealVideo-RealAudio", "real", f"id{i}", split))
    _manifest(rows).to_csv(tmp_path / "m.csv", index=False)
    run = tmp_path / "run"
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", OMP_NUM_THREADS="1")
    args = [sys.executable, "-m", "avanomaly", "train", "--real-only", "--data", str(tmp_path / "m.csv"),
            "--out", str(run), "--no-progress", "--threads", "1", *TINY, "preprocess.face_fallback=center",
            f"stage1.max_epochs={ENDLESS_EPOCHS}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + SIGTERM_TEST_TIMEOUT_S
        first_ckpt = run / "stage1" / "last.ckpt"
        while not first_ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL_S)  # poll: the run is in stage 1 (inside Lightning's fit) once it has a checkpoint
        assert proc.poll() is None, f"training ended before it was stopped: {proc.communicate()}"
        assert first_ckpt.exists(), "no stage-1 checkpoint within the time limit"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_TERMINATED, err
    assert "stopped by SIGTERM during stage1" in err and f"Run folder: {run}" in err
    assert f"avanomaly train --real-only --out {run} --resume" in err
    assert not (run / "model.pt").exists()
