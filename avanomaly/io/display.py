"""How a stored picture is displayed: its sample aspect ratio (anamorphic video is stretched to its display
shape), its display-matrix rotation (phone videos), and the ``max_side`` shrink. Used by the video reader and
:func:`avanomaly.io.probe.probe`."""

from __future__ import annotations

from fractions import Fraction

#: a stored sample aspect ratio (pixel width / pixel height) outside this range is taken as damaged and ignored
SAR_RANGE = (Fraction(1, 4), Fraction(4, 1))
#: scaler used when ``max_side`` shrinks frames (area averaging avoids aliasing of fine detail)
DOWNSCALE_INTERPOLATION = "AREA"


def stream_sample_aspect_ratio(stream) -> Fraction | None:
    """A video stream's sample aspect ratio (the shape of one stored pixel, width / height): the container's,
    else the codec's; None when unset (0:1 or absent), i.e. square pixels."""
    for source in (stream, getattr(stream, "codec_context", None)):
        try:
            value = getattr(source, "sample_aspect_ratio", None)
        except Exception:  # noqa: BLE001 - a stream without codec parameters
            value = None
        if value:
            return Fraction(value)
    return None


def _ratio_text(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}:{value.denominator}"


def display_size(width: int, height: int, sar: Fraction | None) -> tuple[int, int]:
    """Stored size + sample aspect ratio -> the displayed size, by stretching the side that is too short (players
    do the same: a 160x96 picture at 2:1 is shown 320x96), so no stored pixel is lost."""
    if not sar or sar == 1:
        return width, height
    if sar > 1:
        return max(1, int(round(width * sar))), height
    return width, max(1, int(round(height / sar)))


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))

def _quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that display ``frame`` upright (0..3), from its display matrix."""
    try:
        degrees = frame.rotation or 0
    except (AttributeError, ValueError):  # older PyAV / malformed side data: show as stored
        return 0
    return int(round(degrees / 90.0)) % 4
