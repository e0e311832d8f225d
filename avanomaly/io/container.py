"""Opening a media file for reading: the path checks, ``av.open`` with typed errors, refusing still images and
undecodable streams, and seeking. Every reader (probe, length checks, the video and audio readers) opens files here."""

from __future__ import annotations

from pathlib import Path

from avanomaly.errors import (
    BadPathError,
    EmptyFileError,
    MediaError,
    MissingFileError,
    NotMediaError,
    PathTooLongError,
    UnsupportedCodecError,
)
from avanomaly.io.sniff import _open_error

#: seeking for ``start > 0`` lands this much earlier, so the frame shown at ``start`` is decoded
SEEK_MARGIN_S = 1.0
#: what a Python caller can do about a file that fails part-way (MediaError.hint: never in CLI messages)
PARTIAL_HINT = "load_clip(..., allow_partial=True) keeps what decoded"


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

def _seek(container, seconds) -> None:
    """Seek to the keyframe at or before ``seconds`` (container time); from the start if the demuxer refuses."""
    import av

    try:
        container.seek(int(seconds * 1_000_000), any_frame=False, backward=True)
    except av.error.FFmpegError:
        container.seek(0)
