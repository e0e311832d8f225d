"""In-memory cached clips for tests and benchmarks (no video decoding, no cache on disk).

:class:`MemoryClip` has the ``CachedClip`` interface the trainer uses (``mouths``, ``mel``, ``meta``,
``window``). :func:`synthetic_clips` makes talking-mouth-like clips where the mouth opening follows the audio
energy frame by frame, so audio-visual sync is learnable (and an offset between them is detectable).
"""

from __future__ import annotations

import numpy as np

from avanomaly.conventions import FPS, MEL_PER_FRAME
from avanomaly.training.windows import CONTEXT, ClipRef

#: syllable-like energy bursts per second of synthetic speech
SYLLABLES_PER_SECOND = 4.0


class MemoryClip:
    """mouths (T,S,S) uint8, mel (4T,M) float16 held in memory; ``window`` as CachedClip.window."""

    def __init__(self, mouths: np.ndarray, mel: np.ndarray, meta: dict | None = None):
        if mel.shape[0] != MEL_PER_FRAME * mouths.shape[0]:
            raise ValueError(f"mel has {mel.shape[0]} frames for {mouths.shape[0]} video frames (need 4 per frame)")
        self.mouths = mouths
        self.mel = mel
        self.meta = dict(meta or {}, n_frames=int(mouths.shape[0]))

    def window(self, start: int, length: int):
        """-> mouths (length+4, S, S) uint8, mel (4(length+4), M) float32; frames start-2 .. start+length+1,
        replicate-padded at the clip edges."""
        T = self.mouths.shape[0]
        idx = np.clip(np.arange(start - CONTEXT, start + length + CONTEXT), 0, T - 1)  # (length+4,)
        mel_idx = (idx[:, None] * MEL_PER_FRAME + np.arange(MEL_PER_FRAME)[None, :]).reshape(-1)
        return self.mouths[idx], self.mel[mel_idx].astype(np.float32)


def _energy(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """Per-frame speech energy in [0, 1]: random syllable bursts with pauses."""
    e = np.zeros(n_frames)
    n_syl = max(1, int(n_frames / FPS * SYLLABLES_PER_SECOND))
    for c in rng.uniform(0, n_frames, n_syl):
        width = rng.uniform(1.0, 3.0)
        e += rng.uniform(0.4, 1.0) * np.exp(-0.5 * ((np.arange(n_frames) - c) / width) ** 2)
    return np.clip(e, 0.0, 1.0)


def synthetic_clip(rng: np.random.Generator, n_frames: int, crop_size: int = 32, n_mels: int = 80,
                   audio_delay: int = 0) -> MemoryClip:
    """One clip: a dark mouth ellipse opening with the energy; mel = speaker spectrum scaled by the energy.
    ``audio_delay`` > 0 delays the audio by that many frames (the mouth leads)."""
    e = _energy(rng, n_frames + abs(audio_delay))
    d = abs(audio_delay)
    # delay n > 0: audio[t + n] == video[t]; n < 0: the audio leads by -n frames
    e_video = e[d:d + n_frames] if audio_delay > 0 else e[:n_frames]
    e_audio = e[d:d + n_frames] if audio_delay < 0 else e[:n_frames]
    S = crop_size
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    cy, cx = S / 2 + rng.uniform(-1, 1), S / 2 + rng.uniform(-1, 1)
    skin = rng.uniform(120, 200)
    mouths = np.empty((n_frames, S, S), dtype=np.uint8)
    for t in range(n_frames):
        ry, rx = 1.0 + e_video[t] * S * 0.25, S * 0.3
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        img = np.full((S, S), skin, np.float32) - 90.0 * inside + rng.normal(0, 4, (S, S))
        mouths[t] = np.clip(img, 0, 255).astype(np.uint8)
    shape = np.exp(-0.5 * ((np.arange(n_mels) - rng.uniform(10, 40)) / rng.uniform(6, 15)) ** 2)  # (M,)
    e_mel = np.repeat(e_audio, MEL_PER_FRAME)  # (4T,)
    mel = np.log(1e-3 + e_mel[:, None] * shape[None, :] + 1e-3 * rng.random((MEL_PER_FRAME * n_frames, n_mels)))
    return MemoryClip(mouths, mel.astype(np.float16), meta={"synthetic": True, "audio_delay": audio_delay})


def synthetic_clips(n_clips: int, n_frames: int, seed: int = 0, crop_size: int = 32, n_mels: int = 80,
                    prefix: str = "clip") -> list[ClipRef]:
    rng = np.random.default_rng(seed)
    refs = []
    for i in range(n_clips):
        c = synthetic_clip(rng, n_frames, crop_size, n_mels)
        refs.append(ClipRef(name=f"{prefix}{i:03d}", clip=c, n_frames=n_frames))
    return refs
