"""ScoreResult / ScoreFailure: what scoring returns, with a stable JSON schema (docs/scoring.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from avanomaly.postprocess.fusion import DEFAULT_CURVE

#: bump when a key is renamed/removed or its meaning changes (adding keys keeps the version)
SCHEMA_VERSION = 2  # 2: verdict may be "unknown" (abstained), with reasons in "abstain"

#: keys of ScoreResult.to_dict(), in order (the documented schema)
RESULT_KEYS = (
    "schema_version", "status", "path", "score", "verdict", "abstain", "threshold", "percentile", "aggregation",
    "score_terms", "score_definition", "av_offset_frames", "av_offset_confidence", "av_offset_check", "offset_curve",
    "offset_curve_kind", "face_rate", "silent_fraction", "duration", "n_frames", "fps",
    "frame_nll", "frame_times", "warnings", "input", "calibration_basis",
)
FAILURE_KEYS = ("schema_version", "status", "path", "reason", "message")


def _num(x):
    """JSON-safe float (NaN/inf -> None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _offset_check(check: dict) -> dict | None:
    """The JSON form of ``ScoreResult.av_offset_check`` (None when not measured)."""
    if not check:
        return None
    lag = check.get("frames")
    return {"frames": None if lag is None else int(lag), "correlation": _num(check.get("correlation")),
            "agrees": bool(check.get("agrees"))}


@dataclass
class ScoreResult:
    path: str | None
    score: float  # clip anomaly score (score_definition: fused real-only terms, or the NLL); higher = less like real
    verdict: str | None  # "fake" / "real" at `threshold`, "unknown" when abstaining, None when uncalibrated
    threshold: float | None
    percentile: float | None  # % of held-out real clips with a lower score (None when uncalibrated)
    frame_nll: list[float]  # per-frame NLL of frames 1..T-1 (frame 0 has no prediction)
    frame_times: list[float]  # seconds of each frame_nll entry (frame index / fps)
    av_offset_frames: int  # audio delayed by n frames -> +n
    av_offset_confidence: float
    face_rate: float  # fraction of frames where a face was found
    silent_fraction: float  # fraction of frames whose audio is below the silence level
    duration: float  # seconds
    n_frames: int
    fps: float
    aggregation: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    score_terms: dict = field(default_factory=dict)  # {"nll": aggregated AR NLL, "sync": zero-offset sync deficit}
    score_definition: str = ""
    abstain: list[str] = field(default_factory=list)  # reasons for "unknown" (postprocess/abstain.py); [] = verdict given
    input: dict = field(default_factory=dict)  # recording facts: face_px, frame_height, bits_per_pixel (domain.py)
    calibration_basis: dict | None = None  # what the threshold rests on (basis.summary); None: uncalibrated/unknown
    offset_curve: list = field(default_factory=list)  # (O,) the terms' curve at audio offsets -K..K frames (None: no frame)
    offset_curve_kind: str = DEFAULT_CURVE  # what offset_curve is (postprocess/fusion.py CURVES): "cosine" | "vote"
    # a model-free second opinion on the offset (postprocess/offset_check.py): {"frames": lag or None,
    # "correlation": c, "agrees": bool}; {} when not measured (the pixel front end)
    av_offset_check: dict = field(default_factory=dict)

    ok = True

    def __post_init__(self):
        from avanomaly.io.fold import fold_warnings

        self.warnings = fold_warnings(self.warnings)  # one line per kind, whatever the clip's length

    def to_dict(self) -> dict:
        d = {
            "schema_version": SCHEMA_VERSION,
            "status": "ok",
            "path": self.path,
            "score": _num(self.score),
            "verdict": self.verdict,
            "abstain": list(self.abstain),
            "threshold": _num(self.threshold),
            "percentile": _num(self.percentile),
            "aggregation": dict(self.aggregation),
            "score_terms": {k: _num(v) for k, v in self.score_terms.items()},
            "score_definition": self.score_definition,
            "av_offset_frames": int(self.av_offset_frames),
            "av_offset_confidence": _num(self.av_offset_confidence),
            "av_offset_check": _offset_check(self.av_offset_check),
            "offset_curve": [_num(v) for v in self.offset_curve],
            "offset_curve_kind": self.offset_curve_kind,
            "face_rate": _num(self.face_rate),
            "silent_fraction": _num(self.silent_fraction),
            "duration": _num(self.duration),
            "n_frames": int(self.n_frames),
            "fps": _num(self.fps),
            "frame_nll": [_num(v) for v in self.frame_nll],
            "frame_times": [_num(v) for v in self.frame_times],
            "warnings": list(self.warnings),
            "input": {k: _num(v) for k, v in self.input.items()},
            "calibration_basis": None if self.calibration_basis is None else dict(self.calibration_basis),
        }
        assert tuple(d) == RESULT_KEYS
        return d


@dataclass
class ScoreFailure:
    path: str | None
    reason: str  # machine-readable tag (MediaError.reason, "checkpoint", "error")
    message: str

    ok = False

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "status": "failed", "path": self.path, "reason": self.reason,
                "message": self.message}
