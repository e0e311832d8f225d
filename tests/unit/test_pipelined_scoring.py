"""The pipelined landmark front end (face mesh in worker processes, preprocess/meshpool.py) against the sequential
path: same scores on multi-chunk clips, worker errors with their own type, nothing left running. MediaPipe is
replaced by a stateful stub (each frame's mesh depends on the previous one, as in tracking mode)."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

from avanomaly.errors import CorruptMediaError
from avanomaly.preprocess.landmarks import EYE_LEFT, EYE_RIGHT, INNER_OPEN, NOSE_BASE, N_LIP_FEATURES

N_MESH = 478
#: a frame of this mean intensity makes the stub raise (a "corrupt frame")
BAD_VALUE = 7


def _mesh(opening: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    p = rng.normal(0, 0.3, size=(N_MESH, 3)) + [0, 0.9, 0]
    p[list(EYE_LEFT)] = [[-0.6, 0, 0], [-0.4, 0, 0]]
    p[list(EYE_RIGHT)] = [[0.4, 0, 0], [0.6, 0, 0]]
    p[NOSE_BASE] = [0, 0.7, 0.0]
    p[INNER_OPEN[0]] = [0, 1.0, 0.1]
    p[INNER_OPEN[1]] = [0, 1.0 + opening, 0.1]
    return p * 40


class TrackingStub:
    """Face mesh stand-in with tracking state: the opening is half this frame's mean intensity and half the
    previous frame's opening, so a track restarted mid-clip gives other points; a black frame has no face."""

    def __init__(self):
        self.prev = 0.0

    def points(self, frame):
        v = float(frame[..., 0].mean())
        if round(v) == BAD_VALUE:
            raise CorruptMediaError("clip.mp4", "the stub cannot read this frame")
        if v == 0:
            return None
        self.prev = 0.5 * self.prev + 0.5 * v / 255.0
        return _mesh(self.prev)

    def close(self):
        pass


def _detector(pipeline, **kwargs):
    import dataclasses

    from avanomaly.models import create_model
    from avanomaly.scoring.detector import Detector
    from avanomaly.scoring.testing import tiny_models

    pytest.importorskip("mediapipe")  # the Detector checks for it at load (the stub does the work)
    _, ar, cfg = tiny_models(seed=0)
    import torch

    torch.manual_seed(0)
    sync = create_model("sync", dim=16, width=4, temporal="transformer", temporal_layers=1, temporal_heads=2,
                        max_offset=3, dropout=0.0, visual_backbone="lips_tcn", in_features=N_LIP_FEATURES).eval()
    cfg = dataclasses.replace(cfg, front_end="landmarks", trim_leading_silence=kwargs.pop("trim", False))
    return Detector(sync, ar, cfg, device="cpu", pipeline=pipeline, landmarker_factory=TrackingStub,
                    sync_window=20, **kwargs)


def _clip(n_frames=130, seed=1, lead_silence=0, quiet_until=0, black=(), bad=None):
    rng = np.random.default_rng(seed)
    vals = rng.integers(20, 240, n_frames)
    vals[list(black)] = 0
    if bad is not None:
        vals[bad] = BAD_VALUE
    frames = np.repeat(vals.astype(np.uint8)[:, None, None, None], 8, 1).repeat(8, 2).repeat(3, 3)
    audio = (0.3 * rng.normal(size=n_frames * 640)).astype(np.float32)
    audio[lead_silence * 640: quiet_until * 640] *= 0.005 / 0.3  # 35 dB down: sound only next to silence
    audio[: lead_silence * 640] = 0
    return frames, audio


def _same(a, b):
    assert a.n_frames == b.n_frames
    np.testing.assert_allclose(a.frame_nll, b.frame_nll, rtol=0, atol=1e-5)
    assert a.score == pytest.approx(b.score, abs=1e-5)
    assert a.av_offset_frames == b.av_offset_frames and a.face_rate == b.face_rate
    assert a.warnings == b.warnings


_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _only_this_tests_workers():
    """Mesh workers of Detectors that other tests left open (a cached starter detector, say) are not this test's:
    each test asserts on the worker processes it started itself."""
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in multiprocessing.active_children() if p.name.startswith("avanomaly-mesh"))
    yield


def _mesh_processes():
    return [p for p in multiprocessing.active_children()
            if p.name.startswith("avanomaly-mesh") and p.pid not in _BEFORE]


def _pipeline_threads():
    return [t for t in threading.enumerate() if t.name == "avanomaly-decode" or "QueueFeeder" in t.name]


