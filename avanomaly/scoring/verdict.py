"""What a scored clip's result says besides its score: the clip-level warnings (short clip, low face rate, odd face
proportions, mostly silent audio, ...), the verdict at the threshold, the abstain reasons (postprocess/abstain.py and
the out-of-domain rule of postprocess/domain.py) and the percentile among the calibration clips. ``Detector`` scores
the frames, then asks :func:`judge_clip` (docs/scoring.md)."""

from __future__ import annotations

import dataclasses

import numpy as np

from avanomaly.preprocess.evidence import FaceCountEvidence, SpeechEvidence
from avanomaly.preprocess.frontends import FACE_HEIGHT_RANGE
from avanomaly.preprocess.speech import INSTALL_HINT as VAD_INSTALL_HINT
from avanomaly.preprocess.stream import SILENCE_DBFS
from avanomaly.postprocess.abstain import ABSTAIN_VERDICT, MAX_MULTI_FACE_RATE, abstain_reasons
from avanomaly.postprocess.abstain import describe as describe_abstain
from avanomaly.postprocess.domain import clip_facts, out_of_domain

#: warnings: clips shorter than this are scored but flagged
SHORT_CLIP_SECONDS = 2.0
#: warnings: face found in fewer than this fraction of frames
LOW_FACE_RATE = 0.9
#: warnings: more than this fraction of frames silent
MOSTLY_SILENT_FRACTION = 0.8


@dataclasses.dataclass
class Judgement:
    """The verdict part of a ScoreResult: ``verdict`` (None uncalibrated), ``abstain`` reasons, ``percentile``,
    the clip's recording ``facts`` and the calibration ``basis`` they were checked against."""

    verdict: str | None
    abstain: list[str]
    percentile: float | None
    facts: dict
    basis: dict


def judge_clip(score: float, threshold: float | None, calibration, agg, state, media, *, duration: float,
               face_rate: float, silent: np.ndarray | None, skip_dropped: bool, shape, activity,
               precision: str) -> Judgement:
    """Verdict, abstain reasons and percentile of a clip scored ``score``; its warnings are appended to
    ``state.warnings`` in the order a result lists them. ``silent``: (T,) bool frames below the silence level
    (None when unknown); ``shape`` / ``activity``: the clip's FaceShape / MouthActivity; ``state.meters``: the
    SpeechEvidence / FaceCountEvidence measured while decoding."""
    warns = state.warnings
    fps = state.fps
    silent_fraction = float(silent.mean()) if silent is not None else float("nan")
    if duration < SHORT_CLIP_SECONDS:
        warns.append(f"short clip ({duration:.2f} s < {SHORT_CLIP_SECONDS} s): the score is less reliable")
    if skip_dropped:
        warns.append(f"clip too short to leave out the first {agg.skip_seconds} s: every frame was scored")
    if face_rate < LOW_FACE_RATE:
        warns.append(f"low face rate: a face was found in {100 * face_rate:.0f}% of frames "
                     f"(< {100 * LOW_FACE_RATE:.0f}%); centre crops stand in for the rest")
    if shape.out_of_range():
        warns.append(f"face proportions out of range: eyes-to-chin height {shape.value():.2f} inter-ocular units "
                     f"(real faces {FACE_HEIGHT_RANGE[0]:g}-{FACE_HEIGHT_RANGE[1]:g}): a stretched or squeezed "
                     "picture? the score is less reliable")
    if silent_fraction > MOSTLY_SILENT_FRACTION:
        warns.append(f"mostly silent audio: {100 * silent_fraction:.0f}% of frames below {SILENCE_DBFS:.0f} dBFS")

    if precision != "fp32":
        warns.append(f"scored with {precision} sync-model arithmetic: scores differ slightly from the fp32 "
                     "ones the threshold was calibrated with")
    if threshold is None:
        verdict = None
        warns.append("uncalibrated model: no verdict (run `avanomaly calibrate` or pass a threshold)")
    else:
        verdict = "fake" if score > threshold else "real"
    speech = next((m for m in state.meters if isinstance(m, SpeechEvidence)), None)
    faces = next((m for m in state.meters if isinstance(m, FaceCountEvidence)), None)
    if speech is not None:
        speech_seconds = speech.value()
    elif silent is not None:  # no voice-activity model here: frames above the silence level count as speech
        speech_seconds = float((~silent).sum()) / fps
        warns.append(f"speech measured by loudness (frames above {SILENCE_DBFS:.0f} dBFS): music or noise "
                     f"counts as speech; {VAD_INSTALL_HINT} for the no-speech rule")
    else:
        speech_seconds = float("nan")
    multi_face_rate = faces.value() if faces is not None else float("nan")
    if 0 < multi_face_rate < MAX_MULTI_FACE_RATE:
        warns.append(f"two or more faces on {100 * multi_face_rate:.0f}% of the checked frames: the one tracked "
                     "may not be the one speaking")
    abstain = abstain_reasons(duration, speech_seconds, face_rate, activity.value(), activity.minimum,
                              multi_face_rate)
    facts = clip_facts(state.info, media)  # recording facts vs the calibration pool (postprocess/domain.py)
    basis = calibration.basis if calibration is not None else {}
    ood_warnings, ood_reasons = out_of_domain(facts, basis.get("pool"))
    warns.extend(ood_warnings)
    abstain += [r for r in ood_reasons if r not in abstain]
    if abstain:
        warns.append(describe_abstain(abstain))
        if verdict is not None:
            verdict = ABSTAIN_VERDICT
    percentile = calibration.percentile(score) if calibration is not None else None
    if calibration is not None and calibration.aggregation and \
            dict(calibration.aggregation) != dataclasses.asdict(agg):
        warns.append("aggregation differs from the calibrated one: verdict and percentile are not at the "
                     "calibrated false-positive rate")
    return Judgement(verdict, abstain, percentile, facts, basis)
