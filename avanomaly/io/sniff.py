"""Telling what a file that PyAV cannot open is: a damaged container (its first bytes name a known one, or an MP4
whose ``moov`` atom is missing) or no media at all. Used by :mod:`avanomaly.io.container` to type the failure."""

from __future__ import annotations

import struct
from pathlib import Path

from avanomaly.errors import CorruptMediaError, MediaError, NotMediaError

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
