"""Each abstain rule on generated input (docs/scoring.md, "Abstaining"), the evidence measures behind them (speech
by a voice-activity model, the face count), the verdict from face frames only, anamorphic decoding and the
MediaPipe start-up lines held back from stderr."""

from __future__ import annotations

import os
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest

from avanomaly.io.testing import speech_like, write_test_video
from avanomaly.preprocess.detectors import Face, FaceDetector
from avanomaly.postprocess.calibration import calibrate
from avanomaly.scoring.testing import FPS, synthetic_clip, tiny_detector, tiny_models

SR = 16000

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def music(seconds: float) -> np.ndarray:
    """Synthetic music: decaying harmonic chords on the beat and a bass line, no voice."""
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    chords = ((261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7))
    for k in range(int(seconds / 0.5)):
        seg = (t >= 0.5 * k) & (t < 0.5 * (k + 1))
        tt = t[seg] - 0.5 * k
        chord = chords[(k // 4) % 4]
        for f in chord + (chord[0] / 2,):
            out[seg] += np.exp(-3 * tt) * sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3))
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def _score(d, x, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return d.anomaly_score(x, **kw)


def _calibrated(**kwargs):
    return tiny_detector(seed=0, calibration=calibrate(np.linspace(-50, 50, 21), target_fpr=0.5), **kwargs)


# ------------------------------------------------------------------------------------------ speech


def test_voice_activity_finds_speech_but_not_music_tones_or_noise():
    from avanomaly.preprocess.speech import speech_seconds
    from avanomaly.preprocess.stream import silent_frames

    rng = np.random.default_rng(0)
    t = np.arange(4 * SR) / SR
    loud = {"music": music(4.0), "tone": 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32),
            "noise": (0.1 * rng.standard_normal(t.size)).astype(np.float32)}
    for name, x in loud.items():
        assert not silent_frames(x, SR // FPS).any(), name  # all loud: the old rule called it speech
        assert speech_seconds(x) < 0.2, name
    assert speech_seconds(speech_like(4.0, seed=1)) > 3.5
    assert speech_seconds(np.zeros(SR, np.float32)) == 0.0
    with pytest.raises(ValueError, match="16000 Hz"):
        speech_seconds(np.zeros(100, np.float32), sample_rate=8000)


@pytest.mark.parametrize("step", [1000, 512, 6400, 40_000])
def test_speech_meter_equals_the_whole_waveform_whatever_the_chunking(step):
    import torch

    from avanomaly.preprocess.speech import SpeechMeter, speech_seconds

    x = np.concatenate([speech_like(1.5, seed=2), np.zeros(SR // 2, np.float32), music(1.0), speech_like(1.2)])
    threads = torch.get_num_threads()
    meter = SpeechMeter()
    for i in range(0, x.size, step):
        meter.push(x[i: i + step])
    assert meter.seconds() == speech_seconds(x) > 2.0
    assert torch.get_num_threads() == threads  # one thread only while the VAD runs
    with pytest.raises(RuntimeError):
        meter.push(x[:10])


def test_music_only_clip_abstains_with_no_speech_and_speech_gets_a_verdict():
    d = _calibrated()
    frames, _ = synthetic_clip(n_frames=75, seed=1)
    res = _score(d, (frames, music(3.0)))
    assert res.verdict == "unknown" and res.abstain == ["no-speech"] and np.isfinite(res.score)
    assert res.silent_fraction == 0.0  # loud throughout: the loudness rule gave a verdict here
    talking = _score(d, (frames, speech_like(3.0, seed=1)))
    assert talking.verdict in ("real", "fake") and talking.abstain == []


def test_without_the_voice_activity_model_loudness_counts_with_a_warning(monkeypatch):
    import avanomaly.scoring.detector as detector_module

    monkeypatch.setattr(detector_module, "vad_available", lambda: False)
    frames, _ = synthetic_clip(n_frames=75, seed=1)
    res = _score(_calibrated(), (frames, music(3.0)))
    assert res.abstain == [] and any("speech measured by loudness" in w for w in res.warnings)
    silent = _score(_calibrated(), (frames, np.zeros(75 * 640, np.float32)))
    assert silent.abstain == ["no-speech"]


# ------------------------------------------------------------------------------------------ faces


class TwoFaces(FaceDetector):
    """Two faces side by side; the second one ``ratio`` times as wide as the first."""

    name = "two-faces"

    def __init__(self, ratio=1.0):
        self.ratio = ratio
        self.calls = 0

    def detect(self, frame_rgb):
        self.calls += 1
        h, w = frame_rgb.shape[:2]
        side = w / 3
        return [Face((0.0, h / 4, side, h / 4 + side), 0.9),
                Face((w / 2, h / 4, w / 2 + side * self.ratio, h / 4 + side * self.ratio), 0.8)]


def test_two_comparable_faces_abstain_and_a_small_background_face_does_not():
    frames, _ = synthetic_clip(n_frames=75, seed=1)
    audio = speech_like(3.0, seed=1)
    cal = calibrate(np.linspace(-50, 50, 21), target_fpr=0.5)
    res = _score(tiny_detector(calibration=cal, face_detector=TwoFaces(1.0)), (frames, audio))
    assert res.verdict == "unknown" and res.abstain == ["multiple-faces"]
    small = _score(tiny_detector(calibration=cal, face_detector=TwoFaces(0.3)), (frames, audio))
    assert small.abstain == [] and small.verdict in ("real", "fake")
    # counting faces changes no feature: the same score with the count left out
    d = tiny_detector(calibration=cal, face_detector=TwoFaces(1.0))
    d._evidence = lambda: []
    assert _score(d, (frames, audio)).score == res.score


def test_face_count_checks_the_same_frames_whatever_the_chunking():
    from avanomaly.preprocess.evidence import COUNT_EVERY, FaceCountEvidence, comparable_faces

    class Chunk:
        def __init__(self, frames):
            self.frames = frames

    class Widths:
        def __init__(self):
            self.seen = []

        def widths(self, frame):
            self.seen.append(int(frame[0, 0, 0]))
            return [10.0, 9.0] if frame[0, 0, 0] % 20 == 0 else [10.0]

    frames = np.zeros((95, 4, 4, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(95)
    for step in (7, 10, 95):
        counter = Widths()
        ev = FaceCountEvidence(counter)
        for i in range(0, 95, step):
            ev.push(Chunk(frames[i: i + step]))
        assert counter.seen == list(range(0, 95, COUNT_EVERY))
        assert ev.value() == pytest.approx(5 / 10)
    assert np.isnan(FaceCountEvidence(Widths()).value())
    assert comparable_faces([]) == 0 and comparable_faces([10, 4.9]) == 1 and comparable_faces([10, 5, 8]) == 3


def test_face_rate_line_and_the_verdict_from_face_frames_only():
    from avanomaly.postprocess.abstain import MIN_FACE_RATE, abstain_reasons

    assert MIN_FACE_RATE == 0.8
    assert abstain_reasons(5.0, 5.0, 0.75, 1.0, 0.03) == ["no-face"]
    assert abstain_reasons(5.0, 5.0, 0.85, 1.0, 0.03) == []
    assert abstain_reasons(5.0, 5.0, 1.0, 1.0, 0.03, multi_face_rate=0.5) == ["multiple-faces"]
    # the NLL term is the mean over the scored frames that have a face
    sync, ar, cfg = tiny_models()
    from avanomaly.scoring.detector import Detector

    frames, _ = synthetic_clip(n_frames=100, seed=2)
    audio = speech_like(4.0, seed=2)
    from avanomaly.preprocess.frontends import track_frames
    from avanomaly.preprocess.stream import chunk_audio_features

    mouths, _ = track_frames(frames, cfg)
    mel, _ = chunk_audio_features(100, audio, cfg)
    found = np.ones(100, bool)
    found[30:50] = False
    for only in (True, False):
        res = Detector(sync, ar, cfg, face_frames_only=only).score_features(mouths, mel, found)
        t = np.asarray(res.frame_times)
        keep = (t >= 0.5) & (found[1:] if only else True)
        assert res.score_terms["nll"] == pytest.approx(float(np.mean(np.asarray(res.frame_nll)[keep])), rel=1e-9)
    all_found = Detector(sync, ar, cfg).score_features(mouths, mel, np.ones(100, bool))
    assert all_found.score_terms == Detector(sync, ar, cfg, face_frames_only=False).score_features(
        mouths, mel, np.ones(100, bool)).score_terms


def test_face_shape_flags_stretched_pictures():
    from avanomaly.preprocess.frontends import FACE_HEIGHT_RANGE, FaceShape
    from avanomaly.preprocess.landmarks import CHIN_HEIGHT_FEATURE, N_LIP_FEATURES

    feats = np.zeros((50, N_LIP_FEATURES), np.float32)
    found = np.ones(50, bool)
    for height, out in ((1.6, False), (1.1, True), (2.3, True)):
        feats[:, CHIN_HEIGHT_FEATURE] = height
        shape = FaceShape("landmarks")
        shape.push(feats, found)
        assert shape.value() == pytest.approx(height) and shape.out_of_range() is out
    assert FACE_HEIGHT_RANGE[0] < 1.5 < 1.8 < FACE_HEIGHT_RANGE[1]
    assert np.isnan(FaceShape("pixels").value()) and not FaceShape("pixels").out_of_range()


# ------------------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize("sar, shape", [(Fraction(2, 1), (96, 160)), (Fraction(1, 2), (192, 80)),
                                        (Fraction(1, 1), (96, 80))])
def test_anamorphic_frames_are_decoded_at_their_display_shape(tmp_path, sar, shape):
    from avanomaly.io import load_clip, probe
    from avanomaly.io.testing import intensity_to_index

    path = write_test_video(tmp_path / "a.mp4", n_frames=10, size=(80, 96), sample_aspect_ratio=sar)
    clip = load_clip(path)
    assert clip.frames.shape[1:3] == shape
    assert [intensity_to_index(f) for f in clip.frames] == list(range(10))
    assert any("anamorphic" in w for w in clip.warnings) == (sar != 1)
    assert probe(path)["video"]["sample_aspect_ratio"] == f"{sar.numerator}:{sar.denominator}"
    small = load_clip(path, max_side=64)  # max_side applies to the display shape
    assert max(small.frames.shape[1:3]) == 64


def test_display_size_and_implausible_ratios():
    from avanomaly.io.decode import display_size

    assert display_size(160, 96, Fraction(2, 1)) == (320, 96)
    assert display_size(160, 96, Fraction(8, 9)) == (160, 108)
    assert display_size(160, 96, None) == (160, 96)


# ------------------------------------------------------------------------------------------ stderr


def test_filtered_stderr_holds_back_matching_native_lines_only(capfd):
    from avanomaly.preprocess.landmarks import MEDIAPIPE_NOISE
    from avanomaly.utils import filtered_stderr

    with filtered_stderr(MEDIAPIPE_NOISE):
        os.write(2, b"W0000 00:00:1796412048.269787   14545 inference_feedback_manager.cc:114] Feedback manager\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"E0000 00:00:1796412048.3   14545 calculator_graph.cc:887] a real error\n")
        os.write(2, b"something else\n")
    err = capfd.readouterr().err
    assert "Feedback manager" not in err and "XNNPACK" not in err
    assert "a real error" in err and "something else" in err


def test_mediapipe_start_up_lines_do_not_reach_stderr(capfd):
    from avanomaly.preprocess.landmarks import FaceMeshLandmarker, MediaPipeFaceBoxes, mediapipe_available

    if not mediapipe_available():
        pytest.skip("MediaPipe not installed")
    frame = np.full((96, 96, 3), 128, np.uint8)
    mesh, boxes = FaceMeshLandmarker(), MediaPipeFaceBoxes()
    for _ in range(3):
        assert mesh.points(frame) is None and boxes.widths(frame) == []
    mesh.close()
    boxes.close()
    err = capfd.readouterr().err
    assert not re.search(r"inference_feedback_manager|XNNPACK|absl::InitializeLog", err), err
