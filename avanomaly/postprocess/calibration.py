"""Threshold calibration on REAL clips only.

A detector trained on real videos has no natural decision boundary: its score is "how unusual is this
clip for a real talking person". We therefore fix the false-positive rate we accept on real clips of the
target domain (``target_fpr``, default 5 %) and put the threshold at that quantile of held-out real scores:

    threshold = the smallest reference score such that at most ``target_fpr * n`` reference clips score
                strictly above it;   verdict = "fake" if score > threshold else "real".

Fakes are never used: the threshold must not be tuned on the attacks it is meant to catch. The sorted
reference scores are kept so a new clip can be placed as a percentile of real clips.

The calibration lives inside the model file (key ``"calibration"``) and as ``calibration.json`` beside it
(written by ``postprocess.modelfile.write_calibration``). It records what it rests on (``basis``: clips, speakers,
domains, the out-of-speaker false-alarm rate with its interval, the pool's recording facts;
:mod:`avanomaly.postprocess.basis`), estimated here by :func:`leave_speaker_out`.
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
from avanomaly.postprocess.fusion import DEFAULT_CURVE

DEFAULT_TARGET_FPR = 0.05
CALIBRATION_JSON = "calibration.json"
CALIBRATION_KEY = "calibration"
#: warn when fewer real clips than this back a threshold (the quantile is then coarse; issue 22)
MIN_RECOMMENDED_CLIPS = 30
#: warn when the clips come from fewer speakers than this (the threshold then says little about other people)
MIN_RECOMMENDED_SPEAKERS = 10


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
    basis: dict = field(default_factory=dict)  # what the threshold rests on (postprocess/basis.py); {} = not recorded
    profile: dict = field(default_factory=dict)  # OffsetProfile.to_dict() (the ``profile`` term); {} = none
    #: how the offset curve of the sync / offset / profile terms is made (postprocess/fusion.py CURVES); absent in
    #: files calibrated before the vote existed, which therefore read DEFAULT_CURVE ("cosine")
    curve: str = DEFAULT_CURVE

    @property
    def offset_profile(self):
        """The real-only offset-profile model of the ``profile`` term (postprocess/profile.py), or None."""
        from avanomaly.postprocess.profile import OffsetProfile

        return OffsetProfile.from_dict(self.profile) if self.profile else None

    @property
    def score_fusion(self):
        from avanomaly.postprocess.fusion import ScoreFusion

        return ScoreFusion.from_dict(self.fusion) if self.fusion else None

    def clip_score(self, terms: dict) -> float:
        """The clip score of a result's ``score_terms`` under this calibration."""
        from avanomaly.postprocess.fusion import clip_score

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
        from avanomaly.postprocess.aggregate import AggregationConfig
        from avanomaly.postprocess.basis import check_basis
        from avanomaly.postprocess.fusion import TERMS, ScoreFusion, check_curve
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
            if "profile" in fusion.terms and not cal.profile:
                raise ConfigError("fusion uses the profile term but the calibration has no profile")
        check_curve(cal.curve)
        if cal.profile:
            from avanomaly.postprocess.profile import OffsetProfile

            OffsetProfile.from_dict(cal.profile)
        check_basis(cal.basis, cal.n)
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
    threshold = _threshold(ref, target_fpr)
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


def _threshold(ref: np.ndarray, target_fpr: float) -> float:
    """The smallest of the sorted scores ``ref`` with at most ``target_fpr * n`` of them strictly above it."""
    n = ref.size
    # index j such that (n - 1 - j) <= target_fpr * n reference clips lie above ref[j]
    j = min(n - 1, max(0, math.ceil(n - 1 - target_fpr * n - 1e-9)))
    return float(ref[j])


def _fit_scores(fit_rows, rows, terms):
    """Fit the fusion of ``terms`` on ``fit_rows`` (None for the nll alone) -> (fusion, scores of ``rows``)."""
    from avanomaly.postprocess.fusion import ScoreFusion, clip_score

    fusion = None if list(terms) == ["nll"] else ScoreFusion.fit(fit_rows, terms)
    return fusion, [clip_score(fusion, r) for r in rows]


