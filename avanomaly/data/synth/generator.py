"""Generate the synthetic FakeAVCeleb-shaped benchmark (see docs/synthetic.md).

Layout written under ``out``::

    FakeAVCeleb_v1.2/<category>/<ethnicity>/<men|women>/<idNNNNN>/<file>.mp4
    FakeAVCeleb_v1.2/meta_data.csv        # FakeAVCeleb's quirky format (9 header names + trailing comma, 10 fields)
    FakeAVCeleb_v1.2/synth_methods.csv    # finer synthetic method and its parameters, one row per clip
    FakeAVCeleb_v1.2/synth_truth.npz      # ground-truth per-frame mouth openness / audio envelope per clip
    FakeAVCeleb_v1.2/synth_settings.json  # seed, size, options; written last (marks a finished set)
    contact_sheet.png

Everything is decided by ``seed``: the plan (identities, clips, methods, per-clip seeds) is drawn in the
parent process, each clip is rendered from its own seed, so the output does not depend on ``workers``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from avanomaly import conventions
from avanomaly.data import fakeavceleb
from avanomaly.data.synth import speech
from avanomaly.data.synth.face import (
    BLINK_FRAMES,
    FaceIdentity,
    FaceRenderer,
    FrameState,
    finish_frame,
    random_identity,
)
from avanomaly.errors import ConfigError
from avanomaly.utils import atomic_write_bytes, atomic_write_json, atomic_write_text, dying_pool_initializer

log = logging.getLogger(__name__)

FPS = conventions.FPS
SAMPLES_PER_FRAME = speech.SAMPLE_RATE // FPS  # 640
ROOT_NAME = "FakeAVCeleb_v1.2"
SETTINGS_FILE = "synth_settings.json"
#: bump when a change to the generator changes its output for the same seed
GENERATOR_VERSION = 1
# the dataset's vocabulary and meta_data.csv layout come from the FakeAVCeleb index (data/fakeavceleb.py)
META_HEADER = ",".join(fakeavceleb.META_COLUMNS) + ","  # nine names + the trailing comma of the real file
META_DIR_PREFIX = "FakeAVCeleb"  # the 10th field of the real meta_data.csv starts with this (not the root name)
ETHNICITIES = fakeavceleb.ETHNICITIES
GENDERS = fakeavceleb.GENDERS
REAL_TYPE = fakeavceleb.REAL_CATEGORY
LETTER_OF = {cat: letter for letter, cat in fakeavceleb.CATEGORY_LETTERS.items()}  # type -> category letter
FAKE_TYPES = [cat for cat in fakeavceleb.CATEGORIES if cat != REAL_TYPE]
#: FakeAVCeleb method name -> synthetic methods that stand in for it, per fake type
SYNTH_METHODS = {
    "RealVideo-FakeAudio": {"rtvc": ["rtvc-voice-swap", "rtvc-revoice", "rtvc-shift"]},
    "FakeVideo-RealAudio": {"wav2lip": ["wav2lip"], "faceswap": ["faceswap"], "fsgan": ["fsgan"]},
    "FakeVideo-FakeAudio": {
        "wav2lip": ["wav2lip+voice-swap", "wav2lip+revoice"],
        "faceswap-wav2lip": ["faceswap-wav2lip+voice-swap", "faceswap-wav2lip+revoice"],
        "fsgan-wav2lip": ["fsgan-wav2lip+voice-swap", "fsgan-wav2lip+revoice"],
    },
}

# ---- recording parameters (shared by real and fake clips, so they cannot separate them)
ONSET_RANGE = (0.05, 0.6)  # speech starts after this natural pause (s)
PLAN_MARGIN_S = 1.0  # plans run this much past the clip end (room for time shifts)
RMS_LOG_MEAN, RMS_LOG_STD = np.log(0.08), 0.35  # speech RMS, log-normal
MOUTH_GAIN_RANGE = (0.75, 1.1)
HEAD_SHIFT_AMP = 0.012  # head translation amplitude (fraction of frame)
HEAD_ROLL_AMP_DEG = 2.5
HEAD_SCALE_AMP = 0.02
HEAD_FREQ_RANGE = (0.1, 0.5)  # Hz
BLINK_RATE_HZ = 0.3
BLINK_PROFILE = (0.5, 1.0, 0.7, 0.25)
assert len(BLINK_PROFILE) == BLINK_FRAMES
P_AUDIO_44K = 0.3  # fraction of files whose audio is written at 44.1 kHz (independent of category)
AUDIO_RATE_44K = 44100
H264_CRF = 23
AAC_BITRATE = 64000
AUDIO_BLOCK = 1024

# ---- manipulation parameters
LEADING_SILENCE_RANGE = (0.15, 0.4)  # digital silence prepended to fakes' audio (FakeAVCeleb-like)
SHIFT_FRAMES_RANGE = (4, 12)  # rtvc-shift: audio moved by this many frames (either direction)
LIPSYNC_LAG_CHOICES = (0, 1, 1, 2, 3)  # frames the re-rendered mouth lags the audio
LIPSYNC_SMOOTH_TAU = (0.06, 0.16)  # over-smoothing time constant (s)
LIPSYNC_JITTER_STD = (0.04, 0.12)  # per-frame openness jitter (fraction of the openness std x 4)
LIPSYNC_BLUR_SIGMA = (0.6, 1.4)  # blur of the re-rendered mouth region (px at 128)
LIPSYNC_GAIN = (0.94, 1.06)  # brightness mismatch of the re-rendered mouth region
SWAP_EXPRESSION_NOISE = 0.05  # face swaps reproduce the driving mouth with this much per-frame noise
SWAP_INNER = {"faceswap": 0.8, "fsgan": 0.86}  # blended inner-face ellipse (fraction of the head)
SWAP_COLOUR_MATCH = {"faceswap": 0.5, "fsgan": 1.0}  # how much of the mean-colour difference is corrected
#: a drawn identity is kept only if CenterFace scores all its screening frames at least this
SCREEN_MIN_SCORE = 0.6
SCREEN_MAX_TRIES = 50
CONTACT_FRAMES = 4
CONTACT_ZOOM = 2


@dataclass(frozen=True)
class SynthSize:
    identities: int
    reals_per_identity: int
    fakes_per_identity: int
    duration: tuple[float, float]  # clip length range, seconds
    frame_size: int  # square frames, pixels


SIZES = {
    "demo": SynthSize(identities=24, reals_per_identity=3, fakes_per_identity=3, duration=(3.0, 4.0), frame_size=128),
    "small": SynthSize(identities=48, reals_per_identity=4, fakes_per_identity=4, duration=(3.0, 5.0), frame_size=128),
    "medium": SynthSize(identities=120, reals_per_identity=5, fakes_per_identity=5, duration=(4.0, 6.0), frame_size=128),
}


@dataclass
class Identity:
    id: str
    ethnicity: str
    gender: str
    face: FaceIdentity
    voice: speech.Voice


@dataclass
class ClipJob:
    index: int
    type: str  # FakeAVCeleb type (category folder)
    method: str  # FakeAVCeleb method name
    synth_method: str
    identity: int
    source_seed: int  # the original recording (plan, motion, blinks)
    fake_seed: int  # everything the manipulation draws
    n_frames: int
    filename: str
    donor_face: int | None = None
    donor_voice: int | None = None
    leading_silence: bool = False
    params: dict = field(default_factory=dict)


@dataclass
class SynthResult:
    root: Path
    n_clips: int
    counts: dict


# ------------------------------------------------------------------------------------------------ plan
def _screen_scorer():
    """CenterFace heatmap peak for a frame (the project's detector weights, cv2.dnn)."""
    weights = Path(__file__).resolve().parents[2] / "preprocess" / "weights" / "centerface.onnx"
    if not weights.exists():
        return None
    net = cv2.dnn.readNetFromONNX(str(weights))

    def score(img: np.ndarray) -> float:
        h, w = img.shape[:2]
        nw, nh = int(np.ceil(w / 32) * 32), int(np.ceil(h / 32) * 32)
        net.setInput(cv2.dnn.blobFromImage(img, 1.0, (nw, nh), (0, 0, 0), swapRB=False, crop=False))
        return float(net.forward(["537", "538", "539", "540"])[0].max())

    return score


def _screen_states() -> list[FrameState]:
    return [
        FrameState(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        FrameState(1.0, -0.5, 0.0, HEAD_SHIFT_AMP, -HEAD_SHIFT_AMP, HEAD_ROLL_AMP_DEG, 1.0 + HEAD_SCALE_AMP),
        FrameState(0.7, 0.8, 1.0, -HEAD_SHIFT_AMP, HEAD_SHIFT_AMP, -HEAD_ROLL_AMP_DEG, 1.0 - HEAD_SCALE_AMP),
        FrameState(0.4, 0.0, 0.5, 0.0, 0.0, HEAD_ROLL_AMP_DEG, 1.0),
    ]


def _draw_identities(rng: np.random.Generator, n: int, size: int) -> list[Identity]:
    scorer = _screen_scorer()
    if scorer is None:
        log.warning("CenterFace weights not found: identities are not screened for detectability")
    numbers = rng.choice(np.arange(1, 100000), size=n, replace=False)
    out = []
    for i in range(n):
        ethnicity = ETHNICITIES[i % len(ETHNICITIES)]
        gender = GENDERS[(i // len(ETHNICITIES)) % 2]
        women = gender == "women"
        for _ in range(SCREEN_MAX_TRIES):
            face = random_identity(rng, ethnicity, women)
            if scorer is None:
                break
            renderer = FaceRenderer(face, size)
            noise_rng = np.random.default_rng(0)
            if all(scorer(finish_frame(renderer.render_clean(s), noise_rng)) >= SCREEN_MIN_SCORE for s in _screen_states()):
                break
        out.append(Identity(f"id{int(numbers[i]):05d}", ethnicity, gender, face, speech.random_voice(rng, women)))
    return out


def plan_jobs(seed: int, size: SynthSize, leading_silence: bool) -> tuple[list[Identity], list[ClipJob]]:
    """Identities and the clip list, all drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    identities = _draw_identities(rng, size.identities, size.frame_size)
    jobs: list[ClipJob] = []
    by_gender = {g: [i for i, p in enumerate(identities) if p.gender == g] for g in GENDERS}
    for i, person in enumerate(identities):
        numbers = rng.choice(np.arange(0, 100000), size=size.reals_per_identity, replace=False)
        real_sources = []
        for k in range(size.reals_per_identity):
            n_frames = int(round(rng.uniform(*size.duration) * FPS))
            src = int(rng.integers(2**63))
            real_sources.append((f"{int(numbers[k]):05d}", src, n_frames))
            jobs.append(ClipJob(len(jobs), REAL_TYPE, "real", "real", i, src, int(rng.integers(2**63)), n_frames, f"{int(numbers[k]):05d}.mp4"))
        used = set()
        for j in range(size.fakes_per_identity):
            ftype = FAKE_TYPES[(i + j) % len(FAKE_TYPES)]
            methods = SYNTH_METHODS[ftype]
            method = list(methods)[int(rng.integers(len(methods)))]
            synth = methods[method][int(rng.integers(len(methods[method])))]
            base, src, n_frames = real_sources[int(rng.integers(len(real_sources)))]
            others = [o for o in by_gender[person.gender] if o != i] or [o for o in range(len(identities)) if o != i]
            # face donors share gender and ethnicity (as FakeAVCeleb pairs them); voices share gender
            alike = [o for o in others if identities[o].ethnicity == person.ethnicity] or others
            donor_face = alike[int(rng.integers(len(alike)))] if ("faceswap" in synth or "fsgan" in synth) else None
            donor_voice = others[int(rng.integers(len(others)))] if ("voice-swap" in synth or "revoice" in synth) else None
            donor = donor_face if donor_face is not None else donor_voice
            name = f"{base}_{identities[donor].id}_{synth.split('+')[0]}" if donor is not None else f"{base}_{synth.split('+')[0]}"
            stem, n = name, 1
            while name in used:
                n += 1
                name = f"{stem}_{n}"
            used.add(name)
            jobs.append(ClipJob(len(jobs), ftype, method, synth, i, src, int(rng.integers(2**63)), n_frames, name + ".mp4", donor_face, donor_voice, leading_silence))
    return identities, jobs


# ------------------------------------------------------------------------------------------------ render
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


def _recording(seed: int, n_frames: int) -> _Recording:
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
    rec = _recording(job.source_seed, job.n_frames)
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


def _rel_dir(job: ClipJob, person: Identity) -> str:
    return f"{job.type}/{person.ethnicity}/{person.gender}/{person.id}"


def _run_job(args) -> dict:
    job, identities, size, root = args
    person = identities[job.identity]
    frames, audio, truth = render_job(job, identities, size)
    rec = _recording(job.source_seed, job.n_frames)
    rate = AUDIO_RATE_44K if rec.rate_44k else speech.SAMPLE_RATE
    rel = f"{_rel_dir(job, person)}/{job.filename}"
    write_mp4(Path(root) / rel, frames, audio, rate)
    return {"index": job.index, "rel": rel, "rate": rate, "params": job.params, "truth": truth}


# ------------------------------------------------------------------------------------------------ outputs
def _meta_rows(jobs, identities) -> list[str]:
    lines = [META_HEADER]
    for job in jobs:
        p = identities[job.identity]
        donor = job.donor_face if job.donor_face is not None else job.donor_voice
        target1 = identities[donor].id if donor is not None else "-"
        fields = [p.id, target1, "-", job.method, LETTER_OF[job.type], job.type, p.ethnicity, p.gender, job.filename, f"{META_DIR_PREFIX}/{_rel_dir(job, p)}"]
        lines.append(",".join(fields))
    return lines


def _contact_sheet(root: Path, results: dict, jobs: list[ClipJob]) -> np.ndarray:
    import av

    rows = []
    for ftype in LETTER_OF:
        chosen = [j for j in jobs if j.type == ftype]
        # one clip per method for the fake types (first of each), one real clip
        seen, picks = set(), []
        for j in chosen:
            if j.method not in seen:
                seen.add(j.method)
                picks.append(j)
        for j in picks:
            with av.open(str(root / results[j.index]["rel"])) as c:
                frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
            idx = np.linspace(0, len(frames) - 1, CONTACT_FRAMES + 2)[1:-1].astype(int)
            tiles = [cv2.resize(frames[i], None, fx=CONTACT_ZOOM, fy=CONTACT_ZOOM, interpolation=cv2.INTER_NEAREST) for i in idx]
            label = np.full((tiles[0].shape[0], 200, 3), 255, np.uint8)
            for k, text in enumerate([ftype, j.method, j.synth_method]):
                cv2.putText(label, text[:24], (4, 30 + 22 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
            rows.append(np.hstack([label] + tiles))
    return np.vstack(rows)


def generate(out, seed: int = 0, size: str | SynthSize = "demo", workers: int = 1, leading_silence: bool = True,
             progress: bool = False, overwrite: bool = False) -> SynthResult:
    """Write the benchmark under ``out`` and return where it is. Same seed and size -> same files.

    ``size`` is a name from ``SIZES`` or a ``SynthSize`` (e.g. a tiny one for tests). If ``out`` already
    holds a complete set made with the same settings, nothing is redone; a different or unfinished set
    there is a ``ConfigError`` unless ``overwrite`` (which deletes ``out/FakeAVCeleb_v1.2`` first)."""
    if isinstance(size, SynthSize):
        spec = size
    elif size in SIZES:
        spec = SIZES[size]
    else:
        raise ConfigError(f"unknown synthetic size '{size}'; choose one of {sorted(SIZES)}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if spec.frame_size % 2 or spec.identities < 2 or spec.reals_per_identity < 1:
        raise ConfigError(f"invalid synthetic size {spec}: need an even frame size, >= 2 identities, >= 1 real clip each")
    out = Path(out)
    root = out / ROOT_NAME
    settings = {"seed": seed, "size": asdict(spec), "leading_silence": leading_silence, "generator": GENERATOR_VERSION}
    existing = _existing(root, settings)
    if existing is not None and not overwrite:
        log.info("%s already holds this synthetic set (same settings); nothing to do", root)
        return existing
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise ConfigError(f"{root} already exists and holds other files (another seed/size or an unfinished run); "
                              "choose an empty --out or pass --overwrite to replace it")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    identities, jobs = plan_jobs(seed, spec, leading_silence)
    tasks = [(job, identities, spec, str(root)) for job in jobs]
    results: dict[int, dict] = {}
    iterator = None
    if workers == 1:
        iterator = map(_run_job, tasks)
    else:
        init, initargs = dying_pool_initializer()  # workers die with this process
        pool = ProcessPoolExecutor(max_workers=workers, initializer=init, initargs=initargs)
        iterator = pool.map(_run_job, tasks, chunksize=max(1, len(tasks) // (4 * workers)))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(tasks), desc="synth", unit="clip")
    try:
        for r in iterator:
            results[r["index"]] = r
    finally:
        if workers > 1:
            pool.shutdown()
    for job in jobs:  # params were filled in the worker
        job.params = results[job.index]["params"]
    atomic_write_text(root / "meta_data.csv", "\n".join(_meta_rows(jobs, identities)) + "\n")
    sm = io.StringIO()
    w = csv.writer(sm, lineterminator="\n")
    keys = ["audio_shift_frames", "lipsync_lag_frames", "lipsync_style", "lipsync_tau", "lipsync_jitter", "lipsync_blur", "lipsync_gain", "leading_silence_s"]
    w.writerow(["path", "type", "method", "synth_method", "source", "donor_face", "donor_voice", "n_frames", "audio_rate", *keys])
    for job in jobs:
        p = identities[job.identity]
        w.writerow([
            results[job.index]["rel"], job.type, job.method, job.synth_method, p.id,
            identities[job.donor_face].id if job.donor_face is not None else "",
            identities[job.donor_voice].id if job.donor_voice is not None else "",
            job.n_frames, results[job.index]["rate"], *[job.params.get(k, "") for k in keys],
        ])
    atomic_write_text(root / "synth_methods.csv", sm.getvalue())
    truth = {}
    for job in jobs:
        r = results[job.index]
        for k, v in r["truth"].items():
            truth[f"{r['rel']}::{k}"] = v
    buf = io.BytesIO()
    np.savez_compressed(buf, **truth)
    atomic_write_bytes(root / "synth_truth.npz", buf.getvalue())
    ok, png = cv2.imencode(".png", _contact_sheet(root, results, jobs)[..., ::-1])
    atomic_write_bytes(out / "contact_sheet.png", png.tobytes())
    counts = {t: sum(j.type == t for j in jobs) for t in LETTER_OF}
    atomic_write_json(root / SETTINGS_FILE, {**settings, "counts": counts, "n_clips": len(jobs)})  # written last: marks completion
    return SynthResult(root=root, n_clips=len(jobs), counts=counts)


def _existing(root: Path, settings: dict) -> SynthResult | None:
    """The finished set in ``root`` when it was generated with exactly ``settings`` and is complete."""
    try:
        done = json.loads((root / SETTINGS_FILE).read_text())
        with open(root / "synth_methods.csv", newline="") as fh:
            paths = [r["path"] for r in csv.DictReader(fh)]
    except (OSError, ValueError, KeyError):
        return None
    if {k: done.get(k) for k in settings} != json.loads(json.dumps(settings)) or not all((root / p).is_file() for p in paths):
        return None
    return SynthResult(root=root, n_clips=done["n_clips"], counts=done["counts"])


def generate_synthetic(out, seed: int = 0, size: str | SynthSize = "demo", workers: int = 1, leading_silence: bool = True) -> Path:
    """Contract entry point (docs/architecture.md): write the tree, return the FakeAVCeleb_v1.2 root."""
    return generate(out, seed=seed, size=size, workers=workers, leading_silence=leading_silence).root
