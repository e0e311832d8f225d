"""Data layer on the shared real-av clips: manifest reading and leading-silence detection on real audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from avanomaly.data import detect_leading_silence, read_manifest, trim_leading

pytestmark = pytest.mark.integration


def test_real_av_manifest(real_av):
    df = read_manifest(real_av)
    assert len(df) >= 10 and {"real", "fake", "bad"} <= set(df["label"])
    assert all(Path(p).is_file() for p in df["path"])
    shifted = df[df["path"].str.endswith("avshift_vgg_syncnet_example_120ms.avi")].iloc[0]
    original = df[df["path"].str.endswith("real/vgg_syncnet_example.avi")].iloc[0]
    assert shifted["identity"] == original["identity"]  # the derived fake keeps its source's identity


def test_silence_of_delayed_audio(real_av):
    """The 120 ms audio-delayed copy starts with 120 ms of digital silence; the original does not."""
    from avanomaly.io import load_clip

    orig = load_clip(real_av / "real" / "vgg_syncnet_example.avi")
    shifted = load_clip(real_av / "fake" / "avshift_vgg_syncnet_example_120ms.avi")
    s_orig = detect_leading_silence(orig.audio, orig.sample_rate)
    s_shift = detect_leading_silence(shifted.audio, shifted.sample_rate)
    assert s_orig < 0.03
    assert 0.09 <= s_shift <= 0.13
    frames, audio, secs = trim_leading(shifted.frames, shifted.audio, shifted.fps, shifted.sample_rate, s_shift)
    assert secs == pytest.approx(2 / 25)  # 0.11 s -> 2 whole frames
    assert len(audio) == len(frames) * shifted.sample_rate // int(shifted.fps)
