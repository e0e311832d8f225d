"""Tiny randomly initialised detectors and synthetic talking clips, for fast tests of scoring and its users.

Nothing here is a trained model: scores from these detectors only exercise the machinery (shapes, streaming,
schema, errors), they say nothing about real/fake.
"""

from __future__ import annotations

from avanomaly.conventions import FPS, SAMPLE_RATE
import numpy as np

#: tiny model sizes (fast on one CPU thread)
TINY_MAX_OFFSET = 3
TINY_DIM = 16
TINY_WIDTH = 4
TINY_CROP = 32
TINY_AR_CONTEXT = 16
#: the random AR head is scaled up so its predictions are peaked and the NLL actually depends on the input
#: (a freshly initialised head predicts nearly uniform distributions: NLL ~ log(O) whatever the clip)
AR_HEAD_GAIN = 30.0


def tiny_models(seed: int = 0, temporal: str = "transformer", ar_context: int = TINY_AR_CONTEXT):
    """(sync_model, ar_model, preprocess_cfg) freshly initialised, small, eval mode."""
    import torch

    from avanomaly.models import create_model
    from avanomaly.preprocess.config import PreprocessConfig

    torch.manual_seed(seed)
    sync = create_model("sync", dim=TINY_DIM, width=TINY_WIDTH, temporal=temporal, temporal_layers=1,
                        temporal_heads=2, max_offset=TINY_MAX_OFFSET, crop_size=TINY_CROP, dropout=0.0)
    o = 2 * TINY_MAX_OFFSET + 1
    ar = create_model("ar", in_features=o, n_offsets=o, d_model=16, n_layers=1, n_heads=2, dropout=0.0,
                      context=ar_context)
    with torch.no_grad():
        ar.head.weight.mul_(AR_HEAD_GAIN)
    cfg = PreprocessConfig(crop_size=TINY_CROP, detector="center", face_fallback="center", max_side=64)
    return sync.eval(), ar.eval(), cfg


def tiny_detector(seed: int = 0, calibration=None, **kwargs):
    from avanomaly.scoring.detector import Detector

    sync, ar, cfg = tiny_models(seed)
    return Detector(sync, ar, cfg, calibration=calibration, device="cpu", **kwargs)


def synthetic_clip(n_frames: int = 75, seed: int = 0, size: int = 48, audio_delay_frames: int = 0):
    """(frames (T,size,size,3) uint8, audio (T*640,) float32): a 'mouth' whose opening follows the audio level.

    The mouth is a dark ellipse whose height tracks a random smooth envelope; the audio is noise modulated by
    the same envelope, delayed by ``audio_delay_frames`` (positive: audio later).
    """
    rng = np.random.default_rng(seed)
    spf = SAMPLE_RATE // FPS
    steps = rng.normal(size=n_frames + abs(audio_delay_frames) + 8)
    env = np.convolve(steps, np.ones(5) / 5, mode="same")
    env = (env - env.min()) / (np.ptp(env) + 1e-9)  # (T+,) in [0, 1]
    video_env = env[: n_frames]
    audio_env = np.roll(env, audio_delay_frames)[: n_frames]
    yy, xx = np.mgrid[:size, :size]
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    base = 150 + rng.integers(-20, 20)
    for t in range(n_frames):
        h = 2 + 8 * video_env[t]
        mouth = ((xx - size / 2) / 10.0) ** 2 + ((yy - size * 0.65) / h) ** 2 <= 1.0
        img = np.full((size, size), base, np.float64) + rng.normal(0, 3, (size, size))
        img[mouth] = 40
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)[..., None]
    noise = rng.normal(0, 1, n_frames * spf)
    audio = (0.3 * np.repeat(audio_env, spf) * noise).astype(np.float32)
    return frames, np.clip(audio, -1, 1)
