"""Threshold calibration on REAL clips only.

A detector trained on real videos has no natural decision boundary: its score is "how unusual is this
clip for a real talking person". We therefore fix the false-positive rate we accept on real clips of the
target domain (``target_fpr``, default 5 %) and put the threshold at that quantile of held-out real scores:

    threshold = the smallest reference score such that at most ``target_fpr * n`` reference clips score
                strictly above it;   verdict = "fake" if score > threshold else "real".

Fakes are never used: the threshold must not be tuned on the attacks it is meant to catch. The sorted
reference scores are kept so a new clip can be placed as a percentile of real clips.

The calibration lives inside the model file (key ``"calibration"``) and as ``calibration.json`` beside it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from avanomaly.errors import CheckpointError, ConfigError

DEFAULT_TARGET_FPR = 0.05
CALIBRATION_JSON = "calibration.json"
CALIBRATION_KEY = "calibration"
#: warn when fewer real clips than this back a threshold (the quantile is then coarse)
MIN_RECOMMENDED_CLIPS = 50


@dataclass
class Calibration:
    threshold: float
    target_fpr: float
    n: int
    reference_scores: list[float]  # sorted ascending, real clips only
    aggregation: dict = field(default_factory=dict)  # AggregationConfig as a dict (scores depend on it)
    created: str = ""
    notes: str = ""
    fusion: dict = field(default_factory=dict)  # ScoreFusion.to_dict(); {} = the score is the nll term alone
    score_definition: str = ""  # in words, what `score` is for this model

    @property
    def score_fusion(self):
        from avanomaly.scoring.fusion import ScoreFusion

        return ScoreFusion.from_dict(self.fusion) if self.fusion else None

    def clip_score(self, terms: dict) -> float:
        """The clip score of a result's ``score_terms`` under this calibration."""
        from avanomaly.scoring.fusion import clip_score

        return clip_score(self.score_fusion, terms)

    @property
    def achieved_fpr(self) -> float:
        """Fraction of the reference real clips scoring above the threshold."""
        ref = np.asarray(self.reference_scores)
        return float((ref > self.threshold).mean()) if ref.size else float("nan")

    def percentile(self, score: float) -> float:
        """Percentage of reference real clips with a strictly lower score (0..100, monotone in ``score``)."""
        ref = np.asarray(self.reference_scores, dtype=np.float64)
        if ref.size == 0:
            return float("nan")
        return float(100.0 * np.searchsorted(ref, score, side="left") / ref.size)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["achieved_fpr"] = self.achieved_fpr
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "calibration") -> "Calibration":
        """A Calibration from its dict (``to_dict``; read from a model file or calibration.json), checked: every
        field has its type (finite numbers, ``n`` real clips behind ``n`` sorted reference scores, ``target_fpr``
        in [0, 1), a valid aggregation and score fusion with positive stds); unknown keys are refused.
        CheckpointError "SOURCE: field: problem" otherwise."""
        from avanomaly.errors import AvanomalyError

        try:
            return cls._checked(d)
        except AvanomalyError as exc:
            raise CheckpointError(f"{source}: invalid calibration: {exc}") from None

    @classmethod
    def _checked(cls, d) -> "Calibration":
        from avanomaly.scoring.aggregate import AggregationConfig
        from avanomaly.scoring.fusion import TERMS, ScoreFusion
        from avanomaly.utils import dataclass_from_dict

        if not isinstance(d, dict):
            raise ConfigError(f"expected a mapping, got {type(d).__name__}")
        missing = sorted({"threshold", "target_fpr", "n", "reference_scores"} - set(d))
        if missing:
            raise ConfigError(f"missing field(s) {missing}")
        data = {k: v for k, v in d.items() if k != DERIVED_KEY}  # achieved_fpr is recomputed, never read
        cal = dataclass_from_dict(cls, data)
        ref = cal.reference_scores
        if not 0.0 <= cal.target_fpr < 1.0:
            raise ConfigError(f"target_fpr must be in [0, 1), got {cal.target_fpr}")
        if cal.n < 1 or cal.n != len(ref):
            raise ConfigError(f"n must be the number of reference_scores ({len(ref)}, at least 1), got {cal.n}")
        if any(b < a for a, b in zip(ref, ref[1:])):
            raise ConfigError("reference_scores must be sorted ascending")
        if cal.aggregation:
            dataclass_from_dict(AggregationConfig, cal.aggregation, where="aggregation.")
        if cal.fusion:
            fusion = dataclass_from_dict(ScoreFusion, cal.fusion, where="fusion.")
            if not fusion.terms or len(set(fusion.terms)) != len(fusion.terms) or set(fusion.terms) - set(TERMS):
                raise ConfigError(f"fusion.terms must be distinct names out of {list(TERMS)}, got {fusion.terms}")
            if not len(fusion.mean) == len(fusion.std) == len(fusion.terms):
                raise ConfigError("fusion.terms, fusion.mean and fusion.std must have the same length")
            if any(x <= 0 for x in fusion.std):
                raise ConfigError(f"fusion.std must be > 0 (a term's spread on the real clips), got {fusion.std}")
        return cal


