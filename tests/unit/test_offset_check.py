"""The model-free second opinion on a clip's audio-visual offset (postprocess/offset_check.py)."""

from __future__ import annotations

import numpy as np
import pytest

from avanomaly.postprocess.offset_check import (AGREE_FRAMES, LARGE_OFFSET_FRAMES, MAX_LAG, OffsetCheck, describe,
                                                envelope_lag, frame_energy)


def _mouth(n: int, seed: int = 0) -> np.ndarray:
    """A talking mouth's opening: smoothed noise (syllables of a few frames)."""
    rng = np.random.default_rng(seed)
    return np.convolve(rng.standard_normal(n + 8), np.ones(4) / 4, mode="same")[4:n + 4]


@pytest.mark.parametrize("lag", [-7, -4, 0, 3, 6])
def test_envelope_lag_finds_a_known_delay_of_the_audio(lag):
    m = _mouth(300, seed=lag + 20)
    rng = np.random.default_rng(1)
    energy = np.roll(m, lag) + 0.5 * rng.standard_normal(300)  # audio later by `lag` frames: energy[t + lag] ~ m[t]
    found, c = envelope_lag(m, energy)
    assert found == lag and 0.3 < c <= 1.0
    # an unrelated audio track: a weak correlation, wherever its peak lands
    _, c_other = envelope_lag(m, _mouth(300, seed=99))
    assert c_other < c


def test_envelope_lag_without_enough_frames_or_motion_gives_no_opinion():
    assert envelope_lag(_mouth(20), _mouth(20, 1)) == (None, pytest.approx(np.nan, nan_ok=True))
    lag, c = envelope_lag(np.ones(200), _mouth(200))  # a still mouth
    assert lag is None and np.isnan(c)


def test_frame_energy_sums_the_mel_power_of_each_video_frame():
    mel = np.log(np.full((12, 5), 2.0))
    mel[4:8] = np.log(4.0)  # video frame 1 is louder
    e = frame_energy(mel, 4)
    assert e.shape == (3,) and e[1] - e[0] == pytest.approx(np.log(2.0), rel=1e-6)


def _check(lag_in: int, model_offset: int, front_end: str = "landmarks") -> dict:
    from avanomaly.preprocess.landmarks import INNER_OPEN_FEATURE, N_LIP_FEATURES

    n = 200
    m = _mouth(n, seed=3)
    vis = np.zeros((n, N_LIP_FEATURES), np.float32)
    vis[:, INNER_OPEN_FEATURE] = m
    power = np.exp(np.roll(m, lag_in) * 2)  # loudness follows the mouth, `lag_in` frames later
    mel = np.log(np.repeat(power / 4, 4)[:, None] * np.ones((1, 8)) / 8)
    chk = OffsetCheck(INNER_OPEN_FEATURE if front_end == "landmarks" else None, 4)
    for s in range(0, n, 64):  # pushed in chunks, as the Detector reads a file
        chk.push(vis[s:s + 64], mel[4 * s:4 * (s + 64)])
    return chk.result(model_offset)


def test_offset_check_agrees_only_on_a_large_offset_both_measures_see():
    big = LARGE_OFFSET_FRAMES + 2
    assert _check(big, big) == {"frames": big, "correlation": pytest.approx(1.0, abs=1e-6), "agrees": True}
    assert _check(big, big + AGREE_FRAMES)["agrees"]
    assert not _check(big, big + AGREE_FRAMES + 1)["agrees"]  # the two estimates disagree
    assert not _check(2, 2)["agrees"]  # both see a small offset: nothing to flag
    assert not _check(-big, big)["agrees"]
    assert _check(-big, -big)["agrees"]
    assert _check(big, big, front_end="pixels") == {}  # no lip features: no opinion


def test_describe_names_the_offset_only_when_the_measures_agree():
    assert describe({"frames": 6, "correlation": 0.3, "agrees": False}, 6, 25.0) is None
    assert describe({}, 0, 25.0) is None
    late = describe({"frames": 7, "correlation": 0.3, "agrees": True}, 6, 25.0)
    assert late.startswith("audio out of sync with the lips: 240 ms late (+6 frames)") and "+7" in late
    assert "160 ms early (-4 frames)" in describe({"frames": -4, "correlation": 0.3, "agrees": True}, -4, 25.0)
    assert MAX_LAG >= LARGE_OFFSET_FRAMES + AGREE_FRAMES
