"""Synthetic test videos written with PyAV (for tests of every layer; no ffmpeg binary needed).

``write_test_video`` writes a tiny clip whose content is known exactly:

- each video frame ``i`` codes its index in the grey levels of its top and bottom halves by default
  (``default_frame_fn``), so a decoded frame tells which source frame it came from (``intensity_to_index``);
- the audio is ``audio_fn(t)`` sampled at ``audio_rate`` (default: a 440 Hz sine at amplitude 0.5);
- frame timestamps may be irregular (``vfr_pts``) and the audio stream may start later or earlier than
  the video (``audio_start``), which is written into the container as stream start times.

Video is lossless by default (libx264 ``qp=0``) so pixel values survive; use ``video_codec="mpeg4"``
for a lossy, faster codec.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

#: frame i is coded as two flat grey halves: top = level(i % INDEX_RADIX), bottom = level(i // INDEX_RADIX),
#: with level(d) = INDEX_BASE + INDEX_STEP * d, inside video "limited range" (16..235). A step of 6 grey
#: levels survives YUV round trips and downscaling (which move levels by 1-2).
INDEX_BASE = 16
INDEX_STEP = 6
INDEX_RADIX = (235 - INDEX_BASE) // INDEX_STEP + 1  # 37 levels per half
INDEX_MAX_FRAMES = INDEX_RADIX * INDEX_RADIX  # 1369 frames

DEFAULT_SINE_HZ = 440.0
DEFAULT_AMPLITUDE = 0.5
#: timestamps are written with this time base (1 ms ticks for VFR, 1/(fps) multiples otherwise)
VFR_TIME_BASE = Fraction(1, 1000)
AUDIO_BLOCK = 1024  # samples per audio frame handed to the encoder

_DEFAULT_AUDIO_CODEC = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".mkv": "aac", ".avi": "pcm_s16le"}
_AUDIO_FORMAT = {"aac": "fltp", "pcm_s16le": "s16", "mp3": "fltp", "libmp3lame": "fltp", "libopus": "flt"}


def index_to_levels(i: int) -> tuple[int, int]:
    """(top, bottom) grey levels written for source frame ``i`` by the default ``frame_fn``."""
    if not 0 <= i < INDEX_MAX_FRAMES:
        raise ValueError(f"frame index {i} out of range 0..{INDEX_MAX_FRAMES - 1} for the intensity code")
    return INDEX_BASE + INDEX_STEP * (i % INDEX_RADIX), INDEX_BASE + INDEX_STEP * (i // INDEX_RADIX)


def _level_to_digit(mean: float) -> int:
    return int(round((mean - INDEX_BASE) / INDEX_STEP))


def intensity_to_index(frame: np.ndarray) -> int:
    """Source frame index coded in a decoded (possibly resized) frame (H, W[, 3]) by ``default_frame_fn``."""
    h = frame.shape[0]
    q = max(1, h // 4)
    top = _level_to_digit(float(np.mean(frame[:q])))  # top quarter: far from the halves' border
    bottom = _level_to_digit(float(np.mean(frame[h - q :])))
    return top + INDEX_RADIX * bottom


def default_frame_fn(i: int, size: tuple[int, int]) -> np.ndarray:
    """RGB frame (H, W, 3) uint8 coding index ``i`` in the grey levels of its top and bottom halves."""
    w, h = size
    top, bottom = index_to_levels(i)
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[: h // 2] = top
    img[h // 2 :] = bottom
    return img


#: container formats ``write_test_video(streamed=True)`` can write to a non-seekable stream, by suffix
STREAMED_FORMATS = {".mkv": "matroska", ".webm": "webm", ".ts": "mpegts"}
#: ``moving_mouth_frame_fn``: frames per open-close cycle of the dark centre bar, and its largest half-height
#: (fraction of the frame height)
MOUTH_CYCLE_FRAMES = 6
MOUTH_MAX_HALF_HEIGHT = 0.15


def moving_mouth_frame_fn(i: int, size: tuple[int, int]) -> np.ndarray:
    """``default_frame_fn`` plus a dark bar across the centre that opens and closes every
    ``MOUTH_CYCLE_FRAMES`` frames: visible "mouth motion" for tests that need it (the index still decodes)."""
    w, h = size
    img = default_frame_fn(i, size)
    half = int(round(MOUTH_MAX_HALF_HEIGHT * h * 0.5 * (1 - np.cos(2 * np.pi * i / MOUTH_CYCLE_FRAMES))))
    if half:
        img[h // 2 - half: h // 2 + half, w // 4: 3 * w // 4] = 0
    return img


def sine(freq: float = DEFAULT_SINE_HZ, amplitude: float = DEFAULT_AMPLITUDE) -> Callable[[np.ndarray], np.ndarray]:
    """audio_fn giving ``amplitude * sin(2 pi freq t)`` on every channel."""

    def fn(t: np.ndarray) -> np.ndarray:
        return amplitude * np.sin(2.0 * np.pi * freq * t)

    return fn


#: speech_like: syllables of a fricative burst + a voiced vowel (+ a short pause), seconds
SYLLABLE_SECONDS = 0.22
CONSONANT_SECONDS = 0.05
PAUSE_SECONDS = 0.03
#: speech_like vowels: first three formants (Hz) of /a i u e o ae/
VOWEL_FORMANTS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410),
                  (660, 1720, 2410))
FORMANT_BANDWIDTHS = (80, 100, 140)


def speech_like(seconds: float, seed: int = 0, sample_rate: int = 16000, f0: float = 130.0) -> np.ndarray:
    """Synthetic babble a voice-activity model takes for speech (Silero VAD: speech on ~99 % of it), float32 (N,)
    peaking at 0.3: syllables of a high-passed noise burst (a fricative), a vowel (a glottal pulse train at ``f0``
    with a wandering pitch through three formant resonators) and a short pause. No words, no real voice: for tests
    that need "audio with speech" without shipping a recording."""
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    out = np.zeros(n)
    hp_b, hp_a = butter(2, 2500 / (sample_rate / 2), "high")
    pos = 0
    while pos < n:
        c = int(CONSONANT_SECONDS * sample_rate)
        g = int(PAUSE_SECONDS * sample_rate)
        v = max(int(rng.uniform(0.8, 1.2) * SYLLABLE_SECONDS * sample_rate) - c - g, 16)
        burst = lfilter(hp_b, hp_a, rng.normal(size=c)) * 0.15 * np.hanning(c)
        t = np.arange(v) / sample_rate
        pitch = f0 * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 3) * t + rng.uniform(0, 6)))
        src = (np.mod(np.cumsum(2 * np.pi * pitch / sample_rate), 2 * np.pi) < 0.8) + 0.02 * rng.normal(size=v)
        src = lfilter([1.0], [1.0, -0.9], src)
        vowel = np.zeros(v)
        for f, bw in zip(VOWEL_FORMANTS[rng.integers(len(VOWEL_FORMANTS))], FORMANT_BANDWIDTHS):
            r, th = np.exp(-np.pi * bw / sample_rate), 2 * np.pi * f / sample_rate
            vowel += lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], src)
        vowel *= np.hanning(v) ** 0.5 / (np.abs(vowel).max() + 1e-9)
        seg = np.concatenate([burst, vowel, np.zeros(g)])[: n - pos]
        out[pos:pos + seg.size] = seg
        pos += seg.size
    return (0.3 * out / (np.abs(out).max() + 1e-9)).astype(np.float32)


def speech_like_fn(seconds: float = 20.0, seed: int = 0, sample_rate: int = 16000):
    """An ``audio_fn`` for :func:`write_test_video` playing :func:`speech_like` (``seconds`` of it, then silence)."""
    x = speech_like(seconds, seed, sample_rate)

    def fn(t: np.ndarray) -> np.ndarray:
        i = np.round(np.asarray(t) * sample_rate).astype(np.int64)
        return np.where(i < x.size, x[np.clip(i, 0, x.size - 1)], 0.0)

    return fn


def write_test_video(
    path,
    fps: float = 25,
    n_frames: int = 25,
    size: tuple[int, int] = (64, 64),
    audio_rate: int | None = 16000,
    channels: int = 1,
    audio_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    vfr_pts: Sequence[float] | None = None,
    audio_start: float = 0.0,
    video_codec: str | None = "libx264",
    frame_fn: Callable[[int, tuple[int, int]], np.ndarray] | None = None,
    audio_duration: float | None = None,
    audio_codec: str | None = None,
    container_options: dict[str, str] | None = None,
    rotation: int = 0,
    streamed: bool = False,
    audio_gaps: Sequence[tuple[float, float]] | None = None,
    sample_aspect_ratio: Fraction | None = None,
) -> Path:
    """Write a small synthetic audio-video file and return its path.

    Args:
        path: output file; the container is chosen from the suffix (.mp4, .avi, .mkv, .mov).
        fps: nominal frame rate (constant-rate timestamps ``i / fps`` unless ``vfr_pts`` is given).
        n_frames: number of video frames.
        size: (width, height); must be even for libx264.
        audio_rate: audio sample rate; ``None`` writes no audio stream.
        channels: 1 (mono) or 2 (stereo).
        audio_fn: maps times in seconds (N,) -> samples (N,) or (N, channels) in [-1, 1];
            default a 440 Hz sine at 0.5. Time 0 is the first audio sample.
        vfr_pts: explicit presentation times in seconds, one per frame (variable frame rate).
        audio_start: audio stream start minus video stream start, seconds. Positive: audio begins
            later; negative: the video begins later (the audio starts at 0). In .avi a positive
            offset becomes leading silence (same signal timing, stream start 0).
        video_codec: "libx264" (lossless qp=0), "mpeg4", "ffv1", ...; ``None`` writes no video stream.
        frame_fn: ``frame_fn(i, size) -> (H, W, 3) uint8``; default ``default_frame_fn``.
        audio_duration: seconds of audio; default the video duration ``n_frames / fps``.
        audio_codec: default aac for .mp4/.mov/.mkv, pcm_s16le for .avi.
        container_options: muxer options, e.g. ``{"movflags": "faststart"}`` (moov atom first, so a
            truncated copy still opens and fails mid-decode).
        rotation: display rotation (degrees counter-clockwise, multiple of 90) stored in the container's
            display matrix, as phones do for portrait video; pixels are stored unrotated.
        streamed: write through a non-seekable stream, as a pipe does (``ffmpeg ... -f matroska - > f.mkv``):
            the muxer cannot go back to store the duration, so the file has no container duration
            (``STREAMED_FORMATS`` only).
        audio_gaps: ``(at, seconds)`` pairs: the audio timestamps jump forward by ``seconds`` from the first audio
            block (AUDIO_BLOCK samples) that starts at or after ``at`` seconds of signal, as in a stream with lost
            packets; no samples are written for the gap (the decoder fills it with zeros and warns).
        sample_aspect_ratio: the pixels' shape (width / height of one pixel) stored in the stream, as anamorphic
            video (DV, broadcast, squeezed web copies) has: ``Fraction(2, 1)`` shows a 160x96 picture as 320x96.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_fn = frame_fn or default_frame_fn
    audio_fn = audio_fn or sine()
    if vfr_pts is not None and len(vfr_pts) != n_frames:
        raise ValueError(f"vfr_pts has {len(vfr_pts)} entries for {n_frames} frames")
    if path.suffix.lower() == ".avi" and audio_start < 0:
        raise ValueError("AVI cannot store a video stream that starts after the audio; use .mp4 or .mkv")
    video_offset = max(0.0, -audio_start)
    audio_offset = max(0.0, audio_start)
    if audio_duration is None:
        audio_duration = n_frames / fps

    if streamed and path.suffix.lower() not in STREAMED_FORMATS:
        raise ValueError(f"streamed=True writes {', '.join(STREAMED_FORMATS)} only, got {path.suffix}")
    sink = NonSeekableWriter(open(path, "wb")) if streamed else None
    target = sink if streamed else str(path)
    fmt = STREAMED_FORMATS[path.suffix.lower()] if streamed else None
    try:
        _write(av.open(target, mode="w", format=fmt, options=container_options or {}), path, fps, n_frames, size,
               audio_rate, channels, audio_fn, vfr_pts, video_codec, frame_fn, audio_duration, audio_codec,
               rotation, video_offset, audio_offset, audio_gaps or (), sample_aspect_ratio)
    finally:
        if sink is not None:
            sink.raw.close()
    return path


