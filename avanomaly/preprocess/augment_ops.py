"""The registered domain augmentations (see avanomaly.preprocess.augment for the table, the config and the spec).

Each class is one operation with its per-clip state: video ones map a chunk of frames (n, H, W, 3) uint8 to the same
shape, audio ones a chunk of samples (n,) float32 to (n,); state (filter memories, the reverb tail, the previous
frames) carries across chunks. ``draw(cfg, rng)`` picks the operation's values from an AugmentConfig's ranges.
"""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np

from avanomaly.conventions import FPS, SAMPLE_RATE
from avanomaly.errors import ConfigError
from avanomaly.preprocess.augment import (AUDIO, BANDLIMIT_MODES, NOISE_COLORS, VIDEO, Augmentation,
                                          register_augmentation)

#: telephone band (Hz) and the narrow-band sample rate of the ``bandlimit`` operation
TELEPHONE_BAND = (300.0, 3400.0)
NARROWBAND_RATE = 8000
#: reverberation: the tail starts this long after the direct path (s)
REVERB_PREDELAY_S = 0.005
#: pink-noise IIR (Paul Kellet's -3 dB/octave approximation) numerator / denominator
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)


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
