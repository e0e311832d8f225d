"""Video decoding with PyAV: constant-rate frames, 16 kHz mono audio aligned by stream timestamps.

Time origin: the start of the video stream (its container ``start_time``, else the first decoded
frame). Output frame ``i`` shows time ``start + i / fps``; it is the latest source frame whose
presentation time is ``<=`` that time (the first source frame when none is). Output audio sample ``k``
is the audio at time ``start + k / sample_rate``, placed by the decoded audio frames' timestamps: audio
that starts later than the video is preceded by zeros, audio that starts earlier is trimmed.

Video and audio are decoded from two independent demuxers of the same file, so memory stays bounded
whatever the interleaving of the container; only the current source frame and one output chunk live
in memory at a time.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from avanomaly.conventions import DECODE_CHUNK_FRAMES, FPS, SAMPLE_RATE
from avanomaly.errors import (
    BadPathError,
    CorruptMediaError,
    EmptyFileError,
    MediaError,
    MissingFileError,
    NoAudioError,
    NotMediaError,
    PathTooLongError,
    NoVideoError,
    TooLongError,
    UnsupportedCodecError,
)

DEFAULT_FPS = FPS
DEFAULT_SAMPLE_RATE = SAMPLE_RATE
DEFAULT_CHUNK_FRAMES = DECODE_CHUNK_FRAMES
#: a clip whose decoded video ends this much earlier than its container declares is truncated
TRUNCATION_TOLERANCE_S = 0.5
#: a gap or overlap in audio timestamps larger than this is reported (and a gap filled with zeros)
AUDIO_GAP_TOLERANCE_S = 0.010
#: source frame intervals varying by more than this fraction of their median mean variable frame rate
VFR_TOLERANCE = 0.1
#: audio ending this much earlier than the video (so padded with zeros) is reported as a warning
AUDIO_SHORT_WARN_S = 0.1
#: seeking for ``start > 0`` lands this much earlier, so the frame shown at ``start`` is decoded
SEEK_MARGIN_S = 1.0
#: audio is decoded from the file start (cheap) unless ``start`` is later than this: resampling then
#: starts on the same sample grid, so ``load_clip(start=s)`` equals the matching slice of the whole clip
#: (after a seek the resampler's phase may differ by a fraction of a sample)
AUDIO_SEEK_MIN_S = 60.0
#: a stored sample aspect ratio (pixel width / pixel height) outside this range is taken as damaged and ignored
SAR_RANGE = (Fraction(1, 4), Fraction(4, 1))
#: scaler used when ``max_side`` shrinks frames (area averaging avoids aliasing of fine detail)
DOWNSCALE_INTERPOLATION = "AREA"
#: timestamps within this many seconds count as equal (container rounding)
TIME_EPS = Fraction(1, 1_000_000)
#: a declared duration must pass ``max_seconds`` by more than this to be refused before decoding (containers
#: round, and audio padding may end a little after the video; the decoder's own count settles the rest)
DECLARED_SLACK_S = TRUNCATION_TOLERANCE_S

#: what a Python caller can do about a file that fails part-way (MediaError.hint: never in CLI messages)
PARTIAL_HINT = "load_clip(..., allow_partial=True) keeps what decoded"

# First bytes of common containers, used to tell a damaged media file from a non-media one.
_CONTAINER_MAGIC = (
    (4, b"ftyp"),  # MP4 / MOV / 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
    (4, b"skip"),
    (0, b"RIFF"),  # AVI / WAV
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"OggS"),
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
    (0, b"ID3"),
    (0, b"fLaC"),
)


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


# ----------------------------------------------------------------------------------------- opening


def check_media_path(path) -> None:
    """The checks every reader of a media file starts with, each a typed error naming the file: a path that
    cannot be looked up (too long, a link loop, no permission), missing, a directory, empty."""
    from avanomaly.io.scan import path_problem

    path = Path(path)
    problem = path_problem(path)
    if problem is not None:
        if problem[0] == PathTooLongError.reason:
            raise PathTooLongError(path, problem[1])
        raise BadPathError(path, problem[1], reason=problem[0])
    if not path.exists():
        raise MissingFileError(path, "file not found")
    if path.is_dir():
        raise MissingFileError(path, "is a directory, not a media file")
    if path.stat().st_size == 0:
        raise EmptyFileError(path, "file is empty (0 bytes)")


def _read_head(path: Path, n: int = 64) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _looks_like_container(head: bytes) -> bool:
    return any(head[off : off + len(magic)] == magic for off, magic in _CONTAINER_MAGIC) or (
        len(head) > 0 and head[0] == 0x47  # MPEG-TS sync byte
    )


def _mp4_top_level_boxes(path: Path) -> list[str]:
    """Names of the top-level ISO-BMFF boxes that fit in the file (stops at the first damaged one)."""
    names = []
    size_total = path.stat().st_size
    with open(path, "rb") as fh:
        pos = 0
        while pos + 8 <= size_total:
            fh.seek(pos)
            hdr = fh.read(16)
            size, kind = struct.unpack(">I4s", hdr[:8])
            if size == 1 and len(hdr) >= 16:
                size = struct.unpack(">Q", hdr[8:16])[0]
            elif size == 0:
                size = size_total - pos
            if size < 8:
                break
            names.append(kind.decode("latin-1"))
            if pos + size > size_total:
                names[-1] += "(truncated)"
                break
            pos += size
    return names


def _open_error(path: Path, exc: Exception) -> MediaError:
    """Translate a failure of ``av.open`` into the typed error that explains it."""
    head = _read_head(path)
    detail = f"{type(exc).__name__}: {exc}"
    if head[4:8] == b"ftyp":
        boxes = _mp4_top_level_boxes(path)
        if not any(b.startswith("moov") and not b.endswith("(truncated)") for b in boxes):
            return CorruptMediaError(
                path,
                f"MP4/MOV without a complete 'moov' atom (moov atom not found; top-level boxes: {boxes}) - "
                f"the file is truncated or was never finalised ({detail})",
            )
        return CorruptMediaError(path, f"MP4/MOV container could not be opened ({detail})")
    if _looks_like_container(head):
        return CorruptMediaError(path, f"container header found but the file cannot be opened - damaged or truncated ({detail})")
    return NotMediaError(path, f"not a recognised audio/video container ({detail})")


#: FFmpeg demuxers that read a still image (a PNG/JPEG named .mp4 opens as a one-frame "video" with these)
IMAGE_DEMUXERS = ("image2",)
IMAGE_DEMUXER_SUFFIX = "_pipe"


def _refuse_still_image(path: Path, container) -> None:
    name = getattr(getattr(container, "format", None), "name", "") or ""
    if name in IMAGE_DEMUXERS or name.endswith(IMAGE_DEMUXER_SUFFIX):
        container.close()
        raise NotMediaError(path, f"a still image ({name} demuxer), not a video file")


def _open(path: Path):
    import av

    try:
        container = av.open(str(path), mode="r")
    except av.error.FileNotFoundError as exc:
        raise MissingFileError(path, f"file not found ({exc})") from exc
    except av.error.PermissionError as exc:
        raise MediaError(path, f"permission denied ({exc})") from exc
    except av.error.FFmpegError as exc:
        raise _open_error(path, exc) from exc
    except (OSError, ValueError) as exc:
        raise _open_error(path, exc) from exc
    _refuse_still_image(path, container)
    return container


def _check_decodable(path: Path, stream) -> None:
    import av

    try:
        ctx = stream.codec_context
        name = ctx.name if ctx is not None else None
    except (av.error.FFmpegError, ValueError) as exc:
        raise UnsupportedCodecError(path, f"{stream.type} stream #{stream.index}: no decoder ({exc})") from exc
    if ctx is None or not name or name == "none":
        tag = ""
        try:
            tag = f" (codec tag {stream.codec_context.codec_tag!r})" if ctx is not None else ""
        except Exception:  # noqa: BLE001 - the tag is only decoration of the message
            pass
        raise UnsupportedCodecError(path, f"{stream.type} stream #{stream.index}: unknown or unsupported codec{tag}")


def _seconds(value, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path) -> dict:
    """Describe a media file without decoding it.

    Returns ``{"path", "format", "size_bytes", "duration", "video": {...} | None, "audio": {...} | None,
    "av_offset", "streams": [...]}``; times in seconds. Raises ``EmptyFileError``, ``NotMediaError``,
    ``CorruptMediaError`` or ``UnsupportedCodecError`` (for the first video/audio stream).
    """
    path = Path(path)
    check_media_path(path)
    container = _open(path)
    try:
        streams = []
        for s in container.streams:
            info = {"index": s.index, "type": s.type}
            try:
                ctx = s.codec_context
                info["codec"] = ctx.name if ctx is not None else None
            except Exception:  # noqa: BLE001
                info["codec"] = None
            info["start_time"] = _seconds(s.start_time, s.time_base)
            info["duration"] = _seconds(s.duration, s.time_base)
            if s.type == "video":
                ctx = s.codec_context
                info.update(
                    width=ctx.width if ctx is not None else None,
                    height=ctx.height if ctx is not None else None,
                    pix_fmt=getattr(ctx, "pix_fmt", None) if ctx is not None else None,
                    sample_aspect_ratio=_ratio_text(stream_sample_aspect_ratio(s)),
                    fps=float(s.average_rate) if s.average_rate else None,
                    frames=int(s.frames) or None,
                )
            elif s.type == "audio":
                ctx = s.codec_context
                info.update(
                    sample_rate=ctx.sample_rate if ctx is not None else None,
                    channels=ctx.channels if ctx is not None else None,
                )
            streams.append(info)
        video = next((i for i in streams if i["type"] == "video"), None)
        audio = next((i for i in streams if i["type"] == "audio"), None)
        for kind in ("video", "audio"):
            ss = getattr(container.streams, kind)
            if ss:
                _check_decodable(path, ss[0])
        av_offset = 0.0
        if video and audio and video["start_time"] is not None and audio["start_time"] is not None:
            av_offset = audio["start_time"] - video["start_time"]
        return {
            "path": str(path),
            "format": container.format.name,
            "size_bytes": path.stat().st_size,
            "duration": container.duration / 1_000_000 if container.duration else None,
            "video": video,
            "audio": audio,
            "av_offset": av_offset,
            "streams": streams,
        }
    finally:
        container.close()


def scan_duration(path, stop_after: float | None = None) -> float | None:
    """Seconds of video in ``path`` from its video packets' timestamps: demuxing only, nothing is decoded, so
    it is fast (a 20-min stream: ~0.4 s) and works when the container declares no duration (a stream written
    to a pipe) or a wrong one. With ``stop_after`` reading stops at the first packet past that many seconds
    (the value returned is then just over it). None without a video stream or timestamps. A damaged stream
    returns what was read before the damage (decoding reports the damage); the decoder's own ``max_seconds``
    check stays the authority on length.
    """
    import av

    path = Path(path)
    check_media_path(path)
    container = _open(path)
    try:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        tb = stream.time_base
        origin = Fraction(stream.start_time) * tb if stream.start_time is not None and tb else None
        limit = Fraction(stop_after).limit_denominator(1_000_000) if stop_after else None
        end = None
        try:
            for packet in container.demux(stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None or tb is None:
                    continue
                t_end = Fraction(ts + (packet.duration or 0)) * tb
                origin = Fraction(ts) * tb if origin is None else origin
                end = t_end if end is None else max(end, t_end)
                if limit is not None and end - origin > limit:
                    break
        except av.error.FFmpegError:
            pass  # damaged: keep what was read
        return None if end is None else float(end - origin)
    finally:
        container.close()


# ----------------------------------------------------------------------------------------- warnings
# Warnings that come once per event (an audio gap every few seconds of a long file) are folded into one line per
# kind for a result: fold_warnings() is applied where warnings are collected (load_clip's Clip, ScoreResult, the
# cache entry's meta.json), so CSV cells, JSON and the table all get one line per kind, whatever the length.


def _gap_warning(ms: float, at: float) -> str:
    return f"audio gap of {ms:.0f} ms at {at:.2f} s filled with zeros"


def _overlap_warning(ms: float, at: float) -> str:
    return f"audio timestamps overlap by {ms:.0f} ms at {at:.2f} s"


_NUM = r"(-?\d+(?:\.\d+)?)"
#: per-event decoder warnings: kind -> (one event's pattern, the folded line's pattern, how the folded line reads)
_FOLDED_KINDS = {
    "gap": (re.compile(rf"^audio gap of {_NUM} ms at {_NUM} s filled with zeros$"),
            re.compile(rf"^audio gaps filled with zeros: {_NUM} times \(first at {_NUM} s, largest {_NUM} ms, "
                       rf"{_NUM} ms in all\)$"),
            "audio gaps filled with zeros: {n} times (first at {first:.2f} s, largest {largest:.0f} ms, "
            "{total:.0f} ms in all)"),
    "overlap": (re.compile(rf"^audio timestamps overlap by {_NUM} ms at {_NUM} s$"),
                re.compile(rf"^audio timestamps overlap: {_NUM} times \(first at {_NUM} s, largest {_NUM} ms, "
                           rf"{_NUM} ms in all\)$"),
                "audio timestamps overlap: {n} times (first at {first:.2f} s, largest {largest:.0f} ms, "
                "{total:.0f} ms in all)"),
}
_SAME_BUT_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


def fold_warnings(messages) -> list[str]:
    """One line per kind of warning, in the order of each kind's first message: the decoder's per-event warnings
    (audio gaps, audio timestamp overlaps) become ``audio gaps filled with zeros: 246 times (first at 3.20 s,
    largest 120 ms, 9840 ms in all)``; other messages repeated with only their numbers changed become the first
    one + ``(and N more like it)``. A single message is kept as it is; folding folded lines again merges them."""
    out: list = []  # str, or [kind, n, first, largest, total] for a per-event kind
    events: dict[str, list] = {}
    alike: dict[str, list] = {}  # message with its numbers blanked -> [index in out, first message, count]
    for msg in messages:
        msg = str(msg)
        for kind, (one, folded, _) in _FOLDED_KINDS.items():
            if m := one.match(msg):
                ms, at = float(m[1]), float(m[2])
                part = [1, at, ms, ms]
            elif m := folded.match(msg):
                part = [int(float(m[1])), float(m[2]), float(m[3]), float(m[4])]
            else:
                continue
            if kind not in events:
                events[kind] = [kind, 0, part[1], 0.0, 0.0]
                out.append(events[kind])
            acc = events[kind]
            acc[1] += part[0]
            acc[2] = min(acc[2], part[1])
            acc[3] = max(acc[3], part[2])
            acc[4] += part[3]
            break
        else:
            key = _SAME_BUT_NUMBERS.sub("#", re.sub(r" \(and \d+ more like it\)$", "", msg))
            more = int(m[1]) if (m := re.search(r" \(and (\d+) more like it\)$", msg)) else 0
            if key in alike:
                alike[key][2] += 1 + more
            else:
                alike[key] = [len(out), re.sub(r" \(and \d+ more like it\)$", "", msg), 1 + more]
                out.append(None)
    for index, first, count in alike.values():
        out[index] = first if count == 1 else f"{first} (and {count - 1} more like it)"
    lines = []
    for item in out:
        if isinstance(item, list):
            kind, n, first, largest, total = item
            if n == 1:
                one = _gap_warning if kind == "gap" else _overlap_warning
                lines.append(one(largest, first))
            else:
                lines.append(_FOLDED_KINDS[kind][2].format(n=n, first=first, largest=largest, total=total))
        else:
            lines.append(item)
    return lines


def declared_seconds(container) -> float | None:
    """Seconds an open container declares: its own duration, else the longest of its streams' declared
    durations (stream duration or Matroska ``DURATION`` tag). None when nothing is declared (a piped stream)."""
    if container.duration:
        return container.duration / 1_000_000
    lengths = []
    for s in container.streams:
        if s.duration is not None and s.time_base is not None:
            lengths.append(float(s.duration * s.time_base))
        elif (tagged := _duration_tag(s)) is not None:
            lengths.append(float(tagged))
    return max(lengths) if lengths else None


def _refuse_declared(path, container, max_seconds: float | None, start: float = 0.0,
                     duration: float | None = None) -> None:
    """THE rule for refusing a file before decoding: ``TooLongError`` when the container declares more than
    ``max_seconds`` (+ DECLARED_SLACK_S) from ``start`` on (at most ``duration`` of it is wanted)."""
    if not max_seconds:
        return
    declared = declared_seconds(container)
    if declared is None:
        return
    wanted = max(0.0, declared - start)
    if duration is not None:
        wanted = min(wanted, duration)
    if wanted > max_seconds + DECLARED_SLACK_S:
        raise TooLongError(path, f"the container declares {declared:.1f} s, longer than the limit of "
                                 f"{max_seconds:g} s (refused before decoding)")


def check_length(path, max_seconds: float | None, scan: bool = False) -> None:
    """Refuse ``path`` (``TooLongError``) when it is known to run longer than ``max_seconds`` before anything
    is decoded: from the container's declared duration (the rule ``iter_clip_chunks(max_seconds=)`` applies
    too) and, with ``scan``, from the video packets' timestamps (:func:`scan_duration`, read up to just past the
    limit), for streams that declare no duration or a wrong one. Decoding stays the authority."""
    if not max_seconds:
        return
    path = Path(path)
    check_media_path(path)
    container = _open(path)
    try:
        _refuse_declared(path, container, max_seconds)
    finally:
        container.close()
    if scan:
        scanned = scan_duration(path, stop_after=max_seconds)
        if scanned is not None and scanned > max_seconds:
            raise TooLongError(path, f"the video runs past {scanned:.1f} s, longer than the limit of "
                                     f"{max_seconds:g} s")


# ----------------------------------------------------------------------------------------- decoding


def stream_sample_aspect_ratio(stream) -> Fraction | None:
    """A video stream's sample aspect ratio (the shape of one stored pixel, width / height): the container's,
    else the codec's; None when unset (0:1 or absent), i.e. square pixels."""
    for source in (stream, getattr(stream, "codec_context", None)):
        try:
            value = getattr(source, "sample_aspect_ratio", None)
        except Exception:  # noqa: BLE001 - a stream without codec parameters
            value = None
        if value:
            return Fraction(value)
    return None


