"""Binary detection metrics for anomaly scores.

Conventions (fixed, see docs/evaluation.md):

- **higher score = more fake**; fake is the positive class (label 1), real the negative (label 0);
- a clip is called fake when ``score >= threshold`` (the same rule as :func:`sklearn.metrics.roc_curve`,
  so the sweep table, ROC curve and thresholded metrics agree);
- every function takes plain arrays (``labels`` in {0, 1}, ``scores`` float) and never drops a value
  silently: NaN scores are an error, a single-class input gives ``None`` for the metrics that need both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from avanomaly.errors import AvanomalyError

#: FPR operating points reported as "TPR at FPR x".
DEFAULT_FPR_POINTS: tuple[float, ...] = (0.01, 0.05, 0.10)
#: bootstrap confidence level (two-sided percentile interval).
CI_LEVEL = 0.95
#: at most this many thresholds in a sweep table (quantiles of the scores beyond that).
MAX_SWEEP_POINTS = 1000


class MetricsError(AvanomalyError):
    """Inputs to a metric are malformed (shape mismatch, NaN scores, labels outside {0, 1})."""


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise MetricsError(f"labels and scores must be 1-D of equal length, got {y.shape} and {s.shape}")
    if len(s) and not np.all(np.isfinite(s)):
        raise MetricsError(f"{int((~np.isfinite(s)).sum())} score(s) are NaN/inf; drop failed clips explicitly")
    if len(y) and not np.isin(y, (0, 1)).all():
        raise MetricsError(f"labels must be 0 (real) or 1 (fake), got values {sorted(set(y.tolist()))[:5]}")
    return y.astype(np.int64), s


def _both_classes(y: np.ndarray) -> bool:
    return bool(len(y) and y.min() == 0 and y.max() == 1)


def roc_auc(labels, scores) -> float | None:
    """Area under the ROC curve (ties count one half); ``None`` with one class only."""
    y, s = _check(labels, scores)
    return float(roc_auc_score(y, s)) if _both_classes(y) else None


def average_precision(labels, scores) -> float | None:
    """Average precision (area under the step precision-recall curve, sklearn's definition)."""
    y, s = _check(labels, scores)
    return float(average_precision_score(y, s)) if _both_classes(y) else None


def eer(labels, scores) -> tuple[float | None, float | None]:
    """Equal error rate and its threshold.

    The ROC vertices ``(FPR_i, FNR_i)`` are walked in order of decreasing threshold; the EER is where the
    linear interpolation between the two vertices around the crossing has ``FPR == FNR``. The threshold
    returned is the one of the vertex closest to the crossing (smallest ``|FPR - FNR|``), so using it
    gives error rates close to the EER. ``(None, None)`` with one class only.
    """
    y, s = _check(labels, scores)
    if not _both_classes(y):
        return None, None
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    fnr = 1.0 - tpr
    diff = fpr - fnr  # goes from -1 (threshold above every score) up to +1
    idx = int(np.argmax(diff >= 0))  # first vertex with FPR >= FNR (exists: last vertex has diff = 1)
    if idx == 0 or diff[idx] == 0:
        value = float(fpr[idx] + fnr[idx]) / 2.0
    else:
        a, b = idx - 1, idx
        w = -diff[a] / (diff[b] - diff[a])  # fraction of the way from a to b where diff == 0
        value = float(fpr[a] + w * (fpr[b] - fpr[a]))
    best = int(np.argmin(np.abs(diff)))
    return value, _finite_threshold(thr[best], s)


def _finite_threshold(t: float, scores: np.ndarray) -> float:
    # sklearn's first threshold is +inf ("call nothing fake"); report it as just above the max score
    if np.isinf(t):
        return float(np.nextafter(scores.max(), np.inf))
    return float(t)


def tpr_at_fpr(labels, scores, max_fpr: float) -> tuple[float | None, float | None]:
    """Highest TPR reachable with FPR <= ``max_fpr`` (no interpolation: an achievable operating point),
    and the threshold that reaches it. ``(None, None)`` with one class only."""
    y, s = _check(labels, scores)
    if not _both_classes(y):
        return None, None
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    ok = np.flatnonzero(fpr <= max_fpr + 1e-12)
    best = ok[np.argmax(tpr[ok])]  # first vertex reaching that TPR -> highest such threshold
    return float(tpr[best]), _finite_threshold(thr[best], s)


@dataclass
class ThresholdMetrics:
    threshold: float
    accuracy: float
    precision: float | None  # None when nothing is called fake
    recall: float | None  # = TPR; None without fakes
    f1: float | None
    fpr: float | None  # None without reals
    tpr: float | None
    tn: int
    fp: int
    fn: int
    tp: int

    def to_dict(self) -> dict:
        return asdict(self)


def _ratio(num: int, den: int) -> float | None:
    return float(num) / den if den else None


def at_threshold(labels, scores, threshold: float) -> ThresholdMetrics:
    """Accuracy, precision, recall, F1 and the confusion matrix when ``score >= threshold`` means fake."""
    y, s = _check(labels, scores)
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = None
    if precision is not None and recall is not None:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    elif tp + fn > 0:  # fakes exist but nothing was called fake
        f1 = 0.0
    return ThresholdMetrics(
        threshold=float(threshold), accuracy=_ratio(tp + tn, len(y)) or 0.0, precision=precision,
        recall=recall, f1=f1, fpr=_ratio(fp, fp + tn), tpr=recall, tn=tn, fp=fp, fn=fn, tp=tp,
    )


def best_f1_threshold(labels, scores) -> tuple[float | None, float | None]:
    """Threshold maximising F1 over every distinct score (ties: the highest such threshold)."""
    y, s = _check(labels, scores)
    if not _both_classes(y):
        return None, None
    prec, rec, thr = precision_recall_curve(y, s)
    prec, rec = prec[:-1], rec[:-1]  # the last point has no threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    best = int(np.flatnonzero(f1 == f1.max())[-1])
    return float(thr[best]), float(f1[best])


def bootstrap_ci(labels, scores, metric, n: int = 1000, seed: int = 0, level: float = CI_LEVEL):
    """Stratified percentile bootstrap: reals and fakes are resampled separately (with replacement, same
    counts), so every replicate has both classes. Returns ``(low, high)`` or ``(None, None)`` when
    ``n == 0`` or one class is missing."""
    y, s = _check(labels, scores)
    if n <= 0 or not _both_classes(y):
        return None, None
    rng = np.random.default_rng(seed)
    neg, pos = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    values = np.empty(n)
    for i in range(n):
        idx = np.concatenate([rng.choice(neg, len(neg)), rng.choice(pos, len(pos))])
        values[i] = metric(y[idx], s[idx])
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha))