class NonSeekableWriter(io.RawIOBase):
    """A write-only file that cannot seek (what a muxer writing to a pipe sees: it cannot go back to fill in the
    duration, cues or index, as with ``ffmpeg ... -f matroska - > out.mkv``)."""

    def __init__(self, raw):
        self.raw = raw

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, b) -> int:
        return self.raw.write(b)


def _write(container, path, fps, n_frames, size, audio_rate, channels, audio_fn, vfr_pts, video_codec, frame_fn,
           audio_duration, audio_codec, rotation, video_offset, audio_offset, audio_gaps=(),
           sample_aspect_ratio=None) -> None:
    import av

    with container as out:
        vstream = astream = None
        if video_codec is not None:
            rate = Fraction(fps).limit_denominator(1001)
            vstream = out.add_stream(video_codec, rate=rate)
            vstream.width, vstream.height = size
            vstream.pix_fmt = "yuv420p" if video_codec in ("libx264", "mpeg4") else "yuv444p"
            if video_codec == "libx264":
                vstream.options = {"qp": "0", "preset": "ultrafast"}
            elif video_codec == "mpeg4":
                vstream.options = {"qscale": "2"}
                vstream.codec_context.qmin = 2
                vstream.codec_context.qmax = 2
            vstream.codec_context.time_base = VFR_TIME_BASE if vfr_pts is not None else 1 / rate
            vstream.time_base = vstream.codec_context.time_base
            if rotation:
                vstream.set_display_rotation(rotation)
            if sample_aspect_ratio is not None:
                vstream.codec_context.sample_aspect_ratio = Fraction(sample_aspect_ratio)
                vstream.sample_aspect_ratio = Fraction(sample_aspect_ratio)
        if audio_rate is not None:
            codec = audio_codec or _DEFAULT_AUDIO_CODEC.get(path.suffix.lower(), "aac")
            astream = out.add_stream(codec, rate=audio_rate)
            astream.layout = "mono" if channels == 1 else "stereo"
            astream.time_base = Fraction(1, audio_rate)
            astream.codec_context.time_base = Fraction(1, audio_rate)

        # -- video
        if vstream is not None:
            tb = vstream.codec_context.time_base
            for i in range(n_frames):
                img = np.ascontiguousarray(frame_fn(i, size))
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                t = (vfr_pts[i] if vfr_pts is not None else i / fps) + video_offset
                frame.pts = int(round(t / tb))
                frame.time_base = tb
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)

        # -- audio
        if astream is not None:
            fmt = _AUDIO_FORMAT.get(astream.codec_context.name, "fltp")
            n_total = int(round(audio_duration * audio_rate))
            start_pts = int(round(audio_offset * audio_rate))
            lead_silence = 0
            if path.suffix.lower() == ".avi" and start_pts > 0:
                lead_silence, start_pts = start_pts, 0
                n_total += lead_silence
            for s0 in range(0, n_total, AUDIO_BLOCK):
                n = min(AUDIO_BLOCK, n_total - s0)
                idx = s0 + np.arange(n) - lead_silence  # sample index in the audio_fn signal
                data = np.asarray(audio_fn(np.maximum(idx, 0) / audio_rate), dtype=np.float64)
                if data.ndim == 1:
                    data = np.repeat(data[:, None], channels, axis=1)
                data = np.where((idx >= 0)[:, None], data, 0.0)
                data = np.clip(data, -1.0, 1.0)  # (n, C)
                planar = np.ascontiguousarray(data.T.astype(np.float32))  # (C, n)
                frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=astream.layout.name)
                frame.sample_rate = audio_rate
                frame.pts = start_pts + s0 + sum(int(round(g * audio_rate)) for at, g in audio_gaps
                                                 if s0 >= at * audio_rate)
                frame.time_base = Fraction(1, audio_rate)
                if fmt != "fltp":
                    frame = _convert_audio(frame, fmt, astream.layout.name, audio_rate)
                for packet in astream.encode(frame):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)


