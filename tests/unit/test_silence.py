"""Leading-silence detection on synthetic signals with known onsets."""

from __future__ import annotations

import numpy as np
import pytest

from avanomaly.preprocess.silence import MAX_SECONDS, detect_leading_silence, frame_levels_db, trim_leading

SR = 16000
TOL = 0.025  # seconds: one analysis frame + a hop


def _signal(onset: float, total: float = 3.0, floor_db: float = -60.0, kind: str = "tone", seed: int = 0,
            level: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(total * SR)
    t = np.arange(n) / SR
    x = rng.normal(0.0, 10 ** (floor_db / 20), n)  # noise floor
    start = int(onset * SR)
    if kind == "tone":
        burst = level * np.sin(2 * np.pi * 220 * t[start:])
    elif kind == "noise":
        burst = rng.normal(0.0, level / 2, n - start)
    elif kind == "speechlike":  # syllables: 150 ms on, 80 ms gap, amplitude-modulated
        tt = t[start:] - onset
        gate = ((tt % 0.23) < 0.15).astype(float)
        burst = level * gate * np.sin(2 * np.pi * 180 * tt) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * tt))
    else:
        raise ValueError(kind)
    x[start:] += burst
    return x.astype(np.float32)


@pytest.mark.parametrize("onset", [0.0, 0.12, 0.35, 0.8, 1.5])
@pytest.mark.parametrize("kind", ["tone", "noise", "speechlike"])
def test_known_onsets(onset, kind):
    x = _signal(onset, kind=kind)
    got = detect_leading_silence(x, SR)
    assert abs(got - onset) <= TOL, (kind, onset, got)


def test_starts_with_sound_returns_zero():
    assert detect_leading_silence(_signal(0.0, floor_db=-40), SR) == pytest.approx(0.0, abs=0.011)


def test_louder_noise_floor_still_found():
    # floor at -35 dBFS, tone at ~-13 dBFS: ~22 dB SNR, threshold must sit above the floor
    x = _signal(0.5, floor_db=-35.0, level=0.3)
    got = detect_leading_silence(x, SR, threshold_db=15.0)
    assert abs(got - 0.5) <= TOL
    # with the default 30 dB threshold the floor counts as sound: nothing detected
    assert detect_leading_silence(x, SR) < 0.5 - TOL


def test_short_click_is_ignored():
    x = _signal(0.6)
    x[int(0.2 * SR): int(0.2 * SR) + 80] = 0.9  # 5 ms click
    assert abs(detect_leading_silence(x, SR) - 0.6) <= TOL
    # a click long enough to pass min_sound_seconds is reported
    assert abs(detect_leading_silence(x, SR, min_sound_seconds=0.005) - 0.6) > 0.3


def test_clamped_to_max_seconds():
    x = _signal(2.6, total=4.0)
    assert detect_leading_silence(x, SR) == pytest.approx(MAX_SECONDS)
    assert detect_leading_silence(x, SR, max_seconds=1.0) == pytest.approx(1.0)
    assert abs(detect_leading_silence(x, SR, max_seconds=3.0) - 2.6) <= TOL


def test_never_the_whole_clip():
    x = _signal(0.9, total=1.0)  # sound only in the last 0.1 s
    got = detect_leading_silence(x, SR, min_remaining_seconds=0.5)
    assert got <= 0.5 + 1e-9
    assert detect_leading_silence(np.zeros(SR // 4, np.float32), SR) == 0.0  # shorter than min remaining


def test_all_silent_clip_returns_zero():
    rng = np.random.default_rng(1)
    assert detect_leading_silence(np.zeros(SR * 2, np.float32), SR) == 0.0
    assert detect_leading_silence(rng.normal(0, 1e-4, SR * 2).astype(np.float32), SR) == 0.0
    assert detect_leading_silence(np.zeros(0, np.float32), SR) == 0.0


def test_other_sample_rate():
    sr = 44100
    t = np.arange(int(2 * sr)) / sr
    x = np.where(t >= 0.4, 0.5 * np.sin(2 * np.pi * 300 * t), 0.0)
    assert abs(detect_leading_silence(x, sr) - 0.4) <= TOL


def test_bad_input():
    with pytest.raises(ValueError):
        detect_leading_silence(np.zeros((10, 2)), SR)
    with pytest.raises(ValueError):
        detect_leading_silence(np.zeros(10), 0)


def test_frame_levels_db():
    x = np.full(SR, 0.5, np.float32)
    levels = frame_levels_db(x, SR)
    assert levels.shape[0] == 99  # (16000 - 320) / 160 + 1 frames of 20 ms, 10 ms hop
    assert np.allclose(levels, 20 * np.log10(0.5), atol=1e-4)


def test_trim_leading_whole_frames():
    fps, sr = 25, 16000
    frames = np.arange(50)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)  # (T,H,W,3), frame id in pixels
    audio = np.arange(50 * 640, dtype=np.float32)  # sample index as value
    f2, a2, secs = trim_leading(frames, audio, fps, sr, 0.13)  # 3.25 frames -> 3 (rounded down)
    assert secs == pytest.approx(0.12)
    assert len(f2) == 47 and f2[0, 0, 0, 0] == 3
    assert len(a2) == 47 * 640 and a2[0] == 3 * 640
    f3, a3, secs3 = trim_leading(frames, audio, fps, sr, 0.12)  # exact boundary survives float error
    assert len(f3) == 47 and secs3 == pytest.approx(0.12)
    f0, a0, s0 = trim_leading(frames, audio, fps, sr, 0.0)
    assert len(f0) == 50 and len(a0) == len(audio) and s0 == 0.0
    with pytest.raises(ValueError):
        trim_leading(frames, audio, fps, sr, 2.0)  # all 50 frames
    with pytest.raises(ValueError):
        trim_leading(frames, audio, fps, sr, -0.1)


def test_detect_then_trim_keeps_sync():
    fps = 25
    onset = 0.44  # 11 frames
    x = _signal(onset, total=2.0)
    frames = np.zeros((50, 2, 2, 3), np.uint8)
    secs = detect_leading_silence(x, SR)
    f2, a2, trimmed = trim_leading(frames, x, fps, SR, secs)
    assert trimmed <= secs + 1e-9
    assert len(a2) == len(f2) * 640
    # remaining silence is less than one video frame (+ detection tolerance)
    assert detect_leading_silence(a2, SR) <= 1 / fps + TOL
