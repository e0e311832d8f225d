"""Speech-like audio and the articulation that goes with it.

A *plan* is a timed list of segments (pauses, vowels with formants F1-F3, fricatives, plosive closures
and bursts) grouped into phrases. ``render_audio`` turns a plan and a *voice* (pitch, formant scale,
brightness) into a 16 kHz waveform: a glottal pulse train with a declining, jittered pitch contour,
time-varying cascade formant resonators, noise sources for consonants and a room-noise floor.
``articulation`` turns the same plan into per-video-frame mouth openness (jaw opening follows F1 and
the voicing envelope) and spread (follows F2), causally smoothed like real articulators, sampled with
a small AV jitter. Re-voicing (same plan, other voice) keeps the timing; a new plan gives other words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from avanomaly.conventions import SAMPLE_RATE

#: audio is synthesised in blocks of this many samples (formants are constant inside a block)
BLOCK = 160
#: vowel formant targets (F1, F2, F3) in Hz for an adult male voice
VOWELS = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (270, 2290, 3010),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
    "ae": (660, 1720, 2410),
    "er": (490, 1350, 1690),
}
FORMANT_BANDWIDTHS = (80.0, 100.0, 140.0)
F1_RANGE = (250.0, 800.0)  # maps F1 onto jaw opening 0..1
F2_RANGE = (800.0, 2300.0)  # maps F2 onto lip spread -1..1
#: durations in seconds (low, high)
VOWEL_DUR = (0.08, 0.24)
FRICATIVE_DUR = (0.05, 0.11)
CLOSURE_DUR = (0.03, 0.07)
BURST_DUR = (0.012, 0.025)
PAUSE_DUR = (0.12, 0.45)
SYLLABLES_PER_PHRASE = (3, 8)
#: onset consonant probabilities (fricative, plosive; else the syllable starts with the vowel)
P_FRICATIVE, P_PLOSIVE = 0.3, 0.3
#: attack/release of segment envelopes (seconds)
RAMP_S = 0.02
#: slow random pitch wander: relative std and correlation length (samples)
PITCH_JITTER = 0.01
PITCH_JITTER_SAMPLES = 400
#: noise floor of the recording room (std, linear)
NOISE_FLOOR = 0.002
#: mouth articulation: how far ahead of the sound the articulators move, and their time constant
MOUTH_LEAD_S = 0.04
MOUTH_TAU_S = 0.04
#: std of the per-frame AV jitter of the articulation sampling time (seconds)
AV_JITTER_S = 0.010
#: openness of a fricative (teeth nearly together) relative to the vowel scale
FRICATIVE_OPEN = 0.15


@dataclass(frozen=True)
class Voice:
    """Timbre of a speaker."""

    f0: float  # mean pitch, Hz
    formant_scale: float  # vocal-tract length factor (women ~1.15)
    brightness: float  # 0..1: spectral tilt of the glottal source
    breathiness: float  # 0..1: aspiration noise in voiced segments


def random_voice(rng: np.random.Generator, women: bool) -> Voice:
    return Voice(
        f0=float(rng.uniform(170, 250) if women else rng.uniform(90, 150)),
        formant_scale=float(rng.uniform(1.1, 1.2) if women else rng.uniform(0.95, 1.05)),
        brightness=float(rng.uniform(0.3, 0.9)),
        breathiness=float(rng.uniform(0.02, 0.15)),
    )


@dataclass
class Segment:
    kind: str  # "pause" | "vowel" | "fricative" | "closure" | "burst"
    start: float
    end: float
    formants: tuple[float, float, float] = (0.0, 0.0, 0.0)
    level: float = 1.0
    noise_centre: float = 0.0  # fricative / burst noise band centre (Hz)


@dataclass
class SpeechPlan:
    duration: float
    segments: list[Segment] = field(default_factory=list)
    onset: float = 0.0  # time of the first non-pause segment


def make_plan(rng: np.random.Generator, duration: float, onset: float) -> SpeechPlan:
    """Phrases of syllables from ``onset`` to ``duration`` (the last phrase may be cut at ``duration``)."""
    segs = [Segment("pause", 0.0, onset)]
    t = onset
    names = list(VOWELS)
    while t < duration:
        for _ in range(int(rng.integers(SYLLABLES_PER_PHRASE[0], SYLLABLES_PER_PHRASE[1] + 1))):
            r = rng.random()
            if r < P_FRICATIVE:
                d = rng.uniform(*FRICATIVE_DUR)
                segs.append(Segment("fricative", t, t + d, level=float(rng.uniform(0.15, 0.35)), noise_centre=float(rng.uniform(2500, 6000))))
                t += d
            elif r < P_FRICATIVE + P_PLOSIVE:
                d = rng.uniform(*CLOSURE_DUR)
                segs.append(Segment("closure", t, t + d))
                t += d
                d = rng.uniform(*BURST_DUR)
                segs.append(Segment("burst", t, t + d, level=float(rng.uniform(0.3, 0.6)), noise_centre=float(rng.uniform(1000, 4000))))
                t += d
            d = rng.uniform(*VOWEL_DUR)
            f = VOWELS[names[int(rng.integers(len(names)))]]
            f = tuple(float(x * rng.uniform(0.92, 1.08)) for x in f)
            segs.append(Segment("vowel", t, t + d, formants=f, level=float(rng.uniform(0.6, 1.0))))
            t += d
        d = rng.uniform(*PAUSE_DUR)
        segs.append(Segment("pause", t, t + d))
        t += d
    return SpeechPlan(duration=duration, segments=segs, onset=onset)


def shift_plan(plan: SpeechPlan, seconds: float) -> SpeechPlan:
    """Same segments ``seconds`` later (negative: earlier); the head is filled with a pause."""
    segs = [Segment(s.kind, s.start + seconds, s.end + seconds, s.formants, s.level, s.noise_centre) for s in plan.segments]
    segs = [s for s in segs if s.end > 0]
    if segs and segs[0].start > 0:
        segs.insert(0, Segment("pause", 0.0, segs[0].start))
    return SpeechPlan(duration=plan.duration, segments=segs, onset=max(0.0, plan.onset + seconds))


def moving_average(x: np.ndarray, k: int) -> np.ndarray:
    """Centred moving average of width ``k`` with edge replication (cumulative-sum, O(N))."""
    if k <= 1:
        return x.astype(np.float32)
    left, right = k // 2, k - 1 - k // 2
    padded = np.pad(x.astype(np.float64), (left + 1, right), mode="edge")
    c = np.cumsum(padded)
    return ((c[k:] - c[:-k]) / k).astype(np.float32)


def _envelopes(plan: SpeechPlan, n: int, sr: int):
    """Per-sample voiced level, noise level, F1-F3 and noise centre."""
    voiced = np.zeros(n, np.float32)
    noise = np.zeros(n, np.float32)
    formants = np.zeros((3, n), np.float32)
    centre = np.full(n, 3000.0, np.float32)
    last_f = VOWELS["er"]
    for s in plan.segments:
        i0, i1 = max(0, int(s.start * sr)), min(n, int(s.end * sr))
        if i1 <= i0:
            continue
        if s.kind == "vowel":
            voiced[i0:i1] = s.level
            last_f = s.formants
        elif s.kind in ("fricative", "burst"):
            noise[i0:i1] = s.level
            centre[i0:i1] = s.noise_centre
        formants[:, i0:i1] = np.array(s.formants if s.kind == "vowel" else last_f, np.float32)[:, None]
    # attack / release ramps (a moving average of the gates), formant glides
    k = max(1, int(RAMP_S * sr))
    voiced = moving_average(voiced, k)
    noise = moving_average(noise, k)
    for j in range(3):
        formants[j] = moving_average(formants[j], 2 * k)
    return voiced, noise, formants, centre


def _resonator(freq: float, bw: float, sr: int):
    r = np.exp(-np.pi * bw / sr)
    c = 2.0 * r * np.cos(2.0 * np.pi * freq / sr)
    a = np.array([1.0, -c, r * r])
    b = np.array([a.sum()])  # unit gain at DC-ish, keeps levels comparable
    return b, a


def render_audio(plan: SpeechPlan, voice: Voice, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """(N,) float32 waveform, N = round(duration * sr); speech RMS is NOT normalised here."""
    n = int(round(plan.duration * sr))
    voiced, noise_lvl, formants, centre = _envelopes(plan, n, sr)
    t = np.arange(n) / sr
    # pitch: declination over phrases + slow wander + jitter
    f0 = voice.f0 * (1.0 + 0.08 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6.28)) - 0.05 * (t / max(plan.duration, 1e-3)))
    f0 *= 1.0 + PITCH_JITTER * moving_average(rng.normal(size=n), PITCH_JITTER_SAMPLES) * np.sqrt(PITCH_JITTER_SAMPLES)
    phase = np.cumsum(2 * np.pi * f0 / sr)
    saw = (np.mod(phase, 2 * np.pi) / np.pi - 1.0).astype(np.float32)
    # spectral tilt: one-pole lowpass, darker voices lowpass more
    alpha = 0.35 + 0.55 * (1.0 - voice.brightness)
    source = lfilter([1.0 - alpha], [1.0, -alpha], saw).astype(np.float32)
    source += voice.breathiness * rng.normal(size=n).astype(np.float32) * 0.3
    source *= voiced
    out = np.zeros(n, np.float32)
    zi = [np.zeros(2) for _ in range(3)]
    for i0 in range(0, n, BLOCK):
        i1 = min(n, i0 + BLOCK)
        y = source[i0:i1].astype(np.float64)
        for j in range(3):
            freq = float(formants[j, i0]) * voice.formant_scale
            freq = min(freq, 0.45 * sr) if freq > 0 else 500.0 * (2 * j + 1)
            b, a = _resonator(freq, FORMANT_BANDWIDTHS[j], sr)
            y, zi[j] = lfilter(b, a, y, zi=zi[j])
        out[i0:i1] = y
    out /= max(1e-6, float(np.max(np.abs(out))))
    # consonant noise: white noise through one resonator at the noise centre (constant per block)
    white = rng.normal(size=n)
    noise = np.zeros(n, np.float32)
    zn = np.zeros(2)
    for i0 in range(0, n, BLOCK):
        i1 = min(n, i0 + BLOCK)
        b, a = _resonator(min(float(centre[i0]), 0.45 * sr), 900.0, sr)
        y, zn = lfilter(b, a, white[i0:i1], zi=zn)
        noise[i0:i1] = y
    noise /= max(1e-6, float(np.std(noise)) * 4.0)
    sig = out + noise * noise_lvl
    sig += NOISE_FLOOR * rng.normal(size=n).astype(np.float32)
    return sig.astype(np.float32)


def normalise_rms(audio: np.ndarray, target_rms: float, plan: SpeechPlan, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Scale so the RMS of the speech part (from the plan onset on) is ``target_rms``; clip to [-1, 1]."""
    speech = audio[int(plan.onset * sr):]
    rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) if speech.size else 0.0
    gain = target_rms / rms if rms > 0 else 1.0
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


