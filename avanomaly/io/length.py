"""How long a file is before decoding it, and refusing one that is too long: the duration a container declares
(:func:`declared_seconds`), the video packets' timestamps (:func:`scan_duration`), and THE refusal rule
(:func:`check_length`, applied by ``iter_clip_chunks(max_seconds=)`` too). Decoding stays the authority."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from avanomaly.errors import TooLongError
from avanomaly.io.container import _open, check_media_path

#: a clip whose decoded video ends this much earlier than its container declares is truncated
TRUNCATION_TOLERANCE_S = 0.5
#: a declared duration must pass ``max_seconds`` by more than this to be refused before decoding (containers
#: round, and audio padding may end a little after the video; the decoder's own count settles the rest)
DECLARED_SLACK_S = TRUNCATION_TOLERANCE_S


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
