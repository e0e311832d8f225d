"""Decoding layer: video files -> ``Clip`` (25 fps RGB frames + 16 kHz mono audio, aligned by timestamps).

One module per job (docs/decoding.md, "Modules"); ``avanomaly.io.decode`` re-exports the public names.
See docs/decoding.md and the io section of docs/architecture.md.
"""

from avanomaly.io.clip import (
    DEFAULT_CHUNK_FRAMES,
    DEFAULT_FPS,
    DEFAULT_SAMPLE_RATE,
    Clip,
    iter_clip_chunks,
    load_clip,
)
from avanomaly.io.probe import probe

__all__ = ["Clip", "load_clip", "iter_clip_chunks", "probe", "DEFAULT_FPS", "DEFAULT_SAMPLE_RATE", "DEFAULT_CHUNK_FRAMES"]
