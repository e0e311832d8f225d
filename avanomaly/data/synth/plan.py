"""The synthetic benchmark's parameters and its plan: the identities (screened for a detectable face) and the
list of clips, every choice drawn from one seed in the parent process (see generator.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from avanomaly import conventions
from avanomaly.data import fakeavceleb
from avanomaly.data.synth import speech
from avanomaly.data.synth.face import BLINK_FRAMES, FaceIdentity, FaceRenderer, FrameState, finish_frame, random_identity

log = logging.getLogger(__name__)

FPS = conventions.FPS
SAMPLES_PER_FRAME = speech.SAMPLE_RATE // FPS  # 640
ETHNICITIES = fakeavceleb.ETHNICITIES
GENDERS = fakeavceleb.GENDERS
REAL_TYPE = fakeavceleb.REAL_CATEGORY
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