def _convert_audio(frame, fmt: str, layout: str, rate: int):
    """Convert a float planar frame to ``fmt`` keeping its pts (s16 for PCM)."""
    import av

    data = frame.to_ndarray()  # (C, n) float32
    if fmt == "s16":
        arr = np.round(np.clip(data, -1.0, 1.0) * 32767.0).astype(np.int16)
        packed = np.ascontiguousarray(arr.T.reshape(1, -1))  # (1, n*C) interleaved
        new = av.AudioFrame.from_ndarray(packed, format="s16", layout=layout)
    elif fmt == "flt":
        packed = np.ascontiguousarray(data.T.reshape(1, -1).astype(np.float32))
        new = av.AudioFrame.from_ndarray(packed, format="flt", layout=layout)
    else:
        raise ValueError(f"unsupported audio sample format {fmt}")
    new.sample_rate = rate
    new.pts = frame.pts
    new.time_base = frame.time_base
    return new


def downscale_video(src, dst, size: tuple[int, int], crf: int = 23, max_seconds: float | None = None) -> Path:
    """Re-encode ``src`` with its video resized to ``size`` (width, height; even for libx264) and its audio kept
    (as PCM), into ``dst`` (Matroska): a low-resolution copy of a real clip for out-of-domain tests.
    ``max_seconds``: keep only the start."""
    import av

    dst = Path(dst)
    with av.open(str(src)) as cin, av.open(str(dst), "w", format="matroska") as out:
        vin = cin.streams.video[0]
        ain = cin.streams.audio[0] if cin.streams.audio else None
        from fractions import Fraction

        rate = Fraction(vin.average_rate or 25).limit_denominator(1001)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = int(size[0]), int(size[1]), "yuv420p"
        vout.options = {"crf": str(crf)}
        aout = out.add_stream("pcm_s16le", rate=ain.rate) if ain is not None else None
        if aout is not None:
            aout.layout = "mono"
            resampler = av.AudioResampler(format="s16", layout="mono", rate=ain.rate)
        n = 0
        for packet in cin.demux(*(s for s in (vin, ain) if s is not None)):
            for frame in packet.decode():
                if frame.time is not None and max_seconds is not None and frame.time > max_seconds:
                    continue
                if packet.stream is vin:
                    small = frame.reformat(width=int(size[0]), height=int(size[1]), format="yuv420p")
                    small.pts, n = n, n + 1
                    small.time_base = 1 / rate
                    out.mux(vout.encode(small))
                else:
                    for f in resampler.resample(frame):
                        f.pts = None
                        out.mux(aout.encode(f))
        out.mux(vout.encode(None))
        if aout is not None:
            out.mux(aout.encode(None))
    return dst
