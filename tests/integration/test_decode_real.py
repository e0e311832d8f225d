"""Decoding the shared real / fake / bad clips (../shared/data/real-av; skipped when absent)."""

from __future__ import annotations

import csv

import av
import numpy as np
import pytest

from avanomaly.errors import CorruptMediaError, NoAudioError
from avanomaly.io import iter_clip_chunks, load_clip, probe

FPS = 25
SR = 16000
MAX_SIDE = 256  # keeps the 1080p clips small in memory
AVSHIFT_LAG = 1920  # 120 ms at 16 kHz
LAG_TOLERANCE = 16


def _rows(real_av, label=None):
    with open(real_av / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if label is None or r["label"] == label]


def _video_duration(path) -> float:
    """Video stream duration from the container header, read with PyAV directly (independent of avanomaly.io)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if s.duration is not None:
            return float(s.duration * s.time_base)
        return s.frames / float(s.average_rate)


def _clip_ids(real_av_rows):
    return [r["path"] for r in real_av_rows]


def test_every_real_and_fake_clip_decodes(real_av):
    rows = _rows(real_av, "real") + _rows(real_av, "fake")
    assert len(rows) >= 10
    for row in rows:
        path = real_av / row["path"]
        clip = load_clip(path, max_side=MAX_SIDE)
        expected = _video_duration(path) * FPS
        assert abs(clip.n_frames - expected) <= 1, (row["path"], clip.n_frames, expected)
        assert clip.frames.ndim == 4 and clip.frames.shape[-1] == 3 and clip.frames.dtype == np.uint8
        assert max(clip.frames.shape[1:3]) <= MAX_SIDE
        assert clip.audio.shape == (clip.n_frames * SR // FPS,) and clip.audio.dtype == np.float32
        assert clip.has_audio and np.abs(clip.audio).max() > 0.01, row["path"]  # real speech, not silence
        assert np.abs(clip.audio).max() <= 1.0 + 1e-6
        assert clip.frames.std() > 5, row["path"]  # actual pictures


def test_source_frame_rates(real_av):
    assert probe(real_av / "real/kim_7s_raw.mp4")["video"]["fps"] == pytest.approx(30.0, abs=0.01)
    assert probe(real_av / "fake/listed_wav2lip_result_voice.mp4")["video"]["fps"] == pytest.approx(50.0, abs=0.01)
    kim = load_clip(real_av / "real/kim_7s_raw.mp4", max_side=MAX_SIDE)
    assert kim.source_fps == pytest.approx(30.0, abs=0.01) and kim.frames.shape[1:3] == (144, 256)


@pytest.mark.parametrize("name", ["bad/noaudio_listed_sample_input.mp4", "bad/noaudio_usr_mouthroi_example.avi"])
def test_no_audio_files(real_av, name):
    path = real_av / name
    with pytest.raises(NoAudioError) as err:
        load_clip(path, max_side=MAX_SIDE)
    assert str(path) in str(err.value)
    clip = load_clip(path, max_side=MAX_SIDE, require_audio=False)
    assert not clip.has_audio and not clip.audio.any()
    assert abs(clip.n_frames - _video_duration(path) * FPS) <= 1


def test_truncated_file(real_av):
    path = real_av / "bad/truncated_vox2_00098.mp4"
    with pytest.raises(CorruptMediaError, match="moov") as err:
        load_clip(path)
    assert str(path) in str(err.value) and err.value.reason == "corrupt"
    with pytest.raises(CorruptMediaError):
        probe(path)


def test_audio_delay_survives_decoding(real_av):
    from scipy.signal import correlate, correlation_lags

    orig = load_clip(real_av / "real/vgg_syncnet_example.avi")
    shifted = load_clip(real_av / "fake/avshift_vgg_syncnet_example_120ms.avi")
    assert orig.n_frames == shifted.n_frames
    np.testing.assert_array_equal(orig.frames, shifted.frames)  # video stream copied
    cc = correlate(shifted.audio, orig.audio, mode="full", method="fft")
    lag = int(correlation_lags(shifted.audio.size, orig.audio.size, mode="full")[np.argmax(cc)])
    assert abs(lag - AVSHIFT_LAG) <= LAG_TOLERANCE, lag


def test_streaming_matches_whole_clip_on_real_file(real_av):
    path = real_av / "fake/listed_wav2lip_result_voice.mp4"  # 50 fps, 1280x640
    whole = load_clip(path, max_side=MAX_SIDE)
    chunks = list(iter_clip_chunks(path, chunk_frames=64, max_side=MAX_SIDE))
    np.testing.assert_array_equal(np.concatenate([c.frames for c in chunks]), whole.frames)
    np.testing.assert_array_equal(np.concatenate([c.audio for c in chunks]), whole.audio)


@pytest.mark.parametrize("name", ["real/kim_7s_raw.mp4", "real/vox2_00098.mp4"])
def test_start_duration_equals_slice_of_whole(real_av, name):
    path = real_av / name
    whole = load_clip(path, max_side=64)
    part = load_clip(path, max_side=64, start=3.0, duration=2.0)
    a, b = 3 * FPS, 5 * FPS
    assert part.n_frames == b - a and part.start == pytest.approx(3.0)
    np.testing.assert_array_equal(part.frames, whole.frames[a:b])
    np.testing.assert_array_equal(part.audio, whole.audio[a * SR // FPS : b * SR // FPS])
