"""Domain augmentation (avanomaly.preprocess.augment): shapes, timing, determinism, config round trips, cache keys."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from avanomaly.conventions import FPS, MEL_PER_FRAME, SAMPLE_RATE
from avanomaly.errors import ConfigError
from avanomaly.io.testing import default_frame_fn, intensity_to_index, write_test_video
from avanomaly.preprocess import FeatureCache, PreprocessConfig, preprocess_clip, preprocess_many
from avanomaly.preprocess.augment import (
    AUDIO,
    VIDEO,
    AugmentConfig,
    AugmentSpec,
    augment_arrays,
    augmentation_class,
    available_augmentations,
    build_augmentation,
    draw_spec,
    make_spec,
)
from avanomaly.preprocess.stream import clip_from_arrays

CFG = PreprocessConfig(detector="center", crop_size=16)
SPF = SAMPLE_RATE // FPS
#: one representative setting of every registered operation
EXAMPLES = {
    "downscale": {"height": 24},
    "reencode": {"crf": 40},
    "fps_jitter": {"rate": 15, "drop": 0.2},
    "reverb": {"rt60": 0.4, "drr_db": 0.0},
    "noise": {"snr_db": 5.0, "color": "white"},
    "bandlimit": {"mode": "telephone"},
    "gain": {"gain_db": -9.0},
}


def _clip(n_frames=40, size=(48, 40), seed=0):
    """Frames coding their index (io.testing) with texture, and a voice-like audio track."""
    rng = np.random.default_rng(seed)
    frames = np.stack([default_frame_fn(i, size) for i in range(n_frames)])
    frames = np.clip(frames.astype(int) + rng.integers(-3, 4, frames.shape), 0, 255).astype(np.uint8)
    t = np.arange(n_frames * SPF) / SAMPLE_RATE
    audio = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
             + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    return frames, audio


def _rms_db(x):
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2))


def test_every_registered_operation_has_an_example():
    assert set(available_augmentations()) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_operation_keeps_shapes_dtype_and_changes_its_side(name):
    frames, audio = _clip()
    out_f, out_a = augment_arrays(frames, audio, make_spec((name, EXAMPLES[name]), seed=1), chunk_frames=16)
    assert out_f.shape == frames.shape and out_f.dtype == np.uint8
    assert out_a.shape == audio.shape and out_a.dtype == np.float32
    assert np.isfinite(out_a).all() and np.abs(out_a).max() <= 1.0
    kind = augmentation_class(name).kind
    if kind == VIDEO:
        assert np.array_equal(out_a, audio)  # a video operation never touches the audio
        assert not np.array_equal(out_f, frames)
    else:
        assert kind == AUDIO and np.array_equal(out_f, frames)
        assert not np.allclose(out_a, audio, atol=1e-3)


@pytest.mark.parametrize("name", ["downscale", "reencode", "fps_jitter"])
def test_video_operations_keep_each_frame_at_its_time(name):
    """Augmented clips stay real: frame t still shows the source at (or, for another frame rate, just before) t."""
    frames, audio = _clip(n_frames=60)
    # at CRF 40 x264 repeats whole 48x40 frames of this flat test pattern: the timing is checked at CRF 23
    params = {"crf": 23} if name == "reencode" else EXAMPLES[name]
    out, _ = augment_arrays(frames, audio, make_spec((name, params), seed=2), chunk_frames=25)
    idx = np.array([intensity_to_index(f) for f in out])
    lag = np.arange(len(out)) - idx
    assert lag.min() >= 0
    # 15 fps shown at 25 fps lags by < 2 frames; a 20 % frame repeat adds a few frames at most
    assert lag.max() <= (0 if name != "fps_jitter" else 6)
    if name == "fps_jitter":
        assert (lag > 0).mean() > 0.3  # the rate change is real, not a copy


def test_audio_operations_keep_events_in_their_frame():
    """A click in video frame k stays in frame k's mel frames after every audio operation (no A/V shift)."""
    import torch

    from avanomaly.preprocess.mel import log_mel

    n, k = 50, 31
    frames, _ = _clip(n_frames=n)
    audio = np.zeros(n * SPF, np.float32)
    audio[k * SPF + SPF // 2: k * SPF + SPF // 2 + 80] = 0.5 * np.sin(np.arange(80) * 2 * np.pi * 1000 / SAMPLE_RATE)
    for name in ("reverb", "bandlimit", "gain", "noise"):
        params = dict(EXAMPLES[name], **({"snr_db": 30.0} if name == "noise" else {}))
        _, out = augment_arrays(frames, audio, make_spec((name, params), seed=3), chunk_frames=20)
        mel = log_mel(torch.from_numpy(out), CFG, n_frames=n).numpy()
        assert mel.shape == (MEL_PER_FRAME * n, CFG.n_mels)
        energy = mel.reshape(n, MEL_PER_FRAME, -1).max(axis=(1, 2))
        assert int(np.argmax(energy)) == k, name


@pytest.mark.parametrize("name", ["downscale", "fps_jitter", "reverb", "bandlimit", "gain"])
def test_streamed_chunks_equal_the_whole_clip(name):
    """Per-clip state (filter memories, reverb tail, previous frames) is carried across chunks."""
    frames, audio = _clip(n_frames=45)
    spec = make_spec((name, EXAMPLES[name]), seed=4)
    whole_f, whole_a = augment_arrays(frames, audio, spec)
    part_f, part_a = augment_arrays(frames, audio, spec, chunk_frames=7)
    assert np.array_equal(whole_f, part_f)
    np.testing.assert_allclose(part_a, whole_a, atol=1e-5)


def test_operation_levels():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(4 * SAMPLE_RATE)).astype(np.float32)
    frames = np.zeros((100, 8, 8, 3), np.uint8)
    for color in ("white", "pink"):
        _, y = augment_arrays(frames, x, make_spec(("noise", {"snr_db": 10.0, "color": color}), seed=5))
        snr = _rms_db(x) - _rms_db(y - x)
        assert snr == pytest.approx(10.0, abs=1.0), color
    _, y = augment_arrays(frames, x, make_spec(("gain", {"gain_db": -6.0})))
    assert _rms_db(y) - _rms_db(x) == pytest.approx(-6.0, abs=1e-3)
    _, y = augment_arrays(frames, x, make_spec(("reverb", {"rt60": 0.5, "drr_db": 0.0}), seed=6))
    assert abs(_rms_db(y) - _rms_db(x)) < 1.0  # energy kept (a unit-energy impulse response)
    assert np.corrcoef(x, y)[0, 1] < 0.95  # but the signal is smeared
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    for freq, mode, kept in ((1000, "8k", True), (6000, "8k", False), (1000, "telephone", True),
                             (100, "telephone", False)):
        s = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        _, y = augment_arrays(np.zeros((50, 8, 8, 3), np.uint8), s, make_spec(("bandlimit", {"mode": mode})))
        drop = _rms_db(s[SAMPLE_RATE:]) - _rms_db(y[SAMPLE_RATE:])
        assert (drop < 1.5) if kept else (drop > 20), (freq, mode, drop)


