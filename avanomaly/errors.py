"""Typed errors shared by every layer. Every error names the file (when there is one) and the reason."""

from __future__ import annotations


class AvanomalyError(Exception):
    """Base class: anything avanomaly raises on purpose."""


class MediaError(AvanomalyError):
    """A media file cannot be used. ``path`` is the file, ``reason`` a short machine-readable tag."""

    reason = "media-error"

    def __init__(self, path, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


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


class DatasetError(AvanomalyError):
    """A dataset root, manifest or meta_data.csv is missing or malformed."""


class CheckpointError(AvanomalyError):
    """A model file is missing, corrupt or incompatible (the message names what differs)."""


class ConfigError(AvanomalyError):
    """A configuration value or override is invalid."""


class MissingDependencyError(AvanomalyError):
    """An optional dependency needed by the chosen setting is not installed (the message says how to install)."""
