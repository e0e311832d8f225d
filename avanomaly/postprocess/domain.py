"""Inputs outside what a model was calibrated on: measure a clip's recording facts, compare them with the ranges
of the calibration pool, and say so (a warning, or for extreme cases an ``unknown`` verdict with the reason).

Facts of one clip (``input`` in the score JSON; NaN / null when not measured, e.g. cached features or arrays):

- ``face_px``: the face's size in the decoded frames the model sees (after ``PreprocessConfig.max_side``), median
  over the frames with a face: the inter-ocular distance for the landmark front end, the face-box width for the
  pixel one (``preprocess.stream.StreamState.info``);
- ``frame_height``: the source video's height in pixels (the container's; the decoded one for in-memory clips);
- ``bits_per_pixel``: the video stream's bits per frame (the sizes of its packets over the first ``BPP_SECONDS``,
  demuxed, not decoded) over the decoded frame's pixels: how much coded information each pixel the model sees
  carries (a 1080p clip decoded to 512x288 gets the bits of 14 source pixels per pixel).

The calibration pool's ranges (``pool`` in the calibration basis: min / p05 / p50 of each fact over the pool's
clips) are stored with the calibration (:mod:`avanomaly.postprocess.basis`). The rule (:func:`out_of_domain`; numbers
in docs/scoring.md "Out of domain"):

- a fact is judged only when the calibration recorded the pool's range of it (none for older model files or a
  calibration on cached features: then nothing is said);
- **warning** when a fact is below ``POOL_FRACTION`` of the pool's minimum, or below both the pool's minimum and
  the absolute floor (``WARN_FACE_PX``, ``WARN_FRAME_HEIGHT`` (at or below), ``WARN_BITS_PER_PIXEL``);
- **unknown** (abstain reasons ``face-too-small`` / ``low-resolution``) below both the pool's minimum and the
  hard floor ``MIN_FACE_PX`` / ``MIN_FRAME_HEIGHT``, where the face mesh has too few pixels to follow the lips.
  Compression alone never abstains (bits per pixel falls with resolution at equal quality: only a warning).
  Nothing inside the pool's range is ever flagged: a model calibrated on 144 p clips takes 144 p clips.
"""

from __future__ import annotations

import math
from pathlib import Path

#: the facts of a clip compared with the calibration pool, in order
FACTS = ("face_px", "frame_height", "bits_per_pixel")
#: warn below this fraction of the calibration pool's minimum (the starter's first pool: 7 clips whose smallest face is
#: 49.8 px, lowest frame 256 px, fewest bits 0.034 per pixel; the ten shared real clips reach down to 0.64, 0.63
#: and 0.94 of those: docs/scoring.md "Out of domain")
POOL_FRACTION = 0.5
#: absolute warning floors (below them and below the pool's minimum): face size in decoded pixels (inter-ocular distance for the landmark
#: front end), source frame height (at or below: 144 p; 240 p would flag 6 of the 10 shared real clips, 160-224 px
#: face crops of LRS2 / VoxCeleb2 with 32-56 px faces), bits per decoded pixel (heavy compression)
WARN_FACE_PX = 20.0
WARN_FRAME_HEIGHT = 144
WARN_BITS_PER_PIXEL = 0.01
#: hard floors: below them (and the pool's minimum) the verdict is "unknown"
MIN_FACE_PX = 10.0
MIN_FRAME_HEIGHT = 96
#: seconds of video packets read for bits per pixel
BPP_SECONDS = 30.0
#: abstain reasons of this rule (postprocess/abstain.py lists them with the others)
REASONS = ("face-too-small", "low-resolution")