def test_draws_are_deterministic_and_vary():
    cfg = AugmentConfig(variants=4, seed=7)
    specs = [draw_spec(cfg, "clip-a", i) for i in range(4)]
    assert specs == [draw_spec(AugmentConfig(variants=4, seed=7), "clip-a", i) for i in range(4)]
    assert len({s.key() for s in specs}) == 4
    assert draw_spec(cfg, "clip-b", 0) != specs[0]
    assert draw_spec(AugmentConfig(variants=4, seed=8), "clip-a", 0) != specs[0]
    for s in specs:
        assert s.steps and all(name in cfg.ops for name in s.names)
    only = AugmentConfig(variants=1, ops=["gain"], gain_db=[-3.0, -1.0])
    spec = draw_spec(only, "x", 0)
    assert spec.names == ["gain"] and -3.0 <= spec.steps[0][1]["gain_db"] <= -1.0
    frames, audio = _clip()
    noisy = make_spec(("noise", EXAMPLES["noise"]), ("fps_jitter", EXAMPLES["fps_jitter"]), seed=9)
    a = augment_arrays(frames, audio, noisy)
    b = augment_arrays(frames, audio, noisy)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = augment_arrays(frames, audio, make_spec(*noisy.steps, seed=10))
    assert not np.array_equal(a[1], c[1])


