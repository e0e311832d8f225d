"""Preprocessing settings. Every field changes the cached tensors, so the whole dataclass is part of the cache key."""

from __future__ import annotations

from dataclasses import dataclass

from avanomaly.conventions import FPS, MEL_PER_FRAME, SAMPLE_RATE
from avanomaly.errors import ConfigError

#: accepted values of ``PreprocessConfig.face_fallback``
FACE_FALLBACKS = ("error", "center")
#: accepted values of ``PreprocessConfig.front_end``: mouth pixel crops (``detector``) or MediaPipe lip landmarks
FRONT_ENDS = ("pixels", "landmarks")
#: mel frames per video frame (fixed by the architecture contract: 640 samples / 160 hop)
MEL_FRAMES_PER_VIDEO_FRAME = MEL_PER_FRAME


@dataclass
class PreprocessConfig:
    """Everything that changes the cached tensors (part of the cache key).

    ``face_fallback="error"`` raises :class:`~avanomaly.errors.NoFaceError` for a clip where no face is
    found in any frame; ``"center"`` uses a centre crop instead and records ``face_fallback_used`` in meta.
    """

    fps: int = FPS
    sample_rate: int = SAMPLE_RATE
    n_mels: int = 80
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    crop_size: int = 64
    detector: str = "centerface"
    detect_every: int = 5
    max_side: int = 512
    face_fallback: str = "error"  # or "center"
    trim_leading_silence: bool = False
    front_end: str = "pixels"  # "pixels": grayscale mouth crops; "landmarks": lip landmarks (preprocess/landmarks.py)

    def __post_init__(self):
        self.validate()

    @property
    def samples_per_frame(self) -> int:
        """Audio samples per video frame (640 at 16 kHz / 25 fps)."""
        return self.sample_rate // self.fps

    def validate(self) -> None:
        if self.sample_rate % self.fps:
            raise ConfigError(f"sample_rate {self.sample_rate} is not a multiple of fps {self.fps}")
        if self.samples_per_frame != MEL_FRAMES_PER_VIDEO_FRAME * self.hop_length:
            raise ConfigError(
                f"need exactly {MEL_FRAMES_PER_VIDEO_FRAME} mel frames per video frame: "
                f"sample_rate/fps = {self.samples_per_frame} but hop_length*{MEL_FRAMES_PER_VIDEO_FRAME} = "
                f"{self.hop_length * MEL_FRAMES_PER_VIDEO_FRAME}"
            )
        if not 0 < self.win_length <= self.n_fft:
            raise ConfigError(f"win_length {self.win_length} must be in 1..n_fft ({self.n_fft})")
        if self.front_end not in FRONT_ENDS:
            raise ConfigError(f"front_end must be one of {FRONT_ENDS}, got {self.front_end!r}")
        if self.face_fallback not in FACE_FALLBACKS:
            raise ConfigError(f"face_fallback must be one of {FACE_FALLBACKS}, got {self.face_fallback!r}")
        if self.detect_every < 1:
            raise ConfigError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.crop_size < 8:
            raise ConfigError(f"crop_size must be >= 8, got {self.crop_size}")
        if self.max_side < 32:
            raise ConfigError(f"max_side must be >= 32, got {self.max_side}")