def _ratio_text(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}:{value.denominator}"


def display_size(width: int, height: int, sar: Fraction | None) -> tuple[int, int]:
    """Stored size + sample aspect ratio -> the displayed size, by stretching the side that is too short (players
    do the same: a 160x96 picture at 2:1 is shown 320x96), so no stored pixel is lost."""
    if not sar or sar == 1:
        return width, height
    if sar > 1:
        return max(1, int(round(width * sar))), height
    return width, max(1, int(round(height / sar)))


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def _duration_tag(stream) -> Fraction | None:
    """Per-stream ``DURATION`` metadata ("HH:MM:SS.fffffffff", as Matroska muxers write it), if any."""
    text = (stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration")
    if not text:
        return None
    try:
        hours, minutes, seconds = text.strip().split(":")
        return Fraction(int(hours) * 3600 + int(minutes) * 60) + Fraction(seconds).limit_denominator(1_000_000_000)
    except ValueError:
        return None


def _quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that display ``frame`` upright (0..3), from its display matrix."""
    try:
        degrees = frame.rotation or 0
    except (AttributeError, ValueError):  # older PyAV / malformed side data: show as stored
        return 0
    return int(round(degrees / 90.0)) % 4


def _seek(container, seconds) -> None:
    """Seek to the keyframe at or before ``seconds`` (container time); from the start if the demuxer refuses."""
    import av

    try:
        container.seek(int(seconds * 1_000_000), any_frame=False, backward=True)
    except av.error.FFmpegError:
        container.seek(0)


class _VideoReader:
    """Yields output frames (H, W, 3) uint8 at ``fps`` for output times ``start + i / fps``."""

    def __init__(self, path: Path, fps: Fraction, start: float, max_frames: int | None, max_side: int | None,
                 allow_partial: bool, warnings: list[str]):
        import av

        self.path = path
        self.fps = fps
        self.start = Fraction(start).limit_denominator(1_000_000)
        self.max_frames = max_frames
        self.max_side = max_side
        self.allow_partial = allow_partial
        self.warnings = warnings
        self.container = _open(path)
        if not self.container.streams.video:
            self.container.close()
            raise NoVideoError(path, "the file has no video stream")
        self.stream = self.container.streams.video[0]
        _check_decodable(path, self.stream)
        self.stream.thread_type = "AUTO"
        for other in self.container.streams:
            if other.index != self.stream.index:
                other.discard = av.stream.Discard.all
        self.time_base = self.stream.time_base
        self.source_fps = float(self.stream.average_rate or self.stream.guessed_rate or 0.0)
        self.origin = (
            Fraction(self.stream.start_time) * self.time_base if self.stream.start_time is not None else None
        )
        self.declared_end = None
        if self.stream.duration is not None and self.stream.start_time is not None:
            self.declared_end = Fraction(self.stream.start_time + self.stream.duration) * self.time_base
        elif (tagged := _duration_tag(self.stream)) is not None:  # Matroska writes per-stream DURATION tags
            self.declared_end = (self.origin or Fraction(0)) + tagged
        elif self.container.duration and len(self.container.streams) == 1:
            # the container duration covers the longest stream: only usable when the video is alone
            self.declared_end = Fraction(self.container.start_time or 0, 1_000_000) + Fraction(
                self.container.duration, 1_000_000
            )
        self.size: tuple[int, int] | None = None  # (width, height) before the display rotation
        self.quarter_turns = 0
        self.n_source = 0
        self.intervals: list[float] = []
        self.decoded_until = 0.0  # seconds of video (relative to origin) decoded so far
        self.n_out = 0  # output frames produced
        self.n_skipped = 0  # source frames dropped for a non-increasing timestamp
        if self.start > 0 and self.origin is not None:
            _seek(self.container, max(Fraction(0), self.origin + self.start - SEEK_MARGIN_S))

    def close(self) -> None:
        self.container.close()

    def _source_frames(self) -> Iterator[tuple[Fraction, object]]:
        """(presentation time relative to origin, av.VideoFrame) in decode order, with errors typed."""
        import av

        prev_t = None
        default_step = Fraction(1) / (Fraction(self.source_fps).limit_denominator(1001) if self.source_fps else self.fps)
        demux = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demux)
                frames = packet.decode()
            except StopIteration:
                return
            except av.error.FFmpegError as exc:
                self._fail(f"video decoding failed ({type(exc).__name__}: {exc})")
                return
            for frame in frames:
                if frame.pts is not None:
                    t_abs = Fraction(frame.pts) * self.time_base
                elif prev_t is not None:
                    t_abs = prev_t + default_step + (self.origin or 0)
                else:
                    t_abs = Fraction(0)
                if self.origin is None:
                    self.origin = t_abs
                t = t_abs - self.origin
                if prev_t is not None and t <= prev_t:
                    # duplicate / non-monotonic timestamp: a player would not show it either; keep the first
                    self.n_skipped += 1
                    continue
                if prev_t is not None:
                    self.intervals.append(float(t - prev_t))
                prev_t = t
                self.n_source += 1
                step = Fraction(frame.duration) * self.time_base if frame.duration else default_step
                self.decoded_until = float(t + step)
                yield t, frame

    def _fail(self, message: str) -> None:
        where = f"after {self.n_source} source frames ({self.decoded_until:.2f} s of video)"
        if not self.allow_partial:
            raise CorruptMediaError(self.path, f"{message} {where}", hint=PARTIAL_HINT)
        self.warnings.append(f"partial decode: {message} {where}; the clip stops there")

    def _to_rgb(self, frame) -> np.ndarray:
        """RGB (H, W, 3) uint8 at the target size, turned upright by the display matrix (phone videos)."""
        if self.size is None:
            self.size = _target_size(*self._display_size(frame), self.max_side)
            self.quarter_turns = _quarter_turns(frame)
            if self.quarter_turns:
                self.warnings.append(
                    f"display matrix rotates the video by {90 * self.quarter_turns} degrees; frames turned upright"
                )
        w, h = self.size
        interp = DOWNSCALE_INTERPOLATION if (w, h) != (frame.width, frame.height) else None
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation=interp).to_ndarray()
        if self.quarter_turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=self.quarter_turns))  # counter-clockwise turns
        return rgb

    def _display_size(self, frame) -> tuple[int, int]:
        """The first frame's displayed size (its sample aspect ratio honoured, with a warning saying so)."""
        sar = stream_sample_aspect_ratio(self.stream)
        if sar and not SAR_RANGE[0] <= sar <= SAR_RANGE[1]:
            self.warnings.append(f"implausible sample aspect ratio {_ratio_text(sar)} ignored: pixels taken as square")
            sar = None
        size = display_size(frame.width, frame.height, sar)
        if size != (frame.width, frame.height):
            self.warnings.append(f"anamorphic video (sample aspect ratio {_ratio_text(sar)}): {frame.width}x"
                                 f"{frame.height} pictures resized to their display shape {size[0]}x{size[1]}")
        return size

    def frames(self) -> Iterator[np.ndarray]:
        """Output frames, one per ``1 / fps``; stops at ``max_frames`` or the end of the video."""
        current = None  # (t, av.VideoFrame)
        current_rgb = None
        out_t = lambda i: self.start + Fraction(i) / self.fps  # noqa: E731
        source = self._source_frames()
        for t, frame in source:
            # every output time before this frame's time shows the previous frame
            while current is not None and out_t(self.n_out) < t - TIME_EPS:
                if self.max_frames is not None and self.n_out >= self.max_frames:
                    return
                if current_rgb is None:
                    current_rgb = self._to_rgb(current[1])
                self.n_out += 1
                yield current_rgb
            current, current_rgb = (t, frame), None
            if self.max_frames is not None and self.n_out >= self.max_frames:
                return
        if current is None:
            if self.n_source == 0:
                raise CorruptMediaError(self.path, "no video frame could be decoded")
            return
        self._check_truncation()
        end = Fraction(self.decoded_until).limit_denominator(1_000_000)
        total = int(math.floor((end - self.start) * self.fps + Fraction(1, 2)))
        if self.max_frames is not None:
            total = min(total, self.max_frames)
        while self.n_out < total:
            if current_rgb is None:
                current_rgb = self._to_rgb(current[1])
            self.n_out += 1
            yield current_rgb
        if self.n_out == 0:
            raise MediaError(self.path, f"start={float(self.start):.3f} s is at or after the end of the video ({float(end):.3f} s)")

    def _check_truncation(self) -> None:
        if self.declared_end is None or self.origin is None:
            return
        declared = float(self.declared_end - self.origin)
        if declared - self.decoded_until > TRUNCATION_TOLERANCE_S:
            self._fail(f"video ends at {self.decoded_until:.2f} s but the container declares {declared:.2f} s (truncated file?)")

    def skipped_warning(self) -> str | None:
        if not self.n_skipped:
            return None
        return f"{self.n_skipped} source frame(s) with a repeated or decreasing timestamp skipped"

    def vfr_warning(self) -> str | None:
        if len(self.intervals) < 2:
            return None
        iv = np.asarray(self.intervals)
        med = float(np.median(iv))
        if med > 0 and (iv.max() - iv.min()) > VFR_TOLERANCE * med:
            return (f"variable frame rate: source frame intervals range {iv.min() * 1000:.1f}-{iv.max() * 1000:.1f} ms "
                    f"(median {med * 1000:.1f} ms); frames resampled by timestamp")
        return None


class _AudioReader:
    """Mono float32 samples at ``sample_rate`` for output times ``start + k / sample_rate`` (k >= 0)."""

    def __init__(self, path: Path, sample_rate: int, start: float, origin_hint: Fraction | None,
                 allow_partial: bool, warnings: list[str]):
        import av

        self.path = path
        self.sample_rate = sample_rate
        self.start = float(start)
        self.allow_partial = allow_partial
        self.warnings = warnings
        self.container = _open(path)
        self.stream = self.container.streams.audio[0]
        _check_decodable(path, self.stream)
        for other in self.container.streams:
            if other.index != self.stream.index:
                other.discard = av.stream.Discard.all
        self.origin = origin_hint
        # resample each channel (planar float), then average the channels ourselves: a stereo
        # signal's amplitude is preserved (libswresample's own downmix scales by 1/sqrt(2) per channel)
        self.resampler = av.AudioResampler(format="fltp", rate=sample_rate)
        self.n_decoded = 0  # output samples emitted (after leading pad / trim)
        self.n_input_frames = 0
        self.ended = False
        self._gen = None
        if self.start > AUDIO_SEEK_MIN_S and origin_hint is not None:
            _seek(self.container, max(0.0, float(origin_hint) + self.start - SEEK_MARGIN_S))

    def close(self) -> None:
        self.container.close()

    def _raw(self) -> Iterator[np.ndarray]:
        """Resampled mono blocks, in order, starting at output sample 0 (leading zeros / trim applied)."""
        import av

        next_pos = None  # position (in output samples, relative to start) of the next resampled sample
        to_skip = 0
        demux = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demux)
                frames = packet.decode()
            except StopIteration:
                frames, packet = None, None
            except av.error.FFmpegError as exc:
                self._fail(f"audio decoding failed ({type(exc).__name__}: {exc})")
                frames, packet = None, None
            if frames is None:
                out_frames = self.resampler.resample(None)
            else:
                out_frames = []
                for frame in frames:
                    self.n_input_frames += 1
                    if next_pos is None:
                        t0 = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                        if self.origin is None:
                            self.origin = Fraction(0)
                        rel = t0 - float(self.origin) - self.start
                        next_pos = int(round(rel * self.sample_rate))
                        if next_pos > 0:
                            yield np.zeros(next_pos, dtype=np.float32)
                        else:
                            to_skip = -next_pos
                        self._input_expected = t0
                    elif frame.pts is not None:
                        t = float(frame.pts * frame.time_base)
                        gap = t - self._input_expected
                        if gap > AUDIO_GAP_TOLERANCE_S:
                            self.warnings.append(_gap_warning(gap * 1000, t - float(self.origin)))
                            yield np.zeros(int(round(gap * self.sample_rate)), dtype=np.float32)
                        elif gap < -AUDIO_GAP_TOLERANCE_S:
                            self.warnings.append(_overlap_warning(-gap * 1000, t - float(self.origin)))
                        self._input_expected = t
                    self._input_expected += frame.samples / frame.sample_rate
                    frame.pts = None  # the resampler keeps its own clock; we place samples ourselves
                    try:
                        out_frames.extend(self.resampler.resample(frame))
                    except ValueError:  # sample rate / layout changed mid-stream: drain, start a new resampler
                        out_frames.extend(self.resampler.resample(None))
                        self.warnings.append(
                            f"audio format changed mid-stream ({frame.sample_rate} Hz, {frame.layout.name}); resampler restarted"
                        )
                        self.resampler = av.AudioResampler(format="fltp", rate=self.sample_rate)
                        out_frames.extend(self.resampler.resample(frame))
            for of in out_frames:
                planes = of.to_ndarray()  # (C, n) float32
                block = planes[0] if planes.shape[0] == 1 else planes.mean(axis=0, dtype=np.float32)
                if to_skip:
                    cut = min(to_skip, block.size)
                    block, to_skip = block[cut:], to_skip - cut
                if block.size:
                    yield block
            if frames is None:
                return

    def _fail(self, message: str) -> None:
        where = f"after {self.n_decoded / self.sample_rate:.2f} s of audio"
        if not self.allow_partial:
            raise CorruptMediaError(self.path, f"{message} {where}", hint=PARTIAL_HINT)
        self.warnings.append(f"partial decode: {message} {where}; the rest of the audio is zeros")

    def read(self, n: int) -> np.ndarray:
        """Next ``n`` samples (zeros once the audio has ended)."""
        if self._gen is None:
            self._gen = self._raw()
            self._buf: list[np.ndarray] = []
            self._buf_len = 0
        while self._buf_len < n and not self.ended:
            try:
                block = next(self._gen)
            except StopIteration:
                self.ended = True
                break
            self._buf.append(block)
            self._buf_len += block.size
        data = np.concatenate(self._buf) if self._buf else np.zeros(0, dtype=np.float32)
        out, rest = data[:n], data[n:]
        self._buf, self._buf_len = ([rest] if rest.size else []), rest.size
        real = out.size
        self.n_decoded += real
        if real < n:
            out = np.concatenate([out, np.zeros(n - real, dtype=np.float32)])
        return out


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


__all__ = ["Clip", "load_clip", "iter_clip_chunks", "probe", "scan_duration", "check_length", "declared_seconds",
           "fold_warnings", "DEFAULT_FPS", "DEFAULT_SAMPLE_RATE",
           "DEFAULT_CHUNK_FRAMES"]
