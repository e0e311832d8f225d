"""Decoding layer on tiny synthetic videos written in-test with PyAV (avanomaly.io.testing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avanomaly.errors import (
    CorruptMediaError,
    EmptyFileError,
    MediaError,
    NoAudioError,
    NotMediaError,
    NoVideoError,
    UnsupportedCodecError,
)
from avanomaly.io import Clip, iter_clip_chunks, load_clip, probe
from avanomaly.io.testing import intensity_to_index, sine, write_test_video

SR = 16000
FPS = 25


def _indices(clip: Clip) -> list[int]:
    return [intensity_to_index(f) for f in clip.frames]


def _noise(seconds: float, seed: int = 0) -> tuple[np.ndarray, callable]:
    """White noise at 16 kHz and an audio_fn that plays it (for exact cross-correlation lags)."""
    sig = np.random.default_rng(seed).standard_normal(int(seconds * SR) + 1) * 0.3
    return sig, lambda t: sig[np.minimum(np.round(t * SR).astype(int), sig.size - 1)]


def _lag(x: np.ndarray, ref: np.ndarray) -> int:
    """Samples by which ``ref`` appears delayed inside ``x``."""
    from scipy.signal import correlate, correlation_lags

    cc = correlate(x, ref, mode="full", method="fft")
    return int(correlation_lags(x.size, ref.size, mode="full")[np.argmax(cc)])


# ----------------------------------------------------------------------------------- frame rate


def test_constant_25fps_is_identity(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=30)
    clip = load_clip(path)
    assert clip.frames.shape == (30, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert _indices(clip) == list(range(30))
    assert clip.audio.shape == (30 * SR // FPS,) and clip.audio.dtype == np.float32
    assert clip.fps == 25.0 and clip.sample_rate == SR and clip.source_fps == 25.0
    assert clip.duration == pytest.approx(30 / 25)
    assert clip.has_audio and clip.warnings == []


def test_30fps_resampled_to_25_by_timestamp(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=30, n_frames=45)  # 1.5 s
    clip = load_clip(path)
    assert clip.source_fps == pytest.approx(30.0)
    assert clip.n_frames == round(1.5 * 25)
    # output frame i (time i/25) shows the latest source frame j with j/30 <= i/25
    expected = [math.floor(i * 30 / 25 + 1e-9) for i in range(clip.n_frames)]
    assert _indices(clip) == expected
    assert 5 not in _indices(clip) and 6 in _indices(clip)  # dropped / kept as the rule says
    assert clip.audio.size == clip.n_frames * 640


def test_50fps_takes_every_other_frame(tmp_path):
    path = write_test_video(tmp_path / "a.mkv", fps=50, n_frames=40)
    clip = load_clip(path)
    assert _indices(clip) == list(range(0, 40, 2))


def test_variable_frame_rate_uses_pts(tmp_path):
    pts = [0.0, 0.03, 0.05, 0.20, 0.21, 0.30, 0.45]
    path = write_test_video(tmp_path / "v.mp4", fps=25, n_frames=len(pts), vfr_pts=pts)
    clip = load_clip(path)
    for i, j in enumerate(_indices(clip)):
        t = i / 25
        assert j == max(k for k, p in enumerate(pts) if p <= t + 1e-9), (i, t, j)
    assert any("variable frame rate" in w for w in clip.warnings)
    assert clip.n_frames >= round(0.45 * 25)  # last source frame is shown


def test_max_side_downscales_keeping_aspect(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=5, size=(128, 64))
    clip = load_clip(path, max_side=32)
    assert clip.frames.shape == (5, 16, 32, 3)
    assert _indices(clip) == list(range(5))  # the grey-level code survives the downscale


# ----------------------------------------------------------------------------------------- audio


def test_stereo_44k_to_16k_mono_preserves_sine(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=50, audio_rate=44100, channels=2,
                            audio_fn=sine(440.0, 0.5))
    clip = load_clip(path)
    x = clip.audio[SR // 4 : -SR // 4]  # away from codec edges
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freq = np.fft.rfftfreq(x.size, 1 / SR)[np.argmax(spec)]
    assert freq == pytest.approx(440.0, abs=2.0)
    assert np.max(np.abs(x)) == pytest.approx(0.5, abs=0.03)  # channel mean, not a sqrt(2) downmix
    assert np.sqrt(np.mean(x**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


def test_stereo_channels_are_averaged(tmp_path):
    # left = sine, right = silence -> mono is half the sine
    fn = lambda t: np.stack([0.6 * np.sin(2 * np.pi * 300 * t), np.zeros_like(t)], axis=1)  # noqa: E731
    path = write_test_video(tmp_path / "a.mkv", fps=25, n_frames=25, audio_rate=48000, channels=2,
                            audio_fn=fn, audio_codec="pcm_s16le")
    x = load_clip(path).audio[2000:-2000]
    assert np.max(np.abs(x)) == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_audio_starting_later_gets_leading_zeros(tmp_path, suffix):
    ref, fn = _noise(2.0)
    codec = "mpeg4" if suffix == ".avi" else "libx264"
    path = write_test_video(tmp_path / f"a{suffix}", fps=25, n_frames=50, audio_fn=fn, audio_start=0.12,
                            video_codec=codec)
    clip = load_clip(path)
    assert _lag(clip.audio, ref[:SR]) == round(0.12 * SR)  # 1920 samples
    # nothing before the audio stream starts (mp4: AAC priming is decoded from 0.056 s on, near-silent)
    assert np.all(clip.audio[: round(0.05 * SR)] == 0.0)
    lead, body = clip.audio[: round(0.11 * SR)], clip.audio[round(0.13 * SR) :]
    assert np.sqrt(np.mean(lead**2)) < 0.2 * np.sqrt(np.mean(body**2))
    assert clip.audio.size == 50 * 640


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_audio_starting_earlier_is_trimmed(tmp_path, suffix):
    ref, fn = _noise(2.5)
    path = write_test_video(tmp_path / f"a{suffix}", fps=25, n_frames=50, audio_fn=fn, audio_start=-0.2,
                            audio_duration=2.5)
    clip = load_clip(path)
    assert clip.av_offset == pytest.approx(-0.2, abs=1e-3)
    # output sample 0 is the audio at video start = source sample 0.2 * SR
    assert _lag(clip.audio, ref[round(0.2 * SR) : round(0.2 * SR) + SR]) == 0
    assert clip.audio.size == 50 * 640


def test_no_audio_stream(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=10, audio_rate=None)
    with pytest.raises(NoAudioError) as err:
        load_clip(path)
    assert str(path) in str(err.value) and err.value.reason == "no-audio"
    clip = load_clip(path, require_audio=False)
    assert not clip.has_audio and clip.n_frames == 10
    assert clip.audio.shape == (10 * 640,) and not clip.audio.any()


def test_audio_shorter_than_video_is_padded_and_reported(tmp_path):
    path = write_test_video(tmp_path / "a.mkv", fps=25, n_frames=50, audio_duration=1.0, audio_codec="pcm_s16le")
    clip = load_clip(path)
    assert clip.audio.size == 50 * 640
    assert not clip.audio[SR + 10 :].any() and clip.audio[: SR - 10].any()
    assert any("audio ends" in w for w in clip.warnings)


# ---------------------------------------------------------------------------------- start / span


def test_start_and_duration(tmp_path):
    ref, fn = _noise(3.0)
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=75, audio_fn=fn)
    clip = load_clip(path, start=1.0, duration=0.8)
    assert _indices(clip) == list(range(25, 45))
    assert clip.start == pytest.approx(1.0) and clip.audio.size == 20 * 640
    assert _lag(clip.audio, ref[SR : SR + 8000]) == 0


# -------------------------------------------------------------------------------------- streaming


def test_chunks_concatenate_to_load_clip(tmp_path):
    ref, fn = _noise(3.0)
    path = write_test_video(tmp_path / "a.mp4", fps=30, n_frames=80, audio_rate=44100, audio_fn=fn,
                            audio_start=0.08)
    whole = load_clip(path)
    chunks = list(iter_clip_chunks(path, chunk_frames=7))
    assert [c.n_frames for c in chunks[:-1]] == [7] * (len(chunks) - 1) and 1 <= chunks[-1].n_frames <= 7
    assert [c.start for c in chunks] == pytest.approx([7 * k / 25 for k in range(len(chunks))])
    np.testing.assert_array_equal(np.concatenate([c.frames for c in chunks]), whole.frames)
    np.testing.assert_array_equal(np.concatenate([c.audio for c in chunks]), whole.audio)
    for c in chunks:
        assert c.audio.size == c.n_frames * 640


def test_chunks_are_lazy(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=60)
    it = iter_clip_chunks(path, chunk_frames=10)
    first = next(it)
    assert first.n_frames == 10 and _indices(first) == list(range(10))
    it.close()  # closing early releases the file without decoding the rest


# ----------------------------------------------------------------------------------------- errors


def test_zero_bytes(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty"):
        load_clip(path)
    with pytest.raises(EmptyFileError):
        probe(path)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(NotMediaError) as err:
        load_clip(path)
    assert str(path) in str(err.value) and err.value.reason == "not-media"


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        load_clip(tmp_path / "nope.mp4")


def test_truncated_moov_at_end(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=50)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.5)])
    with pytest.raises(CorruptMediaError, match="moov"):
        load_clip(cut)
    with pytest.raises(CorruptMediaError):
        probe(cut)


def test_truncated_faststart_fails_mid_decode_or_partial(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=50, container_options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.5)])
    with pytest.raises(CorruptMediaError, match=r"after \d+ source frames"):
        load_clip(cut)
    clip = load_clip(cut, allow_partial=True)
    assert 0 < clip.n_frames < 50
    assert _indices(clip) == list(range(clip.n_frames))
    assert clip.audio.size == clip.n_frames * 640
    assert any("partial decode" in w for w in clip.warnings)


def test_truncated_matroska_detected_from_duration_tag(tmp_path):
    path = write_test_video(tmp_path / "a.mkv", fps=25, n_frames=50)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptMediaError, match="truncated"):
        load_clip(cut)


def test_audio_longer_than_video_is_not_truncation(tmp_path):
    path = write_test_video(tmp_path / "a.mkv", fps=25, n_frames=25, audio_duration=3.0)
    clip = load_clip(path)
    assert clip.n_frames == 25 and clip.audio.size == 25 * 640 and clip.warnings == []


def test_corrupt_header_is_corrupt_not_notmedia(tmp_path):
    path = tmp_path / "junk.mkv"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 4)
    with pytest.raises(CorruptMediaError):
        load_clip(path)


def test_no_video_stream(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", video_codec=None)
    with pytest.raises(NoVideoError):
        load_clip(path)
    assert probe(path)["video"] is None and probe(path)["audio"]["sample_rate"] == SR


def test_unsupported_codec(tmp_path):
    path = write_test_video(tmp_path / "a.avi", fps=25, n_frames=5, video_codec="mpeg4")
    data = path.read_bytes()
    assert data.count(b"FMP4") >= 1
    bad = tmp_path / "bad.avi"
    bad.write_bytes(data.replace(b"FMP4", b"ZZZZ"))  # unknown FourCC
    with pytest.raises(UnsupportedCodecError) as err:
        load_clip(bad)
    assert err.value.reason == "unsupported-codec"


def test_probe_reports_streams(tmp_path):
    path = write_test_video(tmp_path / "a.mkv", fps=30, n_frames=30, size=(64, 48), audio_rate=44100,
                            channels=2, audio_start=0.1)
    info = probe(path)
    assert info["video"]["width"] == 64 and info["video"]["height"] == 48
    assert info["video"]["fps"] == pytest.approx(30.0)
    assert info["audio"]["sample_rate"] == 44100 and info["audio"]["channels"] == 2
    assert info["av_offset"] == pytest.approx(0.1, abs=1e-3)


def test_bad_arguments(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", fps=25, n_frames=5)
    with pytest.raises(ValueError):
        list(iter_clip_chunks(path, chunk_frames=0))
    with pytest.raises(ValueError):
        load_clip(path, start=-1.0)
    with pytest.raises(MediaError, match="after the end"):
        load_clip(path, start=5.0)


@pytest.mark.parametrize("rotation", [90, 180, -90])
def test_display_rotation_is_applied(tmp_path, rotation):
    from avanomaly.io.testing import index_to_levels

    path = write_test_video(tmp_path / "r.mp4", fps=25, n_frames=3, size=(64, 32), rotation=rotation)
    clip = load_clip(path)
    frame = clip.frames[1]
    top, bottom = index_to_levels(1)  # stored frame: top half `top`, bottom half `bottom`
    k = (rotation // 90) % 4
    assert frame.shape == ((64, 32, 3) if k % 2 else (32, 64, 3))
    stored = np.rot90(frame, k=-k)  # undo the counter-clockwise turn: back to the stored layout
    assert stored.shape == (32, 64, 3)
    assert abs(stored[:8].mean() - top) <= 2 and abs(stored[-8:].mean() - bottom) <= 2
    assert any("rotates" in w for w in clip.warnings)


def test_streaming_memory_is_bounded(tmp_path):
    import tracemalloc

    n_frames, size, chunk = 300, (64, 64), 10
    path = write_test_video(tmp_path / "long.mp4", fps=25, n_frames=n_frames, size=size, video_codec="mpeg4",
                            frame_fn=lambda i, s: np.full((s[1], s[0], 3), (i * 7) % 200 + 20, np.uint8))
    whole_bytes = n_frames * size[0] * size[1] * 3 + n_frames * 640 * 4  # what load_clip would hold
    chunks = iter_clip_chunks(path, chunk_frames=chunk)
    n = next(chunks).n_frames  # warm-up outside the measurement (lazy imports, decoder set-up)
    tracemalloc.start()
    try:
        for c in chunks:
            n += c.n_frames
            del c
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == n_frames
    assert peak < whole_bytes / 10, (peak, whole_bytes)  # about one chunk, not the file


def test_missing_path_and_directory_are_not_found_errors(tmp_path):
    from avanomaly.errors import MediaError, MissingFileError
    from avanomaly.io import load_clip

    for p in (tmp_path / "nope.mp4", tmp_path):
        with pytest.raises(MissingFileError) as exc:
            load_clip(p)
        assert isinstance(exc.value, MediaError) and exc.value.reason == "not-found" and str(p) in str(exc.value)


def _packages() -> list[str]:
    """avanomaly and every package under it (each folder with an ``__init__.py``)."""
    from pathlib import Path

    import avanomaly

    root = Path(avanomaly.__file__).resolve().parent
    return sorted(".".join(("avanomaly", *p.parent.relative_to(root).parts)) for p in root.rglob("__init__.py"))


@pytest.mark.parametrize("package", _packages())
def test_every_public_name_of_every_package_imports(package):
    """Each package declares its public names in ``__all__``, and each of them imports (lazy ones included)."""
    import importlib

    mod = importlib.import_module(package)
    assert mod.__all__, f"{package} declares no public names"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{package}.{name}"
    ns: dict = {}
    exec(f"from {package} import *", ns)
    assert set(mod.__all__) <= set(ns)


def test_the_facade_exports_the_entry_points():
    import avanomaly

    assert {"__version__", "Detector", "load_clip"} <= set(avanomaly.__all__)
    assert {"avanomaly.data", "avanomaly.models", "avanomaly.evaluation.baselines"} <= set(_packages())


# ------------------------------------------------------------------- odd real-world files (issue 16)
def test_file_without_container_duration_decodes_fully(tmp_path):
    """Written to a pipe (non-seekable): the Matroska muxer cannot store a duration; every frame and all audio
    still decode, with no truncation warning."""
    path = write_test_video(tmp_path / "piped.mkv", n_frames=60, streamed=True, audio_fn=sine(300.0, 0.5))
    assert probe(path)["duration"] is None  # really no container duration
    clip = load_clip(path)
    assert clip.n_frames == 60 and _indices(clip) == list(range(60))
    assert clip.audio.shape == (60 * SR // FPS,)
    assert not any("truncat" in w for w in clip.warnings)


def test_4k_frames_are_downscaled_keeping_aspect(tmp_path):
    path = write_test_video(tmp_path / "uhd.mp4", n_frames=3, size=(3840, 2160))
    assert (probe(path)["video"]["width"], probe(path)["video"]["height"]) == (3840, 2160)
    clip = load_clip(path, max_side=512)
    assert clip.frames.shape == (3, 288, 512, 3)
    assert _indices(clip) == [0, 1, 2]


def test_48k_stereo_aac_in_mp4(tmp_path):
    fn = lambda t: np.stack([0.4 * np.sin(2 * np.pi * 500 * t)] * 2, axis=1)  # noqa: E731
    path = write_test_video(tmp_path / "phone.mp4", n_frames=50, audio_rate=48000, channels=2, audio_fn=fn)
    assert probe(path)["audio"]["sample_rate"] == 48000 and probe(path)["audio"]["channels"] == 2
    clip = load_clip(path)
    x = clip.audio[SR // 4: -SR // 4]
    freq = np.fft.rfftfreq(x.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(x * np.hanning(x.size))))]
    assert freq == pytest.approx(500.0, abs=2.0) and np.max(np.abs(x)) == pytest.approx(0.4, abs=0.03)


def test_still_image_named_mp4_is_not_media(tmp_path):
    import av

    png = tmp_path / "photo.png"
    with av.open(str(png), "w", format="image2") as out:
        s = out.add_stream("png")
        s.width, s.height, s.pix_fmt = 32, 32, "rgb24"
        for pkt in s.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            out.mux(pkt)
        for pkt in s.encode(None):
            out.mux(pkt)
    named = tmp_path / "photo.mp4"
    named.write_bytes(png.read_bytes())
    for p in (named, png):
        with pytest.raises(NotMediaError, match="still image") as err:
            load_clip(p)
        assert err.value.reason == "not-media"


def test_symlink_loop_and_overlong_name_have_their_own_reasons(tmp_path):
    from avanomaly.errors import BadPathError, PathTooLongError

    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(BadPathError) as err:
        load_clip(a)
    assert err.value.reason == "symlink-loop" and str(a) in str(err.value)
    long = tmp_path / ("x" * 300 + ".mp4")
    with pytest.raises(PathTooLongError) as err:
        load_clip(long)
    assert err.value.reason == "path-too-long" and "NAME_MAX" in str(err.value)


def test_folder_scan_lists_every_skipped_path(tmp_path):
    from avanomaly.io.scan import scan_inputs

    write_test_video(tmp_path / "clip.mp4", n_frames=2)
    (tmp_path / "voice.m4a").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "loop.mp4").symlink_to(tmp_path / "loop2.mp4")
    (tmp_path / "loop2.mp4").symlink_to(tmp_path / "loop.mp4")
    (tmp_path / "dangling.mp4").symlink_to(tmp_path / "gone.mp4")
    (tmp_path / "folder.mp4").mkdir()
    write_test_video(tmp_path / "folder.mp4" / "inner.mkv", n_frames=2)
    (tmp_path / "again").symlink_to(tmp_path)  # a cycle through a folder link
    res = scan_inputs([tmp_path, tmp_path / "clip.mp4"])
    assert res.paths == [str(tmp_path / "clip.mp4"), str(tmp_path / "folder.mp4" / "inner.mkv")]
    skipped = dict(res.skipped)
    assert "audio-only" in skipped[str(tmp_path / "voice.m4a")]
    assert "not a video" in skipped[str(tmp_path / "notes.txt")]
    assert "loop" in skipped[str(tmp_path / "loop.mp4")] and "loop" in skipped[str(tmp_path / "loop2.mp4")]
    assert "broken" in skipped[str(tmp_path / "dangling.mp4")]
    assert "folder named like a video" in skipped[str(tmp_path / "folder.mp4")]
    assert "not followed" in skipped[str(tmp_path / "again")]
    # an explicit path is always kept (it fails later with its reason), even a loop
    assert scan_inputs([tmp_path / "loop.mp4"]).paths == [str(tmp_path / "loop.mp4")]


def test_a_seek_the_demuxer_refuses_falls_back_to_the_start():
    """`_seek` once named `av` without importing it, so a refused seek raised NameError instead of rewinding."""
    import av

    from avanomaly.io.container import _seek

    class Refusing:
        def __init__(self):
            self.calls = []

        def seek(self, offset, **kwargs):
            self.calls.append(offset)
            if offset:
                raise av.error.FFmpegError(1, "refused")

    c = Refusing()
    _seek(c, 1.5)
    assert c.calls == [1_500_000, 0]


def test_the_decoders_names_stay_importable_from_decode_and_io():
    """io/decode.py was cut into one module per job (issue 24): users' ``from avanomaly.io.decode import ...`` and
    ``from avanomaly.io import ...`` lines must keep working, naming the same objects."""
    import avanomaly.io
    import avanomaly.io.decode as decode

    before_the_split = ["Clip", "load_clip", "iter_clip_chunks", "probe", "scan_duration", "check_length",
                        "declared_seconds", "fold_warnings", "check_media_path", "display_size",
                        "stream_sample_aspect_ratio", "DEFAULT_FPS", "DEFAULT_SAMPLE_RATE", "DEFAULT_CHUNK_FRAMES",
                        "DECLARED_SLACK_S", "TRUNCATION_TOLERANCE_S", "PARTIAL_HINT", "SAR_RANGE"]
    missing = [n for n in before_the_split if not hasattr(decode, n)]
    assert not missing, missing
    assert set(before_the_split) <= set(decode.__all__)
    for name in avanomaly.io.__all__:
        assert getattr(avanomaly.io, name) is getattr(decode, name), name
