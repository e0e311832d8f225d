"""Rendering one planned clip of the synthetic benchmark: the original recording (speech plan, head motion,
blinks, voice) drawn from the clip's source seed, its manipulation drawn from its fake seed, and the mp4 writer
(single-threaded encoders, so the bytes are reproducible)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from avanomaly.data.synth import speech
from avanomaly.data.synth.face import FaceRenderer, FrameState, finish_frame
from avanomaly.data.synth.plan import (AAC_BITRATE, AUDIO_BLOCK, BLINK_PROFILE, BLINK_RATE_HZ, FPS, H264_CRF,
                                       HEAD_FREQ_RANGE, HEAD_ROLL_AMP_DEG, HEAD_SCALE_AMP, HEAD_SHIFT_AMP,
                                       LEADING_SILENCE_RANGE, LIPSYNC_BLUR_SIGMA, LIPSYNC_GAIN, LIPSYNC_JITTER_STD,
                                       LIPSYNC_LAG_CHOICES, LIPSYNC_SMOOTH_TAU, MOUTH_GAIN_RANGE, ONSET_RANGE,
                                       PLAN_MARGIN_S, P_AUDIO_44K, REAL_TYPE, RMS_LOG_MEAN, RMS_LOG_STD,
                                       SAMPLES_PER_FRAME, SHIFT_FRAMES_RANGE, SWAP_COLOUR_MATCH,
                                       SWAP_EXPRESSION_NOISE, SWAP_INNER, ClipJob, Identity, SynthSize)
from avanomaly.utils import atomic_write_bytes


@dataclass
class _Recording:
    plan: speech.SpeechPlan
    states: list[FrameState]
    target_rms: float
    mouth_gain: float
    audio_seed: int
    noise_seed: int
    jitter_seed: int
    rate_44k: bool


def recording(seed: int, n_frames: int) -> _Recording:
    """The original recording behind every clip of ``seed`` (real clips and the fakes made from them)."""
    rng = np.random.default_rng(seed)
    duration = n_frames / FPS
    plan = speech.make_plan(rng, duration + PLAN_MARGIN_S, float(rng.uniform(*ONSET_RANGE)))
    t = np.arange(n_frames) / FPS
    f = rng.uniform(*HEAD_FREQ_RANGE, size=4)
    ph = rng.uniform(0, 2 * np.pi, size=4)
    amp = rng.uniform(0.4, 1.0, size=4)
    dx = HEAD_SHIFT_AMP * amp[0] * np.sin(2 * np.pi * f[0] * t + ph[0])
    dy = HEAD_SHIFT_AMP * amp[1] * np.sin(2 * np.pi * f[1] * t + ph[1])
    roll = HEAD_ROLL_AMP_DEG * amp[2] * np.sin(2 * np.pi * f[2] * t + ph[2])
    scale = 1.0 + HEAD_SCALE_AMP * amp[3] * np.sin(2 * np.pi * f[3] * t + ph[3])
    blink = np.zeros(n_frames)
    for start in np.nonzero(rng.random(n_frames) < BLINK_RATE_HZ / FPS)[0]:
        for k, v in enumerate(BLINK_PROFILE):
            if start + k < n_frames:
                blink[start + k] = max(blink[start + k], v)
    states = [FrameState(0.0, 0.0, float(blink[i]), float(dx[i]), float(dy[i]), float(roll[i]), float(scale[i])) for i in range(n_frames)]
    return _Recording(
        plan=plan,
        states=states,
        target_rms=float(np.exp(rng.normal(RMS_LOG_MEAN, RMS_LOG_STD))),
        mouth_gain=float(rng.uniform(*MOUTH_GAIN_RANGE)),
        audio_seed=int(rng.integers(2**63)),
        noise_seed=int(rng.integers(2**63)),
        jitter_seed=int(rng.integers(2**63)),
        rate_44k=bool(rng.random() < P_AUDIO_44K),
    )


def _natural_mouth(plan: speech.SpeechPlan, n_frames: int, gain: float, jitter_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Real articulation: causally smoothed function of voicing/F1 (openness) and F2 (spread)."""
    n = int(round(plan.duration * speech.SAMPLE_RATE))
    o_t, s_t = speech.articulation_targets(plan, n)
    rng = np.random.default_rng(jitter_seed)
    o = speech.causal_smooth(speech.sample_frames(o_t, n_frames, FPS, rng), FPS, speech.MOUTH_TAU_S)
    s = speech.causal_smooth(speech.sample_frames(s_t, n_frames, FPS, rng), FPS, speech.MOUTH_TAU_S)
    return np.clip(o * gain, 0.0, 1.0), np.clip(s, -1.0, 1.0)


