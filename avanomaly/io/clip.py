"""Decoding a file into Clips with PyAV: constant-rate frames, 16 kHz mono audio aligned by stream timestamps.

Time origin: the start of the video stream (its container ``start_time``, else the first decoded
frame). Output frame ``i`` shows time ``start + i / fps``; it is the latest source frame whose
presentation time is ``<=`` that time (the first source frame when none is). Output audio sample ``k``
is the audio at time ``start + k / sample_rate``, placed by the decoded audio frames' timestamps: audio
that starts later than the video is preceded by zeros, audio that starts earlier is trimmed.

Video and audio are decoded from two independent demuxers of the same file, so memory stays bounded
whatever the interleaving of the container; only the current source frame and one output chunk live
in memory at a time.

The pieces: :mod:`~avanomaly.io.container` opens files, :mod:`~avanomaly.io.video` and
:mod:`~avanomaly.io.audio` read the two streams, :mod:`~avanomaly.io.length` refuses files that are too long;
this module puts them together as :class:`Clip` chunks (:func:`iter_clip_chunks`) or one :class:`Clip`
(:func:`load_clip`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from avanomaly.conventions import DECODE_CHUNK_FRAMES, FPS, SAMPLE_RATE
from avanomaly.errors import CorruptMediaError, NoAudioError, TooLongError, UnsupportedCodecError
from avanomaly.io.audio import _AudioReader
from avanomaly.io.container import check_media_path
from avanomaly.io.fold import fold_warnings
from avanomaly.io.length import _refuse_declared
from avanomaly.io.video import _VideoReader

DEFAULT_FPS = FPS
DEFAULT_SAMPLE_RATE = SAMPLE_RATE
DEFAULT_CHUNK_FRAMES = DECODE_CHUNK_FRAMES
#: audio ending this much earlier than the video (so padded with zeros) is reported as a warning
AUDIO_SHORT_WARN_S = 0.1


@dataclass
class Clip:
    """A decoded clip (or one chunk of a streamed clip).

    frames: (T, H, W, 3) uint8 RGB at ``fps``.
    audio: (N,) float32 mono at ``sample_rate``, ``N == T * sample_rate // fps`` (padded/trimmed).
    source_fps: the container's average video frame rate.
    duration: T / fps seconds.
    av_offset: audio stream start - video stream start, seconds (as declared in the container; 0 without audio).
    has_audio: False when the file has no audio stream (then ``audio`` is zeros).
    start: time of frame 0 relative to the video stream start, seconds (non-zero for chunks / ``start=``).
    warnings: anything unusual noticed while decoding (variable frame rate, audio gaps, partial decode...).
    """

    frames: np.ndarray
    audio: np.ndarray
    fps: float
    sample_rate: int
    source_fps: float
    duration: float
    av_offset: float
    path: str | None
    has_audio: bool
    start: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])



def _as_fraction(fps) -> Fraction:
    f = Fraction(fps).limit_denominator(1001)
    if f <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return f


def iter_clip_chunks(
    path,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    fps: float = DEFAULT_FPS,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    max_side: int | None = None,
    require_audio: bool = True,
    start: float = 0.0,
    duration: float | None = None,
    allow_partial: bool = False,
    max_seconds: float | None = None,
) -> Iterator[Clip]:
    """Decode ``path`` as consecutive Clips of ``chunk_frames`` frames (the last may be shorter).

    Memory is bounded by one chunk plus one source frame, so hour-long files are fine. Concatenating
    the chunks' ``frames`` and ``audio`` gives exactly ``load_clip(path, ...)``. Each chunk's ``start``
    is its time from the video start; its ``warnings`` are those noticed while decoding it.
    ``max_seconds``: raise ``TooLongError`` before decoding when the container declares more than this (from
    ``start``, see :func:`check_length`), and the moment the decoded video passes this many seconds whatever the
    container declares (a piped stream declares no duration); nothing later is decoded.
    """
    if chunk_frames <= 0:
        raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if max_side is not None and max_side < 2:
        raise ValueError(f"max_side must be >= 2 pixels, got {max_side}")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    import av

    path = Path(path)
    check_media_path(path)
    try:
        yield from _iter_chunks(path, chunk_frames, fps, sample_rate, max_side, require_audio, start, duration,
                                allow_partial, max_seconds)
    except av.error.FFmpegError as exc:  # last resort: never let a raw PyAV error escape
        raise CorruptMediaError(path, f"decoding failed ({type(exc).__name__}: {exc})") from exc


def _iter_chunks(path: Path, chunk_frames, fps, sample_rate, max_side, require_audio, start, duration,
                 allow_partial, max_seconds=None) -> Iterator[Clip]:
    fps_f = _as_fraction(fps)
    warnings: list[str] = []
    max_frames = int(math.floor(Fraction(duration).limit_denominator(1_000_000) * fps_f + Fraction(1, 2))) if duration else None
    limit_frames = int(math.floor(Fraction(max_seconds).limit_denominator(1_000_000) * fps_f)) if max_seconds else None
    video = _VideoReader(path, fps_f, start, max_frames, max_side, allow_partial, warnings)
    audio = None
    try:
        _refuse_declared(path, video.container, max_seconds, start, duration)  # before any frame is decoded
        has_audio = bool(video.container.streams.audio)
        if not has_audio and require_audio:
            raise NoAudioError(path, "the file has no audio stream: audio-visual scoring needs one",
                               hint="load_clip(..., require_audio=False) decodes the video with silent audio")
        av_offset = 0.0
        if has_audio:
            a = video.container.streams.audio[0]
            v = video.stream
            if a.start_time is not None and v.start_time is not None:
                av_offset = float(a.start_time * a.time_base) - float(v.start_time * v.time_base)
            try:
                audio = _AudioReader(path, sample_rate, start, video.origin, allow_partial, warnings)
            except UnsupportedCodecError as exc:
                if require_audio:
                    raise
                warnings.append(f"audio ignored ({exc.message}); silent audio used")
                has_audio = False
        frame_iter = video.frames()
        n_done = 0
        samples_done = 0
        vfr_reported = False
        exhausted = False
        while not exhausted:
            # one array per chunk, filled in place (a list + np.stack would hold the chunk twice, and the list
            # would stay alive while the consumer works on the chunk)
            buf, n_frames = None, 0
            for _ in range(chunk_frames):
                try:
                    frame = next(frame_iter)
                except StopIteration:
                    exhausted = True
                    break
                if buf is None:
                    buf = np.empty((chunk_frames, *frame.shape), dtype=frame.dtype)
                buf[n_frames] = frame
                n_frames += 1
                if limit_frames is not None and n_done + n_frames > limit_frames:  # checked on every frame
                    raise TooLongError(path, f"longer than the limit of {max_seconds:g} s (decoding stopped at "
                                             f"{(n_done + n_frames) / float(fps_f):.2f} s)")
            if not n_frames:
                break
            frames = buf[:n_frames]
            buf = None
            if not vfr_reported and (msg := video.vfr_warning()):
                warnings.append(msg)
                vfr_reported = True
            if exhausted and (msg := video.skipped_warning()):
                warnings.append(msg)
            n_end = n_done + len(frames)
            samples_end = n_end * sample_rate * fps_f.denominator // fps_f.numerator
            n_samples = samples_end - samples_done
            if audio is not None:
                if audio.origin is None:
                    audio.origin = video.origin
                chunk_audio = audio.read(n_samples)
                if audio.n_input_frames == 0 and audio.ended:
                    if require_audio:
                        raise NoAudioError(path, "the audio stream contains no decodable samples")
            else:
                chunk_audio = np.zeros(n_samples, dtype=np.float32)
            if exhausted and audio is not None:
                missing = samples_end - audio.n_decoded
                short = missing / sample_rate
                if short > AUDIO_SHORT_WARN_S and audio.n_input_frames > 0:
                    warnings.append(f"audio ends {short:.2f} s before the video; padded with zeros")
            chunk_start = float(Fraction(start).limit_denominator(1_000_000) + Fraction(n_done) / fps_f)
            chunk_warnings = list(warnings)
            warnings.clear()
            chunk = Clip(
                frames=frames,
                audio=chunk_audio.astype(np.float32, copy=False),
                fps=float(fps_f),
                sample_rate=int(sample_rate),
                source_fps=video.source_fps,
                duration=len(frames) / float(fps_f),
                av_offset=av_offset,
                path=str(path),
                has_audio=has_audio,
                start=chunk_start,
                warnings=chunk_warnings,
            )
            del frames, chunk_audio  # only the consumer holds the chunk while it works on it
            yield chunk
            del chunk
            n_done, samples_done = n_end, samples_end
    finally:
        video.close()
        if audio is not None:
            audio.close()


def load_clip(
    path,
    fps: float = DEFAULT_FPS,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    max_side: int | None = None,
    require_audio: bool = True,
    start: float = 0.0,
    duration: float | None = None,
    allow_partial: bool = False,
) -> Clip:
    """Decode a whole file (or ``[start, start + duration)`` seconds of it) into one ``Clip``.

    See the module docstring for the resampling and alignment rules and docs/decoding.md for errors.
    ``max_side`` shrinks frames during decoding so that ``max(H, W) <= max_side`` (aspect kept).
    """
    chunks = list(iter_clip_chunks(path, DEFAULT_CHUNK_FRAMES, fps, sample_rate, max_side, require_audio,
                                   start, duration, allow_partial))
    if not chunks:  # pragma: no cover - iter_clip_chunks raises instead of yielding nothing
        raise CorruptMediaError(path, "no video frame could be decoded")
    first = chunks[0]
    return Clip(
        frames=np.concatenate([c.frames for c in chunks]) if len(chunks) > 1 else first.frames,
        audio=np.concatenate([c.audio for c in chunks]) if len(chunks) > 1 else first.audio,
        fps=first.fps,
        sample_rate=first.sample_rate,
        source_fps=first.source_fps,
        duration=sum(c.n_frames for c in chunks) / first.fps,
        av_offset=first.av_offset,
        path=first.path,
        has_audio=first.has_audio,
        start=first.start,
        warnings=fold_warnings(w for c in chunks for w in c.warnings),
    )


__all__ = ["Clip", "load_clip", "iter_clip_chunks", "DEFAULT_FPS", "DEFAULT_SAMPLE_RATE", "DEFAULT_CHUNK_FRAMES"]
