"""preprocess_clip / preprocess_many / CLI on tiny synthetic videos (centre detector, no real faces)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from avanomaly.cli_common import expand_inputs
from avanomaly.io.testing import write_test_video
from avanomaly.preprocess import FeatureCache, PreprocessConfig, preprocess_file, preprocess_many
from avanomaly.preprocess.commands import preprocess as preprocess_cmd

CFG = PreprocessConfig(detector="center", crop_size=32)


@pytest.fixture()
def clips(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = [write_test_video(src / "a.mp4", n_frames=20), write_test_video(src / "b.avi", n_frames=15, size=(48, 32))]
    text = src / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    empty = src / "empty.mp4"
    empty.write_bytes(b"")
    return good, [text, empty]


def test_preprocess_file_shapes_and_meta(clips):
    (a, _), _ = clips
    feats = preprocess_file(a, CFG)
    assert feats.mouths.shape == (20, 32, 32) and feats.mouths.dtype == np.uint8
    assert feats.mel.shape == (80, 80) and feats.mel.dtype == np.float32
    meta = feats.meta
    assert meta["n_frames"] == 20 and meta["duration"] == pytest.approx(0.8)
    assert meta["source"] == str(a) and len(meta["sha256"]) == 64
    assert meta["config"]["crop_size"] == 32 and meta["trimmed_seconds"] == 0.0
    assert meta["face_rate"] == 1.0  # the centre detector always "finds" its box


def test_many_writes_good_lists_bad_and_resumes(clips, tmp_path):
    good, bad = clips
    cache = FeatureCache(tmp_path / "cache")
    report = preprocess_many([*good, *bad], cache, CFG, workers=1, progress=False)
    assert len(report.done) == 2 and report.skipped == []
    assert {p for p, _, _ in report.failed} == {str(b) for b in bad}
    reasons = {p: r for p, r, _ in report.failed}
    assert reasons[str(bad[1])] == "empty-file"
    assert reasons[str(bad[0])] in {"not-media", "corrupt"}
    assert sorted(cache.entries()) == sorted(report.done)
    with open(cache.root / "failures.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["path"] for r in rows} == {str(b) for b in bad} and all(r["reason"] and r["message"] for r in rows)
    entry = cache.get(report.keys[str(good[0])])
    assert entry.n_frames == 20 and entry.meta["source"] == str(good[0])

    again = preprocess_many(good, cache, CFG, workers=1, progress=False)
    assert again.done == [] and sorted(again.skipped) == sorted(report.done) and again.failed == []
    # a different setting is a different entry
    other = preprocess_many(good[:1], cache, PreprocessConfig(detector="center", crop_size=16), progress=False)
    assert len(other.done) == 1 and len(cache.entries()) == 3


def test_no_face_error_and_centre_fallback(clips, tmp_path):
    (a, _), _ = clips  # flat grey frames: CenterFace finds nothing
    report = preprocess_many([a], tmp_path / "c1", PreprocessConfig(crop_size=32), progress=False)
    assert [(p, r) for p, r, _ in report.failed] == [(str(a), "no-face")]
    report = preprocess_many([a], tmp_path / "c2", PreprocessConfig(crop_size=32, face_fallback="center"), progress=False)
    meta = FeatureCache(tmp_path / "c2").get(report.done[0]).meta
    assert meta["face_fallback_used"] is True and meta["face_rate"] == 0.0


def test_trim_leading_silence_trims_video_and_audio(tmp_path):
    silence = 0.6
    path = write_test_video(
        tmp_path / "s.mp4", n_frames=50, audio_fn=lambda t: np.where(t < silence, 0.0, 0.5 * np.sin(2 * np.pi * 440 * t))
    )
    cfg = PreprocessConfig(detector="center", crop_size=32, trim_leading_silence=True)
    feats = preprocess_file(path, cfg)
    trimmed = feats.meta["trimmed_seconds"]
    assert 0.4 <= trimmed <= silence + 1e-6
    n_cut = round(trimmed * 25)
    assert feats.meta["n_frames"] == 50 - n_cut and feats.mel.shape == (4 * (50 - n_cut), 80)
    # the mouths start at the first kept frame (frame index is encoded in the grey level)
    untrimmed = preprocess_file(path, PreprocessConfig(detector="center", crop_size=32))
    np.testing.assert_array_equal(feats.mouths[0], untrimmed.mouths[n_cut])
    assert untrimmed.mel[: 4 * n_cut].max() < -15  # the cut part was silent


def test_cli_inputs_and_exit_code(clips, tmp_path):
    good, bad = clips
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\nsrc/a.mp4,real\n")
    assert expand_inputs([str(manifest)]) == [str(tmp_path / "src" / "a.mp4")]
    found = expand_inputs([str(tmp_path / "src")])
    assert set(found) == {str(p) for p in [*good, *bad]}

    runner = CliRunner()
    out = tmp_path / "cache"
    args = [str(tmp_path / "src"), "--out", str(out), "--detector", "center", "--crop-size", "32", "--no-progress"]
    res = runner.invoke(preprocess_cmd, args)
    assert res.exit_code == 1, res.output
    assert "done 2" in res.output and "failed 2" in res.output and "notes.mp4" in res.output
    res = runner.invoke(preprocess_cmd, [str(p) for p in good] + args[1:])
    assert res.exit_code == 0, res.output
    assert "skipped 2" in res.output


def test_file_streaming_equals_in_memory_clip(tmp_path, monkeypatch):
    from avanomaly.io import load_clip
    from avanomaly.preprocess import pipeline, preprocess_clip

    monkeypatch.setattr(pipeline, "CHUNK_FRAMES", 7)  # several chunks for a 20-frame clip
    path = write_test_video(tmp_path / "v.mp4", n_frames=20)
    streamed = preprocess_file(path, CFG)
    in_memory = preprocess_clip(load_clip(path, max_side=CFG.max_side), CFG)
    np.testing.assert_array_equal(streamed.mouths, in_memory.mouths)
    np.testing.assert_array_equal(streamed.mel, in_memory.mel)
    assert streamed.mouths.shape == (20, 32, 32)


def test_cli_list_detectors_and_missing_out():
    runner = CliRunner()
    res = runner.invoke(preprocess_cmd, ["--list-detectors"])
    assert res.exit_code == 0 and "centerface" in res.output.split()
    res = runner.invoke(preprocess_cmd, ["x.mp4"])
    assert res.exit_code == 2 and "--out" in res.output


def test_entry_writer_streams_the_same_entry_as_put_and_discards_on_error(tmp_path):
    from avanomaly.preprocess.cache import Features

    rng = np.random.default_rng(0)
    visual = rng.integers(0, 255, (30, 8, 8), dtype=np.uint8)
    mel = rng.normal(size=(120, 5)).astype(np.float32)
    found = rng.random(30) > 0.3
    meta = {"n_frames": 30, "note": "x"}
    cache = FeatureCache(tmp_path / "c")
    cache.put("whole", Features(visual, mel, found, meta))
    with cache.writer("runs") as w:
        for s, e in ((0, 7), (7, 8), (8, 30)):
            w.append(visual[s:e], mel[4 * s:4 * e], found[s:e])
        assert w.commit(meta)
    a, b = cache.get("whole"), cache.get("runs")
    for x, y in ((a.mouths, b.mouths), (a.mel, b.mel), (a.face_found, b.face_found)):
        assert x.dtype == y.dtype and np.array_equal(np.asarray(x), np.asarray(y))
    assert b.meta == meta
    with pytest.raises(RuntimeError):
        with cache.writer("broken") as w:
            w.append(visual[:5], mel[:20], found[:5])
            raise RuntimeError("killed mid-file")
    assert not cache.has("broken") and cache.temp_dirs() == []
    with cache.writer("bad") as w, pytest.raises(ValueError):
        w.append(visual[:5], mel[:12], found[:5])  # 3 mel frames per video frame: refused


@pytest.mark.slow  # encodes and decodes 500 + 2000 frames twice each (16-40 s on 2 busy cores): the slow tier
def test_preprocessing_memory_does_not_grow_with_video_length(tmp_path):
    """Streaming into the cache: the peak of numpy/Python memory while preprocessing a 4x longer file stays
    within 1.2x (the old path held every crop, the whole audio and a whole-clip STFT). Both files span several
    decode chunks (a one-chunk file computes its log-mel after its frames are freed, a lower peak)."""
    import tracemalloc

    from avanomaly.io.testing import INDEX_MAX_FRAMES, moving_mouth_frame_fn
    from avanomaly.preprocess.pipeline import CHUNK_FRAMES, preprocess_to_cache

    def frame_fn(i, s):
        return moving_mouth_frame_fn(i % INDEX_MAX_FRAMES, s)

    peaks = []
    for n in (2 * CHUNK_FRAMES, 8 * CHUNK_FRAMES):
        path = write_test_video(tmp_path / f"v{n}.mp4", n_frames=n, size=(96, 64), video_codec="mpeg4",
                                frame_fn=frame_fn)
        cache = FeatureCache(tmp_path / f"c{n}")
        preprocess_to_cache(path, cache, "warm-up", CFG)  # lazy imports and first-call set-up outside the count
        tracemalloc.start()
        try:
            written, meta = preprocess_to_cache(path, cache, "k", CFG)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert written and meta["n_frames"] == n and cache.get("k").n_frames == n
    assert peaks[1] <= 1.2 * peaks[0], peaks


#: bytes over the file system's file-name limit used for an overlong name
OVER_NAME_MAX = 45


def test_cli_overlong_path_is_a_per_file_failure(clips, tmp_path):
    import csv

    from avanomaly.errors import PathTooLongError
    from avanomaly.utils import name_max

    good, _ = clips
    long = tmp_path / ("x" * (name_max(tmp_path) + OVER_NAME_MAX) + ".mp4")
    out = tmp_path / "cache"
    res = CliRunner().invoke(preprocess_cmd, [str(long), str(good[0]), "--out", str(out), "--detector", "center",
                                              "--crop-size", "32", "--no-progress"])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output  # exit 1, not a crash
    assert "done 1" in res.output and "failed 1" in res.output  # the batch went on
    with open(out / "failures.csv", newline="") as fh:
        failures = list(csv.DictReader(fh))
    assert [f["reason"] for f in failures] == [PathTooLongError.reason] and "NAME_MAX" in failures[0]["message"]
