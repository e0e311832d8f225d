"""Detector API with tiny random models: shapes, schema, streaming == whole clip, skip of the first 0.5 s."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from avanomaly.errors import CheckpointError, ClipTooShortError
from avanomaly.postprocess import aggregate as agg_mod
from avanomaly.postprocess.aggregate import AggregationConfig, aggregate, most_anomalous_span
from avanomaly.postprocess.calibration import calibrate
from avanomaly.models.composite import ARStream, SyncStream
from avanomaly.scoring.detector import Detector
from avanomaly.postprocess.modelfile import save_model_file
from avanomaly.scoring.result import FAILURE_KEYS, RESULT_KEYS, SCHEMA_VERSION, ScoreFailure, ScoreResult
from avanomaly.io.testing import speech_like, speech_like_fn, write_test_video
from avanomaly.scoring.testing import FPS, synthetic_clip, tiny_detector, tiny_models


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def det():
    return tiny_detector(seed=0)


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(n_frames=75, seed=1)


def _score(d, x, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return d.anomaly_score(x, **kw)


# ------------------------------------------------------------------------------------------- aggregation
def test_aggregate_methods_on_known_curve():
    x = np.array([1.0, 1.0, 1.0, 5.0, 9.0, 1.0, 1.0, 1.0])
    assert aggregate(x, "mean") == pytest.approx(20 / 8)
    assert aggregate(x, "topk_mean", k=0.25) == pytest.approx(7.0)  # top 2 of 8
    assert aggregate(x, "max_window_mean", window=2) == pytest.approx(7.0)
    assert aggregate(x, "max_window_mean", window=3) == pytest.approx(5.0)
    assert aggregate(x, "max_window_mean", window=100) == pytest.approx(20 / 8)  # window longer than the clip
    assert most_anomalous_span(x, 2) == (3, 5)


def test_aggregation_config_rejects_bad_values():
    from avanomaly.errors import ConfigError

    with pytest.raises(ConfigError):
        AggregationConfig(method="median")
    with pytest.raises(ConfigError):
        AggregationConfig(k=0.0)


def test_skip_seconds_excludes_the_start_and_falls_back_on_short_clips():
    t = np.arange(1, 60) / FPS
    nll = np.ones_like(t)
    nll[t < 0.5] = 100.0  # a huge anomaly in the first half second only
    score, dropped = agg_mod.aggregate_curve(nll, t, AggregationConfig(method="max_window_mean", window=5))
    assert score == pytest.approx(1.0) and not dropped
    score0, _ = agg_mod.aggregate_curve(nll, t, AggregationConfig(method="max_window_mean", window=5, skip_seconds=0))
    assert score0 == pytest.approx(100.0)
    short = np.arange(1, 15) / FPS  # 14 frames: fewer than MIN_SCORED_FRAMES after the skip
    _, dropped = agg_mod.aggregate_curve(np.ones(14), short, AggregationConfig())
    assert dropped


# ------------------------------------------------------------------------------------------- result
def test_result_shapes_and_schema(det, clip):
    frames, audio = clip
    with pytest.warns(UserWarning, match="uncalibrated"):
        res = det.anomaly_score((frames, audio))
    assert isinstance(res, ScoreResult)
    t = frames.shape[0]
    assert res.n_frames == t and len(res.frame_nll) == t - 1 and len(res.frame_times) == t - 1
    assert res.frame_times[0] == pytest.approx(1 / FPS) and res.duration == pytest.approx(t / FPS)
    assert np.all(np.isfinite(res.frame_nll)) and np.isfinite(res.score)
    assert res.verdict is None and res.percentile is None
    assert any("uncalibrated" in w for w in res.warnings)
    # (the offset of this random model means nothing; what it must be on a trained one: test_learned_sync.py)
    assert res.face_rate == 1.0  # "center" detector always finds its box
    d = res.to_dict()
    assert tuple(d) == RESULT_KEYS and d["schema_version"] == SCHEMA_VERSION and d["status"] == "ok"
    assert json.loads(json.dumps(d)) == d  # plain JSON, no NaN
    assert tuple(ScoreFailure("x", "corrupt", "m").to_dict()) == FAILURE_KEYS


def test_calibrated_verdict_percentile_and_threshold_override(clip):
    frames, _ = clip
    audio = speech_like(len(frames) / FPS, seed=1)  # a verdict needs speech (the no-speech rule)
    base = _score(tiny_detector(seed=0), (frames, audio)).score
    cal = calibrate([base - 1.0, base - 0.5, base + 0.5, base + 1.0], target_fpr=0.5,
                    aggregation={"method": "topk_mean", "k": 0.25, "window": 25, "skip_seconds": 0.5})
    d = tiny_detector(seed=0, calibration=cal)
    res = d.anomaly_score((frames, audio))
    assert res.threshold == cal.threshold == pytest.approx(base - 0.5)
    assert res.verdict == "fake" and res.percentile == pytest.approx(50.0)
    assert not any("uncalibrated" in w for w in res.warnings)
    assert d.anomaly_score((frames, audio), threshold=base + 10).verdict == "real"


def test_warnings_short_clip_silent_audio_low_face_rate():
    class NoFace:
        name = "none"

        def detect(self, frame):
            return []

    sync, ar, cfg = tiny_models()
    d = Detector(sync, ar, cfg, face_detector=NoFace())
    frames, _ = synthetic_clip(n_frames=30, seed=3)
    res = _score(d, (frames, np.zeros(30 * 640, np.float32)))
    text = " | ".join(res.warnings)
    assert "short clip" in text and "mostly silent" in text and "low face rate" in text
    assert res.face_rate == 0.0 and res.silent_fraction == 1.0


def _calibrated(seed=0):
    """A tiny detector calibrated so that it gives verdicts (threshold at the middle of a wide range)."""
    return tiny_detector(seed=seed, calibration=calibrate(np.linspace(-50, 50, 21), target_fpr=0.5))


def test_abstains_on_silence_stillness_and_too_short_clips(clip):
    """No speech, no moving mouth or under a second of video: verdict "unknown" with the reason, the score is
    still reported; a talking clip gets a real/fake verdict with no reason."""
    from avanomaly.postprocess.abstain import ABSTAIN_VERDICT, MIN_VERDICT_SECONDS

    d = _calibrated()
    frames, _ = clip
    audio = speech_like(len(frames) / FPS, seed=1)
    talking = _score(d, (frames, audio))
    assert talking.verdict in ("real", "fake") and talking.abstain == []
    silent = _score(d, (frames, np.zeros_like(audio)))
    assert silent.verdict == ABSTAIN_VERDICT and silent.abstain == ["no-speech"]
    assert np.isfinite(silent.score) and silent.percentile is not None
    assert any("no verdict" in w for w in silent.warnings)
    still = np.repeat(frames[:1], len(frames), axis=0)
    frozen = _score(d, (still, audio))
    assert frozen.verdict == ABSTAIN_VERDICT and frozen.abstain == ["no-mouth-motion"]
    n_short = int(MIN_VERDICT_SECONDS * FPS) // 2
    short = _score(d, (frames[:n_short], audio[: n_short * len(audio) // len(frames)]))
    assert short.verdict == ABSTAIN_VERDICT and "too-short" in short.abstain
    d_json = silent.to_dict()
    assert d_json["verdict"] == "unknown" and d_json["abstain"] == ["no-speech"]


def test_abstain_rules_and_mouth_activity():
    from avanomaly.preprocess.frontends import MIN_MOUTH_ACTIVITY, MouthActivity
    from avanomaly.preprocess.landmarks import INNER_OPEN_FEATURE, N_LIP_FEATURES
    from avanomaly.postprocess.abstain import MIN_FACE_RATE, abstain_reasons

    lo = MIN_MOUTH_ACTIVITY["landmarks"]
    assert abstain_reasons(5.0, 5.0, 1.0, 2 * lo, lo) == []
    assert abstain_reasons(5.0, float("nan"), 1.0, 2 * lo, lo) == []  # speech not measured: not held against it
    assert abstain_reasons(5.0, 5.0, MIN_FACE_RATE / 2, 2 * lo, lo) == ["no-face"]
    assert abstain_reasons(5.0, 5.0, 0.0, float("nan"), lo) == ["no-face"]
    # landmarks: the 5-95 % range of the inner opening, over frames with a face only
    feats = np.zeros((100, N_LIP_FEATURES), np.float32)
    feats[:, INNER_OPEN_FEATURE] = np.linspace(0.0, 0.2, 100)
    found = np.ones(100, bool)
    act = MouthActivity("landmarks")
    act.push(feats[:50], found[:50])
    act.push(feats[50:], found[50:])
    assert act.value() == pytest.approx(0.18, abs=0.005)
    act = MouthActivity("landmarks")
    feats[:, INNER_OPEN_FEATURE] = 0.1
    feats[::2, INNER_OPEN_FEATURE] = 5.0  # wild values on frames without a face do not count
    found[::2] = False
    act.push(feats, found)
    assert act.value() == pytest.approx(0.0) and act.value() < act.minimum
    # pixels: streamed in chunks equals one push
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    one, two = MouthActivity("pixels"), MouthActivity("pixels")
    one.push(crops, np.ones(20, bool))
    two.push(crops[:7], np.ones(7, bool))
    two.push(crops[7:], np.ones(13, bool))
    assert one.value() == pytest.approx(two.value()) and one.value() > MIN_MOUTH_ACTIVITY["pixels"]
    assert np.isnan(MouthActivity("pixels").value())


def test_clip_at_the_wrong_rate_is_refused(det, clip):
    from avanomaly.preprocess.stream import clip_from_arrays

    frames, audio = clip
    wrong = clip_from_arrays(frames, audio[: frames.shape[0] * 533], fps=30, sample_rate=16000 - 10)
    with pytest.raises(ValueError, match="needs 25 fps"):
        _score(det, wrong)


def test_too_short_clip_is_a_typed_error(det):
    frames, audio = synthetic_clip(n_frames=1, seed=0)
    with pytest.raises(ClipTooShortError):
        _score(det, (frames, audio))


# ------------------------------------------------------------------------------------------- streaming
def test_ar_stream_equals_whole_sequence_sliding_context():
    _, ar, _ = tiny_models(seed=2)  # context 16, stride 4
    feats = torch.softmax(torch.randn(70, ar.config.in_features), -1)
    with torch.no_grad():
        whole = ar(feats[None])[0].numpy()  # (69,)
    for piece in (1, 7, 16, 33):
        s = ARStream(ar)
        parts = []
        with torch.no_grad():
            for i in range(0, 70, piece):
                parts += s.push(feats[None, i:i + piece])
            parts += s.flush()
        np.testing.assert_allclose(torch.cat([p["nll"] for p in parts], 1)[0].numpy(), whole, atol=1e-5)


def test_sync_stream_does_not_depend_on_chunking():
    det = tiny_detector(seed=0, sync_window=20, sync_margin=8)
    frames, audio = synthetic_clip(n_frames=64, seed=4)
    feats = _cached_features(det, frames, audio)
    mouths, mel = feats.mouths, feats.mel
    featurize = det.model.scorer(det.sync_window, det.sync_margin)._featurize

    def run(piece):
        s = SyncStream(featurize, window=det.sync_window, margin=det.sync_margin)
        out = []
        for i in range(0, 64, piece):
            out += list(s.push(mouths[i:i + piece], mel[4 * i:4 * (i + piece)]))
        out += list(s.flush())
        return torch.cat([o[0] for o in out]).numpy()

    ref = run(64)
    assert ref.shape == (64, 7)
    # frames [20, 40) come from one pass over frames [20 - m - 2, 40 + m + 2): real neighbours, no padding
    m = det.sync_margin
    lo, hi = 20 - m - 2, 40 + m + 2
    assert lo >= 0 and hi <= 64
    direct = featurize(mouths[lo:hi], mel[4 * lo:4 * hi])[0].numpy()
    np.testing.assert_allclose(ref[20:40], direct[m:m + 20], atol=1e-5)
    for piece in (5, 21):
        np.testing.assert_allclose(run(piece), ref, atol=1e-5)


def test_stream_buffers_stay_bounded_on_a_long_clip():
    """160 s of features pushed 100 frames at a time: buffers never exceed a window + margins + one push."""
    det = tiny_detector(seed=0, sync_window=50, sync_margin=10)
    n, piece, s_max = 4_000, 100, 32
    calls = []

    def featurize(m, a):  # the real featurizer would work too; the buffer bookkeeping is what is tested here
        calls.append(m.shape[0])
        L = m.shape[0] - 4
        return torch.zeros(L, 7), np.zeros((L, 7), np.float32), np.ones((L, 7), bool)

    sync = SyncStream(featurize, window=det.sync_window, margin=det.sync_margin)
    ar = ARStream(det.ar_model)
    mouths = np.zeros((piece, s_max, s_max), np.uint8)
    mel = np.zeros((4 * piece, 80), np.float32)
    peak_sync = peak_ar = emitted = 0
    for _ in range(n // piece):
        for feats, _, _ in sync.push(mouths, mel):
            emitted += feats.shape[0]
            ar.push(feats[None])
        peak_sync = max(peak_sync, sync.visual.shape[0])
        peak_ar = max(peak_ar, ar.buf.shape[1] if ar.buf is not None else 0)
    for feats, _, _ in sync.flush():
        emitted += feats.shape[0]
    assert emitted == n
    assert peak_sync <= det.sync_window + 2 * (det.sync_margin + 2) + piece
    assert peak_ar <= det.ar_model.config.context + det.sync_window + 1
    assert max(calls) <= det.sync_window + 2 * det.sync_margin + 4


def test_streaming_equals_whole_clip_scoring(clip):
    frames, audio = clip
    whole = _score(tiny_detector(seed=0, chunk_frames=10_000, sync_window=20), (frames, audio))
    streamed = _score(tiny_detector(seed=0, chunk_frames=17, sync_window=20), (frames, audio))
    assert len(streamed.frame_nll) == len(whole.frame_nll) == frames.shape[0] - 1  # the whole clip, not a prefix
    # border log-mel frames get their neighbours' audio and sync/AR windows do not depend on the chunking,
    # so with a detector that does not track across frames the two agree to float precision
    np.testing.assert_allclose(streamed.frame_nll, whole.frame_nll, rtol=1e-5)
    assert streamed.score == pytest.approx(whole.score, rel=1e-6)
    assert streamed.av_offset_frames == whole.av_offset_frames


def _cached_features(det, frames, audio, face_detector=None):
    """What `avanomaly preprocess` would cache for this clip (preprocess_clip, the file path's twin)."""
    from avanomaly.preprocess.pipeline import preprocess_clip
    from avanomaly.preprocess.stream import clip_from_arrays

    clip = clip_from_arrays(frames, audio, FPS, 16_000)
    return preprocess_clip(clip, det.preprocess_cfg, face_detector or det.face_detector)


def test_score_features_matches_anomaly_score(clip):
    frames, audio = clip
    det = tiny_detector(seed=0, chunk_frames=10_000)
    f = _cached_features(det, frames, audio)
    a = _score(det, (frames, audio))
    b = _score_features(det, f.mouths, f.mel, f.face_found)
    np.testing.assert_allclose(b.frame_nll, a.frame_nll, rtol=1e-5)
    assert b.score == pytest.approx(a.score) and b.av_offset_frames == a.av_offset_frames


class _LateMovingFace:
    """Face detector for a synthetic clip: no face before frame ``first``, then a face drifting right; the
    frame index is read from pixel (0, 0, 1). Cropping depends on tracking state carried across chunks."""

    name = "late-moving"

    def __init__(self, first: int, wobble: float = 0.0):
        self.first = first
        self.wobble = wobble  # pixels of sinusoidal jitter: interpolation between detections then matters

    def detect(self, frame_rgb):
        from avanomaly.preprocess.detectors import Face

        t = int(frame_rgb[0, 0, 1])
        if t < self.first:
            return []
        cx, cy, w = 16.0 + 0.2 * t + self.wobble * np.sin(1.7 * t), 30.0, 30.0
        lms = np.array([[cx - 6, cy - 14], [cx + 6, cy - 14], [cx, cy - 6], [cx - 5, cy], [cx + 5, cy]], np.float32)
        return [Face(box=(cx - w / 2, cy - 0.75 * w, cx + w / 2, cy + 0.35 * w), score=0.9, landmarks=lms)]


@pytest.mark.parametrize("chunk", [17, 40])
def test_scoring_sees_the_cached_features_across_chunks_without_a_face(monkeypatch, chunk):
    """anomaly_score tracks the face across decode chunks exactly as preprocessing does: the frames before the
    first face (chunks 0-1 have none) get the first face's crop, not a centre crop, and the score equals
    score_features on the cached entry."""
    import dataclasses

    from avanomaly.preprocess import pipeline

    monkeypatch.setattr(pipeline, "CHUNK_FRAMES", chunk)
    frames, audio = synthetic_clip(n_frames=90, seed=3)
    frames[:, 0, 0, 1] = np.arange(90)
    face = _LateMovingFace(first=2 * chunk + 3 if 2 * chunk + 3 < 90 else 50)
    det = tiny_detector(seed=0, chunk_frames=chunk, sync_window=20, face_detector=face)
    det.preprocess_cfg = dataclasses.replace(det.preprocess_cfg, detector="late-moving", detect_every=1)
    f = _cached_features(det, frames, audio, face)
    assert not f.face_found[:face.first].any() and f.face_found[face.first:].all()
    a = _score(det, (frames, audio))
    b = _score_features(det, f.mouths, f.mel, f.face_found)
    assert a.face_rate == pytest.approx(f.face_found.mean())
    np.testing.assert_allclose(a.frame_nll, b.frame_nll, rtol=1e-5, atol=1e-6)
    assert a.av_offset_frames == b.av_offset_frames


def _score_features(det, mouths, mel, found, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return det.score_features(mouths, mel, found, **kw)


# ------------------------------------------------------------------------------------------- first 0.5 s
def test_leading_half_second_changes_the_score_less_than_without_skip(det):
    frames, audio = synthetic_clip(n_frames=100, seed=5)
    lead = int(np.ceil(0.5 * FPS))
    f2, a2 = frames.copy(), audio.copy()
    f2[:lead] = 0  # a black, silent first half second (the FakeAVCeleb leading-silence shortcut)
    a2[: lead * 640] = 0
    on = AggregationConfig(method="mean")
    off = AggregationConfig(method="mean", skip_seconds=0.0)
    d_skip = abs(_score(det, (f2, a2), aggregation=on).score - _score(det, (frames, audio), aggregation=on).score)
    d_none = abs(_score(det, (f2, a2), aggregation=off).score - _score(det, (frames, audio), aggregation=off).score)
    assert d_skip < d_none


def test_trimming_half_a_second_keeps_the_verdict():
    """Calibrate on real-like clips, then every clip (real-like and A/V-mismatched) keeps its verdict when its
    first 0.5 s are cut off."""
    # pinned to topk_mean (the default until 2026-11-28): with this tiny random-weight model the plain mean
    # scores of all clips lie within ~1e-3 of each other, so a threshold among them flips on float noise
    det = tiny_detector(seed=0, aggregation=AggregationConfig(method="topk_mean", k=0.25))
    lead = int(np.ceil(0.5 * FPS))
    ref = [_score(det, synthetic_clip(n_frames=100, seed=100 + i)).score for i in range(8)]
    det.calibration = calibrate(ref, target_fpr=0.25)
    clips = [synthetic_clip(n_frames=100, seed=200 + i) for i in range(4)]
    clips += [(synthetic_clip(100, seed=300 + i)[0], synthetic_clip(100, seed=400 + i)[1]) for i in range(4)]
    for frames, audio in clips:
        full = _score(det, (frames, audio))
        cut = _score(det, (frames[lead:], audio[lead * 640:]))
        assert cut.verdict == full.verdict, (full.score, cut.score, det.calibration.threshold)


# ------------------------------------------------------------------------------------------- files
def test_from_pretrained_and_score_many_with_bad_files(tmp_path):
    from avanomaly.io.testing import write_test_video

    sync, ar, cfg = tiny_models(seed=0)
    cal = calibrate(np.linspace(1.0, 3.0, 20), target_fpr=0.1)
    run = tmp_path / "run"
    run.mkdir()
    save_model_file(run / "model.pt", sync, ar, cfg, calibration=cal)
    d = Detector.from_pretrained(run, device="cpu")
    assert d.threshold == pytest.approx(cal.threshold)
    good = write_test_video(tmp_path / "good.mp4", n_frames=40, size=(48, 48))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 50)
    out = d.score_many([str(empty), str(good), str(junk), str(tmp_path / "missing.mp4")])
    assert [o.ok for o in out] == [False, True, False, False]
    assert out[0].reason == "empty-file" and out[1].n_frames == 40
    assert all(o.reason and o.message for o in out if not o.ok)


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        Detector.from_pretrained(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="model.pt"):
        Detector.from_pretrained(tmp_path)  # a directory without model.pt
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.pt"):
        Detector.from_pretrained(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(CheckpointError, match="not an avanomaly detector"):
        Detector.from_pretrained(other)


def test_scoring_trims_leading_silence_like_preprocessing():
    """With trim_leading_silence the detector cuts the same frames preprocessing cuts (tracking the untrimmed
    frames, as preprocessing does) and scores equal the cached entry's."""
    import dataclasses

    frames, audio = synthetic_clip(n_frames=90, seed=6)
    frames[:, 0, 0, 1] = np.arange(90)
    audio[: 13 * 640] = 0.0  # 0.52 s of leading digital silence
    face = _LateMovingFace(first=0, wobble=4.0)
    det = tiny_detector(seed=0, chunk_frames=250, sync_window=20, face_detector=face)
    det.preprocess_cfg = dataclasses.replace(det.preprocess_cfg, detector="late-moving", detect_every=3,
                                             trim_leading_silence=True)
    f = _cached_features(det, frames, audio, face)
    assert f.meta["trimmed_seconds"] > 0.3 and len(f.mouths) < 90
    a = _score(det, (frames, audio))
    b = _score_features(det, f.mouths, f.mel, f.face_found, trimmed_seconds=f.meta["trimmed_seconds"])
    assert a.n_frames == len(f.mouths)
    np.testing.assert_allclose(a.frame_nll, b.frame_nll, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.frame_times, b.frame_times)


def test_bf16_precision_is_opt_in_close_and_flagged(clip):
    frames, audio = clip
    fp32 = _score(tiny_detector(seed=0), (frames, audio))
    bf16 = _score(tiny_detector(seed=0, precision="bf16"), (frames, audio))
    assert bf16.n_frames == fp32.n_frames and np.isfinite(bf16.frame_nll).all()
    assert abs(bf16.score - fp32.score) < 0.05 * abs(fp32.score) + 0.05
    assert any("bf16" in w for w in bf16.warnings) and not any("bf16" in w for w in fp32.warnings)
    with pytest.raises(ValueError, match="precision"):
        tiny_detector(seed=0, precision="fp16")


# ------------------------------------------------------------------------------------------- prefetch
def test_prefetch_keeps_order_reraises_and_stops_early():
    import threading

    from avanomaly.utils import prefetch

    assert list(prefetch(iter(range(7)), depth=2)) == list(range(7))

    def failing():
        yield 1
        raise RuntimeError("boom at item 2")

    got = []
    with pytest.raises(RuntimeError, match="boom at item 2"):
        for x in prefetch(failing()):
            got.append(x)
    assert got == [1]

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    gen = prefetch(endless())
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()  # the consumer stops early: the source is closed (file handles released) before close returns
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "avanomaly-prefetch"]


def test_prefetched_decoding_gives_identical_scores(tmp_path):
    from avanomaly.io.testing import write_test_video

    path = write_test_video(tmp_path / "v.mp4", n_frames=70, size=(48, 48))
    a = _score(tiny_detector(seed=0, chunk_frames=16, prefetch=False), path)
    b = _score(tiny_detector(seed=0, chunk_frames=16, prefetch=True), path)
    assert a.n_frames == b.n_frames == 70
    assert a.frame_nll == b.frame_nll and a.score == b.score and a.warnings == b.warnings


def test_prefetched_decoding_reports_a_truncated_file(tmp_path):
    from avanomaly.errors import MediaError
    from avanomaly.io.testing import write_test_video

    path = write_test_video(tmp_path / "v.mp4", n_frames=120, size=(48, 48))
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    det = tiny_detector(seed=0, chunk_frames=16)
    with pytest.raises(MediaError) as exc:
        _score(det, cut)
    assert "cut.mp4" in str(exc.value)
    failure = det.score_one_safe(cut)
    assert not failure.ok and failure.reason == exc.value.reason


def test_calibration_scores_equal_file_scores_on_a_40s_clip(tmp_path):
    """Training calibrates on cached features (Detector.score_features on a cache entry); users score files
    (Detector.anomaly_score). On a 40 s clip (4 decode chunks, 2 sync windows, several AR contexts) both give the
    same per-frame NLL, terms and score to 1e-5: one extractor, one model path, the cache's mel precision."""
    from avanomaly.io.testing import INDEX_MAX_FRAMES, moving_mouth_frame_fn
    from avanomaly.preprocess import FeatureCache
    from avanomaly.preprocess.pipeline import preprocess_to_cache

    n = 40 * FPS
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.2, n * 640 + 16_000)
    path = write_test_video(tmp_path / "long.mp4", n_frames=n, size=(64, 48), video_codec="mpeg4",
                            frame_fn=lambda i, s: moving_mouth_frame_fn(i % INDEX_MAX_FRAMES, s),
                            audio_fn=lambda t: noise[np.minimum((t * 16_000).astype(int), noise.size - 1)])
    det = tiny_detector(seed=0, calibration=calibrate(np.linspace(-5, 5, 21), target_fpr=0.1))
    cache = FeatureCache(tmp_path / "cache")
    preprocess_to_cache(path, cache, "k", det.preprocess_cfg, det.face_detector)
    entry = cache.get("k")
    cached = det.score_features(entry.mouths, entry.mel, entry.face_found, path=str(path))
    filed = _score(det, str(path))
    assert filed.n_frames == cached.n_frames == n
    np.testing.assert_allclose(filed.frame_nll, cached.frame_nll, atol=1e-5, rtol=0)
    assert filed.score == pytest.approx(cached.score, abs=1e-5)
    assert filed.score_terms == pytest.approx(cached.score_terms, abs=1e-5)
    assert filed.av_offset_frames == cached.av_offset_frames


def test_detector_calibrate_is_a_library_function(tmp_path):
    """Detector.calibrate(paths) scores real clips, fits the fusion + threshold and uses them from then on; the
    CLI only translates its errors."""
    from avanomaly.errors import AvanomalyError
    from avanomaly.io.testing import moving_mouth_frame_fn

    paths = [str(write_test_video(tmp_path / f"r{i}.mp4", n_frames=40 + 10 * i, size=(48, 48),
                                  frame_fn=moving_mouth_frame_fn, audio_fn=speech_like_fn(seed=i))) for i in range(4)]
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 64)
    det = tiny_detector(seed=0)
    assert det.calibration is None
    cal, failed = det.calibrate([*paths, str(bad)], target_fpr=0.25)
    assert [f.path for f in failed] == [str(bad)] and cal.n == 4 and det.calibration is cal
    scores = sorted(_score(det, p).score for p in paths)
    assert sum(s > cal.threshold for s in scores) <= 1  # at most 25 % of the calibration reals called fake
    assert _score(det, paths[0]).verdict in ("real", "fake")
    with pytest.raises(AvanomalyError, match="none of the 1"):
        tiny_detector(seed=0).calibrate([str(bad)])
