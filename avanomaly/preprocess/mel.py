"""Log-mel spectrogram in pure torch (torchaudio is optional and not used).

Matches ``librosa.feature.melspectrogram`` (Slaney mel scale and area norm, periodic Hann window of
``win_length`` zero-padded to ``n_fft``, power 2) to float precision.

Alignment (architecture contract): the audio of ``T`` video frames is ``T * 640`` samples and gives exactly
``4T`` mel frames; mel frame ``i`` is centred at sample ``i * 160 + 80``, so frames ``4t .. 4t+3`` lie
symmetrically inside video frame ``t``'s samples ``[640 t, 640 (t + 1))``. This is the STFT of the audio
zero-padded by ``n_fft/2 - hop/2`` samples on both sides, without further centring (equivalently,
``center=True`` framing shifted by half a hop so that no frame straddles two video frames unevenly).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from avanomaly.preprocess.config import MEL_FRAMES_PER_VIDEO_FRAME, PreprocessConfig

#: floor applied before the log (contract: log(max(mel, 1e-10)))
LOG_FLOOR = 1e-10
#: Slaney mel scale constants (as in librosa.hz_to_mel(htk=False))
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    mel = f / _F_SP
    log_region = f >= _MIN_LOG_HZ
    return np.where(log_region, _MIN_LOG_MEL + np.log(np.maximum(f, 1e-12) / _MIN_LOG_HZ) / _LOGSTEP, mel)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    hz = _F_SP * m
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), hz)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-style mel filterbank with Slaney area normalisation, (n_mels, n_fft//2 + 1) float64."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    mel_pts = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # (n_mels+2,) in Hz
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]  # (n_mels+2, F)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))  # (n_mels, F)
    enorm = 2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels])
    return weights * enorm[:, None]


_FB_CACHE: dict[tuple, torch.Tensor] = {}


def _filterbank_tensor(cfg: PreprocessConfig) -> torch.Tensor:
    key = (cfg.sample_rate, cfg.n_fft, cfg.n_mels)
    if key not in _FB_CACHE:
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, 0.0, cfg.sample_rate / 2.0)
        _FB_CACHE[key] = torch.from_numpy(fb.astype(np.float32))
    return _FB_CACHE[key]


def mel_power(audio: torch.Tensor, cfg: PreprocessConfig | None = None, n_frames: int | None = None) -> torch.Tensor:
    """Mel power spectrogram (4T, n_mels) float32, aligned as described in the module docstring.

    ``audio`` (N,) float mono at ``cfg.sample_rate``. ``n_frames`` (video frames T): the audio is zero-padded
    or trimmed to ``T * samples_per_frame``. When omitted, ``T = ceil(N / samples_per_frame)`` (a partial
    last video frame is zero-padded, never dropped).
    """
    cfg = cfg or PreprocessConfig()
    audio = torch.as_tensor(audio, dtype=torch.float32)
    if audio.dim() != 1:
        raise ValueError(f"audio must be 1-D (N,), got shape {tuple(audio.shape)}")
    spf = cfg.samples_per_frame
    if n_frames is None:
        n_frames = -(-audio.numel() // spf)
    n_samples = n_frames * spf
    if audio.numel() < n_samples:
        audio = torch.nn.functional.pad(audio, (0, n_samples - audio.numel()))
    elif audio.numel() > n_samples:
        audio = audio[:n_samples]
    n_mel_frames = MEL_FRAMES_PER_VIDEO_FRAME * n_frames
    if n_frames == 0:
        return torch.zeros(0, cfg.n_mels)
    side = cfg.n_fft // 2 - cfg.hop_length // 2  # frame i centred at sample i*hop + hop/2
    padded = torch.nn.functional.pad(audio, (side, side))  # (N + 2*side,)
    window = torch.hann_window(cfg.win_length, periodic=True, dtype=torch.float32)
    spec = torch.stft(
        padded,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window,
        center=False,
        return_complex=True,
    )  # (F, frames)
    power = spec.real.square() + spec.imag.square()  # (F, 4T)
    assert power.shape[1] == n_mel_frames, (power.shape, n_mel_frames)
    mel = _filterbank_tensor(cfg) @ power  # (M, 4T)
    return mel.T.contiguous()  # (4T, M)


def log_mel(audio: torch.Tensor, cfg: PreprocessConfig | None = None, n_frames: int | None = None) -> torch.Tensor:
    """(N,) audio -> (4T, n_mels) float32 natural-log mel power, ``log(max(mel, 1e-10))``."""
    return torch.log(torch.clamp(mel_power(audio, cfg, n_frames), min=LOG_FLOOR))
