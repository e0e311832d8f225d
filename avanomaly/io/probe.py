"""Describing a media file without decoding it: :func:`probe` (containers, streams, codecs, sizes, offsets)."""

from __future__ import annotations

from pathlib import Path

from avanomaly.io.container import _check_decodable, _open, _seconds, check_media_path
from avanomaly.io.display import _ratio_text, stream_sample_aspect_ratio


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