@pytest.mark.parametrize("trim", [False, True])
def test_pipelined_scores_equal_the_sequential_path_on_a_multi_chunk_clip(trim):
    # 130 frames in 40-frame chunks: 4 audio blocks; the pipelined path decodes 25-frame chunks (not aligned
    # with the blocks) and regroups the audio; black frames before the first face and mid-clip
    # with trim: silence, then quiet sound that is "sound" within the first second but 35 dB below the rest, so
    # the onset found on a 25-frame chunk is not the one found on the 40-frame block (1.08 s)
    clip = _clip(lead_silence=12 if trim else 0, quiet_until=30 if trim else 0, black=(0, 1, 2, 60, 61))
    seq = _detector(False, chunk_frames=40, trim=trim).anomaly_score(clip, threshold=0.0)
    with _detector(True, chunk_frames=40, trim=trim) as det:
        assert det.pipeline and det.mesh_segment == 0
        piped = det.anomaly_score(clip, threshold=0.0)
        assert _mesh_processes()  # the mesh ran in a worker process
        again = det.anomaly_score(clip, threshold=0.0)  # the workers are reused: a fresh track per clip
    _same(piped, seq)
    _same(again, seq)
    if trim:
        assert any("trimmed 1.08 s of leading silence" in w for w in piped.warnings), piped.warnings
    assert not _mesh_processes()


def test_pipelined_file_scores_equal_the_sequential_path(tmp_path):
    from avanomaly.io.testing import write_test_video

    path = write_test_video(tmp_path / "v.mp4", n_frames=90, size=(48, 48),
                            frame_fn=lambda i, s: np.full((s[1], s[0], 3), 30 + (i * 37) % 200, np.uint8))
    seq = _detector(False, chunk_frames=40).anomaly_score(path, threshold=0.0)
    with _detector(True, chunk_frames=40) as det:
        _same(det.anomaly_score(path, threshold=0.0), seq)


def test_split_face_tracks_do_not_depend_on_the_number_of_mesh_workers():
    clip = _clip(n_frames=150)
    exact = _detector(False, chunk_frames=40).anomaly_score(clip, threshold=0.0)
    with _detector(True, chunk_frames=40, mesh_workers=1, mesh_segment=30) as one, \
            _detector(True, chunk_frames=40, mesh_workers=2, mesh_segment=30) as two:
        a, b = one.anomaly_score(clip, threshold=0.0), two.anomaly_score(clip, threshold=0.0)
        assert len(_mesh_processes()) == 3
    assert a.frame_nll == b.frame_nll and a.score == b.score  # bit for bit
    assert a.frame_nll != exact.frame_nll  # restarted tracks: other features (the stub's tracking state)


@pytest.mark.parametrize("warmup", [0, 3])
def test_split_tracks_restart_with_a_warm_up_and_come_back_in_order(warmup):
    from avanomaly.preprocess import PreprocessConfig
    from avanomaly.preprocess.landmarks import INNER_OPEN_FEATURE, LipTracker
    from avanomaly.preprocess.meshpool import MeshPool, PipelinedLipTracker

    frames = _clip(n_frames=47, black=(0, 1))[0]
    cfg = PreprocessConfig(front_end="landmarks", face_fallback="center")
    seq = LipTracker(cfg, landmarker_factory=TrackingStub)
    seq.push(frames)
    ref, ref_found = seq.finish()
    # what split tracks must give: each 10-frame track on a fresh stub, warmed up on the `warmup` frames before it
    want = []
    for s in range(0, 47, 10):
        stub = TrackingStub()
        pts = [stub.points(f) for f in frames[max(0, s - warmup):s + 10]]
        want.extend(pts[s - max(0, s - warmup):])
    exp = LipTracker(cfg, landmarker_factory=TrackingStub)
    exp.push_points(want)
    exp_feats, exp_found = exp.finish()
    pool = MeshPool(2, TrackingStub)
    try:
        assert pool.acquire()
        tracker = PipelinedLipTracker(cfg, pool, segment_frames=10, warmup_frames=warmup, max_in_flight=2)
        parts = []
        for i in range(0, 47, 7):  # pushes not aligned with the tracks
            tracker.push(frames[i:i + 7])
            parts.append(tracker.take(through=max(0, i - 7)))
        parts.append(tracker.finish())
        pool.release()
    finally:
        pool.close()
    feats = np.concatenate([p[0] for p in parts])
    found = np.concatenate([p[1] for p in parts])
    np.testing.assert_array_equal(feats, exp_feats)
    np.testing.assert_array_equal(found, exp_found)
    assert found.tolist() == ref_found.tolist()
    # the restarted tracks differ from the one sequential track (tracking state), the less so after a warm-up
    diff = np.abs(feats[:, INNER_OPEN_FEATURE] - ref[:, INNER_OPEN_FEATURE])
    assert diff[:10].max() == 0 and diff[10:].max() > 1e-4