#: key ``to_dict`` adds (derived from the fields; ignored when reading)
DERIVED_KEY = "achieved_fpr"


def calibrate(scores_of_real_clips, target_fpr: float = DEFAULT_TARGET_FPR, aggregation: dict | None = None,
              notes: str = "") -> Calibration:
    """Threshold giving false-positive rate <= ``target_fpr`` on these REAL clip scores (see module doc)."""
    if not 0.0 <= target_fpr < 1.0:
        raise ConfigError(f"target_fpr must be in [0, 1), got {target_fpr}")
    scores = np.asarray(list(scores_of_real_clips), dtype=np.float64).ravel()
    if scores.size == 0:
        raise ConfigError("calibration needs at least one real clip score")
    if not np.all(np.isfinite(scores)):
        raise ConfigError(f"calibration scores contain {int((~np.isfinite(scores)).sum())} non-finite value(s)")
    ref = np.sort(scores)
    n = ref.size
    # index j such that (n - 1 - j) <= target_fpr * n reference clips lie above ref[j]
    j = min(n - 1, max(0, math.ceil(n - 1 - target_fpr * n - 1e-9)))
    threshold = float(ref[j])
    if n < MIN_RECOMMENDED_CLIPS:
        extra = f"only {n} real clips (< {MIN_RECOMMENDED_CLIPS}): the threshold is a coarse quantile"
        notes = f"{notes}; {extra}" if notes else extra
    return Calibration(
        threshold=threshold,
        target_fpr=float(target_fpr),
        n=int(n),
        reference_scores=[float(s) for s in ref],
        aggregation=dict(aggregation or {}),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        notes=notes,
    )


def calibrate_terms(term_rows, target_fpr: float = DEFAULT_TARGET_FPR, terms=None, aggregation: dict | None = None,
                    notes: str = "") -> Calibration:
    """Fit the score fusion (``terms``, default ``fusion.DEFAULT_TERMS``; ``("nll",)`` = the AR NLL alone) on the
    ``score_terms`` dicts of REAL clips scored by a Detector, then the threshold on the fused scores."""
    from avanomaly.scoring.fusion import DEFAULT_TERMS, NLL_DEFINITION, ScoreFusion, clip_score

    term_rows = list(term_rows)
    terms = list(terms or DEFAULT_TERMS)
    fusion = None if terms == ["nll"] else ScoreFusion.fit(term_rows, terms)
    definition = NLL_DEFINITION if fusion is None else fusion.describe()
    scores = [clip_score(fusion, r) for r in term_rows]
    cal = calibrate(scores, target_fpr, aggregation=aggregation, notes=notes)
    cal.fusion = {} if fusion is None else fusion.to_dict()
    cal.score_definition = definition
    return cal


def save_calibration_json(path, calibration: Calibration) -> Path:
    from avanomaly.utils import atomic_write_json

    path = Path(path)
    atomic_write_json(path, calibration.to_dict())
    return path


def load_calibration_json(path) -> Calibration:
    """calibration.json -> Calibration (checked, see ``Calibration.from_dict``); CheckpointError naming the file."""
    from avanomaly.errors import shorten

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))  # NaN / Infinity read, then refused by field
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(f"{path}: cannot read calibration ({shorten(exc)})") from None
    return Calibration.from_dict(data, source=str(path))


def write_calibration(model_path, calibration: Calibration) -> tuple[Path, Path]:
    """Store ``calibration`` inside the model file (atomic rewrite) and as calibration.json beside it."""
    from avanomaly.scoring.modelfile import resolve_model_path, update_model_file

    model_path = resolve_model_path(model_path)
    update_model_file(model_path, **{CALIBRATION_KEY: calibration.to_dict()})
    json_path = save_calibration_json(model_path.parent / CALIBRATION_JSON, calibration)
    return model_path, json_path
