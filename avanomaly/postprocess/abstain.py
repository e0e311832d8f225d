"""When a clip holds too little evidence for a verdict: the detector abstains (verdict ``"unknown"``).

The score, percentile, terms and curves are still reported; only the verdict changes, and ``abstain`` lists
machine-readable reasons (docs/scoring.md, "Abstaining"):

- ``too-short``: fewer than ``MIN_VERDICT_SECONDS`` of video: the sync curve over +-K offsets is not defined well
  enough (a 13-frame clip was called "real, percentile 0");
- ``no-speech``: fewer than ``MIN_SPEECH_SECONDS`` of speech, found by a voice-activity model
  (:mod:`avanomaly.preprocess.speech`; by loudness when it is not installed): no speech, no sync evidence (silent
  audio and music-only audio were called "fake, percentile 100");
- ``no-face``: a face on fewer than ``MIN_FACE_RATE`` of the frames;
- ``multiple-faces``: two or more faces of comparable size on at least ``MAX_MULTI_FACE_RATE`` of the checked
  frames (:mod:`avanomaly.preprocess.evidence`): the face tracked may not be the one speaking (two real clips side
  by side were called "fake, percentile 100" whenever the silent one was tracked);
- ``no-mouth-motion``: the mouth barely moves where a face was found (``MIN_MOUTH_ACTIVITY`` per front end,
  :mod:`avanomaly.preprocess.frontends`): a still or occluded mouth carries no lip evidence;
- ``face-too-small`` / ``low-resolution``: the face or the frame is far below what any calibration covers
  (:mod:`avanomaly.postprocess.domain`, which also warns for inputs merely outside the calibration pool's ranges).
"""

from __future__ import annotations

import math

#: the verdict of a clip the detector abstains on
ABSTAIN_VERDICT = "unknown"
#: least video for a verdict (seconds)
MIN_VERDICT_SECONDS = 1.0
#: least non-silent audio for a verdict (seconds)
MIN_SPEECH_SECONDS = 1.0
#: least fraction of frames with a face for a verdict
MIN_FACE_RATE = 0.8
#: most checked frames with two or more comparable faces for a verdict (fraction)
MAX_MULTI_FACE_RATE = 0.25
#: reason tags, in the order they are checked
REASONS = ("too-short", "no-speech", "no-face", "multiple-faces", "no-mouth-motion", "face-too-small",
           "low-resolution")


def abstain_reasons(duration: float, speech_seconds: float, face_rate: float, mouth_activity: float,
                    min_mouth_activity: float, multi_face_rate: float = float("nan")) -> list[str]:
    """-> the reasons to abstain (empty: a verdict can be given). NaN inputs (not measured, e.g. cached features
    carry no waveform for the speech check and no frames to count faces on) are not held against the clip."""
    out = []
    if duration < MIN_VERDICT_SECONDS:
        out.append("too-short")
    if math.isfinite(speech_seconds) and speech_seconds < MIN_SPEECH_SECONDS:
        out.append("no-speech")
    if math.isfinite(face_rate) and face_rate < MIN_FACE_RATE:
        out.append("no-face")
    if math.isfinite(multi_face_rate) and multi_face_rate >= MAX_MULTI_FACE_RATE:
        out.append("multiple-faces")
    if math.isfinite(mouth_activity) and mouth_activity < min_mouth_activity:
        out.append("no-mouth-motion")
    elif not math.isfinite(mouth_activity) and "no-face" not in out:
        out.append("no-face")
    return out


def describe(reasons: list[str]) -> str:
    """Human-readable warning for a list of reasons."""
    from avanomaly.postprocess.domain import MIN_FACE_PX, MIN_FRAME_HEIGHT

    text = {"too-short": f"shorter than {MIN_VERDICT_SECONDS:g} s",
            "no-speech": f"less than {MIN_SPEECH_SECONDS:g} s of speech",
            "no-face": f"a face on fewer than {100 * MIN_FACE_RATE:.0f}% of frames",
            "multiple-faces": f"two or more faces on {100 * MAX_MULTI_FACE_RATE:.0f}% of frames or more (which "
                              "one speaks is not known)",
            "no-mouth-motion": "the mouth barely moves",
            "face-too-small": f"a face under {MIN_FACE_PX:g} px (out of domain)",
            "low-resolution": f"a frame under {MIN_FRAME_HEIGHT} px high (out of domain)"}
    return "no verdict (unknown): " + "; ".join(text[r] for r in reasons)