def articulation_targets(plan: SpeechPlan, n: int, sr: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample openness and spread targets implied by the plan (before smoothing)."""
    voiced, noise_lvl, formants, _ = _envelopes(plan, n, sr)
    f1 = np.clip((formants[0] - F1_RANGE[0]) / (F1_RANGE[1] - F1_RANGE[0]), 0.0, 1.0)
    f2 = np.clip(2.0 * (formants[1] - F2_RANGE[0]) / (F2_RANGE[1] - F2_RANGE[0]) - 1.0, -1.0, 1.0)
    openness = voiced * (0.3 + 0.7 * f1) + FRICATIVE_OPEN * np.minimum(noise_lvl * 3.0, 1.0)
    spread = f2 * np.minimum(voiced * 1.5, 1.0)
    return openness.astype(np.float32), spread.astype(np.float32)


def sample_frames(signal: np.ndarray, n_frames: int, fps: float, rng: np.random.Generator | None, lead: float = MOUTH_LEAD_S, jitter: float = AV_JITTER_S, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Value of a per-sample signal at each frame centre + ``lead`` (+ Gaussian jitter), linear interp."""
    t = (np.arange(n_frames) + 0.5) / fps + lead
    if rng is not None and jitter > 0:
        t = t + rng.normal(0.0, jitter, size=n_frames)
    idx = np.clip(t * sr, 0, len(signal) - 1)
    return np.interp(idx, np.arange(len(signal)), signal).astype(np.float32)


def causal_smooth(x: np.ndarray, fps: float, tau: float) -> np.ndarray:
    """First-order causal low-pass (exponential moving average) at frame rate."""
    a = 1.0 - np.exp(-1.0 / (fps * tau)) if tau > 0 else 1.0
    y = lfilter([a], [1.0, -(1.0 - a)], x, zi=[x[0] * (1.0 - a)])[0] if len(x) else x
    return y.astype(np.float32)


def frame_envelope(audio: np.ndarray, n_frames: int, samples_per_frame: int) -> np.ndarray:
    """RMS of the audio over each video frame's samples -> (n_frames,)."""
    a = np.zeros(n_frames * samples_per_frame, np.float32)
    m = min(len(audio), len(a))
    a[:m] = audio[:m]
    return np.sqrt(np.mean(a.reshape(n_frames, samples_per_frame).astype(np.float64) ** 2, axis=1)).astype(np.float32)
