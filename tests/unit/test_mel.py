"""log_mel against librosa, and the 4-mel-frames-per-video-frame alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avanomaly.preprocess.config import PreprocessConfig
from avanomaly.preprocess.mel import LOG_FLOOR, log_mel, mel_filterbank, mel_power

librosa = pytest.importorskip("librosa")

CFG = PreprocessConfig()
SPF = CFG.samples_per_frame  # 640
PAD = CFG.n_fft // 2 - CFG.hop_length // 2  # 176: frame i centred at i*160 + 80


def _librosa_mel(x: np.ndarray) -> np.ndarray:
    """librosa reference with the contract's alignment: zero-pad by 176 and frame without centring."""
    return librosa.feature.melspectrogram(
        y=np.pad(x, PAD), sr=CFG.sample_rate, n_fft=CFG.n_fft, win_length=CFG.win_length, hop_length=CFG.hop_length,
        window="hann", center=False, power=2.0, n_mels=CFG.n_mels, fmin=0.0, fmax=CFG.sample_rate / 2,
        htk=False, norm="slaney",
    ).T  # (frames, 80)


def test_filterbank_matches_librosa():
    ours = mel_filterbank(CFG.sample_rate, CFG.n_fft, CFG.n_mels, 0.0, 8000.0)
    ref = librosa.filters.mel(sr=CFG.sample_rate, n_fft=CFG.n_fft, n_mels=CFG.n_mels, fmin=0.0, fmax=8000.0)
    assert ours.shape == ref.shape == (80, 257)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_mel_power_and_log_match_librosa(seed):
    rng = np.random.default_rng(seed)
    t = 10
    x = (0.3 * rng.standard_normal(t * SPF) + 0.2 * np.sin(np.arange(t * SPF) * 0.05)).astype(np.float32)
    ours = mel_power(torch.from_numpy(x), CFG).numpy()
    ref = _librosa_mel(x)
    assert ours.shape == ref.shape == (4 * t, 80)
    rel = np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-10)
    assert rel.max() < 1e-4
    ours_log = log_mel(torch.from_numpy(x), CFG).numpy()
    ref_log = np.log(np.maximum(ref, LOG_FLOOR))
    assert ours_log.dtype == np.float32
    # an absolute error of e in the log is a relative error of ~e in the power (relative error of a log
    # near 0 is meaningless)
    assert np.abs(ours_log - ref_log).max() < 1e-4


def test_exactly_four_mel_frames_per_video_frame_and_padding():
    x = torch.randn(7 * SPF)
    assert log_mel(x, CFG).shape == (28, 80)
    # partial last video frame is padded, never dropped
    assert log_mel(torch.randn(7 * SPF + 1), CFG).shape == (32, 80)
    # explicit n_frames pads / trims the audio
    assert log_mel(x, CFG, n_frames=9).shape == (36, 80)
    assert log_mel(x, CFG, n_frames=3).shape == (12, 80)
    np.testing.assert_allclose(log_mel(x, CFG, n_frames=3)[:8], log_mel(x[: 3 * SPF], CFG)[:8], atol=1e-6)


def test_alignment_impulse_lands_inside_its_video_frame():
    t = 5
    x = torch.zeros(12 * SPF)
    x[t * SPF + SPF // 2] = 1.0  # centre of video frame t
    energy = mel_power(x, CFG).sum(dim=1).numpy()  # (48,)
    nonzero = set(np.flatnonzero(energy > 1e-8).tolist())
    # mel frames are centred at i*160 + 80; the 400-sample window reaches +-200 samples
    assert nonzero == {4 * t + 1, 4 * t + 2}


def test_silence_is_log_floor():
    out = log_mel(torch.zeros(2 * SPF), CFG)
    assert torch.allclose(out, torch.full_like(out, float(np.log(LOG_FLOOR))))


def test_rejects_2d_audio():
    with pytest.raises(ValueError):
        log_mel(torch.zeros(2, SPF), CFG)
