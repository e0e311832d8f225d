"""Typed errors shared by every layer. Every error names the file (when there is one) and the reason."""

from __future__ import annotations

import shlex

#: most characters of one piece of user data (a path, a manifest field, an error text) quoted in a message
MAX_QUOTED_CHARS = 400
#: most characters of a whole error message printed by the command line
MAX_MESSAGE_CHARS = 4000
#: share of a shortened text kept from its end (a path's file name is at its end)
SHORTEN_TAIL_SHARE = 0.25


def shorten(value, limit: int = MAX_QUOTED_CHARS) -> str:
    """``str(value)`` cut to about ``limit`` characters for error messages: the start and the end are kept and
    the middle is replaced by ``...[N characters left out]...``. Texts up to ``limit`` are returned unchanged.

    Use it wherever a message quotes user data (paths, manifest/CSV fields, exception texts that may quote
    them): a 10 MB manifest field must not become a 10 MB error line."""
    text = str(value)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if len(text) <= limit:
        return text
    tail = int(limit * SHORTEN_TAIL_SHARE)
    head = limit - tail
    left_out = len(text) - head - tail
    return f"{text[:head]}...[{left_out} characters left out]...{text[len(text) - tail:] if tail else ''}"


def failure_line(path, reason, message) -> str:
    """``PATH: [reason] message`` for a file that failed, each part shortened (how every command lists them)."""
    return f"{shorten(path)}: [{shorten(reason)}] {shorten(message, MAX_MESSAGE_CHARS)}"


class AvanomalyError(Exception):
    """Base class: anything avanomaly raises on purpose."""


class MediaError(AvanomalyError):
    """A media file cannot be used. ``path`` is the file, ``reason`` a short machine-readable tag, ``message``
    what is wrong, in words every user can act on (the command line and the service show it as it is).
    ``hint``: what a Python caller can pass instead (``allow_partial=True``...); shown by ``str(exc)`` only,
    never in command-line or service messages, where no such option exists."""

    reason = "media-error"

    def __init__(self, path, message: str, hint: str | None = None):
        self.path = str(path)
        self.message = message
        self.hint = hint
        # the path may be any user data (a manifest field): quoted short; self.path keeps it whole
        super().__init__(f"{shorten(self.path)}: {shorten(message, MAX_MESSAGE_CHARS)}" + (f" ({hint})" if hint else ""))


class MissingFileError(MediaError):
    """The path does not exist or is a directory."""

    reason = "not-found"


class EmptyFileError(MediaError):
    reason = "empty-file"


class NotMediaError(MediaError):
    reason = "not-media"


class CorruptMediaError(MediaError):
    reason = "corrupt"


class NoAudioError(MediaError):
    reason = "no-audio"


class NoVideoError(MediaError):
    reason = "no-video"


class UnsupportedCodecError(MediaError):
    reason = "unsupported-codec"


class NoFaceError(MediaError):
    reason = "no-face"


class ClipTooShortError(MediaError):
    reason = "too-short"


class TooLongError(MediaError):
    """The video is longer than the caller's limit (``max_seconds``); found while decoding, so also for files
    whose container declares no duration (a stream written to a pipe). Nothing past the limit is decoded."""

    reason = "too-long"


class ScoringCancelled(AvanomalyError):
    """Scoring stopped early because the caller's ``should_stop()`` returned True (e.g. the client left)."""


class FileBusyError(AvanomalyError):
    """A file another avanomaly run is writing (it holds the file's lock); nothing was changed."""


class DatasetError(AvanomalyError):
    """A dataset root, manifest or meta_data.csv is missing or malformed."""


class CheckpointError(AvanomalyError):
    """A model file is missing, corrupt or incompatible (the message names what differs)."""


class ConfigError(AvanomalyError):
    """A configuration value or override is invalid."""


class MissingDependencyError(AvanomalyError):
    """An optional dependency needed by the chosen setting is not installed (the message says how to install)."""


class BadPathError(MediaError):
    """The path itself cannot be used: a symbolic-link loop, a name longer than the file system allows, no
    permission. ``reason`` says which (``symlink-loop``, ``permission-denied``, ``bad-path``); a name that is too
    long is a :class:`PathTooLongError`."""

    reason = "bad-path"

    def __init__(self, path, message: str, reason: str | None = None, hint: str | None = None):
        super().__init__(path, message, hint)
        if reason:
            self.reason = reason


class PathTooLongError(MediaError):
    """The path cannot be looked up: a file name over NAME_MAX bytes or a path over PATH_MAX (ENAMETOOLONG)."""

    reason = "path-too-long"


class TrainingInterrupted(AvanomalyError):
    """Training was stopped by a signal (SIGTERM) before ``model.pt`` was written; the run can be resumed.

    ``run_dir`` is the run folder, ``stage`` where it stopped, ``resume_command`` the command that continues it.
    """

    def __init__(self, run_dir, stage: str, signal_name: str, detail: str = "", resume_command: str | None = None):
        self.run_dir = str(run_dir)
        self.stage = stage
        self.signal_name = signal_name
        self.resume_command = (resume_command
                               or f"avanomaly train --real-only --out {shlex.quote(self.run_dir)} --resume")
        super().__init__(f"training stopped by {signal_name} during {stage}; no model.pt was written. "
                         f"{detail + ' ' if detail else ''}Run folder: {self.run_dir}. "
                         f"Resume with: {self.resume_command}")
