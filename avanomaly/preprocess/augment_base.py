"""The base of domain augmentation (avanomaly.preprocess.augment): the operation class, its registry and the names
the operations share. Apart from augment.py so that the built-in operations (augment_ops.py) import this and
augment.py imports them, without an import circle."""

from __future__ import annotations

from typing import Callable

import numpy as np

from avanomaly.errors import ConfigError

VIDEO, AUDIO = "video", "audio"
#: noise colours of the ``noise`` operation / modes of the ``bandlimit`` operation (augment_ops.py)
NOISE_COLORS = ("white", "pink")
BANDLIMIT_MODES = ("telephone", "8k")
_REGISTRY: dict[str, type] = {}


def register_augmentation(name: str, overwrite: bool = False) -> Callable[[type], type]:
    """Class decorator: make an :class:`Augmentation` subclass available by ``name``."""

    def deco(cls: type) -> type:
        if name in _REGISTRY and not overwrite:
            raise ConfigError(f"augmentation {name!r} is already registered (pass overwrite=True to replace it)")
        if getattr(cls, "kind", None) not in (VIDEO, AUDIO):
            raise ConfigError(f"augmentation {name!r}: kind must be {VIDEO!r} or {AUDIO!r}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


class Augmentation:
    """One operation with its per-clip state. Video: ``video(frames (n,H,W,3) uint8) -> same shape``; audio:
    ``audio(samples (n,) float32) -> (n,) float32``; called chunk after chunk, in order."""

    name = ""
    kind = ""

    def __init__(self, rng: np.random.Generator | None = None):
        self.rng = rng if rng is not None else np.random.default_rng(0)

    @classmethod
    def draw(cls, cfg, rng: np.random.Generator) -> dict:  # cfg: augment.AugmentConfig
        raise NotImplementedError

    def video(self, frames: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def audio(self, samples: np.ndarray) -> np.ndarray:
        raise NotImplementedError