def test_spec_and_config_round_trip():
    import yaml

    from avanomaly.training.config import apply_overrides, config_from_dict, config_to_dict, TrainConfig

    spec = make_spec(("gain", {"gain_db": 3.0}), ("downscale", {"height": 144}), seed=11)
    assert spec.names == ["downscale", "gain"]  # video first
    assert AugmentSpec.from_dict(spec.to_dict()) == spec
    assert AugmentSpec.from_dict(spec.to_dict()).key() == spec.key()
    cfg = apply_overrides(TrainConfig(), ["augment.variants=3", "augment.ops=[downscale,noise]",
                                          "augment.noise_snr_db=[0,12]"])
    back = config_from_dict(yaml.safe_load(yaml.safe_dump(config_to_dict(cfg))))
    expected = AugmentConfig(variants=3, ops=["downscale", "noise"], noise_snr_db=[0.0, 12.0])
    assert back.augment == cfg.augment == expected
    assert draw_spec(back.augment, "c", 1) == draw_spec(cfg.augment, "c", 1)


def test_unknown_names_and_bad_values_are_config_errors():
    from avanomaly.training.config import TrainConfig, apply_overrides

    with pytest.raises(ConfigError, match="unknown augmentation 'blur'"):
        AugmentConfig(ops=["downscale", "blur"])
    with pytest.raises(ConfigError, match="unknown augmentation"):
        make_spec(("blur", {}))
    with pytest.raises(ConfigError, match="unknown augmentation"):
        AugmentSpec.from_dict({"steps": [{"op": "blur"}], "seed": 0})
    with pytest.raises(ConfigError, match="unknown augmentation"):
        apply_overrides(TrainConfig(), ["augment.ops=[sepia]"])
    with pytest.raises(ConfigError, match="crf"):
        make_spec(("reencode", {"crf": 70}))
    with pytest.raises(ConfigError, match="reencode"):
        build_augmentation("reencode", {"quality": 3}, np.random.default_rng())
    with pytest.raises(ConfigError, match="mode"):
        AugmentConfig(bandlimit_modes=["radio"])
    with pytest.raises(ConfigError, match="lo <= hi"):
        AugmentConfig(noise_snr_db=[30.0, 5.0])
    with pytest.raises(ConfigError, match="variants"):
        apply_overrides(TrainConfig(), ["augment.variants=-1"])


def test_augmented_features_keep_alignment():
    frames, audio = _clip(n_frames=30, size=(32, 32))
    clip = clip_from_arrays(frames, audio, FPS, SAMPLE_RATE)
    clean = preprocess_clip(clip, CFG)
    spec = make_spec(("downscale", {"height": 16}), ("fps_jitter", {"rate": 24, "drop": 0.0}),
                     ("reverb", {"rt60": 0.3, "drr_db": 3.0}), ("bandlimit", {"mode": "8k"}), seed=12)
    aug = preprocess_clip(clip, CFG, augment=spec)
    aug.check()
    assert aug.n_frames == clean.n_frames == 30 and aug.mel.shape == (MEL_PER_FRAME * 30, CFG.n_mels)
    assert aug.meta["duration"] == clean.meta["duration"] and aug.meta["augment"] == spec.to_dict()
    assert "augment" not in clean.meta
    assert not np.array_equal(aug.mel, clean.mel) and not np.array_equal(aug.mouths, clean.mouths)


def test_preprocess_many_writes_variants_with_their_own_keys(tmp_path):
    video = write_test_video(tmp_path / "a.mp4", n_frames=30, size=(32, 32))
    cache = FeatureCache(tmp_path / "cache")
    aug = AugmentConfig(variants=2, seed=1)
    report = preprocess_many([video], cache, CFG, progress=False, augment=aug)
    assert report.ok and len(report.done) == 3
    clean_key = report.keys[str(video)]
    keys = report.augmented[str(video)]
    assert sorted(keys) == [0, 1] and len({clean_key, *keys.values()}) == 3
    assert cache.entries() == sorted([clean_key, *keys.values()])
    clean = cache.get(clean_key)
    for i, key in keys.items():
        assert key.startswith(clean_key + "-aug")
        entry = cache.get(key)
        spec = AugmentSpec.from_dict(entry.meta["augment"])
        assert spec == draw_spec(aug, entry.meta["sha256"], i)
        assert entry.n_frames == clean.n_frames and entry.mel.shape == clean.mel.shape
    again = preprocess_many([video], cache, CFG, progress=False, augment=aug)
    assert not again.done and len(again.skipped) == 3 and again.augmented == report.augmented
    other = preprocess_many([video], cache, CFG, progress=False, augment=AugmentConfig(variants=2, seed=2),
                            clean=False)
    assert len(other.done) == 2 and not set(other.augmented[str(video)].values()) & set(keys.values())