class PreparedStub:
    """Face mesh stand-in that says in its points whether it was ``prepare``d before its first frame and how many
    frames it has tracked: [prepared, frames seen before this one, 0]."""

    fail_prepare = False

    def __init__(self):
        self.prepared = False
        self.seen = 0

    def prepare(self):
        if self.fail_prepare:
            raise RuntimeError("no graph today")
        self.prepared = self.seen == 0

    def points(self, frame):
        out = np.array([[float(self.prepared), float(self.seen), 0.0]])
        self.seen += 1
        return out


class FailingPrepareStub(PreparedStub):
    fail_prepare = True


@pytest.mark.parametrize("factory", [PreparedStub, FailingPrepareStub])
def test_workers_build_the_next_clips_face_mesh_while_idle(factory):
    # at start-up and on release the worker builds a fresh landmarker for the next clip (prepare: off the clip's
    # critical path); each clip still starts on a fresh one; a landmarker that cannot be prepared is built on
    # the clip's first frames as before
    from avanomaly.preprocess.meshpool import MeshPool

    frames = np.zeros((3, 4, 4, 3), np.uint8)
    pool = MeshPool(1, factory)
    try:
        for clip in range(3):
            assert pool.acquire()
            first = pool.result(pool.submit(0, True, 0, frames), {})
            more = pool.result(pool.submit(0, False, 0, frames), {})
            pool.release()
            marks = np.array([p[0] for p in first + more])  # (6, 3)
            assert marks[:, 1].tolist() == list(range(6)), clip  # a fresh track per clip, continued within it
            assert (marks[:, 0] == float(factory is PreparedStub)).all(), (clip, marks)
    finally:
        pool.close()
    assert not _mesh_processes()


def test_a_worker_error_is_raised_with_its_type_and_nothing_is_left_running():
    threads_before = {t.ident for t in _pipeline_threads()}
    det = _detector(True, chunk_frames=40)
    with pytest.raises(CorruptMediaError, match="cannot read this frame") as piped:
        det.anomaly_score(_clip(bad=70), threshold=0.0)
    with pytest.raises(CorruptMediaError) as seq:
        _detector(False, chunk_frames=40).anomaly_score(_clip(bad=70), threshold=0.0)
    assert str(piped.value) == str(seq.value) and piped.value.reason == seq.value.reason
    failure = det.score_one_safe(_clip(bad=5))
    assert not failure.ok and failure.reason == seq.value.reason
    # the pool is usable after the errors: no stale results of the failed clips reach the next one
    _same(det.anomaly_score(_clip(), threshold=0.0),
          _detector(False, chunk_frames=40).anomaly_score(_clip(), threshold=0.0))
    det.close()
    assert not _mesh_processes()
    assert {t.ident for t in _pipeline_threads()} <= threads_before


def test_a_cancelled_clip_and_a_killed_worker():
    from avanomaly.errors import ScoringCancelled
    from avanomaly.preprocess.meshpool import MeshWorkerError

    with _detector(True, chunk_frames=40) as det:
        calls = {"n": 0}

        def stop():
            calls["n"] += 1
            return calls["n"] > 3

        with pytest.raises(ScoringCancelled):
            det.anomaly_score(_clip(), threshold=0.0, should_stop=stop)
        det.start_workers()
        (proc,) = _mesh_processes()
        proc.kill()
        proc.join()
        with pytest.raises(MeshWorkerError, match="ended"):
            det.anomaly_score(_clip(), threshold=0.0)
        assert not _mesh_processes()  # the broken pool was stopped; the next clip starts a new one
        ok = det.anomaly_score(_clip(), threshold=0.0)
    _same(ok, _detector(False, chunk_frames=40).anomaly_score(_clip(), threshold=0.0))
    assert not _mesh_processes()


def test_a_busy_pool_scores_in_process_and_bad_settings_fail():
    det = _detector(True, chunk_frames=40)
    assert det._mesh_pool.acquire()  # another thread's clip holds the pool
    try:
        res = det.anomaly_score(_clip(), threshold=0.0)
    finally:
        det._mesh_pool.release()
    _same(res, _detector(False, chunk_frames=40).anomaly_score(_clip(), threshold=0.0))
    det.close()
    with pytest.raises(ValueError, match="mesh_workers"):
        _detector(True, mesh_workers=0)
    from avanomaly.scoring.testing import tiny_detector

    assert not tiny_detector(seed=0, pipeline=True).pipeline  # the pixel front end has no face mesh to move
