"""Which files a batch command reads: files as given, folders searched recursively, every skipped path listed.

``scan_inputs`` never drops a path silently: an explicit path is always kept (if it is unusable, decoding fails
it with a typed reason), and everything a folder search passes over that might have been meant as input is
returned in ``skipped`` with its reason (an audio-only file, a non-video extension, a symbolic-link loop or broken
link, a directory named like a video, a hidden file).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

#: file extensions a folder search picks up as videos
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")
#: audio-only extensions: listed as skipped with their own reason (audio-visual scoring needs a video track)
AUDIO_EXTENSIONS = (".m4a", ".wav", ".mp3", ".flac", ".aac", ".ogg", ".opus", ".wma")
#: errno -> (reason tag, message) for a path that cannot even be looked at
PATH_ERRNOS = {
    errno.ELOOP: ("symlink-loop", "symbolic-link loop (the link points back at itself)"),
    errno.ENAMETOOLONG: ("path-too-long", "file name longer than the file system allows"),
    errno.EACCES: ("permission-denied", "permission denied"),
}


@dataclass
class ScanResult:
    paths: list[str] = field(default_factory=list)  # files to process, in order, no duplicates
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) passed over by a folder search


def path_problem(path) -> tuple[str, str] | None:
    """-> (reason tag, message) when ``path`` cannot be stat'ed for a reason other than not existing, else None."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return None
    except ValueError as exc:  # an embedded NUL byte
        return "bad-path", str(exc)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            from avanomaly.utils import path_too_long

            return "path-too-long", path_too_long(path) or PATH_ERRNOS[errno.ENAMETOOLONG][1]
        tag, msg = PATH_ERRNOS.get(exc.errno, ("bad-path", os.strerror(exc.errno or 0) or str(exc)))
        return tag, msg
    return None


def is_video_name(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def _skip_reason(entry: os.DirEntry) -> str | None:
    """None: a video file to process; else why the folder search passes over ``entry`` (a file-like entry)."""
    suffix = Path(entry.name).suffix.lower()
    if entry.is_symlink():
        problem = path_problem(entry.path)
        if problem is not None:
            return problem[1]
        if not os.path.exists(entry.path):
            return "broken symbolic link (its target does not exist)"
    if suffix in AUDIO_EXTENSIONS:
        return f"audio-only file ({suffix}): audio-visual scoring needs a video track"
    if suffix not in VIDEO_EXTENSIONS:
        return f"not a video file extension ({suffix or 'none'}; searched: {' '.join(VIDEO_EXTENSIONS)})"
    if entry.name.startswith("."):
        return "hidden file"
    return None


def _walk(root: Path, out: ScanResult) -> None:
    stack = [root]
    seen_dirs = set()
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                out.skipped.append((str(folder), "folder already searched (symbolic-link cycle)"))
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            out.skipped.append((str(folder), f"folder cannot be read ({os.strerror(exc.errno or 0) or exc})"))
            continue
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links
            except OSError:
                is_dir = False
            if is_dir:
                if entry.is_symlink():
                    out.skipped.append((entry.path, "symbolic link to a folder (not followed)"))
                elif entry.name.startswith("."):
                    out.skipped.append((entry.path, "hidden folder"))
                else:
                    if is_video_name(entry.name):
                        out.skipped.append((entry.path, "a folder named like a video file (searched as a folder)"))
                    subdirs.append(Path(entry.path))
                continue
            reason = _skip_reason(entry)
            if reason is None:
                out.paths.append(entry.path)
            else:
                out.skipped.append((entry.path, reason))
        stack.extend(reversed(subdirs))


def scan_inputs(inputs) -> ScanResult:
    """Files as given (kept even when unusable: they fail later with a reason), folders searched recursively
    (sorted, depth first). Duplicates are dropped, order kept."""
    out = ScanResult()
    for item in inputs:
        p = Path(item)
        if path_problem(p) is None and p.is_dir():
            _walk(p, out)
        else:
            out.paths.append(str(p))
    out.paths = list(dict.fromkeys(out.paths))
    return out