def _lipsync_mouth(audio: np.ndarray, ref_open: np.ndarray, rng: np.random.Generator, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Lip-sync-generator mouth: from the audio energy only, lagged, over-smoothed or jittery, rescaled
    to the statistics of the natural articulation of the same audio (so mouth statistics match)."""
    n_frames = len(ref_open)
    env = speech.frame_envelope(audio, n_frames, SAMPLES_PER_FRAME)
    x = np.sqrt(env / max(1e-6, float(np.percentile(env, 95))))
    lag = int(LIPSYNC_LAG_CHOICES[int(rng.integers(len(LIPSYNC_LAG_CHOICES)))])
    x = np.concatenate([np.full(lag, x[0]), x[: n_frames - lag]]) if lag else x
    style = ["smooth", "jitter"][int(rng.integers(2))]
    if style == "smooth":
        tau = float(rng.uniform(*LIPSYNC_SMOOTH_TAU))
        x = speech.causal_smooth(x, FPS, tau)
        params.update(lipsync_style="over-smooth", lipsync_tau=round(tau, 4))
    else:
        std = float(rng.uniform(*LIPSYNC_JITTER_STD))
        x = speech.causal_smooth(x, FPS, speech.MOUTH_TAU_S) + rng.normal(0, std * 4 * float(np.std(x) + 1e-6), n_frames)
        params.update(lipsync_style="jitter", lipsync_jitter=round(std, 4))
    params["lipsync_lag_frames"] = lag
    x = (x - x.mean()) / (x.std() + 1e-6) * ref_open.std() + ref_open.mean()
    spread = np.clip(rng.normal(0.0, 0.15) + 0.1 * rng.normal(size=n_frames), -1, 1)
    return np.clip(x, 0.0, 1.0).astype(np.float32), spread.astype(np.float32)


def _lipsync_artifact(frame: np.ndarray, renderer: FaceRenderer, state: FrameState, sigma: float, gain: float) -> np.ndarray:
    """Blur + brightness mismatch inside a soft ellipse around the mouth (a re-rendered region's seam)."""
    x0, y0, x1, y1 = renderer.mouth_box(state)
    s = frame.shape[0]
    mask = np.zeros((s, s), np.float32)
    cv2.ellipse(mask, ((x0 + x1) // 2, (y0 + y1) // 2), (max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.04 * s))[..., None]
    blurred = cv2.GaussianBlur(frame, (0, 0), sigma) * gain
    return frame * (1 - mask) + blurred * mask


def _swap(frame: np.ndarray, donor: np.ndarray, mask: np.ndarray, colour_match: float) -> np.ndarray:
    """Blend ``donor`` into ``frame`` inside the soft ``mask``, shifting the donor's mean colour by
    ``colour_match`` (0..1) of the difference to the target (imperfect colour transfer)."""
    m = mask[..., None]
    w = mask.sum() + 1e-6
    mean_t = (frame * m).reshape(-1, 3).sum(0) / w
    mean_d = (donor * m).reshape(-1, 3).sum(0) / w
    donor = donor + colour_match * (mean_t - mean_d)
    return frame * (1 - m) + donor * m


def _audio_for(job: ClipJob, rec: _Recording, identities: list[Identity], rng: np.random.Generator) -> tuple[np.ndarray, speech.SpeechPlan]:
    """(audio of the clip at 16 kHz, the plan that produced it); the fake-audio manipulations live here."""
    person = identities[job.identity]
    plan, voice = rec.plan, person.voice
    synth = job.synth_method
    if "voice-swap" in synth:  # other identity's speech: other words, other voice
        donor = identities[job.donor_voice]
        plan = speech.make_plan(rng, rec.plan.duration, float(rng.uniform(*ONSET_RANGE)))
        voice = donor.voice
    elif "revoice" in synth:  # same timing, other timbre/pitch
        voice = identities[job.donor_voice].voice
    elif synth == "rtvc-shift":
        frames = int(rng.integers(SHIFT_FRAMES_RANGE[0], SHIFT_FRAMES_RANGE[1] + 1)) * (1 if rng.random() < 0.5 else -1)
        job.params["audio_shift_frames"] = frames
        plan = speech.shift_plan(rec.plan, frames / FPS)
    audio = speech.render_audio(plan, voice, np.random.default_rng(rec.audio_seed if voice is person.voice and plan is rec.plan else int(rng.integers(2**63))))
    audio = speech.normalise_rms(audio, rec.target_rms, plan)
    return audio[: job.n_frames * SAMPLES_PER_FRAME], plan


def render_job(job: ClipJob, identities: list[Identity], size: SynthSize) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """Frames (RGB uint8), audio (16 kHz float32) and ground truth for one clip."""
    rec = recording(job.source_seed, job.n_frames)
    rng = np.random.default_rng(job.fake_seed)
    person = identities[job.identity]
    audio, plan = _audio_for(job, rec, identities, rng)
    natural_open, natural_spread = _natural_mouth(rec.plan, job.n_frames, rec.mouth_gain, rec.jitter_seed)
    openness, spread = natural_open, natural_spread
    synth = job.synth_method
    lipsync = synth.startswith(("wav2lip", "faceswap-wav2lip", "fsgan-wav2lip"))
    swap = synth.startswith(("faceswap", "fsgan"))
    if lipsync:
        ref_open, _ = _natural_mouth(plan, job.n_frames, rec.mouth_gain, rec.jitter_seed)
        openness, spread = _lipsync_mouth(audio, ref_open, rng, job.params)
        sigma = float(rng.uniform(*LIPSYNC_BLUR_SIGMA)) * size.frame_size / 128
        gain = float(rng.uniform(*LIPSYNC_GAIN))
        job.params.update(lipsync_blur=round(sigma, 3), lipsync_gain=round(gain, 3))
    elif swap:  # the swap network re-renders the driving mouth with a little per-frame error
        openness = np.clip(openness + rng.normal(0, SWAP_EXPRESSION_NOISE, len(openness)), 0, 1).astype(np.float32)
    renderer = FaceRenderer(person.face, size.frame_size)
    donor_renderer = FaceRenderer(identities[job.donor_face].face, size.frame_size) if swap else None
    swap_kind = "fsgan" if synth.startswith("fsgan") else "faceswap"
    noise_rng = np.random.default_rng(rec.noise_seed)
    frames = []
    for t, base_state in enumerate(rec.states):
        state = FrameState(float(openness[t]), float(spread[t]), base_state.blink, base_state.dx, base_state.dy, base_state.angle, base_state.scale)
        img = renderer.render_clean(state)
        if swap:
            donor = donor_renderer.render_clean(state)
            img = _swap(img, donor, renderer.face_mask(state, SWAP_INNER[swap_kind]), SWAP_COLOUR_MATCH[swap_kind])
        if lipsync:
            img = _lipsync_artifact(img, renderer, state, job.params["lipsync_blur"], job.params["lipsync_gain"])
        frames.append(finish_frame(img, noise_rng))
    silence = 0.0
    if job.leading_silence and job.type != REAL_TYPE:
        silence = float(rng.uniform(*LEADING_SILENCE_RANGE))
        audio = audio.copy()
        audio[: int(silence * speech.SAMPLE_RATE)] = 0.0
    job.params["leading_silence_s"] = round(silence, 4)
    truth = {
        "openness": openness.astype(np.float32),
        "natural_openness": natural_open.astype(np.float32),
        "envelope": speech.frame_envelope(audio, job.n_frames, SAMPLES_PER_FRAME),
    }
    return frames, audio, truth


def write_mp4(path: Path, frames: list[np.ndarray], audio: np.ndarray, rate: int) -> None:
    """H.264 (yuv420p, CRF 23) + AAC mono mp4, 25 fps; single-threaded encoders for reproducible bytes."""
    import av

    if rate != speech.SAMPLE_RATE:
        from scipy.signal import resample_poly

        g = np.gcd(rate, speech.SAMPLE_RATE)
        audio = resample_poly(audio, rate // g, speech.SAMPLE_RATE // g).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        v = out.add_stream("libx264", rate=Fraction(FPS, 1))
        v.width, v.height = frames[0].shape[1], frames[0].shape[0]
        v.pix_fmt = "yuv420p"
        v.options = {"crf": str(H264_CRF), "preset": "veryfast", "threads": "1"}
        v.thread_count = 1
        a = out.add_stream("aac", rate=rate)
        a.layout = "mono"
        a.bit_rate = AAC_BITRATE
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        pts = 0
        clipped = np.clip(audio, -1.0, 1.0).astype(np.float32)
        for i in range(0, len(clipped), AUDIO_BLOCK):
            block = clipped[i : i + AUDIO_BLOCK][None, :]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            pts += block.shape[1]
            for p in a.encode(frame):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    atomic_write_bytes(path, buf.getvalue())