def test_training_clips_get_variants_validation_clips_do_not(tmp_path):
    from avanomaly.training.train import prepare_clips

    a = write_test_video(tmp_path / "a.mp4", n_frames=20, size=(32, 32))
    b = write_test_video(tmp_path / "b.mp4", n_frames=20, size=(32, 32), audio_fn=lambda t: 0.3 * np.sin(900 * t))
    cache = FeatureCache(tmp_path / "cache")
    refs, failed = prepare_clips([str(a), str(b)], cache, CFG, progress=False, groups=["p1", "p2"],
                                 augment=AugmentConfig(variants=2))
    assert not failed
    assert [r.name for r in refs] == [str(a), str(b), f"{a}#aug0", f"{a}#aug1", f"{b}#aug0", f"{b}#aug1"]
    assert [r.group for r in refs] == ["p1", "p2", "p1", "p1", "p2", "p2"]
    assert all(r.n_frames == 20 for r in refs)
    plain, _ = prepare_clips([str(a)], cache, CFG, progress=False)
    assert [r.name for r in plain] == [str(a)]


def test_preprocess_cli_augment(tmp_path):
    from avanomaly.preprocess.commands import preprocess as preprocess_cmd

    video = write_test_video(tmp_path / "a.mp4", n_frames=15, size=(32, 32))
    res = CliRunner().invoke(preprocess_cmd, [str(video), "--out", str(tmp_path / "c"), "--detector", "center",
                                              "--crop-size", "16", "--workers", "1", "--augment", "2"])
    assert res.exit_code == 0, res.output
    assert "done 3" in res.output
    entries = FeatureCache(tmp_path / "c").entries()
    assert len(entries) == 3 and sum("-aug" in e for e in entries) == 2


def test_train_cli_augment_caches_train_variants_only_and_records_them(tmp_path):
    import torch

    from avanomaly.training.commands import train as train_cmd

    tiny = ["preprocess.crop_size=16", "sync.crop_size=16", "sync.dim=16", "sync.width=4", "sync.max_offset=3",
            "sync.temporal_layers=0", "ar.d_model=16", "ar.n_layers=1", "ar.n_heads=2", "ar.context=32",
            "stage1.window=12", "stage1.batch_size=4", "stage1.windows_per_epoch=8", "stage1.max_epochs=1",
            "stage2.window=12", "stage2.batch_size=4", "stage2.windows_per_epoch=8", "stage2.max_epochs=1",
            "stage1.warmup_steps=1", "stage2.warmup_steps=1", "data.val_windows_per_clip=1",
            "trainer.accelerator=cpu", "preprocess.detector=center", "augment.ops=[downscale,gain]"]
    rows = []
    for i, split in enumerate(["train", "train", "val"]):
        write_test_video(tmp_path / f"c{i}.mp4", n_frames=30 + i, size=(32, 32))  # distinct contents
        rows.append(f"c{i}.mp4,real,RealVideo-RealAudio,real,id{i},{split}")
    (tmp_path / "m.csv").write_text("path,label,category,method,identity,split\n" + "\n".join(rows) + "\n")
    run, cache = tmp_path / "run", tmp_path / "cache"
    res = CliRunner().invoke(train_cmd, ["--real-only", "--data", str(tmp_path / "m.csv"), "--out", str(run),
                                         "--cache", str(cache), "--no-progress", "--threads", "1", "--augment", "1",
                                         *tiny])
    assert res.exit_code == 0, res.output
    entries = FeatureCache(cache).entries()
    assert len(entries) == 5 and sum("-aug" in e for e in entries) == 2  # 3 clean + 1 variant per TRAIN clip
    blob = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    assert blob["training_config"]["augment"]["variants"] == 1
    assert blob["training_config"]["augment"]["ops"] == ["downscale", "gain"]
    assert blob["provenance"]["n_train_clips"] == 2 and blob["provenance"]["n_augmented_train_clips"] == 2
    assert blob["calibration"]["n"] == 1  # calibration on the one val clip, as recorded
