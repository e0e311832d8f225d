"""The decoder's public names in one place (``from avanomaly.io.decode import load_clip, check_length, ...``).

The code lives in one module per job (docs/decoding.md, "Modules"): :mod:`~avanomaly.io.clip` (``Clip``,
``load_clip``, ``iter_clip_chunks``), :mod:`~avanomaly.io.probe`, :mod:`~avanomaly.io.length` (declared and scanned
durations, ``check_length``), :mod:`~avanomaly.io.fold` (``fold_warnings``), :mod:`~avanomaly.io.display` (sample
aspect ratio, rotation), :mod:`~avanomaly.io.container` (opening files), :mod:`~avanomaly.io.sniff`,
:mod:`~avanomaly.io.video` and :mod:`~avanomaly.io.audio` (the two stream readers).
"""

from __future__ import annotations

from avanomaly.io.audio import AUDIO_GAP_TOLERANCE_S, AUDIO_SEEK_MIN_S
from avanomaly.io.clip import (
    AUDIO_SHORT_WARN_S,
    DEFAULT_CHUNK_FRAMES,
    DEFAULT_FPS,
    DEFAULT_SAMPLE_RATE,
    Clip,
    iter_clip_chunks,
    load_clip,
)
from avanomaly.io.container import IMAGE_DEMUXER_SUFFIX, IMAGE_DEMUXERS, PARTIAL_HINT, SEEK_MARGIN_S, check_media_path
from avanomaly.io.display import DOWNSCALE_INTERPOLATION, SAR_RANGE, display_size, stream_sample_aspect_ratio
from avanomaly.io.fold import fold_warnings
from avanomaly.io.length import DECLARED_SLACK_S, TRUNCATION_TOLERANCE_S, check_length, declared_seconds, scan_duration
from avanomaly.io.probe import probe
from avanomaly.io.video import TIME_EPS, VFR_TOLERANCE

__all__ = ["Clip", "load_clip", "iter_clip_chunks", "probe", "scan_duration", "check_length", "declared_seconds",
           "fold_warnings", "DEFAULT_FPS", "DEFAULT_SAMPLE_RATE",
           "DEFAULT_CHUNK_FRAMES",
           # the decoder's other names, importable from here as before the split
           "check_media_path", "display_size", "stream_sample_aspect_ratio", "AUDIO_GAP_TOLERANCE_S",
           "AUDIO_SEEK_MIN_S", "AUDIO_SHORT_WARN_S", "PARTIAL_HINT", "SEEK_MARGIN_S", "DOWNSCALE_INTERPOLATION",
           "SAR_RANGE", "DECLARED_SLACK_S", "TRUNCATION_TOLERANCE_S", "IMAGE_DEMUXER_SUFFIX", "IMAGE_DEMUXERS",
           "TIME_EPS", "VFR_TOLERANCE"]
