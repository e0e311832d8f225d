"""Domain augmentation of real clips: make a real clip look recorded elsewhere (web, phone, noisy room); it stays real.

Video operations change the decoded frames *before* the visual front end (the face mesh / mouth tracker runs on
them), audio operations change the 16 kHz waveform before the log-mel; neither moves audio against video, so an
augmented clip is a real clip of another recording domain, never a fake. Registered operations (``available_
augmentations()``; defined in ``augment_ops.py``; ``register_augmentation`` adds one):

==============  =====  ======================================================================================
``downscale``   video  to a frame height of ``height`` px (``cv2.INTER_AREA``) and back (``INTER_LINEAR``)
``reencode``    video  H.264 round trip at CRF ``crf`` (PyAV libx264, in memory, one GOP per decoded chunk)
``fps_jitter``  video  shown at ``rate`` frames/s and back (latest frame at or before each output time, as the
                       decoder does for a file of that rate), plus ``drop`` = chance a frame repeats the previous
``reverb``      audio  convolution with a synthetic impulse response: direct path + exponentially decaying
                       noise tail (60 dB down at ``rt60`` s), ``drr_db`` direct-to-reverberant ratio, energy kept
``noise``       audio  white or pink noise at ``snr_db`` against the clip's speech power (set on the first chunk)
``bandlimit``   audio  ``mode`` = ``8k``: 16 -> 8 -> 16 kHz round trip (4 kHz band); ``telephone``: 300-3400 Hz
                       band-pass, then the 8 kHz round trip
``gain``        audio  ``gain_db`` of loudness change, clipped to full scale as a file would be
==============  =====  ======================================================================================

Every operation keeps the number of frames, the frame size, dtype and the number of samples, and streams: a clip is
processed chunk by chunk (``augment_chunks``) with the state of each operation (filter memories, reverb tail, the
previous frames) carried over, so memory stays bounded like the rest of preprocessing.

An :class:`AugmentConfig` (the ranges; stored in the training config) draws, for clip ``clip_id`` and variant
``i``, one concrete :class:`AugmentSpec` (the operations and their values, plus the seed of their noise); the same
config, clip and variant always give the same spec and the same output. The spec is written to the cache entry's
``meta.json`` and hashed into its cache key (``augmented_key``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from avanomaly.errors import ConfigError, shorten
from avanomaly.utils import settings_hash

VIDEO, AUDIO = "video", "audio"
#: the registered operations a default AugmentConfig draws from (all of them)
DEFAULT_OPS = ("downscale", "reencode", "fps_jitter", "reverb", "noise", "bandlimit", "gain")
#: noise colours of the ``noise`` operation / modes of the ``bandlimit`` operation (augment_ops.py)
NOISE_COLORS = ("white", "pink")
BANDLIMIT_MODES = ("telephone", "8k")
#: per-key part of augmented cache keys
AUG_KEY_TAG = "aug"


# --------------------------------------------------------------------------------------------- config / spec
@dataclass
class AugmentConfig:
    """How augmented variants of the training clips are drawn (``augment.*`` of the training config).

    ``variants`` augmented copies of every training clip are cached next to the clean one (0: off). Each variant
    applies every operation of ``ops`` with probability ``p`` (at least one), its values drawn from the ranges
    below (``[lo, hi]`` uniform, or a list of choices)."""

    variants: int = 0
    seed: int = 0
    ops: list[str] = field(default_factory=lambda: list(DEFAULT_OPS))
    p: float = 0.4
    downscale_heights: list[int] = field(default_factory=lambda: [240, 144])  # choices (px)
    crf: list[int] = field(default_factory=lambda: [28, 42])  # [lo, hi]
    fps_rates: list[int] = field(default_factory=lambda: [15, 24, 30])  # choices (0: keep the rate)
    frame_drop: list[float] = field(default_factory=lambda: [0.0, 0.1])  # [lo, hi] chance a frame repeats
    reverb_rt60: list[float] = field(default_factory=lambda: [0.2, 0.8])  # [lo, hi] seconds
    reverb_drr_db: list[float] = field(default_factory=lambda: [0.0, 10.0])  # [lo, hi]
    noise_snr_db: list[float] = field(default_factory=lambda: [5.0, 30.0])  # [lo, hi]
    noise_colors: list[str] = field(default_factory=lambda: list(NOISE_COLORS))  # choices
    bandlimit_modes: list[str] = field(default_factory=lambda: list(BANDLIMIT_MODES))  # choices
    gain_db: list[float] = field(default_factory=lambda: [-15.0, 10.0])  # [lo, hi]

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        if self.variants < 0:
            raise ConfigError(f"augment.variants must be >= 0, got {self.variants}")
        if not 0.0 <= self.p <= 1.0:
            raise ConfigError(f"augment.p must be in [0, 1], got {self.p}")
        if self.variants and not self.ops:
            raise ConfigError("augment.ops is empty but augment.variants > 0: name at least one operation")
        for name in self.ops:
            augmentation_class(name)  # ConfigError for an unknown name
        for key in ("crf", "frame_drop", "reverb_rt60", "reverb_drr_db", "noise_snr_db", "gain_db"):
            lo_hi = getattr(self, key)
            if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
                raise ConfigError(f"augment.{key} must be [lo, hi] with lo <= hi, got {lo_hi}")
        for key in ("downscale_heights", "fps_rates", "noise_colors", "bandlimit_modes"):
            if not getattr(self, key):
                raise ConfigError(f"augment.{key} must list at least one choice")
        # each operation checks its own values (the ranges' ends are values it may draw)
        checks = [("downscale", {"height": h}) for h in self.downscale_heights]
        checks += [("reencode", {"crf": c}) for c in self.crf]
        checks += [("fps_jitter", {"rate": r, "drop": d}) for r in self.fps_rates for d in self.frame_drop]
        checks += [("reverb", {"rt60": t, "drr_db": self.reverb_drr_db[0]}) for t in self.reverb_rt60]
        checks += [("noise", {"snr_db": self.noise_snr_db[0], "color": c}) for c in self.noise_colors]
        checks += [("bandlimit", {"mode": m}) for m in self.bandlimit_modes]
        checks += [("gain", {"gain_db": g}) for g in self.gain_db]
        for name, params in checks:
            build_augmentation(name, params, np.random.default_rng(0))


@dataclass(frozen=True)
class AugmentSpec:
    """One concrete augmentation: ``steps`` = ((operation name, {parameter: value}), ...) in the order applied
    (video operations, then audio ones, each in registry order) and the ``seed`` of their random parts."""

    steps: tuple = ()
    seed: int = 0

    def __post_init__(self):
        steps = tuple((str(name), dict(params)) for name, params in self.steps)
        for name, params in steps:
            build_augmentation(name, params, np.random.default_rng(0))  # unknown name / bad value: ConfigError
        object.__setattr__(self, "steps", steps)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.steps]

    @property
    def has_video(self) -> bool:
        return any(augmentation_class(n).kind == VIDEO for n in self.names)

    def to_dict(self) -> dict:
        return {"steps": [{"op": name, **params} for name, params in self.steps], "seed": int(self.seed)}

    @classmethod
    def from_dict(cls, data) -> "AugmentSpec":
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise ConfigError(f"an augmentation spec must be {{'steps': [...], 'seed': N}}, got {shorten(repr(data))}")
        unknown = sorted(set(data) - {"steps", "seed"})
        if unknown:
            raise ConfigError(f"unknown augmentation spec key(s) {unknown}; known: ['seed', 'steps']")
        steps = []
        for step in data["steps"]:
            if not isinstance(step, dict) or "op" not in step:
                raise ConfigError(f"augmentation step must be a mapping with an 'op', got {shorten(repr(step))}")
            params = {k: v for k, v in step.items() if k != "op"}
            steps.append((step["op"], params))
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"augmentation spec seed must be an integer, got {seed!r}")
        return cls(steps=tuple(steps), seed=seed)

    def key(self) -> str:
        """Short stable hash of the spec (operations, values and seed)."""
        return settings_hash(self.to_dict())

    def describe(self) -> str:
        return " + ".join(f"{n}({', '.join(f'{k}={v}' for k, v in p.items())})" for n, p in self.steps) or "none"


def make_spec(*steps, seed: int = 0) -> AugmentSpec:
    """``make_spec(("downscale", {"height": 144}), ("noise", {"snr_db": 10}))`` -> AugmentSpec (steps sorted into
    the order they are applied in)."""
    return AugmentSpec(steps=tuple(sorted(steps, key=lambda s: _order(s[0]))), seed=seed)


def draw_spec(cfg: AugmentConfig, clip_id: str, variant: int) -> AugmentSpec:
    """Variant ``variant`` of clip ``clip_id`` (e.g. its content hash) under ``cfg``: deterministic, and different
    clips get different draws for the same variant index."""
    cfg.validate()
    clip_seed = int(settings_hash({"clip": str(clip_id)}), 16)
    rng = np.random.default_rng([int(cfg.seed) & 0xFFFFFFFF, int(variant), clip_seed & 0xFFFFFFFF])
    ops = sorted(dict.fromkeys(cfg.ops), key=_order)
    chosen = [name for name in ops if rng.random() < cfg.p]
    if not chosen:
        chosen = [ops[int(rng.integers(len(ops)))]]
    steps = tuple((name, augmentation_class(name).draw(cfg, rng)) for name in chosen)
    return AugmentSpec(steps=steps, seed=int(rng.integers(2 ** 31)))


def augmented_key(clean_key: str, spec: AugmentSpec) -> str:
    """Cache key of an augmented entry: the clean entry's key (file content + settings) + the spec's hash."""
    return f"{clean_key}-{AUG_KEY_TAG}{spec.key()}"


# --------------------------------------------------------------------------------------------- registry
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


def _registry() -> dict[str, type]:
    """The registry, with the built-in operations (avanomaly.preprocess.augment_ops) registered."""
    import avanomaly.preprocess.augment_ops  # noqa: F401 - its classes register themselves on import

    return _REGISTRY


def available_augmentations() -> list[str]:
    return list(_registry())


def augmentation_class(name) -> type:
    registry = _registry()
    if not isinstance(name, str) or name not in registry:
        raise ConfigError(f"unknown augmentation {shorten(repr(name))}; available: {available_augmentations()}")
    return registry[name]


def build_augmentation(name: str, params: dict, rng: np.random.Generator) -> "Augmentation":
    """A fresh (per-clip state) operation ``name`` with ``params``; ConfigError for a bad name or value."""
    cls = augmentation_class(name)
    try:
        return cls(**params, rng=rng)
    except TypeError as exc:
        raise ConfigError(f"augmentation {name!r}: {exc}") from None


def _order(name: str) -> int:
    cls = augmentation_class(name)
    return (0 if cls.kind == VIDEO else len(_REGISTRY)) + list(_registry()).index(name)


class Augmentation:
    """One operation with its per-clip state. Video: ``video(frames (n,H,W,3) uint8) -> same shape``; audio:
    ``audio(samples (n,) float32) -> (n,) float32``; called chunk after chunk, in order."""

    name = ""
    kind = ""

    def __init__(self, rng: np.random.Generator | None = None):
        self.rng = rng if rng is not None else np.random.default_rng(0)

    @classmethod
    def draw(cls, cfg: AugmentConfig, rng: np.random.Generator) -> dict:
        raise NotImplementedError

    def video(self, frames: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def audio(self, samples: np.ndarray) -> np.ndarray:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------- apply
class ClipAugmenter:
    """The operations of ``spec`` with fresh per-clip state; ``frames(...)`` / ``audio(...)`` per chunk, in order."""

    def __init__(self, spec: AugmentSpec):
        rng = np.random.default_rng(int(spec.seed))
        seeds = rng.integers(2 ** 31, size=max(1, len(spec.steps)))
        self.ops = [build_augmentation(name, params, np.random.default_rng(int(s)))
                    for (name, params), s in zip(spec.steps, seeds)]

    def frames(self, frames: np.ndarray) -> np.ndarray:
        shape, dtype = frames.shape, frames.dtype
        for op in self.ops:
            if op.kind == VIDEO:
                frames = op.video(frames)
        assert frames.shape == shape and frames.dtype == dtype, (op.name, frames.shape, shape)
        return frames

    def audio(self, samples: np.ndarray) -> np.ndarray:
        n = samples.shape[0]
        samples = np.asarray(samples, dtype=np.float32)
        for op in self.ops:
            if op.kind == AUDIO:
                samples = op.audio(samples)
        assert samples.shape == (n,) and samples.dtype == np.float32
        return samples


def augment_chunks(chunks, spec: AugmentSpec) -> Iterator:
    """Decoded ``Clip`` chunks -> the same chunks (frame count, sizes, samples, timing) with ``spec`` applied."""
    aug = ClipAugmenter(spec)
    for chunk in chunks:
        yield dataclasses.replace(chunk, frames=aug.frames(np.asarray(chunk.frames)), audio=aug.audio(chunk.audio))


def augment_arrays(frames: np.ndarray, audio: np.ndarray, spec: AugmentSpec, chunk_frames: int | None = None):
    """Whole-clip helper: frames (T,H,W,3) uint8 and audio (T*spf,) -> augmented (frames, audio), processed in runs
    of ``chunk_frames`` exactly as a streamed file is."""
    aug = ClipAugmenter(spec)
    t = frames.shape[0]
    step = chunk_frames or max(1, t)
    spf = audio.shape[0] // t if t else 0
    out_f, out_a = [], []
    for s in range(0, t, step):
        out_f.append(aug.frames(frames[s:s + step]))
        out_a.append(aug.audio(audio[s * spf:(s + step) * spf]))
    return np.concatenate(out_f) if out_f else frames, np.concatenate(out_a) if out_a else audio

