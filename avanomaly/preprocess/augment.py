"""Domain augmentation of real clips: make a real clip look recorded elsewhere (web, phone, noisy room); it stays real.

Video operations change the decoded frames *before* the visual front end (the face mesh / mouth tracker runs on
them), audio operations change the 16 kHz waveform before the log-mel; neither moves audio against video, so an
augmented clip is a real clip of another recording domain, never a fake. Registered operations (``available_
augmentations()``; ``register_augmentation`` adds one):

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
import io
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterator

import numpy as np

from avanomaly.conventions import FPS, SAMPLE_RATE
from avanomaly.errors import ConfigError, shorten
from avanomaly.utils import settings_hash

VIDEO, AUDIO = "video", "audio"
#: the registered operations a default AugmentConfig draws from (all of them)
DEFAULT_OPS = ("downscale", "reencode", "fps_jitter", "reverb", "noise", "bandlimit", "gain")
#: noise colours of the ``noise`` operation
NOISE_COLORS = ("white", "pink")
#: modes of the ``bandlimit`` operation
BANDLIMIT_MODES = ("telephone", "8k")
#: telephone band (Hz) and the narrow-band sample rate of the ``bandlimit`` operation
TELEPHONE_BAND = (300.0, 3400.0)
NARROWBAND_RATE = 8000
#: reverberation: the tail starts this long after the direct path (s)
REVERB_PREDELAY_S = 0.005
#: pink-noise IIR (Paul Kellet's -3 dB/octave approximation) numerator / denominator
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)
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
        lo_hi = {"crf": self.crf, "drop": self.frame_drop, "rt60": self.reverb_rt60, "snr": self.noise_snr_db}
        for h in self.downscale_heights:
            Downscale(height=h)
        for c in lo_hi["crf"]:
            Reencode(crf=c)
        for r in self.fps_rates:
            for d in lo_hi["drop"]:
                FpsJitter(rate=r, drop=d)
        for t in lo_hi["rt60"]:
            Reverb(rt60=t, drr_db=self.reverb_drr_db[0])
        for color in self.noise_colors:
            Noise(snr_db=lo_hi["snr"][0], color=color)
        for mode in self.bandlimit_modes:
            Bandlimit(mode=mode)


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


def available_augmentations() -> list[str]:
    return list(_REGISTRY)


def augmentation_class(name) -> type:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"unknown augmentation {shorten(repr(name))}; available: {available_augmentations()}")
    return _REGISTRY[name]


def build_augmentation(name: str, params: dict, rng: np.random.Generator) -> "Augmentation":
    """A fresh (per-clip state) operation ``name`` with ``params``; ConfigError for a bad name or value."""
    cls = augmentation_class(name)
    try:
        return cls(**params, rng=rng)
    except TypeError as exc:
        raise ConfigError(f"augmentation {name!r}: {exc}") from None


def _order(name: str) -> int:
    cls = augmentation_class(name)
    return (0 if cls.kind == VIDEO else len(_REGISTRY)) + list(_REGISTRY).index(name)


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


def _uniform(rng, lo_hi, digits: int = 2) -> float:
    return round(float(rng.uniform(lo_hi[0], lo_hi[1])), digits)


def _choice(rng, choices):
    return choices[int(rng.integers(len(choices)))]


# --------------------------------------------------------------------------------------------- video
@register_augmentation("downscale")
class Downscale(Augmentation):
    kind = VIDEO

    def __init__(self, height: int, rng=None):
        super().__init__(rng)
        if isinstance(height, bool) or not isinstance(height, int) or height < 16:
            raise ConfigError(f"downscale height must be an integer >= 16 px, got {height!r}")
        self.height = height

    @classmethod
    def draw(cls, cfg, rng):
        return {"height": int(_choice(rng, cfg.downscale_heights))}

    def video(self, frames):
        import cv2

        n, h, w, _ = frames.shape
        if h <= self.height:
            return frames
        size = (max(2, int(round(w * self.height / h))), self.height)
        return np.stack([cv2.resize(cv2.resize(f, size, interpolation=cv2.INTER_AREA), (w, h),
                                    interpolation=cv2.INTER_LINEAR) for f in frames]) if n else frames


@register_augmentation("reencode")
class Reencode(Augmentation):
    kind = VIDEO

    def __init__(self, crf: int, rng=None):
        super().__init__(rng)
        if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
            raise ConfigError(f"reencode crf must be an integer in 0..51, got {crf!r}")
        self.crf = crf

    @classmethod
    def draw(cls, cfg, rng):
        return {"crf": int(rng.integers(cfg.crf[0], cfg.crf[1] + 1))}

    def video(self, frames):
        import av

        n, h, w, _ = frames.shape
        if n == 0:
            return frames
        # yuv420p needs even sizes: replicate the last row / column, crop it off after decoding
        padded = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        buf = io.BytesIO()
        with av.open(buf, mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=Fraction(FPS, 1))
            stream.width, stream.height, stream.pix_fmt = padded.shape[2], padded.shape[1], "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": "veryfast", "threads": "1"}
            for f in padded:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        buf.seek(0)
        with av.open(buf) as inp:
            decoded = [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]
        if len(decoded) != n:
            raise RuntimeError(f"reencode: H.264 round trip gave {len(decoded)} frames for {n}")
        return np.stack(decoded)[:, :h, :w]


@register_augmentation("fps_jitter")
class FpsJitter(Augmentation):
    kind = VIDEO

    def __init__(self, rate: int, drop: float = 0.0, rng=None):
        super().__init__(rng)
        if isinstance(rate, bool) or not isinstance(rate, int) or not (rate == 0 or 5 <= rate <= 4 * FPS):
            raise ConfigError(f"fps_jitter rate must be 0 (keep) or an integer in 5..{4 * FPS}, got {rate!r}")
        if not 0.0 <= float(drop) < 1.0:
            raise ConfigError(f"fps_jitter drop must be in [0, 1), got {drop!r}")
        self.rate, self.drop = rate, float(drop)
        self.t = 0  # output frames so far
        self.tail: np.ndarray | None = None  # last source frames of the previous chunk
        self.last: np.ndarray | None = None  # previous output frame

    @classmethod
    def draw(cls, cfg, rng):
        return {"rate": int(_choice(rng, cfg.fps_rates)), "drop": _uniform(rng, cfg.frame_drop, 3)}

    def video(self, frames):
        n = frames.shape[0]
        if n == 0:
            return frames
        g = np.arange(self.t, self.t + n)
        src = g if self.rate in (0, FPS) else (np.floor(g * self.rate / FPS) * FPS // self.rate).astype(int)
        src = np.minimum(src, g)
        keep = 0 if self.tail is None else len(self.tail)
        pool = frames if self.tail is None else np.concatenate([self.tail, frames])
        out = pool[src - self.t + keep]
        if self.drop > 0:
            repeat = self.rng.random(n) < self.drop
            for i in np.flatnonzero(repeat):
                prev = out[i - 1] if i else self.last
                if prev is not None:
                    out[i] = prev
        self.t += n
        self.tail = pool[-(FPS // 5 + 1):].copy()  # enough for rate >= 5
        self.last = out[-1].copy()
        return out


# --------------------------------------------------------------------------------------------- audio
def _check_db(value, what: str) -> float:
    v = float(value)
    if not np.isfinite(v):
        raise ConfigError(f"{what} must be a finite number of dB, got {value!r}")
    return v


@register_augmentation("reverb")
class Reverb(Augmentation):
    kind = AUDIO

    def __init__(self, rt60: float, drr_db: float = 5.0, rng=None):
        super().__init__(rng)
        if not 0.05 <= float(rt60) <= 3.0:
            raise ConfigError(f"reverb rt60 must be in [0.05, 3] s, got {rt60!r}")
        self.rt60, self.drr_db = float(rt60), _check_db(drr_db, "reverb drr_db")
        n = int(round(self.rt60 * SAMPLE_RATE))
        t = np.arange(n) / SAMPLE_RATE
        tail = self.rng.standard_normal(n) * np.exp(-6.907755 * t / self.rt60)  # 60 dB down at rt60
        tail[: int(REVERB_PREDELAY_S * SAMPLE_RATE)] = 0.0
        tail *= np.sqrt(10.0 ** (-self.drr_db / 10.0) / max(np.sum(tail ** 2), 1e-12))
        tail[0] = 1.0  # the direct path
        self.ir = (tail / np.sqrt(np.sum(tail ** 2))).astype(np.float64)  # energy kept
        self.carry = np.zeros(0)

    @classmethod
    def draw(cls, cfg, rng):
        return {"rt60": _uniform(rng, cfg.reverb_rt60), "drr_db": _uniform(rng, cfg.reverb_drr_db, 1)}

    def audio(self, samples):
        from scipy.signal import oaconvolve

        n = samples.shape[0]
        if n == 0:
            return samples
        y = oaconvolve(samples.astype(np.float64), self.ir)
        m = max(len(y), len(self.carry))
        acc = np.zeros(m)
        acc[: len(y)] += y
        acc[: len(self.carry)] += self.carry
        self.carry = acc[n:]
        return acc[:n].astype(np.float32)


@register_augmentation("noise")
class Noise(Augmentation):
    kind = AUDIO

    def __init__(self, snr_db: float, color: str = "white", rng=None):
        super().__init__(rng)
        self.snr_db = _check_db(snr_db, "noise snr_db")
        if color not in NOISE_COLORS:
            raise ConfigError(f"noise color must be one of {NOISE_COLORS}, got {color!r}")
        self.color = color
        self.std: float | None = None
        self.zi = None

    @classmethod
    def draw(cls, cfg, rng):
        return {"snr_db": _uniform(rng, cfg.noise_snr_db, 1), "color": str(_choice(rng, cfg.noise_colors))}

    def audio(self, samples):
        from scipy.signal import lfilter, lfilter_zi

        n = samples.shape[0]
        if n == 0:
            return samples
        x = samples.astype(np.float64)
        if self.std is None:  # speech power of the first chunk: the louder half of its 40 ms frames
            spf = SAMPLE_RATE // FPS
            frames = x[: len(x) // spf * spf].reshape(-1, spf) if len(x) >= spf else x[None]
            p = np.sort((frames ** 2).mean(axis=1))
            power = float(p[len(p) // 2:].mean()) if p.size else 0.0
            self.std = float(np.sqrt(max(power, 1e-10) / 10.0 ** (self.snr_db / 10.0)))
        w = self.rng.standard_normal(n)
        if self.color == "pink":
            if self.zi is None:
                self.zi = lfilter_zi(_PINK_B, _PINK_A) * 0.0
            w, self.zi = lfilter(_PINK_B, _PINK_A, w, zi=self.zi)
            w = w / 0.086  # the filter's output std for unit white noise (so snr_db holds for both colours)
        return np.clip(x + self.std * w, -1.0, 1.0).astype(np.float32)


@register_augmentation("bandlimit")
class Bandlimit(Augmentation):
    kind = AUDIO

    def __init__(self, mode: str, rng=None):
        super().__init__(rng)
        if mode not in BANDLIMIT_MODES:
            raise ConfigError(f"bandlimit mode must be one of {BANDLIMIT_MODES}, got {mode!r}")
        from scipy.signal import butter, sosfilt_zi

        self.mode = mode
        factor = SAMPLE_RATE // NARROWBAND_RATE
        # the resampler's anti-alias / anti-image low-pass, a little under the narrow band's Nyquist frequency
        self.lowpass = butter(10, 0.45 * NARROWBAND_RATE, btype="low", fs=SAMPLE_RATE, output="sos")
        self.band = butter(4, TELEPHONE_BAND, btype="band", fs=SAMPLE_RATE, output="sos")
        self.factor = factor
        zeros = lambda sos: sosfilt_zi(sos) * 0.0  # noqa: E731
        self.state = {"band": zeros(self.band), "down": zeros(self.lowpass), "up": zeros(self.lowpass)}
        self.phase = 0  # samples seen (decimation keeps every factor-th sample of the whole clip)

    @classmethod
    def draw(cls, cfg, rng):
        return {"mode": str(_choice(rng, cfg.bandlimit_modes))}

    def audio(self, samples):
        from scipy.signal import sosfilt

        n = samples.shape[0]
        if n == 0:
            return samples
        x = samples.astype(np.float64)
        if self.mode == "telephone":
            x, self.state["band"] = sosfilt(self.band, x, zi=self.state["band"])
        y, self.state["down"] = sosfilt(self.lowpass, x, zi=self.state["down"])
        keep = (np.arange(self.phase, self.phase + n) % self.factor) == 0
        self.phase += n
        up = np.where(keep, y * self.factor, 0.0)  # the 8 kHz samples, zero-stuffed back to 16 kHz
        z, self.state["up"] = sosfilt(self.lowpass, up, zi=self.state["up"])
        return np.clip(z, -1.0, 1.0).astype(np.float32)


@register_augmentation("gain")
class Gain(Augmentation):
    kind = AUDIO

    def __init__(self, gain_db: float, rng=None):
        super().__init__(rng)
        self.gain_db = _check_db(gain_db, "gain gain_db")

    @classmethod
    def draw(cls, cfg, rng):
        return {"gain_db": _uniform(rng, cfg.gain_db, 1)}

    def audio(self, samples):
        return np.clip(samples.astype(np.float64) * 10.0 ** (self.gain_db / 20.0), -1.0, 1.0).astype(np.float32)


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
