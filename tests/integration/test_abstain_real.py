"""The abstain rules and the decoder's aspect-ratio handling on the shared REAL clips with the starter model
(numbers: benchmarks/verdict_inputs.py, docs/scoring.md "Abstaining")."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

pytestmark = pytest.mark.integration

#: the anamorphic copy (half width, SAR 2:1) scores within this of the full-width re-encode (measured 2026-12-04 on
#: 4 clips: 0.04-0.18; with the aspect ratio ignored the squeezed copy scored 2.3-9 higher)
ANAMORPHIC_TOLERANCE = 0.35


@pytest.fixture(scope="module")
def starter():
    from avanomaly.preprocess.landmarks import INSTALL_HINT, mediapipe_available

    if not mediapipe_available():
        pytest.skip(f"MediaPipe face mesh not installed here: {INSTALL_HINT}")
    from avanomaly.scoring import Detector

    return Detector()


def _score(det, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return det.anomaly_score(x)


def test_voice_activity_finds_the_speech_of_real_clips(real_av):
    from avanomaly.io import load_clip
    from avanomaly.preprocess.speech import speech_seconds

    for name in ("kim_7s_raw.mp4", "lrs2_00004.mp4", "vox2_00098.mp4"):
        clip = load_clip(real_av / "real" / name)
        assert speech_seconds(clip.audio) > 0.8 * clip.duration, name


def _write(path, frames, audio, sar=None):
    from avanomaly.io.testing import write_test_video

    h, w = frames.shape[1:3]
    return write_test_video(path, fps=25, n_frames=len(frames), size=(w, h), audio_codec="pcm_s16le",
                            audio_fn=lambda t: audio[np.minimum((t * 16000).round().astype(int), len(audio) - 1)],
                            frame_fn=lambda i, size: frames[i], sample_aspect_ratio=sar)


def test_anamorphic_copy_scores_like_the_original(real_av, starter, tmp_path):
    import cv2

    from avanomaly.io import load_clip

    clip = load_clip(real_av / "real" / "lrs2_00004.mp4")
    frames = clip.frames
    h, w = frames.shape[1:3]
    squeezed = np.stack([cv2.resize(f, (w // 2, h), interpolation=cv2.INTER_AREA) for f in frames])
    full = _score(starter, _write(tmp_path / "full.mkv", frames, clip.audio))
    ana = _score(starter, _write(tmp_path / "sar2.mkv", squeezed, clip.audio, sar=Fraction(2, 1)))
    assert load_clip(tmp_path / "sar2.mkv").frames.shape == frames.shape
    assert abs(ana.score - full.score) < ANAMORPHIC_TOLERANCE and ana.verdict == full.verdict == "real"
    assert any("anamorphic" in x for x in ana.warnings)


def test_two_real_faces_side_by_side_abstain_and_music_has_no_speech(real_av, starter):
    from avanomaly.io import load_clip

    a = load_clip(real_av / "real" / "vox2_00098.mp4")
    b = load_clip(real_av / "real" / "vox2_681100216.mp4")
    n = min(a.n_frames, b.n_frames)
    audio = a.audio[: n * 640]
    alone = _score(starter, (a.frames[:n], audio))
    assert alone.abstain == [] and alone.verdict == "real"
    pair = _score(starter, (np.concatenate([a.frames[:n], b.frames[:n]], axis=2), audio))
    assert pair.verdict == "unknown" and pair.abstain == ["multiple-faces"]
    t = np.arange(audio.size) / 16000
    tones = (0.3 * np.sin(2 * np.pi * 261.6 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    music = _score(starter, (a.frames[:n], tones))
    assert music.verdict == "unknown" and "no-speech" in music.abstain