_UNITS = {"face_px": "px face", "frame_height": "px high", "bits_per_pixel": "bits/pixel"}
_WHAT = {"face_px": "face smaller", "frame_height": "lower resolution", "bits_per_pixel": "more compressed"}


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def media_facts(path) -> dict:
    """``{"frame_height", "bits_per_frame"}`` of a media file's video from its container (packets demuxed, not
    decoded); NaN for what cannot be read (never raises: the decoder reports unreadable files itself)."""
    out = {"frame_height": float("nan"), "bits_per_frame": float("nan")}
    try:
        import av

        with av.open(str(Path(path))) as container:
            if not container.streams.video:
                return out
            stream = container.streams.video[0]
            w, h = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
            if h > 0:
                out["frame_height"] = float(h)
            tb = float(stream.time_base) if stream.time_base else 0.0
            bits, frames, first = 0, 0, None
            for pkt in container.demux(stream):
                if pkt.size == 0:
                    continue
                t = float(pkt.pts) * tb if pkt.pts is not None and tb else None
                first = t if first is None else first
                if t is not None and first is not None and t - first > BPP_SECONDS:
                    break
                bits += 8 * int(pkt.size)
                frames += 1
            if frames:
                out["bits_per_frame"] = bits / frames
    except Exception:  # noqa: BLE001 - a fact we cannot read is not measured; decoding reports broken files
        pass
    return out


def clip_facts(info: dict, media: dict | None = None) -> dict:
    """The facts of one scored clip (``FACTS``) from the stream's ``info`` (decoded frame size, face_px) and the
    container's ``media_facts`` (None for in-memory clips: the decoded height stands in)."""
    media = media or {}
    height = media.get("frame_height", float("nan"))
    if not _finite(height):
        height = float(info.get("frame_height", float("nan")))
    pixels = float(info.get("frame_height", float("nan"))) * float(info.get("frame_width", float("nan")))
    bpp = float(media.get("bits_per_frame", float("nan"))) / pixels if _finite(pixels) and pixels > 0 else float("nan")
    return {"face_px": float(info.get("face_px", float("nan"))), "frame_height": float(height),
            "bits_per_pixel": float(bpp)}


def pool_ranges(rows) -> dict:
    """Facts of the calibration pool's clips (dicts with ``FACTS``) -> ``{fact: {"n", "min", "p05", "p50"}}`` over
    the clips where the fact was measured (facts measured on none are left out)."""
    import numpy as np

    out = {}
    for fact in FACTS:
        x = np.array([float(r.get(fact, float("nan"))) for r in rows], dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size:
            out[fact] = {"n": int(x.size), "min": float(x.min()), "p05": float(np.percentile(x, 5)),
                         "p50": float(np.percentile(x, 50))}
    return out


def out_of_domain(facts: dict, pool: dict | None = None) -> tuple[list[str], list[str]]:
    """A clip's ``facts`` against the calibration ``pool`` ranges -> (warnings, abstain reasons). A fact is judged
    only when it was measured (not NaN) and the pool has its range: a calibration that recorded no recording facts
    (older model files, calibration on cached features) cannot say what is outside it."""
    pool = pool or {}
    floors = {"face_px": WARN_FACE_PX, "frame_height": WARN_FRAME_HEIGHT, "bits_per_pixel": WARN_BITS_PER_PIXEL}
    warnings, reasons = [], []
    judged = {fact for fact in FACTS if _finite(facts.get(fact)) and _finite(pool.get(fact, {}).get("min"))}
    for fact in FACTS:
        if fact not in judged:
            continue
        x, lo = facts[fact], pool[fact]["min"]
        low = x <= floors[fact] if fact == "frame_height" else x < floors[fact]  # "<= 144 p"
        if x < POOL_FRACTION * lo or (x < lo and low):
            warnings.append(f"out of domain: {_WHAT[fact]} than the model was calibrated on ({x:.3g} "
                            f"{_UNITS[fact]}; its calibration clips: {lo:.3g} and up): the verdict is less reliable")
    for fact, floor, reason in (("face_px", MIN_FACE_PX, "face-too-small"),
                                ("frame_height", MIN_FRAME_HEIGHT, "low-resolution")):
        if fact in judged and facts[fact] < min(floor, pool[fact]["min"]):
            reasons.append(reason)
    return warnings, reasons