def leave_speaker_out(term_rows, speakers=None, domains=None, target_fpr: float = DEFAULT_TARGET_FPR,
                      terms=None) -> dict | None:
    """The false-alarm rate at the threshold, out of speaker (``basis["far"]``, see :mod:`avanomaly.postprocess.basis`):
    for each speaker, the fusion of ``terms`` and the threshold at ``target_fpr`` are fit on the OTHER speakers'
    clips, and the speaker's own clips count as false alarms when they score above it. ``speakers`` None: each
    clip is its own speaker (leave-one-clip-out). ``domains``: a label per clip, for the per-domain rates.
    None when fewer than two speakers (nothing to hold out)."""
    from avanomaly.postprocess.basis import FAR_CONFIDENCE, rate
    from avanomaly.postprocess.fusion import clip_score, default_terms

    rows = list(term_rows)
    n = len(rows)
    terms = list(terms or default_terms(rows))
    method = "leave-speaker-out" if speakers is not None else "leave-one-clip-out"
    groups = list(speakers) if speakers is not None else list(range(n))
    if len(groups) != n or (domains is not None and len(domains) != n):
        raise ConfigError(f"need one speaker and one domain per clip ({n} clips)")
    if len(set(groups)) < 2:
        return None
    above = np.zeros(n, dtype=bool)
    for g in dict.fromkeys(groups):
        held = [i for i in range(n) if groups[i] == g]
        rest = [rows[i] for i in range(n) if groups[i] != g]
        fusion, rest_scores = _fit_scores(rest, rest, terms)
        held_scores = [clip_score(fusion, rows[i]) for i in held]
        thr = _threshold(np.sort(np.asarray(rest_scores, dtype=np.float64)), target_fpr)
        above[held] = np.asarray(held_scores) > thr
    per_domain = {}
    if domains is not None:
        for d in sorted(set(domains)):
            idx = [i for i in range(n) if domains[i] == d]
            per_domain[d] = rate(int(above[idx].sum()), len(idx))
    return {"method": method, "confidence": FAR_CONFIDENCE, "ci_method": "clopper-pearson",
            "overall": rate(int(above.sum()), n), "per_domain": per_domain}


def calibration_basis(term_rows, speakers=None, domains=None, facts=None, target_fpr: float = DEFAULT_TARGET_FPR,
                      terms=None, note: str = "") -> dict:
    """``Calibration.basis`` of a calibration on these real clips: counts, the out-of-speaker false-alarm rate
    (:func:`leave_speaker_out`) and the pool's recording facts (``facts``: a dict per clip, postprocess/domain.py).
    A speaker or domain that is missing ('' or None) for some clip makes that column unknown (None)."""
    from avanomaly.postprocess.domain import pool_ranges

    rows = list(term_rows)
    speakers = _labels(speakers, len(rows))
    domains = _labels(domains, len(rows))
    basis = {"n_clips": len(rows), "n_speakers": None if speakers is None else len(set(speakers)),
             "domains": None if domains is None else {d: domains.count(d) for d in sorted(set(domains))},
             "far": leave_speaker_out(rows, speakers, domains, target_fpr, terms)}
    pool = pool_ranges(facts) if facts is not None else {}
    if pool:
        basis["pool"] = pool
    if note:
        basis["note"] = note
    return basis


def _labels(values, n: int):
    """A list of ``n`` non-empty string labels, or None when not given or any is missing."""
    if values is None:
        return None
    out = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip() for v in values]
    if len(out) != n:
        raise ConfigError(f"need one label per clip ({n}), got {len(out)}")
    return None if any(not v for v in out) else out


def cap_per_speaker(speakers, max_per_speaker: int) -> list[int]:
    """Indices of at most ``max_per_speaker`` clips per speaker (``speakers``: one label per clip, in the pool's
    order), spread evenly over each speaker's clips in that order, so that a few people with many clips do not
    set the threshold for everyone (``avanomaly calibrate --max-per-speaker``). Sorted; deterministic."""
    if isinstance(max_per_speaker, bool) or not isinstance(max_per_speaker, (int, np.integer)) or max_per_speaker < 1:
        raise ConfigError(f"max_per_speaker must be an integer >= 1, got {max_per_speaker!r}")
    speakers = list(speakers)
    labels = _labels(speakers, len(speakers))
    if labels is None:
        raise ConfigError("capping clips per speaker needs a speaker label for every clip")
    keep: list[int] = []
    for g in dict.fromkeys(labels):
        idx = [i for i, s in enumerate(labels) if s == g]
        if len(idx) > max_per_speaker:
            idx = [idx[j] for j in np.round(np.linspace(0, len(idx) - 1, max_per_speaker)).astype(int)]
        keep += idx
    return sorted(keep)


