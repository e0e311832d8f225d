"""The video reader: constant-rate RGB frames at ``fps`` for output times ``start + i / fps``, each the latest
source frame whose presentation time is ``<=`` that time (see :mod:`avanomaly.io.clip` for the alignment rules)."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from avanomaly.errors import CorruptMediaError, MediaError, NoVideoError
from avanomaly.io.container import PARTIAL_HINT, SEEK_MARGIN_S, _check_decodable, _open, _seek
from avanomaly.io.display import (
    DOWNSCALE_INTERPOLATION,
    SAR_RANGE,
    _quarter_turns,
    _ratio_text,
    _target_size,
    display_size,
    stream_sample_aspect_ratio,
)
from avanomaly.io.length import TRUNCATION_TOLERANCE_S, _duration_tag

#: source frame intervals varying by more than this fraction of their median mean variable frame rate
VFR_TOLERANCE = 0.1
#: timestamps within this many seconds count as equal (container rounding)
TIME_EPS = Fraction(1, 1_000_000)


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