def _auc_fast(y, s):
    return roc_auc_score(y, s)


def _ap_fast(y, s):
    return average_precision_score(y, s)


def sweep_thresholds(scores, max_points: int = MAX_SWEEP_POINTS) -> np.ndarray:
    """Candidate thresholds: every distinct score (descending), or ``max_points`` score quantiles."""
    s = np.unique(np.asarray(scores, dtype=np.float64))
    if len(s) > max_points:
        s = np.unique(np.quantile(s, np.linspace(0.0, 1.0, max_points)))
    return s[::-1]


def rates_at(labels, scores, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised FPR and TPR for each threshold (``score >= t`` is fake); NaN where a class is absent."""
    y, s = _check(labels, scores)
    t = np.asarray(thresholds, dtype=np.float64)
    neg, pos = np.sort(s[y == 0]), np.sort(s[y == 1])

    def frac_at_or_above(v):
        if len(v) == 0:
            return np.full(len(t), np.nan)
        return (len(v) - np.searchsorted(v, t, side="left")) / len(v)

    return frac_at_or_above(neg), frac_at_or_above(pos)


@dataclass
class OperatingPoint:
    name: str
    threshold: float | None
    fpr: float | None = None
    tpr: float | None = None
    precision: float | None = None
    f1: float | None = None
    accuracy: float | None = None
    note: str = ""


@dataclass
class BinaryReport:
    """Every number for one "reals vs these fakes" comparison."""

    n_real: int
    n_fake: int
    auc: float | None
    ap: float | None
    eer: float | None
    eer_threshold: float | None
    tpr_at_fpr: dict = field(default_factory=dict)  # {"0.01": {"tpr":, "threshold":}}
    auc_ci: tuple | None = None
    ap_ci: tuple | None = None
    at_threshold: dict | None = None  # ThresholdMetrics.to_dict() at the report threshold

    def to_dict(self) -> dict:
        d = asdict(self)
        d["auc_ci"] = list(self.auc_ci) if self.auc_ci else None
        d["ap_ci"] = list(self.ap_ci) if self.ap_ci else None
        return d


def binary_report(labels, scores, threshold: float | None = None, bootstrap: int = 0, seed: int = 0,
                  fpr_points=DEFAULT_FPR_POINTS) -> BinaryReport:
    """All ranking metrics (+ thresholded ones when ``threshold`` is given, + CIs when ``bootstrap > 0``)."""
    y, s = _check(labels, scores)
    e, e_thr = eer(y, s)

    def ci(metric, offset):
        lo_hi = bootstrap_ci(y, s, metric, n=bootstrap, seed=seed + offset) if bootstrap else (None, None)
        return None if lo_hi[0] is None else lo_hi

    tprs = {}
    for p in fpr_points:
        tpr, thr = tpr_at_fpr(y, s, p)
        tprs[f"{p:g}"] = {"tpr": tpr, "threshold": thr}
    return BinaryReport(
        n_real=int((y == 0).sum()), n_fake=int((y == 1).sum()), auc=roc_auc(y, s), ap=average_precision(y, s),
        eer=e, eer_threshold=e_thr, tpr_at_fpr=tprs,
        auc_ci=ci(_auc_fast, 0), ap_ci=ci(_ap_fast, 1),
        at_threshold=at_threshold(y, s, threshold).to_dict() if threshold is not None else None,
    )


def operating_points(labels, scores, calibrated: float | None = None) -> list[OperatingPoint]:
    """The calibrated, EER and best-F1 thresholds, each with what it costs (FPR) and buys (TPR).

    EER and best-F1 thresholds are chosen on the very scores they are measured on (optimistic; for
    reference only). The calibrated threshold comes from held-out real clips (the model's calibration).
    """
    y, s = _check(labels, scores)
    points: list[OperatingPoint] = []

    def point(name, thr, note):
        if thr is None:
            points.append(OperatingPoint(name, None, note=note + " (not available)"))
            return
        m = at_threshold(y, s, thr)
        points.append(OperatingPoint(name, float(thr), m.fpr, m.tpr, m.precision, m.f1, m.accuracy, note))

    point("calibrated", calibrated, "from held-out real clips (model calibration)")
    point("eer", eer(y, s)[1], "FPR = FNR, chosen on these test scores")
    point("best_f1", best_f1_threshold(y, s)[0], "maximises F1, chosen on these test scores")
    return points