def needs_curves(terms=None) -> bool:
    """Whether a calibration of ``terms`` (None: the default terms) fits the ``profile`` term (and so needs every
    clip's offset curve)."""
    from avanomaly.postprocess.fusion import DEFAULT_TERMS

    return "profile" in (terms or DEFAULT_TERMS)


def with_profile_terms(term_rows, curves, speakers=None):
    """``(rows, profile)``: copies of ``term_rows`` whose ``profile`` term is each clip's distance under an offset
    profile fit WITHOUT its speaker (``postprocess.profile.cross_fit_terms``), and the profile fit on every clip
    (the one stored). ``curves``: one offset curve (O,) per row."""
    from avanomaly.postprocess.profile import OffsetProfile, cross_fit_terms

    curves = [np.asarray(c, dtype=np.float64) for c in curves]
    if len(curves) != len(term_rows):
        raise ConfigError(f"the profile term needs one offset curve per clip ({len(term_rows)} clips, "
                          f"{len(curves)} curves)")
    sizes = {c.size for c in curves}
    if len(sizes) != 1 or next(iter(sizes)) % 2 != 1:
        raise ConfigError(f"offset curves must all have the same odd length (2K + 1), got lengths {sorted(sizes)}")
    k = (next(iter(sizes)) - 1) // 2
    labels = _labels(speakers, len(curves)) if speakers is not None else None
    profile = OffsetProfile.fit(curves, k, labels)
    values = cross_fit_terms(curves, k, labels, fallback=profile)
    return [{**r, "profile": v} for r, v in zip(term_rows, values)], profile


def calibrate_terms(term_rows, target_fpr: float = DEFAULT_TARGET_FPR, terms=None, aggregation: dict | None = None,
                    notes: str = "", speakers=None, domains=None, facts=None, curves=None,
                    curve: str = DEFAULT_CURVE) -> Calibration:
    """Fit the score fusion (``terms``, default ``fusion.DEFAULT_TERMS``; ``("nll",)`` = the AR NLL alone) on the
    ``score_terms`` dicts of REAL clips scored by a Detector, then the threshold on the fused scores, and record
    what it rests on (``basis``, :func:`calibration_basis`: ``speakers`` / ``domains`` one label per clip or None,
    ``facts`` the clips' recording facts or None). With ``curves`` (each clip's offset curve) an offset profile
    is fit and stored (postprocess/profile.py), and the ``profile`` term may be among ``terms``; the rows'
    ``profile`` values are then the out-of-speaker ones (:func:`with_profile_terms`). ``curve``: the kind of
    offset curve (postprocess/fusion.py CURVES) the rows' terms and ``curves`` were made with; recorded, so the
    Detector makes every later clip's curve the same way."""
    from avanomaly.postprocess.fusion import DEFAULT_TERMS, NLL_DEFINITION, check_curve
    from avanomaly.postprocess.profile import MIN_PROFILE_CLIPS

    check_curve(curve)

    term_rows = list(term_rows)
    defaulted = not terms
    terms = list(terms or DEFAULT_TERMS)
    profile = None
    if defaulted and "profile" in terms and (curves is None or len(term_rows) < MIN_PROFILE_CLIPS):
        terms = [t for t in terms if t != "profile"]  # the default terms on a pool too small for a profile
        extra = f"no offset-profile term: {len(term_rows)} clip(s) with a curve (< {MIN_PROFILE_CLIPS})"
        notes = f"{notes}; {extra}" if notes else extra
        curves = None
    if curves is not None:
        term_rows, profile = with_profile_terms(term_rows, curves, speakers)
    elif "profile" in terms:
        raise ConfigError("the profile term needs the clips' offset curves (curves=...)")
    fusion, scores = _fit_scores(term_rows, term_rows, terms)
    definition = NLL_DEFINITION if fusion is None else fusion.describe()
    cal = calibrate(scores, target_fpr, aggregation=aggregation, notes=notes)
    cal.fusion = {} if fusion is None else fusion.to_dict()
    cal.score_definition = definition
    cal.basis = calibration_basis(term_rows, speakers, domains, facts, target_fpr, terms)
    cal.profile = {} if profile is None else profile.to_dict()
    cal.curve = curve
    spk = cal.basis["n_speakers"]
    if spk is not None and spk < MIN_RECOMMENDED_SPEAKERS:
        extra = f"only {spk} speakers (< {MIN_RECOMMENDED_SPEAKERS}): the threshold says little about other people"
        cal.notes = f"{cal.notes}; {extra}" if cal.notes else extra
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
